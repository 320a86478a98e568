"""The ``SM_*`` training environment, as AWS's ``sagemaker-training`` toolkit sets it.

The contract is the toolkit's (sagemaker-training 5.1.4, ``environment.Environment.to_env_vars``
and ``mapping.to_env_vars``): every property becomes ``SM_<NAME>``, strings as they are, other
values as compact sorted JSON; ``SM_CHANNEL_<CHANNEL>`` and ``SM_HP_<NAME>`` (names only
upper-cased); ``sagemaker_*`` hyperparameters are the framework's, not the user's
(``SM_FRAMEWORK_PARAMS``); ``SM_USER_ARGS`` is ``to_cmd_args`` of the user's hyperparameters
(sorted, ``--name value``). The toolkit itself is not a dependency: it compiles a C extension
and pulls gevent, paramiko and inotify for what is, here, a pure function of the job's config.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from typing import Any

SAGEMAKER_PREFIX = "sagemaker_"


def decode(value: Any) -> Any:
    """A hyperparameter as the toolkit reads hyperparameters.json: JSON if it parses, else the string."""
    if not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except json.JSONDecodeError:
        return value


def _format(value: Any) -> str:
    # mapping.to_env_vars: str as is, None as "", everything else compact sorted JSON.
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True)


def to_cmd_args(hyperparameters: Mapping[str, Any]) -> list[str]:
    """mapping.to_cmd_args: sorted ``--name value`` (``-n`` for one-letter names; dicts as k=v,...)."""
    out: list[str] = []
    for key in sorted(hyperparameters):
        value = hyperparameters[key]
        out.append(f"--{key}" if len(key) > 1 else f"-{key}")
        if isinstance(value, Mapping):
            out.append(",".join(f"{k}={v}" for k, v in sorted(value.items())))
        else:
            out.append(value if isinstance(value, str) else json.dumps(value))
    return out


def training_environment(
    *,
    resource_config: Mapping[str, Any],
    input_data_config: Mapping[str, Any],
    hyperparameters: Mapping[str, str],
    job_name: str,
    module_dir: str,
    paths: Mapping[str, str],
) -> dict[str, str]:
    """``SM_*`` for one instance. ``paths`` maps container paths (``/opt/ml/model``...) to what
    the job sees (the same path when /opt/ml is mounted)."""

    def seen(container_path: str) -> str:
        return paths.get(container_path, container_path)

    decoded = {k: decode(v) for k, v in hyperparameters.items()}
    framework = {k: v for k, v in decoded.items() if k.startswith(SAGEMAKER_PREFIX)}
    user = {k: v for k, v in decoded.items() if not k.startswith(SAGEMAKER_PREFIX)}
    hosts = list(resource_config.get("hosts") or [])
    current_host = str(resource_config.get("current_host"))
    groups = list(resource_config.get("instance_groups") or [])
    group = str(resource_config.get("current_group_name", "homogeneousCluster"))
    group_hosts = next(
        (list(g.get("hosts") or []) for g in groups if g.get("instance_group_name") == group), hosts
    )
    program = framework.get("sagemaker_program")
    channels = {name: seen(f"/opt/ml/input/data/{name}") for name in input_data_config}
    properties: dict[str, Any] = {
        "additional_framework_parameters": framework,
        "channel_input_dirs": channels,
        "current_host": current_host,
        "current_instance_group": group,
        "current_instance_group_hosts": group_hosts,
        "current_instance_type": resource_config.get("current_instance_type", "local"),
        "distribution_hosts": [],
        "distribution_instance_groups": [],
        "framework_module": None,
        "hosts": hosts,
        "hyperparameters": user,
        "input_config_dir": seen("/opt/ml/input/config"),
        "input_data_config": dict(input_data_config),
        "input_dir": seen("/opt/ml/input"),
        "instance_groups": [g.get("instance_group_name") for g in groups],
        "instance_groups_dict": {g.get("instance_group_name"): g for g in groups},
        "is_hetero": len(groups) > 1,
        "is_master": current_host == (sorted(hosts)[0] if hosts else current_host),
        "is_modelparallel_enabled": None,
        "is_smddpmprun_installed": False,
        "is_smddprun_installed": False,
        "job_name": job_name,
        "log_level": 20,
        "master_hostname": sorted(hosts)[0] if hosts else current_host,
        "model_dir": seen("/opt/ml/model"),
        "module_dir": module_dir,
        "module_name": str(program).removesuffix(".py") if program else None,
        "network_interface_name": resource_config.get("network_interface_name", "eth0"),
        "num_cpus": os.cpu_count() or 1,
        "num_gpus": 0,
        "num_neurons": 0,
        "output_data_dir": seen("/opt/ml/output/data"),
        "output_dir": seen("/opt/ml/output"),
        "output_intermediate_dir": seen("/opt/ml/output/intermediate"),
        "resource_config": dict(resource_config),
        "user_entry_point": program,
    }
    env: dict[str, Any] = {
        "hosts": hosts,
        "network_interface_name": properties["network_interface_name"],
        "hps": user,
        "user_entry_point": program,
        "framework_params": framework,
        "resource_config": properties["resource_config"],
        "input_data_config": properties["input_data_config"],
        "output_data_dir": properties["output_data_dir"],
        "channels": sorted(channels),
        "current_host": current_host,
        "current_instance_type": properties["current_instance_type"],
        "current_instance_group": group,
        "current_instance_group_hosts": group_hosts,
        "instance_groups": properties["instance_groups"],
        "instance_groups_dict": properties["instance_groups_dict"],
        "distribution_instance_groups": [],
        "is_hetero": properties["is_hetero"],
        "module_name": properties["module_name"],
        "log_level": 20,
        "framework_module": None,
        "input_dir": properties["input_dir"],
        "input_config_dir": properties["input_config_dir"],
        "output_dir": properties["output_dir"],
        "num_cpus": properties["num_cpus"],
        "num_gpus": 0,
        "num_neurons": 0,
        "model_dir": properties["model_dir"],
        "module_dir": module_dir,
        "training_env": properties,
        "user_args": to_cmd_args(user),
        "output_intermediate_dir": properties["output_intermediate_dir"],
    }
    env.update({f"channel_{name}": path for name, path in channels.items()})
    env.update({f"hp_{key}": value for key, value in user.items()})
    return {f"SM_{key.upper()}": _format(value) for key, value in env.items()}

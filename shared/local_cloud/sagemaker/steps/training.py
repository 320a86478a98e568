"""Training steps: CreateTrainingJob arguments run as local subprocesses (script mode).

The container conventions: channels downloaded to ``/opt/ml/input/data/<channel>`` (and
``SM_CHANNEL_<CHANNEL>``), ``/opt/ml/input/config/{hyperparameters,resourceconfig,
inputdataconfig}.json`` and the ``SM_*`` training environment as the ``sagemaker-training``
toolkit sets it (``training_env.py``). After the
run, ``/opt/ml/model`` of ``algo-1`` becomes ``<S3OutputPath>/<job>/output/model.tar.gz``
(``CompressionType: NONE``: uploaded as is under ``.../output/model/``) and
``/opt/ml/output/data`` becomes ``output.tar.gz``; ``MetricDefinitions`` are matched against
the job's output into ``FinalMetricDataList``.

Which script runs, in this order:

1. ``sagemaker_program`` + ``sagemaker_submit_directory`` hyperparameters (framework script
   mode, SDK v2 and the SDK's repack step): the tarball is extracted to ``/opt/ml/code`` and
   ``python <program> --<hp> <value> ...`` runs there, without the ``sagemaker_*`` ones;
2. an ``sm_drivers`` channel with ``sourcecode.json`` (SDK v3 ``ModelTrainer``): its
   ``command`` + ``args``, or ``python <entry_script> --<hp> <value> ...``, in the ``code``
   channel (the basic script driver's behaviour; ``requirements`` are not installed);
3. ``AlgorithmSpecification.ContainerEntrypoint`` + ``ContainerArguments``, as given;
4. none of these and a built-in algorithm image the local cloud emulates (``sagemaker-xgboost``,
   see ``sagemaker/algorithms``): that algorithm, per its container's contract, with its
   built-in metrics (``train:rmse``, ``validation:auc``...) in ``FinalMetricDataList``.

Any other image with none of these fails with one sentence naming it and what is supported.
A ``requirements.txt`` in the code directory is installed first (``requirements.py``).
A non-zero exit fails the step with ``AlgorithmError: <the script's /opt/ml/output/failure,
or its output's tail>`` (a failure text that already says ``ClientError:`` is kept as is).
"""

from __future__ import annotations

import json
import logging
import os
import re
import shlex
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

from shared.local_cloud.sagemaker import algorithms, s3io
from shared.local_cloud.sagemaker.algorithms import xgboost_hyperparameters
from shared.local_cloud.sagemaker.errors import StepFailure
from shared.local_cloud.sagemaker.steps.base import (
    ResolvesArguments,
    StepContext,
    StepOutcome,
    iso_now,
    recorded_job,
)
from shared.local_cloud.sagemaker.steps.container import (
    OPT_ML,
    Instance,
    InstanceResult,
    Launch,
    base_environment,
    failure_message,
    local_command,
    new_instance,
    read_log,
    run_instances,
)
from shared.local_cloud.sagemaker.steps.requirements import install_requirements
from shared.local_cloud.sagemaker.steps.training_env import decode, training_environment

LOG = logging.getLogger(__name__)

KIND = "TrainingJob"
FAILURE_FILES = ("/opt/ml/output/failure", "/opt/ml/output/message")
_REPO_ROOT = Path(__file__).resolve().parents[4]
_NUMBER = r"[-+]?(?:[0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?|nan|inf)"


def cli_args(hyperparameters: Mapping[str, Any]) -> list[str]:
    """``--name value`` pairs (the SDK's ``hyperparameters_to_cli_args``)."""
    out: list[str] = []
    for key, raw in hyperparameters.items():
        value = decode(raw)
        out.extend([f"--{key}", value if isinstance(value, str) else json.dumps(value)])
    return out


class TrainingExecutor(ResolvesArguments):
    step_type: ClassVar[str] = "Training"

    def run(self, ctx: StepContext) -> StepOutcome:
        args = ctx.arguments
        _check_supported(args)
        resources = args.get("ResourceConfig") or {}
        hosts = [f"algo-{i + 1}" for i in range(int(resources.get("InstanceCount") or 1))]
        started = iso_now()
        with recorded_job(ctx, KIND) as job:
            instances = [new_instance(host, ctx.work_dir / host) for host in hosts]
            launches = [
                self._prepare(ctx, job.arn, instance, i, hosts) for i, instance in enumerate(instances)
            ]
            max_runtime = (args.get("StoppingCondition") or {}).get("MaxRuntimeInSeconds")
            results = run_instances(launches, stop=ctx.stop, max_runtime_seconds=max_runtime)
            failed = next((r for r in results if r.returncode != 0), None)
            if failed is not None:
                message = failure_message(instances[hosts.index(failed.host)], failed, FAILURE_FILES)
                if not message.startswith(("ClientError:", "AlgorithmError:")):
                    message = f"AlgorithmError: {message}"
                raise StepFailure(message, metadata=job.metadata)
            artifacts = self._upload(ctx, instances[0])
            job.details = {
                "ModelArtifacts": {"S3ModelArtifacts": artifacts},
                "FinalMetricDataList": _metrics(args, results[0]),
            }
        properties = {
            **args,
            **job.details,
            "TrainingJobName": ctx.job_name,
            "TrainingJobArn": job.arn,
            "TrainingJobStatus": "Completed",
            "SecondaryStatus": "Completed",
            "TrainingStartTime": started,
            "TrainingEndTime": iso_now(),
        }
        return StepOutcome(properties=properties, metadata=job.metadata)

    # ---- per instance ---------------------------------------------------------------------------
    def _prepare(
        self, ctx: StepContext, arn: str, instance: Instance, index: int, hosts: list[str]
    ) -> Launch:
        args = ctx.arguments
        channels: dict[str, Path] = {}
        data_config: dict[str, Any] = {}
        for channel in args.get("InputDataConfig") or []:
            name = str(channel["ChannelName"])
            source = channel["DataSource"]["S3DataSource"]
            sharded = source.get("S3DataDistributionType") == "ShardedByS3Key"
            target = instance.path(f"/opt/ml/input/data/{name}")
            s3io.download_prefix(
                ctx.services.s3, source["S3Uri"], target, shard=(index, len(hosts)) if sharded else None
            )
            channels[name] = target
            data_config[name] = {
                "TrainingInputMode": channel.get("InputMode", "File"),
                "S3DistributionType": source.get("S3DataDistributionType", "FullyReplicated"),
                "RecordWrapperType": channel.get("RecordWrapperType", "None"),
                **({"ContentType": channel["ContentType"]} if channel.get("ContentType") else {}),
            }
        hyperparameters = {str(k): str(v) for k, v in (args.get("HyperParameters") or {}).items()}
        resources = args.get("ResourceConfig") or {}
        resource_config = {
            "current_host": instance.host,
            "current_instance_type": resources.get("InstanceType"),
            "current_group_name": "homogeneousCluster",
            "hosts": hosts,
            "instance_groups": [
                {
                    "instance_group_name": "homogeneousCluster",
                    "instance_type": resources.get("InstanceType"),
                    "hosts": hosts,
                }
            ],
            "network_interface_name": "eth0",
        }
        config = s3io.ensure_dir(instance.path("/opt/ml/input/config"))
        (config / "hyperparameters.json").write_text(json.dumps(hyperparameters))
        (config / "resourceconfig.json").write_text(json.dumps(resource_config))
        (config / "inputdataconfig.json").write_text(json.dumps(data_config))
        for path in ("/opt/ml/model", "/opt/ml/output/data", "/opt/ml/output/intermediate", "/opt/ml/code"):
            s3io.ensure_dir(instance.path(path))

        command, cwd, python_path = self._command(ctx, instance, hyperparameters)
        seen_paths = {
            path: instance.seen(path)
            for path in (
                "/opt/ml/input", "/opt/ml/input/config", "/opt/ml/model", "/opt/ml/output", "/opt/ml/output/data",
                "/opt/ml/output/intermediate", *(f"/opt/ml/input/data/{name}" for name in channels),
            )
        }  # fmt: skip
        sm = training_environment(
            resource_config=resource_config,
            input_data_config=data_config,
            hyperparameters=hyperparameters,
            job_name=ctx.job_name,
            module_dir=_seen_dir(instance, cwd),
            paths=seen_paths,
        )
        sm["TRAINING_JOB_NAME"] = ctx.job_name
        sm["TRAINING_JOB_ARN"] = arn
        env = base_environment(ctx.services.container_env)
        env.update({k: instance.rewrite(str(v)) for k, v in (args.get("Environment") or {}).items()})
        env.update(sm)
        if python_path:
            env["PYTHONPATH"] = os.pathsep.join(python_path)
        env.setdefault("AWS_REGION", ctx.region)
        env.setdefault("AWS_DEFAULT_REGION", ctx.region)
        return Launch(instance=instance, command=command, env=env, cwd=cwd)

    def _command(
        self, ctx: StepContext, instance: Instance, hyperparameters: dict[str, str]
    ) -> tuple[list[str], Path, list[str]]:
        """(command, working dir on the host, PYTHONPATH entries for the job)."""
        python = ctx.services.python
        program = hyperparameters.get("sagemaker_program")
        if program is not None:
            submit = str(decode(hyperparameters.get("sagemaker_submit_directory", "")))
            code_dir = instance.path("/opt/ml/code")
            _fetch_code(ctx, submit, code_dir)
            user = {k: v for k, v in hyperparameters.items() if not k.startswith("sagemaker_")}
            entry = str(decode(program))
            # The toolkit installs the module dir's requirements.txt before running the entry point.
            site = install_requirements(code_dir / "requirements.txt", python)
            return _script_command(entry, python, cli_args(user)), code_dir, site

        source_json = instance.path("/opt/ml/input/data/sm_drivers/sourcecode.json")
        if source_json.is_file():
            source = json.loads(source_json.read_text() or "{}")
            code_dir = instance.path("/opt/ml/input/data/code")
            source_dir = str(source.get("source_dir") or "")
            if source_dir.endswith(".tar.gz"):
                s3io.extract_tar(code_dir / os.path.basename(source_dir), code_dir)
            site = install_requirements(code_dir / str(source["requirements"]), python, required=True) if (
                source.get("requirements")) else []  # fmt: skip
            if source.get("command"):
                parts = [*shlex.split(str(source["command"])), *(str(a) for a in source.get("args") or [])]
                return local_command(parts, instance, python), code_dir, site
            entry = str(source.get("entry_script") or "")
            if not entry:
                raise StepFailure("ClientError: sourcecode.json names neither a command nor an entry_script")
            return _script_command(entry, python, cli_args(hyperparameters)), code_dir, site

        spec = ctx.arguments.get("AlgorithmSpecification") or {}
        if spec.get("ContainerEntrypoint"):
            command = [*spec["ContainerEntrypoint"], *(spec.get("ContainerArguments") or [])]
            return local_command(command, instance, python), instance.root, []
        image = spec.get("TrainingImage")
        if algorithms.is_builtin_xgboost(image):
            # The "container" is our emulation of the algorithm: its module needs the repo on the path.
            module = "shared.local_cloud.sagemaker.algorithms.xgboost_train"
            command = [python, "-m", module, "--opt-ml", instance.seen(OPT_ML)]
            return command, instance.root, [str(_REPO_ROOT)]
        raise algorithms.unsupported_image(image if image else spec.get("AlgorithmName"), "training")

    def _upload(self, ctx: StepContext, leader: Instance) -> str:
        output = ctx.arguments["OutputDataConfig"]
        prefix = f"{str(output['S3OutputPath']).rstrip('/')}/{ctx.job_name}/output"
        model_dir = leader.path("/opt/ml/model")
        if str(output.get("CompressionType", "GZIP")).upper() == "NONE":
            s3io.upload_dir(ctx.services.s3, model_dir, f"{prefix}/model/")
            artifacts = f"{prefix}/model/"
        else:
            archive = s3io.tar_dir(model_dir, ctx.work_dir / "upload" / "model.tar.gz")
            artifacts = f"{prefix}/model.tar.gz"
            s3io.upload_file(ctx.services.s3, archive, artifacts)
        data_dir = leader.path("/opt/ml/output/data")
        if s3io.has_files(data_dir):
            archive = s3io.tar_dir(data_dir, ctx.work_dir / "upload" / "output.tar.gz")
            s3io.upload_file(ctx.services.s3, archive, f"{prefix}/output.tar.gz")
        return artifacts


def _seen_dir(instance: Instance, host_dir: Path) -> str:
    """``host_dir`` (under the instance's /opt/ml) as the job sees it."""
    opt_ml = instance.path(OPT_ML)
    if host_dir == opt_ml or opt_ml in host_dir.parents:
        return instance.seen(f"{OPT_ML}/{host_dir.relative_to(opt_ml).as_posix()}".rstrip("/."))
    return str(host_dir)


def _script_command(entry: str, python: str, args: list[str]) -> list[str]:
    if entry.endswith(".py"):
        return [python, entry, *args]
    if entry.endswith(".sh"):
        return ["/bin/sh", entry, *args]
    raise StepFailure(f"ClientError: unsupported entry script {entry!r}: only .py and .sh are supported")


def _fetch_code(ctx: StepContext, submit: str, code_dir: Path) -> None:
    if not submit.startswith("s3://"):
        raise StepFailure(f"ClientError: sagemaker_submit_directory must be an S3 URI, got {submit!r}")
    if submit.endswith(".tar.gz"):
        archive = ctx.work_dir / "sourcedir.tar.gz"
        bucket, key = s3io.split_uri(submit)
        ctx.services.s3.download_file(bucket, key, str(archive))
        s3io.extract_tar(archive, code_dir)
    else:
        s3io.download_prefix(ctx.services.s3, submit, code_dir)


def _metrics(args: Mapping[str, Any], leader: InstanceResult) -> list[dict[str, Any]]:
    """``MetricDefinitions`` matched against the job's log, as SageMaker matches them against
    CloudWatch's copy, where a tab reads ``#011``; a built-in algorithm also reports its own
    metrics (``train:rmse``, ``validation:auc``...). The last match of each is its final value."""
    spec = args.get("AlgorithmSpecification") or {}
    definitions = list(spec.get("MetricDefinitions") or [])
    if algorithms.is_builtin_xgboost(spec.get("TrainingImage")) and not spec.get("ContainerEntrypoint"):
        known = {str(d["Name"]) for d in definitions}
        definitions += [d for d in _xgboost_metric_definitions() if d["Name"] not in known]
    if not definitions:
        return []
    raw = read_log(leader.log_path)
    logged = raw.replace("\t", "#011")
    metrics = []
    for definition in definitions:
        matches = re.findall(str(definition["Regex"]), logged) or re.findall(str(definition["Regex"]), raw)
        if matches:
            last = matches[-1]
            value = last[0] if isinstance(last, tuple) else last
            try:
                metrics.append(
                    {"MetricName": definition["Name"], "Value": float(value), "Timestamp": iso_now()}
                )
            except ValueError:
                LOG.warning("metric %s: %r is not a number", definition["Name"], value)
    return metrics


def _xgboost_metric_definitions() -> list[dict[str, str]]:
    """The XGBoost algorithm's metrics (its container's ``metrics.py``: ``validation:<m>`` and
    ``train:<m>``, matched on the per-round lines)."""
    names = xgboost_hyperparameters.MAXIMIZE_METRICS + xgboost_hyperparameters.MINIMIZE_METRICS
    return [
        {"Name": f"{channel}:{name}", "Regex": rf".*\[[0-9]+\].*#011{channel}-{re.escape(name)}:({_NUMBER})"}
        for channel in ("train", "validation")
        for name in names
    ]


def _check_supported(args: Mapping[str, Any]) -> None:
    if not args.get("OutputDataConfig", {}).get("S3OutputPath"):
        raise StepFailure("ClientError: OutputDataConfig.S3OutputPath is required")
    for channel in args.get("InputDataConfig") or []:
        source = (channel.get("DataSource") or {}).get("S3DataSource")
        if source is None:
            raise StepFailure(
                f"ClientError: channel {channel.get('ChannelName')!r}: only S3DataSource is supported locally"
            )
        if source.get("S3DataType", "S3Prefix") != "S3Prefix":
            raise StepFailure(
                f"ClientError: channel {channel.get('ChannelName')!r}: S3DataType "
                f"{source['S3DataType']} is not supported locally (S3Prefix only)"
            )

"""Training steps: CreateTrainingJob arguments run as local subprocesses (script mode).

The container conventions: channels downloaded to ``/opt/ml/input/data/<channel>`` (and
``SM_CHANNEL_<CHANNEL>``), ``/opt/ml/input/config/{hyperparameters,resourceconfig,
inputdataconfig}.json``, ``SM_MODEL_DIR=/opt/ml/model``, ``SM_HPS``/``SM_HP_*``,
``SM_CURRENT_HOST``/``SM_HOSTS`` and the rest of the ``SM_*`` training environment. After the
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
3. ``AlgorithmSpecification.ContainerEntrypoint`` + ``ContainerArguments``, as given.

A built-in algorithm image with none of these cannot run locally: the step fails saying so.
A non-zero exit fails the step with ``AlgorithmError: <the script's /opt/ml/output/failure,
or its output's tail>``.
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

from shared.local_cloud.sagemaker import s3io
from shared.local_cloud.sagemaker.errors import StepFailure
from shared.local_cloud.sagemaker.steps.base import ResolvesArguments, StepContext, StepOutcome, iso_now
from shared.local_cloud.sagemaker.steps.container import (
    Instance,
    InstanceResult,
    Launch,
    base_environment,
    failure_message,
    local_command,
    read_log,
    run_instances,
)

LOG = logging.getLogger(__name__)

KIND = "TrainingJob"
FAILURE_FILES = ("/opt/ml/output/failure", "/opt/ml/output/message")


def decode(value: Any) -> Any:
    """A hyperparameter as the SDK's drivers read it: JSON if it parses, else the string."""
    if not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except json.JSONDecodeError:
        return value


def cli_args(hyperparameters: Mapping[str, Any]) -> list[str]:
    """``--name value`` pairs (the SDK's ``hyperparameters_to_cli_args``)."""
    out: list[str] = []
    for key, raw in hyperparameters.items():
        value = decode(raw)
        out.extend([f"--{key}", value if isinstance(value, str) else json.dumps(value)])
    return out


def env_name(channel: str) -> str:
    return re.sub(r"[^A-Za-z0-9]", "_", channel).upper()


class TrainingExecutor(ResolvesArguments):
    step_type: ClassVar[str] = "Training"

    def run(self, ctx: StepContext) -> StepOutcome:
        args = ctx.arguments
        _check_supported(args)
        resources = args.get("ResourceConfig") or {}
        hosts = [f"algo-{i + 1}" for i in range(int(resources.get("InstanceCount") or 1))]
        started = iso_now()
        arn = ctx.services.jobs.job_started(KIND, ctx.job_name, args)
        metadata = {"TrainingJob": {"Arn": arn}}
        try:
            instances = [Instance(host, ctx.work_dir / host) for host in hosts]
            launches = [self._prepare(ctx, arn, instance, i, hosts) for i, instance in enumerate(instances)]
            max_runtime = (args.get("StoppingCondition") or {}).get("MaxRuntimeInSeconds")
            results = run_instances(launches, stop=ctx.stop, max_runtime_seconds=max_runtime)
            failed = next((r for r in results if r.returncode != 0), None)
            if failed is not None:
                message = failure_message(instances[hosts.index(failed.host)], failed, FAILURE_FILES)
                raise StepFailure(f"AlgorithmError: {message}", metadata=metadata)
            artifacts = self._upload(ctx, instances[0])
            metrics = _metrics(args, results[0])
        except StepFailure as failure:
            failure.metadata = failure.metadata or metadata
            ctx.services.jobs.job_finished(KIND, ctx.job_name, "Failed", str(failure), {})
            raise
        except BaseException:
            ctx.services.jobs.job_finished(KIND, ctx.job_name, "Stopped", None, {})
            raise
        details = {"ModelArtifacts": {"S3ModelArtifacts": artifacts}, "FinalMetricDataList": metrics}
        ctx.services.jobs.job_finished(KIND, ctx.job_name, "Completed", None, details)
        properties = {
            **args,
            **details,
            "TrainingJobName": ctx.job_name,
            "TrainingJobArn": arn,
            "TrainingJobStatus": "Completed",
            "SecondaryStatus": "Completed",
            "TrainingStartTime": started,
            "TrainingEndTime": iso_now(),
        }
        return StepOutcome(properties=properties, metadata=metadata)

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

        command, cwd, user_hps = self._command(ctx, instance, hyperparameters)
        user_args = cli_args(user_hps)
        decoded = {k: decode(v) for k, v in user_hps.items()}
        sm = {
            "SM_MODEL_DIR": instance.path("/opt/ml/model"),
            "SM_INPUT_DIR": instance.path("/opt/ml/input"),
            "SM_INPUT_CONFIG_DIR": instance.path("/opt/ml/input/config"),
            "SM_OUTPUT_DIR": instance.path("/opt/ml/output"),
            "SM_OUTPUT_DATA_DIR": instance.path("/opt/ml/output/data"),
            "SM_OUTPUT_INTERMEDIATE_DIR": instance.path("/opt/ml/output/intermediate"),
            "SM_MODULE_DIR": cwd,
            "SM_CURRENT_HOST": instance.host,
            "SM_CURRENT_INSTANCE_TYPE": resources.get("InstanceType", ""),
            "SM_HOSTS": json.dumps(hosts),
            "SM_NUM_CPUS": str(os.cpu_count() or 1),
            "SM_NUM_GPUS": "0",
            "SM_NETWORK_INTERFACE_NAME": "eth0",
            "SM_LOG_LEVEL": "20",
            "SM_CHANNELS": json.dumps(sorted(channels)),
            "SM_HPS": json.dumps(decoded),
            "SM_USER_ARGS": json.dumps(user_args),
            "SM_RESOURCE_CONFIG": json.dumps(resource_config),
            "SM_INPUT_DATA_CONFIG": json.dumps(data_config),
            "TRAINING_JOB_NAME": ctx.job_name,
            "TRAINING_JOB_ARN": arn,
        }
        sm.update({f"SM_CHANNEL_{env_name(name)}": path for name, path in channels.items()})
        sm.update({f"SM_HP_{env_name(k)}": v for k, v in user_hps.items()})
        sm["SM_TRAINING_ENV"] = json.dumps(
            {
                "current_host": instance.host,
                "hosts": hosts,
                "hyperparameters": decoded,
                "channel_input_dirs": {n: str(p) for n, p in channels.items()},
                "model_dir": str(sm["SM_MODEL_DIR"]),
                "output_data_dir": str(sm["SM_OUTPUT_DATA_DIR"]),
                "job_name": ctx.job_name,
            }
        )
        env = base_environment(ctx.services.container_env)
        env.update({k: instance.rewrite(str(v)) for k, v in (args.get("Environment") or {}).items()})
        env.update({k: str(v) for k, v in sm.items()})
        env.setdefault("AWS_REGION", ctx.region)
        env.setdefault("AWS_DEFAULT_REGION", ctx.region)
        return Launch(instance=instance, command=command, env=env, cwd=cwd)

    def _command(
        self, ctx: StepContext, instance: Instance, hyperparameters: dict[str, str]
    ) -> tuple[list[str], Path, dict[str, str]]:
        """(command, working dir, the hyperparameters the user script sees)."""
        python = ctx.services.python
        program = hyperparameters.get("sagemaker_program")
        if program is not None:
            submit = str(decode(hyperparameters.get("sagemaker_submit_directory", "")))
            code_dir = instance.path("/opt/ml/code")
            _fetch_code(ctx, submit, code_dir)
            user = {k: v for k, v in hyperparameters.items() if not k.startswith("sagemaker_")}
            entry = str(decode(program))
            return _script_command(entry, python, cli_args(user)), code_dir, user

        source_json = instance.path("/opt/ml/input/data/sm_drivers/sourcecode.json")
        if source_json.is_file():
            source = json.loads(source_json.read_text() or "{}")
            code_dir = instance.path("/opt/ml/input/data/code")
            source_dir = str(source.get("source_dir") or "")
            if source_dir.endswith(".tar.gz"):
                s3io.extract_tar(code_dir / os.path.basename(source_dir), code_dir)
            if source.get("requirements"):
                LOG.warning(
                    "%s: requirements %r are not installed locally", ctx.node.name, source["requirements"]
                )
            if source.get("command"):
                parts = [*shlex.split(str(source["command"])), *(str(a) for a in source.get("args") or [])]
                return local_command(parts, instance, python), code_dir, hyperparameters
            entry = str(source.get("entry_script") or "")
            if not entry:
                raise StepFailure("ClientError: sourcecode.json names neither a command nor an entry_script")
            return _script_command(entry, python, cli_args(hyperparameters)), code_dir, hyperparameters

        spec = ctx.arguments.get("AlgorithmSpecification") or {}
        if spec.get("ContainerEntrypoint"):
            command = [*spec["ContainerEntrypoint"], *(spec.get("ContainerArguments") or [])]
            return local_command(command, instance, python), instance.root, hyperparameters
        raise StepFailure(
            f"ClientError: training image {spec.get('TrainingImage')!r} is run with its built-in entry point; the "
            "local executor runs scripts only (script mode: sagemaker_program, ModelTrainer source_code, or "
            "ContainerEntrypoint)"
        )

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
    definitions = (args.get("AlgorithmSpecification") or {}).get("MetricDefinitions") or []
    if not definitions:
        return []
    log = read_log(leader.log_path)
    metrics = []
    for definition in definitions:
        matches = re.findall(str(definition["Regex"]), log)
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

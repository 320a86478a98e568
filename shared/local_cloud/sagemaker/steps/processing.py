"""Processing steps: CreateProcessingJob arguments run as local subprocesses.

Per instance (``ProcessingResources.ClusterConfig.InstanceCount``, each with its own /opt/ml:
see ``container.py``): S3 inputs are downloaded
to their ``LocalPath`` (``ShardedByS3Key``: each instance gets every n-th of the sorted keys;
``FullyReplicated``: all), ``/opt/ml/config/resourceconfig.json`` and
``processingjobconfig.json`` are written, and ``ContainerEntrypoint + ContainerArguments``
runs with ``Environment``. Every instance's output ``LocalPath`` is uploaded to its
``S3Uri`` at the end (``Continuous`` upload mode too). A non-zero exit fails the step with
``AlgorithmError: <the script's /opt/ml/output/message, or its output's tail>``.

Not supported locally (an explicit failure): an image's built-in entry point (no
``ContainerEntrypoint``), ManifestFile and Pipe inputs, DatasetDefinition inputs, Feature
Store outputs.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, ClassVar

from shared.local_cloud.sagemaker import s3io
from shared.local_cloud.sagemaker.errors import StepFailure
from shared.local_cloud.sagemaker.steps.base import (
    ResolvesArguments,
    StepContext,
    StepOutcome,
    iso_now,
    recorded_job,
)
from shared.local_cloud.sagemaker.steps.container import (
    Instance,
    Launch,
    base_environment,
    failure_message,
    local_command,
    new_instance,
    run_instances,
)

KIND = "ProcessingJob"
FAILURE_FILES = ("/opt/ml/output/message", "/opt/ml/output/failure")


class ProcessingExecutor(ResolvesArguments):
    step_type: ClassVar[str] = "Processing"

    def run(self, ctx: StepContext) -> StepOutcome:
        args = ctx.arguments
        entrypoint = (args.get("AppSpecification") or {}).get("ContainerEntrypoint")
        if not entrypoint:
            raise StepFailure(
                "ClientError: AppSpecification has no ContainerEntrypoint; the local executor runs scripts, "
                f"not the image's own entry point ({(args.get('AppSpecification') or {}).get('ImageUri')})"
            )
        _check_supported(args)
        cluster = (args.get("ProcessingResources") or {}).get("ClusterConfig") or {}
        count = int(cluster.get("InstanceCount") or 1)
        hosts = [f"algo-{i + 1}" for i in range(count)]
        started = iso_now()
        with recorded_job(ctx, KIND) as job:
            instances = [new_instance(host, ctx.work_dir / host) for host in hosts]
            launches = [
                self._prepare(ctx, instance, i, hosts, cluster) for i, instance in enumerate(instances)
            ]
            max_runtime = (args.get("StoppingCondition") or {}).get("MaxRuntimeInSeconds")
            results = run_instances(launches, stop=ctx.stop, max_runtime_seconds=max_runtime)
            failed = next((r for r in results if r.returncode != 0), None)
            if failed is not None:
                instance = instances[hosts.index(failed.host)]
                message = failure_message(instance, failed, FAILURE_FILES)
                raise StepFailure(f"AlgorithmError: {message}", metadata=job.metadata)
            for instance in instances:
                for output in (args.get("ProcessingOutputConfig") or {}).get("Outputs") or []:
                    s3_output = output.get("S3Output")
                    if s3_output:
                        s3io.upload_dir(
                            ctx.services.s3, instance.path(s3_output["LocalPath"]), s3_output["S3Uri"]
                        )
            ended = iso_now()
        properties = {
            **args,
            "ProcessingJobName": ctx.job_name,
            "ProcessingJobArn": job.arn,
            "ProcessingJobStatus": "Completed",
            "ProcessingStartTime": started,
            "ProcessingEndTime": ended,
        }
        return StepOutcome(properties=properties, metadata=job.metadata)

    def _prepare(
        self, ctx: StepContext, instance: Instance, index: int, hosts: list[str], cluster: Mapping[str, Any]
    ) -> Launch:
        args = ctx.arguments
        for item in args.get("ProcessingInputs") or []:
            s3_input = item["S3Input"]
            if s3_input.get("AppManaged"):
                continue
            sharded = s3_input.get("S3DataDistributionType") == "ShardedByS3Key"
            s3io.download_prefix(
                ctx.services.s3,
                s3_input["S3Uri"],
                instance.path(s3_input["LocalPath"]),
                shard=(index, len(hosts)) if sharded else None,
            )
        for output in (args.get("ProcessingOutputConfig") or {}).get("Outputs") or []:
            if output.get("S3Output"):
                s3io.ensure_dir(instance.path(output["S3Output"]["LocalPath"]))
        config = s3io.ensure_dir(instance.path("/opt/ml/config"))
        (config / "resourceconfig.json").write_text(
            json.dumps(
                {
                    "current_host": instance.host,
                    "current_instance_type": cluster.get("InstanceType"),
                    "current_group_name": "homogeneousCluster",
                    "hosts": hosts,
                    "instance_groups": [
                        {
                            "instance_group_name": "homogeneousCluster",
                            "instance_type": cluster.get("InstanceType"),
                            "hosts": hosts,
                        }
                    ],
                    "network_interface_name": "eth0",
                }
            )
        )
        (config / "processingjobconfig.json").write_text(
            json.dumps({**args, "ProcessingJobName": ctx.job_name})
        )
        s3io.ensure_dir(instance.path("/opt/ml/output"))
        app = args["AppSpecification"]
        command = [*app["ContainerEntrypoint"], *(app.get("ContainerArguments") or [])]
        env = base_environment(ctx.services.container_env)
        env.update({k: instance.rewrite(str(v)) for k, v in (args.get("Environment") or {}).items()})
        env.setdefault("AWS_REGION", ctx.region)
        env.setdefault("AWS_DEFAULT_REGION", ctx.region)
        return Launch(
            instance=instance,
            command=local_command(command, instance, ctx.services.python),
            env=env,
            cwd=s3io.ensure_dir(instance.root),
        )


def _check_supported(args: Mapping[str, Any]) -> None:
    for item in args.get("ProcessingInputs") or []:
        name = item.get("InputName")
        if "S3Input" not in item:
            raise StepFailure(f"ClientError: processing input {name!r}: only S3Input is supported locally")
        s3_input = item["S3Input"]
        if s3_input.get("S3DataType", "S3Prefix") != "S3Prefix":
            raise StepFailure(
                f"ClientError: processing input {name!r}: S3DataType {s3_input['S3DataType']} "
                "is not supported locally (S3Prefix only)"
            )
        if s3_input.get("S3InputMode", "File") != "File":
            raise StepFailure(
                f"ClientError: processing input {name!r}: S3InputMode "
                f"{s3_input['S3InputMode']} is not supported locally (File only)"
            )
    for output in (args.get("ProcessingOutputConfig") or {}).get("Outputs") or []:
        if "S3Output" not in output and not output.get("AppManaged"):
            raise StepFailure(
                f"ClientError: processing output {output.get('OutputName')!r}: only S3Output is supported locally"
            )

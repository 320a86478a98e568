"""Build the inner pipeline's definition at synth time, offline.

``inner_pipeline.pipeline.pipeline_definition(config, session)`` compiles the pipeline to
JSON and, on the way, uploads the packaged step code to content-addressed keys in the
artifact bucket (``inner_pipeline/packaging.py``). No AWS is reachable at synth, so the
build runs against moto's S3 and hands back the definition together with every object it
uploaded; the stack puts the definition in the template and deploys those very bytes to
the very same keys, so what the definition points at exists once the stack is up.

The build runs in a child process: ``moto.mock_aws`` resets moto's process-wide backends,
which would wipe a local cloud running in the caller (the test session has one), and the
SageMaker SDK's import-time side effects stay out of the CDK app.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from infra.child import run_module
from shared.config import DualloopConfig
from shared.naming import Names

_ECR_IMAGE = re.compile(
    r"^(?P<account>\d{12})\.dkr\.ecr\.(?P<region>[a-z0-9-]+)\.amazonaws\.com(?:\.cn)?/(?P<repo>[^:@]+)"
)


class PipelineBuildError(RuntimeError):
    """The pipeline definition could not be built; the message carries the child's stderr."""


@dataclass(frozen=True)
class PipelineBuild:
    definition: str
    uploads: Path  # mirrors the artifact bucket: <uploads>/<key> holds the object's bytes

    @property
    def ecr_repositories(self) -> tuple[tuple[str, str, str], ...]:
        """(account, region, repository) of every container image the definition runs."""
        found: set[tuple[str, str, str]] = set()

        def walk(node: Any) -> None:
            if isinstance(node, dict):
                for value in node.values():
                    walk(value)
            elif isinstance(node, list):
                for value in node:
                    walk(value)
            elif isinstance(node, str) and (m := _ECR_IMAGE.match(node)):
                found.add((m["account"], m["region"], m["repo"]))

        walk(json.loads(self.definition))
        return tuple(sorted(found))


def pipeline_module_available() -> bool:
    return importlib.util.find_spec("inner_pipeline.pipeline") is not None


def build(cfg: DualloopConfig, out_dir: Path) -> PipelineBuild:
    """Build the definition in a child process; raise ``PipelineBuildError`` on any failure."""
    out_dir.mkdir(parents=True, exist_ok=True)
    env = {
        k: v
        for k, v in os.environ.items()
        # Never let the build reach a real or local endpoint: moto must answer every call.
        if not k.startswith(("AWS_ENDPOINT_URL", "AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_CONFIG_FILE"))
    }
    env.update(
        AWS_DEFAULT_REGION=cfg.region,
        AWS_ACCESS_KEY_ID="synth-offline",
        AWS_SECRET_ACCESS_KEY="synth-offline",  # noqa: S106 - a dummy for moto
        SAGEMAKER_VALIDATE_ROLE="false",
    )
    proc = run_module("infra.pipeline_build", cfg, env, str(out_dir))
    if proc.returncode != 0:
        raise PipelineBuildError(
            f"building the inner pipeline definition failed (exit {proc.returncode}):\n{proc.stderr[-4000:]}"
        )
    return PipelineBuild(definition=(out_dir / "definition.json").read_text(), uploads=out_dir / "uploads")


def _child(out_dir: Path, cfg_json: str) -> None:
    import boto3

    from shared.local_cloud.offline import offline_aws

    cfg = DualloopConfig(**json.loads(cfg_json))  # explicit values: the environment cannot override them
    names = Names(cfg)
    with offline_aws():
        session = boto3.Session(region_name=cfg.region)
        s3 = session.client("s3")
        location: dict[str, Any] = (
            {}
            if cfg.region == "us-east-1"
            else {"CreateBucketConfiguration": {"LocationConstraint": cfg.region}}
        )
        s3.create_bucket(Bucket=names.artifact_bucket, **location)

        from inner_pipeline.pipeline import pipeline_definition

        # The builder's default session: the artifact bucket as default bucket, no SDK config
        # from this machine; the same session `dualloop inner upsert` builds with.
        definition = pipeline_definition(cfg)
        json.loads(definition)  # fail here, not at deploy, if it is not JSON

        uploads = out_dir / "uploads"
        for bucket in s3.list_buckets()["Buckets"]:
            if bucket["Name"] != names.artifact_bucket:
                raise SystemExit(
                    f"the pipeline build wrote to bucket {bucket['Name']!r}; only the artifact bucket "
                    f"{names.artifact_bucket!r} is deployed with the stack"
                )
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=names.artifact_bucket):
            for obj in page.get("Contents", []):
                dest = uploads / obj["Key"]
                dest.parent.mkdir(parents=True, exist_ok=True)
                dest.write_bytes(s3.get_object(Bucket=names.artifact_bucket, Key=obj["Key"])["Body"].read())
    uploads.mkdir(parents=True, exist_ok=True)
    (out_dir / "definition.json").write_text(definition)


if __name__ == "__main__":
    _child(Path(sys.argv[1]), sys.stdin.read())

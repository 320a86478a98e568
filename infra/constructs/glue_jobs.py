"""The outer loop's Glue jobs: ingest (raw → curated) and data quality (DQDL → QualityReport)."""

from __future__ import annotations

from pathlib import Path

from aws_cdk import aws_glue as glue
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3_assets as assets
from constructs import Construct

from infra import glue_wheels, sources
from infra.constructs.arns import Arns
from infra.constructs.statements import (
    S3_READ,
    S3_READ_WRITE,
    bucket_and_objects,
    project_key,
    put_metric_data,
    role_with_policy,
)
from infra.context import StackContext
from infra.nag import acknowledge_wildcards, logical_id

# The ASL's PrepareRun writes each run under this literal prefix of the curated bucket.
ASL_CURATED_PREFIX = "curated/"
GLUE_VERSION = "5.0"  # Spark 3.5, Python 3.11: the versions the local cloud runs
_JOB_SCRIPTS = ("ingest.py", "data_quality.py")


class GlueJobs(Construct):
    def __init__(self, scope: Construct, construct_id: str, ctx: StackContext) -> None:
        super().__init__(scope, construct_id)
        cfg, names, data = ctx.cfg, ctx.names, ctx.data
        strict = ctx.strict
        arn = ctx.arns

        # What the job scripts import (outer_orchestrator.glue.*, outer_orchestrator.quality.*,
        # shared.config's DataSchema, shared.column_names' header rule), shipped as one zip on
        # --extra-py-files with the package layout intact. The local-cloud worker stays out: it imports moto.
        helpers_dir = sources.stage_packages(
            "glue-helpers",
            [
                "outer_orchestrator/glue",
                "outer_orchestrator/quality",
                "shared/config.py",
                "shared/column_names.py",
            ],
            exclude=[
                *(f"outer_orchestrator/glue/{s}" for s in _JOB_SCRIPTS),
                "outer_orchestrator/glue/local_worker.py",
            ],
        )
        helpers = assets.Asset(self, "Helpers", path=str(helpers_dir))
        # pydantic, pydantic-settings, PyYAML, lark and their dependencies as a zip of wheels
        # (infra/glue_wheels.py): installed from it with --no-index, never from the internet.
        python_modules = assets.Asset(
            self, "PythonModules", path=str(glue_wheels.stage(sources.staging_dir("glue-wheels")))
        )
        # The configured ruleset: the user's S3 object as it is, or a file (a path made absolute
        # by shared.config, or a name packaged in outer_orchestrator/quality/) shipped as an asset.
        ruleset_uri, ruleset_object_arn = _s3_ruleset(cfg.ruleset)
        ruleset: assets.Asset | None = None
        if not ruleset_uri:
            ruleset = assets.Asset(
                self,
                "Ruleset",
                path=str(sources.source_file(self, sources.QUALITY_DIR / cfg.ruleset, strict=strict)),
            )
            ruleset_uri = ruleset.s3_object_url
        ingest_script = assets.Asset(
            self,
            "IngestScript",
            path=str(sources.source_file(self, sources.GLUE_DIR / "ingest.py", strict=strict)),
        )
        quality_script = assets.Asset(
            self,
            "DataQualityScript",
            path=str(sources.source_file(self, sources.GLUE_DIR / "data_quality.py", strict=strict)),
        )

        # Least privilege: read raw, write curated, read exactly the shipped code objects.
        self.role, policy = role_with_policy(
            self,
            "",
            role_name=names.glue_role,
            assumed_by=iam.ServicePrincipal("glue.amazonaws.com"),
            description="dualloop Glue jobs: read raw, write curated and quality reports",
            statements=[
                bucket_and_objects("ReadRaw", data.raw, S3_READ),
                bucket_and_objects("WriteCurated", data.curated, S3_READ_WRITE, f"{ASL_CURATED_PREFIX}*"),
                iam.PolicyStatement(
                    sid="ReadCode",
                    actions=["s3:GetObject"],
                    resources=[
                        *(
                            a.bucket.arn_for_objects(a.s3_object_key)
                            for a in (helpers, python_modules, ruleset, ingest_script, quality_script)
                            if a is not None
                        ),
                        *([ruleset_object_arn] if ruleset_object_arn else []),
                    ],
                ),
                project_key(data.key),
                iam.PolicyStatement(
                    sid="Logs",
                    actions=[
                        "logs:CreateLogGroup",
                        "logs:CreateLogStream",
                        "logs:PutLogEvents",
                        "logs:AssociateKmsKey",
                    ],
                    resources=[arn.logs("log-group:/aws-glue/*")],
                ),
                put_metric_data("Metrics", "Glue"),
            ],
        )

        self.security_configuration = glue.CfnSecurityConfiguration(
            self,
            "SecurityConfiguration",
            name=f"{names.base}-glue",
            encryption_configuration=glue.CfnSecurityConfiguration.EncryptionConfigurationProperty(
                s3_encryptions=[
                    glue.CfnSecurityConfiguration.S3EncryptionProperty(
                        s3_encryption_mode="SSE-KMS", kms_key_arn=data.key.key_arn
                    )
                ],
                cloud_watch_encryption=glue.CfnSecurityConfiguration.CloudWatchEncryptionProperty(
                    cloud_watch_encryption_mode="SSE-KMS", kms_key_arn=data.key.key_arn
                ),
                job_bookmarks_encryption=glue.CfnSecurityConfiguration.JobBookmarksEncryptionProperty(
                    job_bookmarks_encryption_mode="CSE-KMS", kms_key_arn=data.key.key_arn
                ),
            ),
        )

        common_args = {
            "--job-language": "python",
            "--extra-py-files": helpers.s3_object_url,
            "--enable-metrics": "true",
            "--enable-continuous-cloudwatch-log": "true",
            # Every run reads an explicit raw_uri and writes its own prefix: bookmarks add nothing.
            "--job-bookmark-option": "job-bookmark-disable",
            # shared.config and the quality report are pydantic models; Glue 5.0 does not ship
            # pydantic: the versions the scripts are tested with, from the zip of wheels only.
            "--additional-python-modules": python_modules.s3_object_url,
            "--python-modules-installer-option": "--no-index",
        }
        self.ingest = self._job(
            "Ingest",
            names.ingest_job,
            ingest_script,
            {**common_args, "--schema": cfg.dataset.model_dump_json()},
            "Reads raw_uri, applies the DataSchema, writes Parquet to curated_uri",
        )
        self.data_quality = self._job(
            "DataQuality",
            names.data_quality_job,
            quality_script,
            # The asset's key is a hash; the report names the ruleset after the configured file.
            {**common_args, "--ruleset_uri": ruleset_uri, "--ruleset_name": Path(cfg.ruleset).stem},
            "Evaluates the DQDL ruleset on data_uri and writes a QualityReport to report_uri",
        )

        for job in (self.ingest, self.data_quality):
            job.node.add_dependency(policy)

        acknowledge_wildcards(
            policy,
            {
                f"<{logical_id(data.raw)}.Arn>/*": (
                    "Ingest reads any raw_uri a starter passes (EventBridge new-data keys, manual runs)."
                ),
                f"<{logical_id(data.curated)}.Arn>/{ASL_CURATED_PREFIX}*": (
                    "Each retrain writes curated/<execution>/...; execution names are not known ahead."
                ),
                arn.logs("log-group:/aws-glue/*"): (
                    "Glue names its log groups per security configuration and role under /aws-glue/."
                ),
                "*": "Only cloudwatch:PutMetricData, which has no resource-level permissions; pinned to the Glue "
                "namespace.",
            },
        )

    def _job(
        self, construct_id: str, name: str, script: assets.Asset, args: dict[str, str], description: str
    ) -> glue.CfnJob:
        return glue.CfnJob(
            self,
            construct_id,
            name=name,
            description=description,
            role=self.role.role_arn,
            glue_version=GLUE_VERSION,
            command=glue.CfnJob.JobCommandProperty(
                name="glueetl", python_version="3", script_location=script.s3_object_url
            ),
            default_arguments=args,
            worker_type="G.1X",
            number_of_workers=2,
            timeout=60,
            max_retries=0,  # the state machine retries with backoff; Glue retrying too would double it
            execution_property=glue.CfnJob.ExecutionPropertyProperty(max_concurrent_runs=1),
            security_configuration=self.security_configuration.ref,
        )


def _s3_ruleset(ruleset: str) -> tuple[str, str]:
    """(URI, object ARN) of a ruleset configured as ``s3://bucket/key``; empty strings otherwise."""
    if not ruleset.startswith("s3://"):
        return "", ""
    bucket, _, key = ruleset.removeprefix("s3://").partition("/")
    return ruleset, Arns.s3(bucket, key)

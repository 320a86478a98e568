"""Every resource name and ARN, derived from the config in one place.

The CDK stack and the local cloud both take their names from here, so a name is never
spelled twice. Names follow ``<project>-<stage>-<purpose>``; AWS limits are respected
(Lambda and state machine names <= 64, SageMaker names <= 63, alarm names <= 255).
"""

from __future__ import annotations

from dataclasses import dataclass

from shared.config import DualloopConfig


@dataclass(frozen=True)
class Names:
    cfg: DualloopConfig

    # ---- basics -------------------------------------------------------------------------
    @property
    def base(self) -> str:
        return f"{self.cfg.project}-{self.cfg.stage.value}"

    @property
    def region(self) -> str:
        return self.cfg.region

    @property
    def account(self) -> str:
        return self.cfg.account_id

    def _arn(self, service: str, resource: str, *, region: bool = True, account: bool = True) -> str:
        return (
            f"arn:aws:{service}:{self.region if region else ''}:{self.account if account else ''}:{resource}"
        )

    # ---- storage ------------------------------------------------------------------------
    def _bucket(self, override: str | None, purpose: str) -> str:
        return override or f"{self.base}-{purpose}-{self.account}"

    @property
    def raw_bucket(self) -> str:
        return self._bucket(self.cfg.raw_bucket, "raw")

    @property
    def curated_bucket(self) -> str:
        return self._bucket(self.cfg.curated_bucket, "curated")

    @property
    def artifact_bucket(self) -> str:
        return self._bucket(self.cfg.artifact_bucket, "artifacts")

    @property
    def buckets(self) -> tuple[str, str, str]:
        return (self.raw_bucket, self.curated_bucket, self.artifact_bucket)

    @property
    def lock_table(self) -> str:
        return f"{self.base}-retrain-lock"

    @property
    def token_table(self) -> str:
        return f"{self.base}-task-tokens"

    @property
    def dead_letter_queue(self) -> str:
        """Events the asynchronous Lambdas and EventBridge targets gave up on (and its alarm)."""
        return f"{self.base}-dead-letters"

    @property
    def pipeline_token_table(self) -> str:
        """RunInnerPipeline's task tokens, by callback key (never a pipeline parameter)."""
        return f"{self.base}-pipeline-tokens"

    # ---- inner loop ---------------------------------------------------------------------
    @property
    def pipeline(self) -> str:
        return f"{self.base}-training"

    @property
    def pipeline_arn(self) -> str:
        return self._arn("sagemaker", f"pipeline/{self.pipeline}")

    @property
    def model_package_group(self) -> str:
        return self.cfg.model_package_group or f"{self.base}-models"

    @property
    def model_package_group_arn(self) -> str:
        return self._arn("sagemaker", f"model-package-group/{self.model_package_group}")

    @property
    def sagemaker_role(self) -> str:
        return f"{self.base}-sagemaker-execution"

    @property
    def sagemaker_role_arn(self) -> str:
        return self._arn("iam", f"role/{self.sagemaker_role}", region=False)

    # ---- outer loop ---------------------------------------------------------------------
    @property
    def state_machine(self) -> str:
        return f"{self.base}-retrain"

    @property
    def state_machine_arn(self) -> str:
        return self._arn("states", f"stateMachine:{self.state_machine}")

    @property
    def state_machine_role(self) -> str:
        return f"{self.base}-retrain-sfn"

    @property
    def state_machine_role_arn(self) -> str:
        return self._arn("iam", f"role/{self.state_machine_role}", region=False)

    @property
    def promotion_state_machine(self) -> str:
        """A package promoted from the previous stage: approved and deployed here (no retrain)."""
        return f"{self.base}-promote"

    @property
    def promotion_state_machine_arn(self) -> str:
        return self._arn("states", f"stateMachine:{self.promotion_state_machine}")

    @property
    def promotion_role(self) -> str:
        """What the deploying account assumes in this stage's account to promote a package here."""
        return f"{self.base}-promotion"

    @property
    def promotion_role_arn(self) -> str:
        return self._arn("iam", f"role/{self.promotion_role}", region=False)

    @property
    def ingest_job(self) -> str:
        return f"{self.base}-ingest"

    @property
    def data_quality_job(self) -> str:
        return f"{self.base}-data-quality"

    @property
    def glue_role(self) -> str:
        return f"{self.base}-glue"

    @property
    def glue_role_arn(self) -> str:
        return self._arn("iam", f"role/{self.glue_role}", region=False)

    @property
    def topic(self) -> str:
        return f"{self.base}-notifications"

    @property
    def topic_arn(self) -> str:
        return self._arn("sns", self.topic)

    # ---- relay handlers -----------------------------------------------------------------
    @property
    def pipeline_relay_function(self) -> str:
        return f"{self.base}-pipeline-status-relay"

    @property
    def approval_relay_function(self) -> str:
        return f"{self.base}-approval-relay"

    @property
    def store_token_function(self) -> str:
        return f"{self.base}-store-approval-token"

    @property
    def pipeline_callback_function(self) -> str:
        return f"{self.base}-start-pipeline"

    @property
    def drift_function(self) -> str:
        return f"{self.base}-drift-check"

    @property
    def drift_role(self) -> str:
        return f"{self.drift_function}-role"

    @property
    def drift_role_arn(self) -> str:
        return self._arn("iam", f"role/{self.drift_role}", region=False)

    @property
    def lock_release_function(self) -> str:
        return f"{self.base}-release-lock"

    @property
    def lock_release_role(self) -> str:
        return f"{self.base}-release-lock"

    def relay_role(self, handler: str) -> str:
        """The execution role of one relay handler (``pipeline_relay``, ``approval_relay``,
        ``pipeline_callback``, ``store_token``): each has its own, least privilege."""
        return f"{self.base}-{handler.replace('_', '-')}"

    def relay_role_arn(self, handler: str) -> str:
        return self._arn("iam", f"role/{self.relay_role(handler)}", region=False)

    def function_arn(self, function: str) -> str:
        return self._arn("lambda", f"function:{function}")

    # ---- EventBridge --------------------------------------------------------------------
    @property
    def pipeline_status_rule(self) -> str:
        return f"{self.base}-pipeline-status"

    @property
    def model_package_state_rule(self) -> str:
        return f"{self.base}-model-package-state"

    @property
    def lock_release_rule(self) -> str:
        """A retrain that ended ABORTED, TIMED_OUT or FAILED -> release the lock it may hold."""
        return f"{self.base}-release-stale-lock"

    @property
    def drift_alarm_rule(self) -> str:
        return f"{self.base}-drift-alarm"

    @property
    def schedule_rule(self) -> str:
        return f"{self.base}-scheduled-retrain"

    @property
    def new_data_rule(self) -> str:
        return f"{self.base}-new-data"

    @property
    def drift_schedule_rule(self) -> str:
        return f"{self.base}-drift-schedule"

    @property
    def events_role(self) -> str:
        return f"{self.base}-events-start-retrain"

    @property
    def events_role_arn(self) -> str:
        return self._arn("iam", f"role/{self.events_role}", region=False)

    # ---- serving ------------------------------------------------------------------------
    @property
    def endpoint(self) -> str:
        return f"{self.base}-endpoint"

    @property
    def endpoint_arn(self) -> str:
        return self._arn("sagemaker", f"endpoint/{self.endpoint}")

    @property
    def model_name_prefix(self) -> str:
        # Models and endpoint configs are named "<prefix>-<uuid>": 26 + 1 + 36 = 63, SageMaker's limit.
        return self.base[:26].rstrip("-")

    @property
    def variant(self) -> str:
        # Blue/green keeps the variant name stable across endpoint configs.
        return "AllTraffic"

    @property
    def error_alarm(self) -> str:
        return f"{self.endpoint}-5xx-errors"

    @property
    def latency_alarm(self) -> str:
        return f"{self.endpoint}-model-latency"

    @property
    def drift_alarm(self) -> str:
        return f"{self.base}-feature-drift"

    @property
    def endpoint_alarms(self) -> tuple[str, str]:
        return (self.error_alarm, self.latency_alarm)

    @property
    def metric_namespace(self) -> str:
        return "dualloop/drift"

    def alarm_arn(self, alarm: str) -> str:
        return self._arn("cloudwatch", f"alarm:{alarm}")

    # ---- the ASL placeholders -----------------------------------------------------------
    def asl_substitutions(self) -> dict[str, str]:
        """Values for the ``${Name}`` placeholders of the outer loop's ASL file.

        CDK passes this very mapping as ``definition_substitutions`` and the local cloud
        substitutes it before CreateStateMachine, so both run the same definition.
        """
        return {
            "LockTable": self.lock_table,
            "TokenTable": self.token_table,
            "IngestJob": self.ingest_job,
            "DataQualityJob": self.data_quality_job,
            "PipelineName": self.pipeline,
            "ModelPackageGroup": self.model_package_group,
            "CuratedBucket": self.curated_bucket,
            "RawBucket": self.raw_bucket,
            "ArtifactBucket": self.artifact_bucket,
            "TopicArn": self.topic_arn,
            "StoreTokenFunctionArn": self.function_arn(self.store_token_function),
            "PipelineCallbackFunctionArn": self.function_arn(self.pipeline_callback_function),
            "SageMakerRoleArn": self.sagemaker_role_arn,
            "EndpointName": self.endpoint,
            "ModelNamePrefix": self.model_name_prefix,
            "VariantName": self.variant,
            "ErrorAlarm": self.error_alarm,
            "LatencyAlarm": self.latency_alarm,
        }


def names_for(cfg: DualloopConfig) -> Names:
    return Names(cfg)

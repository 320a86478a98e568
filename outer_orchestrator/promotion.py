"""Promote an approved model package from one stage to the next, across accounts.
(Over 400 lines: one promotion, step by step, with the checks each step makes; its state
machine, stacks and commands live in promotion_asl, promotion_stack and promotion_cli.)

The package is promoted, not retrained: the next stage's Model Registry gets a copy of the
package (the same image, the same ``ModelDataUrl``, the same model metrics, and where it came
from), the artifact's bucket lets that stage's SageMaker execution role read that one object,
and the stage's promotion state machine (``promotion_asl``: the outer loop's approval and
blue/green states) waits for the stage's approval and deploys it. Why a copy rather than
sharing the source group through its resource policy: README, "Promotion across accounts".

A promotion goes one step (``previous stage -> stage``) and only from a stage that serves the
package now: a package rolled back (or never deployed) in the previous stage stops the
promotion, the target stage keeps what it serves, and its topic says so.

Clients come from ``AccountSessions``: one boto3 session per stage (its account and region);
on the local cloud each account's administrator (``shared.local_cloud.accounts``), on AWS
what ``stage_sessions.account_sessions`` finds for that account (the stage's profile, your
own credentials there, else the stage's promotion role, ``aws_sessions``).
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any, Literal

import boto3
from botocore.exceptions import ClientError

from outer_orchestrator.drift.baseline import baseline_uri_of
from outer_orchestrator.runner import Progress, Retrain, RunResult
from shared.config import ApprovalMode, DualloopConfig, StageSpec, stage_config, stage_path
from shared.contracts import RetrainSettings
from shared.naming import Names

AccountSessions = Callable[[StageSpec], boto3.Session]
# auto: approve a manual stage's copy now; wait: for its approvers; prompt: ask at the terminal.
ApproveStage = Literal["auto", "wait", "prompt"]
Ask = Callable[[str], bool]

# Customer metadata on a promoted package (values: <= 256 chars of [letters digits spaces _.:/=+-@]).
PROMOTED_FROM = "dualloop:promoted-from"
ORIGIN = "dualloop:origin-package"
DEPLOYED_ENDPOINT = "dualloop:deployed-endpoint"
DEPLOYED_AT = "dualloop:deployed-at"
ROLLED_BACK_BY = "dualloop:rolled-back-by"
ROLLED_BACK_AT = "dualloop:rolled-back-at"
_STAGE_METADATA = frozenset(
    {
        DEPLOYED_ENDPOINT,
        DEPLOYED_AT,
        ROLLED_BACK_BY,
        ROLLED_BACK_AT,
        "dualloop:deployed-by",
        "dualloop:endpoint-config",
    }
)
# The fields of an InferenceSpecification container CreateModelPackage accepts (botocore's
# sagemaker service-2.json, ModelPackageContainerDefinition); Describe adds others (ETag ...).
_CONTAINER_FIELDS = ("Image", "ImageDigest", "ModelDataUrl", "ModelDataSource", "Environment", "Framework")
_SPEC_FIELDS = (
    "SupportedTransformInstanceTypes",
    "SupportedRealtimeInferenceInstanceTypes",
    "SupportedContentTypes",
    "SupportedResponseMIMETypes",
)


class PromotionError(RuntimeError):
    """The promotion cannot be done as asked (unknown stage, package not found, ...)."""


class PromotionStopped(PromotionError):
    """The previous stage does not vouch for the package (rolled back, not serving, baking)."""


@dataclass(frozen=True)
class Serving:
    """What one stage's endpoint serves now."""

    stage: str
    account_id: str
    endpoint: str
    status: str | None
    model_package_arn: str | None = None
    model_data_url: str | None = None
    origin_package_arn: str | None = None
    failure_reason: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class PromotionResult:
    stage: str
    status: str  # Promoted | Stopped | Rejected | RolledBack | Failed
    message: str
    source_package_arn: str | None = None
    model_package_arn: str | None = None
    model_data_url: str | None = None
    execution_arn: str | None = None
    run: RunResult | None = None

    def as_dict(self) -> dict[str, Any]:
        out = {k: v for k, v in self.__dict__.items() if k != "run"}
        if self.run is not None:
            out["run"] = self.run.as_dict()
        return out


def local_sessions(base: boto3.Session | None = None) -> AccountSessions:
    """Each stage's account on the local cloud (its administrator, as ``cdk deploy`` is on AWS)."""
    from shared.local_cloud import accounts

    return lambda spec: accounts.session(spec.account_id, spec.region, base)


def aws_sessions(cfg: DualloopConfig, base: boto3.Session | None = None) -> AccountSessions:
    """Each stage's promotion role (``Names.promotion_role_arn``), assumed from the caller's account."""
    base = base or boto3.Session()

    def session(spec: StageSpec) -> boto3.Session:
        role = Names(stage_config(cfg, spec.name.value)).promotion_role_arn
        creds = base.client("sts").assume_role(RoleArn=role, RoleSessionName="dualloop-promote")[
            "Credentials"
        ]
        return boto3.Session(
            aws_access_key_id=creds["AccessKeyId"],
            aws_secret_access_key=creds["SecretAccessKey"],
            aws_session_token=creds["SessionToken"],
            region_name=spec.region,
        )

    return session


def _allow(
    role_arn: str, action: str, resource: str, condition: dict[str, Any] | None = None
) -> dict[str, Any]:
    statement = {"Effect": "Allow", "Principal": {"AWS": role_arn}, "Action": action, "Resource": resource}
    return statement | ({"Condition": condition} if condition else {})


def execution_name(target: StageSpec, copy_arn: str) -> str:
    """The promotion execution's name, e.g. ``promotion-to-prod-package-3-1a2b3c4d``: the outer
    loop's notification subjects name the execution (``$$.Execution.Name``), so they say it is a
    promotion, to which stage, and which package version of that stage's registry. StartExecution:
    1-80 characters; 0-9, A-Z, a-z, - and _ keep it loggable (botocore states service-2.json, Name)."""
    version = copy_arn.rsplit("/", 1)[-1]
    return f"promotion-to-{target.name.value}-package-{version}-{uuid.uuid4().hex[:8]}"[:80]


def _metadata(package: dict[str, Any]) -> dict[str, str]:
    return dict(package.get("CustomerMetadataProperties") or {})


def _container(package: dict[str, Any]) -> dict[str, Any]:
    containers = (package.get("InferenceSpecification") or {}).get("Containers") or [{}]
    return dict(containers[0])


def _missing(exc: ClientError) -> bool:
    """DescribeEndpoint of an endpoint that does not exist: SageMaker's ValidationException."""
    error = exc.response["Error"]
    return error["Code"] == "ValidationException" and "could not find" in error.get("Message", "").lower()


def serving(cfg: DualloopConfig, spec: StageSpec, session: boto3.Session) -> Serving:
    """The package stage ``spec``'s endpoint serves (None when it has no endpoint yet)."""
    names = Names(stage_config(cfg, spec.name.value))
    sagemaker = session.client("sagemaker")
    base = Serving(spec.name.value, spec.account_id, names.endpoint, None)
    try:
        endpoint = sagemaker.describe_endpoint(EndpointName=names.endpoint)
    except ClientError as exc:
        if _missing(exc):
            return base
        raise
    config = sagemaker.describe_endpoint_config(EndpointConfigName=endpoint["EndpointConfigName"])
    model = sagemaker.describe_model(ModelName=config["ProductionVariants"][0]["ModelName"])
    package_arn = (model.get("PrimaryContainer") or {}).get("ModelPackageName")
    out = Serving(
        spec.name.value,
        spec.account_id,
        names.endpoint,
        endpoint["EndpointStatus"],
        failure_reason=endpoint.get("FailureReason"),
    )
    if not package_arn:
        return out
    package = dict(sagemaker.describe_model_package(ModelPackageName=package_arn))
    meta = _metadata(package)
    return Serving(
        out.stage,
        out.account_id,
        out.endpoint,
        out.status,
        package_arn,
        _container(package).get("ModelDataUrl"),
        meta.get(ORIGIN, package_arn),
        out.failure_reason,
    )


class Promotion:
    """Promotes packages along ``stage_path(cfg)``; ``sessions`` gives each stage's clients."""

    def __init__(
        self,
        cfg: DualloopConfig,
        sessions: AccountSessions,
        *,
        now: Callable[[], datetime] | None = None,
        clock_factor: float = 1.0,
    ) -> None:
        """``clock_factor``: AWS seconds per wall second, 1 on AWS; on the local cloud its clock's
        factor (``shared.local_cloud.clock``): there a 1-hour bake passes in 36 s at x100, as every
        Wait state and endpoint bake of that cloud does."""
        if not clock_factor >= 1.0:
            raise ValueError(f"clock_factor must be >= 1 (1 = real time), got {clock_factor!r}")
        self.cfg = cfg
        self.path = stage_path(cfg)
        self._sessions = sessions
        self._cache: dict[str, boto3.Session] = {}
        self._now = now or (lambda: datetime.now(UTC))
        self._clock_factor = clock_factor

    # ---- stages --------------------------------------------------------------------------------
    def spec(self, name: str) -> StageSpec:
        for spec in self.path:
            if spec.name.value == name:
                return spec
        known = ", ".join(s.name.value for s in self.path)
        raise PromotionError(f"stage {name!r} is not in the configured stages ({known}): add it to stages")

    def session(self, spec: StageSpec) -> boto3.Session:
        if spec.name.value not in self._cache:
            self._cache[spec.name.value] = self._sessions(spec)
        return self._cache[spec.name.value]

    def names(self, spec: StageSpec) -> Names:
        return Names(stage_config(self.cfg, spec.name.value))

    def previous(self, spec: StageSpec) -> StageSpec:
        index = self.path.index(spec)
        if index == 0:
            raise PromotionError(
                f"stage {spec.name.value} is the first stage: it retrains (dualloop run), nothing is promoted to it"
            )
        return self.path[index - 1]

    def serving(self, spec: StageSpec) -> Serving:
        return serving(self.cfg, spec, self.session(spec))

    # ---- the promotion -------------------------------------------------------------------------
    def promote(
        self,
        package_arn: str,
        to: str,
        *,
        approve: ApproveStage = "auto",
        progress: Progress | None = None,
        timeout: float = 3600,
        ask: Ask | None = None,
    ) -> PromotionResult:
        """Promote ``package_arn`` (the previous stage's package, or the origin package it copies)
        to stage ``to`` and deploy it there; a stopped gate is a result, not an exception."""
        target = self.spec(to)
        source = self.previous(target)
        try:
            package = self._source_package(source, package_arn)
            self.gate(source, target, package)
        except PromotionStopped as exc:
            message = f"{exc}; {self._keeps_serving(target)}"
            self._notify(target, f"dualloop: promotion to {target.name.value} stopped", message)
            return PromotionResult(to, "Stopped", message, source_package_arn=package_arn)
        data_url = _container(package).get("ModelDataUrl")
        self._grant_reads(target, package)
        copy_arn = self._copy(source, target, package, approve, ask)
        execution = self._start(target, copy_arn, self._metrics(source, package))
        run = Retrain(stage_config(self.cfg, to), session=self.session(target)).follow(
            execution, approve="wait", progress=progress, timeout=timeout
        )
        return self._outcome(target, package, copy_arn, data_url, execution, run)

    def _source_package(self, source: StageSpec, package_arn: str) -> dict[str, Any]:
        """The source stage's package: ``package_arn`` itself, or that stage's copy of it."""
        sagemaker = self.session(source).client("sagemaker")
        group = self.names(source).model_package_group
        if f":model-package/{group}/" in package_arn and f":{source.account_id}:" in package_arn:
            try:
                return dict(sagemaker.describe_model_package(ModelPackageName=package_arn))
            except ClientError as exc:
                raise PromotionError(
                    f"{package_arn} is not in stage {source.name.value}'s registry: {exc}"
                ) from None
        for summary in self._packages(sagemaker, group):
            package = dict(sagemaker.describe_model_package(ModelPackageName=summary["ModelPackageArn"]))
            if package_arn in (_metadata(package).get(ORIGIN), _metadata(package).get(PROMOTED_FROM)):
                return package
        raise PromotionStopped(
            f"{package_arn} has not reached stage {source.name.value} (no copy in {group}): "
            f"promote it to {source.name.value} first"
        )

    @staticmethod
    def _packages(sagemaker: Any, group: str) -> list[dict[str, Any]]:
        return list(
            sagemaker.list_model_packages(
                ModelPackageGroupName=group, SortBy="CreationTime", SortOrder="Descending", MaxResults=100
            )["ModelPackageSummaryList"]
        )

    def gate(self, source: StageSpec, target: StageSpec, package: dict[str, Any]) -> None:
        """The previous stage vouches for the package: approved, serving now, not rolled back,
        and (bake rule) serving for the target's bake time."""
        arn = package["ModelPackageArn"]
        where = f"stage {source.name.value} (account {source.account_id})"
        meta = _metadata(package)
        if meta.get(ROLLED_BACK_BY):
            raise PromotionStopped(
                f"{arn} was rolled back in {where} by {meta[ROLLED_BACK_BY]} at {meta.get(ROLLED_BACK_AT, '?')}, "
                f"so it is not promoted to {target.name.value}"
            )
        if package.get("ModelApprovalStatus") != "Approved":
            raise PromotionStopped(f"{arn} is {package.get('ModelApprovalStatus')} in {where}, not Approved")
        now_serving = self.serving(source)
        if now_serving.model_package_arn != arn or now_serving.status != "InService":
            serves = now_serving.model_package_arn or "nothing"
            raise PromotionStopped(
                f"{arn} is not what {where} serves (its endpoint {now_serving.endpoint} is "
                f"{now_serving.status or 'absent'}, serving {serves})"
            )
        rule = target.approval
        if rule.mode is ApprovalMode.BAKE and rule.bake_seconds:
            baked = self.baked_seconds(meta.get(DEPLOYED_AT))
            left = rule.bake_seconds - baked
            if left > 0:
                local = (
                    f" ({left / self._clock_factor:.1f} s on the local clock)"
                    if self._clock_factor > 1
                    else ""
                )
                raise PromotionStopped(
                    f"{arn} has served in {where} for {baked:.0f} s of the {rule.bake_seconds} s bake time "
                    f"{target.name.value} asks for: {left:.0f} s left{local}; promote it again after the bake"
                )

    def baked_seconds(self, deployed_at: str | None) -> float:
        """How long (in AWS seconds) a package has served since ``dualloop:deployed-at``.

        MarkDeployed stamps it with ``$$.State.EnteredTime``: UTC wall time, on AWS and on the
        local cloud alike (moto's interpreter reads the wall clock), while the local cloud's
        waits pass ``clock_factor`` times faster; so the wall seconds elapsed are scaled."""
        if not deployed_at:
            return 0.0
        stamped = datetime.fromisoformat(deployed_at)
        if stamped.tzinfo is None:
            stamped = stamped.replace(tzinfo=UTC)
        return max(0.0, (self._now() - stamped).total_seconds()) * self._clock_factor

    def _keeps_serving(self, target: StageSpec) -> str:
        now = self.serving(target)
        if now.model_package_arn:
            return (
                f"stage {target.name.value} keeps serving {now.model_package_arn} "
                f"(model data {now.model_data_url})"
            )
        return f"stage {target.name.value} serves nothing yet and deploys nothing"

    def _notify(self, target: StageSpec, subject: str, message: str) -> None:
        self.session(target).client("sns").publish(
            TopicArn=self.names(target).topic_arn, Subject=subject[:100], Message=message
        )

    def _grant_reads(self, target: StageSpec, package: dict[str, Any]) -> None:
        """Let the target read what the package names in the first stage's bucket: its SageMaker
        execution role exactly the artifact (to serve it), its drift check role exactly the drift
        baseline (to compare its captures with it). Cross-account S3 needs the bucket's grant as
        well as the role's own policy (IAM User Guide, "Cross-account policy evaluation logic")."""
        data_url = _container(package).get("ModelDataUrl")
        if data_url:
            bucket, _, key = data_url.removeprefix("s3://").partition("/")
            role = self.names(target).sagemaker_role_arn
            self._grant(target, data_url, [_allow(role, "s3:GetObject", f"arn:aws:s3:::{bucket}/{key}")])
        baseline = baseline_uri_of(package)
        if baseline:
            # One baseline file, or a prefix of per-host files the drift check lists and merges
            # (outer_orchestrator/drift/baseline.py, load_baseline).
            bucket, _, key = baseline.removeprefix("s3://").partition("/")
            role = self.names(target).drift_role_arn
            if key.endswith(".json"):
                reads = [_allow(role, "s3:GetObject", f"arn:aws:s3:::{bucket}/{key}")]
            else:
                prefix = key.rstrip("/")
                reads = [
                    _allow(role, "s3:GetObject", f"arn:aws:s3:::{bucket}/{prefix}/*"),
                    _allow(
                        role,
                        "s3:ListBucket",
                        f"arn:aws:s3:::{bucket}",
                        {"StringLike": {"s3:prefix": [prefix, f"{prefix}/*"]}},
                    ),
                ]
            self._grant(target, baseline, reads)

    def _grant(self, target: StageSpec, uri: str, statements: list[dict[str, Any]]) -> None:
        """Add ``statements`` (about ``uri``) to the bucket policy of the stage that owns it."""
        bucket, _, key = uri.removeprefix("s3://").partition("/")
        owner = next((s for s in self.path if self.names(s).artifact_bucket == bucket), None)
        if owner is None:
            raise PromotionError(
                f"{uri} is in no stage's artifact bucket, so no stage can grant {target.name.value} read access"
            )
        if owner.account_id == target.account_id:
            return  # the role's own policy decides within an account
        s3 = self.session(owner).client("s3")
        try:
            policy = json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"])
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "NoSuchBucketPolicy":
                raise
            policy = {"Version": "2012-10-17", "Statement": []}
        digest = hashlib.sha256(key.encode()).hexdigest()[:12]
        named = [
            {"Sid": f"Promote{target.name.value.capitalize()}{digest}{'' if i == 0 else i}", **statement}
            for i, statement in enumerate(statements)
        ]
        sids = {s["Sid"] for s in named}
        policy["Statement"] = [s for s in policy.get("Statement", []) if s.get("Sid") not in sids] + named
        s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps(policy))

    def _copy(
        self,
        source: StageSpec,
        target: StageSpec,
        package: dict[str, Any],
        approve: ApproveStage,
        ask: Ask | None = None,
    ) -> str:
        """The target registry's copy of ``package`` (made once; a second promotion reuses it)."""
        sagemaker = self.session(target).client("sagemaker")
        group = self.names(target).model_package_group
        arn = package["ModelPackageArn"]
        for summary in self._packages(sagemaker, group):
            existing = sagemaker.describe_model_package(ModelPackageName=summary["ModelPackageArn"])
            if _metadata(dict(existing)).get(PROMOTED_FROM) == arn:
                copy_arn = str(existing["ModelPackageArn"])
                break
        else:
            spec = dict(package.get("InferenceSpecification") or {})
            containers = [{k: c[k] for k in _CONTAINER_FIELDS if k in c} for c in spec.get("Containers", [])]
            request: dict[str, Any] = {
                "ModelPackageGroupName": group,
                "ModelPackageDescription": f"promoted from stage {source.name.value}: {arn}"[:1024],
                "InferenceSpecification": {
                    "Containers": containers,
                    **{k: spec[k] for k in _SPEC_FIELDS if k in spec},
                },
                "ModelApprovalStatus": "PendingManualApproval",
                # The pipeline's metadata (quality metric, drift baseline) travels with the model;
                # where and when it was deployed or rolled back is the source stage's, not this one's.
                "CustomerMetadataProperties": {
                    **{k: v for k, v in _metadata(package).items() if k not in _STAGE_METADATA},
                    PROMOTED_FROM: arn,
                    ORIGIN: _metadata(package).get(ORIGIN, arn),
                },
            }
            if package.get("ModelMetrics"):
                request["ModelMetrics"] = package["ModelMetrics"]
            copy_arn = str(sagemaker.create_model_package(**request)["ModelPackageArn"])
        mode = target.approval.mode
        current = sagemaker.describe_model_package(ModelPackageName=copy_arn)["ModelApprovalStatus"]
        if mode is ApprovalMode.MANUAL and approve == "prompt" and ask is not None:
            if current == "PendingManualApproval":
                # Decided before the state machine starts: AwaitApproval's token store finds the
                # decision already made and answers at once (handlers/store_token.py).
                approved = ask(copy_arn)
                sagemaker.update_model_package(
                    ModelPackageArn=copy_arn,
                    ModelApprovalStatus="Approved" if approved else "Rejected",
                    ApprovalDescription=f"manual: {'approved' if approved else 'rejected'} at the dualloop prompt",
                )
        elif mode is not ApprovalMode.MANUAL or approve == "auto":
            reason = (
                f"{mode.value}: approved by dualloop promote after stage {source.name.value} served it"
                if mode is not ApprovalMode.MANUAL
                else "manual: approved with dualloop promote --approve auto"
            )
            if current == "PendingManualApproval":
                sagemaker.update_model_package(
                    ModelPackageArn=copy_arn, ModelApprovalStatus="Approved", ApprovalDescription=reason
                )
        return copy_arn

    def _metrics(self, source: StageSpec, package: dict[str, Any]) -> dict[str, float]:
        """The evaluation report's metric values (the approval notification lists them)."""
        uri = (((package.get("ModelMetrics") or {}).get("ModelQuality") or {}).get("Statistics") or {}).get(
            "S3Uri"
        )
        if not uri:
            return {}
        bucket, _, key = str(uri).removeprefix("s3://").partition("/")
        owner = next((s for s in self.path if self.names(s).artifact_bucket == bucket), source)
        report = json.loads(
            self.session(owner).client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
        )
        values: dict[str, float] = {}
        for section in report.values() if isinstance(report, dict) else []:
            if isinstance(section, dict):
                for name, entry in section.items():
                    if isinstance(entry, dict) and isinstance(entry.get("value"), int | float):
                        values[name] = float(entry["value"])
        return values

    def _start(self, target: StageSpec, copy_arn: str, metrics: dict[str, float]) -> str:
        names = self.names(target)
        payload = {
            "trigger": "promotion",
            "settings": RetrainSettings.from_config(stage_config(self.cfg, target.name.value)).model_dump(
                mode="json"
            ),
            "pipeline": {"model_package_arn": copy_arn, "metrics": metrics},
        }
        arn: str = (
            self.session(target)
            .client("stepfunctions")
            .start_execution(
                stateMachineArn=names.promotion_state_machine_arn,
                name=execution_name(target, copy_arn),
                input=json.dumps(payload),
            )["executionArn"]
        )
        return arn

    def _outcome(
        self,
        target: StageSpec,
        package: dict[str, Any],
        copy_arn: str,
        data_url: str | None,
        execution: str,
        run: RunResult,
    ) -> PromotionResult:
        stage = target.name.value
        source_arn = str(package["ModelPackageArn"])

        def result(status: str, message: str) -> PromotionResult:
            return PromotionResult(stage, status, message, source_arn, copy_arn, data_url, execution, run)

        if run.status == "SUCCEEDED" and any(s.get("name") == "AlreadyRunning" for s in run.states):
            return result(
                "Stopped", f"a retrain or promotion holds stage {stage}'s lock: nothing was deployed"
            )
        if run.status == "SUCCEEDED":
            return result("Promoted", f"stage {stage} serves {copy_arn} (model data {data_url})")
        if run.error == "ModelNotApproved":
            return result(
                "Rejected",
                f"{copy_arn} was not approved in stage {stage} ({self._decision(target, copy_arn, run)}); "
                f"{self._keeps_serving(target)}",
            )
        if run.error == "DeploymentRolledBack":
            return result(
                "RolledBack",
                f"the deployment of {copy_arn} in stage {stage} was rolled back ({run.cause}); {self._keeps_serving(target)}",
            )
        return result("Failed", f"{run.error}: {run.cause}; {self._keeps_serving(target)}")

    def _decision(self, target: StageSpec, copy_arn: str, run: RunResult) -> str:
        """Why the stage did not approve: the approver's (or the timeout's) ``ApprovalDescription``
        on the stage's copy, where SageMaker records it; the execution's cause says only that it
        was rejected (the relay's SendTaskFailure cause stops at the AwaitApproval state)."""
        package = self.session(target).client("sagemaker").describe_model_package(ModelPackageName=copy_arn)
        status, why = package.get("ModelApprovalStatus"), package.get("ApprovalDescription")
        return f"{status}: {why}" if why else str(run.cause)

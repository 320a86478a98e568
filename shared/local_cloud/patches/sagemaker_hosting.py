"""Addition: SageMaker hosting's missing pieces (UpdateEndpoint, real InvokeEndpoint, endpoint state).
(Over 400 lines: one addition per hosting API moto lacks, as the patches are laid out; each section is one API below.)

- ``UpdateEndpoint`` (missing in moto 5.2.5): validated as SageMaker does (the endpoint must
  be InService, the config must exist and keep the variant names, ``DeploymentConfig``
  within SageMaker's limits: see ``hosting.policy``), honouring ``RetainAllVariantProperties``,
  ``ExcludeRetainedVariantProperties`` and ``RetainDeploymentConfig``. With the hosting worker
  attached the endpoint goes ``Updating`` with a ``PendingDeploymentSummary`` and the worker
  runs the blue/green deployment (``EndpointDeploymentRequested`` with the previous config);
  without it the endpoint switches config at once, as moto does for everything else.
- ``InvokeEndpoint`` (sagemaker-runtime; moto answers a canned body): with the hosting worker
  attached, the request goes through ``hosting.endpoints.Router`` to a real model server.
  Errors keep the runtime API's shape: ``ValidationError`` (400) for an unknown endpoint,
  ``ModelError`` (424, with ``OriginalStatusCode``/``OriginalMessage``) when the model answers
  4XX or 5XX, so malformed input never comes back as a 5XX. moto's server routes the
  runtime's requests here by path (``/endpoints/<name>/invocations``), since both APIs sign
  as ``sagemaker``.
  A body over 6 MB (6,291,456 bytes: ``InvokeEndpointInput.Body`` ``max`` in botocore's
  sagemaker-runtime model) is a ``ValidationError`` before any model sees it.
- ``DeleteEndpoint``: also takes the endpoint off the data plane (its servers stop once drained).
- ``set_endpoint_state``: how the hosting worker reports Creating/Updating/InService/Failed,
  variant weights and counts, and ``FailureReason``; it emits ``SageMaker Endpoint State
  Change`` as AWS does (statuses upper-snake there, e.g. ``IN_SERVICE``).

New attributes are set only if moto does not have them: ``apply`` refuses to shadow an
implementation a newer moto may bring (review this module then).
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote

from moto.core.common_types import TYPE_RESPONSE
from moto.sagemaker.exceptions import ValidationError
from moto.sagemaker.models import FakeEndpoint, FakeEndpointConfig, SageMakerModelBackend, sagemaker_backends
from moto.sagemaker.responses import SageMakerResponse
from moto.sagemakerruntime.responses import SageMakerRuntimeResponse

from shared.local_cloud import events, hooks
from shared.local_cloud.hosting import endpoints, policy
from shared.local_cloud.patches import Patch, iam_enforcement, original

_INVOCATIONS = re.compile(r"/endpoints/(?P<name>[^/]+)/invocations$")
# botocore data/sagemaker-runtime/2017-05-13/service-2.json: InvokeEndpointInput.Body "max": 6291456
# (the 6 MB payload limit of real-time inference); botocore does not check it, the service does.
MAX_INVOKE_BODY = 6_291_456
_KEEP: Any = object()
_lock = threading.Lock()


PATCH = Patch(__name__)


@dataclass(frozen=True)
class PendingUpdate:
    """What an UpdateEndpoint call asked for, for the worker that carries it out."""

    endpoint_config_name: str
    variants: tuple[dict[str, Any], ...]  # the new config's variants, retained properties applied
    data_capture_config: dict[str, Any]
    deployment_config: dict[str, Any] | None


_pending: dict[tuple[str, str, str], PendingUpdate] = {}


def pending_update(account_id: str, region: str, endpoint_name: str) -> PendingUpdate | None:
    with _lock:
        return _pending.get((account_id, region, endpoint_name))


# ---- UpdateEndpoint --------------------------------------------------------------------------
@PATCH.adds(SageMakerModelBackend, "update_endpoint")
def _update_endpoint(
    self: SageMakerModelBackend,
    endpoint_name: str,
    endpoint_config_name: str,
    retain_all_variant_properties: bool = False,
    exclude_retained_variant_properties: list[dict[str, str]] | None = None,
    deployment_config: dict[str, Any] | None = None,
    retain_deployment_config: bool = False,
) -> str:
    endpoint: FakeEndpoint | None = self.endpoints.get(endpoint_name)
    if endpoint is None:
        arn = FakeEndpoint.arn_formatter(endpoint_name, self.account_id, self.region_name)
        raise ValidationError(message=f"Could not find endpoint '{arn}'.")
    if endpoint.endpoint_status != "InService":
        raise ValidationError(message=f'Cannot update in-progress endpoint "{endpoint.arn}".')
    config: FakeEndpointConfig | None = self.endpoint_configs.get(endpoint_config_name)
    if config is None:
        arn = FakeEndpointConfig.arn_formatter(endpoint_config_name, self.account_id, self.region_name)
        raise ValidationError(message=f"Could not find endpoint configuration '{arn}'.")
    if deployment_config is None and retain_deployment_config:
        deployment_config = getattr(endpoint, "last_deployment_config", None)
    try:
        parsed = policy.parse(deployment_config)
        for variant in config.production_variants:
            parsed.check_instances(int(variant.get("InitialInstanceCount") or 1), variant["VariantName"])
    except policy.PolicyError as exc:
        raise ValidationError(message=str(exc)) from None
    if parsed.alarms:
        # SageMaker reads the rollback alarms as the caller: UpdateEndpoint with
        # AutoRollbackConfiguration needs cloudwatch:DescribeAlarms on them (deployment
        # guardrails docs, "Auto-Rollback Configuration and Monitoring").
        iam_enforcement.authorize_implicit(
            "cloudwatch:DescribeAlarms",
            tuple(
                f"arn:aws:cloudwatch:{self.region_name}:{self.account_id}:alarm:{a}" for a in parsed.alarms
            ),
        )
    old_names = sorted(v["VariantName"] for v in endpoint.production_variants)
    new_names = sorted(v["VariantName"] for v in config.production_variants)
    if old_names != new_names:
        raise ValidationError(
            message=f"A blue/green update keeps the variant names: the endpoint has {old_names}, "
            f"endpoint config {endpoint_config_name} has {new_names}."
        )
    excluded = {p.get("VariantPropertyType") for p in exclude_retained_variant_properties or []}
    current = {v["VariantName"]: v for v in endpoint.production_variants}
    variants = []
    for v in config.production_variants:
        wanted = dict(v)
        if retain_all_variant_properties:
            now = current[v["VariantName"]]
            if "DesiredInstanceCount" not in excluded and now.get("DesiredInstanceCount"):
                wanted["InitialInstanceCount"] = now["DesiredInstanceCount"]
            if "DesiredWeight" not in excluded and now.get("DesiredWeight") is not None:
                wanted["InitialVariantWeight"] = now["DesiredWeight"]
        variants.append(wanted)
    capture = config.data_capture_config
    if retain_all_variant_properties and "DataCaptureConfig" not in excluded:
        capture = getattr(endpoint, "dualloop_capture_config", None) or capture

    update = PendingUpdate(endpoint_config_name, tuple(variants), dict(capture or {}), deployment_config)
    if deployment_config is not None:
        endpoint.last_deployment_config = deployment_config
    registry = hooks.current()
    if not registry.has_handler(hooks.EndpointDeploymentRequested):
        # No hosting worker: switch at once, as moto's CreateEndpoint does.
        endpoint.endpoint_config_name = endpoint_config_name
        endpoint.production_variants = endpoint._process_production_variants(variants)
        endpoint.data_capture_config = update.data_capture_config
        endpoint.last_modified_time = _now()
        return str(endpoint.arn)
    with _lock:
        _pending[(self.account_id, self.region_name, endpoint_name)] = update
    set_endpoint_state(
        self.account_id,
        self.region_name,
        endpoint_name,
        status="Updating",
        failure_reason=None,
        pending={
            "EndpointConfigName": endpoint_config_name,
            "StartTime": _now(),
            "ProductionVariants": [
                pending_variant(v, current_instances=0, current_weight=0.0, status="Creating")
                for v in variants
            ],
        },
    )
    registry.dispatch(
        deployment_requested(
            self, endpoint_name, endpoint_config_name, endpoint.endpoint_config_name, deployment_config
        )
    )
    return str(endpoint.arn)


def deployment_requested(
    backend: SageMakerModelBackend,
    endpoint_name: str,
    config_name: str,
    previous_config_name: str | None,
    deployment_config: dict[str, Any] | None = None,
) -> hooks.EndpointDeploymentRequested:
    """The hook that hands an endpoint's new config to the hosting worker (Create/UpdateEndpoint)."""
    return hooks.EndpointDeploymentRequested(
        account_id=backend.account_id,
        region=backend.region_name,
        endpoint_name=endpoint_name,
        endpoint_config_name=config_name,
        previous_config_name=previous_config_name,
        deployment_config=deployment_config,
    )


@PATCH.adds(SageMakerResponse, "update_endpoint")
def _respond_update_endpoint(self: SageMakerResponse) -> Any:
    from moto.core.responses import ActionResult

    arn = self.sagemaker_backend.update_endpoint(  # type: ignore[attr-defined]
        endpoint_name=self._get_param("EndpointName"),
        endpoint_config_name=self._get_param("EndpointConfigName"),
        retain_all_variant_properties=bool(self._get_param("RetainAllVariantProperties", False)),
        exclude_retained_variant_properties=self._get_param("ExcludeRetainedVariantProperties"),
        deployment_config=self._get_param("DeploymentConfig"),
        retain_deployment_config=bool(self._get_param("RetainDeploymentConfig", False)),
    )
    return ActionResult({"EndpointArn": arn})


# ---- DeleteEndpoint --------------------------------------------------------------------------
@PATCH.replaces(SageMakerModelBackend, "delete_endpoint", "1fb59ee16c92c0e8")
def _delete_endpoint(self: SageMakerModelBackend, endpoint_name: str) -> None:
    original(SageMakerModelBackend, "delete_endpoint")(self, endpoint_name)
    with _lock:
        _pending.pop((self.account_id, self.region_name, endpoint_name), None)
    router = endpoints.current()
    if router is not None:
        router.remove((self.account_id, self.region_name, endpoint_name))


# ---- InvokeEndpoint ----------------------------------------------------------------------------
@PATCH.replaces(SageMakerRuntimeResponse, "invoke_endpoint", "5559ed6a5dbe2534")
def _invoke_endpoint(self: SageMakerRuntimeResponse) -> TYPE_RESPONSE:
    body = self.raw_body if isinstance(self.raw_body, bytes) else str(self.raw_body or "").encode()
    if len(body) > MAX_INVOKE_BODY:
        message = (
            "1 validation error detected: Value at 'body' failed to satisfy constraint: Member must have "
            f"length less than or equal to {MAX_INVOKE_BODY} (the request has {len(body)} bytes; send fewer "
            "rows per request, or use batch transform or asynchronous inference for larger payloads)"
        )
        return (
            400,
            {"status": "400", "x-amzn-ErrorType": "ValidationError", "Content-Type": "application/json"},
            json.dumps({"message": message}),
        )
    router = endpoints.current()
    if router is None:  # no hosting worker: moto's canned answers
        if isinstance(self.body, bytes):
            self.body = self.body.decode("utf-8", errors="replace")
        result: TYPE_RESPONSE = original(SageMakerRuntimeResponse, "invoke_endpoint")(self)
        return result
    match = _INVOCATIONS.search(self.path)
    name = unquote(match["name"]) if match else str(self._get_param("EndpointName"))
    key = (self.current_account, self.region, name)
    h = self.headers
    try:
        answer = router.invoke(
            key,
            body,
            h.get("Content-Type"),
            h.get("Accept"),
            target_variant=h.get("X-Amzn-SageMaker-Target-Variant"),
            inference_id=h.get("X-Amzn-SageMaker-Inference-Id"),
        )
    except endpoints.InvokeError as exc:
        message = exc.message
        if exc.code == "ValidationError" and router.table(key) is None:
            status = endpoint_status(*key)
            if status is not None and status != "InService":
                message = f"Endpoint {name} of account {key[0]} is {status}, not InService."
        body = json.dumps({"message": message, **exc.fields})
        return (
            exc.status,
            {"status": str(exc.status), "x-amzn-ErrorType": exc.code, "Content-Type": "application/json"},
            body,
        )
    return 200, answer.headers(), answer.body


# ---- endpoint state, as the hosting worker reports it -----------------------------------------
def _backend(account_id: str, region: str) -> SageMakerModelBackend:
    return sagemaker_backends[account_id][region]


def _now() -> datetime:
    return datetime.now(UTC)


def endpoint_status(account_id: str, region: str, endpoint_name: str) -> str | None:
    endpoint = _backend(account_id, region).endpoints.get(endpoint_name)
    return None if endpoint is None else str(endpoint.endpoint_status)


def pending_start(account_id: str, region: str, endpoint_name: str) -> datetime:
    """When the running update started (its PendingDeploymentSummary's StartTime)."""
    endpoint = _backend(account_id, region).endpoints.get(endpoint_name)
    summary = getattr(endpoint, "pending_deployment_summary", None) or {}
    start = summary.get("StartTime")
    return start if isinstance(start, datetime) else _now()


def endpoint_config(
    account_id: str, region: str, config_name: str
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """(ProductionVariants, DataCaptureConfig) of an endpoint config."""
    config = _backend(account_id, region).endpoint_configs.get(config_name)
    if config is None:
        raise KeyError(f"no endpoint config {config_name}")
    return [dict(v) for v in config.production_variants], dict(config.data_capture_config or {})


def variant_summary(
    variant: Mapping[str, Any], *, current_instances: int, current_weight: float
) -> dict[str, Any]:
    desired_weight = float(variant.get("InitialVariantWeight", 1.0))
    return {
        "VariantName": variant["VariantName"],
        "CurrentWeight": current_weight,
        "DesiredWeight": desired_weight,
        "CurrentInstanceCount": current_instances,
        "DesiredInstanceCount": int(variant.get("InitialInstanceCount") or 1),
    }


def pending_variant(
    variant: Mapping[str, Any],
    *,
    current_instances: int,
    current_weight: float,
    status: str,
    message: str = "",
) -> dict[str, Any]:
    summary = variant_summary(variant, current_instances=current_instances, current_weight=current_weight)
    summary["InstanceType"] = variant.get("InstanceType")
    summary["VariantStatus"] = [{"Status": status, "StatusMessage": message, "StartTime": _now()}]
    return summary


def capture_summary(config: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "EnableCapture": bool(config.get("EnableCapture")),
        "CaptureStatus": "Started" if config.get("EnableCapture") else "Stopped",
        "CurrentSamplingPercentage": int(config.get("InitialSamplingPercentage", 100)),
        "DestinationS3Uri": config.get("DestinationS3Uri"),
        **({"KmsKeyId": config["KmsKeyId"]} if config.get("KmsKeyId") else {}),
    }


def set_endpoint_state(
    account_id: str,
    region: str,
    endpoint_name: str,
    *,
    status: str,
    config_name: str | None = None,
    variants: list[dict[str, Any]] | None = None,
    pending: dict[str, Any] | None = _KEEP,
    failure_reason: str | None = _KEEP,
    capture_config: dict[str, Any] | None = None,
) -> bool:
    """Set what DescribeEndpoint shows; False if the endpoint is gone (deleted meanwhile)."""
    endpoint = _backend(account_id, region).endpoints.get(endpoint_name)
    if endpoint is None:
        return False
    previous = endpoint.endpoint_status
    if config_name is not None:
        endpoint.endpoint_config_name = config_name
    if variants is not None:
        endpoint.production_variants = variants
    if pending is not _KEEP:
        endpoint.pending_deployment_summary = pending
    if failure_reason is not _KEEP:
        endpoint.failure_reason = failure_reason
    if capture_config is not None:
        endpoint.dualloop_capture_config = capture_config
        endpoint.data_capture_config = capture_summary(capture_config) if capture_config else None
    endpoint.endpoint_status = status
    endpoint.last_modified_time = _now()
    if status != "Updating":
        with _lock:
            _pending.pop((account_id, region, endpoint_name), None)
    if status != previous:
        _emit_state_change(account_id, region, endpoint)
    return True


def _emit_state_change(account_id: str, region: str, endpoint: FakeEndpoint) -> None:
    def millis(t: Any) -> int | None:
        return int(t.replace(tzinfo=t.tzinfo or UTC).timestamp() * 1000) if isinstance(t, datetime) else None

    events.emit(
        "aws.sagemaker",
        events.ENDPOINT_STATE,
        {
            "EndpointName": endpoint.endpoint_name,
            "EndpointArn": endpoint.arn,
            "EndpointConfigName": endpoint.endpoint_config_name,
            "ProductionVariants": endpoint.production_variants,
            "EndpointStatus": re.sub(r"(?<!^)(?=[A-Z])", "_", str(endpoint.endpoint_status)).upper(),
            "CreationTime": millis(endpoint.creation_time),
            "LastModifiedTime": millis(endpoint.last_modified_time),
            "Tags": {t["Key"]: t["Value"] for t in endpoint.tags if "Key" in t},
        },
        resources=[endpoint.arn],
        account_id=account_id,
        region=region,
    )


# ---- apply -----------------------------------------------------------------------------------
def apply() -> None:
    # Bodies stay bytes (self.raw_body is always there; moto would decode self.body as UTF-8
    # and fail on a binary payload before our handler runs).
    SageMakerRuntimeResponse.use_raw_body = True

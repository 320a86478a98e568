"""Trigger: the drift alarm entered ALARM → start a retrain that says which features drifted.

Triggered by the ``CloudWatch Alarm State Change`` rule of the project's drift alarm. Reads
the newest drift report of the alarm's endpoint (``s3://<artifact bucket>/drift/<endpoint>/
<yyyymmddThhmmssZ>.json``, written by the drift job before it publishes ``MaxDrift``) and
starts the state machine with ``RetrainInput(trigger="drift", reason={alarm, why, features,
scores, report_uri})``; configuration comes from the ``DUALLOOP_*`` environment, as for the
drift job.

The event is only a claim: the alarm's state is read with DescribeAlarms (``facts``), and
an ALARM CloudWatch does not confirm (forged, or stale: the alarm is back to OK) starts
nothing; the reason passed on is CloudWatch's ``StateReason``, not the event's.

Idempotent: the execution is named after the alarm transition (its state timestamp), so a
duplicate delivery of the same event (EventBridge delivers at least once) either gets the
running execution back (same name, same input) or ``ExecutionAlreadyExists``, and starts
nothing. A second transition while a retrain runs starts an execution that the state
machine's lock ends as ``AlreadyRunning``.

The report is read as JSON with the few fields used here, not through
``outer_orchestrator.drift.report``: the relays' code asset (handlers + shared) ships this
handler, and the drift package stays with the drift job's asset.
"""

from __future__ import annotations

import hashlib
import re
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger
from botocore.exceptions import ClientError
from pydantic import BaseModel, ConfigDict

from outer_orchestrator.handlers import facts
from outer_orchestrator.handlers.clients import Clients
from outer_orchestrator.handlers.events import AlarmStateChange, parse
from shared.config import DualloopConfig, load_config
from shared.contracts import RetrainInput
from shared.naming import Names

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

logger = Logger(service="dualloop-drift-trigger")

# What the drift job writes and publishes (outer_orchestrator/drift/job.py).
REPORT_PREFIX = "drift/"
ENDPOINT_DIMENSION = "Endpoint"


def function_name(names: Names) -> str:
    """The function's name, for the local stack and the CDK construct alike."""
    return f"{names.base}-drift-trigger"


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)


def alarm_endpoint(alarm: AlarmStateChange) -> str | None:
    """The ``Endpoint`` dimension of the alarm's metric, if it has one."""
    for metric in alarm.configuration.get("metrics") or ():
        dimensions = ((metric.get("metricStat") or {}).get("metric") or {}).get("dimensions") or {}
        if ENDPOINT_DIMENSION in dimensions:
            return str(dimensions[ENDPOINT_DIMENSION])
    return None


class ReportFeature(_Frozen):
    name: str
    score: float | None = None
    drifted: bool = False


class ReportSummary(_Frozen):
    """The fields of a drift report this trigger passes on."""

    endpoint: str
    max_score: float | None = None
    drifted_features: tuple[str, ...] = ()
    features: tuple[ReportFeature, ...] = ()


# Resolve the annotations (strings, under `from __future__ import annotations`) against this
# module's namespace, not sys.modules: a loader may run the module without registering it.
ReportSummary.model_rebuild(_types_namespace=globals())


def execution_name(alarm_name: str, state_timestamp: str) -> str:
    """One name per alarm transition: the same event delivered twice names the same execution."""
    stamp = re.sub(r"[^0-9A-Za-z]", "", state_timestamp)[:40]
    digest = hashlib.sha256(alarm_name.encode()).hexdigest()[:8]
    return f"drift-{stamp}-{digest}"  # <= 80 characters of [0-9A-Za-z_-]


def handler(
    event: dict[str, Any], context: Any, *, clients: Clients | None = None, cfg: DualloopConfig | None = None
) -> dict[str, Any]:
    detail = parse(AlarmStateChange, event).detail
    cfg = cfg or load_config()
    names = Names(cfg)
    if detail.alarm_name != names.drift_alarm:
        return _skip("another alarm", detail.alarm_name)
    if detail.state.value != "ALARM":
        return _skip(f"the alarm is {detail.state.value}", detail.alarm_name)
    claim = facts.Claim("alarm", detail.alarm_name, names.drift_alarm, "ALARM")
    clients = clients or Clients(cfg.region)
    reader = clients.cloudwatch
    fact = facts.establish(claim, lambda name: facts.read_alarm(reader, name), logger)
    if fact is None:
        return _skip("not confirmed by CloudWatch", detail.alarm_name)
    endpoint = alarm_endpoint(detail) or names.endpoint
    found = latest_report(clients.s3, names.artifact_bucket, endpoint)
    if found is None:
        # The alarm says drift; a retrain is still the answer, without the details.
        logger.warning("no drift report found", extra={"endpoint": endpoint})
        report_uri, features, scores = None, [], {}
    else:
        report_uri, report = found
        features = list(report.drifted_features)
        scores = {f.name: f.score for f in report.features if f.drifted and f.score is not None}
    retrain = RetrainInput.for_config(
        cfg,
        trigger="drift",
        raw_uri=None,
        alarm=detail.alarm_name,
        why=fact.described.get("StateReason"),
        features=features,
        scores=scores,
        report_uri=report_uri,
    )
    name = execution_name(detail.alarm_name, detail.state.timestamp)
    try:
        arn = clients.sfn.start_execution(
            stateMachineArn=names.state_machine_arn, name=name, input=retrain.model_dump_json()
        )["executionArn"]
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "ExecutionAlreadyExists":
            raise
        # A repeated delivery after the first execution ended (or after a newer report).
        return _skip("this alarm transition already started a retrain", name)
    logger.info(
        "started a drift retrain",
        extra={"execution_arn": arn, "features": features, "report_uri": report_uri},
    )
    return {"started": True, "execution_arn": arn, "features": features, "report_uri": report_uri}


def latest_report(s3: S3Client, bucket: str, endpoint: str) -> tuple[str, ReportSummary] | None:
    """The newest report of ``endpoint`` (keys sort by window end) and its URI, or None."""
    newest: str | None = None
    for page in s3.get_paginator("list_objects_v2").paginate(
        Bucket=bucket, Prefix=f"{REPORT_PREFIX}{endpoint}/"
    ):
        for item in page.get("Contents", []):
            if item["Key"].endswith(".json") and (newest is None or item["Key"] > newest):
                newest = item["Key"]
    if newest is None:
        return None
    body = s3.get_object(Bucket=bucket, Key=newest)["Body"].read()
    return f"s3://{bucket}/{newest}", ReportSummary.model_validate_json(body)


def _skip(why: str, what: str) -> dict[str, Any]:
    logger.info("ignored event", extra={"why": why, "what": what})
    return {"started": False, "ignored": why}

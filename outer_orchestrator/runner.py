"""Start a retrain and follow it: outer states, inner steps, the approval, the outcome.

Used by ``dualloop run`` against the local cloud or AWS alike: it only calls Step
Functions, SageMaker and S3 APIs. Progress goes to a callback, so the CLI decides how
to show it (rich lines, or nothing with ``--json``).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import boto3

from outer_orchestrator import approvals
from shared.config import DualloopConfig
from shared.contracts import RetrainInput, Trigger
from shared.data_upload import upload
from shared.naming import Names
from shared.target import Target

ApprovePolicy = Literal["auto", "prompt", "wait"]
Progress = Callable[[str, dict[str, Any]], None]

# How often a follower reads the execution. Step Functions throttles GetExecutionHistory per
# account and Region (a bucket of 250 calls refilled at 5 a second, "Quotas related to API
# action throttling"), shared with every other client: on AWS a follower polls every 2 s; the
# local cloud answers in milliseconds and its time runs 100 times faster.
POLL_SECONDS = {"aws": 2.0, "local": 0.1}


def poll_seconds(target: Target) -> float:
    return POLL_SECONDS["aws" if target.is_aws else "local"]


@dataclass
class RunResult:
    execution_arn: str
    status: str
    error: str | None = None
    cause: str | None = None
    states: list[dict[str, Any]] = field(default_factory=list)
    inner_steps: list[dict[str, Any]] = field(default_factory=list)
    quality: dict[str, Any] | None = None
    model_package_arn: str | None = None
    approval: str | None = None
    current_state: str | None = None
    state_transitions: int = 0
    polling_transitions: int = 0
    seconds: float = 0.0
    output: dict[str, Any] | None = None

    def as_dict(self) -> dict[str, Any]:
        return self.__dict__.copy()


def upload_data(cfg: DualloopConfig, source: Path, run_id: str, s3: Any = None) -> str:
    """Copy a local file or folder of raw data to the raw bucket; returns its S3 URI.

    It goes under ``manual/<run id>/``, outside the watched raw prefix, so an explicit
    run does not also fire the new-data trigger.
    """
    return upload(source, Names(cfg).raw_bucket, f"manual/{run_id}/", s3 or boto3.client("s3"))


def _state_name(event: dict[str, Any]) -> str | None:
    details = event.get("stateExitedEventDetails") or event.get("stateEnteredEventDetails") or {}
    name = details.get("name")
    return str(name) if name else None


class Retrain:
    """One outer-loop execution, followed until it ends."""

    POLLING_STATES = frozenset({"WaitForEndpoint", "DescribeEndpoint", "EndpointSettled", "CountPoll"})
    # From asking for the endpoint until the polling settles: the traffic split is worth showing.
    DEPLOYING_STATES = frozenset({"CreateEndpoint", "UpdateEndpoint", "StartPolling"}) | POLLING_STATES

    def __init__(self, cfg: DualloopConfig, session: boto3.Session | None = None) -> None:
        self.cfg = cfg
        self.names = Names(cfg)
        session = session or boto3.Session(region_name=cfg.region)
        self.sfn = session.client("stepfunctions")
        self.sagemaker = session.client("sagemaker")
        self.s3 = session.client("s3")

    def start(self, raw_uri: str, trigger: Trigger = "manual", name: str | None = None, **reason: Any) -> str:
        payload = RetrainInput.for_config(self.cfg, trigger=trigger, raw_uri=raw_uri, **reason)
        params: dict[str, Any] = {
            "stateMachineArn": self.names.state_machine_arn,
            "input": payload.model_dump_json(),
        }
        if name:
            params["name"] = name
        arn: str = self.sfn.start_execution(**params)["executionArn"]
        return arn

    def follow(
        self,
        execution_arn: str,
        *,
        approve: ApprovePolicy = "auto",
        progress: Progress | None = None,
        ask: Callable[[str], bool] | None = None,
        timeout: float = 3600,
        poll: float | None = None,
    ) -> RunResult:
        poll = poll_seconds(Target.current()) if poll is None else poll
        report = progress or (lambda kind, data: None)
        started = time.monotonic()
        last_event = 0
        entered: dict[str, float] = {}
        result = RunResult(execution_arn=execution_arn, status="RUNNING")
        inner_seen: dict[str, str] = {}
        last_split: tuple[Any, ...] | None = None
        was_deploying = False
        decided = False
        # Not shared.polling.wait_until: each poll reports progress, may approve and reads the
        # traffic split (state kept across polls); the end of the execution is incidental.
        while True:
            described = self.sfn.describe_execution(executionArn=execution_arn)
            for event in self._events_after(execution_arn, last_event):
                last_event = event["id"]
                if event["type"] == "TaskStateExited" and _state_name(event) == "RunInnerPipeline":
                    # The pipeline's last steps belong before the state that waited for them.
                    self._inner_progress(execution_arn, inner_seen, result, report)
                self._on_event(event, entered, result, report)
            if "RunInnerPipeline" in entered and not any(
                s["name"] == "RunInnerPipeline" for s in result.states
            ):
                self._inner_progress(execution_arn, inner_seen, result, report)
            if "AwaitApproval" in entered and not decided and approve != "wait":
                decided = self._approve(approve, result, report, ask)
            deploying = result.current_state in self.DEPLOYING_STATES
            if deploying or was_deploying:  # and once after: how the deployment ended
                split = self._traffic()
                if split is not None and split["key"] != last_split:
                    last_split = split.pop("key")
                    report("traffic", split)
            was_deploying = deploying
            if described["status"] != "RUNNING":
                break
            if time.monotonic() - started > timeout:
                raise TimeoutError(f"{execution_arn} still running after {timeout:.0f}s")
            time.sleep(poll)
        self._inner_progress(execution_arn, inner_seen, result, report)
        if result.model_package_arn:  # whoever decided (this command, `dualloop reject`, a timeout)
            package = self.sagemaker.describe_model_package(ModelPackageName=result.model_package_arn)
            result.approval = package["ModelApprovalStatus"]
        result.status = described["status"]
        result.error = described.get("error")
        result.cause = described.get("cause")
        if described.get("output"):
            result.output = json.loads(described["output"])
            result.model_package_arn = result.output.get("model_package_arn", result.model_package_arn)
        result.seconds = round(time.monotonic() - started, 2)
        return result

    # ---- internals ----------------------------------------------------------------------
    def _events_after(self, execution_arn: str, last_id: int) -> list[dict[str, Any]]:
        """The history's events after event ``last_id``, oldest first.

        Read newest first in small pages until the last event seen: a poll costs the few
        events that are new, not the whole history (event ids count up from 1)."""
        newer: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {"executionArn": execution_arn, "reverseOrder": True, "maxResults": 25}
        while True:
            page = self.sfn.get_execution_history(**kwargs)
            for event in page["events"]:
                if event["id"] <= last_id:
                    return newer[::-1]
                newer.append(dict(event))
            if not page.get("nextToken"):
                return newer[::-1]
            kwargs["nextToken"] = page["nextToken"]

    def _on_event(
        self, event: dict[str, Any], entered: dict[str, float], result: RunResult, report: Progress
    ) -> None:
        kind = event["type"]
        if kind.endswith("StateEntered"):
            name = event["stateEnteredEventDetails"]["name"]
            entered[name] = event["timestamp"].timestamp()
            result.current_state = name
            result.state_transitions += 1
            if name in self.POLLING_STATES:
                result.polling_transitions += 1
            report("state-entered", {"state": name})
        elif kind.endswith("StateExited"):
            details = event["stateExitedEventDetails"]
            name = details["name"]
            seconds = round(
                event["timestamp"].timestamp() - entered.get(name, event["timestamp"].timestamp()), 3
            )
            state = {"name": name, "seconds": seconds}
            result.states.append(state)
            self._collect(name, details.get("output"), result)
            report("state-exited", state)

    def _collect(self, state: str, output: str | None, result: RunResult) -> None:
        if not output:
            return
        data = json.loads(output)
        if not isinstance(data, dict):
            return
        if state == "ReadQualityReport" and isinstance(data.get("quality"), dict):
            result.quality = data["quality"].get("report")
        if state == "RunInnerPipeline" and isinstance(data.get("pipeline"), dict):
            result.model_package_arn = data["pipeline"].get("model_package_arn")
        if state == "AwaitApproval" and isinstance(data.get("approval"), dict):
            result.approval = data["approval"].get("approval_status")

    def _inner_progress(
        self, execution_arn: str, seen: dict[str, str], result: RunResult, report: Progress
    ) -> None:
        pipeline_execution = self._pipeline_execution(execution_arn.rsplit(":", 1)[-1])
        if pipeline_execution is None:
            return
        try:
            steps = self.sagemaker.list_pipeline_execution_steps(PipelineExecutionArn=pipeline_execution)
        except Exception:  # the pipeline may not be listable yet
            return
        for step in reversed(steps.get("PipelineExecutionSteps", [])):
            name, status = step["StepName"], step["StepStatus"]
            if seen.get(name) == status:
                continue
            seen[name] = status
            info = {
                "step": name,
                "status": status,
                "cache_hit": "CacheHitResult" in step,
                "failure_reason": step.get("FailureReason"),
            }
            if "StartTime" in step and "EndTime" in step:
                info["seconds"] = round((step["EndTime"] - step["StartTime"]).total_seconds(), 2)
            result.inner_steps = [s for s in result.inner_steps if s["step"] != name] + [info]
            report("inner-step", info)

    def _traffic(self) -> dict[str, Any] | None:
        """The endpoint's split between the serving fleet (blue) and the one being deployed (green).

        Read from DescribeEndpoint: ``ProductionVariants`` serve now; during a blue/green update
        ``PendingDeploymentSummary`` holds the new fleet, its status (Creating, ActivatingTraffic,
        Baking, ...) and its ``CurrentWeight`` of its ``DesiredWeight``, i.e. green's share.
        """
        try:
            endpoint = self.sagemaker.describe_endpoint(EndpointName=self.names.endpoint)
        except self.sagemaker.exceptions.ClientError:
            return None  # not created yet
        pending = endpoint.get("PendingDeploymentSummary") or {}
        fleets = []
        green_share = 0.0
        for variant in pending.get("ProductionVariants", []):
            desired = float(variant.get("DesiredWeight") or 0) or 1.0
            green_share = max(green_share, float(variant.get("CurrentWeight") or 0) / desired)
            steps = variant.get("VariantStatus") or []
            fleets.append(
                {
                    "fleet": "green",
                    "config": pending.get("EndpointConfigName"),
                    "variant": variant.get("VariantName"),
                    "share": round(green_share, 4),
                    "status": steps[-1]["Status"] if steps else "",
                }
            )
        serving = endpoint.get("EndpointConfigName")
        creating = endpoint["EndpointStatus"] == "Creating"  # a first fleet, no traffic yet
        if endpoint.get("ProductionVariants") or creating:
            variants = endpoint.get("ProductionVariants") or []
            fleets.insert(
                0,
                {
                    "fleet": "blue" if pending else "green" if creating else "serving",
                    "config": serving,
                    "variant": variants[0]["VariantName"] if variants else None,
                    "share": 0.0 if creating else round(1.0 - green_share, 4),
                    "status": "serving" if pending else endpoint["EndpointStatus"],
                },
            )
        key = (
            endpoint["EndpointStatus"],
            serving,
            tuple((f["config"], f["share"], f["status"]) for f in fleets),
        )
        return {
            "key": key,
            "endpoint": self.names.endpoint,
            "status": endpoint["EndpointStatus"],
            "fleets": fleets,
            "failure_reason": endpoint.get("FailureReason"),
        }

    def _pipeline_execution(self, display_name: str) -> str | None:
        try:
            summaries = self.sagemaker.list_pipeline_executions(PipelineName=self.names.pipeline).get(
                "PipelineExecutionSummaries", []
            )
        except self.sagemaker.exceptions.ClientError:
            return None  # no pipeline (yet): nothing to show
        for summary in summaries:
            if summary.get("PipelineExecutionDisplayName") == display_name:
                arn: str = summary["PipelineExecutionArn"]
                return arn
        return None

    def _approve(
        self, policy: ApprovePolicy, result: RunResult, report: Progress, ask: Callable[[str], bool] | None
    ) -> bool:
        arn = result.model_package_arn
        if not arn:
            return False
        status = self.sagemaker.describe_model_package(ModelPackageName=arn)["ModelApprovalStatus"]
        if status != "PendingManualApproval":
            return True
        if policy == "auto":
            reason = "demo policy: approved automatically because it passed the pipeline's quality gate"
            approvals.decide(self.sagemaker, arn, "Approved", reason)
            report("approval", {"model_package_arn": arn, "decision": "Approved", "by": "auto"})
            return True
        approved = bool(ask and ask(arn))
        approvals.decide(
            self.sagemaker, arn, "Approved" if approved else "Rejected", "decided at the dualloop prompt"
        )
        report(
            "approval",
            {"model_package_arn": arn, "decision": "Approved" if approved else "Rejected", "by": "prompt"},
        )
        return True

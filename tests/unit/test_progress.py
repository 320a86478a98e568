"""What a person sees of a retrain: progress lines, the traffic split, condensed causes."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime
from typing import Any

from rich.console import Console

from outer_orchestrator.cli import short_cause
from outer_orchestrator.demo import stages
from outer_orchestrator.progress import LiveProgress, traffic_line
from outer_orchestrator.runner import Retrain, RunResult

EVENTS: list[tuple[str, dict[str, Any]]] = [
    ("state-entered", {"state": "Ingest"}),
    ("state-exited", {"name": "Ingest", "seconds": 3.5}),
    ("inner-step", {"step": "Train", "status": "Executing", "cache_hit": False, "failure_reason": None}),
    (
        "inner-step",
        {"step": "Train", "status": "Succeeded", "cache_hit": True, "failure_reason": None, "seconds": 0.2},
    ),
    (
        "inner-step",
        {"step": "CheckQuality", "status": "Failed", "cache_hit": False, "failure_reason": "auc 0.61 < 0.75"},
    ),
    ("state-entered", {"state": "UpdateEndpoint"}),
    ("state-exited", {"name": "UpdateEndpoint", "seconds": 0.1}),
    ("state-entered", {"state": "WaitForEndpoint"}),
    (
        "traffic",
        {
            "endpoint": "ep",
            "status": "Updating",
            "fleets": [
                {"fleet": "blue", "config": "cfg-1", "share": 0.9, "status": "serving"},
                {"fleet": "green", "config": "cfg-2", "share": 0.1, "status": "Baking"},
            ],
        },
    ),
    ("state-exited", {"name": "WaitForEndpoint", "seconds": 1.0}),
    ("state-entered", {"state": "MarkDeployed"}),
    ("state-exited", {"name": "MarkDeployed", "seconds": 0.02}),
    ("approval", {"model_package_arn": "arn:pkg/3", "decision": "Approved", "by": "auto"}),
]


def _render(terminal: bool) -> str:
    out = io.StringIO()
    console = Console(file=out, force_terminal=terminal, width=200, color_system=None)
    with LiveProgress(console) as progress:
        for kind, data in EVENTS:
            progress(kind, data)
    return out.getvalue()


def test_off_a_terminal_only_permanent_lines_are_printed() -> None:
    lines = [line.rstrip() for line in _render(terminal=False).splitlines()]
    assert lines == [
        "  outer Ingest                              3.50s",
        "    inner Train                      Succeeded (cache hit) 0.20s",
        "    inner CheckQuality               Failed",
        "      auc 0.61 < 0.75",
        "  outer UpdateEndpoint                      0.10s",
        "  traffic ep Updating: blue 90% cfg-1 (serving) · green 10% cfg-2 (Baking)",
        "  outer MarkDeployed                        0.02s",
        "  approval Approved (auto) arn:pkg/3",
    ]


def test_on_a_terminal_the_same_lines_survive_the_spinners() -> None:
    rendered = _render(terminal=True)
    for line in ("outer Ingest", "inner Train", "green 10% cfg-2 (Baking)", "approval Approved"):
        assert line in rendered


def test_a_failure_reason_with_brackets_is_printed_verbatim() -> None:
    out = io.StringIO()
    progress = LiveProgress(Console(file=out, force_terminal=False, width=200))
    progress("inner-step", {"step": "Train", "status": "Failed", "failure_reason": "bad [value] in row 3"})
    assert "bad [value] in row 3" in out.getvalue()


def test_traffic_line_names_the_failure_reason() -> None:
    line = traffic_line(
        {
            "endpoint": "ep",
            "status": "InService",
            "fleets": [{"fleet": "serving", "config": "cfg-1", "share": 1.0, "status": "InService"}],
            "failure_reason": "rolled back: alarm ep-5xx went to ALARM",
        }
    )
    assert line == "ep InService: serving 100% cfg-1 (InService) — rolled back: alarm ep-5xx went to ALARM"


class _Endpoint:
    """DescribeEndpoint answers in the order given; 'missing' raises like SageMaker."""

    class exceptions:  # noqa: N801 - boto3's spelling
        ClientError = RuntimeError

    def __init__(self, *answers: dict[str, Any] | str) -> None:
        self.answers = list(answers)

    def describe_endpoint(self, EndpointName: str) -> dict[str, Any]:  # noqa: N803
        answer = self.answers.pop(0)
        if answer == "missing":
            raise RuntimeError("Could not find endpoint")
        assert isinstance(answer, dict)
        return answer


def _retrain(client: _Endpoint) -> Retrain:
    retrain = Retrain.__new__(Retrain)
    retrain.names = type("N", (), {"endpoint": "ep"})()  # type: ignore[assignment]
    retrain.sagemaker = client  # type: ignore[assignment]
    return retrain


def test_traffic_split_during_a_canary_bake() -> None:
    client = _Endpoint(
        "missing",
        {"EndpointStatus": "Creating", "EndpointConfigName": "cfg-1"},
        {
            "EndpointStatus": "Updating",
            "EndpointConfigName": "cfg-1",
            "ProductionVariants": [{"VariantName": "AllTraffic", "CurrentWeight": 1.0}],
            "PendingDeploymentSummary": {
                "EndpointConfigName": "cfg-2",
                "StartTime": datetime.now(UTC),
                "ProductionVariants": [
                    {
                        "VariantName": "AllTraffic",
                        "CurrentWeight": 0.1,
                        "DesiredWeight": 1.0,
                        "VariantStatus": [{"Status": "Baking"}],
                    }
                ],
            },
        },
    )
    retrain = _retrain(client)
    assert retrain._traffic() is None  # not created yet
    creating = retrain._traffic()
    assert creating is not None
    assert [(f["fleet"], f["share"], f["status"]) for f in creating["fleets"]] == [("green", 0.0, "Creating")]
    baking = retrain._traffic()
    assert baking is not None
    assert [(f["fleet"], f["config"], f["share"], f["status"]) for f in baking["fleets"]] == [
        ("blue", "cfg-1", 0.9, "serving"),
        ("green", "cfg-2", 0.1, "Baking"),
    ]


def test_a_glue_run_s_whole_response_is_condensed_to_its_message() -> None:
    run = {"Id": "jr_1", "JobName": "dualloop-dev-ingest", "Arguments": {"--schema": "x" * 5000}}
    run["ErrorMessage"] = "AnalysisException: [PATH_NOT_FOUND] Path does not exist: s3://raw/x"
    cause = "States.TaskFailed: " + json.dumps(run)
    assert short_cause(cause) == (
        "States.TaskFailed: dualloop-dev-ingest: AnalysisException: [PATH_NOT_FOUND] Path does not exist: s3://raw/x"
    )


def test_plain_and_long_causes() -> None:
    assert short_cause(None) == ""
    assert short_cause("auc 0.61 is below 0.75") == "auc 0.61 is below 0.75"
    long = short_cause("x" * 5000)
    assert len(long) < 700 and long.endswith("…")
    lambda_error = json.dumps({"errorMessage": "no token", "errorType": "KeyError"})
    assert short_cause(lambda_error) == "KeyError: no token"


def test_stages_sum_the_states_a_reader_groups() -> None:
    result = RunResult(execution_arn="arn", status="SUCCEEDED")
    result.states = [
        {"name": "Ingest", "seconds": 10.0},
        {"name": "DataQuality", "seconds": 3.0},
        {"name": "ReadQualityReport", "seconds": 0.5},
        {"name": "RunInnerPipeline", "seconds": 6.0},
        {"name": "WaitForEndpoint", "seconds": 1.0},
        {"name": "DescribeEndpoint", "seconds": 0.25},
        {"name": "WaitForEndpoint", "seconds": 1.0},
    ]
    totals = stages(result)
    assert totals["ingest (Glue; includes Spark's start)"] == 10.0
    assert totals["data quality (Glue, DQDL)"] == 3.5
    assert totals["inner pipeline (SageMaker Pipeline)"] == 6.0
    assert totals["deployment (blue/green)"] == 2.25


def test_a_follower_polls_aws_within_step_functions_history_quota_and_the_local_cloud_at_once() -> None:
    from outer_orchestrator.runner import poll_seconds
    from shared.target import Target

    # GetExecutionHistory refills 5 calls a second per account and Region, shared with every
    # other client: a follower takes at most one history read in 2 s there.
    assert poll_seconds(Target(aws=True, account_id="123456789012", region="eu-west-1")) >= 2.0
    assert poll_seconds(Target(endpoint_url="http://127.0.0.1:4566")) <= 0.1

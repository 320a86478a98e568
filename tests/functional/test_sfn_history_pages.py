"""GetExecutionHistory pages as on AWS: ``maxResults`` (default 100, at most 1,000),
``nextToken``, ``reverseOrder`` and ``includeExecutionData``.

Why it matters: a client that reads only the first page would pass on a local cloud that
answers with everything and miss events on AWS once an execution passes 100 of them; and the
CLI's progress reads only the newest events on each poll.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from wait_support import execution_ended

from shared.local_cloud import LocalCloud

PASSES = 60  # each Pass state adds an entered and an exited event: 122 events in all


@pytest.fixture(scope="module")
def execution(local_cloud: LocalCloud) -> str:
    sfn = boto3.client("stepfunctions")
    states: dict[str, Any] = {
        f"P{i}": {"Type": "Pass", "Result": {"step": i}, "ResultPath": f"$.p{i}", "Next": f"P{i + 1}"}
        for i in range(PASSES)
    }
    states[f"P{PASSES - 1}"].pop("Next")
    states[f"P{PASSES - 1}"]["End"] = True
    machine = sfn.create_state_machine(
        name=f"pages-{uuid.uuid4().hex[:8]}",
        definition=json.dumps({"StartAt": "P0", "States": states}),
        roleArn="arn:aws:iam::123456789012:role/local-test",
    )["stateMachineArn"]
    arn: str = sfn.start_execution(stateMachineArn=machine, input=json.dumps({"secret": "x"}))["executionArn"]
    execution_ended(arn, timeout=60)
    return arn


def _all(arn: str, **kwargs: Any) -> list[dict[str, Any]]:
    sfn, events, token = boto3.client("stepfunctions"), [], None
    while True:
        page = sfn.get_execution_history(
            executionArn=arn, **kwargs, **({"nextToken": token} if token else {})
        )
        events += page["events"]
        token = page.get("nextToken")
        if not token:
            return events


def test_the_first_page_holds_100_events_and_a_token_for_the_rest(execution: str) -> None:
    page = boto3.client("stepfunctions").get_execution_history(executionArn=execution)
    assert len(page["events"]) == 100
    assert page["nextToken"]
    everything = _all(execution)
    assert [e["id"] for e in everything] == list(range(1, len(everything) + 1))
    assert len(everything) == 2 * PASSES + 2  # started, entered and exited per state, succeeded
    assert everything[-1]["type"] == "ExecutionSucceeded"


def test_reverse_order_pages_newest_first_and_covers_the_same_events(execution: str) -> None:
    forward = _all(execution, maxResults=1000)
    backward = _all(execution, reverseOrder=True, maxResults=7)
    assert [e["id"] for e in backward] == [e["id"] for e in reversed(forward)]


def test_without_execution_data_no_input_or_output_is_returned(execution: str) -> None:
    events = _all(execution, includeExecutionData=False, maxResults=1000)
    started = next(e for e in events if e["type"] == "ExecutionStarted")
    assert "input" not in started["executionStartedEventDetails"]
    assert not any("output" in d for e in events for k, d in e.items() if k.endswith("EventDetails"))
    with_data = _all(execution, maxResults=1000)
    assert json.loads(with_data[0]["executionStartedEventDetails"]["input"]) == {"secret": "x"}


def test_a_token_used_with_other_arguments_is_invalid(execution: str) -> None:
    sfn = boto3.client("stepfunctions")
    token = sfn.get_execution_history(executionArn=execution, maxResults=10)["nextToken"]
    with pytest.raises(ClientError) as refused:
        sfn.get_execution_history(executionArn=execution, reverseOrder=True, nextToken=token)
    assert refused.value.response["Error"]["Code"] == "InvalidToken"
    with pytest.raises(ClientError) as refused:
        sfn.get_execution_history(executionArn=execution, maxResults=1001)
    assert refused.value.response["Error"]["Code"] == "ValidationException"

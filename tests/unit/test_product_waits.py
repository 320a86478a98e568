"""The product's waits (shared.polling.wait_until underneath) keep what their users see.

What this proves: following a pipeline execution reports each step change once, returns the
final status and steps, and past its timeout exits 1 naming the execution and its last status;
a model server's health wait returns on the first 200 from /ping, fails at once naming the exit
status of a server that died, and past its timeout names /ping. What it does not: the real
pipeline or server (tests/functional/test_inner_cli.py, test_hosting.py).
"""

from __future__ import annotations

import time
from typing import Any

import pytest
import typer

from inner_pipeline.cli import follow
from shared.local_cloud.hosting.model_server import ModelServerProcess, ServerFailed

ARN = "arn:aws:sagemaker:us-east-1:123456789012:pipeline/p/execution/e1"


class FakeSageMaker:
    """Answers DescribePipelineExecution and ListPipelineExecutionSteps from a script: one
    (status, {step: step status}) per poll, the last one repeated."""

    def __init__(self, polls: list[tuple[str, dict[str, str]]]) -> None:
        self.polls = polls
        self.calls = 0

    def describe_pipeline_execution(self, PipelineExecutionArn: str) -> dict[str, Any]:  # noqa: N803
        assert PipelineExecutionArn == ARN
        self.calls += 1
        return {"PipelineExecutionStatus": self.polls[min(self.calls - 1, len(self.polls) - 1)][0]}

    def get_paginator(self, name: str) -> FakeSageMaker:
        assert name == "list_pipeline_execution_steps"
        return self

    def paginate(self, **_: Any) -> list[dict[str, Any]]:
        steps = self.polls[min(self.calls - 1, len(self.polls) - 1)][1]
        return [{"PipelineExecutionSteps": [{"StepName": n, "StepStatus": s} for n, s in steps.items()]}]


def test_following_reports_each_step_change_once_and_returns_the_final_status() -> None:
    # GIVEN an execution whose steps move on over four polls
    sagemaker = FakeSageMaker(
        [
            ("Executing", {"Train": "Executing"}),
            ("Executing", {"Train": "Executing"}),
            ("Executing", {"Train": "Succeeded", "Evaluate": "Executing"}),
            ("Succeeded", {"Train": "Succeeded", "Evaluate": "Succeeded"}),
        ]
    )
    seen: list[tuple[str, str]] = []
    # WHEN it is followed
    status, steps = follow(
        sagemaker,  # type: ignore[arg-type]
        ARN,
        poll_seconds=0,
        timeout_seconds=5,
        on_step=lambda info: seen.append((info["name"], info["status"])),
    )
    # THEN every change was reported once, and the final status and steps come back
    assert status == "Succeeded"
    assert [s["status"] for s in steps] == ["Succeeded", "Succeeded"]
    assert seen == [
        ("Train", "Executing"),
        ("Train", "Succeeded"),
        ("Evaluate", "Executing"),
        ("Evaluate", "Succeeded"),
    ]
    assert sagemaker.calls == 4


def test_following_past_the_timeout_exits_1_naming_the_execution_and_its_status(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # GIVEN an execution that never ends
    sagemaker = FakeSageMaker([("Executing", {"Train": "Executing"})])
    # WHEN it is followed for 0.1 s
    with pytest.raises(typer.Exit) as exit_:
        follow(sagemaker, ARN, poll_seconds=0.01, timeout_seconds=0.1)  # type: ignore[arg-type]
    # THEN the command exits 1 with one sentence naming it and how it still stood
    assert exit_.value.exit_code == 1
    assert " ".join(capsys.readouterr().err.split()) == f"{ARN} still Executing after 0.1 s"
    assert sagemaker.calls > 2  # it kept polling until the deadline


class FakeProcess:
    def __init__(self, returncode: int | None) -> None:
        self.returncode = returncode

    def poll(self) -> int | None:
        return self.returncode


def _server(returncode: int | None, answers: list[bool]) -> ModelServerProcess:
    server = ModelServerProcess(model_dir=None, code_dir=None, _proc=FakeProcess(returncode))  # type: ignore[arg-type]
    replies = iter(answers)
    server.ping = lambda timeout=2.0: next(replies, answers[-1])  # type: ignore[method-assign]
    return server


def test_the_health_wait_returns_on_the_first_200() -> None:
    server = _server(None, [False, False, True])
    started = time.monotonic()
    server.wait_healthy(timeout=5)
    assert time.monotonic() - started < 1


def test_the_health_wait_fails_at_once_naming_the_exit_status_of_a_dead_server() -> None:
    with pytest.raises(ServerFailed, match=r"^the model server exited with status 3: $"):
        _server(3, [False]).wait_healthy(timeout=5)


def test_the_health_wait_past_its_timeout_names_ping() -> None:
    started = time.monotonic()
    with pytest.raises(ServerFailed, match=r"^the model server did not answer /ping within 0 s$"):
        _server(None, [False]).wait_healthy(timeout=0.2)
    assert 0.2 <= time.monotonic() - started < 2

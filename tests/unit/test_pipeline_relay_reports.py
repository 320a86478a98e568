"""The pipeline relay and a user's own pipeline: a registered package whose evaluation report the
outer loop cannot use fails the retrain with one sentence naming the report and where it must be,
instead of a Lambda error retried until the pipeline check interval runs out."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
from botocore.exceptions import ClientError

from outer_orchestrator.handlers import pipeline_relay
from outer_orchestrator.handlers.clients import Clients

PACKAGE = "arn:aws:sagemaker:us-east-1:123456789012:model-package/group/1"
REPORT = "s3://artifacts/user/reports/evaluation.json"


class FakeSageMaker:
    def get_paginator(self, operation: str) -> Any:
        assert operation == "list_pipeline_execution_steps"
        step = {
            "StepName": "Register",
            "StepStatus": "Succeeded",
            "Metadata": {"RegisterModel": {"Arn": PACKAGE}},
        }
        return type("Paginator", (), {"paginate": lambda self, **kw: [{"PipelineExecutionSteps": [step]}]})()

    def describe_model_package(self, **request: str) -> dict[str, Any]:
        statistics = {"ContentType": "application/json", "S3Uri": REPORT}
        return {"ModelPackageVersion": 1, "ModelMetrics": {"ModelQuality": {"Statistics": statistics}}}


class FakeS3:
    def __init__(self, body: bytes | None = None, error: str | None = None) -> None:
        self.body, self.error = body, error

    def get_object(self, **request: str) -> dict[str, Any]:
        if self.error:
            raise ClientError({"Error": {"Code": self.error, "Message": "denied"}}, "GetObject")
        return {"Body": io.BytesIO(self.body or b"")}


class FakeSfn:
    def __init__(self) -> None:
        self.failures: list[dict[str, str]] = []
        self.successes: list[dict[str, Any]] = []

    def send_task_failure(self, **kwargs: str) -> None:
        self.failures.append(kwargs)

    def send_task_success(self, **request: str) -> None:
        self.successes.append(json.loads(request["output"]))


def _answer(s3: FakeS3) -> FakeSfn:
    sfn = FakeSfn()
    pipeline_relay.answer(
        Clients(sagemaker=FakeSageMaker(), s3=s3, sfn=sfn), "token", "arn:execution", "Succeeded"
    )
    return sfn


def test_a_report_the_relay_may_not_read_fails_the_retrain_naming_where_reports_belong() -> None:
    # GIVEN a package whose report lies outside what the relay's role may read
    # WHEN the pipeline's success is relayed
    sfn = _answer(FakeS3(error="AccessDenied"))

    # THEN the task fails once, with the report's URI, the error and the expected key pattern
    (failure,) = sfn.failures
    assert failure["error"] == "UnusableEvaluationReport"
    assert REPORT in failure["cause"] and "(AccessDenied)" in failure["cause"]
    assert "<artifact prefix>*/evaluation.json" in failure["cause"]
    assert not sfn.successes


def test_a_report_that_is_not_json_fails_the_retrain_saying_so() -> None:
    sfn = _answer(FakeS3(body=b"mse: 12"))

    (failure,) = sfn.failures
    assert failure["error"] == "UnusableEvaluationReport"
    assert "are not an evaluation report" in failure["cause"]


def test_a_throttled_read_is_raised_for_the_events_retry() -> None:
    with pytest.raises(ClientError):
        _answer(FakeS3(error="SlowDown"))


def test_a_readable_report_answers_with_its_metrics() -> None:
    report = {"regression_metrics": {"mse": {"value": 2900.5, "standard_deviation": 40.0}}}

    sfn = _answer(FakeS3(body=json.dumps(report).encode()))

    (output,) = sfn.successes
    assert output["metrics"] == {"mse": 2900.5} and output["model_package_arn"] == PACKAGE

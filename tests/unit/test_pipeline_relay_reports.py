"""The pipeline relay fails the retrain, saying why, when the model's evaluation report is out
of its reach (a data scientist's pipeline writing it elsewhere), instead of failing the event
until it is dead-lettered and the retrain waits for its timeout. Pure: fakes for the clients."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from outer_orchestrator.handlers import pipeline_relay

pytestmark = pytest.mark.unit

PACKAGE = "arn:aws:sagemaker:us-east-1:123456789012:model-package/demo-dev-models/1"
REPORT = "s3://someone-elses-bucket/reports/evaluation.json"


class _Pages:
    def __init__(self, pages: list[dict[str, Any]]) -> None:
        self.pages = pages

    def paginate(self, **_: Any) -> list[dict[str, Any]]:
        return self.pages


class _SageMaker:
    def get_paginator(self, name: str) -> _Pages:
        assert name == "list_pipeline_execution_steps"
        step = {
            "StepName": "RegisterAbalone",
            "StepStatus": "Succeeded",
            "Metadata": {"RegisterModel": {"Arn": PACKAGE}},
        }
        return _Pages([{"PipelineExecutionSteps": [step]}])

    def describe_model_package(self, ModelPackageName: str) -> dict[str, Any]:  # noqa: N803
        return {"ModelPackageVersion": 1, "ModelMetrics": {"ModelQuality": {"Statistics": {"S3Uri": REPORT}}}}


class _S3:
    def __init__(self, code: str) -> None:
        self.code = code

    def get_object(self, **_: Any) -> Any:
        raise ClientError({"Error": {"Code": self.code, "Message": "no"}}, "GetObject")


class _Sfn:
    def __init__(self) -> None:
        self.failures: list[dict[str, str]] = []

    def send_task_failure(self, **kwargs: str) -> None:
        self.failures.append(kwargs)


def test_an_unreadable_evaluation_report_fails_the_retrain_naming_it() -> None:
    # GIVEN a registered package whose report the relay's role may not read
    sfn = _Sfn()
    # WHEN the relay answers the succeeded pipeline
    answered = pipeline_relay.answer(_SageMaker(), _S3("AccessDenied"), sfn, "token", "arn:exec", "Succeeded")  # type: ignore[arg-type]
    # THEN the waiting task fails with the report's URI and where reports must be
    assert answered
    (failure,) = sfn.failures
    assert failure["error"] == "EvaluationReportUnreadable"
    assert REPORT in failure["cause"] and "artifact prefix" in failure["cause"]


def test_a_transient_s3_error_is_raised_for_the_event_to_be_retried() -> None:
    sfn = _Sfn()
    with pytest.raises(ClientError):
        pipeline_relay.answer(_SageMaker(), _S3("SlowDown"), sfn, "token", "arn:exec", "Succeeded")  # type: ignore[arg-type]
    assert sfn.failures == []

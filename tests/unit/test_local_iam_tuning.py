"""The local cloud's IAM for tuning jobs: their ARNs, and tag conditions on what a request tags."""

from __future__ import annotations

import pytest

from shared.local_cloud.iam.policy import CannotEvaluate, Decision, Policy, Request, evaluate
from shared.local_cloud.iam.requests import describe

JOBS = "arn:aws:sagemaker:us-east-1:1:hyper-parameter-tuning-job/*"
TAGGED = Policy.parse(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": "sagemaker:CreateHyperParameterTuningJob",
                "Resource": JOBS,
                "Condition": {"StringEquals": {"aws:RequestTag/dualloop:project": "demo"}},
            }
        ],
    }
)


def _create(**tags: str) -> Request:
    params = {
        "HyperParameterTuningJobName": "Abc-Train-x1",
        "Tags": [{"Key": k, "Value": v} for k, v in tags.items()],
    }
    return describe("sagemaker", "CreateHyperParameterTuningJob", params, "us-east-1", "1")


def test_a_tuning_job_request_names_its_lower_cased_arn_and_its_tags() -> None:
    request = _create(**{"dualloop:project": "demo"})
    assert request.resources == ("arn:aws:sagemaker:us-east-1:1:hyper-parameter-tuning-job/abc-train-x1",)
    assert request.context == {
        "aws:RequestTag/dualloop:project": ["demo"],
        "aws:TagKeys": ["dualloop:project"],
    }
    for op in ("DescribeHyperParameterTuningJob", "StopHyperParameterTuningJob",
               "ListTrainingJobsForHyperParameterTuningJob"):  # fmt: skip
        followed = describe("sagemaker", op, {"HyperParameterTuningJobName": "abc"}, "us-east-1", "1")
        assert followed.resources == ("arn:aws:sagemaker:us-east-1:1:hyper-parameter-tuning-job/abc",)


def test_a_request_tag_condition_allows_the_tag_and_denies_its_absence() -> None:
    assert evaluate([TAGGED], _create(**{"dualloop:project": "demo"})) is Decision.ALLOW
    assert evaluate([TAGGED], _create(**{"dualloop:project": "other"})) is Decision.IMPLICIT_DENY
    # A request whose tags are known but lack the key fails the condition, as on AWS ...
    assert evaluate([TAGGED], _create(owner="x")) is Decision.IMPLICIT_DENY
    assert evaluate([TAGGED], _create()) is Decision.IMPLICIT_DENY


def test_a_request_tag_condition_on_a_request_of_unknown_tags_cannot_be_decided() -> None:
    # ... while a request the local cloud knows no tags for is not guessed at
    policy = Policy.parse(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Action": "sagemaker:DescribeHyperParameterTuningJob",
                    "Resource": JOBS,
                    "Condition": {"StringEquals": {"aws:RequestTag/dualloop:project": "demo"}},
                }
            ],
        }
    )
    request = describe(
        "sagemaker",
        "DescribeHyperParameterTuningJob",
        {"HyperParameterTuningJobName": "abc"},
        "us-east-1",
        "1",
    )
    with pytest.raises(CannotEvaluate, match="aws:RequestTag/dualloop:project"):
        evaluate([policy], request)

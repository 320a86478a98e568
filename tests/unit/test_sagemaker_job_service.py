"""Pure parts of the standalone job service, its moto patch, the SFN integration and the STS proxy."""

from __future__ import annotations

import pytest

from shared.local_cloud.patches.sagemaker_jobs import KINDS, snake_case
from shared.local_cloud.patches.sfn_sagemaker_integration import error_name
from shared.local_cloud.sagemaker.jobs import STEP_TYPES, unsupported_reason
from shared.local_cloud.sts_proxy import is_sts_host


@pytest.mark.parametrize(
    ("pascal", "snake"),
    [
        ("ModelArtifacts", "model_artifacts"),
        ("FinalMetricDataList", "final_metric_data_list"),
        ("BestTrainingJob", "best_training_job"),
        ("TrainingJobStatusCounters", "training_job_status_counters"),
        ("MaxPayloadInMB", "max_payload_in_mb"),
    ],
)
def test_describe_fields_map_to_motos_attribute_names(pascal: str, snake: str) -> None:
    assert snake_case(pascal) == snake


def test_every_job_kind_has_a_step_type_and_an_arn() -> None:
    assert set(KINDS) == set(STEP_TYPES)
    assert (
        KINDS["HyperParameterTuningJob"].arn("123456789012", "us-east-1", "t")
        == "arn:aws:sagemaker:us-east-1:123456789012:hyper-parameter-tuning-job/t"
    )


def test_unsupported_reason_names_the_api_and_what_runs() -> None:
    reason = unsupported_reason("TransformJob", ["Processing", "Training"])
    assert reason == (
        "ClientError: CreateTransformJob is not yet supported locally: the local SageMaker has no "
        "Transform executor (it runs Processing, Training)"
    )


@pytest.mark.parametrize(
    ("code", "name"),
    [
        ("ResourceInUse", "SageMaker.ResourceInUseException"),
        ("ResourceLimitExceeded", "SageMaker.ResourceLimitExceededException"),
        ("ValidationException", "SageMaker.AmazonSageMakerException"),
        ("ThrottlingException", "SageMaker.AmazonSageMakerException"),
    ],
)
def test_create_errors_are_named_as_step_functions_names_them(code: str, name: str) -> None:
    assert error_name(code) == name


@pytest.mark.parametrize(
    ("host", "sts"),
    [
        ("sts.amazonaws.com", True),
        ("sts.us-east-1.amazonaws.com", True),
        ("sts.cn-north-1.amazonaws.com.cn", True),
        ("STS.EU-WEST-1.AMAZONAWS.COM", True),
        ("sts-fips.us-east-1.amazonaws.com", True),
        ("s3.us-east-1.amazonaws.com", False),
        ("sts.us-east-1.amazonaws.com.evil.example", False),
        ("pypi.org", False),
    ],
)
def test_only_sts_hosts_are_answered_by_the_local_cloud(host: str, sts: bool) -> None:
    assert is_sts_host(host) is sts

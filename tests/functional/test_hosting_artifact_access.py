"""Hosting reads a model's artifact as the model's execution role, within one account too.

SageMaker downloads ``ModelDataUrl`` with the role passed to CreateModel; a role that may not
read the object fails the deployment with SageMaker's own FailureReason ("Failed to download
model data for container ..."). Before, only an artifact in another account was read as the
role: within one account the local cloud read it itself, so such an endpoint went InService.
Three endpoints' worth of small models: one role may read the artifact, one may not.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import boto3
import pytest
from hosting_fixture import Registry, model_tarball, train_model
from iam_support import trust
from wait_support import endpoint_settled, wait_until

from shared.local_cloud import LocalCloud
from shared.local_cloud.hosting.artifacts import download_failed


def _role(iam: object, name: str, bucket: str, key: str) -> str:
    """A SageMaker execution role that may read ``s3://bucket/key`` and nothing else of S3."""
    arn: str = iam.create_role(  # type: ignore[attr-defined]
        RoleName=name, AssumeRolePolicyDocument=trust(["sagemaker.amazonaws.com"])
    )["Role"]["Arn"]
    iam.put_role_policy(  # type: ignore[attr-defined]
        RoleName=name,
        PolicyName="read-one-object",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {"Effect": "Allow", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{bucket}/{key}"}
                ],
            }
        ),
    )
    return arn


def _config(registry: Registry, package: str, role: str) -> str:
    name = f"access-{uuid.uuid4().hex[:8]}"
    registry.sagemaker.create_model(
        ModelName=name, ExecutionRoleArn=role, PrimaryContainer={"ModelPackageName": package}
    )
    registry.sagemaker.create_endpoint_config(
        EndpointConfigName=name,
        ProductionVariants=[
            {
                "VariantName": "AllTraffic",
                "ModelName": name,
                "InstanceType": "ml.m5.large",
                "InitialInstanceCount": 1,
            }
        ],
    )
    return name


def test_a_model_whose_role_may_not_read_its_artifact_fails_to_deploy(
    local_cloud: LocalCloud, tmp_path: Path
) -> None:
    # GIVEN a model package whose artifact is in this account, a role that may read it and a
    # role that may read only another object
    sm, iam = boto3.client("sagemaker"), boto3.client("iam")
    registry = Registry.create(boto3.client("s3"), sm)
    key = f"models/{uuid.uuid4().hex[:6]}/model.tar.gz"
    url = registry.upload(key, model_tarball(train_model(tmp_path, rows=300, rounds=5)))
    package = registry.package(url)
    suffix = uuid.uuid4().hex[:6]
    reader = _role(iam, f"artifact-reader-{suffix}", registry.bucket, key)
    stranger = _role(iam, f"artifact-stranger-{suffix}", registry.bucket, "models/other/model.tar.gz")

    # WHEN an endpoint is created from a model with each role
    allowed, denied = f"access-ok-{suffix}", f"access-denied-{suffix}"
    sm.create_endpoint(EndpointName=allowed, EndpointConfigName=_config(registry, package, reader))
    sm.create_endpoint(EndpointName=denied, EndpointConfigName=_config(registry, package, stranger))

    # THEN the reader's serves, and the other fails with SageMaker's reason
    assert endpoint_settled(allowed)["EndpointStatus"] == "InService"
    failed = endpoint_settled(denied)
    assert (failed["EndpointStatus"], failed.get("FailureReason")) == ("Failed", download_failed(url))
    assert 'Failed to download model data for container "container_1" from URL: "s3://' in download_failed(
        url
    )

    # WHEN the serving endpoint is updated to the model the role may not read
    sm.update_endpoint(EndpointName=allowed, EndpointConfigName=_config(registry, package, stranger))

    # THEN the update is rolled back: it keeps serving, and says why
    updated = wait_until(
        lambda: (d := sm.describe_endpoint(EndpointName=allowed))["EndpointStatus"] != "Updating" and d,
        what=f"the update of {allowed}",
        timeout=60,
    )
    assert updated["EndpointStatus"] == "InService"
    assert f"the new fleet could not fetch its model: {download_failed(url)}" in updated["FailureReason"]
    for name in (allowed, denied):
        sm.delete_endpoint(EndpointName=name)


@pytest.fixture(autouse=True)
def _quiet_artifact_warnings(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("ERROR", logger="shared.local_cloud.hosting.artifacts")

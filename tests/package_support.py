"""Model packages for tests about approvals and relays: in a given group, with a given status."""

from __future__ import annotations

import boto3

# Enough for the model registry; nothing here serves the package.
INFERENCE = {
    "Containers": [{"Image": "local/dualloop-inference", "ModelDataUrl": "s3://b/model.tar.gz"}],
    "SupportedContentTypes": ["text/csv"],
    "SupportedResponseMIMETypes": ["application/json"],
}


def package(group: str, status: str = "PendingManualApproval", *, create_group: bool = False) -> str:
    """A new model package in ``group`` (created first if ``create_group``); its ARN."""
    sagemaker = boto3.client("sagemaker")
    if create_group:
        sagemaker.create_model_package_group(ModelPackageGroupName=group)
    arn: str = sagemaker.create_model_package(
        ModelPackageGroupName=group, ModelApprovalStatus=status, InferenceSpecification=INFERENCE
    )["ModelPackageArn"]
    return arn


def decided_packages(group: str) -> dict[str, str]:
    """Create ``group`` with one Approved and one Rejected package; their ARNs by status."""
    boto3.client("sagemaker").create_model_package_group(ModelPackageGroupName=group)
    return {status: package(group, status) for status in ("Approved", "Rejected")}

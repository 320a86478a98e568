"""Model packages for tests about approvals: decided ones, in a project's group."""

from __future__ import annotations

import boto3


def decided_packages(group: str) -> dict[str, str]:
    """Create ``group`` with one Approved and one Rejected package; their ARNs by status."""
    sagemaker = boto3.client("sagemaker")
    sagemaker.create_model_package_group(ModelPackageGroupName=group)
    return {
        status: sagemaker.create_model_package(
            ModelPackageGroupName=group,
            ModelApprovalStatus=status,
            InferenceSpecification={
                "Containers": [{"Image": "local/dualloop-inference", "ModelDataUrl": "s3://b/model.tar.gz"}],
                "SupportedContentTypes": ["text/csv"],
                "SupportedResponseMIMETypes": ["application/json"],
            },
        )["ModelPackageArn"]
        for status in ("Approved", "Rejected")
    }

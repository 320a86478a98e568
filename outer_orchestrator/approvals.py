"""Approve or reject a registered model: the human step of the outer loop.

This only sets the package's approval status, exactly what SageMaker Studio's Model
Registry does; the approval relay hears the resulting event and answers the waiting
retrain. So the same command works against the local cloud and AWS.
"""

from __future__ import annotations

from typing import Any, Literal

from shared.naming import Names


class ApprovalError(RuntimeError):
    pass


def latest_pending(sagemaker: Any, names: Names) -> str:
    """The newest package of the project's group that still awaits a decision."""
    response = sagemaker.list_model_packages(
        ModelPackageGroupName=names.model_package_group,
        ModelApprovalStatus="PendingManualApproval",
        SortBy="CreationTime",
        SortOrder="Descending",
        MaxResults=1,
    )
    packages = response.get("ModelPackageSummaryList", [])
    if not packages:
        raise ApprovalError(
            f"no model package in {names.model_package_group} awaits approval: a retrain registers one "
            "when its model passes the quality gate (`dualloop status` shows the retrains)"
        )
    arn: str = packages[0]["ModelPackageArn"]
    return arn


def decide(
    sagemaker: Any,
    model_package_arn: str,
    decision: Literal["Approved", "Rejected"],
    reason: str | None = None,
) -> None:
    from botocore.exceptions import ClientError

    try:
        current = sagemaker.describe_model_package(ModelPackageName=model_package_arn)["ModelApprovalStatus"]
    except ClientError as exc:
        # SageMaker answers an unknown or malformed ARN with a ValidationException; anything else
        # (credentials, throttling, no cloud) is not about this package and goes up as it is.
        if exc.response.get("Error", {}).get("Code") not in ("ValidationException", "ResourceNotFound"):
            raise
        raise ApprovalError(
            f"no model package {model_package_arn} here: `dualloop status` lists the packages, "
            "or pass --latest for the newest one awaiting approval"
        ) from None
    if current == decision:
        raise ApprovalError(f"{model_package_arn} is already {decision}: nothing to do")
    if current == "Rejected" and decision == "Approved":
        # Approving a package the retrain already gave up on would deploy nothing; say so.
        raise ApprovalError(
            f"{model_package_arn} was rejected and its retrain has stopped: start a new retrain "
            "(`dualloop run`) instead"
        )
    params: dict[str, Any] = {"ModelPackageArn": model_package_arn, "ModelApprovalStatus": decision}
    if reason:
        params["ApprovalDescription"] = reason[:1024]
    sagemaker.update_model_package(**params)

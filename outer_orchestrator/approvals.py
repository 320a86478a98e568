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


class StillServing(ApprovalError):
    """Rejected in the registry, but the package still serves: rejecting takes nothing down."""


def decide(
    sagemaker: Any,
    model_package_arn: str,
    decision: Literal["Approved", "Rejected"],
    reason: str | None = None,
    group: str | None = None,
) -> None:
    """Set the package's approval status; ``StillServing`` (after rejecting) if it serves.

    ``group``: the project's model package group; a package of another group is refused (a
    copied ARN would otherwise decide for another project's waiting retrain)."""
    from botocore.exceptions import ClientError

    try:
        package = sagemaker.describe_model_package(ModelPackageName=model_package_arn)
        current = package["ModelApprovalStatus"]
    except ClientError as exc:
        # SageMaker answers an unknown or malformed ARN with a ValidationException; anything else
        # (credentials, throttling, no cloud) is not about this package and goes up as it is.
        if exc.response.get("Error", {}).get("Code") not in ("ValidationException", "ResourceNotFound"):
            raise
        raise ApprovalError(
            f"no model package {model_package_arn} here: `dualloop status` lists the packages, "
            "or pass --latest for the newest one awaiting approval"
        ) from None
    owner = package.get("ModelPackageGroupName")
    if group is not None and owner != group:
        raise ApprovalError(
            f"{model_package_arn} belongs to {owner}, not to this project's {group}: set DUALLOOP_PROJECT "
            "and DUALLOOP_STAGE to its project to decide it"
        )
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
    if decision == "Rejected":
        serving = _serving_on(sagemaker, package)
        if serving:
            raise StillServing(_still_serving_message(sagemaker, model_package_arn, package, serving))


def _serving_on(sagemaker: Any, package: dict[str, Any]) -> str | None:
    """The endpoint this package serves on now (MarkDeployed's record, checked live), if any."""
    from botocore.exceptions import ClientError

    metadata = package.get("CustomerMetadataProperties") or {}
    endpoint, config = metadata.get("dualloop:deployed-endpoint"), metadata.get("dualloop:endpoint-config")
    if not endpoint or not config:
        return None
    try:
        live = sagemaker.describe_endpoint(EndpointName=endpoint)["EndpointConfigName"]
    except ClientError:
        return None
    return str(endpoint) if live == config else None


def _still_serving_message(sagemaker: Any, arn: str, package: dict[str, Any], endpoint: str) -> str:
    previous = _previous_config(sagemaker, package, endpoint)
    roll_back = (
        f"aws sagemaker update-endpoint --endpoint-name {endpoint} --endpoint-config-name {previous}"
        if previous
        else "no earlier deployment is recorded in the registry, so there is nothing to roll back to"
    )
    return (
        f"{arn} is now Rejected in the Model Registry, but it still serves on endpoint {endpoint}: "
        "rejecting records the decision only; it does not take the endpoint down, roll it back or "
        f"stop traffic. To roll back to the previous deployment: {roll_back} "
        "(see README, Blue/green deployment and rollback)."
    )


def _previous_config(sagemaker: Any, package: dict[str, Any], endpoint: str) -> str | None:
    """The endpoint config of the deployment before this package's, from the registry's records."""
    deployed_at = (package.get("CustomerMetadataProperties") or {}).get("dualloop:deployed-at", "")
    group = package.get("ModelPackageGroupName")
    if not group:
        return None
    summaries = sagemaker.list_model_packages(
        ModelPackageGroupName=group, SortBy="CreationTime", SortOrder="Descending", MaxResults=50
    ).get("ModelPackageSummaryList", [])
    for summary in summaries:
        if summary["ModelPackageArn"] == package.get("ModelPackageArn"):
            continue
        other = sagemaker.describe_model_package(ModelPackageName=summary["ModelPackageArn"])
        meta = other.get("CustomerMetadataProperties") or {}
        if (
            meta.get("dualloop:deployed-endpoint") == endpoint
            and meta.get("dualloop:deployed-at", "") < deployed_at
        ):
            return str(meta["dualloop:endpoint-config"])
    return None

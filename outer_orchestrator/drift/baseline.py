"""Find the training baseline of the model an endpoint serves, and read it.

The chain, each link what SageMaker itself records::

    endpoint -> its current endpoint config -> the variant's model (the variant with the
    largest weight) -> the model package: PrimaryContainer.ModelPackageName, as the outer
    loop's CreateModel sets it; for a model built another way, the package of the group whose
    metadata says ``dualloop:deployed-endpoint`` = this endpoint, latest ``dualloop:deployed-at``
    -> the baseline URI the package carries, the first of:
       CustomerMetadataProperties["dualloop:baseline-uri"],
       CustomerMetadataProperties["DriftBaselineS3Uri"],
       DriftCheckBaselines.ModelDataQuality.Statistics.S3Uri.

The URI names one baseline JSON file or a prefix of per-instance files
(``baseline-<host>.json``, written by Preprocess), which are merged. The format, its check and
its merge are the contract in ``shared/feature_baseline.py``, which Preprocess writes through
too: the data scientists' container code is not shipped here.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from outer_orchestrator.drift.capture import split_s3_uri
from shared.feature_baseline import BaselineFormatError, check_baseline, merge_baselines

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_sagemaker import SageMakerClient

BASELINE_URI_KEYS = ("dualloop:baseline-uri", "DriftBaselineS3Uri")
DEPLOYED_ENDPOINT_KEY = "dualloop:deployed-endpoint"
DEPLOYED_AT_KEY = "dualloop:deployed-at"


class EndpointNotFound(LookupError):
    """The endpoint does not exist (yet): nothing to check."""


class BaselineNotFound(LookupError):
    """The deployed model's baseline cannot be found or read; the message says where it looked."""


@dataclass(frozen=True)
class Deployment:
    endpoint: str
    endpoint_config: str
    model_name: str | None
    capture_uri: str | None  # DataCaptureConfig.DestinationS3Uri; None when capture is off


@dataclass(frozen=True)
class Baseline:
    uri: str
    files: tuple[str, ...]
    data: dict[str, Any]  # format_version 1, merged when there were several files
    model_package_arn: str | None = None


def describe_deployment(sagemaker: SageMakerClient, endpoint: str) -> Deployment:
    try:
        described = sagemaker.describe_endpoint(EndpointName=endpoint)
    except ClientError as exc:
        if _error_code(exc) in ("ValidationException", "ResourceNotFound"):
            raise EndpointNotFound(f"endpoint {endpoint!r} does not exist") from None
        raise
    config_name = described["EndpointConfigName"]
    config = sagemaker.describe_endpoint_config(EndpointConfigName=config_name)
    variants = sorted(
        config.get("ProductionVariants", []),
        key=lambda v: -float(v.get("InitialVariantWeight", 1.0)),  # stable: the first on ties
    )
    capture = config.get("DataCaptureConfig") or {}
    return Deployment(
        endpoint=endpoint,
        endpoint_config=config_name,
        model_name=variants[0].get("ModelName") if variants else None,
        capture_uri=capture.get("DestinationS3Uri") if capture.get("EnableCapture", True) else None,
    )


def find_baseline(
    sagemaker: SageMakerClient, s3: S3Client, deployment: Deployment, model_package_group: str
) -> Baseline:
    """The baseline of the model package the endpoint serves (see the module docstring)."""
    package = _deployed_package(sagemaker, deployment, model_package_group)
    arn = package["ModelPackageArn"]
    uri = baseline_uri_of(package)
    if uri is None:
        raise BaselineNotFound(
            f"model package {arn} carries no baseline URI: set CustomerMetadataProperties "
            f"{' or '.join(BASELINE_URI_KEYS)}, or DriftCheckBaselines.ModelDataQuality.Statistics"
        )
    baseline = load_baseline(s3, uri)
    return Baseline(uri=baseline.uri, files=baseline.files, data=baseline.data, model_package_arn=arn)


def baseline_uri_of(package: dict[str, Any]) -> str | None:
    metadata = package.get("CustomerMetadataProperties") or {}
    for key in BASELINE_URI_KEYS:
        if metadata.get(key):
            return str(metadata[key])
    statistics = ((package.get("DriftCheckBaselines") or {}).get("ModelDataQuality") or {}).get("Statistics")
    return str(statistics["S3Uri"]) if statistics and statistics.get("S3Uri") else None


def load_baseline(s3: S3Client, uri: str) -> Baseline:
    """Read one baseline file, or merge every ``*.json`` under a prefix."""
    bucket, key = _object_or_prefix(uri)
    if key.endswith(".json"):
        keys = [key]
    else:
        pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=key)
        keys = sorted(o["Key"] for p in pages for o in p.get("Contents", []) if o["Key"].endswith(".json"))
        if not keys:
            raise BaselineNotFound(f"no baseline files (*.json) under {uri}")
    baselines = []
    for k in keys:
        try:
            data = json.loads(s3.get_object(Bucket=bucket, Key=k)["Body"].read())
        except ClientError as exc:
            raise BaselineNotFound(f"cannot read s3://{bucket}/{k}: {_error_code(exc)}") from None
        except json.JSONDecodeError as exc:
            raise BaselineNotFound(f"s3://{bucket}/{k} is not JSON: {exc.msg}") from None
        try:
            baselines.append(check_baseline(data))
        except BaselineFormatError as exc:
            raise BaselineNotFound(f"s3://{bucket}/{k} is not a usable baseline: {exc}") from None
    try:
        merged = baselines[0] if len(baselines) == 1 else merge_baselines(baselines)
    except ValueError as exc:  # per-host files of different schemas
        raise BaselineNotFound(f"cannot merge the baselines under {uri}: {exc}") from None
    return Baseline(uri=uri, files=tuple(f"s3://{bucket}/{k}" for k in keys), data=merged)


# ---- the deployed package ------------------------------------------------------------------


def _deployed_package(
    sagemaker: SageMakerClient, deployment: Deployment, model_package_group: str
) -> dict[str, Any]:
    if deployment.model_name:
        model = sagemaker.describe_model(ModelName=deployment.model_name)
        containers = [model.get("PrimaryContainer") or {}, *model.get("Containers", [])]
        for container in containers:
            if container.get("ModelPackageName"):
                return dict(sagemaker.describe_model_package(ModelPackageName=container["ModelPackageName"]))
    found = _package_marked_deployed(sagemaker, deployment.endpoint, model_package_group)
    if found is None:
        raise BaselineNotFound(
            f"cannot tell which model package endpoint {deployment.endpoint!r} serves: model "
            f"{deployment.model_name!r} names no ModelPackageName, and no package in group "
            f"{model_package_group!r} has {DEPLOYED_ENDPOINT_KEY} = {deployment.endpoint!r}"
        )
    return found


def _package_marked_deployed(sagemaker: SageMakerClient, endpoint: str, group: str) -> dict[str, Any] | None:
    """The package of ``group`` deployed to ``endpoint`` most recently (a rollback can redeploy
    an older one, so the deploy time decides, not the version)."""
    best: tuple[str, dict[str, Any]] | None = None
    try:
        # No ModelApprovalStatus filter: the deploy marker is what counts (and moto 5.2.5 drops
        # the approval status on any later UpdateModelPackage).
        pages = sagemaker.get_paginator("list_model_packages").paginate(ModelPackageGroupName=group)
        summaries = [s for page in pages for s in page.get("ModelPackageSummaryList", [])]
    except ClientError as exc:
        if _error_code(exc) in ("ValidationException", "ResourceNotFound"):
            return None
        raise
    for summary in summaries:
        package: dict[str, Any] = dict(
            sagemaker.describe_model_package(ModelPackageName=summary["ModelPackageArn"])
        )
        metadata = package.get("CustomerMetadataProperties") or {}
        if metadata.get(DEPLOYED_ENDPOINT_KEY) != endpoint:
            continue
        deployed_at = str(metadata.get(DEPLOYED_AT_KEY, ""))  # ISO 8601 UTC: sorts as it reads
        if best is None or deployed_at > best[0]:
            best = (deployed_at, package)
    return best[1] if best else None


def _object_or_prefix(uri: str) -> tuple[str, str]:
    if not uri.startswith("s3://"):
        raise BaselineNotFound(f"baseline URI {uri!r} is not an s3:// URI")
    bucket, prefix = split_s3_uri(uri)
    key = prefix.rstrip("/")
    return bucket, key if key.endswith(".json") else prefix


def _error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))

"""SageMaker's built-in algorithm images, emulated without Docker.

A training job whose image runs its own entry point (no script, no ``ContainerEntrypoint``)
is run here when its image's repository is one this package knows: today ``sagemaker-xgboost``
(every version ``image_uris.retrieve("xgboost", region, version)`` returns), trained and served
per aws/sagemaker-xgboost-container's algorithm mode. Any other image fails with one sentence
naming it and what is supported.
"""

from __future__ import annotations

import re

from shared.local_cloud.sagemaker.errors import StepFailure

XGBOOST_REPOSITORY = "sagemaker-xgboost"
BUILTIN_XGBOOST = "builtin:xgboost"  # the model server's "program" for a built-in XGBoost model
SUPPORTED = (XGBOOST_REPOSITORY,)
# <account>.dkr.ecr.<region>.amazonaws.com[.cn]/<repository>:<tag> (or @sha256:...)
_ECR_IMAGE = re.compile(r"^[^/]+/(?P<repository>[^:@]+)(?:[:@].*)?$")


def repository(image_uri: str | None) -> str | None:
    """The repository name of an image URI (``sagemaker-xgboost`` for the XGBoost images)."""
    match = _ECR_IMAGE.match(image_uri or "")
    return match.group("repository") if match else None


def is_builtin_xgboost(image_uri: str | None) -> bool:
    return repository(image_uri) == XGBOOST_REPOSITORY


def serving_module(program: str) -> str:
    """The module with the model-server handlers of a built-in algorithm's ``program``."""
    if program != BUILTIN_XGBOOST:
        raise ValueError(f"{program} is not a built-in algorithm the local cloud serves ({BUILTIN_XGBOOST})")
    return "shared.local_cloud.sagemaker.algorithms.xgboost_serve"


def unsupported_image(image_uri: str | None, what: str) -> StepFailure:
    return StepFailure(
        f"ClientError: {what} image {image_uri!r} runs its own entry point, which the local SageMaker cannot "
        f"emulate (built-in algorithms it runs: {', '.join(SUPPORTED)}; any other image runs locally only with "
        "a script: sagemaker_program, ModelTrainer source_code, or ContainerEntrypoint)"
    )

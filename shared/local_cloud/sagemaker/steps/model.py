"""Model-registry steps: RegisterModel (CreateModelPackage) and Model (CreateModel).

The SDK's ``ModelStep`` compiles to one of these (plus, when the model needs repacking, a
Training step running the SDK's repack script, which the Training executor runs). The
resolved arguments are the API request, sent to the SageMaker API the executor was given
(on the local cloud: moto, which then emits the model package state-change event).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, ClassVar

from botocore.exceptions import BotoCoreError, ClientError

from shared.local_cloud.sagemaker.errors import StepFailure
from shared.local_cloud.sagemaker.steps.base import ResolvesArguments, StepContext, StepOutcome, json_safe

_THROTTLING = {
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "RequestLimitExceeded",
    "TooManyRequestsException",
    "ProvisionedThroughputExceededException",
}


def call(operation: str, fn: Callable[..., Any], **kwargs: Any) -> Any:
    """Call the API, turning its errors into step failures with SageMaker's retry category."""
    try:
        return fn(**kwargs)
    except ClientError as exc:
        error = exc.response.get("Error", {})
        code = str(error.get("Code", ""))
        status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 400))
        kind = "Step.THROTTLING" if code in _THROTTLING else "Step.SERVICE_FAULT" if status >= 500 else None
        raise StepFailure(f"ClientError: {operation}: {code}: {error.get('Message', '')}", kind) from None
    except BotoCoreError as exc:  # connection trouble, bad parameters caught client-side
        kind = "Step.SERVICE_FAULT" if "connect" in type(exc).__name__.lower() else None
        raise StepFailure(f"ClientError: {operation}: {exc}", kind) from None


class RegisterModelExecutor(ResolvesArguments):
    step_type: ClassVar[str] = "RegisterModel"

    def run(self, ctx: StepContext) -> StepOutcome:
        sagemaker = ctx.services.sagemaker
        request: Mapping[str, Any] = ctx.arguments
        arn = call("CreateModelPackage", sagemaker.create_model_package, **request)["ModelPackageArn"]
        described = call("DescribeModelPackage", sagemaker.describe_model_package, ModelPackageName=arn)
        return StepOutcome(properties=json_safe(described), metadata={"RegisterModel": {"Arn": arn}})


class ModelExecutor(ResolvesArguments):
    step_type: ClassVar[str] = "Model"

    def run(self, ctx: StepContext) -> StepOutcome:
        sagemaker = ctx.services.sagemaker
        # The SDK drops ModelName from the definition: SageMaker names the model per execution.
        request = {"ModelName": ctx.job_name, **ctx.arguments}
        arn = call("CreateModel", sagemaker.create_model, **request)["ModelArn"]
        described = call("DescribeModel", sagemaker.describe_model, ModelName=request["ModelName"])
        return StepOutcome(properties=json_safe(described), metadata={"Model": {"Arn": arn}})

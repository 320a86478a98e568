"""Addition: ``SendPipelineExecutionStepSuccess`` / ``SendPipelineExecutionStepFailure``
(missing in moto 5.2.5), which answer a pipeline's Callback step.

The token is the one the Callback step put on its SQS queue; the waiting step is found in
``shared.local_cloud.sagemaker.callbacks``. Limits from botocore's SageMaker model
(2017-07-24): CallbackToken is 10 alphanumerics, at most 50 OutputParameters with a Name of
<= 256 and a Value of <= 1,024 characters, FailureReason <= 256 characters. A token no step
waits on (never issued, or already answered) is ResourceNotFound.
"""

from __future__ import annotations

import re
from typing import Any

from moto.sagemaker.exceptions import ResourceNotFound, ValidationError
from moto.sagemaker.models import SageMakerModelBackend
from moto.sagemaker.responses import SageMakerResponse

from shared.local_cloud.patches import Patch
from shared.local_cloud.sagemaker import callbacks

_TOKEN = re.compile(r"^[a-zA-Z0-9]{10}$")


PATCH = Patch(__name__)


def _answer(token: str, answer: callbacks.Answer) -> dict[str, str]:
    if not isinstance(token, str) or not _TOKEN.match(token):
        raise ValidationError(message="CallbackToken must be 10 letters or digits")
    try:
        return {"PipelineExecutionArn": callbacks.answer(token, answer)}
    except callbacks.UnknownCallbackToken:
        raise ResourceNotFound(message=f"No step is waiting on callback token {token}") from None


@PATCH.adds(SageMakerModelBackend, "send_pipeline_execution_step_success")
def _send_step_success(
    self: SageMakerModelBackend, callback_token: str, output_parameters: list[dict[str, Any]] | None
) -> dict[str, str]:
    outputs = list(output_parameters or [])
    if len(outputs) > 50:
        raise ValidationError(message="OutputParameters has more than 50 items")
    for item in outputs:
        name, value = str(item.get("Name", "")), str(item.get("Value", ""))
        if len(name) > 256 or len(value) > 1024:
            raise ValidationError(
                message=f"output parameter {name[:40]!r}: Name is at most 256 and Value at most 1024 characters"
            )
    given = {str(item["Name"]): str(item["Value"]) for item in outputs}
    return _answer(callback_token, callbacks.Answer(True, given))


@PATCH.adds(SageMakerModelBackend, "send_pipeline_execution_step_failure")
def _send_step_failure(
    self: SageMakerModelBackend, callback_token: str, failure_reason: str | None
) -> dict[str, str]:
    if failure_reason is not None and len(failure_reason) > 256:
        raise ValidationError(message="FailureReason is at most 256 characters")
    return _answer(callback_token, callbacks.Answer(False, failure_reason=failure_reason))


PATCH.adds_response(
    SageMakerResponse, "send_pipeline_execution_step_success", "CallbackToken", "OutputParameters"
)


PATCH.adds_response(
    SageMakerResponse, "send_pipeline_execution_step_failure", "CallbackToken", "FailureReason"
)

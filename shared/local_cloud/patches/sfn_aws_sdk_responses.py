"""Fix: ``aws-sdk:*`` task results hold Python objects where AWS returns JSON, and their
error names are spelled in lower case.

moto 5.2.5's ``StateTaskServiceAwsSdk._eval_service_task`` pushes boto3's raw response:
an S3 ``GetObject`` ``Body`` stays a stream (``States.StringToJson($.Body)`` then fails)
and timestamps stay ``datetime`` (which later breaks DescribeExecution). Step Functions
returns the body as a string and timestamps as ISO-8601 text; this patch does the same.

Errors are named ``<Service>.<Exception>`` with the service as Step Functions spells it
(``SageMaker.SageMakerException``, ``S3.NoSuchKeyException``); moto knows only DynamoDB's
and Sfn's spelling and falls back to the lower-case boto3 name (``sagemaker.sagemakerException``),
which a ``Catch`` written for AWS never matches.
"""

from __future__ import annotations

import base64
from datetime import date, datetime
from typing import Any

from botocore.response import StreamingBody
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import state_task_service_aws_sdk
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_aws_sdk import (
    StateTaskServiceAwsSdk,
)

from shared.local_cloud.patches import Patch, original

PATCH = Patch(__name__)
PATCH.pins(StateTaskServiceAwsSdk, "_normalise_service_error_name", "7fccfad3463f0276")


# Step Functions' spelling of the services the outer loop calls through aws-sdk tasks.
SERVICE_ERROR_NAMES = {
    "sagemaker": "SageMaker",
    "s3": "S3",
    "glue": "Glue",
    "sns": "Sns",
    "cloudwatch": "CloudWatch",
}


def as_json_value(value: Any) -> Any:
    if isinstance(value, StreamingBody):
        raw = value.read()
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            return base64.b64encode(raw).decode()
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    if isinstance(value, dict):
        return {k: as_json_value(v) for k, v in value.items()}
    if isinstance(value, list):
        return [as_json_value(v) for v in value]
    return value


@PATCH.replaces(StateTaskServiceAwsSdk, "_eval_service_task", "e68dc9e06e6ae0ce")
def _eval_service_task(self: Any, env: Any, *args: Any, **kwargs: Any) -> None:
    original(StateTaskServiceAwsSdk, "_eval_service_task")(self, env, *args, **kwargs)
    env.stack.append(as_json_value(env.stack.pop()))


def apply() -> None:
    state_task_service_aws_sdk._SERVICE_ERROR_NAMES.update(SERVICE_ERROR_NAMES)

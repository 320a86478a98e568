"""Fix: an execution started without a name is named ``None``.

AWS names such executions with a fresh UUID. moto 5.2.5 formats the missing name into
the ARN as the text ``None``, so every unnamed execution (all those EventBridge starts)
shares one ARN and ``$$.Execution.Name`` is null.
"""

from __future__ import annotations

import uuid
from typing import Any

from moto.stepfunctions.parser.models import StepFunctionsParserBackend

from shared.local_cloud.patches import Patch, original

PATCH = Patch(__name__)


@PATCH.replaces(StepFunctionsParserBackend, "start_execution", "0f8d9dd57baf0c28")
def _start_execution(
    self: Any, state_machine_arn: str, name: str | None = None, *args: Any, **kwargs: Any
) -> Any:
    return original(StepFunctionsParserBackend, "start_execution")(
        self, state_machine_arn, name or str(uuid.uuid4()), *args, **kwargs
    )

"""Fix: ``SendTaskFailure`` drops its ``cause``.

moto 5.2.5's response handler passes only ``error`` to the backend, so a relay's failure
reason (which step failed and why, who rejected a model and why) never reaches the
execution. This is the handler with ``cause`` passed through.
"""

from __future__ import annotations

from typing import Any

from moto.core.responses import EmptyResult
from moto.stepfunctions.responses import StepFunctionResponse

from shared.local_cloud.patches import Patch

PATCH = Patch(__name__)


@PATCH.replaces(StepFunctionResponse, "send_task_failure", "f0fed5e805768377")
def _send_task_failure(self: Any) -> EmptyResult:
    self.stepfunction_backend.send_task_failure(
        self._get_param("taskToken"), error=self._get_param("error"), cause=self._get_param("cause")
    )
    return EmptyResult()

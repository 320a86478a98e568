"""The executor's errors: each carries the one-line reason SageMaker would report."""

from __future__ import annotations

from typing import Any

from shared.pipeline_graph import DefinitionError, PipelineError

# The definition reader lives in shared/ (the cache plan and the drawing read definitions too):
# its errors are the base of the executor's, so one ``except LocalExecutorError`` still catches all.
LocalExecutorError = PipelineError  # base of every error the local executor raises on purpose


class ExpressionError(LocalExecutorError):
    """A ``Get``, ``Std:*`` function or condition cannot be resolved."""


class UnknownStepTypeError(DefinitionError):
    """A step type the local executor has no executor for."""

    def __init__(self, step_type: str, step_name: str, supported: list[str]) -> None:
        self.step_type = step_type
        self.step_name = step_name
        super().__init__(
            f"step {step_name!r} has type {step_type!r}, which the local executor does not support "
            f"(supported: {', '.join(sorted(supported))})"
        )


class StepFailure(LocalExecutorError):
    """A step failed; ``str(self)`` is its FailureReason.

    ``exception_type`` is the SageMaker retry category (``Step.SERVICE_FAULT``,
    ``Step.THROTTLING``, ``SageMaker.JOB_INTERNAL_ERROR``, ``SageMaker.CAPACITY_ERROR``,
    ``SageMaker.RESOURCE_LIMIT``) when the failure is one a ``RetryPolicies`` entry may
    retry; None for failures no policy retries (the job's own code failed, bad input).
    """

    def __init__(
        self, reason: str, exception_type: str | None = None, *, metadata: dict[str, Any] | None = None
    ) -> None:
        self.exception_type = exception_type
        self.metadata = metadata or {}  # the step's Metadata even though it failed (Fail, job ARNs)
        super().__init__(reason)


class StepStopped(LocalExecutorError):
    """The step was stopped because the execution is stopping."""


__all__ = [
    "DefinitionError",
    "ExpressionError",
    "LocalExecutorError",
    "StepFailure",
    "StepStopped",
    "UnknownStepTypeError",
]

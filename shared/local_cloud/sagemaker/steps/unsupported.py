"""Step types the local SageMaker refuses, each with the one reason why.

``executor_for`` raises this before any step runs (the executor builds every step's executor
while it validates the definition), so a pipeline that cannot run locally fails at once
instead of after an hour of training.
"""

from __future__ import annotations

from collections.abc import Mapping

from shared.local_cloud.sagemaker.errors import DefinitionError

# Why each type cannot be emulated on this machine (AWS_FACTS.md "Service status").
REASONS: Mapping[str, str] = {
    "EMR": "it runs steps on an Amazon EMR cluster, which the local cloud does not emulate",
    "EMRServerless": "it runs a job on EMR Serverless, which the local cloud does not emulate",
    "ClarifyCheck": "it runs SageMaker Clarify, which is closed to new customers since 2026-06-30",
    "QualityCheck": "it runs SageMaker Model Monitor, which is closed to new customers since 2026-07-30",
    "AutoML": "it runs SageMaker Autopilot's managed model search, which the local cloud does not emulate",
}


class UnsupportedStepTypeError(DefinitionError):
    """A step type that is known, but cannot run locally."""

    def __init__(self, step_type: str, step_name: str) -> None:
        self.step_type = step_type
        self.step_name = step_name
        super().__init__(
            f"step {step_name!r} has type {step_type!r}, which is not supported locally: {REASONS[step_type]}; "
            "run this pipeline on AWS, or leave the step out of the local run"
        )


def is_unsupported(step_type: str) -> bool:
    return step_type in REASONS

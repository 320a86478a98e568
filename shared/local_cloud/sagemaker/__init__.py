"""A docker-free executor of SageMaker pipeline definitions (schema 2020-12-01).

``run_definition(definition_json, parameters, s3=..., sagemaker=...)`` runs one execution
directly; ``worker.attach(cloud)`` makes the local cloud run every ``StartPipelineExecution``
with it. Nothing here is imported by the pipeline definition itself: the JSON is the contract.
"""

from shared.local_cloud.sagemaker.errors import (
    DefinitionError,
    ExpressionError,
    LocalExecutorError,
    StepFailure,
    UnknownStepTypeError,
)
from shared.local_cloud.sagemaker.executor import (
    ExecutionIdentity,
    ExecutionResult,
    LocalPipelineExecutor,
    StepRecord,
    run_definition,
)

__all__ = [
    "DefinitionError",
    "ExecutionIdentity",
    "ExecutionResult",
    "ExpressionError",
    "LocalExecutorError",
    "LocalPipelineExecutor",
    "StepFailure",
    "StepRecord",
    "UnknownStepTypeError",
    "run_definition",
]

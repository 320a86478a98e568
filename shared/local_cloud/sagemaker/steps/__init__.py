"""One executor per step type, chosen by ``executor_for``; an unknown type is a loud error."""

from __future__ import annotations

from collections.abc import Callable

from shared.local_cloud.sagemaker.errors import UnknownStepTypeError
from shared.local_cloud.sagemaker.steps.base import StepContext, StepExecutor, StepOutcome
from shared.local_cloud.sagemaker.steps.callback import CallbackExecutor
from shared.local_cloud.sagemaker.steps.control import ConditionExecutor, FailExecutor
from shared.local_cloud.sagemaker.steps.lambda_step import LambdaExecutor
from shared.local_cloud.sagemaker.steps.model import ModelExecutor, RegisterModelExecutor
from shared.local_cloud.sagemaker.steps.processing import ProcessingExecutor
from shared.local_cloud.sagemaker.steps.training import TrainingExecutor
from shared.local_cloud.sagemaker.steps.transform import TransformExecutor
from shared.local_cloud.sagemaker.steps.tuning import TuningExecutor
from shared.local_cloud.sagemaker.steps.unsupported import UnsupportedStepTypeError, is_unsupported
from shared.pipeline_graph import StepNode

_FACTORIES: dict[str, Callable[[], StepExecutor]] = {
    factory.step_type: factory
    for factory in (
        ProcessingExecutor,
        TrainingExecutor,
        ConditionExecutor,
        FailExecutor,
        RegisterModelExecutor,
        ModelExecutor,
        TuningExecutor,
        TransformExecutor,
        LambdaExecutor,
        CallbackExecutor,
    )
}


def supported_step_types() -> list[str]:
    return sorted(_FACTORIES)


def executor_for(node: StepNode) -> StepExecutor:
    factory = _FACTORIES.get(node.type)
    if factory is None and is_unsupported(node.type):
        raise UnsupportedStepTypeError(node.type, node.name)
    if factory is None:
        raise UnknownStepTypeError(node.type, node.name, supported_step_types())
    return factory()


__all__ = ["StepContext", "StepExecutor", "StepOutcome", "executor_for", "supported_step_types"]

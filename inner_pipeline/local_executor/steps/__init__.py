"""One executor per step type, chosen by ``executor_for``; an unknown type is a loud error."""

from __future__ import annotations

from collections.abc import Callable

from inner_pipeline.local_executor.errors import UnknownStepTypeError
from inner_pipeline.local_executor.graph import StepNode
from inner_pipeline.local_executor.steps.base import StepContext, StepExecutor, StepOutcome
from inner_pipeline.local_executor.steps.control import ConditionExecutor, FailExecutor
from inner_pipeline.local_executor.steps.model import ModelExecutor, RegisterModelExecutor
from inner_pipeline.local_executor.steps.processing import ProcessingExecutor
from inner_pipeline.local_executor.steps.training import TrainingExecutor

_FACTORIES: dict[str, Callable[[], StepExecutor]] = {
    factory.step_type: factory
    for factory in (
        ProcessingExecutor,
        TrainingExecutor,
        ConditionExecutor,
        FailExecutor,
        RegisterModelExecutor,
        ModelExecutor,
    )
}


def supported_step_types() -> list[str]:
    return sorted(_FACTORIES)


def executor_for(node: StepNode) -> StepExecutor:
    factory = _FACTORIES.get(node.type)
    if factory is None:
        raise UnknownStepTypeError(node.type, node.name, supported_step_types())
    return factory()


__all__ = ["StepContext", "StepExecutor", "StepOutcome", "executor_for", "supported_step_types"]

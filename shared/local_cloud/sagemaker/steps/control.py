"""Steps that run no job: Condition and Fail."""

from __future__ import annotations

from typing import Any, ClassVar

from shared.local_cloud.sagemaker.errors import ExpressionError, StepFailure
from shared.local_cloud.sagemaker.expressions import Resolver, to_text
from shared.local_cloud.sagemaker.steps.base import ResolvesArguments, StepContext, StepOutcome
from shared.pipeline_graph import StepNode


class ConditionExecutor:
    """Evaluates ``Arguments.Conditions`` (all must hold); the graph routes to If/ElseSteps."""

    step_type: ClassVar[str] = "Condition"

    def resolve_arguments(self, node: StepNode, resolver: Resolver, job_name: str) -> dict[str, Any]:
        # The branches are nested steps that have not run: nothing to resolve up front.
        return {}

    def run(self, ctx: StepContext) -> StepOutcome:
        conditions = (ctx.node.spec.get("Arguments") or {}).get("Conditions") or []
        try:
            outcome = ctx.resolver.evaluate_all(conditions)
        except ExpressionError as exc:
            raise StepFailure(f"ClientError: {exc}") from None
        text = "True" if outcome else "False"
        return StepOutcome(
            properties={"Outcome": text}, metadata={"Condition": {"Outcome": text}}, condition_outcome=outcome
        )


class FailExecutor(ResolvesArguments):
    """Fails the step, and so the execution, with the resolved ``ErrorMessage``."""

    step_type: ClassVar[str] = "Fail"

    def run(self, ctx: StepContext) -> StepOutcome:
        message = ctx.arguments.get("ErrorMessage")
        text = "" if message is None else to_text(message)
        raise StepFailure(text, metadata={"Fail": {"ErrorMessage": text}})

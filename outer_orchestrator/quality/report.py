"""The data quality report: what the DataQuality step writes and the state machine reads.

``passed``, ``score`` and ``failed_rules`` are stored fields (so a JSONPath in the state
machine can read ``$.passed`` straight from the JSON) but are always derived from
``rules``: build a report with :meth:`QualityReport.build`; a hand-edited JSON whose
summary disagrees with its rules fails validation.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum

from pydantic import AwareDatetime, Field, model_validator

from shared.config import FrozenModel

__all__ = ["Outcome", "QualityReport", "RuleOutcome"]


class Outcome(StrEnum):
    PASSED = "Passed"
    FAILED = "Failed"
    # The rule could not be evaluated (missing column, bad where clause, SQL error...).
    ERROR = "Error"


class RuleOutcome(FrozenModel):
    rule: str = Field(min_length=1, description="The rule as written in the ruleset.")
    outcome: Outcome
    # Glue-style metric names ("Column.amount.Completeness"); None when there was nothing to measure.
    evaluated_metrics: dict[str, float | None] = Field(default_factory=dict)
    failure_message: str | None = None

    @model_validator(mode="after")
    def _message_when_not_passed(self) -> RuleOutcome:
        if self.outcome is not Outcome.PASSED and not self.failure_message:
            raise ValueError(f"a {self.outcome.value} rule needs a failure_message")
        return self


class QualityReport(FrozenModel):
    ruleset_name: str
    dataset_location: str
    row_count: int = Field(ge=0)
    rules: tuple[RuleOutcome, ...] = Field(min_length=1)
    passed: bool
    score: float = Field(ge=0.0, le=1.0, description="Passed rules / all rules.")
    failed_rules: tuple[str, ...]
    evaluated_at: AwareDatetime

    @classmethod
    def build(
        cls,
        *,
        ruleset_name: str,
        dataset_location: str,
        row_count: int,
        rules: list[RuleOutcome] | tuple[RuleOutcome, ...],
        evaluated_at: datetime | None = None,
    ) -> QualityReport:
        passed, score, failed_rules = _summarise(tuple(rules))
        return cls(
            ruleset_name=ruleset_name,
            dataset_location=dataset_location,
            row_count=row_count,
            rules=tuple(rules),
            passed=passed,
            score=score,
            failed_rules=failed_rules,
            evaluated_at=evaluated_at or datetime.now(UTC),
        )

    @model_validator(mode="after")
    def _summary_matches_rules(self) -> QualityReport:
        expected = _summarise(self.rules)
        actual = (self.passed, self.score, self.failed_rules)
        if actual != expected:
            raise ValueError(
                f"summary (passed, score, failed_rules) = {actual} does not match the rule outcomes: {expected}"
            )
        return self


def _summarise(rules: tuple[RuleOutcome, ...]) -> tuple[bool, float, tuple[str, ...]]:
    """(passed, score, failed_rules); rules in Error count as failed: they were not checked."""
    ok = sum(r.outcome is Outcome.PASSED for r in rules)
    passed = bool(rules) and ok == len(rules)
    score = round(ok / len(rules), 6) if rules else 0.0
    return passed, score, tuple(r.rule for r in rules if r.outcome is not Outcome.PASSED)

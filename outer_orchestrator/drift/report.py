"""The drift report: what one drift check found, as written to S3 and printed by the CLI.

``max_score``, ``max_feature``, ``drifted_features`` and ``status`` are derived from
``features`` (build with :meth:`DriftReport.build`; a JSON whose summary disagrees with its
features fails validation). ``max_score`` is relative, the largest ``score / threshold``
over the scored features, because PSI and JS distance live on different scales: 1.0 is the
threshold for every feature, and it is the value published as the ``MaxDrift`` metric.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Literal

from pydantic import AwareDatetime, Field, model_validator

from shared.config import FrozenModel

__all__ = ["CaptureSummary", "DriftReport", "FeatureDrift", "Status"]


class Status(StrEnum):
    OK = "ok"
    DRIFT = "drift"
    INSUFFICIENT_DATA = "insufficient-data"


class FeatureDrift(FrozenModel):
    name: str
    type: Literal["numeric", "categorical"]
    metric: Literal["psi", "js_distance"]
    score: float | None = Field(description="None when there was not enough data.")
    threshold: float = Field(gt=0)
    drifted: bool
    status: Status
    sample_size: int = Field(ge=0, description="Captured values compared, missing ones included.")
    min_samples: int | None = Field(
        description="Values needed for a meaningful score; None: no number is enough."
    )
    baseline_size: int = Field(ge=0)
    p_value: float | None = Field(default=None, description="Chi-square homogeneity test; informative only.")
    reason: str | None = None
    unseen_categories: tuple[str, ...] = ()

    @model_validator(mode="after")
    def _consistent(self) -> FeatureDrift:
        scored = self.score is not None
        if self.drifted != (scored and self.score > self.threshold):  # type: ignore[operator]
            raise ValueError(f"{self.name}: drifted must say whether score exceeds threshold")
        expected = Status.DRIFT if self.drifted else Status.OK if scored else Status.INSUFFICIENT_DATA
        if self.status is not expected:
            raise ValueError(f"{self.name}: status {self.status} should be {expected}")
        if not scored and not self.reason:
            raise ValueError(f"{self.name}: a feature without a score needs a reason")
        return self

    @property
    def relative_score(self) -> float | None:
        return None if self.score is None else self.score / self.threshold


class CaptureSummary(FrozenModel):
    destination: str
    files: int = Field(ge=0)
    records: int = Field(ge=0, description="Capture lines in the window that were used.")
    rows: int = Field(ge=0)
    malformed: int = Field(ge=0, description="Capture lines skipped as unusable.")
    out_of_window: int = Field(ge=0)
    malformed_examples: tuple[str, ...] = ()


class DriftReport(FrozenModel):
    format_version: Literal[1] = 1
    endpoint: str
    model_package_arn: str | None
    baseline_uri: str
    baseline_rows: int = Field(ge=0)
    window_start: AwareDatetime
    window_end: AwareDatetime
    generated_at: AwareDatetime
    sample_count: int = Field(ge=0, description="Captured rows in the window.")
    capture: CaptureSummary
    features: tuple[FeatureDrift, ...]
    max_score: float | None = Field(
        description="Largest score / threshold; >= 1 means drift. None: nothing scored."
    )
    max_feature: str | None
    drifted_features: tuple[str, ...]
    status: Status
    report_uri: str | None = None

    @classmethod
    def build(
        cls,
        *,
        endpoint: str,
        model_package_arn: str | None,
        baseline_uri: str,
        baseline_rows: int,
        window_start: datetime,
        window_end: datetime,
        capture: CaptureSummary,
        features: list[FeatureDrift] | tuple[FeatureDrift, ...],
        generated_at: datetime | None = None,
        report_uri: str | None = None,
    ) -> DriftReport:
        max_score, max_feature, drifted, status = _summarise(tuple(features))
        return cls(
            endpoint=endpoint,
            model_package_arn=model_package_arn,
            baseline_uri=baseline_uri,
            baseline_rows=baseline_rows,
            window_start=window_start,
            window_end=window_end,
            generated_at=generated_at or datetime.now(UTC),
            sample_count=capture.rows,
            capture=capture,
            features=tuple(features),
            max_score=max_score,
            max_feature=max_feature,
            drifted_features=drifted,
            status=status,
            report_uri=report_uri,
        )

    @model_validator(mode="after")
    def _summary_matches_features(self) -> DriftReport:
        expected = _summarise(self.features)
        if (self.max_score, self.max_feature, self.drifted_features, self.status) != expected:
            raise ValueError(f"summary does not match the features: expected {expected}")
        if self.sample_count != self.capture.rows:
            raise ValueError("sample_count must equal capture.rows")
        return self


def _summarise(
    features: tuple[FeatureDrift, ...],
) -> tuple[float | None, str | None, tuple[str, ...], Status]:
    scored = [(f.relative_score, f.name) for f in features if f.relative_score is not None]
    max_score, max_feature = max(scored, key=lambda s: s[0]) if scored else (None, None)
    drifted = tuple(f.name for f in features if f.drifted)
    status = Status.DRIFT if drifted else Status.OK if scored else Status.INSUFFICIENT_DATA
    return max_score, max_feature, drifted, status

"""Typed configuration for both loops.
(Over 400 lines: one typed settings model; its sections are pydantic classes a reader expects in one place.)

Values come, in rising priority, from the defaults below, an optional YAML or TOML file
(``DUALLOOP_CONFIG_FILE`` or ``load_config(path)``) and ``DUALLOOP_*`` environment
variables (nested fields with ``__``: ``DUALLOOP_DEPLOYMENT__TRAFFIC_TYPE=LINEAR``).
A bad value fails fast with a ``ConfigError`` that names the field, and so does a
``DUALLOOP_*`` variable that is no setting (a nested one written with one underscore where
two are needed would otherwise be ignored without a word): the error names the closest valid one.
"""

from __future__ import annotations

import difflib
import math
import os
import re
import tomllib
from collections.abc import Mapping
from enum import StrEnum
from pathlib import Path
from typing import Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    ValidatorFunctionWrapHandler,
    field_validator,
    model_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    InitSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from shared.column_names import column_name

CONFIG_FILE_ENV = "DUALLOOP_CONFIG_FILE"
ENV_PREFIX = "DUALLOOP_"
# DUALLOOP_* variables that are no setting: each is read by the code named beside it
# (tests/unit/test_config.py keeps this list equal to the names the code reads).
OTHER_VARIABLES = frozenset(
    {
        CONFIG_FILE_ENV,
        "DUALLOOP_HOME",  # the local cloud's state directory (shared/local_cloud/cli.py)
        "DUALLOOP_TARGET",  # "aws": the CLI talks to AWS (read only by shared/target.py)
        "DUALLOOP_LOCAL_CLOCK_FACTOR",  # shared/local_cloud/clock.py
        "DUALLOOP_LOCAL_MAX_INSTANCES",  # shared/local_cloud/hosting/deployment.py
        "DUALLOOP_LOCAL_CLOUD_FAST_SERVER",  # shared/local_cloud/patches/server_speed.py
        "DUALLOOP_LAMBDA_LOG_LEVEL",  # shared/local_cloud/cloud.py
        "DUALLOOP_LOCAL_IAM",  # "0": the local cloud does not enforce IAM (shared/local_cloud/cloud.py)
        "DUALLOOP_LOCAL_CLOUD_VALIDATE_REQUESTS",  # "0": no botocore-model checks (patches/request_validation.py)
        "DUALLOOP_CONTAINER_PATHS",  # "rewrite": no mount namespace (shared/local_cloud/sagemaker/steps/container.py)
        "DUALLOOP_DRIFT_ENDPOINT",  # the endpoint a drift job watches (outer_orchestrator/drift/job.py)
        # The handler functions' environment (outer_orchestrator/handlers, set by infra and the local stack).
        "DUALLOOP_PIPELINE_NAME",
        "DUALLOOP_TOKEN_TABLE",
        "DUALLOOP_PIPELINE_TOKEN_TABLE",
        "DUALLOOP_TOPIC_ARN",
        "DUALLOOP_STATE_MACHINE_ARN",
        "DUALLOOP_LOCK_TABLE",
    }
)

# S3 bucket naming rules (general purpose buckets).
_BUCKET_RE = re.compile(r"^(?!xn--)(?!.*\.\.)(?!\d+\.\d+\.\d+\.\d+$)[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_PROJECT_RE = re.compile(r"^[a-z][a-z0-9-]{1,20}[a-z0-9]$")
_PREFIX_RE = re.compile(r"^[A-Za-z0-9!_.*'()/-]+$")


class ConfigError(ValueError):
    """Raised when configuration is invalid; the message names every bad field."""


class Stage(StrEnum):
    DEV = "dev"
    STAGING = "staging"
    PROD = "prod"


class TrafficType(StrEnum):
    ALL_AT_ONCE = "ALL_AT_ONCE"
    CANARY = "CANARY"
    LINEAR = "LINEAR"


class FrozenModel(BaseModel):
    """The base of config sections, contracts and reports: a field nobody declared is refused
    (a typo fails loudly instead of being ignored) and a validated value never changes."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class FeatureType(StrEnum):
    NUMERIC = "numeric"
    CATEGORICAL = "categorical"


class ProblemType(StrEnum):
    """What the target is: two classes, several classes, or a number."""

    BINARY = "binary"
    MULTICLASS = "multiclass"
    REGRESSION = "regression"


# The sections and metric names of SageMaker Model Monitor's model-quality metrics
# (docs.aws.amazon.com/sagemaker/latest/dg/model-monitor-model-quality-metrics.html), which
# the evaluation report uses and the quality gate reads: metric -> (lowest, highest) value.
REPORT_SECTIONS: dict[ProblemType, str] = {
    ProblemType.BINARY: "binary_classification_metrics",
    ProblemType.MULTICLASS: "multiclass_classification_metrics",
    ProblemType.REGRESSION: "regression_metrics",
}
GATE_METRICS: dict[ProblemType, dict[str, tuple[float, float]]] = {
    ProblemType.BINARY: {m: (0.0, 1.0) for m in ("auc", "accuracy", "precision", "recall", "f1")},
    ProblemType.MULTICLASS: {
        m: (0.0, 1.0) for m in ("accuracy", "weighted_precision", "weighted_recall", "weighted_f1")
    },
    ProblemType.REGRESSION: {
        "rmse": (0.0, math.inf),
        "mae": (0.0, math.inf),
        "mse": (0.0, math.inf),
        "r2": (-math.inf, 1.0),
    },
}
# Errors: the gate passes when the value is at most the threshold; scores: at least.
LOWER_IS_BETTER = frozenset({"rmse", "mae", "mse"})
# The gate when config names none: scale-free metrics only, so a default threshold means
# the same on any data (r2 >= 0: better than always predicting the mean).
DEFAULT_GATE: dict[ProblemType, tuple[str, float]] = {
    ProblemType.BINARY: ("auc", 0.80),
    ProblemType.MULTICLASS: ("accuracy", 0.80),
    ProblemType.REGRESSION: ("r2", 0.0),
}
_ALL_METRICS = sorted({m for metrics in GATE_METRICS.values() for m in metrics})


def _header_rule(value: Any) -> Any:
    """A column named as in the data (``mean radius``) or as the header rule makes it
    (``mean_radius``, see ``shared.column_names``): either way, the rule's name."""
    return column_name(value) if isinstance(value, str) else value


class Feature(FrozenModel):
    # Any header; stored as the header rule's name, which is what this pattern describes.
    name: str = Field(pattern=r"^[a-z0-9]+(_[a-z0-9]+)*$")
    type: FeatureType = FeatureType.NUMERIC
    # A categorical feature's vocabulary. Needed when preprocessing runs on several
    # instances: each sees one shard, and all must encode categories alike.
    categories: tuple[str, ...] | None = None

    @field_validator("name", mode="before")
    @classmethod
    def _column_name(cls, value: Any) -> Any:
        return _header_rule(value)


class DataSchema(FrozenModel):
    """What the model learns from. The scripts read this, so they stay dataset-agnostic."""

    id_column: str = "transaction_id"
    # The data has no id column: ingest adds ``id_column`` as a hash of each row's values
    # (outer_orchestrator/glue/transforms.py, with_row_hash_id). README: "Your data".
    generate_id: bool = False
    target_column: str = "is_fraud"
    problem_type: ProblemType = ProblemType.BINARY
    # Classification only: the target's labels in code order (binary: negative, positive).
    # Learned from the data (sorted) when absent; needed with several processing instances.
    classes: tuple[str, ...] | None = None
    features: tuple[Feature, ...] = (
        Feature(name="amount"),
        Feature(
            name="merchant_category",
            type=FeatureType.CATEGORICAL,
            categories=(
                "electronics",
                "entertainment",
                "gas",
                "grocery",
                "online_retail",
                "restaurant",
                "travel",
            ),
        ),
        Feature(name="hour"),
        Feature(name="distance_from_home_km"),
        Feature(name="tx_count_1h"),
        Feature(name="tx_count_24h"),
        Feature(name="amount_to_avg_ratio"),
        Feature(name="is_online"),
    )

    @field_validator("id_column", "target_column", mode="before")
    @classmethod
    def _column_name(cls, value: Any) -> Any:
        return _header_rule(value)

    @model_validator(mode="after")
    def _unique_columns(self) -> DataSchema:
        names = [f.name for f in self.features]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"duplicate feature names: {dupes}")
        if not names:
            raise ValueError("at least one feature is required")
        if self.target_column in names or self.id_column in names:
            raise ValueError("target_column and id_column must not be listed as features")
        if self.classes is not None:
            if self.problem_type is ProblemType.REGRESSION:
                raise ValueError("classes are for classification; a regression target has none")
            if len(set(self.classes)) != len(self.classes):
                raise ValueError(f"classes lists a label twice: {list(self.classes)}")
            if self.problem_type is ProblemType.BINARY and len(self.classes) != 2:
                raise ValueError(
                    f"a binary target has 2 classes (negative, positive), not {list(self.classes)}"
                )
            if self.problem_type is ProblemType.MULTICLASS and len(self.classes) < 2:
                raise ValueError(f"a multiclass target needs at least 2 classes, got {list(self.classes)}")
        return self

    @property
    def feature_names(self) -> list[str]:
        return [f.name for f in self.features]

    @property
    def text_labels(self) -> bool:
        """Listed classes that are not all whole numbers: ingest keeps the target as text."""
        return self.classes is not None and not all(re.fullmatch(r"-?\d+", c) for c in self.classes)


class Instances(FrozenModel):
    processing_instance_type: str = Field(default="ml.m5.xlarge", pattern=r"^ml\.[a-z0-9]+\.[a-z0-9]+$")
    processing_instance_count: int = Field(default=1, ge=1, le=100)
    training_instance_type: str = Field(default="ml.m5.xlarge", pattern=r"^ml\.[a-z0-9]+\.[a-z0-9]+$")
    training_instance_count: int = Field(default=1, ge=1, le=100)
    inference_instance_type: str = Field(default="ml.m5.large", pattern=r"^ml\.[a-z0-9]+\.[a-z0-9]+$")
    # Two by default: a canary (or linear step) must be a strict part of the fleet (see
    # DualloopConfig._blue_green_fits_the_fleet), and AWS recommends two or more instances per
    # production variant for availability across Availability Zones.
    inference_instance_count: int = Field(default=2, ge=1, le=100)
    max_runtime_seconds: int = Field(default=3600, ge=60, le=432000)


class Quality(FrozenModel):
    """The inner loop's gate on the evaluation report.

    Without a metric the problem type's default applies (``DEFAULT_GATE``); an error metric
    (rmse, mae, mse) has no default threshold, since its scale is the target's.
    """

    metric: str = "auc"
    threshold: float = 0.80

    @field_validator("metric")
    @classmethod
    def _known_metric(cls, metric: str) -> str:
        if metric not in _ALL_METRICS:
            raise ValueError(f"{metric!r} is not one of {', '.join(_ALL_METRICS)}")
        return metric

    @field_validator("threshold")
    @classmethod
    def _threshold_in_range(cls, threshold: float, info: ValidationInfo) -> float:
        metric = info.data.get("metric")  # absent when the metric itself was bad
        if metric is None:
            return threshold
        lowest, highest = next(r[metric] for r in GATE_METRICS.values() if metric in r)
        if not (math.isfinite(threshold) and lowest <= threshold <= highest):
            raise ValueError(f"out of range for {metric}, which runs from {lowest} to {highest}")
        return threshold

    @property
    def lower_is_better(self) -> bool:
        return self.metric in LOWER_IS_BETTER

    @property
    def direction(self) -> str:
        """How the value must compare with the threshold for the gate to pass."""
        return "≤" if self.lower_is_better else "≥"


class Hyperparameters(FrozenModel):
    max_depth: int = Field(default=5, ge=1, le=20)
    eta: float = Field(default=0.2, gt=0.0, le=1.0)
    num_round: int = Field(default=100, ge=1, le=10000)
    subsample: float = Field(default=0.9, gt=0.0, le=1.0)
    scale_pos_weight: float = Field(default=10.0, gt=0.0)


# ---- tuning (optional): Train becomes a SageMaker hyperparameter tuning job ----------------------
class TuningStrategy(StrEnum):
    """HyperParameterTuningJobConfig.Strategy values (botocore's sagemaker model:
    Bayesian | Random | Hyperband | Grid) that the local cloud also runs; Hyperband is refused."""

    BAYESIAN = "Bayesian"
    RANDOM = "Random"
    GRID = "Grid"


class RangeScaling(StrEnum):
    """HyperParameterScalingType (botocore's sagemaker model)."""

    AUTO = "Auto"
    LINEAR = "Linear"
    LOGARITHMIC = "Logarithmic"
    REVERSE_LOGARITHMIC = "ReverseLogarithmic"


# train.py's hyperparameters that tuning may search, with the type train.py reads them as.
TUNABLE_HYPERPARAMETERS: dict[str, type] = {
    "max_depth": int,
    "eta": float,
    "num_round": int,
    "subsample": float,
    "scale_pos_weight": float,
}
# botocore's sagemaker model: IntegerParameterRanges, ContinuousParameterRanges and
# CategoricalParameterRanges each hold at most 30 ranges; ParameterValues at most 30 values.
MAX_CATEGORICAL_VALUES = 30
DEFAULT_TUNING_JOBS = 8


class HyperparameterRange(FrozenModel):
    """One hyperparameter's search range: ``values`` (categorical) or ``min``..``max``
    (integer or continuous, as train.py reads the hyperparameter) on ``scaling``."""

    min: float | None = None
    max: float | None = None
    values: tuple[str, ...] | None = Field(default=None, min_length=1, max_length=MAX_CATEGORICAL_VALUES)
    scaling: RangeScaling = RangeScaling.AUTO

    @field_validator("values", mode="before")
    @classmethod
    def _values_as_strings(cls, value: Any) -> Any:
        # Hyperparameter values reach the training job as strings (CategoricalParameterRange.Values).
        if isinstance(value, list | tuple):
            return tuple(str(v) for v in value)
        return value

    @model_validator(mode="after")
    def _one_kind(self) -> HyperparameterRange:
        if self.values is not None:
            if self.min is not None or self.max is not None:
                raise ValueError("give either values (categorical) or min and max, not both")
            if self.scaling is not RangeScaling.AUTO:
                raise ValueError("scaling applies to min..max ranges, not to categorical values")
            return self
        if self.min is None or self.max is None:
            raise ValueError("give min and max (an integer or continuous range), or values (categorical)")
        if self.min > self.max:
            raise ValueError(f"min {self.min} is greater than max {self.max}")
        # IntegerParameterRange/ContinuousParameterRange: Logarithmic needs MinValue > 0;
        # ReverseLogarithmic is for continuous ranges within [0, 1).
        if self.scaling is RangeScaling.LOGARITHMIC and self.min <= 0:
            raise ValueError("Logarithmic scaling needs min > 0")
        if self.scaling is RangeScaling.REVERSE_LOGARITHMIC and not 0 <= self.min < self.max < 1:
            raise ValueError("ReverseLogarithmic scaling needs 0 <= min < max < 1")
        return self

    @property
    def categorical(self) -> bool:
        return self.values is not None


def _default_ranges() -> dict[str, HyperparameterRange]:
    return {
        "eta": HyperparameterRange(min=0.05, max=0.5, scaling=RangeScaling.LOGARITHMIC),
        "max_depth": HyperparameterRange(min=2, max=8),
    }


class Tuning(FrozenModel):
    """Hyperparameter tuning of the Train step (off by default: one training job).

    On, Train becomes a tuning job of ``max_jobs`` training jobs (``max_parallel_jobs`` at a
    time) over ``ranges``; its objective is the quality gate's metric on the validation split
    (``validation:<metric>``, maximized for scores, minimized for errors), and the best job's
    model is evaluated, gated and registered.
    """

    enabled: bool = False
    strategy: TuningStrategy = TuningStrategy.BAYESIAN
    # ResourceLimits.MaxNumberOfTrainingJobs and MaxParallelTrainingJobs: at least 1 (botocore's
    # sagemaker model); larger values are capped by your account's service quotas. Grid runs
    # one job per combination of values: leave max_jobs out, or give exactly that number.
    max_jobs: int | None = Field(default=None, ge=1)
    max_parallel_jobs: int = Field(default=2, ge=1)
    ranges: dict[str, HyperparameterRange] = Field(default_factory=_default_ranges)
    # HyperParameterTuningJobConfig.RandomSeed (>= 0 in the model; the SDK drops a seed of 0).
    random_seed: int | None = Field(default=None, ge=1)

    @field_validator("strategy", mode="before")
    @classmethod
    def _supported_strategy(cls, value: Any) -> Any:
        if value == "Hyperband":
            raise ValueError(
                "Hyperband is not supported: it stops training jobs early from the metrics they stream "
                "every epoch, which the local cloud cannot emulate; use Bayesian, Random or Grid"
            )
        return value

    @field_validator("ranges")
    @classmethod
    def _known_hyperparameters(cls, ranges: dict[str, HyperparameterRange]) -> dict[str, HyperparameterRange]:
        if not ranges:
            raise ValueError("name at least one hyperparameter to tune")
        for name, spec in ranges.items():
            kind = TUNABLE_HYPERPARAMETERS.get(name)
            if kind is None:
                raise ValueError(
                    f"{name!r} is not a hyperparameter train.py reads; tune {', '.join(TUNABLE_HYPERPARAMETERS)}"
                )
            values = spec.values if spec.values is not None else (spec.min, spec.max)
            for value in values:
                try:  # train.py's own bounds (see Hyperparameters): a range outside them fails every job
                    Hyperparameters.model_validate({name: kind(float(str(value)))})
                    if kind is int and float(str(value)) != int(float(str(value))):
                        raise ValueError("not a whole number")
                except (ValueError, ValidationError) as exc:
                    reason = exc.errors()[0]["msg"] if isinstance(exc, ValidationError) else str(exc)
                    raise ValueError(f"{name}: {value!r} is not a valid {name} ({reason})") from None
            if kind is int and spec.scaling is RangeScaling.REVERSE_LOGARITHMIC:
                raise ValueError(f"{name}: ReverseLogarithmic scaling is for continuous ranges only")
        return ranges

    @model_validator(mode="after")
    def _limits_fit_the_strategy(self) -> Tuning:
        if self.strategy is TuningStrategy.GRID:
            # "Grid search ... only categorical parameters" (SageMaker developer guide, "Understand
            # the hyperparameter tuning strategies available in Amazon SageMaker AI").
            numeric = sorted(n for n, r in self.ranges.items() if not r.categorical)
            if numeric:
                raise ValueError(f"the Grid strategy takes categorical ranges (values) only, not {numeric}")
            combinations = math.prod(len(r.values or ()) for r in self.ranges.values())
            if self.max_jobs is not None and self.max_jobs != combinations:
                raise ValueError(
                    f"with the Grid strategy max_jobs ({self.max_jobs}) must equal the number of "
                    f"combinations of values ({combinations}), or be left out"
                )
        if self.max_parallel_jobs > self.jobs:
            raise ValueError(
                f"max_parallel_jobs ({self.max_parallel_jobs}) is more than the {self.jobs} jobs to run"
            )
        return self

    @property
    def jobs(self) -> int:
        """How many training jobs the tuning job runs."""
        if self.max_jobs is not None:
            return self.max_jobs
        if self.strategy is TuningStrategy.GRID:
            return math.prod(len(r.values or ()) for r in self.ranges.values())
        return DEFAULT_TUNING_JOBS


class Deployment(FrozenModel):
    """Blue/green policy; limits are the ones SageMaker's UpdateEndpoint enforces."""

    traffic_type: TrafficType = TrafficType.CANARY
    canary_percent: int = Field(default=10, ge=1, le=50)
    # TrafficRoutingConfig.LinearStepSize: "Value must be 10-50% of the variant's total
    # instance count" (SageMaker API reference, TrafficRoutingConfig).
    linear_step_percent: int = Field(default=20, ge=10, le=50)
    wait_interval_seconds: int = Field(default=300, ge=0, le=3600)
    termination_wait_seconds: int = Field(default=120, ge=0, le=3600)
    max_execution_timeout_seconds: int = Field(default=3600, ge=600, le=28800)
    poll_interval_seconds: int = Field(default=30, ge=1, le=600)
    max_polls: int = Field(default=240, ge=1, le=2000)
    latency_alarm_threshold_ms: int = Field(default=500, ge=1)
    error_alarm_threshold: int = Field(default=1, ge=1)


class Drift(FrozenModel):
    psi_threshold: float = Field(default=0.2, gt=0.0)
    js_threshold: float = Field(default=0.1, gt=0.0, le=1.0)
    min_samples: int = Field(default=200, ge=10)
    window_hours: int = Field(default=24, ge=1, le=24 * 30)
    schedule: str = "rate(1 hour)"


# ---- stages: one approved model promoted from account to account (README "Promotion across accounts")
class ApprovalMode(StrEnum):
    """How a stage accepts a package the previous stage deployed."""

    AUTOMATIC = "automatic"  # at once
    MANUAL = "manual"  # someone approves it in that stage's registry within timeout_seconds
    BAKE = "bake"  # once it has served in the previous stage for bake_seconds without a rollback


class ApprovalRule(FrozenModel):
    mode: ApprovalMode = ApprovalMode.AUTOMATIC
    # The waits are those of the outer loop's AwaitApproval (60 s to a year) and a bake of at
    # most 30 days (a package that baked longer is old news).
    timeout_seconds: int | None = Field(default=None, ge=60, le=365 * 24 * 3600)
    bake_seconds: int | None = Field(default=None, ge=0, le=30 * 24 * 3600)

    @model_validator(mode="after")
    def _fields_fit_the_mode(self) -> ApprovalRule:
        if self.mode is ApprovalMode.MANUAL and self.timeout_seconds is None:
            raise ValueError("a manual approval needs timeout_seconds (after it, the package is rejected)")
        if self.mode is not ApprovalMode.MANUAL and self.timeout_seconds is not None:
            raise ValueError(f"timeout_seconds is for a manual approval, not {self.mode.value}")
        if self.mode is ApprovalMode.BAKE and self.bake_seconds is None:
            raise ValueError("a bake approval needs bake_seconds (how long the previous stage must serve it)")
        if self.mode is not ApprovalMode.BAKE and self.bake_seconds is not None:
            raise ValueError(f"bake_seconds is for a bake approval, not {self.mode.value}")
        return self


class StageSpec(FrozenModel):
    """One stage of the promotion path: where it runs, how it deploys, what lets a package in."""

    name: Stage
    account_id: str = Field(pattern=r"^\d{12}$")
    region: str = Field(pattern=r"^[a-z]{2}(-gov)?-[a-z]+-\d$")
    approval: ApprovalRule = Field(default_factory=ApprovalRule)
    # This stage's blue/green policy; without one, the top-level ``deployment``.
    deployment: Deployment | None = None


def _stage_label(items: Any, index: Any) -> Any:
    """The stage's name for an error at ``stages.<index>``, when the item has a usable one."""
    if isinstance(index, int) and isinstance(items, list | tuple) and index < len(items):
        item = items[index]
        name = item.get("name") if isinstance(item, dict) else getattr(item, "name", None)
        if isinstance(name, str) and name:
            return str(name)
    return index


def _named_stage_errors(value: Any, exc: ValidationError) -> ValidationError:
    """``exc`` with each ``stages.<index>`` location naming the stage instead (``stages.prod.region``)."""
    return ValidationError.from_exception_data(
        "DualloopConfig",
        [
            InitErrorDetails(
                type=PydanticCustomError("stage", "{message}", {"message": err["msg"]}),
                # pydantic puts "stages" in front
                loc=(_stage_label(value, err["loc"][0]), *err["loc"][1:]) if err["loc"] else (),
                input=err.get("input"),
            )
            for err in exc.errors()
        ],
    )


def _check_path(stages: tuple[StageSpec, ...]) -> tuple[StageSpec, ...]:
    names = [s.name.value for s in stages]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise ValueError(f"stage {twice[0]} is listed twice: each stage deploys once, in order")
    if stages and stages[0].approval.mode is ApprovalMode.BAKE:
        raise ValueError(f"stage {names[0]}: the first stage has no previous stage to bake in")
    return stages


def stage_path(cfg: DualloopConfig) -> tuple[StageSpec, ...]:
    """The promotion path: ``stages`` as configured, or the single stage ``stage`` describes."""
    if cfg.stages:
        return cfg.stages
    return (StageSpec(name=cfg.stage, account_id=cfg.account_id, region=cfg.region),)


def stage_config(cfg: DualloopConfig, name: str) -> DualloopConfig:
    """The config of stage ``name``: its account, region and deployment policy; names from it."""
    path = stage_path(cfg)
    spec = next((s for s in path if s.name.value == name), None)
    if spec is None:
        raise ConfigError(
            f"stage {name!r} is not in stages ({', '.join(s.name.value for s in path)}): "
            "add it to the stages list in the config file"
        )
    update: dict[str, Any] = {"stage": spec.name, "account_id": spec.account_id, "region": spec.region}
    if spec.deployment is not None:
        update["deployment"] = spec.deployment
    if spec.approval.timeout_seconds is not None:
        update["approval_timeout_seconds"] = spec.approval.timeout_seconds
    return cfg.model_copy(update=update)


class DualloopConfig(BaseSettings):
    """Everything both loops and the infrastructure are configured by."""

    model_config = SettingsConfigDict(
        env_prefix="DUALLOOP_",
        env_nested_delimiter="__",
        extra="forbid",
        frozen=True,
    )

    project: str = "dualloop"
    stage: Stage = Stage.DEV
    region: str = Field(default="us-east-1", pattern=r"^[a-z]{2}(-gov)?-[a-z]+-\d$")
    account_id: str = Field(default="123456789012", pattern=r"^\d{12}$")
    # Bucket names default to "<project>-<stage>-<purpose>-<account>" (see shared.naming).
    raw_bucket: str | None = None
    curated_bucket: str | None = None
    artifact_bucket: str | None = None
    raw_prefix: str = "raw/"
    curated_prefix: str = "curated/"
    artifact_prefix: str = "pipelines/"
    model_package_group: str | None = None
    dataset: DataSchema = Field(default_factory=DataSchema)
    quality: Quality = Field(default_factory=Quality)
    hyperparameters: Hyperparameters = Field(default_factory=Hyperparameters)
    instances: Instances = Field(default_factory=Instances)
    deployment: Deployment = Field(default_factory=Deployment)
    drift: Drift = Field(default_factory=Drift)
    tuning: Tuning = Field(default_factory=Tuning)
    approval_timeout_seconds: int = Field(default=7 * 24 * 3600, ge=60, le=365 * 24 * 3600)
    pipeline_timeout_seconds: int = Field(default=6 * 3600, ge=60, le=7 * 24 * 3600)
    # RunInnerPipeline waits for the pipeline relay this long at a time, then checks the
    # pipeline itself: a lost event costs at most this, not the whole pipeline timeout.
    pipeline_check_interval_seconds: int = Field(default=1800, ge=60, le=24 * 3600)
    # The DQDL ruleset of the DataQuality step: a path (relative to the config file that sets
    # it; see _with_ruleset_resolved), an s3:// URI, or the name of a ruleset packaged with
    # dualloop (outer_orchestrator/quality/*.dqdl). README: "Your data".
    ruleset: str = Field(default="transactions.dqdl", min_length=1)
    notification_emails: tuple[str, ...] = ()
    # The promotion path (dev -> staging -> prod), each stage with its account; empty: one
    # stage, ``stage`` (then ``stage_path`` is that one).
    stages: tuple[StageSpec, ...] = ()

    @field_validator("stages", mode="wrap")
    @classmethod
    def _stages(cls, value: Any, handler: ValidatorFunctionWrapHandler) -> Any:
        try:
            stages: tuple[StageSpec, ...] = handler(value)
        except ValidationError as exc:
            raise _named_stage_errors(value, exc) from None
        return _check_path(stages)

    @model_validator(mode="before")
    @classmethod
    def _this_stage_from_stages(cls, data: Any) -> Any:
        """With ``stages``, this process's stage (``stage``) takes its account, region and deployment
        policy from its entry there: written once, and a top-level value that disagrees is refused."""
        if not isinstance(data, dict) or not isinstance(data.get("stages"), list | tuple):
            return data
        stage = data.get("stage", Stage.DEV)
        name = getattr(stage, "value", stage)
        spec = next((s for s in data["stages"] if isinstance(s, dict) and s.get("name") == name), None)
        if spec is None:
            return data
        out = dict(data)
        for field in ("account_id", "region", "deployment"):
            if spec.get(field) is None:
                continue  # not given for this stage (a dumped config writes None)
            if field in data and data[field] != spec[field]:
                raise ValueError(
                    f"{field} {data[field]!r} differs from stages.{name}.{field} {spec[field]!r}: "
                    f"give it once, in the stages entry of {name}"
                )
            out[field] = spec[field]
        return out

    @model_validator(mode="before")
    @classmethod
    def _default_gate(cls, data: Any) -> Any:
        """Fill in the quality gate the problem type implies when config leaves it out."""
        if not isinstance(data, dict):
            return data
        dataset, quality = data.get("dataset"), data.get("quality")
        kind = (
            dataset.get("problem_type")
            if isinstance(dataset, dict)
            else getattr(dataset, "problem_type", None)
        )
        if kind not in set(ProblemType) or not (quality is None or isinstance(quality, dict)):
            return data  # a bad problem type is reported by its own field; a Quality is complete
        metric, threshold = DEFAULT_GATE[ProblemType(kind)]
        quality = dict(quality or {})
        if "metric" not in quality:
            quality["metric"] = metric
        if "threshold" not in quality and quality["metric"] == metric:
            quality["threshold"] = threshold
        elif "threshold" not in quality and quality["metric"] in LOWER_IS_BETTER:
            raise ValueError(
                f"quality.threshold is required with quality.metric {quality['metric']!r}: "
                "its scale is your target's (the largest error you accept)"
            )
        return {**data, "quality": quality}

    @model_validator(mode="after")
    def _gate_fits_problem(self) -> DualloopConfig:
        kind = self.dataset.problem_type
        if self.quality.metric not in GATE_METRICS[kind]:
            raise ValueError(
                f"quality.metric {self.quality.metric!r} does not apply to a {kind.value} problem; "
                f"use one of {', '.join(GATE_METRICS[kind])}"
            )
        return self

    @model_validator(mode="after")
    def _tuning_fits_problem(self) -> DualloopConfig:
        kind = self.dataset.problem_type
        if (
            self.tuning.enabled
            and "scale_pos_weight" in self.tuning.ranges
            and kind is not ProblemType.BINARY
        ):
            raise ValueError(
                "tuning.ranges.scale_pos_weight weighs a binary target's positive class; "
                f"a {kind.value} problem has none: leave it out"
            )
        return self

    @model_validator(mode="after")
    def _blue_green_fits_the_fleet(self) -> DualloopConfig:
        # TrafficRoutingConfig.CanarySize/LinearStepSize: "Value must be less than or equal to
        # 50% of the variant's total instance count" (SageMaker API reference); a step is at
        # least one instance, so CANARY and LINEAR need two or more.
        kind, count = self.deployment.traffic_type, self.instances.inference_instance_count
        if kind is not TrafficType.ALL_AT_ONCE and count < 2:
            size = "CanarySize" if kind is TrafficType.CANARY else "LinearStepSize"
            # Reported at the instance count (the field to fix), not at the config as a whole.
            raise ValidationError.from_exception_data(
                "DualloopConfig",
                [
                    InitErrorDetails(
                        type=PydanticCustomError(
                            "blue_green_fleet",
                            "traffic_type {kind} needs 2 or more instances: SageMaker refuses it, since "
                            "{size} 'must be less than or equal to 50% of the variant's total instance "
                            "count'. Raise instances.inference_instance_count, or use "
                            "deployment.traffic_type ALL_AT_ONCE (still baked and rolled back on the alarms)",
                            {"kind": kind.value, "size": size},
                        ),
                        loc=("instances", "inference_instance_count"),
                        input=count,
                    )
                ],
            )
        return self

    @field_validator("ruleset")
    @classmethod
    def _ruleset_location(cls, v: str) -> str:
        if v.startswith("s3://"):
            bucket, _, key = v.removeprefix("s3://").partition("/")
            if not _BUCKET_RE.match(bucket) or not key or key.endswith("/"):
                raise ValueError(f"{v!r} is not an S3 object URI (s3://bucket/key.dqdl)")
            return v
        path = Path(v).expanduser()
        if path.is_absolute() and not path.is_file():
            raise ValueError(f"no ruleset file at {v}")
        if path.is_absolute():
            return str(path)
        # A config file's relative path is already absolute (_with_ruleset_resolved); this one
        # came from the environment or the caller: the working directory's, or a packaged name.
        found = Path.cwd() / path
        if found.is_file():
            return str(found.resolve())
        if len(path.parts) > 1:
            raise ValueError(f"no ruleset file at {v} (relative to the working directory {Path.cwd()})")
        return v

    @field_validator("project")
    @classmethod
    def _project_name(cls, v: str) -> str:
        if not _PROJECT_RE.match(v):
            raise ValueError(
                "must be 3-22 chars of lowercase letters, digits and '-', starting with a letter"
            )
        return v

    @field_validator("raw_bucket", "curated_bucket", "artifact_bucket")
    @classmethod
    def _bucket_name(cls, v: str | None) -> str | None:
        if v is not None and not _BUCKET_RE.match(v):
            raise ValueError(
                f"{v!r} is not a valid S3 bucket name (3-63 chars: lowercase letters, digits, '.', '-')"
            )
        return v

    @field_validator("raw_prefix", "curated_prefix", "artifact_prefix")
    @classmethod
    def _prefix(cls, v: str) -> str:
        if v.startswith("/") or not _PREFIX_RE.match(v):
            raise ValueError(f"{v!r} is not a valid S3 key prefix (no leading '/', safe characters only)")
        return v if v.endswith("/") else v + "/"

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        file = os.environ.get(CONFIG_FILE_ENV)
        if file:
            sources.append(InitSettingsSource(settings_cls, init_kwargs=_read_config_file(Path(file))))
        return tuple(sources)


def _read_file(path: Path) -> dict[str, Any]:
    if path.is_dir():
        raise ConfigError(f"config file {path} is a directory, not a YAML or TOML file")
    if not path.is_file():
        raise ConfigError(f"config file {path} does not exist")
    import yaml  # only config files need it (keeps Lambda packages small)

    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ConfigError(f"config file {path} is not text (UTF-8): give a YAML or TOML file") from None
    except OSError as exc:
        raise ConfigError(f"config file {path} cannot be read: {exc.strerror or exc}") from None
    try:
        data = tomllib.loads(text) if path.suffix == ".toml" else yaml.safe_load(text)
    except (tomllib.TOMLDecodeError, yaml.YAMLError) as exc:
        raise ConfigError(
            f"config file {path} is not valid {path.suffix.lstrip('.').upper()}: {exc}"
        ) from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"config file {path} must hold a mapping of settings at the top level")
    return data


def _read_config_file(path: Path) -> dict[str, Any]:
    """The file's settings, its ``ruleset`` path made absolute (see ``_with_ruleset_resolved``)."""
    return _with_ruleset_resolved(_read_file(path), path.parent)


def _with_ruleset_resolved(data: dict[str, Any], base: Path) -> dict[str, Any]:
    """A relative ``ruleset`` is a file next to the config file that names it (``base``), not
    one inside the installed package: it is made absolute when that file exists. A bare name
    with no such file stays a name, for the packaged rulesets (``transactions.dqdl``)."""
    value = data.get("ruleset")
    if not isinstance(value, str) or value.startswith("s3://") or Path(value).expanduser().is_absolute():
        return data
    candidate = base / value
    if candidate.is_file():
        return {**data, "ruleset": str(candidate.resolve())}
    if len(Path(value).parts) > 1:
        raise ConfigError(f"ruleset: no file {value} relative to the config file's folder {base.resolve()}")
    return data


def load_config(path: str | Path | None = None, **overrides: Any) -> DualloopConfig:
    """Load and validate the configuration; raise ``ConfigError`` naming each bad field.

    ``path`` (YAML or TOML) takes the place of ``DUALLOOP_CONFIG_FILE``; environment
    variables still win over the file, and ``overrides`` win over both.
    """
    unknown = unknown_variables(os.environ)
    if unknown:
        raise ConfigError("; ".join(unknown))
    try:
        if path is None:
            return DualloopConfig(**overrides)
        merged = _deep_merge(_read_config_file(Path(path)), _env_values())
        return DualloopConfig.model_validate(_deep_merge(merged, overrides))
    except ValidationError as exc:
        raise ConfigError(_describe(exc)) from None


def unknown_variables(environ: Mapping[str, str]) -> list[str]:
    """One sentence per ``DUALLOOP_*`` variable that is neither a setting nor in ``OTHER_VARIABLES``."""
    problems = []
    for name in sorted(environ):
        upper = name.upper()  # pydantic-settings reads names case-insensitively
        if (
            not upper.startswith(ENV_PREFIX)
            or upper in OTHER_VARIABLES | _STAGE_PROFILES
            or _is_setting(upper)
        ):
            continue
        closest = difflib.get_close_matches(upper, sorted(_known_variables()), n=1, cutoff=0.6)
        hint = f"the closest is {closest[0]}" if closest else "see the configuration table in README.md"
        problems.append(f"environment variable {name} is not a dualloop setting ({hint}); rename or unset it")
    return problems


# DUALLOOP_PROFILE_<STAGE>: the AWS profile that acts in that stage's account
# (outer_orchestrator/stage_sessions.py).
_STAGE_PROFILES = frozenset(f"{ENV_PREFIX}PROFILE_{stage.name}" for stage in Stage)


def _is_setting(name: str) -> bool:
    """``DUALLOOP_<FIELD>`` or ``DUALLOOP_<SECTION>__<FIELD>...`` naming a field of the config."""
    model: type[BaseModel] = DualloopConfig
    parts = name.removeprefix(ENV_PREFIX).lower().split("__")
    for depth, part in enumerate(parts, start=1):
        field = model.model_fields.get(part)
        if field is None:
            return False
        if depth < len(parts):
            inner = field.annotation
            if not (isinstance(inner, type) and issubclass(inner, BaseModel)):
                return False
            model = inner
    return True


def _known_variables() -> set[str]:
    names = set(OTHER_VARIABLES | _STAGE_PROFILES)
    for name, field in DualloopConfig.model_fields.items():
        names.add(f"{ENV_PREFIX}{name.upper()}")
        inner = field.annotation
        if isinstance(inner, type) and issubclass(inner, BaseModel):
            names.update(f"{ENV_PREFIX}{name.upper()}__{sub.upper()}" for sub in inner.model_fields)
    return names


def _env_values() -> dict[str, Any]:
    """The DUALLOOP_* environment, parsed by pydantic-settings alone (no defaults)."""
    return EnvSettingsSource(DualloopConfig)()


def _deep_merge(base: dict[str, Any], top: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in top.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _deep_merge(out[key], value)
        else:
            out[key] = value
    return out


def _describe(exc: ValidationError) -> str:
    lines = []
    for err in exc.errors():
        field = ".".join(str(p) for p in err["loc"]) or "(config)"
        value = err.get("input")
        shown = f" (got {value!r})" if not isinstance(value, dict | list) and value is not None else ""
        lines.append(f"  {field}: {err['msg']}{shown}")
    return "invalid dualloop configuration:\n" + "\n".join(lines)

"""The built-in XGBoost algorithm's hyperparameters, validated as its container validates them.

Follows aws/sagemaker-xgboost-container ``algorithm_mode/hyperparameter_validation.py`` and the
``sagemaker_algorithm_toolkit`` it uses: aliases replaced (``learning_rate`` -> ``eta`` ...),
``num_round`` required, unknown names rejected, values parsed then range-checked, then the
cross-parameter rules (``num_class`` for ``multi:*``, ``auc`` only for ``binary:``/``rank:``).
The messages are the toolkit's, raised as ``UserError`` (FailureReason ``ClientError: ...``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

# xgb_constants.py: the metrics the container knows, and which way each is better.
MAXIMIZE_METRICS = (
    "accuracy", "auc", "aucpr", "balanced_accuracy", "f1", "f1_binary", "f1_macro", "map", "ndcg",
    "precision", "r2", "recall", "precision_macro", "precision_micro", "recall_macro", "recall_micro",
)  # fmt: skip
MINIMIZE_METRICS = (
    "aft-nloglik", "cox-nloglik", "error", "gamma-deviance", "gamma-nloglik", "interval-regression-accuracy",
    "logloss", "mae", "mape", "merror", "mlogloss", "mphe", "mse", "poisson-nloglik", "rmse", "rmsle",
    "tweedie-nloglik",
)  # fmt: skip
OBJECTIVES = (
    "binary:logistic", "binary:logitraw", "binary:hinge", "count:poisson", "multi:softmax", "multi:softprob",
    "rank:pairwise", "rank:ndcg", "rank:map", "reg:linear", "reg:squarederror", "reg:logistic", "reg:gamma",
    "reg:pseudohubererror", "reg:squaredlogerror", "reg:absoluteerror", "reg:quantileerror", "reg:tweedie",
    "survival:aft", "survival:cox",
)  # fmt: skip
ALIASES = {"learning_rate": "eta", "min_split_loss": "gamma", "reg_lambda": "lambda", "reg_alpha": "alpha"}
# Hyperparameters the container reads itself; the rest go to xgb.train's params.
CONTAINER_ONLY = ("num_round", "early_stopping_rounds", "csv_weights", "_tuning_objective_metric", "_kfold",
                  "_num_cv_round", "save_model_on_termination")  # fmt: skip


class UserError(Exception):
    """The job's input is wrong (the toolkit's ``exceptions.UserError``: ``ClientError: ...``)."""


@dataclass(frozen=True)
class Interval:
    min_open: float | None = None
    min_closed: float | None = None
    max_open: float | None = None
    max_closed: float | None = None

    def __contains__(self, value: object) -> bool:
        if not isinstance(value, int | float) or (isinstance(value, float) and math.isnan(value)):
            return False
        return not (
            (self.min_open is not None and value <= self.min_open)
            or (self.min_closed is not None and value < self.min_closed)
            or (self.max_open is not None and value >= self.max_open)
            or (self.max_closed is not None and value > self.max_closed)
        )

    def __str__(self) -> str:
        low = (
            f"({_num(self.min_open)}, "
            if self.min_open is not None
            else (f"[{_num(self.min_closed)}, " if self.min_closed is not None else "(-inf, ")
        )
        high = (
            f"{_num(self.max_open)})"
            if self.max_open is not None
            else (f"{_num(self.max_closed)}]" if self.max_closed is not None else "+inf)")
        )
        return low + high  # fmt: skip


def _num(value: float | None) -> str:
    return str(int(value)) if value is not None and float(value).is_integer() else str(value)


@dataclass(frozen=True)
class Spec:
    kind: str  # int | float | cat | list | text
    range: Interval | tuple[str, ...] | None = None


def _i(**bounds: float) -> Spec:
    return Spec("int", Interval(**bounds))


def _f(**bounds: float) -> Spec:
    return Spec("float", Interval(**bounds))


def _c(*values: str) -> Spec:
    return Spec("cat", tuple(values))


SPECS: dict[str, Spec] = {
    "num_round": _i(min_closed=1),
    "csv_weights": _i(min_closed=0, max_closed=1),
    "early_stopping_rounds": _i(min_closed=1),
    "booster": _c("gbtree", "gblinear", "dart"),
    "verbosity": _i(min_closed=0, max_closed=3),
    "nthread": _i(min_closed=1),
    "eta": _f(min_closed=0, max_closed=1),
    "gamma": _f(min_closed=0),
    "max_depth": _i(min_closed=0),
    "min_child_weight": _f(min_closed=0),
    "max_delta_step": _f(min_closed=0),
    "subsample": _f(min_open=0, max_closed=1),
    "colsample_bytree": _f(min_open=0, max_closed=1),
    "colsample_bylevel": _f(min_open=0, max_closed=1),
    "colsample_bynode": _f(min_open=0, max_closed=1),
    "lambda": _f(min_closed=0),
    "alpha": _f(min_closed=0),
    "tree_method": _c("auto", "exact", "approx", "hist", "gpu_hist"),
    "sketch_eps": _f(min_open=0, max_open=1),
    "scale_pos_weight": _f(min_open=0),
    "updater": Spec("text"),
    "dsplit": _c("row", "col"),
    "refresh_leaf": _i(min_closed=0, max_closed=1),
    "process_type": _c("default", "update"),
    "grow_policy": _c("depthwise", "lossguide"),
    "max_leaves": _i(min_closed=0),
    "max_bin": _i(min_closed=0),
    "predictor": _c("auto", "cpu_predictor", "gpu_predictor"),
    "monotone_constraints": Spec("text"),
    "interaction_constraints": Spec("text"),
    "sample_type": _c("uniform", "weighted"),
    "normalize_type": _c("tree", "forest"),
    "rate_drop": _f(min_closed=0, max_closed=1),
    "one_drop": _i(min_closed=0, max_closed=1),
    "skip_drop": _f(min_closed=0, max_closed=1),
    "lambda_bias": _f(min_closed=0, max_closed=1),
    "tweedie_variance_power": _f(min_open=1, max_open=2),
    "objective": _c(*OBJECTIVES),
    "num_class": _i(min_closed=2),
    "base_score": _f(min_closed=0),
    "_kfold": _i(min_closed=2),
    "_num_cv_round": _i(min_closed=1),
    "_tuning_objective_metric": Spec(
        "cat", tuple(f"{c}:{m}" for c in ("train", "validation") for m in MAXIMIZE_METRICS + MINIMIZE_METRICS)
    ),
    "eval_metric": Spec("list"),
    "seed": _i(min_open=-(2**31), max_open=2**31 - 1),
    "num_parallel_tree": _i(min_closed=1),
    "save_model_on_termination": _c("true", "false"),
    "aft_loss_distribution": _c("normal", "logistic", "extreme"),
    "aft_loss_distribution_scale": _f(min_closed=0),
    "deterministic_histogram": _c("true", "false"),
    "sampling_method": _c("uniform", "gradient_based"),
    "single_precision_histogram": _c("true", "false"),
    "prob_buffer_row": _i(min_open=1),
    "max_cat_to_onehot": _i(min_closed=1),
    "quantile_alpha": Spec("text"),
    "huber_slope": _f(min_closed=0),
}


def _parse(spec: Spec, raw: Any) -> Any:
    text = str(raw).strip()
    if spec.kind == "int":
        return int(text)  # as the container: "10.0" is not an integer
    if spec.kind == "float":
        return float(text)
    if spec.kind == "list":
        return text.split(",")
    return text


def _check_eval_metric(metrics: list[str]) -> None:
    for metric in metrics:
        if "@" in metric:
            name, _, threshold = metric.partition("@")
            if name.strip() not in ("error", "ndcg", "map"):
                raise UserError(
                    f"Metric '{metric}' is not supported. Parameter 'eval_metric' with customized threshold "
                    "should be one of these options: 'error', 'ndcg', 'map'."
                )
            try:
                float(threshold)
            except ValueError:
                raise UserError(f"Threshold value 't' in '{name}@t' expects float input.") from None
        elif metric not in MAXIMIZE_METRICS + MINIMIZE_METRICS:
            supported = list(MAXIMIZE_METRICS + MINIMIZE_METRICS)
            raise UserError(f"Hyperparameter eval_metric: value {metrics} not in range {supported}")


def _dependencies(values: Mapping[str, Any]) -> None:
    objective = values.get("objective")
    num_class = values.get("num_class")
    if objective in ("multi:softmax", "multi:softprob") and num_class is None:
        raise UserError("Require input for parameter 'num_class' for multi-classification")
    if objective is None and num_class is not None:
        raise UserError(
            "Do not need to setup parameter 'num_class' for learning task other than multi-classification."
        )
    metrics = values.get("eval_metric") or []
    if "auc" in metrics and not str(objective or "").startswith(("binary:", "rank:")):
        raise UserError("Metric 'auc' can only be applied for classification and ranking problems.")
    if "aft-nloglik" in metrics and objective != "survival:aft":
        raise UserError("Metric 'aft-nloglik' can only be applied for 'survival:aft' objective.")


def validate(hyperparameters: Mapping[str, Any]) -> dict[str, Any]:
    """The hyperparameters parsed and checked; ``UserError`` with the container's message if not."""
    given = {ALIASES.get(k, k): v for k, v in hyperparameters.items()}
    if "num_round" not in given:
        raise UserError("Missing required hyperparameter: num_round")
    values: dict[str, Any] = {}
    for name, raw in given.items():
        spec = SPECS.get(name)
        if spec is None:
            raise UserError(f"Extraneous hyperparameter found: {name}")
        try:
            values[name] = _parse(spec, raw)
        except ValueError as exc:
            raise UserError(f"Hyperparameter {name}: could not parse value ({exc})") from None
    for name, value in values.items():
        spec = SPECS[name]
        if name == "eval_metric":
            _check_eval_metric(value)
        elif spec.range is not None and value not in spec.range:
            shown = list(spec.range) if isinstance(spec.range, tuple) else spec.range
            raise UserError(f"Hyperparameter {name}: {value} is not in {shown}")
    _dependencies(values)
    return values


def train_params(values: Mapping[str, Any]) -> dict[str, Any]:
    """What goes to ``xgb.train`` as params (the container's own settings removed)."""
    params: dict[str, Any] = {k: v for k, v in values.items() if k not in CONTAINER_ONLY}
    params.setdefault("objective", "reg:squarederror")  # the container's default objective
    return params


def metric_direction(metric: str) -> Callable[[float, float], bool]:
    """``better(a, b)`` for a metric name (maximize or minimize), as the container declares it."""
    name = metric.split(":", 1)[-1].split("@", 1)[0]
    if name in MAXIMIZE_METRICS:
        return lambda a, b: a > b
    return lambda a, b: a < b

"""The built-in XGBoost algorithm's training, run as the job's process (its "container").

``python -m shared.local_cloud.sagemaker.algorithms.xgboost_train --opt-ml /opt/ml`` does what
aws/sagemaker-xgboost-container's ``algorithm_mode/train.py`` does on one instance: reads
``input/config/{hyperparameters,inputdataconfig}.json``, validates the hyperparameters, loads the
``train`` (required) and ``validation`` channels, trains with ``xgb.train`` (``num_round``,
``early_stopping_rounds``, ``eval_metric``; the tuning objective's metric evaluated last, so
early stopping watches it), prints one line per round as the container does,
``[i]\\ttrain-rmse:…\\tvalidation-rmse:…`` (CloudWatch shows the tabs as ``#011``), and saves the
booster as ``model/xgboost-model``. A bad hyperparameter or channel writes
``output/failure`` (``ClientError: <the container's message>``) and exits 1.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import xgboost as xgb

from shared.local_cloud.sagemaker.algorithms import xgboost_data as data
from shared.local_cloud.sagemaker.algorithms import xgboost_hyperparameters as hpv

MODEL_FILE = "xgboost-model"
# xgboost's own metrics; the container computes the others of its list itself.
NATIVE_METRICS = frozenset(
    {"rmse", "rmsle", "mae", "mape", "mphe", "logloss", "error", "merror", "mlogloss", "auc", "aucpr", "ndcg",
     "map", "poisson-nloglik", "gamma-nloglik", "cox-nloglik", "gamma-deviance", "tweedie-nloglik",
     "aft-nloglik", "interval-regression-accuracy"}
)  # fmt: skip


def _labels_from(predictions: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    if predictions.ndim == 2:
        return np.asarray(predictions.argmax(axis=1), dtype=np.float64)
    return np.asarray(predictions > 0.5, dtype=np.float64)


def _binary_counts(y: np.ndarray[Any, Any], p: np.ndarray[Any, Any]) -> tuple[float, float, float]:
    labels = _labels_from(p)
    tp = float(np.sum((labels == 1) & (y == 1)))
    fp = float(np.sum((labels == 1) & (y == 0)))
    fn = float(np.sum((labels == 0) & (y == 1)))
    return tp, fp, fn


def _precision(y: np.ndarray[Any, Any], p: np.ndarray[Any, Any]) -> float:
    tp, fp, _ = _binary_counts(y, p)
    return tp / (tp + fp) if tp + fp else 0.0


def _recall(y: np.ndarray[Any, Any], p: np.ndarray[Any, Any]) -> float:
    tp, _, fn = _binary_counts(y, p)
    return tp / (tp + fn) if tp + fn else 0.0


def _f1(y: np.ndarray[Any, Any], p: np.ndarray[Any, Any]) -> float:
    precision, recall = _precision(y, p), _recall(y, p)
    return 2 * precision * recall / (precision + recall) if precision + recall else 0.0


def _r2(y: np.ndarray[Any, Any], p: np.ndarray[Any, Any]) -> float:
    total = float(np.sum((y - y.mean()) ** 2))
    return 1 - float(np.sum((y - p) ** 2)) / total if total else 0.0


# The container's own metrics (metrics/custom_metrics.py) this emulation computes.
CUSTOM_METRICS: dict[str, Callable[[np.ndarray[Any, Any], np.ndarray[Any, Any]], float]] = {
    "mse": lambda y, p: float(np.mean((y - p) ** 2)),
    "r2": _r2,
    "accuracy": lambda y, p: float(np.mean(_labels_from(p) == y)),
    "f1": _f1,
    "f1_binary": _f1,
    "precision": _precision,
    "recall": _recall,
}


def _metrics(values: dict[str, Any]) -> tuple[list[str], list[str]]:
    """(native metrics, custom metrics) in evaluation order, the tuning objective's last."""
    metrics = list(values.get("eval_metric") or [])
    objective = values.get("_tuning_objective_metric")
    if objective:
        name = str(objective).split(":", 1)[1]
        metrics = [m for m in metrics if m != name] + [name]
    native = [m for m in metrics if m.split("@", 1)[0] in NATIVE_METRICS]
    custom = [m for m in metrics if m not in native]
    unknown = [m for m in custom if m not in CUSTOM_METRICS]
    if unknown:
        raise hpv.UserError(
            f"eval_metric {', '.join(unknown)} is not computed by the local XGBoost algorithm "
            f"(it computes xgboost's own metrics and {', '.join(sorted(CUSTOM_METRICS))})"
        )
    return native, custom


def _custom_metric(names: list[str]) -> Callable[[np.ndarray[Any, Any], xgb.DMatrix], Any] | None:
    if not names:
        return None

    def evaluate(predictions: np.ndarray[Any, Any], dmatrix: xgb.DMatrix) -> list[tuple[str, float]]:
        labels = dmatrix.get_label()
        return [(name, CUSTOM_METRICS[name](labels, predictions)) for name in names]

    return evaluate


def train(opt_ml: Path) -> None:
    config = opt_ml / "input" / "config"
    raw = json.loads((config / "hyperparameters.json").read_text() or "{}")
    channels = json.loads((config / "inputdataconfig.json").read_text() or "{}")
    values = hpv.validate({k: v for k, v in raw.items() if not str(k).startswith("sagemaker_")})
    if "train" not in channels:
        raise hpv.UserError("Channel 'train' is required but not found (channels given: "
                            f"{', '.join(sorted(channels)) or 'none'})")  # fmt: skip
    extra = sorted(set(channels) - {"train", "validation"})
    if extra:
        raise hpv.UserError(f"Extraneous channel found: {extra[0]}")
    kind = data.content_type(channels["train"].get("ContentType"))
    if "validation" in channels and data.content_type(channels["validation"].get("ContentType")) != kind:
        raise hpv.UserError("Channels 'train' and 'validation' must have the same ContentType")
    train_path = opt_ml / "input" / "data" / "train"
    dtrain = data.load_channel(train_path, kind, csv_weights=int(values.get("csv_weights", 0)))
    if dtrain is None:
        raise hpv.UserError(f"No data in training channel path {train_path}")
    evals = [(dtrain, "train")]
    if "validation" in channels:
        val_path = opt_ml / "input" / "data" / "validation"
        dval = data.load_channel(val_path, kind)
        if dval is None:
            raise hpv.UserError(f"No data in validation channel path {val_path}")
        evals.append((dval, "validation"))
    native, custom = _metrics(values)
    params = hpv.train_params(values)
    params.pop("eval_metric", None)
    if native:
        params["eval_metric"] = native
    print("Single node training.", flush=True)
    print(f"Train matrix has {dtrain.num_row()} rows and {dtrain.num_col()} columns", flush=True)
    try:
        booster = xgb.train(
            params,
            dtrain,
            num_boost_round=int(values["num_round"]),
            evals=evals,
            custom_metric=_custom_metric(custom),
            early_stopping_rounds=values.get("early_stopping_rounds"),
            verbose_eval=True,  # xgboost's EvaluationMonitor: "[i]\ttrain-m:v\tvalidation-m:v", as the container
        )
    except xgb.core.XGBoostError as exc:
        raise hpv.UserError(f"XGB train call failed with exception: {str(exc).splitlines()[0]}") from None
    model_dir = opt_ml / "model"
    model_dir.mkdir(parents=True, exist_ok=True)
    # The container's file name has no extension: save as UBJSON (xgboost's default) explicitly.
    saved = model_dir / f"{MODEL_FILE}.ubj"
    booster.save_model(str(saved))
    saved.rename(model_dir / MODEL_FILE)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="The built-in XGBoost algorithm (training).")
    parser.add_argument("--opt-ml", default="/opt/ml", help="the container's /opt/ml as this process sees it")
    opt_ml = Path(parser.parse_args(argv).opt_ml)
    try:
        train(opt_ml)
    except hpv.UserError as exc:
        message = f"ClientError: {exc}"
        (opt_ml / "output").mkdir(parents=True, exist_ok=True)
        (opt_ml / "output" / "failure").write_text(message)
        print(message, file=sys.stderr, flush=True)
        sys.exit(1)


if __name__ == "__main__":
    main()

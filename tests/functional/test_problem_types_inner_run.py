"""``dualloop inner run`` on your data: multiclass and regression, not just the fraud demo.

What this proves: scikit-learn's wine (3 classes) and diabetes (a number) datasets, written
to CSV and described only by a config file (schema, ``problem_type``, the quality gate), run
through the real pipeline definition on the local cloud (Preprocess validates and encodes the
target, Train fits the matching XGBoost objective, Evaluate writes Model Monitor's
``multiclass_classification_metrics`` / ``regression_metrics``, the gate reads them) to a
registered model whose metrics are the report's; and a regression gate the model misses ends
in the Fail step, with a message naming rmse, its value, ``≤`` and the threshold, and
registers nothing. What it cannot prove: SageMaker's own ConditionStep on AWS (the local
executor evaluates the same definition).
"""

from __future__ import annotations

import json
import re
import uuid
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml
from sklearn.datasets import load_diabetes, load_wine
from typer.testing import CliRunner, Result

from outer_orchestrator.status import collect
from shared.config import load_config
from shared.local_cloud import LocalCloud
from shared.naming import Names


def invoke(*args: str) -> Result:
    from shared.cli import app

    return CliRunner().invoke(app, list(args), catch_exceptions=False)


def _snake(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")


def _write_dataset(tmp_path: Path, loader: Any, target: str) -> tuple[Path, list[str]]:
    """The dataset as a CSV with an id column; its feature names in snake_case."""
    frame = loader(as_frame=True).frame
    frame.columns = [_snake(c) for c in frame.columns[:-1]] + [target]
    features = list(frame.columns[:-1])
    frame.insert(0, "row_id", [f"r{i:04d}" for i in range(len(frame))])
    path = tmp_path / f"{target}.csv"
    frame.to_csv(path, index=False)
    return path, features


def _config(tmp_path: Path, features: list[str], target: str, **settings: Any) -> Path:
    project = f"{target[:8]}-{uuid.uuid4().hex[:6]}"
    document = {
        "project": project,
        "ruleset": "transactions.dqdl",
        "dataset": {
            "id_column": "row_id",
            "target_column": target,
            "features": [{"name": f} for f in features],
            **settings.pop("dataset", {}),
        },
        "hyperparameters": {"num_round": 30, "max_depth": 3},
        **settings,
    }
    path = tmp_path / f"{project}.yaml"
    path.write_text(yaml.safe_dump(document))
    return path


def _run(data: Path, config: Path) -> tuple[int, dict[str, Any]]:
    result = invoke("inner", "run", "--input", str(data), "--config", str(config), "--json")
    return result.exit_code, json.loads(result.stdout)


def _packages(config: Path) -> list[dict[str, Any]]:
    group = Names(load_config(config)).model_package_group
    client = boto3.client("sagemaker")
    try:
        return list(client.list_model_packages(ModelPackageGroupName=group)["ModelPackageSummaryList"])
    except client.exceptions.ClientError:
        return []  # no group: nothing was ever registered


def test_wine_multiclass_is_trained_gated_and_registered(local_cloud: LocalCloud, tmp_path: Path) -> None:
    # GIVEN wine (3 classes 0, 1, 2) and a config declaring a multiclass target
    data, features = _write_dataset(tmp_path, load_wine, "cultivar")
    config = _config(
        tmp_path,
        features,
        "cultivar",
        dataset={"problem_type": "multiclass"},
        quality={"metric": "weighted_f1"},
    )

    # WHEN the pipeline runs on it
    code, run = _run(data, config)

    # THEN it succeeds, gated on weighted_f1 (threshold 0.80 by default), and registers the model
    # with Model Monitor's multiclass metrics
    assert code == 0, run
    assert run["status"] == "Succeeded"
    assert set(run["metrics"]) == {"accuracy", "weighted_precision", "weighted_recall", "weighted_f1"}
    assert run["metrics"]["weighted_f1"] >= 0.80
    assert [p["ModelPackageArn"] for p in _packages(config)] == [run["model_package_arn"]]


def test_diabetes_regression_is_trained_gated_and_registered(local_cloud: LocalCloud, tmp_path: Path) -> None:
    # GIVEN diabetes (a numeric target) and a gate any useful model passes: rmse <= 100
    # (the target's standard deviation is about 77)
    data, features = _write_dataset(tmp_path, load_diabetes, "progression")
    config = _config(
        tmp_path,
        features,
        "progression",
        dataset={"problem_type": "regression"},
        quality={"metric": "rmse", "threshold": 100.0},
    )

    # WHEN the pipeline runs on it
    code, run = _run(data, config)

    # THEN the regression metrics are registered with the model, and rmse is sqrt(mse)
    assert code == 0, run
    metrics = run["metrics"]
    assert set(metrics) == {"mse", "rmse", "mae", "r2"}
    assert metrics["rmse"] == pytest.approx(metrics["mse"] ** 0.5)
    assert 20.0 < metrics["rmse"] <= 100.0
    assert len(_packages(config)) == 1
    # AND `dualloop status` shows the package with its gated metric
    (package,) = collect(load_config(config)).packages
    assert package["quality"] == f"rmse {metrics['rmse']:.4g}"


def test_a_missed_regression_gate_fails_naming_rmse_its_value_and_the_threshold(
    local_cloud: LocalCloud, tmp_path: Path
) -> None:
    # GIVEN diabetes with a gate no model reaches: rmse <= 1 (target values run 25-346)
    data, features = _write_dataset(tmp_path, load_diabetes, "progression")
    config = _config(
        tmp_path,
        features,
        "progression",
        dataset={"problem_type": "regression"},
        quality={"metric": "rmse", "threshold": 1.0},
    )

    # WHEN the pipeline runs on it
    code, run = _run(data, config)

    # THEN it fails in the Fail step, whose message names the metric, its value, ≤ and the threshold
    assert code == 1
    assert run["status"] == "Failed"
    match = re.fullmatch(
        r"step QualityGateFailed failed: Quality gate failed: rmse (\d+\.\d+) is not ≤ the threshold 1\.0",
        run["failure_reason"],
    )
    assert match, run["failure_reason"]
    assert float(match.group(1)) > 1.0
    # AND nothing is registered
    assert _packages(config) == []


def test_a_regression_target_with_text_fails_preprocess_in_one_sentence(
    local_cloud: LocalCloud, tmp_path: Path
) -> None:
    # GIVEN diabetes whose 5th target value is text
    data, features = _write_dataset(tmp_path, load_diabetes, "progression")
    lines = data.read_text().splitlines()
    cells = lines[4].split(",")
    lines[4] = ",".join([*cells[:-1], "high"])
    data.write_text("\n".join(lines) + "\n")
    config = _config(tmp_path, features, "progression", dataset={"problem_type": "regression"})

    # WHEN the pipeline runs on it
    code, run = _run(data, config)

    # THEN Preprocess fails naming the column, the value, the line and what was expected
    assert code == 1
    assert (
        "target column 'progression' must be a number (regression), found 'high' at line 5"
        in (run["failure_reason"])
    )

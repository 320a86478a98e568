"""``dualloop inner run`` on a CSV with its original headers: nothing renamed by hand.

What this proves: scikit-learn's breast-cancer data written with its own headers (``mean
radius``, ``worst concave points`` ...) and a config naming the columns the same way runs
through the real pipeline definition on the local cloud (the input check and Preprocess name
the columns by the header rule, Train and Evaluate see the rule's names) to a registered model.
What it cannot prove: the Glue ingest on AWS (the same rule: tests/unit/test_column_names.py).
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import yaml
from sklearn.datasets import load_breast_cancer
from typer.testing import CliRunner

from shared.local_cloud import LocalCloud


def test_breast_cancer_with_its_original_headers_runs_without_renaming(
    local_cloud: LocalCloud, tmp_path: Path
) -> None:
    # GIVEN breast-cancer as scikit-learn gives it, with an id column, written as it is
    frame = load_breast_cancer(as_frame=True).frame
    frame.insert(0, "Sample ID", [f"s{i:04d}" for i in range(len(frame))])
    data = tmp_path / "breast_cancer.csv"
    frame.to_csv(data, index=False)
    features = [c for c in frame.columns if c not in ("Sample ID", "target")]
    assert "mean radius" in features
    # ... and a config that names the columns exactly as the header does
    config = tmp_path / "breast-cancer.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "project": f"bc-{uuid.uuid4().hex[:6]}",
                "ruleset": "transactions.dqdl",
                "dataset": {
                    "id_column": "Sample ID",
                    "target_column": "target",
                    "features": [{"name": f} for f in features],
                },
                "hyperparameters": {"num_round": 30, "max_depth": 3},
            }
        )
    )

    # WHEN the inner pipeline runs on it
    from shared.cli import app

    result = CliRunner().invoke(
        app, ["inner", "run", "--input", str(data), "--config", str(config), "--json"], catch_exceptions=False
    )

    # THEN it is trained, passes the default auc gate and is registered
    run = json.loads(result.stdout)
    assert result.exit_code == 0, run
    assert run["status"] == "Succeeded"
    assert run["metrics"]["auc"] >= 0.80
    assert run["model_package_arn"]

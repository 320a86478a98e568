"""Any table to a deployed endpoint in two commands: ``dualloop init`` then ``dualloop run``.

What this proves: scikit-learn's breast-cancer (binary), wine (multiclass) and diabetes
(regression) datasets, written to CSV with their original headers and no id column, go
through ``dualloop init`` (schema, problem type, config, suggested ruleset) and
``dualloop run --approve auto`` on the local cloud: the real Glue ingest (which adds the row-hash
id), the DataQuality step on the suggested ruleset (shipped from the config file's folder), the
reference pipeline, approval and a blue/green deployment; the endpoint then answers a request
keyed by the original headers with what fits the problem type. What it cannot prove: the same
on AWS (Glue's own Deequ, SageMaker's containers).
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import boto3
import pandas as pd
import pytest
from sklearn.datasets import load_breast_cancer, load_diabetes, load_wine
from typer.testing import CliRunner, Result

from shared.config import load_config
from shared.local_cloud import LocalCloud
from shared.naming import Names

DATASETS = {
    "breast-cancer": lambda: load_breast_cancer(as_frame=True).frame,
    "wine": lambda: load_wine(as_frame=True).frame,
    "diabetes": lambda: load_diabetes(as_frame=True, scaled=False).frame,
}


def invoke(*args: str) -> Result:
    from shared.cli import app

    return CliRunner().invoke(app, list(args), catch_exceptions=False)


@pytest.mark.parametrize("name", list(DATASETS))
def test_init_then_run_deploys_an_endpoint_that_answers(
    local_cloud: LocalCloud, tmp_path: Path, name: str
) -> None:
    # GIVEN the dataset as CSV with its original headers ("mean radius", "od280/od315_of_diluted_wines")
    frame: pd.DataFrame = DATASETS[name]()
    data = tmp_path / f"{name}.csv"
    frame.to_csv(data, index=False)
    project = f"{name[:8].rstrip('-')}-{uuid.uuid4().hex[:6]}"  # unique in the session's cloud

    # WHEN dualloop init writes the project, and the command it prints runs
    made = invoke(
        "init", "--data", str(data), "--target", "target", "--out", str(tmp_path / "p"), "--project", project
    )
    assert made.exit_code == 0, made.output
    config = tmp_path / "p" / "dualloop.yaml"
    run_line = next(
        line.strip() for line in made.output.splitlines() if line.strip().startswith("dualloop run")
    )
    assert run_line == f"dualloop run --config {config} --data {data} --approve auto"
    ran = invoke(*run_line.split()[1:], "--json")

    # THEN the retrain succeeds through the suggested quality gate to a deployment
    assert ran.exit_code == 0, ran.output[-3000:]
    result = json.loads(ran.stdout)
    assert result["status"] == "SUCCEEDED"
    assert result["quality"]["passed"] and result["quality"]["score"] == 1.0
    assert result["approval"] == "Approved"
    # AND the endpoint answers a request keyed by the original headers
    cfg = load_config(config)
    features = frame.drop(columns="target").head(3)
    answer = boto3.client("sagemaker-runtime").invoke_endpoint(
        EndpointName=Names(cfg).endpoint,
        ContentType="application/json",
        Accept="application/json",
        Body=json.dumps({"instances": features.to_dict(orient="records")}),
    )
    predictions = json.loads(answer["Body"].read())["predictions"]
    assert len(predictions) == 3
    if name == "breast-cancer":
        assert all(0.0 <= p["score"] <= 1.0 and p["label"] in (0, 1) for p in predictions)
    elif name == "wine":
        assert all(set(p["probabilities"]) == {"0", "1", "2"} for p in predictions)
        assert all(abs(sum(p["probabilities"].values()) - 1.0) < 1e-4 for p in predictions)
    else:
        assert all(isinstance(p["value"], float) for p in predictions)

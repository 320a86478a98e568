"""A tuned reference pipeline (``tuning.enabled``) through ``dualloop inner run`` on the local cloud.

What this proves: with tuning on, Train is a tuning job of 4 real training jobs (2 at a time)
whose objective is the gate's metric as train.py prints it on the validation split; the best
of them by that objective is the model Evaluate scores, the gate reads and the Model Registry
holds (its ModelDataUrl is the best job's artifact), and the registry's metrics are that
model's evaluation (evaluate.py run again here on the best job's artifact gives the same
report); ``inner cache-plan`` predicts a rerun's cache hits, the tuning step's included. The pipeline runs as the role the synthesized stack grants, so a missing tuning
permission would fail it. What it cannot prove: SageMaker's own Bayesian/Random search on AWS
(the local cloud's strategies follow the API, not AWS's internal sampler).
"""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import boto3
import yaml
from sklearn.datasets import load_diabetes
from typer.testing import CliRunner

from inner_pipeline.packaging import CODE_DIR
from shared.config import load_config
from shared.local_cloud import LocalCloud
from shared.naming import Names


def _dataset(tmp_path: Path) -> tuple[Path, list[str]]:
    """scikit-learn's diabetes (442 rows, a numeric target) as a CSV with an id column."""
    frame = load_diabetes(as_frame=True).frame
    frame.insert(0, "row_id", [f"r{i:04d}" for i in range(len(frame))])
    path = tmp_path / "diabetes.csv"
    frame.rename(columns={"target": "progression"}).to_csv(path, index=False)
    return path, [c for c in frame.columns if c not in ("row_id", "target")]


def _config(tmp_path: Path, features: list[str]) -> Path:
    document = {
        "project": f"tuned-{uuid.uuid4().hex[:6]}",
        "dataset": {
            "id_column": "row_id",
            "target_column": "progression",
            "problem_type": "regression",
            "features": [{"name": f} for f in features],
        },
        "quality": {"metric": "rmse", "threshold": 100.0},
        "hyperparameters": {"num_round": 30},
        "tuning": {
            "enabled": True,
            "strategy": "Random",
            "max_jobs": 4,
            "max_parallel_jobs": 2,
            "random_seed": 7,
            "ranges": {
                "max_depth": {"min": 1, "max": 6},
                "eta": {"min": 0.02, "max": 0.5, "scaling": "Logarithmic"},
            },
        },
    }
    path = tmp_path / "tuned.yaml"
    path.write_text(yaml.safe_dump(document))
    return path


def _s3_text(uri: str) -> str:
    bucket, key = uri.removeprefix("s3://").split("/", 1)
    return boto3.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read().decode()


def _evaluate_again(model_uri: str, test_uri: str, work: Path) -> dict[str, Any]:
    """evaluate.py on the given model artifact and test split, as the Evaluate step runs it."""
    s3 = boto3.client("s3")
    model_dir, test_dir, out = work / "model", work / "test", work / "evaluation"
    for d in (model_dir, test_dir):
        d.mkdir(parents=True)
    bucket, key = model_uri.removeprefix("s3://").split("/", 1)
    s3.download_file(bucket, key, str(model_dir / "model.tar.gz"))
    bucket, prefix = test_uri.removeprefix("s3://").split("/", 1)
    for item in s3.list_objects_v2(Bucket=bucket, Prefix=prefix.rstrip("/") + "/")["Contents"]:
        s3.download_file(bucket, item["Key"], str(test_dir / Path(item["Key"]).name))
    result = subprocess.run(
        [sys.executable, str(CODE_DIR / "evaluate.py"), "--model-dir", str(model_dir), "--test-dir",
         str(test_dir), "--output-dir", str(out), "--failure-file", str(work / "failure")],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    report: dict[str, Any] = json.loads((out / "evaluation.json").read_text())
    return report


def test_a_tuned_pipeline_registers_the_best_jobs_model_with_its_evaluation(
    local_cloud: LocalCloud, tmp_path: Path
) -> None:
    from shared.cli import app

    # GIVEN diabetes and a config that tunes max_depth and eta: 4 jobs, 2 at a time, rmse the objective
    data, features = _dataset(tmp_path)
    config = _config(tmp_path, features)
    cfg = load_config(config)

    # WHEN the pipeline runs
    result = CliRunner().invoke(
        app, ["inner", "run", "--input", str(data), "--config", str(config), "--json"], catch_exceptions=False
    )
    run = json.loads(result.stdout)

    # THEN it succeeds, and Train was a tuning job of 4 completed training jobs
    assert result.exit_code == 0, run
    sm = boto3.client("sagemaker")
    steps = {
        s["StepName"]: s
        for s in sm.list_pipeline_execution_steps(PipelineExecutionArn=run["execution_arn"])[
            "PipelineExecutionSteps"
        ]
    }
    tuning_name = steps["Train"]["Metadata"]["TuningJob"]["Arn"].rsplit("/", 1)[-1]
    tuning = sm.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=tuning_name)
    assert tuning["HyperParameterTuningJobStatus"] == "Completed"
    assert tuning["HyperParameterTuningJobConfig"]["HyperParameterTuningJobObjective"] == {
        "Type": "Minimize",
        "MetricName": "validation:rmse",
    }
    trials = sm.list_training_jobs_for_hyper_parameter_tuning_job(HyperParameterTuningJobName=tuning_name)[
        "TrainingJobSummaries"
    ]
    assert len(trials) == 4
    assert {t["TrainingJobStatus"] for t in trials} == {"Completed"}
    objective = {
        t["TrainingJobName"]: t["FinalHyperParameterTuningJobObjectiveMetric"]["Value"] for t in trials
    }
    assert len(set(objective.values())) > 1, "the ranges made no difference: the test would prove nothing"
    # AND the best job is the one with the lowest validation rmse
    best = tuning["BestTrainingJob"]["TrainingJobName"]
    assert objective[best] == min(objective.values())
    best_artifact = sm.describe_training_job(TrainingJobName=best)["ModelArtifacts"]["S3ModelArtifacts"]
    assert best_artifact == (
        f"s3://{Names(cfg).artifact_bucket}/{cfg.artifact_prefix}models/{best}/output/model.tar.gz"
    )

    # AND the registered model is the best job's artifact
    package = sm.describe_model_package(ModelPackageName=run["model_package_arn"])
    assert package["InferenceSpecification"]["Containers"][0]["ModelDataUrl"] == best_artifact
    # AND the registry's metrics are the best model's evaluation: evaluate.py run again on the
    # best job's artifact and the same test split gives the very report the registry points at
    registered = json.loads(_s3_text(package["ModelMetrics"]["ModelQuality"]["Statistics"]["S3Uri"]))
    evaluate = sm.describe_processing_job(
        ProcessingJobName=steps["Evaluate"]["Metadata"]["ProcessingJob"]["Arn"].rsplit("/", 1)[-1]
    )
    inputs = {i["InputName"]: i["S3Input"]["S3Uri"] for i in evaluate["ProcessingInputs"]}
    assert inputs["model"] == best_artifact
    assert _evaluate_again(best_artifact, inputs["test"], tmp_path / "again") == registered
    assert run["metrics"] == {m: v["value"] for m, v in registered["regression_metrics"].items()}

    # AND `dualloop inner cache-plan` for the same input predicts that a rerun hits the cache
    # at every cacheable step, the tuning step and the Evaluate that reads its best job included
    planned = CliRunner().invoke(
        app,
        ["inner", "cache-plan", "--input", str(data), "--config", str(config), "--json"],
        catch_exceptions=False,
    )
    assert planned.exit_code == 0, planned.stdout
    plan = {s["name"]: s["outcome"] for s in json.loads(planned.stdout)["steps"]}
    assert {name: plan[name] for name in ("Preprocess", "Train", "Evaluate")} == dict.fromkeys(
        ("Preprocess", "Train", "Evaluate"), "hit"
    ), planned.stdout

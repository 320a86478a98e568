"""A data scientist's own pipeline, run by the outer loop: started, awaited, approved, deployed.

The pipeline is the abalone-style one (``tests/byo_abalone.py``: built-in XGBoost, no entry
point, hard-coded ``/opt/ml/processing`` scripts), changed only where the outer loop's contract
asks (README, "Bring your own pipeline"): the project's pipeline name, role and model package
group, the parameters ``InputDataUri`` and ``CallbackToken``, and the evaluation report under
``<artifact prefix>executions/<execution id>/Evaluate/evaluation/``. The outer loop is the real
state machine on the local cloud (Ingest and DataQuality on Spark, the relays, blue/green
deployment); the endpoint then answers ``text/csv`` with the built-in XGBoost model the pipeline
trained. What a fake cannot prove: the images are not pulled, instance types are not provisioned.
"""

from __future__ import annotations

import io
import re
import tarfile
import uuid
from pathlib import Path
from typing import Any

import boto3
import byo_abalone
import numpy as np
import pytest
import xgboost

from outer_orchestrator.local_stack import LocalStack
from outer_orchestrator.runner import Retrain, upload_data
from shared.config import DualloopConfig, load_config
from shared.local_cloud import LocalCloud
from shared.naming import Names

FEATURES = ("age", "sex", "bmi", "bp", "s1", "s2", "s3", "s4", "s5", "s6")
# A file of the repository, not a temporary one: the same config reuses its synthesized stack.
RULESET = Path(__file__).with_name("diabetes.dqdl")


def _project() -> DualloopConfig:
    return load_config(
        project=f"byo-{uuid.uuid4().hex[:6]}",
        ruleset=str(RULESET),
        dataset={
            "id_column": "row_id",
            "target_column": "progression",
            "problem_type": "regression",
            "features": [{"name": f} for f in FEATURES],
        },
        quality={"metric": "mse", "threshold": 6000.0},
    )


def _upsert_own_pipeline(cfg: DualloopConfig, code_dir: Path) -> Any:
    """What the data scientist does: their pipeline, upserted under the project's name and role."""
    from sagemaker.core.workflow.execution_variables import ExecutionVariables
    from sagemaker.core.workflow.functions import Join

    names = Names(cfg)
    prefix = [p for p in cfg.artifact_prefix.split("/") if p]

    def output(name: str) -> Any:
        # The outer loop reads the report only under executions/<id>/Evaluate/evaluation/.
        step = ["Evaluate"] if name == "evaluation" else []
        return Join(
            on="/",
            values=[
                "s3:/",
                names.artifact_bucket,
                *prefix,
                "executions",
                ExecutionVariables.PIPELINE_EXECUTION_ID,
                *step,
                name,
            ],
        )

    layout = byo_abalone.Layout(
        name=names.pipeline,
        bucket=names.artifact_bucket,
        role=names.sagemaker_role_arn,
        group=names.model_package_group,
        input_parameter="InputDataUri",
        default_input=f"s3://{names.curated_bucket}/{cfg.curated_prefix}",
        output=output,
        extra_parameters=("CallbackToken",),
        transform=False,
    )
    pipeline = byo_abalone.build(layout, code_dir)
    pipeline.upsert(role_arn=names.sagemaker_role_arn)
    return pipeline


def _diabetes_csv(tmp_path: Path) -> Path:
    from sklearn.datasets import load_diabetes  # ships with scikit-learn: offline

    frame = load_diabetes(as_frame=True).frame.rename(columns={"target": "progression"})
    frame.insert(0, "row_id", [f"r{i:04d}" for i in range(len(frame))])
    path = tmp_path / "diabetes.csv"
    frame.to_csv(path, index=False)
    return path


def _read(uri: str) -> bytes:
    bucket, key = uri.removeprefix("s3://").split("/", 1)
    body: bytes = boto3.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
    return body


def test_the_outer_loop_runs_a_users_own_pipeline_and_deploys_its_builtin_xgboost_model(
    local_cloud: LocalCloud, tmp_path: Path
) -> None:
    # GIVEN the project provisioned, and the data scientist's own pipeline upserted in place of ours
    cfg = _project()
    LocalStack(cfg).provision()
    _upsert_own_pipeline(cfg, byo_abalone.write_code(tmp_path))
    names = Names(cfg)

    # WHEN the outer loop retrains on diabetes (442 rows), approving automatically
    retrain = Retrain(cfg)
    raw = upload_data(cfg, _diabetes_csv(tmp_path), uuid.uuid4().hex[:8])
    result = retrain.follow(retrain.start(raw), approve="auto", timeout=600)

    # THEN it ran the user's steps, waited for the callback and the approval, and deployed
    assert result.status == "SUCCEEDED", (result.error, result.cause)
    visited = [s["name"] for s in result.states]
    for state in ("Ingest", "DataQuality", "RunInnerPipeline", "AwaitApproval", "CreateEndpoint", "Done"):
        assert state in visited, visited
    steps = {s["step"]: s["status"] for s in result.inner_steps}
    assert steps == {
        "PreprocessDiabetesData": "Succeeded",
        "TrainDiabetesModel": "Succeeded",
        "EvaluateDiabetesModel": "Succeeded",
        "CheckMSEDiabetesEvaluation": "Succeeded",
        "RegisterDiabetesModel": "Succeeded",
    }
    assert result.output is not None
    mse = result.output["metrics"]["mse"]
    assert 1000 < mse < 6000  # the relay read the user's evaluation report
    package = boto3.client("sagemaker").describe_model_package(
        ModelPackageName=result.output["model_package_arn"]
    )
    assert package["ModelPackageGroupName"] == names.model_package_group
    assert package["ModelApprovalStatus"] == "Approved"
    (container,) = package["InferenceSpecification"]["Containers"]
    assert container["Image"].endswith("/sagemaker-xgboost:1.7-1")

    # WHEN five standardised rows are sent to the project's endpoint as text/csv
    with tarfile.open(fileobj=io.BytesIO(_read(container["ModelDataUrl"]))) as archive:
        member = archive.extractfile("xgboost-model")
        assert member is not None
        booster = xgboost.Booster(model_file=bytearray(member.read()))
    rows = np.random.default_rng(0).normal(size=(5, len(FEATURES)))
    body = "\n".join(",".join(f"{v:.6f}" for v in row) for row in rows)
    answer = boto3.client("sagemaker-runtime").invoke_endpoint(
        EndpointName=names.endpoint, Body=body, ContentType="text/csv"
    )

    # THEN the built-in XGBoost server answers one prediction a row: the registered model's
    online = [float(v) for v in re.split(r"[,\s]+", answer["Body"].read().decode().strip())]
    expected = booster.predict(xgboost.DMatrix(np.round(rows, 6)))
    assert online == pytest.approx(expected.tolist(), rel=1e-5)
    assert all(20 < p < 350 for p in online)  # on the diabetes targets' scale (25..346)

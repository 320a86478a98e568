"""A data scientist's own pipeline, written the way AWS's abalone example writes it
(aws/amazon-sagemaker-examples, sagemaker-pipelines "abalone"), in our own words with the SDK v3.

Preprocess (a ScriptProcessor script with hard-coded ``/opt/ml/processing`` paths) -> Train (the
built-in XGBoost algorithm, ``image_uris.retrieve("xgboost", region, "1.7-1")``, no entry point)
-> Evaluate (a script on the XGBoost image that reads ``model.tar.gz`` and writes
``evaluation.json``, a PropertyFile) -> ``ConditionLessThanOrEqualTo`` on
``regression_metrics.mse.value`` -> register (ModelMetrics) [+ CreateModel + Transform], or Fail.

Shared by ``tests/functional/test_byo_abalone_style.py`` (the pipeline on its own) and
``tests/e2e/test_byo_pipeline_outer_loop.py`` (the same pipeline started by the outer loop).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REGION = "us-east-1"

# As abalone's preprocessing.py: the container paths hard-coded, the input URI an argument. It reads
# CSV (abalone's) or Parquet (what the outer loop's Ingest writes), the target named ``target`` or
# ``progression``, and drops an id column if there is one.
PREPROCESSING = """
import argparse, pathlib
import numpy as np
import pandas as pd

if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--input-data", type=str, required=True)
    args = parser.parse_args()
    base_dir = "/opt/ml/processing"
    files = sorted(p for p in pathlib.Path(f"{base_dir}/data").rglob("*") if p.suffix in (".csv", ".parquet"))
    df = pd.concat([pd.read_parquet(p) if p.suffix == ".parquet" else pd.read_csv(p) for p in files])
    df = df.drop(columns=[c for c in ("row_id",) if c in df.columns])
    y = df.pop("target" if "target" in df.columns else "progression")
    X = (df - df.mean()) / df.std()
    table = pd.concat([y, X], axis=1).sample(frac=1.0, random_state=0).to_numpy()
    train, validation, test = np.split(table, [int(0.7 * len(table)), int(0.85 * len(table))])
    for name, part in (("train", train), ("validation", validation), ("test", test)):
        pathlib.Path(f"{base_dir}/{name}").mkdir(parents=True, exist_ok=True)
        pd.DataFrame(part).to_csv(f"{base_dir}/{name}/{name}.csv", header=False, index=False)
    # Batch input for the transform: the test features, without the label.
    pathlib.Path(f"{base_dir}/batch").mkdir(parents=True, exist_ok=True)
    pd.DataFrame(test[:, 1:]).to_csv(f"{base_dir}/batch/batch.csv", header=False, index=False)
    print("preprocessed", len(table), "rows from", args.input_data)
"""

# As abalone's evaluation.py: untar the model, score the test set, write the regression report.
EVALUATION = """
import json, pathlib, tarfile
import numpy as np
import pandas as pd
import xgboost
from sklearn.metrics import mean_squared_error

if __name__ == "__main__":
    with tarfile.open("/opt/ml/processing/model/model.tar.gz") as tar:
        tar.extractall(path=".")
    model = xgboost.Booster()
    model.load_model("xgboost-model")
    df = pd.read_csv("/opt/ml/processing/test/test.csv", header=None)
    y_test = df.iloc[:, 0].to_numpy()
    df.drop(df.columns[0], axis=1, inplace=True)
    predictions = model.predict(xgboost.DMatrix(df.values))
    mse = mean_squared_error(y_test, predictions)
    std = np.std(y_test - predictions)
    report = {"regression_metrics": {"mse": {"value": float(mse), "standard_deviation": float(std)}}}
    pathlib.Path("/opt/ml/processing/evaluation").mkdir(parents=True, exist_ok=True)
    pathlib.Path("/opt/ml/processing/evaluation/evaluation.json").write_text(json.dumps(report))
"""


def write_code(path: Path) -> Path:
    (path / "preprocessing.py").write_text(PREPROCESSING)
    (path / "evaluation.py").write_text(EVALUATION)
    return path


@dataclass(frozen=True)
class Layout:
    """Where the pipeline reads and writes, and who it runs as."""

    name: str  # the pipeline's name
    bucket: str  # the SDK session's default bucket (code uploads)
    role: str  # the pipeline's and every job's role
    group: str  # the model package group it registers into
    input_parameter: str  # the parameter naming the input data
    default_input: str
    output: Callable[[str], Any]  # output name -> its S3 URI (a string or a pipeline expression)
    extra_parameters: tuple[str, ...] = ()  # more String parameters (default ""), read by no step
    transform: bool = True  # CreateModel + Transform after the registration


def build(layout: Layout, code_dir: Path) -> Any:
    """The abalone example's get_pipeline(), in our words, with the SDK v3."""
    import boto3
    from sagemaker.core.image_uris import retrieve
    from sagemaker.core.processing import ProcessingInput, ProcessingOutput, ScriptProcessor
    from sagemaker.core.shapes import (
        MetricsSource,
        ModelMetrics,
        ModelQuality,
        ProcessingS3Input,
        ProcessingS3Output,
    )
    from sagemaker.core.transformer import Transformer
    from sagemaker.core.workflow.conditions import ConditionLessThanOrEqualTo
    from sagemaker.core.workflow.functions import Join, JsonGet
    from sagemaker.core.workflow.parameters import ParameterFloat, ParameterString
    from sagemaker.core.workflow.pipeline_context import PipelineSession
    from sagemaker.core.workflow.properties import PropertyFile
    from sagemaker.mlops.workflow import ConditionStep, FailStep, ModelStep, ProcessingStep, TrainingStep
    from sagemaker.mlops.workflow.pipeline import Pipeline
    from sagemaker.mlops.workflow.steps import TransformStep
    from sagemaker.serve.model_builder import ModelBuilder
    from sagemaker.train.configs import Compute, InputData, OutputDataConfig
    from sagemaker.train.model_trainer import ModelTrainer

    role = layout.role
    session = PipelineSession(boto_session=boto3.Session(region_name=REGION), default_bucket=layout.bucket)
    input_data = ParameterString(name=layout.input_parameter, default_value=layout.default_input)
    approval = ParameterString(name="ModelApprovalStatus", default_value="PendingManualApproval")
    mse_threshold = ParameterFloat(name="MseThreshold", default_value=6000.0)
    extra = [ParameterString(name=n, default_value="") for n in layout.extra_parameters]

    def s3_in(input_name: str, uri: Any, path: str) -> Any:
        source = ProcessingS3Input(s3_uri=uri, local_path=path, s3_data_type="S3Prefix", s3_input_mode="File")
        return ProcessingInput(input_name=input_name, s3_input=source)

    def s3_out(output_name: str) -> Any:
        target = ProcessingS3Output(
            s3_uri=layout.output(output_name),
            local_path=f"/opt/ml/processing/{output_name}",
            s3_upload_mode="EndOfJob",
        )
        return ProcessingOutput(output_name=output_name, s3_output=target)

    # Preprocess: the scikit-learn image, the script uploaded by the SDK.
    preprocess = ProcessingStep(
        name="PreprocessDiabetesData",
        step_args=ScriptProcessor(
            image_uri=retrieve("sklearn", REGION, "1.2-1"),
            command=["python3"],
            instance_type="ml.m5.xlarge",
            instance_count=1,
            base_job_name="sklearn-diabetes-preprocess",
            sagemaker_session=session,
            role=role,
        ).run(
            code=str(code_dir / "preprocessing.py"),
            inputs=[s3_in("data", input_data, "/opt/ml/processing/data")],
            outputs=[s3_out(o) for o in ("train", "validation", "test", "batch")],
            arguments=["--input-data", input_data],
        ),
    )
    outputs = preprocess.properties.ProcessingOutputConfig.Outputs

    # Train: the built-in XGBoost algorithm, hyperparameters only (abalone's, reg:squarederror).
    image_uri = retrieve("xgboost", REGION, "1.7-1")
    trainer = ModelTrainer(
        training_image=image_uri,
        role=role,
        sagemaker_session=session,
        compute=Compute(instance_type="ml.m5.xlarge", instance_count=1),
        output_data_config=OutputDataConfig(s3_output_path=layout.output("model")),
        base_job_name="diabetes-train",
        hyperparameters={
            "objective": "reg:squarederror",
            "num_round": "50",
            "max_depth": "5",
            "eta": "0.2",
            "gamma": "4",
            "min_child_weight": "6",
            "subsample": "0.7",
        },
    )
    train = TrainingStep(
        name="TrainDiabetesModel",
        step_args=trainer.train(
            input_data_config=[
                InputData(channel_name=c, data_source=outputs[c].S3Output.S3Uri, content_type="text/csv")
                for c in ("train", "validation")
            ]
        ),
    )
    model_data = train.properties.ModelArtifacts.S3ModelArtifacts

    # Evaluate: a script on the XGBoost image itself, writing the report as a PropertyFile.
    report = PropertyFile(name="DiabetesEvaluationReport", output_name="evaluation", path="evaluation.json")
    evaluate = ProcessingStep(
        name="EvaluateDiabetesModel",
        step_args=ScriptProcessor(
            image_uri=image_uri,
            command=["python3"],
            instance_type="ml.m5.xlarge",
            instance_count=1,
            base_job_name="script-diabetes-eval",
            sagemaker_session=session,
            role=role,
        ).run(
            code=str(code_dir / "evaluation.py"),
            inputs=[
                s3_in("model", model_data, "/opt/ml/processing/model"),
                s3_in("test", outputs["test"].S3Output.S3Uri, "/opt/ml/processing/test"),
            ],
            outputs=[s3_out("evaluation")],
        ),
        property_files=[report],
    )
    evaluation_uri = Join(
        on="/",
        values=[
            evaluate.properties.ProcessingOutputConfig.Outputs["evaluation"].S3Output.S3Uri,
            "evaluation.json",
        ],
    )

    def builder() -> Any:
        return ModelBuilder(
            image_uri=image_uri,
            s3_model_data_url=model_data,
            role_arn=role,
            sagemaker_session=session,
            instance_type="ml.m5.large",
        )

    register = ModelStep(
        name="RegisterDiabetesModel",
        step_args=builder().register(
            model_package_group_name=layout.group,
            content_types=["text/csv"],
            response_types=["text/csv"],
            inference_instances=["ml.t2.medium", "ml.m5.large"],
            transform_instances=["ml.m5.large"],
            approval_status=approval,
            model_metrics=ModelMetrics(
                model_quality=ModelQuality(
                    statistics=MetricsSource(content_type="application/json", s3_uri=evaluation_uri)
                )
            ),
        ),
    )
    passed: list[Any] = [register]
    if layout.transform:
        create = ModelStep(name="CreateDiabetesModel", step_args=builder().build())
        transform = TransformStep(
            name="TransformDiabetes",
            step_args=Transformer(
                model_name=create.properties.ModelName,
                instance_type="ml.m5.xlarge",
                instance_count=1,
                accept="text/csv",
                assemble_with="Line",
                output_path=layout.output("transform"),
                sagemaker_session=session,
            ).transform(data=outputs["batch"].S3Output.S3Uri, content_type="text/csv", split_type="Line"),
        )
        passed += [create, transform]
    mse = JsonGet(step_name=evaluate.name, property_file=report, json_path="regression_metrics.mse.value")
    gate = ConditionStep(
        name="CheckMSEDiabetesEvaluation",
        conditions=[ConditionLessThanOrEqualTo(left=mse, right=mse_threshold)],
        if_steps=passed,
        else_steps=[
            FailStep(
                name="DiabetesMSEFail",
                error_message=Join(on=" ", values=["Execution failed due to MSE >", mse_threshold]),
            )
        ],
    )
    return Pipeline(
        name=layout.name,
        parameters=[input_data, *extra, approval, mse_threshold],
        steps=[preprocess, train, evaluate, gate],
        sagemaker_session=session,
    )

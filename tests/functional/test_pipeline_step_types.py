"""The local SageMaker runs the step types AWS's examples use beyond processing and training:
Tuning, Transform, Lambda and Callback, plus RetryPipelineExecution, with pipelines built by
the SageMaker SDK v3 the way AWS's examples write them and run with
``pipeline.upsert / start / wait / list_steps``.

What a fake cannot prove: the images (scikit-learn framework) are not pulled; the scripts
run with this machine's Python and scikit-learn. Everything else (S3 data, the trials'
training jobs, the model server, Lambda handler code, SQS) is real on the local cloud.
"""

from __future__ import annotations

import io
import json
import threading
import time
import uuid
import zipfile
from pathlib import Path
from typing import Any

import boto3
import pytest
from iam_support import unconfined_role
from names_support import unique_name
from wait_support import pipeline_ended, wait_until

from shared.local_cloud import LocalCloud
from shared.local_cloud.sagemaker import worker

ROLE = "arn:aws:iam::123456789012:role/local-test"
SKLEARN_IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3"

TRAIN = """
import argparse, os, pickle, sys
import numpy as np
from sklearn.linear_model import Ridge
p = argparse.ArgumentParser()
p.add_argument("--alpha", type=float)
a = p.parse_args()
def load(channel):
    data = np.loadtxt(os.path.join(os.environ[f"SM_CHANNEL_{channel.upper()}"], f"{channel}.csv"), delimiter=",")
    return data[:, 1:], data[:, 0]
x, y = load("train")
vx, vy = load("validation")
model = Ridge(alpha=a.alpha).fit(x, y)
mse = float(np.mean((model.predict(vx) - vy) ** 2))
print(f"validation:mse={mse:.4f}")
with open(os.path.join(os.environ["SM_MODEL_DIR"], "model.pkl"), "wb") as f:
    pickle.dump(model, f)
"""

EVALUATE = """
import json, os, pathlib, pickle, sys, tarfile
import numpy as np
base = sys.argv[1]  # /opt/ml/processing (relocated by the local executor when passed as an argument)
with tarfile.open(f"{base}/model/model.tar.gz") as t:
    t.extractall(f"{base}/model")
model = pickle.load(open(f"{base}/model/model.pkl", "rb"))
data = np.loadtxt(f"{base}/test/validation.csv", delimiter=",")
mse = float(np.mean((model.predict(data[:, 1:]) - data[:, 0]) ** 2))
out = pathlib.Path(f"{base}/evaluation")
out.mkdir(parents=True, exist_ok=True)
(out / "evaluation.json").write_text(json.dumps({"regression_metrics": {"mse": {"value": mse}}}))
"""

INFERENCE = """
import io, os, pickle
import numpy as np
def model_fn(model_dir):
    return pickle.load(open(os.path.join(model_dir, "model.pkl"), "rb"))
def input_fn(body, content_type):
    return np.loadtxt(io.StringIO(body.decode()), delimiter=",", ndmin=2)
def predict_fn(data, model):
    return model.predict(data)
def output_fn(prediction, accept):
    return "\\n".join(f"{v:.3f}" for v in prediction) + "\\n"
"""


# ---- fixtures -----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def bucket(cloud: LocalCloud, tmp_path_factory: pytest.TempPathFactory) -> str:
    from sklearn.datasets import load_diabetes

    name = unique_name("steps")
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket=name)
    x, y = load_diabetes(return_X_y=True)
    rows = [",".join(f"{v:.6f}" for v in (label, *features)) for label, features in zip(y, x, strict=True)]
    s3.put_object(Bucket=name, Key="data/train/train.csv", Body="\n".join(rows[:320]).encode())
    s3.put_object(Bucket=name, Key="data/validation/validation.csv", Body="\n".join(rows[320:]).encode())
    # Batch input: label first, then the features (the input filter drops the label).
    s3.put_object(Bucket=name, Key="data/batch/part-0.csv", Body="\n".join(rows[400:410]).encode())
    return name


@pytest.fixture(scope="module")
def code_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("code")
    (path / "train.py").write_text(TRAIN)
    (path / "evaluate.py").write_text(EVALUATE)
    (path / "inference.py").write_text(INFERENCE)
    return path


def _session(bucket: str) -> Any:
    from sagemaker.core.workflow.pipeline_context import PipelineSession

    return PipelineSession(boto_session=boto3.Session(), default_bucket=bucket)


def _run(
    pipeline: Any, parameters: dict[str, Any] | None = None, *, upsert: bool = True
) -> tuple[Any, dict[str, dict[str, Any]]]:
    if upsert:
        pipeline.upsert(role_arn=ROLE)
    execution = pipeline.start(parameters=parameters or {})
    try:
        execution.wait(delay=1, max_attempts=240)
    except Exception:  # the waiter raises on Failed: the test reads the status itself
        pass
    return execution, {s["StepName"]: s for s in execution.list_steps()}


def _status(execution_arn: str) -> dict[str, Any]:
    return dict(boto3.client("sagemaker").describe_pipeline_execution(PipelineExecutionArn=execution_arn))


# ---- Tuning -> Evaluate -> gate -> Register + CreateModel -> Transform -------------------------------------


def _tuning_pipeline(bucket: str, code_dir: Path, name: str) -> Any:
    from sagemaker.core.parameter import CategoricalParameter
    from sagemaker.core.processing import Processor
    from sagemaker.core.shapes import ProcessingInput, ProcessingOutput, ProcessingS3Input, ProcessingS3Output
    from sagemaker.core.transformer import Transformer
    from sagemaker.core.workflow.conditions import ConditionLessThanOrEqualTo
    from sagemaker.core.workflow.functions import Join, JsonGet
    from sagemaker.core.workflow.parameters import ParameterFloat
    from sagemaker.core.workflow.properties import PropertyFile
    from sagemaker.mlops.workflow import CacheConfig, ConditionStep, FailStep, ModelStep, ProcessingStep
    from sagemaker.mlops.workflow.pipeline import Pipeline
    from sagemaker.mlops.workflow.steps import TransformStep, TuningStep
    from sagemaker.serve.model_builder import ModelBuilder
    from sagemaker.train import ModelTrainer
    from sagemaker.train.configs import Compute, InputData, SourceCode, StoppingCondition
    from sagemaker.train.tuner import HyperparameterTuner

    session = _session(bucket)
    threshold = ParameterFloat(name="MseThreshold", default_value=5000.0)
    trainer = ModelTrainer(
        training_image=SKLEARN_IMAGE,
        source_code=SourceCode(source_dir=str(code_dir), entry_script="train.py"),
        role=ROLE,
        sagemaker_session=session,
        compute=Compute(instance_type="ml.m5.large", instance_count=1),
        base_job_name="tune",
        stopping_condition=StoppingCondition(max_runtime_in_seconds=600),
    )
    tuner = HyperparameterTuner(
        model_trainer=trainer,
        objective_metric_name="validation:mse",
        objective_type="Minimize",
        # "bad" makes one trial fail: a failed trial must not fail the tuning job.
        hyperparameter_ranges={"alpha": CategoricalParameter(["0.01", "0.1", "1.0", "bad"])},
        metric_definitions=[{"Name": "validation:mse", "Regex": "validation:mse=([0-9.]+)"}],
        strategy="Grid",
        max_parallel_jobs=2,
    )
    tuning = TuningStep(
        name="HPTuning",
        step_args=tuner.tune(
            inputs=[
                InputData(channel_name="train", data_source=f"s3://{bucket}/data/train/"),
                InputData(channel_name="validation", data_source=f"s3://{bucket}/data/validation/"),
            ]
        ),
        cache_config=CacheConfig(enable_caching=True, expire_after="P30D"),
    )
    s3 = boto3.client("s3")
    s3.put_object(Bucket=bucket, Key="code/evaluate.py", Body=EVALUATE.encode())
    report = PropertyFile(name="EvaluationReport", output_name="evaluation", path="evaluation.json")
    evaluate = ProcessingStep(
        name="EvaluateBest",
        step_args=Processor(
            role=ROLE,
            image_uri=SKLEARN_IMAGE,
            instance_count=1,
            instance_type="ml.m5.large",
            entrypoint=["python3", "/opt/ml/processing/input/code/evaluate.py"],
            sagemaker_session=session,
        ).run(
            arguments=["/opt/ml/processing"],
            inputs=[
                ProcessingInput(
                    input_name="model",
                    s3_input=ProcessingS3Input(
                        s3_uri=tuning.get_top_model_s3_uri(top_k=0, s3_bucket=bucket, prefix="tune"),
                        local_path="/opt/ml/processing/model",
                        s3_data_type="S3Prefix",
                        s3_input_mode="File",
                    ),
                ),
                ProcessingInput(
                    input_name="test",
                    s3_input=ProcessingS3Input(
                        s3_uri=f"s3://{bucket}/data/validation/",
                        local_path="/opt/ml/processing/test",
                        s3_data_type="S3Prefix",
                        s3_input_mode="File",
                    ),
                ),
                ProcessingInput(
                    input_name="code",
                    s3_input=ProcessingS3Input(
                        s3_uri=f"s3://{bucket}/code/evaluate.py",
                        local_path="/opt/ml/processing/input/code",
                        s3_data_type="S3Prefix",
                        s3_input_mode="File",
                    ),
                ),
            ],
            outputs=[
                ProcessingOutput(
                    output_name="evaluation",
                    s3_output=ProcessingS3Output(
                        s3_uri=f"s3://{bucket}/{name}/evaluation",
                        local_path="/opt/ml/processing/evaluation",
                        s3_upload_mode="EndOfJob",
                    ),
                )
            ],
        ),
        property_files=[report],
    )
    model_uri = tuning.get_top_model_s3_uri(top_k=0, s3_bucket=bucket, prefix="tune")
    s3.upload_file(str(_sourcedir(code_dir)), bucket, "code/sourcedir.tar.gz")
    env = {
        "SAGEMAKER_PROGRAM": "inference.py",
        "SAGEMAKER_SUBMIT_DIRECTORY": f"s3://{bucket}/code/sourcedir.tar.gz",
    }

    def builder() -> Any:
        return ModelBuilder(
            image_uri=SKLEARN_IMAGE,
            s3_model_data_url=model_uri,
            role_arn=ROLE,
            sagemaker_session=session,
            instance_type="ml.m5.large",
            env_vars=env,
        )

    register = ModelStep(
        name="RegisterBest",
        step_args=builder().register(
            model_package_group_name=name,
            content_types=["text/csv"],
            response_types=["text/csv"],
            inference_instances=["ml.m5.large"],
            transform_instances=["ml.m5.large"],
            approval_status="PendingManualApproval",
        ),
    )
    create = ModelStep(name="CreateBestModel", step_args=builder().build())
    transform = TransformStep(
        name="ScoreBatch",
        step_args=Transformer(
            model_name=create.properties.ModelName,
            instance_count=1,
            instance_type="ml.m5.large",
            strategy="MultiRecord",
            assemble_with="Line",
            accept="text/csv",
            output_path=f"s3://{bucket}/{name}/scores",
            sagemaker_session=session,
        ).transform(
            data=f"s3://{bucket}/data/batch/",
            content_type="text/csv",
            split_type="Line",
            input_filter="$[1:]",
            join_source="Input",
            output_filter="$[0,-1]",
        ),
    )
    mse = JsonGet(step_name=evaluate.name, property_file=report, json_path="regression_metrics.mse.value")
    gate = ConditionStep(
        name="MseGate",
        conditions=[ConditionLessThanOrEqualTo(left=mse, right=threshold)],
        if_steps=[register, create, transform],
        else_steps=[FailStep(name="MseTooHigh", error_message=Join(on=" ", values=["mse", mse]))],
    )
    steps = [tuning, evaluate, gate]
    return Pipeline(name=name, parameters=[threshold], steps=steps, sagemaker_session=session)


def _sourcedir(code_dir: Path) -> Path:
    import tarfile

    target = code_dir.parent / f"{code_dir.name}-sourcedir.tar.gz"
    with tarfile.open(target, "w:gz") as archive:
        archive.add(code_dir / "inference.py", arcname="inference.py")
    return target


@pytest.fixture(scope="module")
def tuned(bucket: str, code_dir: Path) -> dict[str, Any]:
    name = unique_name("tuned")
    boto3.client("sagemaker").create_model_package_group(ModelPackageGroupName=name)
    pipeline = _tuning_pipeline(bucket, code_dir, name)
    execution, steps = _run(pipeline)
    return {"name": name, "pipeline": pipeline, "execution": execution, "steps": steps}


def test_tuning_step_runs_four_trials_and_its_best_model_is_evaluated_gated_registered(
    bucket: str, tuned: dict[str, Any]
) -> None:
    # GIVEN a pipeline: TuningStep (Grid, 4 jobs, one of them failing) -> evaluate the best
    # model -> ConditionLessThanOrEqualTo on regression_metrics.mse.value -> register
    steps = tuned["steps"]
    status = _status(tuned["execution"].arn)
    # THEN it succeeds, every step on the taken branch ran
    assert status["PipelineExecutionStatus"] == "Succeeded", status.get("FailureReason")
    assert {n: s["StepStatus"] for n, s in steps.items()} == {
        "HPTuning": "Succeeded",
        "EvaluateBest": "Succeeded",
        "MseGate": "Succeeded",
        "RegisterBest": "Succeeded",
        "CreateBestModel": "Succeeded",
        "ScoreBatch": "Succeeded",
    }
    # AND the tuning job ran 4 real training jobs; the failing one did not fail it
    sm = boto3.client("sagemaker")
    tuning_arn = steps["HPTuning"]["Metadata"]["TuningJob"]["Arn"]
    tuning_name = tuning_arn.rsplit("/", 1)[-1]
    described = sm.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=tuning_name)
    assert described["HyperParameterTuningJobStatus"] == "Completed"
    assert described["TrainingJobStatusCounters"]["Completed"] == 3
    assert described["TrainingJobStatusCounters"]["NonRetryableError"] == 1
    trials = sm.list_training_jobs_for_hyper_parameter_tuning_job(
        HyperParameterTuningJobName=tuning_name, SortBy="FinalObjectiveMetricValue", SortOrder="Ascending"
    )["TrainingJobSummaries"]
    assert len(trials) == 4
    best = described["BestTrainingJob"]
    assert best["TrainingJobName"] == trials[0]["TrainingJobName"]
    values = [t["FinalHyperParameterTuningJobObjectiveMetric"]["Value"] for t in trials[:3]]
    assert values == sorted(values)
    assert trials[3]["TrainingJobStatus"] == "Failed"
    assert trials[3]["TunedHyperParameters"] == {"alpha": "bad"}
    # each trial is a training job of its own
    job = sm.describe_training_job(TrainingJobName=best["TrainingJobName"])
    assert job["TrainingJobStatus"] == "Completed"
    assert job["HyperParameters"]["alpha"] == best["TunedHyperParameters"]["alpha"]
    # AND the gate read the evaluation of the *best* model (get_top_model_s3_uri resolved)
    report = json.loads(
        boto3.client("s3")
        .get_object(Bucket=bucket, Key=f"{tuned['name']}/evaluation/evaluation.json")["Body"]
        .read()
    )
    assert report["regression_metrics"]["mse"]["value"] == pytest.approx(values[0], rel=1e-3)
    # AND the registered package points at the best trial's model
    arn = steps["RegisterBest"]["Metadata"]["RegisterModel"]["Arn"]
    package = sm.describe_model_package(ModelPackageName=arn)
    url = package["InferenceSpecification"]["Containers"][0]["ModelDataUrl"]
    assert url == f"s3://{bucket}/tune/{best['TrainingJobName']}/output/model.tar.gz"


def test_transform_step_scores_with_the_model_the_model_step_created(
    bucket: str, tuned: dict[str, Any]
) -> None:
    # GIVEN the tuned pipeline's TransformStep (MultiRecord, Line, input filter $[1:],
    # JoinSource Input, output filter $[0,-1]) on the model CreateBestModel created
    steps = tuned["steps"]
    assert steps["ScoreBatch"]["StepStatus"] == "Succeeded", steps["ScoreBatch"].get("FailureReason")
    transform_name = steps["ScoreBatch"]["Metadata"]["TransformJob"]["Arn"].rsplit("/", 1)[-1]
    described = boto3.client("sagemaker").describe_transform_job(TransformJobName=transform_name)
    assert described["TransformJobStatus"] == "Completed"
    model_name = described["ModelName"]
    assert model_name == steps["CreateBestModel"]["Metadata"]["Model"]["Arn"].rsplit("/", 1)[-1]
    # WHEN we read <input file>.out
    body = (
        boto3.client("s3")
        .get_object(Bucket=bucket, Key=f"{tuned['name']}/scores/part-0.csv.out")["Body"]
        .read()
    )
    lines = body.decode().splitlines()
    # THEN one line per input record: its label (joined input, filtered) and the prediction
    source = boto3.client("s3").get_object(Bucket=bucket, Key="data/batch/part-0.csv")["Body"].read().decode()
    inputs = source.splitlines()
    assert len(lines) == len(inputs) == 10
    for line, record in zip(lines, inputs, strict=True):
        first, prediction = line.split(",")
        assert first == record.split(",")[0]
        assert 0 < float(prediction) < 400  # diabetes progression scale


def test_a_rerun_of_the_tuned_pipeline_is_served_from_the_cache(tuned: dict[str, Any]) -> None:
    # GIVEN the tuned pipeline, unchanged (not rebuilt: the SDK's tuner uploads its code to a
    # timestamped prefix on every build, which changes the cache key on AWS as well)
    # WHEN it runs again
    execution, steps = _run(tuned["pipeline"], upsert=False)
    # THEN the tuning step is a cache hit on the first run, and no new trial ran
    assert _status(execution.arn)["PipelineExecutionStatus"] == "Succeeded"
    assert steps["HPTuning"]["CacheHitResult"]["SourcePipelineExecutionArn"] == tuned["execution"].arn
    assert steps["HPTuning"]["Metadata"] == tuned["steps"]["HPTuning"]["Metadata"]


def test_cache_plan_predicts_the_tuning_and_transform_hits_live_and_from_history(
    cloud: LocalCloud, tuned: dict[str, Any]
) -> None:
    from datetime import UTC, datetime

    from inner_pipeline.cache_plan import Outcome, StoreHistory, plan_cache, store_from_history

    # GIVEN the tuned pipeline after its runs; its definition as deployed
    name = tuned["name"]
    sm = boto3.client("sagemaker")
    definition = json.loads(sm.describe_pipeline(PipelineName=name)["PipelineDefinition"])
    live = StoreHistory(worker.step_cache(cloud))
    rebuilt = store_from_history(sm, name, max_executions=10)
    # WHEN both stores plan the next execution
    plans = [
        {s.name: s for s in plan_cache(definition, {}, store, now, pipeline_name=name).steps}
        for store, now in ((live, cloud.now()), (StoreHistory(rebuilt.store), datetime.now(UTC)))
    ]
    # THEN the Tuning step (cached) is a predicted hit in both; Lambda-free steps without
    # CacheConfig run every time or are disabled, never "hit"
    for plan in plans:
        assert plan["HPTuning"].outcome is Outcome.HIT, plan["HPTuning"].reason
        assert plan["HPTuning"].source_execution_arn == tuned["execution"].arn
        assert plan["ScoreBatch"].outcome is not Outcome.HIT


# ---- Lambda and Callback ------------------------------------------------------------------------------


def _lambda(source: str) -> str:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("app.py", source)
    name = unique_name("fn")
    role = unconfined_role(boto3.client("iam"), name)  # the function runs as its role
    return boto3.client("lambda").create_function(
        FunctionName=name,
        Runtime="python3.11",
        Role=role,
        Handler="app.handler",
        Code={"ZipFile": buffer.getvalue()},
    )["FunctionArn"]


def _answer_callbacks(queue_url: str, stop: threading.Event, answers: list[dict[str, Any]]) -> None:
    """Another thread, as a data scientist's worker would: read the token, answer it."""
    sqs, sm = boto3.client("sqs"), boto3.client("sagemaker")
    while not stop.is_set():
        for message in sqs.receive_message(QueueUrl=queue_url, WaitTimeSeconds=1).get("Messages", []):
            body = json.loads(message["Body"])
            answers.append(body)
            sm.send_pipeline_execution_step_success(
                CallbackToken=body["token"],
                OutputParameters=[{"Name": "approved_by", "Value": f"reviewer-{body['arguments']['n']}"}],
            )
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])


def test_callback_step_answered_from_another_thread_feeds_a_lambda_step(bucket: str) -> None:
    from sagemaker.core.workflow.parameters import ParameterInteger
    from sagemaker.mlops.workflow.callback_step import CallbackOutput, CallbackOutputTypeEnum, CallbackStep
    from sagemaker.mlops.workflow.lambda_step import Lambda, LambdaOutput, LambdaOutputTypeEnum, LambdaStep
    from sagemaker.mlops.workflow.pipeline import Pipeline

    # GIVEN a queue with a thread answering callbacks, and a Lambda function
    queue_url = boto3.client("sqs").create_queue(QueueName=unique_name("callbacks"))["QueueUrl"]
    function_arn = _lambda(
        "def handler(event, context):\n"
        "    return {'greeting': 'hello ' + event['who'], 'length': len(event['who'])}\n"
    )
    stop, answers = threading.Event(), []  # type: ignore[var-annotated]
    thread = threading.Thread(target=_answer_callbacks, args=(queue_url, stop, answers), daemon=True)
    thread.start()
    # AND a pipeline: CallbackStep -> LambdaStep reading the callback's output
    n = ParameterInteger(name="N", default_value=7)
    callback = CallbackStep(
        name="WaitForReview",
        sqs_queue_url=queue_url,
        inputs={"n": n},
        outputs=[CallbackOutput(output_name="approved_by", output_type=CallbackOutputTypeEnum.String)],
    )
    greet = LambdaStep(
        name="Greet",
        lambda_func=Lambda(function_arn=function_arn),
        inputs={"who": callback.properties.Outputs["approved_by"]},
        outputs=[
            LambdaOutput(output_name="greeting", output_type=LambdaOutputTypeEnum.String),
            LambdaOutput(output_name="length", output_type=LambdaOutputTypeEnum.Integer),
        ],
    )
    pipeline = Pipeline(
        name=unique_name("callback"),
        parameters=[n],
        steps=[callback, greet],
        sagemaker_session=_session(bucket),
    )
    try:
        # WHEN it runs
        execution, steps = _run(pipeline, {"N": 3})
    finally:
        stop.set()
        thread.join(timeout=5)
    # THEN the message had SageMaker's shape, and the answer flowed into the Lambda step
    assert _status(execution.arn)["PipelineExecutionStatus"] == "Succeeded"
    assert answers[0]["status"] == "Executing"
    assert answers[0]["pipelineExecutionArn"] == execution.arn
    assert answers[0]["arguments"] == {"n": 3}
    callback_meta = steps["WaitForReview"]["Metadata"]["Callback"]
    assert callback_meta["CallbackToken"] == answers[0]["token"]
    assert callback_meta["OutputParameters"] == [{"Name": "approved_by", "Value": "reviewer-3"}]
    assert steps["Greet"]["Metadata"]["Lambda"]["OutputParameters"] == [
        {"Name": "greeting", "Value": "hello reviewer-3"},
        {"Name": "length", "Value": "10"},
    ]


def test_a_lambda_function_error_fails_the_step_with_its_message(bucket: str) -> None:
    from sagemaker.mlops.workflow.lambda_step import Lambda, LambdaStep
    from sagemaker.mlops.workflow.pipeline import Pipeline

    # GIVEN a Lambda step whose function raises
    function_arn = _lambda(
        "def handler(event, context):\n    raise ValueError('no model for region eu-north-1')\n"
    )
    step = LambdaStep(name="Check", lambda_func=Lambda(function_arn=function_arn), inputs={"a": 1})
    pipeline = Pipeline(name=unique_name("lambdafail"), steps=[step], sagemaker_session=_session(bucket))
    # WHEN it runs
    execution, steps = _run(pipeline)
    # THEN the step and the execution fail with the function's error
    assert _status(execution.arn)["PipelineExecutionStatus"] == "Failed"
    assert steps["Check"]["StepStatus"] == "Failed"
    assert "ValueError: no model for region eu-north-1" in steps["Check"]["FailureReason"]


def test_an_unknown_callback_token_is_resource_not_found(cloud: LocalCloud) -> None:
    with pytest.raises(boto3.client("sagemaker").exceptions.ResourceNotFound):
        boto3.client("sagemaker").send_pipeline_execution_step_failure(
            CallbackToken="abcdef1234", FailureReason="x"
        )


# ---- RetryPipelineExecution ---------------------------------------------------------------------------


def test_retry_reruns_only_the_failed_step(bucket: str) -> None:
    from sagemaker.core.processing import Processor
    from sagemaker.core.shapes import ProcessingInput, ProcessingOutput, ProcessingS3Input, ProcessingS3Output
    from sagemaker.mlops.workflow import ProcessingStep
    from sagemaker.mlops.workflow.pipeline import Pipeline

    # GIVEN a pipeline Prepare -> Publish, where Publish fails until a flag object exists
    name = unique_name("retry")
    s3 = boto3.client("s3")
    s3.put_object(
        Bucket=bucket,
        Key=f"{name}/code/prepare.py",
        Body=b"import pathlib, sys\np = pathlib.Path(sys.argv[1])\np.mkdir(parents=True, exist_ok=True)\n"
        b"(p / 'prepared.txt').write_text('ok')\n",
    )
    s3.put_object(
        Bucket=bucket,
        Key=f"{name}/code/publish.py",
        Body=b"import os, sys\nif not os.path.exists(os.path.join(sys.argv[1], 'ready')):\n"
        b"    sys.exit('flag missing')\n",
    )
    s3.put_object(Bucket=bucket, Key=f"{name}/flag/placeholder", Body=b"")
    session = _session(bucket)

    def processor(script: str) -> Any:
        return Processor(
            role=ROLE,
            image_uri=SKLEARN_IMAGE,
            instance_count=1,
            instance_type="ml.m5.large",
            entrypoint=["python3", f"/opt/ml/processing/code/{script}"],
            sagemaker_session=session,
        )

    def code(script: str) -> Any:
        return ProcessingInput(
            input_name="code",
            s3_input=ProcessingS3Input(
                s3_uri=f"s3://{bucket}/{name}/code/{script}",
                local_path="/opt/ml/processing/code",
                s3_data_type="S3Prefix",
                s3_input_mode="File",
            ),
        )

    prepare = ProcessingStep(
        name="Prepare",
        step_args=processor("prepare.py").run(
            arguments=["/opt/ml/processing/out"],
            inputs=[code("prepare.py")],
            outputs=[
                ProcessingOutput(
                    output_name="out",
                    s3_output=ProcessingS3Output(
                        s3_uri=f"s3://{bucket}/{name}/out",
                        local_path="/opt/ml/processing/out",
                        s3_upload_mode="EndOfJob",
                    ),
                )
            ],
        ),
    )
    publish = ProcessingStep(
        name="Publish",
        step_args=processor("publish.py").run(
            arguments=["/opt/ml/processing/flag"],
            inputs=[
                code("publish.py"),
                ProcessingInput(
                    input_name="flag",
                    s3_input=ProcessingS3Input(
                        s3_uri=f"s3://{bucket}/{name}/flag/",
                        local_path="/opt/ml/processing/flag",
                        s3_data_type="S3Prefix",
                        s3_input_mode="File",
                    ),
                ),
            ],
        ),
        depends_on=[prepare],
    )
    pipeline = Pipeline(name=name, steps=[prepare, publish], sagemaker_session=session)
    execution, first = _run(pipeline)
    assert _status(execution.arn)["PipelineExecutionStatus"] == "Failed"
    assert "flag missing" in first["Publish"]["FailureReason"]
    # WHEN the cause is fixed and the execution retried
    s3.put_object(Bucket=bucket, Key=f"{name}/flag/ready", Body=b"")
    sm = boto3.client("sagemaker")
    sm.retry_pipeline_execution(PipelineExecutionArn=execution.arn, ClientRequestToken=uuid.uuid4().hex)
    pipeline_ended(execution.arn, timeout=60)
    # THEN the same execution succeeds; Prepare was reused (same job, same start), Publish re-ran
    assert _status(execution.arn)["PipelineExecutionStatus"] == "Succeeded"
    after = {
        s["StepName"]: s
        for s in sm.list_pipeline_execution_steps(PipelineExecutionArn=execution.arn)[
            "PipelineExecutionSteps"
        ]
    }
    assert after["Prepare"]["StartTime"] == first["Prepare"]["StartTime"]
    assert after["Prepare"]["Metadata"] == first["Prepare"]["Metadata"]
    assert after["Publish"]["StepStatus"] == "Succeeded"
    assert after["Publish"]["Metadata"] != first["Publish"]["Metadata"]  # a new job
    # AND a succeeded execution cannot be retried
    with pytest.raises(sm.exceptions.ClientError, match="only a Failed execution"):
        sm.retry_pipeline_execution(PipelineExecutionArn=execution.arn, ClientRequestToken=uuid.uuid4().hex)


# ---- unsupported step types -------------------------------------------------------------------------------


def test_an_emr_step_fails_the_execution_before_any_step_runs(bucket: str) -> None:
    sm = boto3.client("sagemaker")
    name = unique_name("emr")
    definition = {
        "Version": "2020-12-01",
        "Steps": [
            {"Name": "Before", "Type": "Fail", "Arguments": {"ErrorMessage": "must not run"}},
            {"Name": "Spark", "Type": "EMR", "Arguments": {"ClusterId": "j-1", "StepConfig": {}}},
        ],
    }
    sm.create_pipeline(PipelineName=name, PipelineDefinition=json.dumps(definition), RoleArn=ROLE)
    arn = sm.start_pipeline_execution(PipelineName=name)["PipelineExecutionArn"]
    status = pipeline_ended(arn, timeout=20)
    assert status["PipelineExecutionStatus"] == "Failed"
    assert "'Spark' has type 'EMR', which is not supported locally" in status["FailureReason"]
    assert sm.list_pipeline_execution_steps(PipelineExecutionArn=arn)["PipelineExecutionSteps"] == []


# ---- SelectiveExecutionConfig and ParallelismConfiguration -------------------------------------------------


def _counting_lambda(bucket: str) -> str:
    """A function that counts its invocations per step in S3 and returns value = input + 1."""
    return _lambda(
        "import boto3, json, time\n"
        "def handler(event, context):\n"
        "    s3 = boto3.client('s3')\n"
        "    time.sleep(float(event.get('sleep', 0)))\n"
        f"    s3.put_object(Bucket='{bucket}', Key='calls/' + event['run'] + '/' + event['step'] + '/' + context.aws_request_id, Body=b'')\n"
        "    return {'value': int(event['value']) + 1, 'finished': time.time()}\n"
    )


def _calls(bucket: str, run: str) -> dict[str, int]:
    keys = [
        o["Key"]
        for o in boto3.client("s3").list_objects_v2(Bucket=bucket, Prefix=f"calls/{run}/").get("Contents", [])
    ]
    out: dict[str, int] = {}
    for key in keys:
        step = key.split("/")[2]
        out[step] = out.get(step, 0) + 1
    return out


def test_selective_execution_runs_the_chosen_step_with_the_reference_outputs(bucket: str) -> None:
    from sagemaker.mlops.workflow.lambda_step import Lambda, LambdaOutput, LambdaOutputTypeEnum, LambdaStep
    from sagemaker.mlops.workflow.pipeline import Pipeline
    from sagemaker.mlops.workflow.selective_execution_config import SelectiveExecutionConfig

    # GIVEN A -> B -> C, each a Lambda step adding one to the previous value
    run = unique_name("sel")
    function = Lambda(function_arn=_counting_lambda(bucket))

    def step(name: str, value: Any) -> Any:
        return LambdaStep(
            name=name,
            lambda_func=function,
            inputs={"run": run, "step": name, "value": value},
            outputs=[LambdaOutput(output_name="value", output_type=LambdaOutputTypeEnum.Integer)],
        )

    a = step("A", 1)
    b = step("B", a.properties.Outputs["value"])
    c = step("C", b.properties.Outputs["value"])
    pipeline = Pipeline(name=run, steps=[a, b, c], sagemaker_session=_session(bucket))
    reference, _ = _run(pipeline)
    assert _calls(bucket, run) == {"A": 1, "B": 1, "C": 1}
    # WHEN only B is selected, against the reference execution
    execution = pipeline.start(
        selective_execution_config=SelectiveExecutionConfig(
            source_pipeline_execution_arn=reference.arn, selected_steps=["B"]
        )
    )
    execution.wait(delay=1, max_attempts=60)
    steps = {s["StepName"]: s for s in execution.list_steps()}
    # THEN only B ran again, reading A's output from the reference execution; C did not run
    assert _status(execution.arn)["PipelineExecutionStatus"] == "Succeeded"
    assert _calls(bucket, run) == {"A": 1, "B": 2, "C": 1}
    assert steps["A"]["SelectiveExecutionResult"]["SourcePipelineExecutionArn"] == reference.arn
    assert steps["B"]["Metadata"]["Lambda"]["OutputParameters"] == [{"Name": "value", "Value": "3"}]
    assert "C" not in steps
    # AND a selective execution can be the reference of the next one (C reads B's new output)
    third = pipeline.start(
        selective_execution_config=SelectiveExecutionConfig(
            source_pipeline_execution_arn=execution.arn, selected_steps=["C"]
        )
    )
    third.wait(delay=1, max_attempts=60)
    steps = {s["StepName"]: s for s in third.list_steps()}
    assert steps["C"]["Metadata"]["Lambda"]["OutputParameters"] == [{"Name": "value", "Value": "4"}]
    assert _calls(bucket, run) == {"A": 1, "B": 2, "C": 2}
    # AND selecting a step the pipeline does not have fails before anything runs
    wrong = boto3.client("sagemaker").start_pipeline_execution(
        PipelineName=run,
        SelectiveExecutionConfig={
            "SourcePipelineExecutionArn": reference.arn,
            "SelectedSteps": [{"StepName": "Z"}],
        },
    )["PipelineExecutionArn"]
    assert (
        "SelectedSteps name steps the pipeline does not have: Z" in pipeline_ended(wrong, 20)["FailureReason"]
    )
    assert _calls(bucket, run) == {"A": 1, "B": 2, "C": 2}


def test_parallelism_configuration_bounds_independent_steps(bucket: str) -> None:
    from sagemaker.mlops.workflow.lambda_step import Lambda, LambdaOutput, LambdaOutputTypeEnum, LambdaStep
    from sagemaker.mlops.workflow.parallelism_config import ParallelismConfiguration
    from sagemaker.mlops.workflow.pipeline import Pipeline

    # GIVEN four independent 1-second steps
    run = unique_name("par")
    function = Lambda(function_arn=_counting_lambda(bucket))
    steps = [
        LambdaStep(
            name=f"S{i}",
            lambda_func=function,
            inputs={"run": run, "step": f"S{i}", "value": i, "sleep": 1},
            outputs=[LambdaOutput(output_name="finished", output_type=LambdaOutputTypeEnum.Float)],
        )
        for i in range(4)
    ]
    pipeline = Pipeline(name=run, steps=steps, sagemaker_session=_session(bucket))
    pipeline.upsert(role_arn=ROLE)
    # WHEN it runs with MaxParallelExecutionSteps=2
    started = time.monotonic()
    execution = pipeline.start(parallelism_config=ParallelismConfiguration(max_parallel_execution_steps=2))
    execution.wait(delay=1, max_attempts=60)
    listed = execution.list_steps()
    # THEN at most two ran at once: the four took two rounds
    assert _status(execution.arn)["PipelineExecutionStatus"] == "Succeeded"
    windows = sorted((s["StartTime"], s["EndTime"]) for s in listed)
    overlapping = max(sum(1 for s, e in windows if s <= start < e) for start, _ in windows)
    assert overlapping == 2
    assert time.monotonic() - started >= 2.0


def test_stop_pipeline_execution_stops_a_waiting_callback_step(bucket: str) -> None:
    from sagemaker.mlops.workflow.callback_step import CallbackOutput, CallbackOutputTypeEnum, CallbackStep
    from sagemaker.mlops.workflow.pipeline import Pipeline

    # GIVEN a Callback step nobody answers
    queue_url = boto3.client("sqs").create_queue(QueueName=unique_name("unanswered"))["QueueUrl"]
    step = CallbackStep(
        name="Wait",
        sqs_queue_url=queue_url,
        inputs={},
        outputs=[CallbackOutput(output_name="x", output_type=CallbackOutputTypeEnum.String)],
    )
    pipeline = Pipeline(name=unique_name("stop"), steps=[step], sagemaker_session=_session(bucket))
    pipeline.upsert(role_arn=ROLE)
    execution = pipeline.start()
    sm = boto3.client("sagemaker")

    def step_status() -> str | None:
        listed = sm.list_pipeline_execution_steps(PipelineExecutionArn=execution.arn)[
            "PipelineExecutionSteps"
        ]
        return listed[0]["StepStatus"] if listed else None

    wait_until(lambda: step_status() == "Executing", what="the callback step executing", timeout=20)
    token = json.loads(
        boto3.client("sqs").receive_message(QueueUrl=queue_url, WaitTimeSeconds=5)["Messages"][0]["Body"]
    )["token"]
    # WHEN the execution is stopped
    sm.stop_pipeline_execution(PipelineExecutionArn=execution.arn, ClientRequestToken=uuid.uuid4().hex)
    # THEN the execution and its step are Stopped, and the token no longer answers
    assert pipeline_ended(execution.arn, timeout=20)["PipelineExecutionStatus"] == "Stopped"
    assert step_status() == "Stopped"
    with pytest.raises(sm.exceptions.ResourceNotFound):
        sm.send_pipeline_execution_step_success(CallbackToken=token, OutputParameters=[])

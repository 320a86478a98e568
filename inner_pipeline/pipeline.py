"""The inner loop: a SageMaker Pipeline built with SDK v3 (``sagemaker.mlops.workflow``).
(Over 400 lines: the reference pipeline a data scientist replaces, one file as AWS's example pipelines are.)

    Preprocess (processing, cached) -> Train (training, cached) -> Evaluate (processing,
    cached, PropertyFile EvaluationReport) -> CheckQuality (condition: metric >= MetricThreshold)
        -> RegisterModel (model registry) | QualityGateFailed (fail)

With ``tuning.enabled`` Train is a tuning step instead (SageMaker automatic model tuning over
``tuning.ranges``, objective ``validation:<gate metric>`` as train.py prints it), and Evaluate
and RegisterModel take the best training job's model (``get_top_model_s3_uri(top_k=0)``).

Every step runs the SageMaker XGBoost framework image of the config's region, and every
step's code comes from one content-addressed package (``inner_pipeline.packaging``), so an
unchanged step has unchanged arguments and its cache hits. The dataset schema travels the
same way: Preprocess gets it as a file (``--schema-file``), uploaded once to
``<artifact prefix>schemas/<sha256>/schema.json``, because CreateProcessingJob caps each
container argument at 256 characters; a schema change moves that key and so Preprocess's
cache key. Building talks to S3 only (ListBuckets, and HeadObject/PutObject for the code and
schema uploads); the SDK's telemetry, which would call STS and an HTTPS endpoint, is switched
off while the pipeline is built.

The outer loop passes a short key as the ``CallbackToken`` parameter (its execution name,
under which it stored its task token: a token may be 2,048 characters, a parameter value
1,024); no step reads it: the relay handler finds it in the execution's parameters when the
pipeline ends and looks the token up.
"""

from __future__ import annotations

import hashlib
import json
import threading
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from inner_pipeline.packaging import CodeLocation, object_exists, package_code, upload_code
from shared.config import (
    REPORT_SECTIONS,
    TUNABLE_HYPERPARAMETERS,
    DualloopConfig,
    ProblemType,
    TuningStrategy,
)
from shared.naming import Names

if TYPE_CHECKING:
    import boto3
    from mypy_boto3_s3 import S3Client
    from sagemaker.core.workflow.pipeline_context import PipelineSession
    from sagemaker.mlops.workflow import Pipeline

# The SageMaker XGBoost framework container (XGBoost 3.0, with pandas, pyarrow, scikit-learn):
# the scripts' own dependencies, so the same image serves processing, training and inference.
XGBOOST_FRAMEWORK_VERSION = "3.0-5"

STEP_PREPROCESS = "Preprocess"
STEP_TRAIN = "Train"
STEP_EVALUATE = "Evaluate"
STEP_CHECK_QUALITY = "CheckQuality"
STEP_REGISTER = "RegisterModel"
STEP_QUALITY_FAILED = "QualityGateFailed"

PROPERTY_FILE_EVALUATION = "EvaluationReport"
EVALUATION_FILE = "evaluation.json"
CACHE_EXPIRE_AFTER = "P30D"
PREPROCESS_OUTPUTS = ("train", "validation", "test", "baseline")
SCHEMA_FILE = "schema.json"
CONTENT_TYPES = ("text/csv", "application/json")

# Container paths (SageMaker's conventions; the scripts default to the same ones).
_PROC = "/opt/ml/processing"
_CODE_DIR = f"{_PROC}/input/code"
_DATA_DIR = f"{_PROC}/input/data"
_OUTPUT_DIR = f"{_PROC}/output"
_MODEL_DIR = f"{_PROC}/model"
_TEST_DIR = f"{_PROC}/test"
_EVALUATION_DIR = f"{_PROC}/evaluation"
_SCHEMA_DIR = f"{_PROC}/input/schema"
# Passed explicitly although the scripts default to them: the local executor relocates only
# the /opt/ml paths it sees in a job's arguments and environment.
_RESOURCE_CONFIG = "/opt/ml/config/resourceconfig.json"
_FAILURE_FILE = "/opt/ml/output/message"

# train.py hyperparameters a pipeline parameter sets (per run: `inner run --param MaxDepth=7`).
HYPERPARAMETER_PARAMETERS = {"max_depth": "MaxDepth", "eta": "Eta", "num_round": "NumRound"}

CodeUriResolver = Callable[[DualloopConfig, "boto3.Session"], CodeLocation]
# Returns the S3 URI of the schema file Preprocess reads (``schema_key(config)`` by default).
SchemaUriResolver = Callable[[DualloopConfig, "boto3.Session"], str]


def upload_code_resolver(config: DualloopConfig, boto_session: boto3.Session) -> CodeLocation:
    """Package ``inner_pipeline/code`` and upload it (once) to its content-addressed prefix."""
    names = Names(config)
    s3 = boto_session.client("s3", region_name=config.region)
    return upload_code(package_code(), s3, names.artifact_bucket, config.artifact_prefix)


def schema_key(config: DualloopConfig) -> str:
    """``<artifact prefix>schemas/<sha256 of schema_json(config)>/schema.json``: same schema, same key."""
    digest = hashlib.sha256(schema_json(config).encode("utf-8")).hexdigest()
    return f"{config.artifact_prefix}schemas/{digest}/{SCHEMA_FILE}"


def upload_schema(config: DualloopConfig, s3: S3Client) -> str:
    """Upload ``schema_json(config)`` to ``schema_key(config)`` unless it is there; its S3 URI.

    The key is content-addressed, so an existing object already holds these very bytes.
    """
    bucket, key = Names(config).artifact_bucket, schema_key(config)
    if not object_exists(s3, bucket, key):
        s3.put_object(
            Bucket=bucket, Key=key, Body=schema_json(config).encode("utf-8"), ContentType="application/json"
        )
    return f"s3://{bucket}/{key}"


def upload_schema_resolver(config: DualloopConfig, boto_session: boto3.Session) -> str:
    """Upload the dataset schema (once) to its content-addressed key."""
    return upload_schema(config, boto_session.client("s3", region_name=config.region))


def job_tags(config: DualloopConfig) -> list[dict[str, str]]:
    """Tags for every job and model package the pipeline creates (and for the pipeline itself)."""
    return [
        {"Key": "dualloop:project", "Value": config.project},
        {"Key": "dualloop:stage", "Value": config.stage.value},
    ]


def schema_json(config: DualloopConfig) -> str:
    """The dataset schema as the scripts read it (compact, keys sorted: stable bytes)."""
    # generate_id is ingest's business: the scripts read the id column ingest wrote.
    data = config.dataset.model_dump(mode="json", exclude_none=True, exclude={"generate_id"})
    if data["problem_type"] == ProblemType.BINARY:
        del data["problem_type"]  # the scripts' default: a binary pipeline keeps its cache keys
    return json.dumps(data, sort_keys=True, separators=(",", ":"))


_TELEMETRY_LOCK = threading.RLock()


@contextmanager
def _sdk_telemetry_off() -> Iterator[None]:
    """Keep the SDK's telemetry (STS GetCallerIdentity + an HTTPS GET) out of the build.

    Its only switch is a sagemaker_config entry, and any sagemaker_config makes each of
    the SDK's many config lookups re-validate the whole schema (~1.5 s each). The lock
    keeps concurrent builds from restoring each other's stand-in.
    """
    from sagemaker.core.telemetry import telemetry_logging

    with _TELEMETRY_LOCK:
        saved = telemetry_logging._send_telemetry_request
        saved_shown = telemetry_logging._telemetry_msg_shown
        telemetry_logging._send_telemetry_request = lambda *args, **kwargs: None
        telemetry_logging._telemetry_msg_shown = True  # no "will collect telemetry" notice either
        try:
            with warnings.catch_warnings():
                # "Running within a PipelineSession, there will be No Wait ...": that is the point.
                warnings.filterwarnings("ignore", message="Running within a PipelineSession")
                yield
        finally:
            telemetry_logging._send_telemetry_request = saved
            telemetry_logging._telemetry_msg_shown = saved_shown


def pipeline_session(config: DualloopConfig, boto_session: boto3.Session | None = None) -> PipelineSession:
    """A PipelineSession in ``config.region`` whose default bucket is the artifact bucket."""
    import boto3
    from sagemaker.core.workflow.pipeline_context import PipelineSession

    session = PipelineSession(
        boto_session=boto_session or boto3.Session(region_name=config.region),
        default_bucket=Names(config).artifact_bucket,
    )
    # The definition is a function of DualloopConfig alone: no SDK defaults from this
    # machine's ~/.config/sagemaker/config.yaml (and no slow config lookups).
    session.sagemaker_config = None
    return session


def build_pipeline(
    config: DualloopConfig,
    session: PipelineSession | None = None,
    *,
    code_uri_resolver: CodeUriResolver = upload_code_resolver,
    schema_uri_resolver: SchemaUriResolver = upload_schema_resolver,
) -> Pipeline:
    """Build the inner pipeline for ``config``; the only AWS calls are to S3.

    ``session`` defaults to ``pipeline_session(config)``. ``code_uri_resolver`` says where the
    container code lives, ``schema_uri_resolver`` where Preprocess's schema file lives; the
    defaults upload each to its content-addressed key unless already there.
    """
    session = session or pipeline_session(config)
    code = code_uri_resolver(config, session.boto_session)
    schema_uri = schema_uri_resolver(config, session.boto_session)
    with _sdk_telemetry_off():
        return _build(config, session, code, schema_uri)


def pipeline_definition(
    config: DualloopConfig,
    session: PipelineSession | None = None,
    *,
    code_uri_resolver: CodeUriResolver = upload_code_resolver,
    schema_uri_resolver: SchemaUriResolver = upload_schema_resolver,
) -> str:
    """The pipeline definition JSON: what is upserted and what the local executor runs."""
    pipeline = build_pipeline(
        config, session, code_uri_resolver=code_uri_resolver, schema_uri_resolver=schema_uri_resolver
    )
    with _sdk_telemetry_off():
        return str(pipeline.definition())


@dataclass(frozen=True)
class _Context:
    """What every step builder needs."""

    config: DualloopConfig
    names: Names
    session: PipelineSession
    code: CodeLocation
    schema_uri: str  # s3://.../schemas/<sha256>/schema.json
    image: str
    serving_image: str
    params: dict[str, Any]  # parameter name -> Parameter*

    @property
    def tags(self) -> list[dict[str, str]]:
        return job_tags(self.config)

    def execution_uri(self, *parts: str) -> Any:
        """``s3://<artifact bucket>/<artifact prefix>executions/<execution id>/<parts>``.

        Per execution, so runs never overwrite each other; output locations are not part
        of a step's cache key, so this does not defeat caching.
        """
        from sagemaker.core.workflow.execution_variables import ExecutionVariables
        from sagemaker.core.workflow.functions import Join

        prefix = [p for p in self.config.artifact_prefix.split("/") if p]
        return Join(
            on="/",
            values=[
                "s3:/",
                self.names.artifact_bucket,
                *prefix,
                "executions",
                ExecutionVariables.PIPELINE_EXECUTION_ID,
                *parts,
            ],
        )


def _parameters(config: DualloopConfig, names: Names) -> dict[str, Any]:
    from sagemaker.core.workflow.parameters import ParameterFloat, ParameterInteger, ParameterString

    inst, hp = config.instances, config.hyperparameters
    params = [
        # The outer loop passes each ingest run's own prefix, so new data is a new cache key.
        ParameterString("InputDataUri", default_value=f"s3://{names.curated_bucket}/{config.curated_prefix}"),
        ParameterString("ProcessingInstanceType", default_value=inst.processing_instance_type),
        ParameterInteger("ProcessingInstanceCount", default_value=inst.processing_instance_count),
        ParameterString("TrainingInstanceType", default_value=inst.training_instance_type),
        ParameterInteger("TrainingInstanceCount", default_value=inst.training_instance_count),
        ParameterString("ModelApprovalStatus", default_value="PendingManualApproval"),
        ParameterFloat("MetricThreshold", default_value=config.quality.threshold),
        ParameterInteger("MaxDepth", default_value=hp.max_depth),
        ParameterFloat("Eta", default_value=hp.eta),
        ParameterInteger("NumRound", default_value=hp.num_round),
        # The outer loop's task token; no step reads it (the relay finds it in the execution).
        ParameterString("CallbackToken", default_value=""),
    ]
    # A tuned hyperparameter is the tuning job's to choose: no parameter sets it (a run given
    # one is refused as undeclared, instead of ignoring it).
    ranges = config.tuning.ranges if config.tuning.enabled else {}
    tuned = {name for n, name in HYPERPARAMETER_PARAMETERS.items() if n in ranges}
    return {p.name: p for p in params if p.name not in tuned}


def declared_parameters(config: DualloopConfig) -> list[dict[str, Any]]:
    """The pipeline's parameters as its definition declares them (Name, Type, DefaultValue)."""
    return [p.to_request() for p in _parameters(config, Names(config)).values()]


def _cache() -> Any:
    from sagemaker.mlops.workflow import CacheConfig

    return CacheConfig(enable_caching=True, expire_after=CACHE_EXPIRE_AFTER)


def _service_retries() -> list[Any]:
    from sagemaker.mlops.workflow import StepExceptionTypeEnum, StepRetryPolicy

    return [
        StepRetryPolicy(
            exception_types=[StepExceptionTypeEnum.SERVICE_FAULT, StepExceptionTypeEnum.THROTTLING],
            interval_seconds=10,
            backoff_rate=2.0,
            max_attempts=5,
        )
    ]


def _job_retries() -> list[Any]:
    from sagemaker.mlops.workflow import SageMakerJobExceptionTypeEnum, SageMakerJobStepRetryPolicy

    return [
        SageMakerJobStepRetryPolicy(
            exception_types=[
                SageMakerJobExceptionTypeEnum.INTERNAL_ERROR,
                SageMakerJobExceptionTypeEnum.CAPACITY_ERROR,
                SageMakerJobExceptionTypeEnum.RESOURCE_LIMIT,
            ],
            interval_seconds=60,
            backoff_rate=2.0,
            max_attempts=3,
        ),
        *_service_retries(),
    ]


def _s3_input(name: str, source: Any, local_path: str, distribution: str = "FullyReplicated") -> Any:
    from sagemaker.core.shapes import ProcessingInput, ProcessingS3Input

    return ProcessingInput(
        input_name=name,
        s3_input=ProcessingS3Input(
            s3_uri=source,
            local_path=local_path,
            s3_data_type="S3Prefix",
            s3_input_mode="File",
            s3_data_distribution_type=distribution,
        ),
    )


def _s3_output(ctx: _Context, step: str, name: str, local_path: str) -> Any:
    from sagemaker.core.shapes import ProcessingOutput, ProcessingS3Output

    return ProcessingOutput(
        output_name=name,
        s3_output=ProcessingS3Output(
            s3_uri=ctx.execution_uri(step, name), local_path=local_path, s3_upload_mode="EndOfJob"
        ),
    )


def _processor(ctx: _Context, job: str, entrypoint: list[str], instance_count: Any) -> Any:
    from sagemaker.core.processing import Processor

    return Processor(
        role=ctx.names.sagemaker_role_arn,
        image_uri=ctx.image,
        instance_count=instance_count,
        instance_type=ctx.params["ProcessingInstanceType"],
        entrypoint=entrypoint,
        max_runtime_in_seconds=ctx.config.instances.max_runtime_seconds,
        base_job_name=f"{ctx.names.base}-{job}",
        sagemaker_session=ctx.session,
        tags=ctx.tags,
    )


def _preprocess_step(ctx: _Context) -> Any:
    from sagemaker.mlops.workflow import ProcessingStep

    entrypoint = ["python3", f"{_CODE_DIR}/preprocess.py"]
    step_args = _processor(ctx, "preprocess", entrypoint, ctx.params["ProcessingInstanceCount"]).run(
        inputs=[
            _s3_input("code", ctx.code.uri, _CODE_DIR),
            # A file, not --schema '<json>': the JSON outgrows the 256-character argument limit.
            # Its key is the schema's hash, so a schema change is a new cache key.
            _s3_input("schema", ctx.schema_uri, _SCHEMA_DIR),
            # Each instance gets its own share of the files: ProcessingInstanceCount scales out.
            _s3_input("data", ctx.params["InputDataUri"], _DATA_DIR, distribution="ShardedByS3Key"),
        ],
        outputs=[_s3_output(ctx, STEP_PREPROCESS, n, f"{_OUTPUT_DIR}/{n}") for n in PREPROCESS_OUTPUTS],
        arguments=[
            "--schema-file",
            f"{_SCHEMA_DIR}/{SCHEMA_FILE}",
            "--input-dir",
            _DATA_DIR,
            "--output-dir",
            _OUTPUT_DIR,
            "--resource-config",
            _RESOURCE_CONFIG,
            "--failure-file",
            _FAILURE_FILE,
        ],
    )
    return ProcessingStep(
        STEP_PREPROCESS, step_args=step_args, cache_config=_cache(), retry_policies=_job_retries()
    )


def _output_uri(step: Any, name: str) -> Any:
    return step.properties.ProcessingOutputConfig.Outputs[name].S3Output.S3Uri


def _train_step(ctx: _Context, preprocess: Any) -> Any:
    from sagemaker.core.shapes import StoppingCondition, Tag
    from sagemaker.mlops.workflow import TrainingStep
    from sagemaker.train.configs import Compute, InputData, OutputDataConfig
    from sagemaker.train.model_trainer import ModelTrainer

    cfg, p = ctx.config, ctx.params
    # Script mode by the framework container's own convention (sagemaker_program +
    # sagemaker_submit_directory) instead of ModelTrainer(source_code=...), which uploads the
    # code to a new timestamped prefix on every build and so would never hit the cache.
    trainer = ModelTrainer(
        training_image=ctx.image,
        role=ctx.names.sagemaker_role_arn,
        sagemaker_session=ctx.session,
        base_job_name=f"{ctx.names.base}-train",
        compute=Compute(
            instance_type=p["TrainingInstanceType"],
            instance_count=p["TrainingInstanceCount"],
            volume_size_in_gb=30,
        ),
        stopping_condition=StoppingCondition(max_runtime_in_seconds=cfg.instances.max_runtime_seconds),
        # No execution id in the path: SageMaker appends the (unique) job name itself.
        output_data_config=OutputDataConfig(
            s3_output_path=f"s3://{ctx.names.artifact_bucket}/{cfg.artifact_prefix}models",
            compression_type="GZIP",
        ),
        hyperparameters={
            "sagemaker_program": "train.py",
            "sagemaker_submit_directory": ctx.code.source_dir_uri,
            "sagemaker_container_log_level": "20",
            "sagemaker_region": cfg.region,
            # Parameters as strings ({"Std:Join": ...}): HyperParameters is a string map.
            **{n: p[name].to_string() for n, name in HYPERPARAMETER_PARAMETERS.items() if name in p},
            "subsample": json.dumps(cfg.hyperparameters.subsample),
            **_class_weight(cfg),
            "seed": "0",
            # JSON-encoded once more: the training toolkit json-decodes every value before it
            # passes it as --schema, and a decoded object would arrive as "k=v,k=v". Inline is
            # fine here: hyperparameter values may be 2500 characters (a unit test checks).
            "schema": json.dumps(schema_json(cfg)),
        },
        tags=[Tag(key=t["Key"], value=t["Value"]) for t in ctx.tags],
    )
    inputs = [
        InputData(channel_name=channel, data_source=_output_uri(preprocess, channel), content_type="text/csv")
        for channel in ("train", "validation")
    ]
    if cfg.tuning.enabled:
        return _tuning_step(ctx, trainer, inputs)
    step_args = trainer.train(input_data_config=inputs)
    return TrainingStep(STEP_TRAIN, step_args=step_args, cache_config=_cache(), retry_policies=_job_retries())


def objective_metric(config: DualloopConfig) -> str:
    """The tuning objective: the gate's metric on the validation split, as train.py prints it."""
    return f"validation:{config.quality.metric}"


def metric_definition(config: DualloopConfig) -> dict[str, str]:
    """How SageMaker reads the objective from the training log: train.py prints
    ``validation:<metric>=<value>`` (a plain decimal) once it has trained."""
    metric = objective_metric(config)
    return {"Name": metric, "Regex": f"{metric}=(-?[0-9]+\\.[0-9]+)"}


def _tuning_step(ctx: _Context, trainer: Any, inputs: list[Any]) -> Any:
    """Train as a hyperparameter tuning job: the trainer's job, ``tuning.jobs`` times over
    ``tuning.ranges``; the best job is the one with the best validation value of the gate metric."""
    from sagemaker.core.parameter import CategoricalParameter, ContinuousParameter, IntegerParameter
    from sagemaker.mlops.workflow.steps import TuningStep
    from sagemaker.train.tuner import HyperparameterTuner

    cfg = ctx.config
    tuning = cfg.tuning
    ranges: dict[str | Any, Any] = {}
    for name, spec in tuning.ranges.items():
        if spec.values is not None:
            ranges[name] = CategoricalParameter(list(spec.values))
        elif TUNABLE_HYPERPARAMETERS[name] is int:
            ranges[name] = IntegerParameter(int(spec.min or 0), int(spec.max or 0), spec.scaling.value)
        else:
            ranges[name] = ContinuousParameter(spec.min, spec.max, spec.scaling.value)
    metric = objective_metric(cfg)
    # The trainer's hyperparameters become the static ones (less the tuned names), its tags the
    # tuning job's, which the training jobs it launches inherit.
    tuner = HyperparameterTuner(
        model_trainer=trainer,
        objective_metric_name=metric,
        objective_type="Minimize" if cfg.quality.lower_is_better else "Maximize",
        hyperparameter_ranges=ranges,
        metric_definitions=[metric_definition(cfg)],
        strategy=tuning.strategy.value,
        # Grid: one job per combination, MaxNumberOfTrainingJobs left out unless the config gives it;
        # the others: the SDK would default it to 1.
        max_jobs=tuning.max_jobs if tuning.strategy is TuningStrategy.GRID else tuning.jobs,
        max_parallel_jobs=tuning.max_parallel_jobs,
        random_seed=tuning.random_seed,
    )
    return TuningStep(
        STEP_TRAIN, step_args=tuner.tune(inputs=inputs), cache_config=_cache(), retry_policies=_job_retries()
    )


def model_data_uri(ctx: _Context, train: Any) -> Any:
    """The model Evaluate and RegisterModel take: the training job's, or the best tuning job's."""
    if ctx.config.tuning.enabled:
        return train.get_top_model_s3_uri(
            top_k=0, s3_bucket=ctx.names.artifact_bucket, prefix=f"{ctx.config.artifact_prefix}models"
        )
    return train.properties.ModelArtifacts.S3ModelArtifacts


def _class_weight(cfg: DualloopConfig) -> dict[str, str]:
    # scale_pos_weight weighs a binary target's positive class; other objectives have none.
    if cfg.dataset.problem_type is not ProblemType.BINARY:
        return {}
    return {"scale_pos_weight": json.dumps(cfg.hyperparameters.scale_pos_weight)}


def _evaluate_step(ctx: _Context, preprocess: Any, train: Any) -> tuple[Any, Any]:
    from sagemaker.core.workflow.properties import PropertyFile
    from sagemaker.mlops.workflow import ProcessingStep

    report = PropertyFile(name=PROPERTY_FILE_EVALUATION, output_name="evaluation", path=EVALUATION_FILE)
    step_args = _processor(ctx, "evaluate", ["python3", f"{_CODE_DIR}/evaluate.py"], 1).run(
        inputs=[
            _s3_input("code", ctx.code.uri, _CODE_DIR),
            _s3_input("model", model_data_uri(ctx, train), _MODEL_DIR),
            _s3_input("test", _output_uri(preprocess, "test"), _TEST_DIR),
        ],
        outputs=[_s3_output(ctx, STEP_EVALUATE, "evaluation", _EVALUATION_DIR)],
        # No schema here: evaluate.py reads the encoding contract from the model artifact.
        arguments=[
            "--model-dir",
            _MODEL_DIR,
            "--test-dir",
            _TEST_DIR,
            "--output-dir",
            _EVALUATION_DIR,
            "--failure-file",
            _FAILURE_FILE,
        ],
    )
    step = ProcessingStep(
        STEP_EVALUATE,
        step_args=step_args,
        property_files=[report],
        cache_config=_cache(),
        retry_policies=_job_retries(),
    )
    return step, report


def _register_step(ctx: _Context, preprocess: Any, train: Any, evaluate: Any) -> Any:
    from sagemaker.core.model_metrics import MetricsSource, ModelMetrics
    from sagemaker.core.workflow.functions import Join
    from sagemaker.mlops.workflow import ModelStep
    from sagemaker.serve.model_builder import ModelBuilder

    cfg = ctx.config
    model = ModelBuilder(
        image_uri=ctx.serving_image,
        s3_model_data_url=model_data_uri(ctx, train),
        role_arn=ctx.names.sagemaker_role_arn,
        sagemaker_session=ctx.session,
        instance_type=cfg.instances.inference_instance_type,
        env_vars={"SAGEMAKER_PROGRAM": "inference.py", "SAGEMAKER_SUBMIT_DIRECTORY": ctx.code.source_dir_uri},
    )
    step_args = model.register(
        model_package_group_name=ctx.names.model_package_group,
        content_types=list(CONTENT_TYPES),
        response_types=list(CONTENT_TYPES),
        inference_instances=[cfg.instances.inference_instance_type],
        transform_instances=[cfg.instances.inference_instance_type],
        approval_status=ctx.params["ModelApprovalStatus"],
        model_metrics=ModelMetrics(
            model_statistics=MetricsSource(
                content_type="application/json",
                s3_uri=Join(on="/", values=[_output_uri(evaluate, "evaluation"), EVALUATION_FILE]),
            )
        ),
        # The drift baseline is dualloop's own format, one file per Preprocess instance (the
        # drift job merges them), not a Model Monitor statistics file: so it travels as
        # metadata rather than as DriftCheckBaselines.
        customer_metadata_properties={
            "DriftBaselineS3Uri": _output_uri(preprocess, "baseline"),
            "DriftBaselineFormatVersion": "1",
            "CodeSha256": ctx.code.sha256,
            "QualityMetric": cfg.quality.metric,
        },
    )
    # register() takes no tags, CreateModelPackage does.
    step_args.create_model_package_request["Tags"] = ctx.tags
    # A ModelStep rejects SageMakerJobStepRetryPolicy: it starts no job.
    return ModelStep(STEP_REGISTER, step_args=step_args, retry_policies=_service_retries())


def _quality_gate(ctx: _Context, report: Any, register: Any) -> Any:
    from sagemaker.core.workflow.conditions import (
        ConditionGreaterThanOrEqualTo,
        ConditionLessThanOrEqualTo,
    )
    from sagemaker.core.workflow.functions import Join, JsonGet
    from sagemaker.mlops.workflow import ConditionStep, FailStep

    quality = ctx.config.quality
    metric, threshold = quality.metric, ctx.params["MetricThreshold"]
    section = REPORT_SECTIONS[ctx.config.dataset.problem_type]
    value = JsonGet(step_name=STEP_EVALUATE, property_file=report, json_path=f"{section}.{metric}.value")
    # Errors (rmse, mae, mse) pass at most the threshold, scores (auc, r2, ...) at least.
    condition = ConditionLessThanOrEqualTo if quality.lower_is_better else ConditionGreaterThanOrEqualTo
    failed = FailStep(
        STEP_QUALITY_FAILED,
        error_message=Join(
            on=" ",
            values=[
                f"Quality gate failed: {metric}",
                value,
                f"is not {quality.direction} the threshold",
                threshold,
            ],
        ),
    )
    return ConditionStep(
        STEP_CHECK_QUALITY,
        conditions=[condition(left=value, right=threshold)],
        if_steps=[register],
        else_steps=[failed],
    )


def _build(config: DualloopConfig, session: PipelineSession, code: CodeLocation, schema_uri: str) -> Pipeline:
    from sagemaker.core import image_uris
    from sagemaker.mlops.workflow import Pipeline

    names = Names(config)

    def image(scope: str) -> str:
        return str(
            image_uris.retrieve(
                "xgboost", config.region, version=XGBOOST_FRAMEWORK_VERSION, image_scope=scope
            )
        )

    ctx = _Context(
        config=config,
        names=names,
        session=session,
        code=code,
        schema_uri=schema_uri,
        image=image("training"),
        serving_image=image("inference"),
        params=_parameters(config, names),
    )
    preprocess = _preprocess_step(ctx)
    train = _train_step(ctx, preprocess)
    evaluate, report = _evaluate_step(ctx, preprocess, train)
    register = _register_step(ctx, preprocess, train, evaluate)
    return Pipeline(
        name=names.pipeline,
        parameters=list(ctx.params.values()),
        steps=[preprocess, train, evaluate, _quality_gate(ctx, report, register)],
        # No SageMaker Experiments trial per execution: the outer loop keeps the run history.
        pipeline_experiment_config=None,
        sagemaker_session=session,
    )

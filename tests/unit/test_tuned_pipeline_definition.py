"""The inner pipeline's definition with ``tuning.enabled``: Train is a tuning step AWS accepts.

What this proves: the tuned definition builds offline (S3 only, every call checked by botocore's
Stubber), twice byte-identical (so its cache can hit); Train is a Tuning step whose request
satisfies botocore's CreateHyperParameterTuningJob model, whose objective is the quality gate's
metric in the gate's direction, read by a regex that matches what train.py prints; the tuned
hyperparameters are ranges, not static values; Evaluate and RegisterModel take the best
training job's model. The untuned definition's snapshot (test_pipeline_definition.py) is
untouched by all this; the tuned one has its own. What it cannot prove: SageMaker running it
(tests/functional/test_tuned_inner_run.py runs it on the local cloud).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from botocore.validate import ParamValidator
from test_pipeline_definition import (
    _concrete,
    _expect_schema_present,
    _expect_schema_upload,
    _limits,
    _normalised,
    _S3OnlySession,
    _steps,
)

from inner_pipeline.packaging import ARCHIVE_NAME, package_code
from shared.config import DualloopConfig, load_config
from shared.naming import Names

SNAPSHOT = Path(__file__).parent / "snapshots" / "pipeline_definition_tuned.json"
TUNING = {
    "enabled": True,
    "strategy": "Random",
    "max_jobs": 4,
    "max_parallel_jobs": 2,
    "random_seed": 3,
    "ranges": {
        "eta": {"min": 0.05, "max": 0.5, "scaling": "Logarithmic"},
        "max_depth": {"min": 2, "max": 8},
        "num_round": {"values": [50, 100]},
    },
}


@dataclass
class TunedBuilds:
    config: DualloopConfig
    first: str
    second: str
    regression: str  # rmse-gated: an error, minimized
    grid: str  # Grid over two categorical ranges
    sha: str
    refused_calls: list[str]

    @property
    def steps(self) -> dict[str, dict[str, Any]]:
        return _steps(json.loads(self.first))


@pytest.fixture(scope="module")
def tuned() -> Iterator[TunedBuilds]:
    from inner_pipeline.pipeline import pipeline_definition, pipeline_session

    with pytest.MonkeyPatch.context() as mp:
        for key in list(os.environ):
            if key.startswith(("DUALLOOP_", "AWS_ENDPOINT_URL")):
                mp.delenv(key)
        cfg = load_config(tuning=TUNING)
        regression = load_config(
            tuning=TUNING,
            dataset={"problem_type": "regression"},
            quality={"metric": "rmse", "threshold": 10.0},
        )
        names = Names(cfg)
        sha = package_code().sha256
        code_key = f"{cfg.artifact_prefix}code/{sha}/{ARCHIVE_NAME}"
        creds = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
        s3 = boto3.client("s3", region_name=cfg.region, **creds)  # type: ignore[call-overload]
        refused: list[str] = []
        session = pipeline_session(cfg, _S3OnlySession(s3, refused, region_name=cfg.region, **creds))
        with Stubber(s3) as stub:
            # The code and the schema are already there (the untuned build uploads the same bytes).
            stub.add_response("head_object", {}, {"Bucket": names.artifact_bucket, "Key": code_key})
            _expect_schema_present(stub, cfg)
            stub.add_response(
                "list_buckets",
                {
                    "Buckets": [
                        {"Name": names.artifact_bucket, "CreationDate": datetime(2026, 1, 1, tzinfo=UTC)}
                    ]
                },
                {},
            )
            first = pipeline_definition(cfg, session)
            stub.add_response("head_object", {}, {"Bucket": names.artifact_bucket, "Key": code_key})
            _expect_schema_present(stub, cfg)
            second = pipeline_definition(cfg, session)
            stub.add_response("head_object", {}, {"Bucket": names.artifact_bucket, "Key": code_key})
            _expect_schema_upload(stub, regression)
            regression_definition = pipeline_definition(regression, session)
            grid = load_config(
                tuning={
                    "enabled": True,
                    "strategy": "Grid",
                    "ranges": {"max_depth": {"values": [3, 5]}, "num_round": {"values": [50, 100, 200]}},
                }
            )
            stub.add_response("head_object", {}, {"Bucket": names.artifact_bucket, "Key": code_key})
            _expect_schema_present(stub, grid)
            grid_definition = pipeline_definition(grid, session)
            stub.assert_no_pending_responses()
        yield TunedBuilds(cfg, first, second, regression_definition, grid_definition, sha, refused)


def test_train_is_a_tuning_step_and_the_rest_is_unchanged(tuned: TunedBuilds) -> None:
    assert {name: step["Type"] for name, step in tuned.steps.items()} == {
        "Preprocess": "Processing",
        "Train": "Tuning",
        "Evaluate": "Processing",
        "CheckQuality": "Condition",
        "RegisterModel": "RegisterModel",
        "QualityGateFailed": "Fail",
    }
    assert tuned.refused_calls == []
    assert tuned.first == tuned.second, "two builds differ: the Train step's cache would never hit"
    train = tuned.steps["Train"]
    assert train["CacheConfig"] == {"Enabled": True, "ExpireAfter": "P30D"}
    assert {e for p in train["RetryPolicies"] for e in p["ExceptionType"]} >= {"SageMaker.CAPACITY_ERROR"}


def test_the_objective_is_the_gate_metric_in_the_gates_direction(tuned: TunedBuilds) -> None:
    config = tuned.steps["Train"]["Arguments"]["HyperParameterTuningJobConfig"]
    assert config["Strategy"] == "Random"
    assert config["RandomSeed"] == 3
    assert config["ResourceLimits"] == {"MaxNumberOfTrainingJobs": 4, "MaxParallelTrainingJobs": 2}
    assert config["HyperParameterTuningJobObjective"] == {"Type": "Maximize", "MetricName": "validation:auc"}
    assert config["TrainingJobEarlyStoppingType"] == "Off"
    regression = _steps(json.loads(tuned.regression))["Train"]["Arguments"]["HyperParameterTuningJobConfig"]
    assert regression["HyperParameterTuningJobObjective"] == {
        "Type": "Minimize",
        "MetricName": "validation:rmse",
    }


def test_grid_leaves_the_number_of_jobs_to_the_combinations(tuned: TunedBuilds) -> None:
    # "Grid search ... MaxNumberOfTrainingJobs" is the number of combinations: not given here
    config = _steps(json.loads(tuned.grid))["Train"]["Arguments"]["HyperParameterTuningJobConfig"]
    assert config["Strategy"] == "Grid"
    assert config["ResourceLimits"] == {"MaxParallelTrainingJobs": 2}
    assert config["ParameterRanges"]["CategoricalParameterRanges"] == [
        {"Name": "max_depth", "Values": ["3", "5"]},
        {"Name": "num_round", "Values": ["50", "100", "200"]},
    ]


@pytest.mark.parametrize(
    ("line", "value"),
    [
        ("validation:auc=0.912345", "0.912345"),
        ("2026-12-04 validation:auc=1.000000 #011", "1.000000"),
        ("[29]#011train-auc:0.99#011validation-auc:0.97", None),  # XGBoost's own lines are not it
        ("validation:accuracy=0.500000", None),
    ],
)
def test_the_metric_regex_reads_what_train_py_prints(
    tuned: TunedBuilds, line: str, value: str | None
) -> None:
    spec = tuned.steps["Train"]["Arguments"]["TrainingJobDefinition"]["AlgorithmSpecification"]
    (definition,) = spec["MetricDefinitions"]
    assert definition["Name"] == "validation:auc"
    found = re.findall(definition["Regex"], line)
    assert found == ([value] if value else [])
    # A negative r2 reads as one too.
    regression = _steps(json.loads(tuned.regression))["Train"]["Arguments"]["TrainingJobDefinition"]
    (rmse,) = regression["AlgorithmSpecification"]["MetricDefinitions"]
    assert re.findall(rmse["Regex"].replace("rmse", "r2"), "validation:r2=-0.250000") == ["-0.250000"]


def test_tuned_hyperparameters_are_ranges_the_rest_static(tuned: TunedBuilds) -> None:
    args = tuned.steps["Train"]["Arguments"]
    ranges = args["HyperParameterTuningJobConfig"]["ParameterRanges"]
    assert ranges["ContinuousParameterRanges"] == [
        {"Name": "eta", "MinValue": "0.05", "MaxValue": "0.5", "ScalingType": "Logarithmic"}
    ]
    assert ranges["IntegerParameterRanges"] == [
        {"Name": "max_depth", "MinValue": "2", "MaxValue": "8", "ScalingType": "Auto"}
    ]
    assert ranges["CategoricalParameterRanges"] == [{"Name": "num_round", "Values": ["50", "100"]}]
    definition = args["TrainingJobDefinition"]
    static = definition["StaticHyperParameters"]
    assert not {"eta", "max_depth", "num_round"} & set(static)
    # AND no pipeline parameter sets a tuned hyperparameter (a run given one is refused, not ignored)
    from inner_pipeline.pipeline import declared_parameters

    declared = json.loads(tuned.first)["Parameters"]
    assert declared == declared_parameters(tuned.config)
    assert not {"MaxDepth", "Eta", "NumRound"} & {p["Name"] for p in declared}
    bucket, prefix = Names(tuned.config).artifact_bucket, tuned.config.artifact_prefix
    assert static["sagemaker_submit_directory"] == f"s3://{bucket}/{prefix}code/{tuned.sha}/sourcedir.tar.gz"
    assert [c["ChannelName"] for c in definition["InputDataConfig"]] == ["train", "validation"]
    assert definition["OutputDataConfig"]["S3OutputPath"] == f"s3://{bucket}/{prefix}models"
    # The tuning job's tags, which the training jobs it launches inherit (and the IAM statements test)
    assert args["Tags"] == [
        {"Key": "dualloop:project", "Value": tuned.config.project},
        {"Key": "dualloop:stage", "Value": tuned.config.stage.value},
    ]


def test_evaluate_and_register_take_the_best_training_jobs_model(tuned: TunedBuilds) -> None:
    bucket, prefix = Names(tuned.config).artifact_bucket, tuned.config.artifact_prefix
    best = {
        "Std:Join": {
            "On": "/",
            "Values": [
                "s3:/",
                bucket,
                f"{prefix}models",
                {"Get": "Steps.Train.TrainingJobSummaries[0].TrainingJobName"},
                "output/model.tar.gz",
            ],
        }
    }
    evaluate = tuned.steps["Evaluate"]["Arguments"]
    model = next(i for i in evaluate["ProcessingInputs"] if i["InputName"] == "model")["S3Input"]
    assert model["S3Uri"] == best
    register = tuned.steps["RegisterModel"]["Arguments"]
    assert register["InferenceSpecification"]["Containers"][0]["ModelDataUrl"] == best


def test_the_tuning_request_validates_against_the_sagemaker_service_model(tuned: TunedBuilds) -> None:
    import botocore.session

    shape = (
        botocore.session.get_session()
        .get_service_model("sagemaker")
        .operation_model("CreateHyperParameterTuningJob")
        .input_shape
    )
    definition = json.loads(tuned.first)
    params = {p["Name"]: p for p in definition["Parameters"]}
    request = {
        "HyperParameterTuningJobName": "dummy-job",  # the pipeline names it
        **_concrete(tuned.steps["Train"]["Arguments"], shape, params),
    }
    report = ParamValidator().validate(request, shape)
    assert not report.has_errors(), report.generate_report()
    assert _limits(request, shape, "CreateHyperParameterTuningJob") == []


def test_tuned_definition_matches_its_snapshot(tuned: TunedBuilds) -> None:
    """Regenerate with ``UPDATE_SNAPSHOTS=1 pytest tests/unit/test_tuned_pipeline_definition.py``."""
    actual = _normalised(tuned.first, tuned.sha)
    if os.environ.get("UPDATE_SNAPSHOTS") == "1":
        SNAPSHOT.write_text(actual)
    assert SNAPSHOT.is_file(), f"no snapshot yet: run with UPDATE_SNAPSHOTS=1 to write {SNAPSHOT}"
    assert actual == SNAPSHOT.read_text(), "definition changed: review, then UPDATE_SNAPSHOTS=1"

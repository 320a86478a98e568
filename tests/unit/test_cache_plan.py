"""``plan_cache``: which steps will hit the step cache, and the reason for each miss.

What this proves: on a small synthetic definition shaped like the SDK's (processing ->
training -> processing -> condition -> register | fail) and a store filled by hand with
the entries the executor would have recorded (keys from the executor's own ``cache_key``),
the plan reports each hit with its source run, and each miss with the reason the issue
names: no previous run, an expired entry, an argument or input diff, an upstream step that
will run, caching disabled; and steps without a cache key as running every time.
What it cannot prove: that the executor agrees. tests/functional/test_inner_cli.py checks
the plan against real runs on the local cloud.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from inner_pipeline.cache_plan import (
    NEXT_EXECUTION_ID,
    Outcome,
    ParameterError,
    StoreHistory,
    check_parameters,
    parse_assignments,
    plan_cache,
)
from shared.local_cloud.sagemaker.cache import CacheEntry, InMemoryStepCache, cache_key

PIPELINE = "demo-pipeline"
NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
CACHE = {"Enabled": True, "ExpireAfter": "P30D"}
CODE = "s3://artifacts/code/abc/"
DATA = "s3://raw/manual/one/"


def _execution(name: str) -> str:
    return f"arn:aws:sagemaker:us-east-1:123456789012:pipeline/{PIPELINE}/execution/{name}"


def _outputs(execution: str, step: str) -> dict[str, Any]:
    return {
        "Outputs": [
            {
                "OutputName": name,
                "S3Output": {"S3Uri": f"s3://art/{execution}/{step}/{name}", "LocalPath": "/x"},
            }
            for name in ("train", "test")
        ]
    }


def definition(**changes: Any) -> dict[str, Any]:
    """Prep (processing) -> Train (training) -> Eval (processing) -> Check -> Register | Failed."""
    prep = {
        "Name": "Prep",
        "Type": "Processing",
        "CacheConfig": CACHE,
        "Arguments": {
            "AppSpecification": {"ImageUri": "img", "ContainerEntrypoint": ["python3", "prep.py"]},
            "ProcessingInputs": [
                {"InputName": "code", "S3Input": {"S3Uri": CODE, "LocalPath": "/opt/ml/processing/code"}},
                {
                    "InputName": "data",
                    "S3Input": {
                        "S3Uri": {"Get": "Parameters.InputDataUri"},
                        "LocalPath": "/opt/ml/processing/in",
                    },
                },
            ],
            "ProcessingResources": {"ClusterConfig": {"InstanceType": {"Get": "Parameters.InstanceType"}}},
            "ProcessingOutputConfig": {
                "Outputs": [
                    {
                        "OutputName": name,
                        "S3Output": {
                            "S3Uri": {
                                "Std:Join": {
                                    "On": "/",
                                    "Values": [
                                        "s3://art",
                                        {"Get": "Execution.PipelineExecutionId"},
                                        "Prep",
                                        name,
                                    ],
                                }
                            },
                            "LocalPath": "/x",
                        },
                    }
                    for name in ("train", "test")
                ]
            },
        },
    }
    train = {
        "Name": "Train",
        "Type": "Training",
        "CacheConfig": CACHE,
        "Arguments": {
            "AlgorithmSpecification": {"TrainingImage": "img", "TrainingInputMode": "File"},
            "HyperParameters": {
                "max_depth": {"Std:Join": {"On": "", "Values": [{"Get": "Parameters.MaxDepth"}]}},
                "sagemaker_submit_directory": CODE,
            },
            "InputDataConfig": [
                {
                    "ChannelName": "train",
                    "DataSource": {
                        "S3DataSource": {
                            "S3Uri": {
                                "Get": "Steps.Prep.ProcessingOutputConfig.Outputs['train'].S3Output.S3Uri"
                            }
                        }
                    },
                }
            ],
            "OutputDataConfig": {"S3OutputPath": "s3://art/models"},
        },
    }
    evaluate = {
        "Name": "Eval",
        "Type": "Processing",
        "CacheConfig": CACHE,
        "Arguments": {
            "AppSpecification": {"ImageUri": "img", "ContainerEntrypoint": ["python3", "eval.py"]},
            "ProcessingInputs": [
                {
                    "InputName": "model",
                    "S3Input": {
                        "S3Uri": {"Get": "Steps.Train.ModelArtifacts.S3ModelArtifacts"},
                        "LocalPath": "/m",
                    },
                },
                {
                    "InputName": "test",
                    "S3Input": {
                        "S3Uri": {"Get": "Steps.Prep.ProcessingOutputConfig.Outputs['test'].S3Output.S3Uri"},
                        "LocalPath": "/t",
                    },
                },
            ],
        },
    }
    check = {
        "Name": "Check",
        "Type": "Condition",
        "Arguments": {
            "Conditions": [{"Type": "GreaterThanOrEqualTo", "LeftValue": 1, "RightValue": 0}],
            "IfSteps": [{"Name": "Register", "Type": "RegisterModel", "Arguments": {}}],
            "ElseSteps": [{"Name": "Failed", "Type": "Fail", "Arguments": {"ErrorMessage": "no"}}],
        },
    }
    steps = {"Prep": prep, "Train": train, "Eval": evaluate, "Check": check}
    for name, change in changes.items():
        steps[name] = {**steps[name], **change}
    return {
        "Version": "2020-12-01",
        "Parameters": [
            {"Name": "InputDataUri", "Type": "String", "DefaultValue": DATA},
            {"Name": "InstanceType", "Type": "String", "DefaultValue": "ml.m5.xlarge"},
            {"Name": "MaxDepth", "Type": "Integer", "DefaultValue": 5},
        ],
        "Steps": list(steps.values()),
    }


# ---- the entries the executor would have recorded, by hand ------------------------------------------


def prep_entry(execution: str, *, data: str = DATA, age: timedelta = timedelta(hours=1)) -> CacheEntry:
    args = {
        "AppSpecification": {"ImageUri": "img", "ContainerEntrypoint": ["python3", "prep.py"]},
        "ProcessingInputs": [
            {"InputName": "code", "S3Input": {"S3Uri": CODE, "LocalPath": "/opt/ml/processing/code"}},
            {"InputName": "data", "S3Input": {"S3Uri": data, "LocalPath": "/opt/ml/processing/in"}},
        ],
    }
    properties = {**args, "ProcessingOutputConfig": _outputs(execution, "Prep")}
    return _entry("Prep", "Processing", args, properties, execution, age)


def train_entry(
    execution: str,
    *,
    max_depth: str = "5",
    prep_execution: str | None = None,
    age: timedelta = timedelta(hours=1),
) -> CacheEntry:
    args = {
        "AlgorithmSpecification": {"TrainingImage": "img", "TrainingInputMode": "File"},
        "HyperParameters": {"max_depth": max_depth, "sagemaker_submit_directory": CODE},
        "InputDataConfig": [
            {
                "ChannelName": "train",
                "DataSource": {
                    "S3DataSource": {"S3Uri": f"s3://art/{prep_execution or execution}/Prep/train"}
                },
            }
        ],
    }
    properties = {**args, "ModelArtifacts": {"S3ModelArtifacts": f"s3://art/models/{execution}/model.tar.gz"}}
    return _entry("Train", "Training", args, properties, execution, age)


def eval_entry(execution: str, *, age: timedelta = timedelta(hours=1)) -> CacheEntry:
    args = {
        "AppSpecification": {"ImageUri": "img", "ContainerEntrypoint": ["python3", "eval.py"]},
        "ProcessingInputs": [
            {
                "InputName": "model",
                "S3Input": {"S3Uri": f"s3://art/models/{execution}/model.tar.gz", "LocalPath": "/m"},
            },
            {"InputName": "test", "S3Input": {"S3Uri": f"s3://art/{execution}/Prep/test", "LocalPath": "/t"}},
        ],
    }
    return _entry("Eval", "Processing", args, dict(args), execution, age)


def _entry(
    step: str, kind: str, args: dict[str, Any], properties: dict[str, Any], execution: str, age: timedelta
) -> CacheEntry:
    return CacheEntry(
        pipeline_name=PIPELINE,
        step_name=step,
        key=cache_key(kind, args),
        execution_arn=_execution(execution),
        finished_at=NOW - age,
        properties=properties,
        metadata={},
    )


def store(*entries: CacheEntry) -> StoreHistory:
    history = StoreHistory(InMemoryStepCache())
    for entry in entries:
        history.record(entry)
    return history


def full_run(execution: str = "first", age: timedelta = timedelta(hours=1)) -> list[CacheEntry]:
    return [prep_entry(execution, age=age), train_entry(execution, age=age), eval_entry(execution, age=age)]


def plan(
    spec: dict[str, Any] | None = None, parameters: dict[str, str] | None = None, *entries: CacheEntry
) -> Any:
    return plan_cache(spec or definition(), parameters or {}, store(*entries), NOW, pipeline_name=PIPELINE)


# ---- hits -------------------------------------------------------------------------------------------


def test_an_unchanged_run_hits_every_cached_step_and_names_the_run_it_reuses() -> None:
    # GIVEN one earlier successful run of every step
    # WHEN the same parameters are planned
    result = plan(None, None, *full_run("first"))
    # THEN the three job steps hit, each reusing that run
    assert result.hits == ("Prep", "Train", "Eval")
    train = result.step("Train")
    assert train.outcome is Outcome.HIT
    assert train.source_execution_arn == _execution("first")
    assert train.age == timedelta(hours=1)
    assert train.reason == "reuses first (1h old)"


def test_a_parameter_outside_the_cache_key_does_not_cause_a_miss() -> None:
    result = plan(None, {"InstanceType": "ml.m5.4xlarge"}, *full_run())
    assert result.hits == ("Prep", "Train", "Eval")


def test_steps_without_a_cache_key_run_every_time_and_say_which_branch_they_are_on() -> None:
    result = plan(None, None, *full_run())
    assert [(s.name, s.outcome, s.branch) for s in result.steps[3:]] == [
        ("Check", Outcome.RUNS, None),
        ("Register", Outcome.RUNS, "Check=true"),
        ("Failed", Outcome.RUNS, "Check=false"),
    ]
    assert {s.reason for s in result.steps[3:]} == {"runs every time"}


def test_the_newest_fresh_entry_is_the_one_reused() -> None:
    result = plan(
        None, None, prep_entry("old", age=timedelta(days=2)), prep_entry("new", age=timedelta(hours=2))
    )
    assert result.step("Prep").source_execution_arn == _execution("new")


# ---- misses, one reason each ------------------------------------------------------------------------


def test_no_previous_run() -> None:
    result = plan()
    assert result.step("Prep").outcome is Outcome.MISS
    assert result.step("Prep").reason == "no previous successful run"


def test_an_expired_entry_says_its_age_and_the_expire_after() -> None:
    # GIVEN the only run is 31 days old and the steps expire after 30 days
    result = plan(None, None, *full_run(age=timedelta(days=31, hours=2)))
    prep = result.step("Prep")
    assert prep.outcome is Outcome.MISS
    assert prep.reason == "entry expired (ExpireAfter P30D, age 31d 2h)"
    assert prep.source_execution_arn == _execution("first")


def test_without_expire_after_an_old_entry_still_hits() -> None:
    spec = definition(Prep={"CacheConfig": {"Enabled": True}})
    result = plan(spec, None, prep_entry("first", age=timedelta(days=400)))
    assert result.step("Prep").outcome is Outcome.HIT


def test_a_changed_hyperparameter_is_shown_as_an_argument_diff_and_the_downstream_step_waits_for_it() -> None:
    # GIVEN a run with max_depth 5
    # WHEN max_depth 7 is planned
    result = plan(None, {"MaxDepth": "7"}, *full_run())
    # THEN Prep still hits, Train misses on exactly that argument, Eval waits for Train
    assert result.step("Prep").outcome is Outcome.HIT
    train = result.step("Train")
    assert train.outcome is Outcome.MISS
    assert train.reason == "arguments differ: HyperParameters.max_depth 5 → 7"
    assert [(d.path, d.before, d.after) for d in train.differences] == [
        ("HyperParameters.max_depth", "5", "7")
    ]
    evaluate = result.step("Eval")
    assert evaluate.outcome is Outcome.MISS
    assert evaluate.reason == "upstream step Train will run, so its outputs are unknown until then"
    assert evaluate.upstream == ("Train",)


def test_a_changed_input_uri_is_shown_as_an_input_change_and_everything_downstream_waits() -> None:
    result = plan(None, {"InputDataUri": "s3://raw/manual/two/"}, *full_run())
    prep = result.step("Prep")
    assert (
        prep.reason
        == "input changed: ProcessingInputs[data].S3Input.S3Uri s3://raw/manual/one/ → s3://raw/manual/two/"
    )
    assert result.step("Train").upstream == ("Prep",)
    assert result.step("Eval").reason == (
        "upstream steps Prep, Train will run, so their outputs are unknown until then"
    )


def test_the_diff_is_against_the_most_recent_run() -> None:
    entries = [
        train_entry("first", max_depth="3", age=timedelta(hours=5)),
        train_entry("first", max_depth="4", age=timedelta(hours=1)),
        prep_entry("first"),
    ]
    train = plan(None, None, *entries).step("Train")
    assert train.reason == "arguments differ: HyperParameters.max_depth 4 → 5"


def test_an_upstream_hit_from_another_run_feeds_its_outputs_into_the_downstream_key() -> None:
    # GIVEN Prep's freshest run is "second", but Train last ran on the outputs of "first"
    entries = [prep_entry("first", age=timedelta(hours=3)), train_entry("first", age=timedelta(hours=3))]
    entries.append(prep_entry("second", age=timedelta(hours=1)))
    # WHEN planned: Prep hits (reusing "second"), so Train's input is "second"'s output
    result = plan(None, None, *entries)
    assert result.step("Prep").source_execution_arn == _execution("second")
    train = result.step("Train")
    assert train.outcome is Outcome.MISS
    assert train.reason == (
        "input changed: InputDataConfig[train].DataSource.S3DataSource.S3Uri "
        "s3://art/first/Prep/train → s3://art/second/Prep/train"
    )


def test_an_argument_that_reads_the_execution_id_always_misses_and_says_so() -> None:
    spec = definition()
    spec["Steps"][0]["Arguments"]["Environment"] = {"RUN": {"Get": "Execution.PipelineExecutionId"}}
    entry = prep_entry("first")
    recorded = {**entry.properties, "Environment": {"RUN": "first"}}
    args = {k: recorded[k] for k in ("AppSpecification", "ProcessingInputs", "Environment")}
    entry = CacheEntry(
        PIPELINE, "Prep", cache_key("Processing", args), entry.execution_arn, entry.finished_at, recorded, {}
    )
    prep = plan(spec, None, entry).step("Prep")
    assert prep.reason == f"arguments differ: Environment.RUN first → {NEXT_EXECUTION_ID}"


@pytest.mark.parametrize(
    ("cache_config", "reason"),
    [
        (None, "caching disabled (no CacheConfig)"),
        ({"Enabled": False, "ExpireAfter": "P30D"}, "caching disabled (CacheConfig.Enabled is false)"),
    ],
)
def test_caching_disabled(cache_config: dict[str, Any] | None, reason: str) -> None:
    spec = definition(Train={"CacheConfig": cache_config})
    result = plan(spec, None, *full_run())
    assert result.step("Train").outcome is Outcome.MISS
    assert result.step("Train").reason == reason
    assert result.step("Eval").upstream == ("Train",)


def test_a_miss_whose_entry_does_not_hold_its_arguments_says_so_rather_than_guessing() -> None:
    entry = train_entry("first", max_depth="4")
    bare = CacheEntry(PIPELINE, "Train", entry.key, entry.execution_arn, entry.finished_at, {}, {})
    train = plan(None, None, prep_entry("first"), bare).step("Train")
    assert train.reason == "arguments differ from the last successful run (not recorded in its entry)"


# ---- parameters -------------------------------------------------------------------------------------


def test_an_unknown_parameter_is_refused_with_the_valid_names() -> None:
    with pytest.raises(
        ParameterError,
        match=r"unknown pipeline parameter MaxDeep; the pipeline declares: InputDataUri \(String\), InstanceType \(String\), MaxDepth \(Integer\)",
    ):
        check_parameters(definition(), {"MaxDeep": "7"})


def test_a_value_of_the_wrong_type_is_refused() -> None:
    with pytest.raises(
        ParameterError, match="parameter 'MaxDepth' of type Integer cannot take the value 'deep'"
    ):
        plan(None, {"MaxDepth": "deep"})


@pytest.mark.parametrize("pairs", [["MaxDepth"], ["=7"], ["MaxDepth=7", "MaxDepth=8"]])
def test_bad_assignments_are_refused(pairs: list[str]) -> None:
    with pytest.raises(ParameterError):
        parse_assignments(pairs)


def test_assignments_keep_everything_after_the_first_equals_sign() -> None:
    assert parse_assignments(["InputDataUri=s3://b/k=v/", "MaxDepth=7"]) == {
        "InputDataUri": "s3://b/k=v/",
        "MaxDepth": "7",
    }


def test_the_plan_is_json() -> None:
    document = plan(None, {"MaxDepth": "7"}, *full_run()).as_dict()
    assert json.loads(json.dumps(document))["hits"] == ["Prep"]
    assert document["parameters"]["MaxDepth"] == 7
    train = next(s for s in document["steps"] if s["name"] == "Train")
    assert train["differences"] == [{"path": "HyperParameters.max_depth", "before": "5", "after": "7"}]

"""Pure rules of the new local step types: the tuning search space and strategies, batch
transform's record filters, the Tuning/Transform cache keys, and the step types refused up
front. (The steps themselves run in tests/functional/test_pipeline_step_types.py.)"""

from __future__ import annotations

import math
from typing import Any

import pytest

from shared.local_cloud.sagemaker.cache import cache_key, cacheable, key_attributes
from shared.local_cloud.sagemaker.errors import StepFailure
from shared.local_cloud.sagemaker.steps import executor_for
from shared.local_cloud.sagemaker.steps import record_filter as rf
from shared.local_cloud.sagemaker.steps.search_space import parse_ranges, plan
from shared.local_cloud.sagemaker.steps.unsupported import UnsupportedStepTypeError
from shared.pipeline_graph import StepNode


def _config(strategy: str = "Random", jobs: int | None = 20, **ranges: Any) -> dict[str, Any]:
    config: dict[str, Any] = {
        "Strategy": strategy,
        "RandomSeed": 3,
        "HyperParameterTuningJobObjective": {"Type": "Minimize", "MetricName": "validation:rmse"},
        "ParameterRanges": ranges,
        "ResourceLimits": {"MaxParallelTrainingJobs": 2},
    }
    if jobs is not None:
        config["ResourceLimits"]["MaxNumberOfTrainingJobs"] = jobs
    return config


# ---- search space ------------------------------------------------------------------------------------


def test_random_values_respect_ranges_types_and_scaling() -> None:
    # GIVEN an integer, a log-scaled continuous and a categorical range
    config = _config(
        IntegerParameterRanges=[{"Name": "depth", "MinValue": "2", "MaxValue": "9", "ScalingType": "Auto"}],
        ContinuousParameterRanges=[
            {"Name": "eta", "MinValue": "0.001", "MaxValue": "1", "ScalingType": "Logarithmic"}
        ],
        CategoricalParameterRanges=[{"Name": "booster", "Values": ["gbtree", "dart"]}],
    )
    strategy, total = plan(config)
    # WHEN 200 trials are proposed
    proposals = [strategy.propose()[1] for _ in range(200)]
    # THEN every value is a string in range, integers are integers
    assert total == 20
    assert all(2 <= int(p["depth"]) <= 9 and p["depth"].isdigit() for p in proposals)
    etas = [float(p["eta"]) for p in proposals]
    assert all(0.001 <= e <= 1 for e in etas)
    assert {p["booster"] for p in proposals} == {"gbtree", "dart"}
    # AND log scaling spreads draws over decades: about a third below 0.01 (linear: ~1%)
    assert 0.2 < sum(e < 0.01 for e in etas) / len(etas) < 0.5


def test_reverse_logarithmic_crowds_values_near_one() -> None:
    dims = parse_ranges(
        {
            "ContinuousParameterRanges": [
                {"Name": "m", "MinValue": "0", "MaxValue": "0.999", "ScalingType": "ReverseLogarithmic"}
            ]
        }
    )
    values = [float(dims[0].from_unit(u / 100)) for u in range(101)]
    assert values[0] == pytest.approx(0.0) and values[-1] == pytest.approx(0.999)
    assert sum(v > 0.9 for v in values) > 60  # linear would put 10% there


@pytest.mark.parametrize(
    ("ranges", "message"),
    [
        (
            {
                "ContinuousParameterRanges": [
                    {"Name": "a", "MinValue": "0", "MaxValue": "1", "ScalingType": "Logarithmic"}
                ]
            },
            "MinValue > 0",
        ),
        (
            {
                "IntegerParameterRanges": [
                    {"Name": "a", "MinValue": "0", "MaxValue": "5", "ScalingType": "ReverseLogarithmic"}
                ]
            },
            "ReverseLogarithmic",
        ),
        (
            {"IntegerParameterRanges": [{"Name": "a", "MinValue": "5", "MaxValue": "1"}]},
            "greater than MaxValue",
        ),
        ({"CategoricalParameterRanges": [{"Name": "a", "Values": []}]}, "no Values"),
    ],
)
def test_bad_ranges_are_validation_errors(ranges: dict[str, Any], message: str) -> None:
    with pytest.raises(StepFailure, match=message):
        plan(_config(**ranges))


def test_grid_runs_every_combination_and_takes_categorical_ranges_only() -> None:
    cats = [{"Name": "a", "Values": ["1", "2", "3"]}, {"Name": "b", "Values": ["x", "y"]}]
    strategy, total = plan(_config("Grid", jobs=None, CategoricalParameterRanges=cats))
    combos = {tuple(sorted(strategy.propose()[1].items())) for _ in range(total)}
    assert total == 6 and len(combos) == 6
    with pytest.raises(StepFailure, match="must equal the number of distinct combinations"):
        plan(_config("Grid", jobs=4, CategoricalParameterRanges=cats))
    with pytest.raises(StepFailure, match="categorical parameter ranges only"):
        plan(
            _config(
                "Grid", jobs=None, IntegerParameterRanges=[{"Name": "d", "MinValue": "1", "MaxValue": "3"}]
            )
        )


def test_hyperband_and_early_stopping_are_clear_errors() -> None:
    ranges = {"IntegerParameterRanges": [{"Name": "d", "MinValue": "1", "MaxValue": "3"}]}
    with pytest.raises(StepFailure, match="Hyperband tuning strategy is not supported locally"):
        plan(_config("Hyperband", **ranges))
    with pytest.raises(StepFailure, match="TrainingJobEarlyStoppingType Auto"):
        plan({**_config(**ranges), "TrainingJobEarlyStoppingType": "Auto"})


def test_bayesian_learns_from_observed_objectives() -> None:
    # GIVEN a Bayesian (TPE) search on x in [0, 10], objective (x - 8)^2 to minimize
    strategy, total = plan(
        _config(
            "Bayesian",
            jobs=40,
            ContinuousParameterRanges=[
                {"Name": "x", "MinValue": "0", "MaxValue": "10", "ScalingType": "Linear"}
            ],
        )
    )
    xs = []
    for _ in range(total):
        handle, proposed = strategy.propose()
        x = float(proposed["x"])
        xs.append(x)
        strategy.observe(handle, (x - 8) ** 2)
    # THEN its later proposals concentrate near the optimum, unlike its random start
    late = xs[-15:]
    assert sum(abs(x - 8) < 1.5 for x in late) >= 10
    assert min(abs(x - 8) for x in xs) < 0.3
    assert not math.isnan(sum(xs))


# ---- batch transform filters ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "value", "expected"),
    [
        ("$", [1, 2], [1, 2]),
        ("$[1:]", ["id", "a", "b"], ["a", "b"]),
        ("$[0,-1]", ["id", "a", "b", "9.5"], ["id", "9.5"]),
        ("$[2]", ["id", "a", "b"], "b"),
        ("$.features", {"id": 1, "features": [1, 2]}, [1, 2]),
        (
            "$['id','SageMakerOutput']",
            {"id": 1, "x": 2, "SageMakerOutput": 3},
            {"id": 1, "SageMakerOutput": 3},
        ),
        ("$.a.b", {"a": {"b": 4}}, 4),
    ],
)
def test_jsonpath_subset(path: str, value: Any, expected: Any) -> None:
    assert rf.apply(path, value) == expected


def test_jsonpath_outside_the_subset_and_missing_fields_fail_clearly() -> None:
    with pytest.raises(StepFailure, match="outside the JSONPath subset"):
        rf.apply("$..a", {"a": 1})
    with pytest.raises(StepFailure, match="no field 'b'"):
        rf.apply("$.b", {"a": 1})


def test_join_source_input_for_csv_and_json_records() -> None:
    csv_row = rf.parse(b"7,0.1,0.2\n", "text/csv")
    assert rf.render(rf.join(csv_row, "42.0"), "text/csv") == b"7,0.1,0.2,42.0"
    record = rf.parse(b'{"id": 7, "f": [1]}', "application/json")
    assert rf.join(record, 0.9) == {"id": 7, "f": [1], "SageMakerOutput": 0.9}


# ---- cache keys and step types ------------------------------------------------------------------------


def _tuning_arguments(output: str = "s3://b/out", static: str = "1") -> dict[str, Any]:
    return {
        "HyperParameterTuningJobConfig": {"Strategy": "Random"},
        "TrainingJobDefinition": {
            "AlgorithmSpecification": {"TrainingImage": "img"},
            "StaticHyperParameters": {"a": static},
            "OutputDataConfig": {"S3OutputPath": output},
            "RoleArn": "arn:aws:iam::1:role/r",
        },
    }


def test_tuning_cache_key_reads_only_the_documented_children_of_the_training_definition() -> None:
    assert cacheable("Tuning") and cacheable("Transform")
    assert not cacheable("Lambda") and not cacheable("Callback")
    assert key_attributes("Tuning") == (
        "HyperParameterTuningJobConfig",
        "TrainingJobDefinition",
        "TrainingJobDefinitions",
    )
    base = cache_key("Tuning", _tuning_arguments())
    assert cache_key("Tuning", _tuning_arguments(output="s3://b/elsewhere")) == base
    assert cache_key("Tuning", _tuning_arguments(static="2")) != base


def test_transform_cache_key_ignores_the_output_location() -> None:
    args = {"ModelName": "m", "TransformInput": {"DataSource": {"S3DataSource": {"S3Uri": "s3://b/in"}}}}
    key = cache_key("Transform", {**args, "TransformOutput": {"S3OutputPath": "s3://b/1"}})
    assert key == cache_key("Transform", {**args, "TransformOutput": {"S3OutputPath": "s3://b/2"}})
    assert key != cache_key("Transform", {**args, "ModelName": "other"})


@pytest.mark.parametrize(
    ("step_type", "why"),
    [
        ("EMR", "EMR cluster"),
        ("ClarifyCheck", "Clarify"),
        ("QualityCheck", "Model Monitor"),
        ("AutoML", "Autopilot"),
    ],
)
def test_unsupported_step_types_name_the_type_and_why(step_type: str, why: str) -> None:
    node = StepNode("S", step_type, {"Name": "S", "Type": step_type}, frozenset())
    with pytest.raises(
        UnsupportedStepTypeError, match=f"type '{step_type}', which is not supported locally: .*{why}"
    ):
        executor_for(node)


# ---- transform batching -----------------------------------------------------------------------------------


def _plan(**overrides: Any) -> Any:
    from shared.local_cloud.sagemaker.steps.transform import _Plan

    args: dict[str, Any] = {
        "ModelName": "m",
        "TransformInput": {
            "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": "s3://b/in/"}},
            "ContentType": "text/csv",
            "SplitType": "Line",
        },
        "TransformOutput": {"S3OutputPath": "s3://b/out", "AssembleWith": "Line"},
        "BatchStrategy": "MultiRecord",
        "MaxPayloadInMB": 1,
    }
    args.update(overrides)
    return _Plan.from_arguments(args)


def test_multi_record_batches_fill_max_payload_and_single_record_sends_one() -> None:
    record = b"x" * (300 * 1024)  # 300 KB: three fit in 1 MB, four do not
    records = [record] * 7
    assert [len(b) for b in _plan().batches(records, "k")] == [3, 3, 1]
    assert [len(b) for b in _plan(BatchStrategy="SingleRecord").batches(records, "k")] == [1] * 7
    with pytest.raises(StepFailure, match="over MaxPayloadInMB"):
        list(_plan().batches([b"x" * (2 * 1024 * 1024)], "k"))


def test_split_types_none_line_and_recordio() -> None:
    assert _plan().split(b"a\nb\n\nc") == [b"a", b"b", b"c"]
    none = _plan(
        TransformInput={"DataSource": {"S3DataSource": {"S3Uri": "s3://b/in/"}}, "SplitType": "None"}
    )
    assert none.split(b"a\nb") == [b"a\nb"]
    with pytest.raises(StepFailure, match="SplitType RecordIO is not supported locally"):
        _plan(
            TransformInput={"DataSource": {"S3DataSource": {"S3Uri": "s3://b/in/"}}, "SplitType": "RecordIO"}
        )


def test_input_filter_join_and_output_filter_on_csv() -> None:
    plan = _plan(DataProcessing={"InputFilter": "$[1:]", "JoinSource": "Input", "OutputFilter": "$[0,-1]"})
    assert plan.prepare(b"id-7,0.5,0.25") == b"0.5,0.25"
    assert plan.finish(b"id-7,0.5,0.25", b"0.93") == b"id-7,0.93"


# ---- selective execution ------------------------------------------------------------------------------


def test_selective_execution_refuses_a_step_whose_input_the_source_never_produced() -> None:
    from datetime import UTC, datetime

    from shared.local_cloud.sagemaker.executor import (
        ExecutionIdentity,
        ExecutionResult,
        LocalPipelineExecutor,
        SelectiveRun,
    )
    from shared.local_cloud.sagemaker.steps.base import ArnOnlyJobRecorder, Services

    definition = {
        "Version": "2020-12-01",
        "Steps": [
            {"Name": "A", "Type": "Fail", "Arguments": {"ErrorMessage": "a"}},
            {"Name": "B", "Type": "Fail", "Arguments": {"ErrorMessage": "b"}, "DependsOn": ["A"]},
        ],
    }
    arn = "arn:aws:sagemaker:us-east-1:123456789012:pipeline/p/execution/"
    source = ExecutionResult(f"{arn}src", "Failed", "x", (), ("A", "B"), {})
    executor = LocalPipelineExecutor(
        definition,
        identity=ExecutionIdentity(
            "p",
            arn.split("/execution", maxsplit=1)[0],
            f"{arn}new",
            "123456789012",
            "us-east-1",
            datetime.now(UTC),
        ),
        services=Services(s3=None, sagemaker=None, jobs=ArnOnlyJobRecorder("123456789012", "us-east-1")),  # type: ignore[arg-type]
        selective=SelectiveRun(frozenset({"B"}), source),
    )
    result = executor.run()
    assert result.status == "Failed"
    assert "read from A, which did not succeed in the source execution" in (result.failure_reason or "")
    assert result.steps == ()


def test_cache_plan_calls_a_tuning_steps_training_data_an_input_and_its_static_hyperparameters_not() -> None:
    from inner_pipeline.cache_plan import Difference

    assert Difference("TrainingJobDefinition.InputDataConfig[train].DataSource", "a", "b").is_input
    assert not Difference("TrainingJobDefinition.StaticHyperParameters.eta", "1", "2").is_input
    assert Difference("TransformInput.DataSource.S3DataSource.S3Uri", "a", "b").is_input

"""The local pipeline executor's pure parts: expressions, conditions, the step graph, the cache
key and its expiry, retry policies, and the executor's walk over a graph of fake steps.

What these cannot prove (the S3 transfers, the subprocess container, moto's step list and the
EventBridge events) is proved against the local cloud in tests/functional/test_local_executor.py.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

import pytest

from shared.local_cloud.sagemaker import steps as step_registry
from shared.local_cloud.sagemaker.cache import (
    CacheEntry,
    CachePolicy,
    InMemoryStepCache,
    cache_key,
    parse_duration,
)
from shared.local_cloud.sagemaker.errors import DefinitionError, ExpressionError, StepFailure
from shared.local_cloud.sagemaker.executor import ExecutionIdentity, LocalPipelineExecutor
from shared.local_cloud.sagemaker.expressions import (
    ExecutionVariables,
    Resolver,
    coerce_parameters,
    compare,
    parse_step_path,
)
from shared.local_cloud.sagemaker.retry import RetryPolicy, parse_policies, retry_delay
from shared.local_cloud.sagemaker.steps.base import (
    ArnOnlyJobRecorder,
    ResolvesArguments,
    Services,
    StepContext,
    StepOutcome,
)
from shared.pipeline_graph import (
    NOT_EXECUTED,
    SUCCEEDED,
    Branch,
    Decision,
    PipelineGraph,
    step_references,
)

EXECUTION_ARN = "arn:aws:sagemaker:us-east-1:123456789012:pipeline/p/execution/abc123def456"
STEP_PROPERTIES: dict[str, dict[str, Any]] = {
    "Prep": {
        "ProcessingJobName": "pipelines-abc-Prep-x",
        "ProcessingOutputConfig": {
            "Outputs": [
                {"OutputName": "train", "S3Output": {"S3Uri": "s3://b/train"}},
                {"OutputName": "test", "S3Output": {"S3Uri": "s3://b/test"}},
            ]
        },
    },
    "Train": {
        "ModelArtifacts": {"S3ModelArtifacts": "s3://b/model.tar.gz"},
        "HyperParameters": {"eta": "0.2"},
        "FinalMetricDataList": [{"MetricName": "validation:auc", "Value": 0.91}],
    },
}
REPORT = {"metrics": {"auc": {"value": 0.87}}, "classes": ["a", "b"]}


def _resolver(**parameters: Any) -> Resolver:
    def property_file(step: str, name: str) -> Any:
        if (step, name) != ("Evaluate", "EvaluationReport"):
            raise ExpressionError(f"no property file {step}.{name}")
        return REPORT

    return Resolver(
        parameters={"Threshold": 0.8, "Data": "s3://b/raw", "Flag": True, "Count": 3, **parameters},
        execution=ExecutionVariables(
            "p",
            "arn:aws:sagemaker:us-east-1:123456789012:pipeline/p",
            EXECUTION_ARN,
            datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
        ),
        step_properties=lambda name: STEP_PROPERTIES[name],
        property_file=property_file,
        read_json=lambda uri: {"uri": uri, "score": 5},
        experiment_config={"ExperimentName": {"Get": "Execution.PipelineName"}, "TrialName": "trial-x"},
        now=lambda: datetime(2026, 1, 2, 3, 5, 0, tzinfo=UTC),
    )


# ---- Get ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("Steps.Prep.ProcessingOutputConfig.Outputs['train'].S3Output.S3Uri", "s3://b/train"),
        ('Steps.Prep.ProcessingOutputConfig.Outputs["test"].S3Output.S3Uri', "s3://b/test"),
        ("Steps.Prep.ProcessingOutputConfig.Outputs[1].S3Output.S3Uri", "s3://b/test"),
        ("Steps.Train.ModelArtifacts.S3ModelArtifacts", "s3://b/model.tar.gz"),
        ("Steps.Train.HyperParameters['eta']", "0.2"),
        ("Steps.Train.FinalMetricDataList['validation:auc'].Value", 0.91),
        ("Parameters.Threshold", 0.8),
        ("Execution.PipelineExecutionId", "abc123def456"),
        ("Execution.PipelineExecutionArn", EXECUTION_ARN),
        ("Execution.PipelineName", "p"),
        ("Execution.StartDateTime", "2026-01-02T03:04:05Z"),
        ("Execution.CurrentDateTime", "2026-01-02T03:05:00Z"),
        ("PipelineExperimentConfig.ExperimentName", "p"),
        ("PipelineExperimentConfig.TrialName", "trial-x"),
    ],
)
def test_get_resolves_every_root(path: str, expected: Any) -> None:
    assert _resolver().resolve({"Get": path}) == expected


def test_resolve_walks_nested_arguments_without_changing_them() -> None:
    arguments: dict[str, Any] = {
        "A": [{"Get": "Parameters.Data"}, "literal", 3],
        "B": {"C": {"Get": "Parameters.Count"}},
    }
    assert _resolver().resolve(arguments) == {"A": ["s3://b/raw", "literal", 3], "B": {"C": 3}}
    assert arguments["A"][0] == {"Get": "Parameters.Data"}


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("Parameters.Nope", "no such pipeline parameter"),
        ("Execution.Nope", "unknown execution variable"),
        ("Execution.ProcessingJobName", "only defined inside a job step"),
        ("Steps.Missing.Anything", "has not succeeded"),
        ("Steps.Prep.ProcessingOutputConfig.Outputs['nope'].S3Output", "no element named 'nope'"),
        ("Steps.Prep.NoSuchField", "no such property"),
        ("Steps.Prep.PropertyFiles.Report", "only be read through Std:JsonGet"),
        ("Steps.Prep.Outputs[[", "cannot parse property path"),
        ("Whatever.X", "unknown Get root"),
    ],
)
def test_get_errors_name_what_is_wrong(path: str, message: str) -> None:
    with pytest.raises(ExpressionError, match=re.escape(message)):
        _resolver().resolve({"Get": path})


def test_job_name_variables_resolve_inside_a_job_step() -> None:
    assert _resolver().resolve({"Get": "Execution.TrainingJobName"}, job_name="job-1") == "job-1"


# ---- functions ----------------------------------------------------------------------------------------


def test_join_renders_values_like_sagemaker() -> None:
    joined = _resolver().resolve(
        {
            "Std:Join": {
                "On": "/",
                "Values": ["s3:/", {"Get": "Parameters.Threshold"}, {"Get": "Parameters.Flag"}, 7],
            }
        }
    )
    assert joined == "s3://0.8/true/7"


def test_json_get_reads_a_property_file_with_a_jmespath() -> None:
    resolver = _resolver()
    ref = {"Get": "Steps.Evaluate.PropertyFiles.EvaluationReport"}
    assert resolver.resolve({"Std:JsonGet": {"PropertyFile": ref, "Path": "metrics.auc.value"}}) == 0.87
    assert resolver.resolve({"Std:JsonGet": {"PropertyFile": ref, "Path": "$.classes[1]"}}) == "b"


def test_json_get_reads_an_s3_uri() -> None:
    value = _resolver().resolve(
        {"Std:JsonGet": {"S3Uri": {"Std:Join": {"On": "/", "Values": ["s3://b", "x.json"]}}, "Path": "uri"}}
    )
    assert value == "s3://b/x.json"


def test_json_get_missing_path_is_an_error() -> None:
    ref = {"Get": "Steps.Evaluate.PropertyFiles.EvaluationReport"}
    with pytest.raises(
        ExpressionError, match=re.escape("'metrics.f1.value' not found in property file EvaluationReport")
    ):
        _resolver().resolve({"Std:JsonGet": {"PropertyFile": ref, "Path": "metrics.f1.value"}})


def test_unknown_function_is_an_explicit_error() -> None:
    with pytest.raises(ExpressionError, match="unknown function 'Std:Select'"):
        _resolver().resolve({"Std:Select": {"Values": [1]}})


# ---- conditions ---------------------------------------------------------------------------------------


def _json_get(path: str) -> dict[str, Any]:
    return {
        "Std:JsonGet": {
            "PropertyFile": {"Get": "Steps.Evaluate.PropertyFiles.EvaluationReport"},
            "Path": path,
        }
    }


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        (
            {
                "Type": "GreaterThanOrEqualTo",
                "LeftValue": _json_get("metrics.auc.value"),
                "RightValue": {"Get": "Parameters.Threshold"},
            },
            True,
        ),
        ({"Type": "GreaterThan", "LeftValue": 0.8, "RightValue": {"Get": "Parameters.Threshold"}}, False),
        ({"Type": "LessThan", "LeftValue": {"Get": "Parameters.Count"}, "RightValue": "10"}, True),
        ({"Type": "LessThanOrEqualTo", "LeftValue": 3, "RightValue": 3.0}, True),
        ({"Type": "Equals", "LeftValue": {"Get": "Parameters.Data"}, "RightValue": "s3://b/raw"}, True),
        ({"Type": "Equals", "LeftValue": {"Get": "Parameters.Flag"}, "RightValue": True}, True),
        ({"Type": "In", "QueryValue": {"Get": "Parameters.Count"}, "Values": [1, 2, 3]}, True),
        ({"Type": "In", "QueryValue": "c", "Values": ["a", "b"]}, False),
        ({"Type": "Not", "Condition": {"Type": "Equals", "LeftValue": 1, "RightValue": 2}}, True),
        (
            {
                "Type": "Or",
                "Conditions": [
                    {"Type": "Equals", "LeftValue": 1, "RightValue": 2},
                    {"Type": "Equals", "LeftValue": 2, "RightValue": 2},
                ],
            },
            True,
        ),
    ],
)
def test_conditions(condition: dict[str, Any], expected: bool) -> None:
    assert _resolver().evaluate(condition) is expected


def test_conditions_of_a_step_are_anded() -> None:
    true = {"Type": "Equals", "LeftValue": 1, "RightValue": 1}
    false = {"Type": "Equals", "LeftValue": 1, "RightValue": 2}
    assert _resolver().evaluate_all([true, true]) is True
    assert _resolver().evaluate_all([true, false]) is False


def test_unknown_condition_type_and_incomparable_values_are_errors() -> None:
    with pytest.raises(ExpressionError, match="unknown condition type 'And'"):
        _resolver().evaluate({"Type": "And", "Conditions": []})
    with pytest.raises(ExpressionError, match="cannot compare"):
        compare("GreaterThan", "abc", 1)


# ---- parameters and references ----------------------------------------------------------------------


def test_parameters_are_typed_as_declared() -> None:
    declared: list[dict[str, Any]] = [
        {"Name": "S", "Type": "String", "DefaultValue": "x"},
        {"Name": "I", "Type": "Integer", "DefaultValue": 1},
        {"Name": "F", "Type": "Float", "DefaultValue": 0.5},
        {"Name": "B", "Type": "Boolean", "DefaultValue": False},
    ]
    assert coerce_parameters(declared, {}) == {"S": "x", "I": 1, "F": 0.5, "B": False}
    assert coerce_parameters(declared, {"I": "7", "F": "2", "B": "true"}) == {
        "S": "x",
        "I": 7,
        "F": 2.0,
        "B": True,
    }


@pytest.mark.parametrize(
    ("declared", "provided", "message"),
    [
        ([{"Name": "I", "Type": "Integer", "DefaultValue": 1}], {"I": "x"}, "cannot take the value 'x'"),
        ([{"Name": "R", "Type": "String"}], {}, "no default value"),
        ([], {"Extra": "1"}, "Extra not defined"),
        (
            [{"Name": "E", "Type": "String", "DefaultValue": "a", "EnumValues": ["a"]}],
            {"E": "b"},
            "not one of",
        ),
    ],
)
def test_bad_parameters_are_definition_errors(
    declared: list[dict[str, Any]], provided: dict[str, str], message: str
) -> None:
    with pytest.raises(DefinitionError, match=message):
        coerce_parameters(declared, provided)


def test_step_references_find_gets_and_property_files() -> None:
    fragment = {
        "A": {"Get": "Steps.Prep.ProcessingOutputConfig.Outputs['train'].S3Output.S3Uri"},
        "B": [_json_get("x")],
        "C": {
            "Std:Join": {"On": "", "Values": [{"Get": "Parameters.X"}, {"Get": "Steps.Train.ModelArtifacts"}]}
        },
    }
    assert step_references(fragment) == {"Prep", "Evaluate", "Train"}
    assert parse_step_path("Steps.A-1.B['c'][2]") == ("A-1", ["B", "c", 2])


# ---- the graph ----------------------------------------------------------------------------------------


def _definition(*steps: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2020-12-01", "Parameters": [], "Steps": list(steps)}


def _condition(name: str, if_steps: list[Any], else_steps: list[Any], **extra: Any) -> dict[str, Any]:
    return {
        "Name": name,
        "Type": "Condition",
        **extra,
        "Arguments": {"Conditions": [], "IfSteps": if_steps, "ElseSteps": else_steps},
    }


def test_graph_edges_from_depends_on_data_and_branches() -> None:
    graph = PipelineGraph.from_definition(
        _definition(
            {"Name": "A", "Type": "Processing", "Arguments": {}},
            {"Name": "B", "Type": "Training", "Arguments": {"X": {"Get": "Steps.A.ProcessingJobName"}}},
            {"Name": "C", "Type": "Processing", "DependsOn": ["A"], "Arguments": {}},
            _condition(
                "Check",
                [
                    {
                        "Name": "Reg",
                        "Type": "RegisterModel",
                        "Arguments": {"M": {"Get": "Steps.B.ModelArtifacts.S3ModelArtifacts"}},
                    }
                ],
                [{"Name": "Stop", "Type": "Fail", "Arguments": {}}],
                DependsOn=["C"],
            ),
        )
    )
    assert graph.nodes["B"].depends_on == {"A"}
    assert graph.nodes["C"].depends_on == {"A"}
    assert graph.nodes["Check"].depends_on == {"C"}  # its branches' references are theirs
    assert graph.nodes["Reg"].depends_on == {"Check", "B"}
    assert graph.nodes["Reg"].branch == Branch("Check", True)
    assert graph.nodes["Stop"].branch == Branch("Check", False)
    assert graph.topological_order()[:1] == ["A"]


@pytest.mark.parametrize(
    ("steps", "message"),
    [
        ([{"Name": "A", "Type": "Fail", "DependsOn": ["Nope"]}], "unknown step"),
        (
            [
                {"Name": "A", "Type": "Fail", "DependsOn": ["B"]},
                {"Name": "B", "Type": "Fail", "DependsOn": ["A"]},
            ],
            "dependency cycle",
        ),
        ([{"Name": "A", "Type": "Fail"}, {"Name": "A", "Type": "Fail"}], "duplicate step name"),
        ([{"Name": "A"}], "needs a Name and a Type"),
    ],
)
def test_graph_rejects_bad_definitions(steps: list[dict[str, Any]], message: str) -> None:
    with pytest.raises(DefinitionError, match=message):
        PipelineGraph.from_definition(_definition(*steps))


def test_branch_not_taken_and_its_dependents_are_not_executed() -> None:
    graph = PipelineGraph.from_definition(
        _definition(
            _condition("Check", [{"Name": "Yes", "Type": "Fail"}], [{"Name": "No", "Type": "Fail"}]),
            {"Name": "After", "Type": "Fail", "DependsOn": ["No"]},
        )
    )
    assert graph.decide("Yes", {}, {}) is Decision.WAIT
    states = {"Check": SUCCEEDED}
    assert graph.decide("Yes", states, {"Check": True}) is Decision.RUN
    assert graph.decide("No", states, {"Check": True}) is Decision.SKIP
    assert graph.decide("After", {**states, "No": NOT_EXECUTED}, {"Check": True}) is Decision.SKIP


# ---- the cache ----------------------------------------------------------------------------------------

PROCESSING_ARGS: dict[str, Any] = {
    "AppSpecification": {"ImageUri": "img", "ContainerEntrypoint": ["python3", "x.py"]},
    "Environment": {"A": "1"},
    "ProcessingInputs": [{"InputName": "code", "S3Input": {"S3Uri": "s3://b/code/abc/x.py"}}],
    "ProcessingOutputConfig": {"Outputs": [{"OutputName": "o", "S3Output": {"S3Uri": "s3://b/exec-1/o"}}]},
    "ProcessingResources": {"ClusterConfig": {"InstanceCount": 1}},
}


def test_cache_key_uses_the_cache_relevant_resolved_arguments_only() -> None:
    key = cache_key("Processing", PROCESSING_ARGS)
    reordered = dict(reversed(list(PROCESSING_ARGS.items())))
    assert cache_key("Processing", reordered) == key
    moved_output = {**PROCESSING_ARGS, "ProcessingOutputConfig": {"Outputs": []}}
    assert cache_key("Processing", moved_output) == key  # outputs are not in SageMaker's key
    bigger = {**PROCESSING_ARGS, "ProcessingResources": {"ClusterConfig": {"InstanceCount": 2}}}
    assert cache_key("Processing", bigger) == key
    new_code = {
        **PROCESSING_ARGS,
        "ProcessingInputs": [{"InputName": "code", "S3Input": {"S3Uri": "s3://b/code/def/x.py"}}],
    }
    assert cache_key("Processing", new_code) != key
    assert cache_key("Processing", {**PROCESSING_ARGS, "Environment": {"A": "2"}}) != key
    assert cache_key("Training", PROCESSING_ARGS) != key


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("P30D", timedelta(days=30)),
        ("PT1H", timedelta(hours=1)),
        ("P4DT12H", timedelta(days=4, hours=12)),
        ("p30d", timedelta(days=30)),
        ("T16m", timedelta(minutes=16)),
        ("30dT5h", timedelta(days=30, hours=5)),
        ("P1Y", timedelta(days=365)),
        ("P2M", timedelta(days=60)),
        ("P1W", timedelta(days=7)),
        ("PT90S", timedelta(seconds=90)),
    ],
)
def test_expire_after_durations(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["", "P", "PT", "30", "P1H", "forever"])
def test_bad_expire_after_is_a_definition_error(text: str) -> None:
    with pytest.raises(DefinitionError, match="ISO 8601"):
        parse_duration(text)


def test_cache_policy_only_for_job_steps_with_caching_enabled() -> None:
    assert CachePolicy.from_step(
        {"Type": "Processing", "CacheConfig": {"Enabled": True, "ExpireAfter": "PT1H"}}
    ) == (CachePolicy(True, timedelta(hours=1)))
    assert not CachePolicy.from_step({"Type": "Processing", "CacheConfig": {"Enabled": False}}).enabled
    assert not CachePolicy.from_step({"Type": "RegisterModel", "CacheConfig": {"Enabled": True}}).enabled


def _entry(execution: str, finished: datetime, key: str = "k", step: str = "Prep") -> CacheEntry:
    return CacheEntry("p", step, key, execution, finished, {"x": execution}, {})


def test_cache_hit_is_the_most_recent_fresh_run_with_the_same_key() -> None:
    cache = InMemoryStepCache()
    now = datetime(2026, 6, 1, tzinfo=UTC)
    cache.record(_entry("old", now - timedelta(days=40)))
    cache.record(_entry("mid", now - timedelta(days=5)))
    cache.record(_entry("new", now - timedelta(days=1)))
    cache.record(_entry("other-key", now, key="k2"))
    cache.record(_entry("other-step", now, step="Train"))
    hit = cache.lookup("p", "Prep", "k", max_age=timedelta(days=30), now=now)
    assert hit is not None and hit.execution_arn == "new"
    assert cache.lookup("p", "Prep", "k", max_age=timedelta(hours=12), now=now) is None  # all expired
    assert cache.lookup("other-pipeline", "Prep", "k", max_age=None, now=now) is None
    assert cache.lookup("p", "Prep", "nope", max_age=None, now=now) is None
    unbounded = cache.lookup("p", "Prep", "k", max_age=None, now=now)
    assert unbounded is not None and unbounded.execution_arn == "new"


# ---- retry policies -----------------------------------------------------------------------------------


def test_retry_delay_backs_off_until_max_attempts() -> None:
    policies = parse_policies(
        {
            "RetryPolicies": [
                {
                    "ExceptionType": ["Step.THROTTLING"],
                    "IntervalSeconds": 2,
                    "BackoffRate": 3.0,
                    "MaxAttempts": 2,
                },
                {
                    "ExceptionType": ["Step.SERVICE_FAULT"],
                    "IntervalSeconds": 1,
                    "BackoffRate": 1.0,
                    "ExpireAfterMin": 1,
                },
            ]
        }
    )
    assert retry_delay(policies, "Step.THROTTLING", attempts=1, elapsed_seconds=0) == 2
    assert retry_delay(policies, "Step.THROTTLING", attempts=2, elapsed_seconds=0) == 6
    assert retry_delay(policies, "Step.THROTTLING", attempts=3, elapsed_seconds=0) is None
    assert retry_delay(policies, "Step.SERVICE_FAULT", attempts=9, elapsed_seconds=59) == 1
    assert retry_delay(policies, "Step.SERVICE_FAULT", attempts=9, elapsed_seconds=60) is None
    assert retry_delay(policies, "SageMaker.CAPACITY_ERROR", attempts=1, elapsed_seconds=0) is None
    assert retry_delay(policies, None, attempts=1, elapsed_seconds=0) is None


def test_retry_policy_rejects_unknown_exception_types() -> None:
    with pytest.raises(DefinitionError, match="ExceptionType"):
        RetryPolicy.from_spec({"ExceptionType": ["Step.WHATEVER"], "MaxAttempts": 1})


# ---- the executor's walk, with fake step types ------------------------------------------------------


class _Recorder:
    """Fake step type "Fake": succeeds (properties echo its resolved arguments) unless told to
    fail ``FailTimes`` times with ``FailWith``; logs each start."""

    step_type: ClassVar[str] = "Fake"
    started: ClassVar[list[str]] = []
    attempts: ClassVar[dict[str, int]] = {}
    lock: ClassVar[threading.Lock] = threading.Lock()

    def resolve_arguments(self, node: Any, resolver: Resolver, job_name: str) -> dict[str, Any]:
        return ResolvesArguments().resolve_arguments(node, resolver, job_name)

    def run(self, ctx: StepContext) -> StepOutcome:
        with self.lock:
            self.started.append(ctx.node.name)
            self.attempts[ctx.node.name] = self.attempts.get(ctx.node.name, 0) + 1
            attempt = self.attempts[ctx.node.name]
        if attempt <= int(ctx.arguments.get("FailTimes", 0)):
            raise StepFailure(f"boom {attempt}", ctx.arguments.get("FailWith"))
        return StepOutcome(properties={"Echo": dict(ctx.arguments)}, metadata={})


@pytest.fixture
def fake_steps(monkeypatch: pytest.MonkeyPatch) -> Iterator[type[_Recorder]]:
    monkeypatch.setitem(step_registry._FACTORIES, "Fake", _Recorder)
    _Recorder.started.clear()
    _Recorder.attempts.clear()
    yield _Recorder


def _run(definition: Mapping[str, Any], parameters: Mapping[str, str] | None = None) -> Any:
    identity = ExecutionIdentity(
        "p",
        "arn:aws:sagemaker:us-east-1:123456789012:pipeline/p",
        EXECUTION_ARN,
        "123456789012",
        "us-east-1",
        datetime.now(UTC),
    )
    services = Services(s3=None, sagemaker=None, jobs=ArnOnlyJobRecorder("123456789012", "us-east-1"))  # type: ignore[arg-type]
    return LocalPipelineExecutor(
        definition, identity=identity, services=services, parameters=parameters
    ).run()


def test_executor_routes_through_the_condition_and_skips_the_other_branch(
    fake_steps: type[_Recorder],
) -> None:
    definition: dict[str, Any] = {
        "Version": "2020-12-01",
        "Parameters": [{"Name": "Go", "Type": "Boolean", "DefaultValue": True}],
        "Steps": [
            {"Name": "A", "Type": "Fake", "Arguments": {"V": 1}},
            _condition(
                "Check",
                [{"Name": "Yes", "Type": "Fake", "Arguments": {"From": {"Get": "Steps.A.Echo.V"}}}],
                [{"Name": "No", "Type": "Fail", "Arguments": {"ErrorMessage": "went the other way"}}],
            ),
            {"Name": "AfterNo", "Type": "Fake", "DependsOn": ["No"], "Arguments": {}},
        ],
    }
    definition["Steps"][1]["Arguments"]["Conditions"] = [
        {"Type": "Equals", "LeftValue": {"Get": "Parameters.Go"}, "RightValue": True}
    ]
    result = _run(definition)
    assert result.status == "Succeeded"
    assert [s.name for s in result.steps] == ["A", "Check", "Yes"]
    assert result.properties["Yes"] == {"Echo": {"From": 1}}
    assert set(result.not_executed) == {"No", "AfterNo"}
    assert result.step("Check").metadata == {"Condition": {"Outcome": "True"}}

    other = _run(definition, {"Go": "false"})
    assert other.status == "Failed"
    assert other.failure_reason == "Step No failed: went the other way"
    assert other.step("No").metadata == {"Fail": {"ErrorMessage": "went the other way"}}


def test_executor_retries_per_policy_and_counts_attempts(fake_steps: type[_Recorder]) -> None:
    retried = {
        "ExceptionType": ["Step.SERVICE_FAULT"],
        "IntervalSeconds": 1,
        "BackoffRate": 1.0,
        "MaxAttempts": 3,
    }
    result = _run(
        _definition(
            {
                "Name": "Flaky",
                "Type": "Fake",
                "RetryPolicies": [retried],
                "Arguments": {"FailTimes": 2, "FailWith": "Step.SERVICE_FAULT"},
            },
            {"Name": "Broken", "Type": "Fake", "RetryPolicies": [retried], "Arguments": {"FailTimes": 1}},
        )
    )
    assert result.step("Flaky").status == "Succeeded"
    assert result.step("Flaky").attempt_count == 3
    broken = result.step("Broken")  # a job's own failure has no retry category
    assert (broken.status, broken.attempt_count, broken.failure_reason) == ("Failed", 1, "boom 1")
    assert result.failure_reason == "Step Broken failed: boom 1"


def test_no_step_starts_after_a_failure(fake_steps: type[_Recorder]) -> None:
    result = _run(
        _definition(
            {"Name": "Bad", "Type": "Fake", "Arguments": {"FailTimes": 1}},
            {"Name": "Later", "Type": "Fake", "DependsOn": ["Bad"], "Arguments": {}},
        )
    )
    assert result.status == "Failed"
    assert "Later" not in fake_steps.started
    assert result.not_executed == ("Later",)


def test_unresolvable_argument_fails_the_step_with_the_reason(fake_steps: type[_Recorder]) -> None:
    result = _run(_definition({"Name": "A", "Type": "Fake", "Arguments": {"X": {"Std:Nope": {}}}}))
    assert (
        result.step("A").failure_reason
        == "ClientError: unknown function 'Std:Nope' (supported: Std:Join, Std:JsonGet)"
    )


def test_unknown_step_type_fails_before_any_step_runs(fake_steps: type[_Recorder]) -> None:
    result = _run(
        _definition(
            {"Name": "A", "Type": "Fake", "Arguments": {}},
            {"Name": "Batch", "Type": "Endpoint", "Arguments": {}},
        )
    )
    assert result.status == "Failed"
    assert (
        "step 'Batch' has type 'Endpoint', which the local executor does not support" in result.failure_reason
    )
    assert fake_steps.started == []

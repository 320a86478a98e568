"""The request checks compiled from botocore's service models (no server: pure functions)."""

from __future__ import annotations

from typing import Any

from moto.core.utils import get_service_model

from shared.local_cloud.patches.request_validation import compiled_pattern, plan_for, validation_message


def _errors(service: str, operation: str, params: dict[str, Any]) -> list[str]:
    plan = plan_for(service, get_service_model(service).operation_model(operation), wire_names=True)
    assert plan is not None
    errors: list[str] = []
    plan.check(params, "", errors)
    return errors


def test_a_valid_request_has_no_errors() -> None:
    # GIVEN a StartPipelineExecution request within every limit, THEN nothing to report
    assert _errors("sagemaker", "StartPipelineExecution", {
        "PipelineName": "retrain",
        "PipelineParameters": [{"Name": "CallbackToken", "Value": "t" * 1024}],
        "ClientRequestToken": "c" * 32,
    }) == []  # fmt: skip


def test_required_members_of_list_items_are_reported_with_one_based_member_paths() -> None:
    # GIVEN a second pipeline parameter without its required Value
    errors = _errors("sagemaker", "StartPipelineExecution", {
        "PipelineName": "retrain",
        "PipelineParameters": [{"Name": "A", "Value": "1"}, {"Name": "B"}],
        "ClientRequestToken": "c" * 32,  # required; boto3 fills it in (an idempotency token)
    })  # fmt: skip
    # THEN AWS's null-member wording at 'pipelineParameters.2.member.value'
    assert errors == [
        "Value null at 'pipelineParameters.2.member.value' failed to satisfy constraint: Member must not be null"
    ]


def test_list_length_pattern_and_minimum_are_each_reported() -> None:
    # GIVEN an empty pipeline name (min 1, pattern) and 201 parameters (max 200)
    params = [{"Name": f"P{i}", "Value": "v"} for i in range(201)]
    errors = _errors(
        "sagemaker", "StartPipelineExecution", {"PipelineName": "", "PipelineParameters": params}
    )
    # THEN one error per violated constraint
    assert any(
        e.startswith("Value '' at 'pipelineName' failed to satisfy constraint: Member must satisfy regular")
        for e in errors
    )
    assert (
        "Value '' at 'pipelineName' failed to satisfy constraint: Member must have length greater than or equal to 1"
        in errors
    )
    assert any(e.endswith("at 'pipelineParameters' failed to satisfy constraint: Member must have length less than or equal to 200") for e in errors)  # fmt: skip


def test_map_values_are_reported_with_the_shapes_rules() -> None:
    # GIVEN a Lambda environment variable name that breaks its pattern ([a-zA-Z]([a-zA-Z0-9_])+)
    plan = plan_for("lambda", get_service_model("lambda").operation_model("UpdateFunctionConfiguration"))
    assert plan is not None
    errors: list[str] = []
    plan.check({"FunctionName": "f", "Environment": {"Variables": {"1BAD": "x"}}}, "", errors)
    # THEN AWS's map-key form: "Map keys must satisfy constraint: [<every rule of the key shape>]"
    assert errors == [
        "Value at 'environment.variables' failed to satisfy constraint: Map keys must satisfy constraint: "
        "[Member must satisfy regular expression pattern: [a-zA-Z]([a-zA-Z0-9_])+]"
    ]


def test_the_message_counts_its_errors() -> None:
    assert validation_message(["a"]) == "1 validation error detected: a"
    assert validation_message(["a", "b"]) == "2 validation errors detected: a; b"


def test_patterns_match_the_whole_value_and_java_only_patterns_are_skipped() -> None:
    # GIVEN SageMaker's name pattern (anchored at its start only)
    plan = plan_for("sagemaker", get_service_model("sagemaker").operation_model("CreateEndpoint"))
    assert plan is not None
    errors: list[str] = []
    # WHEN a name has an underscore after a valid prefix, THEN refused: AWS matches the whole value
    plan.check({"EndpointName": "my_endpoint", "EndpointConfigName": "ok-config"}, "", errors)
    assert [e.split(" failed")[0] for e in errors] == ["Value 'my_endpoint' at 'endpointName'"]
    # Java syntax Python's re would read differently is never enforced
    assert compiled_pattern(r"^[\p{L}\p{Z}\p{N}_.:/=+\-@]*$") is None
    assert compiled_pattern(r"[a-z&&[^b]]+") is None
    assert compiled_pattern(r"[a-z]++") is None

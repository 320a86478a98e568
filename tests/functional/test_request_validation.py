"""The local cloud refuses requests AWS refuses for its request limits (issue 13, scope 4).

boto3 checks some limits client-side (required members, minimums), but not maximums,
patterns or enums; the clients here turn its checks off entirely, so each refusal below
comes from the local cloud's server, as it would from AWS's.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from shared.local_cloud import LocalCloud

UNCHECKED = Config(parameter_validation=False)
ROLE = "arn:aws:iam::123456789012:role/local-test"


def _client(service: str) -> Any:
    return boto3.client(service, config=UNCHECKED)  # type: ignore[call-overload]


def _refusal(call: Any, **kwargs: Any) -> dict[str, Any]:
    with pytest.raises(ClientError) as raised:
        call(**kwargs)
    return raised.value.response  # type: ignore[no-any-return]


def _pipeline(sagemaker: Any) -> str:
    name = f"rv-{uuid.uuid4().hex[:8]}"
    definition = {
        "Version": "2020-12-01",
        "Parameters": [{"Name": "CallbackToken", "Type": "String", "DefaultValue": "none"}],
        "Steps": [],
    }
    sagemaker.create_pipeline(PipelineName=name, PipelineDefinition=json.dumps(definition), RoleArn=ROLE)
    return name


def test_a_2048_character_pipeline_parameter_is_refused_with_awss_message(local_cloud: LocalCloud) -> None:
    # GIVEN a pipeline and a task token as long as Step Functions allows (2,048 characters)
    sagemaker = _client("sagemaker")
    name = _pipeline(sagemaker)
    token = "t" * 2048
    # WHEN it is passed as a pipeline parameter value (botocore model: PipelineParameterValue max 1024)
    response = _refusal(
        sagemaker.start_pipeline_execution,
        PipelineName=name,
        PipelineParameters=[{"Name": "CallbackToken", "Value": token}],
    )
    # THEN SageMaker's ValidationException, as AWS words it (a value this long, a token, not echoed)
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert response["Error"]["Code"] == "ValidationException"
    assert response["Error"]["Message"] == (
        "1 validation error detected: Value at 'pipelineParameters.1.member.value' "
        "failed to satisfy constraint: Member must have length less than or equal to 1024"
    )
    # AND nothing ran
    assert sagemaker.list_pipeline_executions(PipelineName=name)["PipelineExecutionSummaries"] == []


def test_a_1024_character_pipeline_parameter_still_starts(local_cloud: LocalCloud) -> None:
    # GIVEN the same pipeline, WHEN the value is exactly at the limit, THEN the execution starts
    sagemaker = _client("sagemaker")
    name = _pipeline(sagemaker)
    arn = sagemaker.start_pipeline_execution(
        PipelineName=name, PipelineParameters=[{"Name": "CallbackToken", "Value": "t" * 1024}]
    )["PipelineExecutionArn"]
    assert arn.startswith("arn:aws:sagemaker:")


def test_an_unknown_blue_green_traffic_routing_type_is_refused(local_cloud: LocalCloud) -> None:
    # GIVEN UpdateEndpoint with traffic routing type "FOO" and a wait beyond its 3,600 s maximum
    response = _refusal(
        _client("sagemaker").update_endpoint,
        EndpointName="rv-endpoint",
        EndpointConfigName="rv-config",
        DeploymentConfig={
            "BlueGreenUpdatePolicy": {
                "TrafficRoutingConfiguration": {"Type": "FOO", "WaitIntervalInSeconds": 3601}
            }
        },
    )
    # THEN both violations, counted, in AWS's member-path style
    assert response["Error"]["Code"] == "ValidationException"
    assert response["Error"]["Message"] == (
        "2 validation errors detected: "
        "Value 'FOO' at 'deploymentConfig.blueGreenUpdatePolicy.trafficRoutingConfiguration.type' failed to "
        "satisfy constraint: Member must satisfy enum value set: [ALL_AT_ONCE, CANARY, LINEAR]; "
        "Value 3601 at 'deploymentConfig.blueGreenUpdatePolicy.trafficRoutingConfiguration.waitIntervalInSeconds' "
        "failed to satisfy constraint: Member must have value less than or equal to 3600"
    )


def test_a_state_machine_name_too_long_and_a_missing_member_are_refused(local_cloud: LocalCloud) -> None:
    # GIVEN CreateStateMachine with an 81-character name (max 80) and no roleArn (required)
    name = "n" * 81
    response = _refusal(
        _client("stepfunctions").create_state_machine, name=name, definition=json.dumps({"StartAt": "x"})
    )
    # THEN Step Functions' ValidationException names both
    assert response["Error"]["Code"] == "ValidationException"
    message = response["Error"]["Message"]
    assert message.startswith("2 validation errors detected: ")
    assert "Value null at 'roleArn' failed to satisfy constraint: Member must not be null" in message
    assert (
        f"Value '{name}' at 'name' failed to satisfy constraint: Member must have length less than or equal to 80"
        in message
    )


def test_query_protocol_refusals_use_its_error_shape(local_cloud: LocalCloud) -> None:
    # GIVEN IAM (query protocol) CreateRole with a 65-character role name (max 64)
    name = "r" * 65
    response = _refusal(_client("iam").create_role, RoleName=name, AssumeRolePolicyDocument="{}")
    # THEN <ErrorResponse><Error><Type>Sender</Type><Code>ValidationError</Code>...
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert response["Error"]["Code"] == "ValidationError"
    assert response["Error"]["Type"] == "Sender"
    assert response["Error"]["Message"] == (
        f"1 validation error detected: Value '{name}' at 'roleName' failed to satisfy constraint: "
        "Member must have length less than or equal to 64"
    )
    # AND a role at the limit is created
    _client("iam").create_role(RoleName="r" * 64, AssumeRolePolicyDocument="{}")


def test_rest_json_uri_members_are_checked(local_cloud: LocalCloud) -> None:
    # GIVEN Lambda (rest-json) GetFunction with a 257-character function name in the URI (max 256)
    response = _refusal(_client("lambda").get_function, FunctionName="f" * 257)
    # THEN refused before moto looks the function up (moto alone answers ResourceNotFound)
    assert response["Error"]["Code"] == "ValidationException"
    assert (
        "at 'functionName' failed to satisfy constraint: Member must have length less than or equal to 256"
        in (response["Error"]["Message"])
    )


def test_query_protocol_lists_are_parsed_and_counted(local_cloud: LocalCloud) -> None:
    # GIVEN IAM CreateRole (query protocol: Tags.member.N.Key on the wire) with 51 tags (max 50),
    # the first with a 257-character value (max 256)
    tags = [{"Key": f"k{i}", "Value": "v"} for i in range(51)]
    tags[0]["Value"] = "v" * 257
    response = _refusal(
        _client("iam").create_role, RoleName="rv-tags", AssumeRolePolicyDocument="{}", Tags=tags
    )
    # THEN both, the item by its 1-based member path
    message = response["Error"]["Message"]
    assert message.startswith("2 validation errors detected: ")
    assert (
        "at 'tags' failed to satisfy constraint: Member must have length less than or equal to 50" in message
    )
    assert (
        "Value at 'tags.1.member.value' failed to satisfy constraint: "
        "Member must have length less than or equal to 256" in message
    )


def test_a_refusal_carries_a_request_id_as_every_aws_answer_does(local_cloud: LocalCloud) -> None:
    # Step Functions' aws-sdk tasks read ResponseMetadata.RequestId from an error: without it a
    # refusal became an uncatchable States.Runtime instead of the service's catchable error.
    sagemaker = boto3.client("sagemaker", config=UNCHECKED)
    response = _refusal(sagemaker.describe_endpoint, EndpointName="x" * 64)
    assert response["Error"]["Code"] == "ValidationException"
    assert response["ResponseMetadata"]["RequestId"]

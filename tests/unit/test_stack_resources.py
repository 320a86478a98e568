"""The local cloud provisions only what it can: an unknown resource type or property fails.

Pure: the failures come before any client is asked for (the factory would raise).
"""

from __future__ import annotations

from typing import Any

import pytest

from shared.local_cloud.stack_resources import UnsupportedStackResource, apply


def _no_clients(service: str) -> Any:
    raise AssertionError(f"nothing may be created, yet {service} was asked for")


def _template(**resources: dict[str, Any]) -> dict[str, Any]:
    return {"Resources": resources}


def test_a_resource_type_without_an_applier_fails_naming_it() -> None:
    # GIVEN a stack that grew a resource type the local cloud does not provision
    template = _template(
        Table={"Type": "AWS::DynamoDB::Table", "Properties": {"TableName": "t", "KeySchema": []}},
        Api={"Type": "AWS::ApiGateway::RestApi", "Properties": {"Name": "api"}},
    )
    # WHEN it is applied THEN it fails before creating anything, naming the resource and type
    with pytest.raises(UnsupportedStackResource, match=r"Api is a AWS::ApiGateway::RestApi"):
        apply(template, _no_clients, "123456789012", "us-east-1")


def test_a_property_neither_applied_nor_listed_as_not_emulated_fails_naming_it() -> None:
    # GIVEN a table with a stream (the local cloud neither applies nor waives StreamSpecification)
    template = _template(
        Table={
            "Type": "AWS::DynamoDB::Table",
            "Properties": {
                "TableName": "t",
                "KeySchema": [],
                "StreamSpecification": {"StreamViewType": "KEYS_ONLY"},
            },
        }
    )
    # WHEN it is applied THEN it fails naming the property
    with pytest.raises(UnsupportedStackResource, match="StreamSpecification"):
        apply(template, _no_clients, "123456789012", "us-east-1")


def test_types_the_caller_provisions_or_that_have_no_local_behaviour_are_left_alone() -> None:
    # GIVEN only roles, keys and resource policies
    template = _template(
        Role={"Type": "AWS::IAM::Role", "Properties": {"RoleName": "r"}},
        Key={"Type": "AWS::KMS::Key", "Properties": {}},
        Policy={"Type": "AWS::S3::BucketPolicy", "Properties": {}},
    )
    # WHEN applied THEN nothing is created (no client asked for) and nothing is reported applied
    assert apply(template, _no_clients, "123456789012", "us-east-1") == []

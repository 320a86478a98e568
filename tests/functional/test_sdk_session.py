"""A data scientist's SageMaker SDK v3 ``Session()`` / ``PipelineSession()`` on the local cloud:
they find a default bucket and an execution role without reaching AWS. The SDK calls STS by its
public https URL (an explicit endpoint URL that ``AWS_ENDPOINT_URL`` cannot override); the local
cloud's environment routes that call to itself (``shared/local_cloud/sts_proxy.py``)."""

from __future__ import annotations

import socket
from typing import TYPE_CHECKING

import boto3

if TYPE_CHECKING:
    from shared.local_cloud import LocalCloud


def test_session_finds_the_default_bucket_and_creates_it(local_cloud: LocalCloud) -> None:
    # GIVEN the environment the local cloud exports, and nothing else
    from sagemaker.core.helper.session_helper import Session

    # WHEN a session is asked for its default bucket, as in every SDK example
    bucket = Session().default_bucket()

    # THEN it is SageMaker's default name for the local cloud's account, and it exists there
    assert bucket == "sagemaker-us-east-1-123456789012"
    assert bucket in [b["Name"] for b in boto3.client("s3").list_buckets()["Buckets"]]


def test_pipeline_session_finds_the_same_default_bucket(local_cloud: LocalCloud) -> None:
    from sagemaker.core.workflow.pipeline_context import PipelineSession

    assert PipelineSession().default_bucket() == "sagemaker-us-east-1-123456789012"


def test_get_execution_role_outside_sagemaker(local_cloud: LocalCloud) -> None:
    # GIVEN the local cloud's credentials (moto alone calls them the IAM user "moto", which the
    # SDK refuses as an execution role)
    from sagemaker.core.helper.session_helper import Session, get_execution_role

    # WHEN a notebook asks for its execution role
    role = get_execution_role(Session())

    # THEN it is the local developer's role, which exists in the local IAM and trusts SageMaker
    assert role == "arn:aws:iam::123456789012:role/dualloop-local-sagemaker-execution"
    trust = boto3.client("iam").get_role(RoleName="dualloop-local-sagemaker-execution")["Role"]
    assert trust["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {
        "Service": "sagemaker.amazonaws.com"
    }


def test_sts_at_its_public_https_url_is_the_local_clouds(local_cloud: LocalCloud) -> None:
    # GIVEN an STS client built as the SDK builds it: an explicit https endpoint URL
    sts = boto3.client("sts", region_name="eu-west-1", endpoint_url="https://sts.eu-west-1.amazonaws.com")

    # WHEN it is called THEN the local cloud answers (its account), not AWS
    assert sts.get_caller_identity()["Account"] == "123456789012"


def test_other_https_hosts_are_tunnelled_not_answered(local_cloud: LocalCloud) -> None:
    # GIVEN the proxy the local cloud exports
    proxy = local_cloud.env()["HTTPS_PROXY"].removeprefix("http://")
    host, port = proxy.rsplit(":", 1)

    # WHEN a tool asks it for a host other than STS that cannot be reached
    with socket.create_connection((host, int(port)), timeout=5) as conn:
        conn.sendall(b"CONNECT unreachable.invalid:443 HTTP/1.1\r\nHost: unreachable.invalid:443\r\n\r\n")
        answer = conn.recv(4096)

    # THEN it tried that host (a tunnel), and says it could not reach it
    assert answer.startswith(b"HTTP/1.1 502 ")
    assert b"cannot reach unreachable.invalid:443" in answer

"""A rollback the endpoint gives no reason for still ends as a recorded, notified rollback.

DescribeEndpoint returns ``FailureReason`` only when there is one; a JSONPath selecting a
missing field is a ``States.Runtime`` error, which no ``Catch`` handles (States.ALL does not
match it), so the old ``ReadRollbackReason`` would have ended the execution with no notice
and no registry mark. This runs the outer loop's own rollback states (from the ASL file, with
the deployed substitutions) against a real, healthy local endpoint that has no FailureReason.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import boto3
from hosting_fixture import Registry, model_tarball, sourcedir_tarball, train_model
from table_support import create_table
from wait_support import endpoint_settled, execution_ended, wait_until

from outer_orchestrator.local_stack import substituted_asl
from shared.config import load_config
from shared.local_cloud import LocalCloud
from shared.naming import Names

_ROLLBACK_STATES = (
    "ReadRollbackReason",
    "RollbackReasonGiven",
    "KeepRollbackReason",
    "NoRollbackReason",
    "MarkRolledBack",
    "NotifyRolledBack",
    "ReleaseLockAfterRollback",
    "DeploymentRolledBack",
)


def _rollback_machine(names: Names) -> str:
    states = json.loads(substituted_asl(names))["States"]
    return json.dumps({"StartAt": "ReadRollbackReason", "States": {n: states[n] for n in _ROLLBACK_STATES}})


def test_a_rollback_without_failure_reason_is_still_marked_and_notified(
    local_cloud: LocalCloud, tmp_path: Path
) -> None:
    # GIVEN a healthy endpoint named as the project's, which has no FailureReason
    cfg = load_config(project=f"reason-{uuid.uuid4().hex[:6]}")
    names = Names(cfg)
    sm = boto3.client("sagemaker")
    registry = Registry.create(boto3.client("s3"), sm)
    model_url = registry.upload("models/m/model.tar.gz", model_tarball(train_model(tmp_path)))
    package = registry.package(model_url, registry.upload("code/c/sourcedir.tar.gz", sourcedir_tarball()))
    config = registry.endpoint_config(package)
    sm.create_endpoint(EndpointName=names.endpoint, EndpointConfigName=config)
    described = endpoint_settled(names.endpoint, timeout=120)
    assert described["EndpointStatus"] == "InService", described.get("FailureReason")
    assert "FailureReason" not in described
    topic = boto3.client("sns").create_topic(Name=names.topic)["TopicArn"]
    sqs = boto3.client("sqs")
    inbox = sqs.create_queue(QueueName=f"inbox-{uuid.uuid4().hex[:6]}")["QueueUrl"]
    inbox_arn = sqs.get_queue_attributes(QueueUrl=inbox, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    boto3.client("sns").subscribe(
        TopicArn=topic, Protocol="sqs", Endpoint=inbox_arn, Attributes={"RawMessageDelivery": "true"}
    )
    create_table(names.lock_table, "lock_id")

    # WHEN the outer loop's rollback states run (the state DescribeEndpoint left behind as input)
    sfn = boto3.client("stepfunctions")
    machine = sfn.create_state_machine(
        name=f"rollback-{uuid.uuid4().hex[:6]}",
        definition=_rollback_machine(names),
        roleArn="arn:aws:iam::123456789012:role/local-test",  # unconfined (tests/iam_support.py): this is about the states
    )["stateMachineArn"]
    state = {
        "endpoint": {"status": "InService", "config_name": config},
        "pipeline": {"model_package_arn": package},
    }
    execution = sfn.start_execution(stateMachineArn=machine, input=json.dumps(state))["executionArn"]
    result = execution_ended(execution, timeout=120)

    # THEN it ends as DeploymentRolledBack (not a States.Runtime failure), the package carries the
    # rollback, and the notification went out with the stand-in reason
    assert (result["status"], result.get("error")) == ("FAILED", "DeploymentRolledBack"), result
    metadata = sm.describe_model_package(ModelPackageName=package).get("CustomerMetadataProperties", {})
    assert metadata["dualloop:rolled-back-by"] == execution.rsplit(":", 1)[-1]
    messages = wait_until(
        lambda: sqs.receive_message(QueueUrl=inbox, MaxNumberOfMessages=10).get("Messages"),
        what="the rollback notification",
        timeout=120,
    )
    assert any("the endpoint gave no FailureReason" in m["Body"] for m in messages)

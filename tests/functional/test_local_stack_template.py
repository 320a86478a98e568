"""The local cloud is provisioned from the stack CDK synthesizes: there is no second copy.

What this proves: a change made in a CDK construct (a table's key and TTL, a rule's event
pattern) reaches the local cloud through synthesis alone, with nothing else edited. What it
cannot prove: that CloudFormation creates the resources the same way; the appliers follow
CloudFormation's resource reference (``shared/local_cloud/stack_resources.py``).
"""

from __future__ import annotations

import copy
import json
import tempfile
import uuid
from typing import Any

import boto3
import pytest

from outer_orchestrator.local_stack import LocalStack
from shared.config import DualloopConfig, load_config
from shared.local_cloud import LocalCloud
from shared.local_cloud.stack_resources import UnsupportedStackResource
from shared.naming import Names


def _synthesize_in_process(cfg: DualloopConfig) -> dict[str, Any]:
    """CDK's synthesis here, so the constructs patched by the test are the ones synthesized
    (``infra.local_template.synthesize`` would run the unpatched ones in a child process)."""
    from infra.app import create_app

    with tempfile.TemporaryDirectory(prefix="dualloop-test-synth-") as outdir:
        app, stack = create_app(cfg=cfg, outdir=outdir, nag=False, validation=False, pipeline=None)
        template: dict[str, Any] = app.synth().get_stack_by_name(stack.stack_name).template
    return template


def test_a_change_in_the_cdk_constructs_is_what_the_local_cloud_gets(
    local_cloud: LocalCloud, monkeypatch: pytest.MonkeyPatch
) -> None:
    from aws_cdk import aws_events

    from infra.constructs import outer_loop

    cfg = load_config(stage="dev", project=f"onedef{uuid.uuid4().hex[:4]}")
    names = Names(cfg)

    # GIVEN the OuterLoop construct changed: the lock table keyed by "holder", the approval-token
    # table expiring on "stale_after", and the new-data rule watching raw/incoming/ only
    table = outer_loop.OuterLoop._table

    def changed_table(self: Any, construct_id: str, name: str, key: str, *args: Any, **kwargs: Any) -> Any:
        if construct_id == "LockTable":
            key = "holder"
        if construct_id == "TokenTable":
            kwargs["ttl"] = "stale_after"
        return table(self, construct_id, name, key, *args, **kwargs)

    event_pattern = aws_events.EventPattern

    def changed_pattern(**kwargs: Any) -> Any:
        if kwargs.get("source") == ["aws.s3"]:
            kwargs["detail"] = {
                **kwargs["detail"],
                "object": {"key": [{"prefix": f"{cfg.raw_prefix}incoming/"}]},
            }
        return event_pattern(**kwargs)

    monkeypatch.setattr(outer_loop.OuterLoop, "_table", changed_table)
    monkeypatch.setattr(outer_loop.events, "EventPattern", changed_pattern)
    template = _synthesize_in_process(cfg)

    # WHEN the local stack is provisioned from that synthesis, and from nothing else
    LocalStack(cfg, template=template).provision()

    # THEN the local cloud has the construct's key, TTL and pattern
    dynamodb, events = boto3.client("dynamodb"), boto3.client("events")
    assert dynamodb.describe_table(TableName=names.lock_table)["Table"]["KeySchema"] == [
        {"AttributeName": "holder", "KeyType": "HASH"}
    ]
    ttl = dynamodb.describe_time_to_live(TableName=names.token_table)["TimeToLiveDescription"]
    assert (ttl["AttributeName"], ttl["TimeToLiveStatus"]) == ("stale_after", "ENABLED")
    pattern = json.loads(events.describe_rule(Name=names.new_data_rule)["EventPattern"])
    assert pattern["detail"]["object"]["key"] == [{"prefix": f"{cfg.raw_prefix}incoming/"}]

    # AND going back to the deployed key is refused, not done by dropping the table's items
    dynamodb.put_item(TableName=names.lock_table, Item={"holder": {"S": "kept"}})
    deployed = copy.deepcopy(template)
    lock = next(
        r
        for r in deployed["Resources"].values()
        if r.get("Properties", {}).get("TableName") == names.lock_table
    )
    lock["Properties"]["KeySchema"] = [{"AttributeName": "lock_id", "KeyType": "HASH"}]
    lock["Properties"]["AttributeDefinitions"] = [{"AttributeName": "lock_id", "AttributeType": "S"}]
    with pytest.raises(UnsupportedStackResource, match=f"table {names.lock_table} exists with key"):
        LocalStack(cfg, template=deployed).provision()
    assert dynamodb.get_item(TableName=names.lock_table, Key={"holder": {"S": "kept"}}).get("Item")

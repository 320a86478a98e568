"""Every project function runs the same way (``infra/constructs/lambdas.py``): the pinned runtime
and architecture with the Powertools layer as its only layer, X-Ray, its environment encrypted with
the project key, its own encrypted log group, and a role of its own whose one policy of its own
holds its calls and writing to that log group, nowhere else. CDK's default policy on the role adds
only X-Ray and, for the functions invoked asynchronously, sending to the dead-letter queue.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from synth_support import Synth, statements

if TYPE_CHECKING:
    from shared.naming import Names

# CDK's own BucketDeployment handler (the pipeline code upload) is not a project function.
_CDK_HANDLER = "CustomCDKBucketDeployment"
_CDK_GRANTS = {"xray:PutTraceSegments", "xray:PutTelemetryRecords", "sqs:SendMessage"}


def _functions(synth: Synth) -> dict[str, dict[str, Any]]:
    return {
        k: v["Properties"]
        for k, v in synth.resources("AWS::Lambda::Function").items()
        if not k.startswith(_CDK_HANDLER)
    }


def _key(synth: Synth) -> dict[str, Any]:
    (key_id,) = synth.resources("AWS::KMS::Key")
    return {"Fn::GetAtt": [key_id, "Arn"]}


def test_every_function_runs_the_pinned_runtime_with_only_the_powertools_layer(synth: Synth) -> None:
    from infra.constructs.lambdas import ARCHITECTURE, POWERTOOLS_PARAMETER, RUNTIME

    # GIVEN the dev stack's functions: the four relays, the drift check, its trigger, the lock release
    functions = _functions(synth)
    assert len(functions) == 7, sorted(functions)

    for logical_id, props in functions.items():
        # THEN each runs the pinned runtime, traced, its environment under the project key
        assert props["Runtime"] == RUNTIME.name, logical_id
        assert props["Architectures"] == [ARCHITECTURE.name], logical_id
        assert props["TracingConfig"] == {"Mode": "Active"}, logical_id
        assert props["KmsKeyArn"] == _key(synth), logical_id
        # AND its one layer is the Powertools release the parameter pins
        (layer,) = props["Layers"]
        assert synth.template["Parameters"][layer["Ref"]]["Default"] == POWERTOOLS_PARAMETER, logical_id


def test_every_function_logs_to_its_own_encrypted_log_group(synth: Synth) -> None:
    for logical_id, props in _functions(synth).items():
        group = synth.template["Resources"][props["LoggingConfig"]["LogGroup"]["Ref"]]["Properties"]

        assert group["LogGroupName"] == f"/aws/lambda/{props['FunctionName']}", logical_id
        assert group["KmsKeyId"] == _key(synth), logical_id
        assert group["RetentionInDays"] == 30, logical_id  # dev; prod keeps a year (test_infra_stages)


def test_each_function_has_a_role_and_one_policy_of_its_own_that_writes_only_its_own_logs(
    synth: Synth, names: Names
) -> None:
    functions = _functions(synth)
    roles = [props["Role"]["Fn::GetAtt"][0] for props in functions.values()]
    # GIVEN no two functions share a role
    assert len(set(roles)) == len(roles)

    for logical_id, props in functions.items():
        role_id = props["Role"]["Fn::GetAtt"][0]
        attached = {
            k: v["Properties"]
            for k, v in synth.resources("AWS::IAM::Policy").items()
            if {"Ref": role_id} in v["Properties"]["Roles"]
        }
        # CDK names a role's default policy after the role: <role path>DefaultPolicy<hash>
        default = {k: v for k, v in attached.items() if k.startswith(f"{role_id[:-8]}DefaultPolicy")}
        own = {k: v for k, v in attached.items() if k not in default}
        # THEN the role holds one policy made for it, attached to it alone
        assert len(own) == 1, (logical_id, sorted(own))
        ((_, policy),) = own.items()
        assert policy["Roles"] == [{"Ref": role_id}], logical_id
        stmts = statements(policy["PolicyDocument"])
        # AND every statement in it is named, and the only log writes are to the function's own group
        assert all("Sid" in s for s in stmts), logical_id
        log_writes = [s for s in stmts if any(a.startswith("logs:") for a in s["Action"])]
        assert log_writes == [
            {
                "Sid": "WriteOwnLogs",
                "Effect": "Allow",
                "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
                "Resource": [{"Fn::GetAtt": [props["LoggingConfig"]["LogGroup"]["Ref"], "Arn"]}],
            }
        ], logical_id
        # AND CDK's default policy adds only X-Ray, and the dead-letter queue where it is configured
        granted = {a for p in default.values() for s in statements(p["PolicyDocument"]) for a in s["Action"]}
        assert granted <= _CDK_GRANTS, (logical_id, granted)
        assert ("sqs:SendMessage" in granted) == ("DeadLetterConfig" in props), logical_id
        if "DeadLetterConfig" in props:
            queue_id, _ = synth.one("AWS::SQS::Queue", QueueName=names.dead_letter_queue)
            assert props["DeadLetterConfig"]["TargetArn"] == {"Fn::GetAtt": [queue_id, "Arn"]}, logical_id

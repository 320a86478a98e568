"""The local cloud runs ASL, Lambda handlers, Glue ``.sync`` tasks, callbacks and EventBridge
rules the way AWS does. Each test names the moto gap it proves closed (AWS_FACTS.md).

What a fake cannot prove: IAM evaluation and service quotas; those are checked against the
synthesized template (tests/infra) instead.
"""

from __future__ import annotations

import io
import json
import os
import threading
import time
import uuid
import zipfile
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from iam_support import unconfined_role
from names_support import unique_name
from package_support import package
from wait_support import execution_ended, pipeline_ended, wait_until

from shared.local_cloud import LocalCloud, hooks

ROLE = "arn:aws:iam::123456789012:role/local-test"


def _lambda(source: str, *, env: dict[str, str] | None = None) -> str:
    """Create a Python Lambda function from ``source`` (module ``app``, handler ``app.handler``)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("app.py", source)
    name = unique_name("fn")
    unconfined_role(boto3.client("iam"), name)
    return boto3.client("lambda").create_function(
        FunctionName=name,
        Runtime="python3.11",
        Role=f"arn:aws:iam::123456789012:role/{name}",
        Handler="app.handler",
        Code={"ZipFile": buffer.getvalue()},
        Environment={"Variables": env or {}},
    )["FunctionArn"]


def _state_machine(definition: dict[str, Any]) -> str:
    return boto3.client("stepfunctions").create_state_machine(
        name=unique_name("sm"), definition=json.dumps(definition), roleArn=ROLE
    )["stateMachineArn"]


def _run(arn: str, payload: dict[str, Any] | None = None, timeout: float = 20) -> dict[str, Any]:
    sfn = boto3.client("stepfunctions")
    execution = sfn.start_execution(stateMachineArn=arn, input=json.dumps(payload or {}))["executionArn"]
    return execution_ended(execution, timeout)


def test_starts_fast_and_exports_the_switch(local_cloud: LocalCloud) -> None:
    env = local_cloud.env()
    assert env["AWS_ENDPOINT_URL"].startswith("http://127.0.0.1:")
    # boto3 honours AWS_ENDPOINT_URL on its own: no endpoint_url anywhere in product code.
    assert boto3.client("s3").meta.endpoint_url == env["AWS_ENDPOINT_URL"]


def test_a_60s_wait_takes_well_under_a_second(local_cloud: LocalCloud) -> None:
    arn = _state_machine(
        {
            "StartAt": "Wait",
            "States": {"Wait": {"Type": "Wait", "Seconds": 60, "Next": "Done"}, "Done": {"Type": "Succeed"}},
        }
    )
    started = time.monotonic()
    result = _run(arn)
    elapsed = time.monotonic() - started
    assert result["status"] == "SUCCEEDED"
    assert 0.5 <= elapsed < 1.0, elapsed  # 60 s at the default factor 100 is 0.6 s


def test_lambda_task_runs_the_real_handler(local_cloud: LocalCloud) -> None:
    fn = _lambda(
        "import os\n"
        "def handler(event, context):\n"
        "    return {'sum': event['a'] + event['b'], 'greeting': os.environ['GREETING'],\n"
        "            'function': context.function_name, 'ms_left': context.get_remaining_time_in_millis() > 0}\n",
        env={"GREETING": "hello"},
    )
    arn = _state_machine(
        {
            "StartAt": "Add",
            "States": {
                "Add": {
                    "Type": "Task",
                    "Resource": "arn:aws:states:::lambda:invoke",
                    "Parameters": {"FunctionName": fn, "Payload.$": "$"},
                    "OutputPath": "$.Payload",
                    "End": True,
                }
            },
        }
    )
    result = _run(arn, {"a": 2, "b": 40})
    assert result["status"] == "SUCCEEDED", result
    output = json.loads(result["output"])
    assert output["sum"] == 42
    assert output["greeting"] == "hello"
    assert output["function"] == fn.rsplit(":", 1)[-1]
    assert output["ms_left"] is True


def test_catch_sees_the_handlers_error_type(local_cloud: LocalCloud) -> None:
    fn = _lambda(
        "class PaymentDeclined(Exception):\n    pass\n"
        "def handler(event, context):\n    raise PaymentDeclined('card expired')\n"
    )
    arn = _state_machine(
        {
            "StartAt": "Charge",
            "States": {
                "Charge": {
                    "Type": "Task",
                    "Resource": "arn:aws:states:::lambda:invoke",
                    "Parameters": {"FunctionName": fn, "Payload.$": "$"},
                    "Catch": [
                        {"ErrorEquals": ["PaymentDeclined"], "ResultPath": "$.error", "Next": "Declined"}
                    ],
                    "End": True,
                },
                "Declined": {"Type": "Pass", "End": True},
            },
        }
    )
    result = _run(arn)
    assert result["status"] == "SUCCEEDED", result
    error = json.loads(result["output"])["error"]
    assert error["Error"] == "PaymentDeclined"
    assert "card expired" in error["Cause"]


def test_direct_invoke_surfaces_unhandled_errors(local_cloud: LocalCloud) -> None:
    fn = _lambda("def handler(event, context):\n    raise ValueError('bad input: ' + event['x'])\n")
    response = boto3.client("lambda").invoke(FunctionName=fn, Payload=json.dumps({"x": "7"}))
    assert response["FunctionError"] == "Unhandled"
    payload = json.loads(response["Payload"].read())
    assert payload["errorType"] == "ValueError"
    assert payload["errorMessage"] == "bad input: 7"


def test_wait_for_task_token_released_from_another_thread(local_cloud: LocalCloud) -> None:
    queue_url = boto3.client("sqs").create_queue(QueueName=unique_name("tokens"))["QueueUrl"]
    arn = _state_machine(
        {
            "StartAt": "Await",
            "States": {
                "Await": {
                    "Type": "Task",
                    "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
                    "Parameters": {"QueueUrl": queue_url, "MessageBody": {"token.$": "$$.Task.Token"}},
                    "TimeoutSeconds": 3600,
                    "End": True,
                }
            },
        }
    )
    sqs = boto3.client("sqs")

    def approve() -> None:
        message = wait_until(
            lambda: sqs.receive_message(QueueUrl=queue_url).get("Messages"),
            what="the task token message",
            timeout=10,
        )[0]
        token = json.loads(message["Body"])["token"]
        boto3.client("stepfunctions").send_task_success(
            taskToken=token, output=json.dumps({"approved": True})
        )

    releaser = threading.Thread(target=approve)
    releaser.start()
    result = _run(arn)
    releaser.join()
    assert result["status"] == "SUCCEEDED"
    assert json.loads(result["output"]) == {"approved": True}


def test_task_timeout_runs_on_the_local_clock(local_cloud: LocalCloud) -> None:
    queue_url = boto3.client("sqs").create_queue(QueueName=unique_name("never"))["QueueUrl"]
    arn = _state_machine(
        {
            "StartAt": "Await",
            "States": {
                "Await": {
                    "Type": "Task",
                    "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
                    "Parameters": {"QueueUrl": queue_url, "MessageBody": {"token.$": "$$.Task.Token"}},
                    "TimeoutSeconds": 60,
                    "Catch": [{"ErrorEquals": ["States.Timeout"], "Next": "TimedOut"}],
                    "End": True,
                },
                "TimedOut": {"Type": "Pass", "Result": {"outcome": "timed out"}, "End": True},
            },
        }
    )
    result = _run(arn, timeout=10)
    assert json.loads(result["output"]) == {"outcome": "timed out"}


def _glue_job(script_source: str) -> str:
    """A Glue job whose script (``main(argv)``) the local Glue worker really runs."""
    name = unique_name("job")
    bucket = unique_name("scripts")
    boto3.client("s3").create_bucket(Bucket=bucket)
    boto3.client("s3").put_object(Bucket=bucket, Key=f"{name}.py", Body=script_source.encode())
    boto3.client("glue").create_job(
        Name=name,
        Role=ROLE,
        Command={"Name": "pythonshell", "ScriptLocation": f"s3://{bucket}/{name}.py"},
        GlueVersion="5.0",
    )
    return name


def _glue_sync_machine(job: str, retry: bool = False) -> str:
    task: dict[str, Any] = {
        "Type": "Task",
        "Resource": "arn:aws:states:::glue:startJobRun.sync",
        "Parameters": {"JobName": job, "Arguments": {"--who.$": "$.who"}},
        "ResultSelector": {"state.$": "$.JobRunState", "id.$": "$.Id"},
        "End": True,
    }
    if retry:
        task["Retry"] = [{"ErrorEquals": ["States.TaskFailed"], "IntervalSeconds": 30, "MaxAttempts": 2}]
    return _state_machine({"StartAt": "Job", "States": {"Job": task}})


def test_glue_sync_task_completes_without_crashing(local_cloud: LocalCloud) -> None:
    # moto 5.2.5 alone fails this with "'NoneType' object has no attribute 'interrupt_all'".
    job = _glue_job("def main(argv):\n    assert argv[argv.index('--who') + 1] == 'moto'\n")
    result = _run(_glue_sync_machine(job), {"who": "moto"})
    assert result["status"] == "SUCCEEDED", result
    assert json.loads(result["output"])["state"] == "SUCCEEDED"


def test_glue_job_fails_once_then_the_retry_succeeds(local_cloud: LocalCloud) -> None:
    marker = unique_name("marker")
    boto3.client("s3").create_bucket(Bucket=marker)
    job = _glue_job(
        "import boto3\n"
        "def main(argv):\n"
        f"    s3 = boto3.client('s3')\n"
        f"    if not s3.list_objects_v2(Bucket='{marker}').get('KeyCount'):\n"
        f"        s3.put_object(Bucket='{marker}', Key='tried', Body=b'')\n"
        "        raise OSError('disk full')\n"
    )
    seen: list[hooks.GlueJobRunStarted] = []
    unregister = local_cloud.hooks.register(hooks.GlueJobRunStarted, seen.append)
    try:
        result = _run(_glue_sync_machine(job, retry=True), {"who": "worker"})
    finally:
        unregister()
    assert result["status"] == "SUCCEEDED", result
    runs = [e for e in seen if e.job_name == job]
    assert len(runs) == 2
    assert runs[0].arguments["--who"] == "worker"
    assert runs[0].script_location.endswith(f"{job}.py")
    job_runs = boto3.client("glue").get_job_runs(JobName=job)["JobRuns"]
    assert sorted(r["JobRunState"] for r in job_runs) == ["FAILED", "SUCCEEDED"]
    failed = next(r for r in job_runs if r["JobRunState"] == "FAILED")
    assert failed["ErrorMessage"] == "OSError: disk full"


def _rule_to_state_machine(name: str, arn: str, **rule: Any) -> None:
    events = boto3.client("events")
    events.put_rule(Name=name, **rule)
    events.put_targets(
        Rule=name,
        Targets=[
            {
                "Id": "retrain",
                "Arn": arn,
                "RoleArn": ROLE,
                "InputTransformer": {
                    "InputPathsMap": {"alarm": "$.detail.alarmName", "state": "$.detail.state.value"},
                    "InputTemplate": '{"trigger": "drift", "alarm": <alarm>, "state": <state>}',
                },
            }
        ],
    )


def _executions(arn: str) -> list[dict[str, Any]]:
    return boto3.client("stepfunctions").list_executions(stateMachineArn=arn)["executions"]


def test_put_event_starts_an_execution_with_transformed_input(local_cloud: LocalCloud) -> None:
    arn = _state_machine({"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}})
    _rule_to_state_machine(
        unique_name("rule"),
        arn,
        EventPattern=json.dumps(
            {
                "source": ["aws.cloudwatch"],
                "detail-type": ["CloudWatch Alarm State Change"],
                "detail": {"state": {"value": ["ALARM"]}},
            }
        ),
    )
    events = boto3.client("events")

    def alarm(state: str) -> None:
        events.put_events(
            Entries=[
                {
                    "Source": "aws.cloudwatch",
                    "DetailType": "CloudWatch Alarm State Change",
                    "Detail": json.dumps({"alarmName": "drift", "state": {"value": state}}),
                }
            ]
        )

    alarm("OK")  # does not match the pattern
    alarm("ALARM")
    execution = wait_until(lambda: _executions(arn), what="an execution starting", timeout=10)[0]
    described = execution_ended(execution["executionArn"])
    assert json.loads(described["input"]) == {"trigger": "drift", "alarm": "drift", "state": "ALARM"}
    assert len(_executions(arn)) == 1


def test_input_path_and_lambda_targets(local_cloud: LocalCloud) -> None:
    bucket = unique_name("seen")
    boto3.client("s3").create_bucket(Bucket=bucket)
    fn = _lambda(
        "import json, boto3, os\n"
        "def handler(event, context):\n"
        "    boto3.client('s3').put_object(Bucket=os.environ['BUCKET'], Key='event.json', Body=json.dumps(event))\n",
        env={"BUCKET": bucket},
    )
    rule = unique_name("rule")
    events = boto3.client("events")
    events.put_rule(Name=rule, EventPattern=json.dumps({"source": ["dualloop.test"]}))
    events.put_targets(Rule=rule, Targets=[{"Id": "fn", "Arn": fn, "InputPath": "$.detail"}])
    events.put_events(
        Entries=[{"Source": "dualloop.test", "DetailType": "t", "Detail": json.dumps({"k": 1})}]
    )
    s3 = boto3.client("s3")

    def delivered() -> Any:
        try:
            return json.loads(s3.get_object(Bucket=bucket, Key="event.json")["Body"].read())
        except s3.exceptions.NoSuchKey:
            return None

    assert wait_until(delivered, what="the event reaching the function", timeout=10) == {"k": 1}


def test_sqs_targets_receive_what_aws_delivers(local_cloud: LocalCloud) -> None:
    # GIVEN one rule with three SQS targets: no input setting, Input, InputPath
    sqs, events = boto3.client("sqs"), boto3.client("events")
    queues = {}
    for kind in ("whole", "input", "path"):
        url = sqs.create_queue(QueueName=unique_name(kind))["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        queues[kind] = (url, arn)
    rule = unique_name("rule")
    events.put_rule(Name=rule, EventPattern=json.dumps({"source": ["dualloop.test"]}))
    events.put_targets(
        Rule=rule,
        Targets=[
            {"Id": "whole", "Arn": queues["whole"][1]},
            {"Id": "input", "Arn": queues["input"][1], "Input": '{"trigger": "fixed"}'},
            {"Id": "path", "Arn": queues["path"][1], "InputPath": "$.detail"},
        ],
    )
    # WHEN an event matches
    resource = "arn:aws:sagemaker:us-east-1:123456789012:model-package/g/1"
    events.put_events(
        Entries=[
            {"Source": "dualloop.test", "DetailType": "t", "Detail": '{"k": 1}', "Resources": [resource]}
        ]
    )

    def body(kind: str) -> Any:
        messages = sqs.receive_message(QueueUrl=queues[kind][0]).get("Messages")
        return json.loads(messages[0]["Body"]) if messages else None

    # THEN the target without input settings gets the whole event, account included (moto's
    # default template dropped it), and the others get their Input and InputPath (moto ignored both)
    whole = wait_until(lambda: body("whole"), what="the event reaching the queue", timeout=10)
    assert set(whole) == {
        "version",
        "id",
        "detail-type",
        "source",
        "account",
        "time",
        "region",
        "resources",
        "detail",
    }
    assert whole["account"] == "123456789012"
    assert whole["resources"] == [resource] and whole["detail"] == {"k": 1}
    assert time.strptime(whole["time"], "%Y-%m-%dT%H:%M:%SZ")
    assert wait_until(lambda: body("input"), what="the Input reaching the queue", timeout=10) == {
        "trigger": "fixed"
    }
    assert wait_until(lambda: body("path"), what="the detail reaching the queue", timeout=10) == {"k": 1}


def test_a_fifo_queue_target_needs_content_based_deduplication(local_cloud: LocalCloud) -> None:
    # GIVEN FIFO queues, one with content-based deduplication, one without (and a dead-letter queue)
    sqs, events = boto3.client("sqs"), boto3.client("events")

    def queue(name: str, **attributes: str) -> tuple[str, str]:
        url = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        return url, arn

    deduplicated = queue(f"{unique_name('dedup')}.fifo", FifoQueue="true", ContentBasedDeduplication="true")
    plain = queue(f"{unique_name('plain')}.fifo", FifoQueue="true")
    dead = queue(unique_name("dlq"))
    rule = unique_name("rule")
    events.put_rule(Name=rule, EventPattern=json.dumps({"source": ["dualloop.test"]}))
    group = {"SqsParameters": {"MessageGroupId": "retrains"}, "DeadLetterConfig": {"Arn": dead[1]}}
    events.put_targets(
        Rule=rule,
        Targets=[{"Id": "dedup", "Arn": deduplicated[1], **group}, {"Id": "plain", "Arn": plain[1], **group}],
    )
    # WHEN an event matches
    events.put_events(Entries=[{"Source": "dualloop.test", "DetailType": "t", "Detail": "{}"}])

    def received(url: str, **kwargs: Any) -> Any:
        return sqs.receive_message(QueueUrl=url, **kwargs).get("Messages")

    # THEN the deduplicating queue has it in the target's message group
    (message,) = wait_until(
        lambda: received(deduplicated[0], MessageSystemAttributeNames=["MessageGroupId"]),
        what="the event reaching the FIFO queue",
        timeout=10,
    )
    assert message["Attributes"]["MessageGroupId"] == "retrains"
    assert json.loads(message["Body"])["account"] == "123456789012"
    # AND the other one refused it, so it went to the target's dead-letter queue, saying why
    (dead_letter,) = wait_until(
        lambda: received(dead[0], MessageAttributeNames=["All"]), what="the dead letter", timeout=10
    )
    assert dead_letter["MessageAttributes"]["TARGET_ARN"]["StringValue"] == plain[1]
    assert "content-based deduplication" in dead_letter["MessageAttributes"]["ERROR_MESSAGE"]["StringValue"]
    assert received(plain[0]) is None


def test_a_log_group_target_receives_the_whole_event(local_cloud: LocalCloud) -> None:
    # GIVEN a rule writing to a log group
    logs, events = boto3.client("logs"), boto3.client("events")
    group = f"/aws/events/{unique_name('log')}"
    logs.create_log_group(logGroupName=group)
    rule = unique_name("rule")
    events.put_rule(Name=rule, EventPattern=json.dumps({"source": ["dualloop.test"]}))
    target = f"arn:aws:logs:us-east-1:123456789012:log-group:{group}:*"
    events.put_targets(Rule=rule, Targets=[{"Id": "log", "Arn": target}])
    # WHEN an event matches
    events.put_events(Entries=[{"Source": "dualloop.test", "DetailType": "t", "Detail": '{"k": 2}'}])
    # THEN the log event's message is the whole event, account included
    found = wait_until(
        lambda: logs.filter_log_events(logGroupName=group)["events"], what="the event in the log", timeout=10
    )
    message = json.loads(found[0]["message"])
    assert message["account"] == "123456789012" and message["detail"] == {"k": 2}
    assert message["source"] == "dualloop.test" and message["detail-type"] == "t"


def test_schedule_rule_fires_on_the_local_clock(local_cloud: LocalCloud) -> None:
    arn = _state_machine({"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}})
    rule = unique_name("schedule")
    events = boto3.client("events")
    events.put_rule(Name=rule, ScheduleExpression="rate(1 minute)")
    events.put_targets(
        Rule=rule, Targets=[{"Id": "t", "Arn": arn, "RoleArn": ROLE, "Input": '{"trigger": "schedule"}'}]
    )
    # One AWS minute is 0.6 s at factor 100.
    first = wait_until(lambda: _executions(arn), what="the schedule starting an execution", timeout=3)[0]
    assert json.loads(execution_ended(first["executionArn"])["input"]) == {"trigger": "schedule"}
    events.disable_rule(Name=rule)
    time.sleep(0.1)
    count = len(_executions(arn))
    time.sleep(1.5)
    assert len(_executions(arn)) == count  # a disabled rule stops firing


def test_schedule_rules_ignore_pattern_events(local_cloud: LocalCloud) -> None:
    arn = _state_machine({"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}})
    rule = unique_name("daily")
    events = boto3.client("events")
    events.put_rule(Name=rule, ScheduleExpression="cron(0 3 * * ? *)")
    events.put_targets(Rule=rule, Targets=[{"Id": "t", "Arn": arn, "RoleArn": ROLE}])
    events.put_events(Entries=[{"Source": "anything", "DetailType": "x", "Detail": "{}"}])
    time.sleep(0.3)
    assert _executions(arn) == []  # moto alone would deliver it: an empty pattern matches all


def test_model_package_approval_emits_the_aws_event(local_cloud: LocalCloud) -> None:
    queue = boto3.client("sqs").create_queue(QueueName=unique_name("pkg"))
    queue_arn = boto3.client("sqs").get_queue_attributes(
        QueueUrl=queue["QueueUrl"], AttributeNames=["QueueArn"]
    )["Attributes"]["QueueArn"]
    group = unique_name("group")
    rule = unique_name("pkg-rule")
    events = boto3.client("events")
    events.put_rule(
        Name=rule,
        EventPattern=json.dumps(
            {
                "source": ["aws.sagemaker"],
                "detail-type": ["SageMaker Model Package State Change"],
                "detail": {"ModelPackageGroupName": [group]},
            }
        ),
    )
    events.put_targets(Rule=rule, Targets=[{"Id": "q", "Arn": queue_arn}])
    sm = boto3.client("sagemaker")
    arn = package(group, create_group=True)
    sm.update_model_package(
        ModelPackageArn=arn, ModelApprovalStatus="Approved", ApprovalDescription="looks good"
    )
    sqs = boto3.client("sqs")
    details: list[dict[str, Any]] = []

    def two_events() -> bool:
        for message in sqs.receive_message(QueueUrl=queue["QueueUrl"], MaxNumberOfMessages=10).get(
            "Messages", []
        ):
            details.append(json.loads(message["Body"])["detail"])
        return len(details) >= 2

    wait_until(two_events, what="the package's two state-change events", timeout=10)
    assert [d["ModelApprovalStatus"] for d in details] == ["PendingManualApproval", "Approved"]
    assert details[1]["ModelPackageArn"] == arn
    assert details[1]["ModelPackageGroupName"] == group
    assert details[1]["ModelPackageVersion"] == 1


def test_many_clients_at_once(local_cloud: LocalCloud) -> None:
    bucket = unique_name("busy")
    boto3.client("s3").create_bucket(Bucket=bucket)
    errors: list[BaseException] = []

    def writer(i: int) -> None:
        try:
            s3 = boto3.session.Session().client("s3")
            for j in range(10):
                s3.put_object(Bucket=bucket, Key=f"{i}/{j}", Body=b"x")
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert boto3.client("s3").list_objects_v2(Bucket=bucket)["KeyCount"] == 80


def test_a_functions_environment_never_leaks_into_other_threads(local_cloud: LocalCloud) -> None:
    import os

    fn = _lambda(
        "import os, time\n"
        "def handler(event, context):\n"
        "    time.sleep(0.5)\n"
        "    return os.environ['ONLY_IN_LAMBDA']\n",
        env={"ONLY_IN_LAMBDA": "secret-config"},
    )
    answers: list[str] = []
    invocation = threading.Thread(
        target=lambda: answers.append(
            boto3.client("lambda").invoke(FunctionName=fn)["Payload"].read().decode()
        )
    )
    invocation.start()
    time.sleep(0.2)
    leaked = os.environ.get("ONLY_IN_LAMBDA")  # read while the function runs
    invocation.join()
    assert leaked is None
    assert answers == ['"secret-config"']


def test_clients_work_with_aws_defaults_mode_set(
    local_cloud: LocalCloud, monkeypatch: pytest.MonkeyPatch
) -> None:
    """botocore deep-copies os.environ under AWS_DEFAULTS_MODE; the in-process Lambda overlay
    replaces os.environ, and must survive that (it once raised "cannot pickle '_thread._local'")."""
    import copy

    from shared.local_cloud.patches.lambda_inprocess import ThreadEnviron, _thread_environ

    environ = _thread_environ()  # what the first in-process Lambda invocation installs
    assert isinstance(os.environ, ThreadEnviron)
    assert copy.deepcopy(environ) is environ
    monkeypatch.setenv("AWS_DEFAULTS_MODE", "standard")
    s3 = boto3.Session(region_name="us-east-1").client("s3", endpoint_url=local_cloud.endpoint)
    assert "Buckets" in s3.list_buckets()


def test_put_events_over_256_kb_is_refused_as_on_aws(local_cloud: LocalCloud) -> None:
    # GIVEN entries sized as EventBridge sizes them (Source + DetailType + Detail + Resources)
    events = boto3.client("events")
    base = {"Source": "dualloop.test", "DetailType": "big", "Resources": ["arn:x"]}
    fixed = sum(len(v) for v in ("dualloop.test", "big", "arn:x")) + len('{"p": ""}')
    at_limit = {**base, "Detail": json.dumps({"p": "x" * (256 * 1024 - fixed)})}
    # WHEN an entry is exactly 256 KB, THEN it is accepted
    assert events.put_events(Entries=[at_limit])["FailedEntryCount"] == 0
    # WHEN the request is one byte over (or two entries add up to more), THEN it is refused
    over = {**base, "Detail": json.dumps({"p": "x" * (256 * 1024 - fixed + 1)})}
    half = {**base, "Detail": json.dumps({"p": "x" * (128 * 1024)})}
    for entries in ([over], [half, half]):
        with pytest.raises(ClientError, match="Total size of the entries in the request is over the limit"):
            events.put_events(Entries=entries)


def test_listed_executions_carry_a_failure_reason_only_when_they_failed(local_cloud: LocalCloud) -> None:
    # GIVEN one pipeline that succeeds (no steps) and one that stops at a Fail step
    sm = boto3.client("sagemaker")
    role = "arn:aws:iam::123456789012:role/local-test"
    outcomes: dict[str, str] = {}
    for name, steps in (
        (f"ok-{uuid.uuid4().hex[:6]}", []),
        (
            f"ko-{uuid.uuid4().hex[:6]}",
            [{"Name": "Stop", "Type": "Fail", "Arguments": {"ErrorMessage": "no"}}],
        ),
    ):
        definition = {"Version": "2020-12-01", "Parameters": [], "Steps": steps}
        sm.create_pipeline(PipelineName=name, PipelineDefinition=json.dumps(definition), RoleArn=role)
        arn = sm.start_pipeline_execution(PipelineName=name)["PipelineExecutionArn"]
        status = pipeline_ended(arn, timeout=30)["PipelineExecutionStatus"]
        outcomes[status] = name
    assert set(outcomes) == {"Succeeded", "Failed"}
    # WHEN they are listed THEN only the failed one has a reason (moto wrote the text "None" for all)
    succeeded = sm.list_pipeline_executions(PipelineName=outcomes["Succeeded"])["PipelineExecutionSummaries"]
    assert "PipelineExecutionFailureReason" not in succeeded[0]
    failed = sm.list_pipeline_executions(PipelineName=outcomes["Failed"])["PipelineExecutionSummaries"]
    described = sm.describe_pipeline_execution(PipelineExecutionArn=failed[0]["PipelineExecutionArn"])
    assert failed[0]["PipelineExecutionFailureReason"] == described["FailureReason"] != "None"

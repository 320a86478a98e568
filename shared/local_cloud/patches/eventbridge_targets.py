"""Fix and addition: EventBridge rules deliver to Step Functions, Lambda, SQS and log-group
targets what AWS delivers.

moto 5.2.5's ``Rule.send_to_targets`` knows log groups, SQS, event buses, archives and API
destinations, and raises ``Expr not defined for Rule`` for anything else. It also hands
every event to schedule rules (their empty pattern matches everything) and ignores a
rule's ``DISABLED`` state. For the targets it knows it renders ``InputTransformer`` only,
ignoring ``Input`` and ``InputPath``, and without one it renders a default template
(moto/events/utils.py ``DEFAULT_EVENT_INPUT_TEMPLATE``) that drops the event's ``account``.
This patch delivers, with AWS's target-input semantics (``Input`` | ``InputPath`` |
``InputTransformer`` | the whole event; EventBridge user guide, "Transforming target input"):
- ``arn:aws:states:...:stateMachine:...`` → StartExecution with the input;
- ``arn:aws:lambda:...:function:...`` → an asynchronous (Event) invocation;
- ``arn:aws:sqs:...`` → SendMessage with the input as the body (``SqsParameters.MessageGroupId``
  for a FIFO queue, which needs content-based deduplication);
- ``arn:aws:logs:...:log-group:...`` → a log event whose message is the input.
Event-bus, archive and API-destination targets keep moto's delivery (the project uses none:
moto forwards to another bus only source, detail-type and detail, and calls an API
destination without the event).
Delivery is at least once, as on AWS; consumers must be idempotent.
"""

from __future__ import annotations

import copy
import json
import logging
import re
import uuid
from datetime import UTC, datetime
from typing import Any

from jsonpath_ng.ext import parse as jsonpath
from moto.events.models import Rule
from moto.utilities.arns import parse_arn

from shared.local_cloud.patches import Patch, original

LOG = logging.getLogger(__name__)
SCHEDULED_EVENT_MARK = "__dualloop_scheduled__"


PATCH = Patch(__name__)


def target_input(target: dict[str, Any], event: dict[str, Any]) -> Any:
    """What AWS hands a target: the rule's ``Input``, ``InputPath``, ``InputTransformer``
    or, when none is set, the whole event (with an ISO-8601 ``time``)."""
    if "Input" in target:
        return json.loads(target["Input"])
    if "InputTransformer" in target:
        return _parsed(_transformed(target["InputTransformer"], _public(event)))
    public = _public(event)
    if "InputPath" in target:
        matches = jsonpath(target["InputPath"]).find(public)
        return matches[0].value if matches else None
    return public


def target_text(target: dict[str, Any], event: dict[str, Any]) -> str:
    """The input as the text a queue's message or a log event carries: ``Input`` verbatim, a
    transformer's rendering as rendered (a plain-text template stays plain text), else JSON."""
    if "Input" in target:
        return str(target["Input"])
    if "InputTransformer" in target:
        return _transformed(target["InputTransformer"], _public(event))
    return json.dumps(target_input(target, event))


def _public(event: dict[str, Any]) -> dict[str, Any]:
    """The event as AWS shows it: no moto bookkeeping, ``time`` as ISO-8601 text."""
    public = {k: v for k, v in event.items() if k not in ("ingestion-time", SCHEDULED_EVENT_MARK)}
    if isinstance(public.get("time"), int | float):
        public["time"] = datetime.fromtimestamp(public["time"], UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return public


def _transformed(transformer: dict[str, Any], public: dict[str, Any]) -> str:
    values = {
        name: (found[0].value if (found := jsonpath(path).find(public)) else None)
        for name, path in transformer.get("InputPathsMap", {}).items()
    }
    values["aws.events.event.json"] = public
    values["aws.events.rule-arn"] = f"arn:aws:events:{public.get('region')}:{public.get('account')}:rule/"
    return render_input_text(transformer["InputTemplate"], values)


_PLACEHOLDER = re.compile(r"<([A-Za-z0-9_.\-]+)>")


def render_input_text(template: str, values: dict[str, Any]) -> str:
    """EventBridge's InputTemplate: a placeholder inside a JSON string is replaced by the raw
    text of its value; one standing as a JSON value is replaced by the value as JSON (so
    strings get their quotes). moto inserts strings unquoted, which breaks the latter."""
    out: list[str] = []
    in_string = escaped = False
    i = 0
    while i < len(template):
        char = template[i]
        match = _PLACEHOLDER.match(template, i) if char == "<" else None
        if match and match.group(1) in values:
            value = values[match.group(1)]
            raw = value if isinstance(value, str) else json.dumps(value)
            out.append(raw if in_string else json.dumps(value))
            i = match.end()
            continue
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        out.append(char)
        i += 1
    return "".join(out)


def _parsed(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text  # a plain-text template: the target receives the string


@PATCH.replaces(Rule, "send_to_targets", "472e002e2dab8a59")
def _send_to_targets(self: Rule, original_event: dict[str, Any], transform_input: bool = True) -> None:
    if self.state != "ENABLED":
        return
    is_scheduled_tick = bool(original_event.get(SCHEDULED_EVENT_MARK))
    if bool(self.scheduled_expression) != is_scheduled_tick:
        return  # schedule rules fire on their schedule only; pattern rules never on a tick
    if not is_scheduled_tick and not self.event_pattern.matches_event(original_event):
        return

    moto_targets = []
    for target in self.targets:
        arn = parse_arn(target["Arn"])
        if arn.service == "states":
            _start_execution(self, target, original_event)
        elif arn.service == "lambda":
            _invoke_function(self, target, original_event)
        elif arn.service == "sqs":
            _send_to_queue(self, target, original_event)
        elif arn.service == "logs" and arn.resource_type == "log-group":
            _send_to_log_group(self, target, original_event)
        else:
            moto_targets.append(target)
    if moto_targets:
        shallow = copy.copy(self)
        shallow.targets = moto_targets
        original(Rule, "send_to_targets")(shallow, original_event, transform_input)


def _start_execution(rule: Rule, target: dict[str, Any], event: dict[str, Any]) -> None:
    from moto.stepfunctions.responses import get_backend

    payload = target_input(target, event)
    backend = get_backend(rule.account_id, rule.region_name)
    try:
        _authorize(rule, target)
        backend.start_execution(target["Arn"], execution_input=json.dumps(payload))
    except Exception as exc:
        # AWS retries failed deliveries and then drops them or sends them to the target's
        # dead-letter queue; losing one silently here would hide a real misconfiguration.
        LOG.exception("EventBridge rule %s could not start %s", rule.name, target["Arn"])
        _dead_letter(rule, target, event, exc)


def _authorize(rule: Rule, target: dict[str, Any]) -> None:
    """EventBridge starts an execution as the target's ``RoleArn``, which a Step Functions
    target must have and whose policies must allow ``states:StartExecution`` on the state
    machine (EventBridge user guide, "Using IAM roles to send events to targets")."""
    from shared.local_cloud.iam import sessions
    from shared.local_cloud.patches import iam_enforcement

    if not iam_enforcement.enabled():
        return
    role_arn = target.get("RoleArn")
    if not role_arn:
        raise iam_enforcement.AccessDenied(
            f"the target {target['Arn']} of rule {rule.name} has no RoleArn: EventBridge needs a role to start a state machine"
        )
    session = sessions.assume(role_arn, "events.amazonaws.com", rule.region_name)
    iam_enforcement.authorize_as(session, "states:StartExecution", (target["Arn"],))


def _dead_letter(rule: Rule, target: dict[str, Any], event: dict[str, Any], error: Exception) -> None:
    """The event to the target's dead-letter queue, with the attributes EventBridge adds
    (EventBridge user guide, "Using dead-letter queues to process undelivered events")."""
    queue_arn = (target.get("DeadLetterConfig") or {}).get("Arn")
    if not queue_arn:
        return
    from moto.sqs.models import sqs_backends

    arn = parse_arn(queue_arn)
    attributes = {
        "RULE_ARN": rule.arn,
        "TARGET_ARN": target["Arn"],
        "ERROR_CODE": type(error).__name__,
        "ERROR_MESSAGE": str(error)[:1024],
    }
    sqs_backends[arn.account][arn.region].send_message(
        arn.resource_id,
        json.dumps({k: v for k, v in event.items() if k != SCHEDULED_EVENT_MARK}, default=str),
        message_attributes={k: {"DataType": "String", "StringValue": v} for k, v in attributes.items()},
    )


def _invoke_function(rule: Rule, target: dict[str, Any], event: dict[str, Any]) -> None:
    from shared.local_cloud.patches.lambda_inprocess import invoke_async

    invoke_async(target["Arn"], target_input(target, event), rule.account_id, rule.region_name)


def _send_to_queue(rule: Rule, target: dict[str, Any], event: dict[str, Any]) -> None:
    from moto.sqs.models import sqs_backends

    arn = parse_arn(target["Arn"])
    backend = sqs_backends[arn.account][arn.region]
    group_id = (target.get("SqsParameters") or {}).get("MessageGroupId")
    try:
        if arn.resource_id.endswith(".fifo"):
            # EventBridge user guide, "Amazon SQS queues as targets": a FIFO queue needs
            # content-based deduplication (EventBridge sends no deduplication id).
            queue = backend.get_queue(arn.resource_id)
            if str(queue.attributes.get("ContentBasedDeduplication", "false")).lower() != "true":
                raise ValueError(f"the FIFO queue {arn.resource_id} has no content-based deduplication")
        backend.send_message(arn.resource_id, target_text(target, event), group_id=group_id)
    except Exception as exc:
        LOG.exception("EventBridge rule %s could not send to %s", rule.name, target["Arn"])
        _dead_letter(rule, target, event, exc)


def _send_to_log_group(rule: Rule, target: dict[str, Any], event: dict[str, Any]) -> None:
    from moto.core.utils import unix_time_millis
    from moto.logs.models import logs_backends

    arn = parse_arn(target["Arn"])
    group = arn.resource_id.split(":")[0]  # log-group:NAME or log-group:NAME:*
    backend = logs_backends[arn.account][arn.region]
    stream = str(uuid.uuid4())
    try:
        backend.create_log_stream(group, stream)
        backend.put_log_events(
            group, stream, [{"timestamp": unix_time_millis(), "message": target_text(target, event)}]
        )
    except Exception as exc:
        LOG.exception("EventBridge rule %s could not write to %s", rule.name, target["Arn"])
        _dead_letter(rule, target, event, exc)

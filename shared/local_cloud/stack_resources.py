"""The synthesized stack's resources, created in the local cloud the way CloudFormation would.

One applier per CloudFormation resource type maps the resource's ``Properties`` (intrinsics
rendered by ``iam.template.Renderer``) onto the API calls CloudFormation makes for it
(AWS resource and property types reference). Applying is idempotent: a resource that
exists is brought up to date and keeps its data, as a stack update would; a change
CloudFormation would only make by replacing the resource (a table's key) fails with what
to do, since replacing would drop the data.

Nothing is skipped silently. Each applier names the properties it applies and the ones the
local cloud does not emulate (with why); a property in neither list, or a resource type no
applier knows and ``NOT_PROVISIONED`` does not list, fails with the type and property: the
stack grew something the local cloud would otherwise quietly leave out.

Roles, Glue jobs, Lambda functions and the state machine are provisioned by the caller
(``outer_orchestrator.local_stack``) from the same template: they need the project's code
published first, which is the caller's business.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from shared.local_cloud.iam.template import Renderer

Props = dict[str, Any]
ClientFactory = Callable[[str], Any]

_KMS = "SSE-KMS is not emulated: the local cloud stores data unencrypted and evaluates no key policy"
_RESOURCE_POLICY = (
    "the stack's resource-based policies are not applied: the local cloud evaluates identity policies, "
    "and a bucket policy only for another account's request (iam/resource_policy.py)"
)
_TAGS = "tags change no behaviour the local cloud emulates"


class UnsupportedStackResource(ValueError):
    pass


@dataclass(frozen=True)
class Applier:
    apply: Callable[[ClientFactory, Props], None]
    applied: frozenset[str]
    not_emulated: Mapping[str, str]  # property -> why the local cloud leaves it out


# Resource types the local cloud leaves to others, with why. The caller provisions the ones
# marked "caller"; the rest have no local behaviour to emulate.
NOT_PROVISIONED: dict[str, str] = {
    "AWS::IAM::Role": "caller: the roles (iam.template.create_roles)",
    "AWS::IAM::Policy": "caller: attached to their roles (iam.template.create_roles)",
    "AWS::Glue::Job": "caller: needs the job scripts published",
    "AWS::Lambda::Function": "caller: needs the code package",
    "AWS::StepFunctions::StateMachine": "caller: the ASL file with its substitutions",
    "AWS::KMS::Key": _KMS,
    "AWS::KMS::Alias": _KMS,
    "AWS::Glue::SecurityConfiguration": "Glue's encryption settings: " + _KMS,
    "AWS::S3::BucketPolicy": _RESOURCE_POLICY,
    "AWS::SQS::QueuePolicy": _RESOURCE_POLICY,
    "AWS::SNS::TopicPolicy": _RESOURCE_POLICY,
    "AWS::Lambda::Permission": _RESOURCE_POLICY,
    "AWS::Lambda::EventInvokeConfig": "the local cloud invokes an asynchronous Lambda once, without Lambda's retry queue",
    "AWS::CDK::Metadata": "CDK's version report, no resource",
}


def apply(template: Mapping[str, Any], clients: ClientFactory, account: str, region: str) -> list[str]:
    """Create or update every resource of ``template`` an applier knows; returns their logical ids.

    Fails, before creating anything, on a resource type or property the local cloud neither
    applies nor lists as not emulated.
    """
    render = Renderer(template, account, region)
    resources: Mapping[str, Any] = template.get("Resources", {})
    planned: list[tuple[str, Applier, Props]] = []
    for logical_id, resource in resources.items():
        kind = resource["Type"]
        if kind in NOT_PROVISIONED or kind.startswith("Custom::"):
            continue  # Custom::*: CDK's deploy-time Lambdas (bucket deployments), not resources
        applier = APPLIERS.get(kind)
        if applier is None:
            raise UnsupportedStackResource(
                f"the stack's {logical_id} is a {kind}, which the local cloud cannot provision: "
                "add an applier to shared/local_cloud/stack_resources.py or list it in NOT_PROVISIONED with why"
            )
        props = resource.get("Properties", {})
        unknown = set(props) - applier.applied - set(applier.not_emulated)
        if unknown:
            raise UnsupportedStackResource(
                f"the stack's {logical_id} ({kind}) sets {', '.join(sorted(unknown))}, which the local cloud "
                "neither applies nor lists as not emulated (shared/local_cloud/stack_resources.py)"
            )
        applied = {k: v for k, v in props.items() if k in applier.applied}
        planned.append((logical_id, applier, render(applied)))
    # Order by type as CloudFormation's dependencies would (rules and alarms name the others).
    planned.sort(key=lambda p: _ORDER.index(p[1]))
    for _, applier, props in planned:
        applier.apply(clients, props)
    return [logical_id for logical_id, _, _ in planned]


def resources_of(template: Mapping[str, Any], kind: str) -> Iterable[tuple[str, Mapping[str, Any]]]:
    for logical_id, resource in template.get("Resources", {}).items():
        if resource["Type"] == kind:
            yield logical_id, resource.get("Properties", {})


# ---- S3 ------------------------------------------------------------------------------------
def _bucket(clients: ClientFactory, p: Props) -> None:
    s3, name = clients("s3"), p["BucketName"]
    region = s3.meta.region_name
    try:
        # us-east-1 takes no LocationConstraint (S3 CreateBucket API reference).
        extra = {} if region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": region}}
        s3.create_bucket(Bucket=name, **extra)
    except (s3.exceptions.BucketAlreadyOwnedByYou, s3.exceptions.BucketAlreadyExists):
        pass
    if "VersioningConfiguration" in p:
        s3.put_bucket_versioning(
            Bucket=name, VersioningConfiguration={"Status": p["VersioningConfiguration"]["Status"]}
        )
    if "PublicAccessBlockConfiguration" in p:
        s3.put_public_access_block(
            Bucket=name, PublicAccessBlockConfiguration=p["PublicAccessBlockConfiguration"]
        )
    notifications = p.get("NotificationConfiguration", {})
    unknown = set(notifications) - {"EventBridgeConfiguration"}
    if unknown:
        raise UnsupportedStackResource(
            f"bucket {name}: the local cloud delivers S3 notifications to EventBridge only, not {sorted(unknown)}"
        )
    if notifications.get("EventBridgeConfiguration", {}).get("EventBridgeEnabled"):
        # New objects reach EventBridge ("Object Created" events), e.g. the new-data trigger.
        s3.put_bucket_notification_configuration(
            Bucket=name, NotificationConfiguration={"EventBridgeConfiguration": {}}
        )
    for rule in p.get("BucketEncryption", {}).get("ServerSideEncryptionConfiguration", []):
        default = rule.get("ServerSideEncryptionByDefault", {})
        if default.get("SSEAlgorithm") == "AES256":
            s3.put_bucket_encryption(
                Bucket=name,
                ServerSideEncryptionConfiguration={
                    "Rules": [{"ApplyServerSideEncryptionByDefault": default}]
                },
            )
        # aws:kms: not emulated (_KMS); the bucket stays unencrypted locally.


_BUCKET = Applier(
    _bucket,
    frozenset(
        {
            "BucketName",
            "VersioningConfiguration",
            "PublicAccessBlockConfiguration",
            "NotificationConfiguration",
            "BucketEncryption",
        }
    ),
    {
        "LifecycleConfiguration": "nothing expires or changes storage class on the local cloud",
        "LoggingConfiguration": "S3 server access logs are not written locally",
        "OwnershipControls": "object ACLs are not evaluated locally",
        "Tags": _TAGS,
    },
)


# ---- DynamoDB ------------------------------------------------------------------------------
def _table(clients: ClientFactory, p: Props) -> None:
    dynamodb, name = clients("dynamodb"), p["TableName"]
    spec: dict[str, Any] = {
        "AttributeDefinitions": p["AttributeDefinitions"],
        "KeySchema": p["KeySchema"],
        "BillingMode": p.get("BillingMode", "PROVISIONED"),
        **{k: p[k] for k in ("ProvisionedThroughput", "GlobalSecondaryIndexes") if k in p},
    }
    try:
        dynamodb.create_table(TableName=name, **spec)
    except dynamodb.exceptions.ResourceInUseException:
        existing = dynamodb.describe_table(TableName=name)["Table"]["KeySchema"]
        if _key(existing) != _key(p["KeySchema"]):
            # CloudFormation replaces a table whose key changes, dropping its items.
            raise UnsupportedStackResource(
                f"table {name} exists with key {_key(existing)} but the stack declares {_key(p['KeySchema'])}: "
                "CloudFormation would replace it (losing its items); delete it first "
                f"(aws dynamodb delete-table --table-name {name}) or restart the local cloud"
            ) from None
    ttl = p.get("TimeToLiveSpecification")
    current = dynamodb.describe_time_to_live(TableName=name)["TimeToLiveDescription"]
    wanted = (ttl or {}).get("AttributeName") if (ttl or {}).get("Enabled") else None
    enabled = current.get("AttributeName") if current.get("TimeToLiveStatus") == "ENABLED" else None
    if wanted != enabled:
        if enabled:  # one TTL attribute at a time: switch the old one off first
            dynamodb.update_time_to_live(
                TableName=name, TimeToLiveSpecification={"AttributeName": enabled, "Enabled": False}
            )
        if wanted:
            dynamodb.update_time_to_live(
                TableName=name, TimeToLiveSpecification={"AttributeName": wanted, "Enabled": True}
            )
    pitr = p.get("PointInTimeRecoverySpecification")
    if pitr:
        dynamodb.update_continuous_backups(
            TableName=name,
            PointInTimeRecoverySpecification={
                "PointInTimeRecoveryEnabled": bool(pitr.get("PointInTimeRecoveryEnabled"))
            },
        )


def _key(schema: list[dict[str, str]]) -> list[tuple[str, str]]:
    return sorted((k["AttributeName"], k["KeyType"]) for k in schema)


_TABLE = Applier(
    _table,
    frozenset(
        {
            "TableName",
            "AttributeDefinitions",
            "KeySchema",
            "BillingMode",
            "ProvisionedThroughput",
            "GlobalSecondaryIndexes",
            "TimeToLiveSpecification",
            "PointInTimeRecoverySpecification",
        }
    ),
    {"SSESpecification": _KMS, "Tags": _TAGS},
)


# ---- SNS, SQS, Logs ------------------------------------------------------------------------
def _topic(clients: ClientFactory, p: Props) -> None:
    attributes = {"DisplayName": p["DisplayName"]} if "DisplayName" in p else {}
    clients("sns").create_topic(Name=p["TopicName"], Attributes=attributes)


_TOPIC = Applier(_topic, frozenset({"TopicName", "DisplayName"}), {"KmsMasterKeyId": _KMS, "Tags": _TAGS})

# CloudFormation property -> SetQueueAttributes attribute (same names, values as strings).
_QUEUE_ATTRIBUTES = (
    "DelaySeconds",
    "MaximumMessageSize",
    "MessageRetentionPeriod",
    "ReceiveMessageWaitTimeSeconds",
    "VisibilityTimeout",
)


def _queue(clients: ClientFactory, p: Props) -> None:
    sqs = clients("sqs")
    attributes = {k: str(p[k]) for k in _QUEUE_ATTRIBUTES if k in p}
    if "RedrivePolicy" in p:
        attributes["RedrivePolicy"] = json.dumps(p["RedrivePolicy"])
    url = sqs.create_queue(QueueName=p["QueueName"])["QueueUrl"]
    if attributes:  # CreateQueue refuses changed attributes of an existing queue; Set does not
        sqs.set_queue_attributes(QueueUrl=url, Attributes=attributes)


_QUEUE = Applier(
    _queue,
    frozenset({"QueueName", "RedrivePolicy", *_QUEUE_ATTRIBUTES}),
    {"KmsMasterKeyId": _KMS, "SqsManagedSseEnabled": _KMS, "Tags": _TAGS},
)


def _log_group(clients: ClientFactory, p: Props) -> None:
    logs, name = clients("logs"), p["LogGroupName"]
    try:
        logs.create_log_group(logGroupName=name)
    except logs.exceptions.ResourceAlreadyExistsException:
        pass
    if "RetentionInDays" in p:
        logs.put_retention_policy(logGroupName=name, retentionInDays=int(p["RetentionInDays"]))


_LOG_GROUP = Applier(
    _log_group, frozenset({"LogGroupName", "RetentionInDays"}), {"KmsKeyId": _KMS, "Tags": _TAGS}
)


# ---- EventBridge, CloudWatch, SageMaker ----------------------------------------------------
def _rule(clients: ClientFactory, p: Props) -> None:
    events, name = clients("events"), p["Name"]
    rule: dict[str, Any] = {"Name": name, "State": p.get("State", "ENABLED")}
    if "EventPattern" in p:
        rule["EventPattern"] = json.dumps(p["EventPattern"])
    for key in ("ScheduleExpression", "Description", "EventBusName"):
        if key in p:
            rule[key] = p[key]
    events.put_rule(**rule)
    targets = p.get("Targets", [])
    bus = {"EventBusName": p["EventBusName"]} if "EventBusName" in p else {}
    # A target the stack no longer declares goes, as a stack update removes it.
    stale = {t["Id"] for t in events.list_targets_by_rule(Rule=name, **bus)["Targets"]} - {
        t["Id"] for t in targets
    }
    if stale:
        events.remove_targets(Rule=name, Ids=sorted(stale), **bus)
    if targets:
        # CloudFormation's target properties are PutTargets' members (AWS::Events::Rule Target).
        events.put_targets(Rule=name, Targets=targets, **bus)


_RULE = Applier(
    _rule,
    frozenset(
        {"Name", "State", "EventPattern", "ScheduleExpression", "Description", "EventBusName", "Targets"}
    ),
    {"Tags": _TAGS},
)


def _alarm(clients: ClientFactory, p: Props) -> None:
    # CloudFormation's properties are PutMetricAlarm's members (AWS::CloudWatch::Alarm).
    clients("cloudwatch").put_metric_alarm(**{k: v for k, v in p.items() if k != "Tags"})


_ALARM_MEMBERS = frozenset(
    {
        "AlarmName",
        "AlarmDescription",
        "ActionsEnabled",
        "AlarmActions",
        "OKActions",
        "InsufficientDataActions",
        "MetricName",
        "Namespace",
        "Statistic",
        "ExtendedStatistic",
        "Dimensions",
        "Period",
        "Unit",
        "EvaluationPeriods",
        "DatapointsToAlarm",
        "Threshold",
        "ComparisonOperator",
        "TreatMissingData",
        "EvaluateLowSampleCountPercentile",
        "Metrics",
        "ThresholdMetricId",
    }
)
_ALARM = Applier(_alarm, _ALARM_MEMBERS, {"Tags": _TAGS})


def _model_package_group(clients: ClientFactory, p: Props) -> None:
    sagemaker, name = clients("sagemaker"), p["ModelPackageGroupName"]
    description = {"ModelPackageGroupDescription": p["ModelPackageGroupDescription"]}
    try:
        sagemaker.create_model_package_group(
            ModelPackageGroupName=name, **(description if "ModelPackageGroupDescription" in p else {})
        )
    except sagemaker.exceptions.ClientError as exc:
        if "already exists" not in str(exc).lower():
            raise


_MODEL_PACKAGE_GROUP = Applier(
    _model_package_group,
    frozenset({"ModelPackageGroupName", "ModelPackageGroupDescription"}),
    {"Tags": _TAGS, "ModelPackageGroupPolicy": _RESOURCE_POLICY},
)

APPLIERS: dict[str, Applier] = {
    "AWS::S3::Bucket": _BUCKET,
    "AWS::DynamoDB::Table": _TABLE,
    "AWS::SNS::Topic": _TOPIC,
    "AWS::SQS::Queue": _QUEUE,
    "AWS::Logs::LogGroup": _LOG_GROUP,
    "AWS::SageMaker::ModelPackageGroup": _MODEL_PACKAGE_GROUP,
    "AWS::CloudWatch::Alarm": _ALARM,
    "AWS::Events::Rule": _RULE,
}
_ORDER = list(APPLIERS.values())

"""The local twin of the CDK stack: what the dual loop needs, created in the local cloud.

Every name comes from ``shared.naming`` (as in ``infra/``), the state machine is the ASL
file with ``Names.asl_substitutions()`` applied (as CDK's ``definition_substitutions``
does), and the Lambdas are the real handler modules. Provisioning is idempotent: running
it again updates what changed and keeps data.
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
from botocore.exceptions import ClientError

from outer_orchestrator.handlers import drift_trigger
from shared.alarms import alarm_definitions
from shared.config import DualloopConfig
from shared.contracts import RetrainInput, event_target_input
from shared.local_cloud.iam import stack_template
from shared.local_cloud.iam import template as stack_iam
from shared.naming import Names

ROOT = Path(__file__).resolve().parent.parent
ASL_FILE = ROOT / "outer_orchestrator" / "statemachine" / "outer_loop.asl.json"
GLUE_DIR = ROOT / "outer_orchestrator" / "glue"
QUALITY_DIR = ROOT / "outer_orchestrator" / "quality"


def substituted_asl(names: Names) -> str:
    """The ASL exactly as deployed: every ``${Name}`` replaced, none left over."""
    text = ASL_FILE.read_text()
    for key, value in names.asl_substitutions().items():
        text = text.replace("${" + key + "}", value)
    if "${" in text:
        start = text.index("${")
        raise ValueError(f"unsubstituted placeholder in {ASL_FILE.name}: {text[start : start + 40]}")
    return text


def lambda_package() -> bytes:
    """The relay Lambdas' deployment package: the project's own packages, deterministic."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for package in ("shared", "outer_orchestrator"):
            for path in sorted((ROOT / package).rglob("*.py")):
                if "local_cloud" in path.parts or "__pycache__" in path.parts:
                    continue
                info = zipfile.ZipInfo(str(path.relative_to(ROOT)), date_time=(1980, 1, 1, 0, 0, 0))
                info.external_attr = 0o644 << 16
                archive.writestr(info, path.read_bytes())
    return buffer.getvalue()


@dataclass(frozen=True)
class Handler:
    function: str
    module: str


def handlers(names: Names) -> list[Handler]:
    return [
        Handler(names.pipeline_relay_function, "outer_orchestrator.handlers.pipeline_relay.handler"),
        Handler(names.approval_relay_function, "outer_orchestrator.handlers.approval_relay.handler"),
        Handler(names.store_token_function, "outer_orchestrator.handlers.store_token.handler"),
        Handler(names.pipeline_callback_function, "outer_orchestrator.handlers.pipeline_callback.handler"),
        Handler(names.drift_function, "outer_orchestrator.drift.job.handler"),
        Handler(drift_trigger.function_name(names), "outer_orchestrator.handlers.drift_trigger.handler"),
        Handler(names.lock_release_function, "outer_orchestrator.handlers.release_lock.handler"),
    ]


class LocalStack:
    """Creates (or updates) the project's resources in whatever AWS_ENDPOINT_URL names."""

    def __init__(
        self,
        cfg: DualloopConfig,
        session: boto3.Session | None = None,
        template: dict[str, Any] | None = None,
    ) -> None:
        self.cfg = cfg
        self.names = Names(cfg)
        self._session = session or boto3.Session(region_name=cfg.region)
        self._template = template

    @property
    def template(self) -> dict[str, Any]:
        """The synthesized CloudFormation template whose IAM the local cloud enforces."""
        if self._template is None:
            self._template = stack_template.load(self.cfg)
        return self._template

    def client(self, service: str) -> Any:
        return self._session.client(service)  # type: ignore[call-overload]

    def provision(self) -> None:
        self._roles()
        self._buckets()
        self._tables()
        self._topic()
        self._glue_jobs()
        self._functions()
        self._state_machine()
        self._rules()
        self._alarms()
        self._model_package_group()

    # ---- pieces -------------------------------------------------------------------------
    def _roles(self) -> None:
        """The roles and policies CDK synthesizes (not a copy): each workload runs as one."""
        stack_iam.create_roles(
            self.client("iam"), stack_iam.roles(self.template, self.cfg.account_id, self.cfg.region)
        )

    def function_role_arn(self, function: str) -> str:
        roles = stack_iam.function_roles(self.template, self.cfg.account_id, self.cfg.region)
        if function not in roles:
            raise ValueError(
                f"the synthesized stack has no Lambda function {function}: the local stack cannot give it a role"
            )
        return roles[function]

    def _buckets(self) -> None:
        s3 = self.client("s3")
        for bucket in self.names.buckets:
            try:
                s3.create_bucket(Bucket=bucket)
            except (s3.exceptions.BucketAlreadyOwnedByYou, s3.exceptions.BucketAlreadyExists):
                pass
        # New raw data reaches EventBridge, which can start a retrain (the new-data trigger).
        s3.put_bucket_notification_configuration(
            Bucket=self.names.raw_bucket, NotificationConfiguration={"EventBridgeConfiguration": {}}
        )

    def _tables(self) -> None:
        dynamodb = self.client("dynamodb")
        for table, key in (
            (self.names.lock_table, "lock_id"),
            (self.names.token_table, "model_package_arn"),
            (self.names.pipeline_token_table, "callback_key"),
        ):
            try:
                dynamodb.create_table(
                    TableName=table,
                    KeySchema=[{"AttributeName": key, "KeyType": "HASH"}],
                    AttributeDefinitions=[{"AttributeName": key, "AttributeType": "S"}],
                    BillingMode="PAY_PER_REQUEST",
                )
            except dynamodb.exceptions.ResourceInUseException:
                pass

    def _topic(self) -> None:
        sns, sqs = self.client("sns"), self.client("sqs")
        topic_arn = sns.create_topic(Name=self.names.topic)["TopicArn"]
        # Locally, notifications land in a queue the CLI reads (on AWS: e-mail subscriptions).
        queue_url = sqs.create_queue(QueueName=self.notifications_queue)["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        subscriptions = sns.list_subscriptions_by_topic(TopicArn=topic_arn)["Subscriptions"]
        if not any(s["Endpoint"] == queue_arn for s in subscriptions):
            sns.subscribe(
                TopicArn=topic_arn,
                Protocol="sqs",
                Endpoint=queue_arn,
                Attributes={"RawMessageDelivery": "true"},
            )

    @property
    def notifications_queue(self) -> str:
        return f"{self.names.topic}-local-inbox"

    def _upload(self, path: Path, prefix: str) -> str:
        body = path.read_bytes()
        key = f"{self.cfg.artifact_prefix}{prefix}/{hashlib.sha256(body).hexdigest()[:16]}/{path.name}"
        self.client("s3").put_object(Bucket=self.names.artifact_bucket, Key=key, Body=body)
        return f"s3://{self.names.artifact_bucket}/{key}"

    def _glue_jobs(self) -> None:
        """The Glue jobs as synthesized: their role, arguments and the S3 locations of their
        script and ruleset (CDK's asset bucket, which the Glue role may read), holding the
        project's files, as ``cdk deploy`` would publish them."""
        glue = self.client("glue")
        render = stack_iam.Renderer(self.template, self.cfg.account_id, self.cfg.region)
        local_files = {
            self.names.ingest_job: {"script": GLUE_DIR / "ingest.py"},
            self.names.data_quality_job: {
                "script": GLUE_DIR / "data_quality.py",
                # A ruleset configured as an s3:// URI is the user's object, read where it is.
                **(
                    {}
                    if self.cfg.ruleset.startswith("s3://")
                    else {"--ruleset_uri": QUALITY_DIR / self.cfg.ruleset}
                ),
            },
        }
        for resource in self.template["Resources"].values():
            if resource["Type"] != "AWS::Glue::Job":
                continue
            props = render(resource["Properties"])
            name = props["Name"]
            if name not in local_files:
                raise ValueError(f"the synthesized Glue job {name} has no script the local stack knows")
            files = local_files[name]
            absent = [p for p in files.values() if not p.is_file()]
            if absent:  # a configured ruleset that is neither a file nor packaged, in one sentence
                raise FileNotFoundError(  # shared.user_errors adds what to do
                    f"no {absent[0].name}: the config's ruleset {self.cfg.ruleset!r} is neither a file "
                    "(relative to the config file) nor a ruleset packaged with dualloop"
                )
            self._publish(props["Command"]["ScriptLocation"], files["script"])
            for argument, path in files.items():
                if argument.startswith("--"):
                    self._publish(props["DefaultArguments"][argument], path)
            spec = {
                "Role": props["Role"],
                "Command": props["Command"],
                "DefaultArguments": props.get("DefaultArguments", {}),
                "GlueVersion": props.get("GlueVersion", "5.0"),
                "ExecutionProperty": props.get("ExecutionProperty", {"MaxConcurrentRuns": 1}),
            }
            try:
                glue.create_job(Name=name, **spec)
            except glue.exceptions.AlreadyExistsException:
                glue.update_job(JobName=name, JobUpdate=spec)

    def _publish(self, uri: str, path: Path) -> None:
        """Put ``path`` at ``uri`` (creating CDK's asset bucket, as ``cdk bootstrap`` would)."""
        s3 = self.client("s3")
        bucket, _, key = uri.removeprefix("s3://").partition("/")
        try:
            s3.create_bucket(Bucket=bucket)
        except (s3.exceptions.BucketAlreadyOwnedByYou, s3.exceptions.BucketAlreadyExists):
            pass
        s3.put_object(Bucket=bucket, Key=key, Body=path.read_bytes())

    def _functions(self) -> None:
        lam = self.client("lambda")
        code = lambda_package()
        env = {
            "DUALLOOP_TOKEN_TABLE": self.names.token_table,
            "DUALLOOP_PIPELINE_TOKEN_TABLE": self.names.pipeline_token_table,
            "DUALLOOP_TOPIC_ARN": self.names.topic_arn,
            "DUALLOOP_PIPELINE_NAME": self.names.pipeline,
            "DUALLOOP_MODEL_PACKAGE_GROUP": self.names.model_package_group,
            "DUALLOOP_LOCK_TABLE": self.names.lock_table,
            "DUALLOOP_STATE_MACHINE_ARN": self.names.state_machine_arn,
            "POWERTOOLS_SERVICE_NAME": "dualloop",
            # The handlers rebuild the config from DUALLOOP_* (the drift check needs the names).
            "DUALLOOP_PROJECT": self.cfg.project,
            "DUALLOOP_STAGE": self.cfg.stage.value,
            "DUALLOOP_REGION": self.cfg.region,
            "DUALLOOP_ACCOUNT_ID": self.cfg.account_id,
        }
        for handler in handlers(self.names):
            try:
                lam.create_function(
                    FunctionName=handler.function,
                    Runtime="python3.11",
                    Role=self.function_role_arn(handler.function),
                    Handler=handler.module,
                    Code={"ZipFile": code},
                    Timeout=60,
                    Environment={"Variables": env},
                )
            except lam.exceptions.ResourceConflictException:
                lam.update_function_code(FunctionName=handler.function, ZipFile=code)
                lam.update_function_configuration(
                    FunctionName=handler.function,
                    Environment={"Variables": env},
                    Role=self.function_role_arn(handler.function),
                )

    def _state_machine(self) -> None:
        sfn = self.client("stepfunctions")
        definition = substituted_asl(self.names)
        try:
            sfn.create_state_machine(
                name=self.names.state_machine,
                definition=definition,
                roleArn=self.names.state_machine_role_arn,
            )
        except sfn.exceptions.StateMachineAlreadyExists:
            sfn.update_state_machine(stateMachineArn=self.names.state_machine_arn, definition=definition)

    def _rules(self) -> None:
        events = self.client("events")
        n = self.names
        pattern_rules = {
            n.pipeline_status_rule: (
                {
                    "source": ["aws.sagemaker"],
                    "detail-type": ["SageMaker Model Building Pipeline Execution Status Change"],
                    "detail": {"pipelineArn": [n.pipeline_arn]},
                },
                n.function_arn(n.pipeline_relay_function),
            ),
            n.model_package_state_rule: (
                {
                    "source": ["aws.sagemaker"],
                    "detail-type": ["SageMaker Model Package State Change"],
                    "detail": {"ModelPackageGroupName": [n.model_package_group]},
                },
                n.function_arn(n.approval_relay_function),
            ),
            # A retrain that ended without running its ReleaseLock* states gives its lock back.
            n.lock_release_rule: (
                {
                    "source": ["aws.states"],
                    "detail-type": ["Step Functions Execution Status Change"],
                    "detail": {
                        "stateMachineArn": [n.state_machine_arn],
                        "status": ["ABORTED", "TIMED_OUT", "FAILED"],
                    },
                },
                n.function_arn(n.lock_release_function),
            ),
        }
        for rule, (pattern, target) in pattern_rules.items():
            events.put_rule(Name=rule, EventPattern=json.dumps(pattern), State="ENABLED")
            events.put_targets(Rule=rule, Targets=[{"Id": "relay", "Arn": target}])
        self._retrain_triggers(events)

    def _retrain_triggers(self, events: Any) -> None:
        """Drift alarm, new raw data and (disabled) schedule all start the same state machine."""
        n, cfg = self.names, self.cfg
        # The drift alarm goes through a function that reads the drift report, so the retrain's
        # input names the drifted features (an InputTransformer sees the event only).
        events.put_rule(
            Name=n.drift_alarm_rule,
            EventPattern=json.dumps(
                {
                    "source": ["aws.cloudwatch"],
                    "detail-type": ["CloudWatch Alarm State Change"],
                    "detail": {"alarmName": [n.drift_alarm], "state": {"value": ["ALARM"]}},
                }
            ),
            State="ENABLED",
        )
        events.put_targets(
            Rule=n.drift_alarm_rule,
            Targets=[{"Id": "retrain", "Arn": n.function_arn(drift_trigger.function_name(n))}],
        )
        triggers = {
            n.new_data_rule: (
                {
                    "source": ["aws.s3"],
                    "detail-type": ["Object Created"],
                    "detail": {
                        "bucket": {"name": [n.raw_bucket]},
                        "object": {"key": [{"prefix": cfg.raw_prefix}]},
                    },
                },
                event_target_input(cfg, "new-data", {"key": "$.detail.object.key"}),
            ),
        }
        for rule, (pattern, transformer) in triggers.items():
            events.put_rule(Name=rule, EventPattern=json.dumps(pattern), State="ENABLED")
            events.put_targets(
                Rule=rule,
                Targets=[
                    {
                        "Id": "retrain",
                        "Arn": n.state_machine_arn,
                        "RoleArn": n.events_role_arn,
                        "InputTransformer": transformer,
                    }
                ],
            )
        # The drift check runs on its schedule; the event's time ends its window.
        events.put_rule(Name=n.drift_schedule_rule, ScheduleExpression=cfg.drift.schedule, State="ENABLED")
        events.put_targets(
            Rule=n.drift_schedule_rule, Targets=[{"Id": "drift", "Arn": n.function_arn(n.drift_function)}]
        )
        # A scheduled retrain exists but starts disabled: teams opt in (`aws events enable-rule`).
        events.put_rule(Name=n.schedule_rule, ScheduleExpression="rate(7 days)", State="DISABLED")
        events.put_targets(
            Rule=n.schedule_rule,
            Targets=[
                {
                    "Id": "retrain",
                    "Arn": n.state_machine_arn,
                    "RoleArn": n.events_role_arn,
                    "Input": RetrainInput.for_config(cfg, trigger="schedule").model_dump_json(),
                }
            ],
        )

    def _alarms(self) -> None:
        """The endpoint's rollback alarms and the drift alarm (CDK defines the same)."""
        for alarm in alarm_definitions(self.cfg):
            self.client("cloudwatch").put_metric_alarm(**alarm)

    def _model_package_group(self) -> None:
        sagemaker = self.client("sagemaker")
        try:
            sagemaker.create_model_package_group(
                ModelPackageGroupName=self.names.model_package_group,
                ModelPackageGroupDescription=f"{self.cfg.project} models ({self.cfg.stage.value})",
            )
        except ClientError as exc:
            if "already exists" not in str(exc).lower():
                raise

"""The local twin of the CDK stack: what the dual loop needs, created in the local cloud.

Every name comes from ``shared.naming`` (as in ``infra/``), the state machine is the expanded
ASL (``statemachine/definition.py``) with ``Names.asl_substitutions()`` applied (as CDK's ``definition_substitutions``
does), and the Lambdas are the real handler modules. Provisioning is idempotent: running
it again updates what changed and keeps data.
"""

from __future__ import annotations

import hashlib
import io
import zipfile
from pathlib import Path
from typing import Any

import boto3

from outer_orchestrator.statemachine.definition import outer_loop_definition
from shared.config import DualloopConfig
from shared.local_cloud import stack_resources
from shared.local_cloud.iam import stack_template
from shared.local_cloud.iam import template as stack_iam
from shared.naming import Names

ROOT = Path(__file__).resolve().parent.parent
GLUE_DIR = ROOT / "outer_orchestrator" / "glue"
QUALITY_DIR = ROOT / "outer_orchestrator" / "quality"


def substituted_asl(names: Names) -> str:
    """The ASL exactly as deployed: every ``${Name}`` replaced, none left over."""
    text = outer_loop_definition()
    for key, value in names.asl_substitutions().items():
        text = text.replace("${" + key + "}", value)
    if "${" in text:
        start = text.index("${")
        raise ValueError(f"unsubstituted placeholder in the outer loop's ASL: {text[start : start + 40]}")
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


# The AWS::Lambda::Function properties the local cloud applies: CreateFunction's members.
# Left out: Code (packaged locally), Layers (the venv has Powertools), KmsKeyArn (SSE-KMS is
# not emulated), LoggingConfig/TracingConfig (no CloudWatch Logs or X-Ray locally), Tags.
_FUNCTION_MEMBERS = frozenset(
    {
        "FunctionName",
        "Description",
        "Handler",
        "Runtime",
        "Role",
        "Timeout",
        "MemorySize",
        "Environment",
        "DeadLetterConfig",
        "Architectures",
    }
)


class LocalStack:
    """Creates (or updates) the project's resources in whatever AWS_ENDPOINT_URL names."""

    def __init__(
        self,
        cfg: DualloopConfig,
        session: boto3.Session | None = None,
        template: dict[str, Any] | None = None,
        template_source: stack_template.TemplateSource | None = None,
    ) -> None:
        """``template``: the stack's synthesized template; by default the one
        ``template_source`` (default: the process's registered source) makes, cached."""
        self.cfg = cfg
        self.names = Names(cfg)
        self._session = session or boto3.Session(region_name=cfg.region)
        self._template = template
        self._template_source = template_source
        self._clients: dict[str, Any] = {}

    @property
    def template(self) -> dict[str, Any]:
        """The synthesized CloudFormation template the local cloud is provisioned from."""
        if self._template is None:
            self._template = stack_template.load(self.cfg, self._template_source)
        return self._template

    def client(self, service: str) -> Any:
        """One client per service (creating one costs ~80 ms; provisioning asks ~40 times)."""
        if service not in self._clients:
            self._clients[service] = self._session.client(service)  # type: ignore[call-overload]
        return self._clients[service]

    def provision(self) -> None:
        self._roles()
        self._stack_resources()
        self._notifications_inbox()
        self._glue_jobs()
        self._functions()
        self._state_machine()

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

    def _stack_resources(self) -> None:
        """Buckets, tables, topic, queues, log groups, rules, alarms, the model package group:
        the template's own resources (``shared.local_cloud.stack_resources``), not a copy."""
        stack_resources.apply(self.template, self.client, self.cfg.account_id, self.cfg.region)

    def _notifications_inbox(self) -> None:
        """Locally, notifications land in a queue the CLI reads (on AWS: e-mail subscriptions)."""
        sns, sqs = self.client("sns"), self.client("sqs")
        queue_url = sqs.create_queue(QueueName=self.notifications_queue)["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        subscriptions = sns.list_subscriptions_by_topic(TopicArn=self.names.topic_arn)["Subscriptions"]
        if not any(s["Endpoint"] == queue_arn for s in subscriptions):
            sns.subscribe(
                TopicArn=self.names.topic_arn,
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
        """Each synthesized Lambda function as CDK declares it (handler, role, environment,
        timeout, memory, dead-letter queue), with the project's code packaged locally in
        place of CDK's asset (the same packages; Powertools and pydantic come from the venv
        rather than the layer)."""
        lam = self.client("lambda")
        code = lambda_package()
        render = stack_iam.Renderer(self.template, self.cfg.account_id, self.cfg.region)
        for _, props in stack_resources.resources_of(self.template, "AWS::Lambda::Function"):
            spec = render({k: v for k, v in props.items() if k in _FUNCTION_MEMBERS})
            name = spec.pop("FunctionName")
            try:
                lam.create_function(FunctionName=name, Code={"ZipFile": code}, **spec)
            except lam.exceptions.ResourceConflictException:
                # Architectures is UpdateFunctionCode's member, not UpdateFunctionConfiguration's.
                architectures = spec.pop("Architectures", None)
                lam.update_function_code(
                    FunctionName=name,
                    ZipFile=code,
                    **({"Architectures": architectures} if architectures else {}),
                )
                lam.update_function_configuration(FunctionName=name, **spec)

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

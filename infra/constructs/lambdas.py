"""How every project function runs on Lambda, and how EventBridge delivers to it and to the
state machine.

One pinned runtime and architecture with AWS's Powertools layer, X-Ray, the environment
encrypted with the project key; each function with its own log group (encrypted, the stage's
retention), its own role and one policy: the calls its code makes, and writing to that log
group. The relays, the drift check, the drift trigger and the lock release are built here.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from aws_cdk import Duration
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_ssm as ssm
from constructs import Construct

from infra import sources
from infra.constructs.statements import role_with_policy
from infra.context import StackContext
from infra.nag import acknowledge, acknowledge_wildcards

RUNTIME = lambda_.Runtime.PYTHON_3_12
ARCHITECTURE = lambda_.Architecture.X86_64
# The Powertools release the handlers are tested with, resolved at deploy time from AWS's
# public SSM parameters (/aws/service/powertools/python/<arch>/<runtime>/<version>), so
# synth stays offline. The layer carries pydantic (Powertools' parser extra).
POWERTOOLS_VERSION = "3.37.0"
POWERTOOLS_PARAMETER = (
    f"/aws/service/powertools/python/{ARCHITECTURE.name}/{RUNTIME.name}/{POWERTOOLS_VERSION}"
)
# shared.contracts -> shared.config imports pydantic-settings and PyYAML, which the runtime
# lacks and the layer may lack: vendored as pure Python (pydantic itself is compiled: layer).
VENDORED = ("pydantic-settings", "python-dotenv", "PyYAML")
LAMBDA_PACKAGES = ("outer_orchestrator/handlers", "shared")
# Workstation-only code (moto, the CLI, numpy demo data) never ships to Lambda.
LAMBDA_EXCLUDES = ("shared/local_cloud", "shared/cli.py", "shared/demo_data.py")
EVENT_RETRY_ATTEMPTS = 8  # EventBridge retries with backoff; the handlers are idempotent
EVENT_MAX_AGE = Duration.hours(2)
MEMORY_MB = 256
TIMEOUT = Duration.seconds(30)


@dataclass(frozen=True)
class Handler:
    """A function with the role and the policy made for it alone."""

    function: lambda_.Function
    role: iam.Role
    policy: iam.Policy


def python_function(
    scope: Construct,
    ctx: StackContext,
    prefix: str,
    *,
    function_name: str,
    role_name: str,
    role_description: str,
    statements: Sequence[iam.PolicyStatement],
    handler: str,
    code: lambda_.Code,
    description: str,
    environment: Mapping[str, str],
    wildcards: Mapping[str, str] | None = None,
    powertools_service: bool = True,
    memory_size: int = MEMORY_MB,
    timeout: Duration = TIMEOUT,
    **options: Any,
) -> Handler:
    """The function ``function_name`` with its own log group, role and policy (``statements`` and
    writing to that log group), under the construct ids ``<prefix>Logs``, ``<prefix>Role``,
    ``<prefix>Policy`` and ``<prefix>`` (``Function`` where ``prefix`` is empty).

    ``wildcards``: the wildcard resources of ``statements`` with the reason for each (cdk-nag).
    ``powertools_service`` adds ``POWERTOOLS_SERVICE_NAME`` (the function's name) to the
    environment; ``options`` (retries, dead-letter queue, reserved concurrency, ...) go to Lambda.
    The Powertools layer is its only layer (the drift function's size budget counts on it).
    """
    log_group = logs.LogGroup(
        scope,
        f"{prefix}Logs",
        log_group_name=f"/aws/lambda/{function_name}",
        encryption_key=ctx.data.key,
        retention=ctx.log_retention,
        removal_policy=ctx.removal,
    )
    role, policy = role_with_policy(
        scope,
        prefix,
        role_name=role_name,
        assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
        description=role_description,
        statements=[*statements, write_own_logs(log_group)],
    )
    acknowledge_wildcards(policy, wildcards or {})
    function = lambda_.Function(
        scope,
        prefix or "Function",
        function_name=function_name,
        description=description,
        runtime=RUNTIME,
        architecture=ARCHITECTURE,
        handler=handler,
        code=code,
        layers=[powertools_layer(scope)],
        role=role,
        memory_size=memory_size,
        timeout=timeout,
        tracing=lambda_.Tracing.ACTIVE,
        environment={
            **environment,
            **({"POWERTOOLS_SERVICE_NAME": function_name} if powertools_service else {}),
        },
        environment_encryption=ctx.data.key,
        log_group=log_group,
        **options,
    )
    function.node.add_dependency(policy)
    acknowledge(
        function,
        "AwsSolutions-L1",
        f"{RUNTIME.name} is pinned deliberately: it is the newest runtime the AWS Powertools layer and "
        "the project's tested Python (3.11/3.12) share.",
    )
    acknowledge(
        role,
        "AwsSolutions-IAM5[Resource::*]",
        "X-Ray's PutTraceSegments/PutTelemetryRecords (added by Tracing.ACTIVE) have no resource-level "
        "permissions.",
    )
    return Handler(function=function, role=role, policy=policy)


def handler_module(module: str) -> str:
    """The Lambda handler of ``outer_orchestrator/handlers/<module>.py``."""
    return f"outer_orchestrator.handlers.{module}.handler"


def code_asset(
    scope: Construct,
    ctx: StackContext,
    name: str,
    packages: Iterable[str],
    *,
    exclude: Iterable[str],
    required: Iterable[Path],
) -> lambda_.Code:
    """``packages`` with the pure-Python ``VENDORED`` distributions, once ``required`` files are
    known to be in it (a missing one: ``sources.missing_source``)."""
    for path in required:
        if not path.is_file():
            sources.missing_source(scope, path, strict=ctx.strict)
    code_dir = sources.stage_packages(name, packages, exclude=exclude)
    for distribution in VENDORED:
        sources.vendor_pure_python(code_dir, distribution)
    return lambda_.Code.from_asset(str(code_dir))


def handler_code(scope: Construct, ctx: StackContext, *modules: str) -> lambda_.Code:
    """The handlers' code asset (``LAMBDA_PACKAGES``), once ``modules`` are known to be in it."""
    return code_asset(
        scope,
        ctx,
        "lambda-code",
        LAMBDA_PACKAGES,
        exclude=LAMBDA_EXCLUDES,
        required=[sources.HANDLERS_DIR / f"{module}.py" for module in modules],
    )


def powertools_layer(scope: Construct) -> lambda_.ILayerVersion:
    """The AWS-published Powertools layer (with pydantic), pinned to ``POWERTOOLS_VERSION``; one
    reference per ``scope``."""
    existing = scope.node.try_find_child("Powertools")
    if existing is not None:
        return cast(lambda_.ILayerVersion, existing)
    # value_for_string_parameter reuses one template parameter per name across the stack.
    arn = ssm.StringParameter.value_for_string_parameter(scope, POWERTOOLS_PARAMETER)
    return lambda_.LayerVersion.from_layer_version_arn(scope, "Powertools", arn)


def write_own_logs(*log_groups: logs.ILogGroup) -> iam.PolicyStatement:
    """Lambda writes to the log groups created for its functions, nowhere else."""
    return iam.PolicyStatement(
        sid="WriteOwnLogs",
        actions=["logs:CreateLogStream", "logs:PutLogEvents"],
        resources=[group.log_group_arn for group in log_groups],
    )


def event_rule(
    scope: Construct,
    construct_id: str,
    *,
    rule_name: str,
    description: str,
    source: str,
    detail_type: str,
    target: events.IRuleTarget,
    **pattern: Any,
) -> events.Rule:
    """A rule for one event type of one source; ``pattern``: the rest of its ``EventPattern``."""
    return events.Rule(
        scope,
        construct_id,
        rule_name=rule_name,
        description=description,
        event_pattern=events.EventPattern(source=[source], detail_type=[detail_type], **pattern),
        targets=[target],
    )


def lambda_target(function: lambda_.IFunction, dead_letters: sqs.IQueue) -> targets.LambdaFunction:
    """An EventBridge rule's delivery to ``function``: retried with backoff, then dead-lettered."""
    return targets.LambdaFunction(
        function,
        retry_attempts=EVENT_RETRY_ATTEMPTS,
        max_event_age=EVENT_MAX_AGE,
        dead_letter_queue=dead_letters,
    )

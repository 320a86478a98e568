"""Fix: the local cloud enforces IAM for workloads, as AWS does, with the synthesized policies.

moto 5.2.5 has an access-control mode (``INITIAL_NO_AUTH_ACTION_COUNT``,
``ActionAuthenticatorMixin._authenticate_and_authorize_action``) but its evaluator
(``moto/iam/access_control.py``) passes ``*`` as the resource for every service but S3 and
ignores conditions in identity policies, and it confines every caller, the user included.
Here the same hook decides instead:

- credentials of a role session the local cloud issued to a workload (``iam.sessions``;
  or any moto STS session) are confined to that role's policies, evaluated by
  ``iam.policy`` on the action, resource ARNs and condition keys of ``iam.requests``;
  a denial answers as the service does (``AccessDeniedException`` for JSON APIs, S3's
  ``AccessDenied``, SNS's ``AuthorizationError``), with AWS's sentence;
- a request the evaluator cannot decide fails with ``LocalCloudCannotAuthorize`` and why:
  never an allow AWS might not give;
- every other credential (``LOCAL_ACCESS_KEY``: the user, the CLI, tests) is the
  account's administrator, so users are never blocked.

Step Functions tasks call AWS through ``asl/utils/boto_client.py``, which signs with a fixed
``ak``/``sk`` pair; here it signs with the state machine role's session (or the task's
``Credentials.RoleArn``), assumed as ``states.amazonaws.com``. Hosting and other patches ask
``authorize_implicit`` for the permissions a service checks on the caller's behalf
(UpdateEndpoint's alarms: ``cloudwatch:DescribeAlarms``).
"""

from __future__ import annotations

import json
import threading
from typing import Any

import boto3
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.session import Session as BotocoreSession
from moto.core.authorization import ActionAuthenticatorMixin
from moto.core.exceptions import JsonRESTError, _RESTError
from moto.s3.exceptions import S3AccessDeniedError
from moto.s3.models import s3_backends
from moto.stepfunctions.parser.asl.component.common.timeouts.timeout import TimeoutSeconds
from moto.stepfunctions.parser.asl.utils import boto_client as sfn_boto_client
from moto.sts.models import sts_backends

from shared.local_cloud.iam import policy, requests, resource_policy, sessions
from shared.local_cloud.patches import Patch, original

_SFN_CLIENT_MODULES = (
    "moto.stepfunctions.parser.asl.component.state.exec.state_map.result_writer.resource_eval.resource_eval_s3",
    "moto.stepfunctions.parser.asl.component.state.exec.state_map.item_reader.eval.resource_eval_s3",
    "moto.stepfunctions.parser.asl.component.state.exec.state_task.lambda_eval_utils",
    *(
        f"moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_{name}"
        for name in (
            "unsupported",
            "glue",
            "events",
            "ecs",
            "sqs",
            "sfn",
            "dynamodb",
            "batch",
            "sns",
            "aws_sdk",
        )
    ),
)
_JSON_SIGNERS = {"sagemaker", "states", "dynamodb", "glue", "logs", "events", "kms", "sqs", "lambda", "ecr"}
_enabled = False
_current = threading.local()


PATCH = Patch(__name__)


def enable(on: bool = True) -> None:
    """Turn enforcement on (the local cloud does when it starts) or off."""
    global _enabled
    _enabled = on


def enabled() -> bool:
    return _enabled


class LocalCloudCannotAuthorize(JsonRESTError):
    code = 501

    def __init__(self, message: str) -> None:
        super().__init__("LocalCloudCannotAuthorize", message)


class _AccessDeniedXml(_RESTError):
    code = 403


def denial_message(session: sessions.RoleSession, request: policy.Request, explicit: bool) -> str:
    """AWS's sentence (e.g. "User: arn:aws:sts::…:assumed-role/R/S is not authorized to perform:
    sagemaker:DescribeEndpoint on resource: arn:… because no identity-based policy allows …")."""
    resource = (request.resources or ("*",))[0]
    why = (
        "with an explicit deny in an identity-based policy"
        if explicit
        else f"because no identity-based policy allows the {request.action} action"
    )
    return (
        f"User: {session.principal_arn} is not authorized to perform: {request.action} "
        f"on resource: {resource} {why}"
    )


def _denied(signing_name: str, message: str) -> Exception:
    if signing_name == "s3":
        return S3AccessDeniedError()
    if signing_name == "sns":
        return _AccessDeniedXml("AuthorizationError", message)
    if signing_name in _JSON_SIGNERS:
        error = JsonRESTError("AccessDeniedException", message)
        error.code = 400
        return error
    return _AccessDeniedXml("AccessDenied", message)


class AccessDenied(PermissionError):
    """A service acting for a workload was refused (the workload's step or job fails with it)."""


def _credential(headers: Any, querystring: Any) -> tuple[str, str, str] | None:
    """(access key id, region, signing name) from SigV4's Authorization header or query."""
    authorization = headers.get("Authorization") or ""
    scope = authorization.partition("Credential=")[2].partition(",")[0]
    if not scope:
        scope = (querystring.get("X-Amz-Credential") or [""])[0]
    parts = scope.split("/")
    if len(parts) < 4:
        return None
    return parts[0], parts[2], parts[3]


def _session(access_key_id: str, headers: Any) -> sessions.RoleSession | None:
    session = sessions.session_for_key(access_key_id)
    if session is None:
        # A session the user assumed through STS themselves is confined too.
        for accounts in list(sts_backends.values()):
            for backend in list(accounts.values()):
                for assumed in list(backend.assumed_roles):
                    if assumed.access_key_id == access_key_id:
                        session = sessions.RoleSession(
                            role_arn=assumed.role_arn,
                            session_name=assumed.session_name,
                            access_key_id=assumed.access_key_id,
                            secret_access_key=assumed.secret_access_key,
                            session_token=assumed.session_token,
                        )
        if session is None:
            return None
    if headers.get("X-Amz-Security-Token") != session.session_token:
        error = _AccessDeniedXml(
            "InvalidClientTokenId", "The security token included in the request is invalid."
        )
        raise error
    return session


def _params(response: Any, signing_name: str) -> dict[str, Any]:
    """The request's members: moto's parse by the service model where it has one, else the
    JSON body (JSON protocols), else the query string."""
    parsed = getattr(response, "params", None)
    if isinstance(parsed, dict) and parsed:
        return parsed
    if signing_name in _JSON_SIGNERS and signing_name != "lambda":
        try:
            body = json.loads(response.raw_body or b"{}")
        except (ValueError, TypeError):
            body = None
        if isinstance(body, dict):
            return body
    return dict(response.querystring or {})


@PATCH.replaces(ActionAuthenticatorMixin, "_authenticate_and_authorize_action", "f8cfc0296ca017fa")
def _authenticate_and_authorize_action(self: Any, iam_request_cls: type, resource: str = "*") -> None:
    _current.session = None
    if not _enabled:
        original(ActionAuthenticatorMixin, "_authenticate_and_authorize_action")(
            self, iam_request_cls, resource
        )
        return
    credential = _credential(self.headers, self.querystring)
    if credential is None:
        return  # unsigned: the user's own tooling (moto's API, presigned-less calls)
    access_key_id, region, signing_name = credential
    session = _session(access_key_id, self.headers)
    if session is None:
        return  # the user's credentials: the account's administrator
    _current.session = session
    _current.signing_name = signing_name
    is_s3 = signing_name == "s3"
    operation = (self.data.get("Action") if is_s3 else None) or self._get_action()
    request = requests.describe(
        signing_name,
        operation,
        _params(self, signing_name),
        region,
        session.account_id,
        path=self.path,
        s3_resource=resource if is_s3 else None,
    )
    _decide(signing_name, session, request)


def _decision(session: sessions.RoleSession, request: policy.Request) -> str | None:
    """None when allowed; AWS's denial sentence otherwise."""
    if request.action == "sts:GetCallerIdentity":
        return None  # always allowed, even under an explicit deny (STS docs)
    try:
        decision = policy.evaluate([policy.Policy.parse(d) for d in sessions.role_policies(session)], request)
    except policy.CannotEvaluate as exc:
        raise LocalCloudCannotAuthorize(f"{session.principal_arn} calling {request.action}: {exc}") from None
    if decision is policy.Decision.ALLOW:
        return _cross_account_s3(session, request)
    return denial_message(session, request, decision is policy.Decision.EXPLICIT_DENY)


def _cross_account_s3(session: sessions.RoleSession, request: policy.Request) -> str | None:
    """A bucket of another account also needs its bucket policy to allow (``iam.resource_policy``)."""
    if not request.action.startswith("s3:"):
        return None
    for resource in request.resources or ():
        bucket = resource.removeprefix("arn:aws:s3:::").split("/", 1)[0]
        owner = s3_backends.bucket_accounts.get(bucket)
        if not resource.startswith("arn:aws:s3:::") or owner is None or owner[1] == session.account_id:
            continue
        partition, account = owner
        document = s3_backends[account][partition].buckets[bucket].policy
        try:
            decision = resource_policy.evaluate_for(
                document,
                session.role_arn,
                session.account_id,
                policy.Request(request.action, (resource,), request.context),
            )
        except policy.CannotEvaluate as exc:
            raise LocalCloudCannotAuthorize(
                f"{session.principal_arn} calling {request.action}: {exc}"
            ) from None
        if decision is not policy.Decision.ALLOW:
            return (
                f"User: {session.principal_arn} is not authorized to perform: {request.action} on resource: "
                f"{resource} because no resource-based policy allows the {request.action} action"
            )
    return None


def _decide(signing_name: str, session: sessions.RoleSession, request: policy.Request) -> None:
    message = _decision(session, request)
    if message is not None:
        raise _denied(signing_name, message)


def authorize_implicit(
    action: str, resources: tuple[str, ...], context: dict[str, list[str]] | None = None
) -> None:
    """Check a permission a service checks on its caller's behalf, for the request in this
    thread (nothing to check for the user's own, administrator, credentials)."""
    session: sessions.RoleSession | None = getattr(_current, "session", None)
    if not _enabled or session is None:
        return
    # The error comes back from the API called (UpdateEndpoint: SageMaker's shape).
    signing_name = getattr(_current, "signing_name", None) or action.split(":", maxsplit=1)[0]
    _decide(signing_name, session, policy.Request(action, resources, context or {}))


def authorize_as(
    session: sessions.RoleSession | None,
    action: str,
    resources: tuple[str, ...],
    context: dict[str, list[str]] | None = None,
) -> None:
    """Check what a service does as ``session`` without an API call here (a pipeline
    starting its jobs); raises ``AccessDenied`` with AWS's sentence."""
    if not _enabled or session is None:
        return
    message = _decision(session, policy.Request(action, resources, context or {}))
    if message is not None:
        raise AccessDenied(message)


@PATCH.replaces(sfn_boto_client, "boto_client_for", "1f44dc2ac8aa2179")
def _boto_client_for(region: str, service: str, state_credentials: Any = None) -> Any:
    """moto's ``boto_client_for``, signing as the state machine's role (AssumeRole as
    ``states.amazonaws.com``) instead of a fixed ``ak``/``sk``."""
    from moto.core.models import botocore_stubber
    from moto.settings import moto_server_port

    role_arn = getattr(state_credentials, "role_arn", None)
    if not _enabled or not role_arn:
        return original(sfn_boto_client, "boto_client_for")(region, service, state_credentials)
    session = sessions.assume(str(role_arn), "states.amazonaws.com", region)
    kwargs: dict[str, Any] = {}
    if not botocore_stubber.enabled:
        kwargs["endpoint_url"] = f"http://localhost:{moto_server_port()}"
    return boto3.client(
        service_name=service,
        region_name=region,
        config=Config(
            parameter_validation=False,
            retries={"max_attempts": 0, "total_max_attempts": 1},
            connect_timeout=TimeoutSeconds.DEFAULT_TIMEOUT_SECONDS,
            read_timeout=TimeoutSeconds.DEFAULT_TIMEOUT_SECONDS,
        ),
        **session.client_kwargs(),
        **kwargs,
    )


# Not moto, but the same process: botocore caches the first credentials it resolves.
@PATCH.replaces(BotocoreSession, "get_credentials", "29c2fb6b1d233216")
def _get_credentials(self: BotocoreSession) -> Any:
    """botocore's, except in a workload's thread (``sessions.acting_as``): its role's session.
    A Lambda handler or Glue script shares this process with the CLI and tests, and
    ``boto3.client(...)`` would otherwise sign with the default session's cached keys."""
    session = sessions.current()
    if session is not None:
        return Credentials(session.access_key_id, session.secret_access_key, session.session_token)
    return original(BotocoreSession, "get_credentials")(self)


def apply() -> None:
    import importlib

    for name in _SFN_CLIENT_MODULES:
        module = importlib.import_module(name)
        if getattr(module, "boto_client_for", None) is original(sfn_boto_client, "boto_client_for"):
            module.boto_client_for = _boto_client_for

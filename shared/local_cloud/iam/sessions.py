"""Temporary credentials of an execution role, for the service that runs as it.

On AWS, Lambda, Step Functions, Glue and SageMaker call STS AssumeRole on the role a
function, state machine, job or pipeline names, as their service principal, and the
workload's calls carry those credentials. Here the same happens inside moto's STS (so
``GetCallerIdentity`` answers the assumed role), after checking the role's trust policy
admits the service, as STS does. A request signed with such credentials is then confined
to the role's policies (``patches/iam_enforcement``); any other credentials on the local
cloud are the user's, an administrator.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from moto.iam.models import iam_backends
from moto.sts.models import sts_backends

from shared.local_cloud.iam.policy import matches

_lock = threading.Lock()
_by_role: dict[tuple[str, str], RoleSession] = {}
_by_key: dict[str, RoleSession] = {}
_acting = threading.local()
DURATION_SECONDS = 3600


class RoleNotAssumable(Exception):
    """The service may not assume the role (it does not exist, or its trust policy says no)."""


@dataclass(frozen=True)
class RoleSession:
    role_arn: str
    session_name: str
    access_key_id: str
    secret_access_key: str
    session_token: str

    @property
    def role_name(self) -> str:
        return self.role_arn.rsplit("/", 1)[-1]

    @property
    def account_id(self) -> str:
        return self.role_arn.split(":")[4]

    @property
    def principal_arn(self) -> str:
        return f"arn:aws:sts::{self.account_id}:assumed-role/{self.role_name}/{self.session_name}"

    def env(self) -> dict[str, str]:
        """What a workload's boto3 reads from its environment."""
        return {
            "AWS_ACCESS_KEY_ID": self.access_key_id,
            "AWS_SECRET_ACCESS_KEY": self.secret_access_key,
            "AWS_SESSION_TOKEN": self.session_token,
        }

    def client_kwargs(self) -> dict[str, str]:
        return {
            "aws_access_key_id": self.access_key_id,
            "aws_secret_access_key": self.secret_access_key,
            "aws_session_token": self.session_token,
        }


def _trusts(role: Any, service_principal: str) -> bool:
    document = json.loads(role.assume_role_policy_document)
    statements = document.get("Statement") or []
    for statement in statements if isinstance(statements, list) else [statements]:
        if statement.get("Effect") != "Allow":
            continue
        actions = statement.get("Action") or []
        if not any(
            matches(a, "sts:AssumeRole", ignore_case=True)
            for a in ([actions] if isinstance(actions, str) else actions)
        ):
            continue
        services = (statement.get("Principal") or {}).get("Service") or []
        if service_principal in ([services] if isinstance(services, str) else services):
            return True
    return False


def assume(role_arn: str, service_principal: str, region: str) -> RoleSession:
    """Credentials of ``role_arn`` as ``service_principal`` (e.g. ``lambda.amazonaws.com``)
    assumes it; one session per role and service, reused as the services cache theirs."""
    with _lock:
        cached = _by_role.get((role_arn, service_principal))
        if cached is not None:
            return cached
        account = role_arn.split(":")[4] if role_arn.count(":") >= 5 else ""
        try:
            role = iam_backends[account]["aws"].get_role_by_arn(role_arn)
        except Exception as exc:
            raise RoleNotAssumable(f"the role {role_arn} does not exist on the local cloud") from exc
        if not _trusts(role, service_principal):
            raise RoleNotAssumable(
                f"the trust policy of {role_arn} does not allow {service_principal} to assume it"
            )
        session_name = service_principal.split(".", maxsplit=1)[0]
        assumed = sts_backends[account]["aws"].assume_role(
            region_name=region,
            role_session_name=session_name,
            role_arn=role_arn,
            policy="",
            duration=DURATION_SECONDS,
            external_id="",
        )
        session = RoleSession(
            role_arn=role_arn,
            session_name=session_name,
            access_key_id=assumed.access_key_id,
            secret_access_key=assumed.secret_access_key,
            session_token=assumed.session_token,
        )
        _by_role[(role_arn, service_principal)] = session
        _by_key[session.access_key_id] = session
        return session


def session_for_key(access_key_id: str) -> RoleSession | None:
    return _by_key.get(access_key_id)


def role_policies(session: RoleSession) -> list[str]:
    """The role's policy documents now: inline and attached managed (default version)."""
    backend = iam_backends[session.account_id]["aws"]
    role = backend.get_role(session.role_name)
    documents = [str(doc) for doc in role.policies.values()]
    for policy in role.managed_policies.values():
        documents.extend(str(v.document) for v in policy.versions if v.is_default)
    return documents


def reset() -> None:
    """Forget every session (moto's STS forgets them when the local cloud resets)."""
    with _lock:
        _by_role.clear()
        _by_key.clear()


@contextmanager
def acting_as(session: RoleSession | None) -> Iterator[None]:
    """Run this thread's code as ``session``: its environment carries the role's credentials
    and every boto3 client it creates without explicit keys signs with them (a workload here
    shares the process, so botocore's cached default credentials must not apply to it)."""
    if session is None:
        yield
        return
    from shared.local_cloud.patches.lambda_inprocess import thread_environ

    environ = thread_environ()
    previous = getattr(_acting, "session", None)
    _acting.session = session
    try:
        with environ.overlaid(session.env()):
            yield
    finally:
        _acting.session = previous


def current() -> RoleSession | None:
    """The role session this thread's workload runs as, if any."""
    return getattr(_acting, "session", None)

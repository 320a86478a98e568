"""Which stage a model package belongs to, and clients that act in that stage's account.

``dualloop approve``/``reject`` decide a package in the registry of the stage it belongs to:
the stage whose account, region and model package group its ARN names
(``arn:aws:sagemaker:<region>:<account>:model-package/<group>/<version>``); ``dualloop promote``
and ``dualloop stages`` act in each stage's account the same way (``account_sessions``). On the
local cloud that stage's account is a header away (``shared.local_cloud.accounts``). On AWS the
credentials for a stage are, in this order:

1. the AWS profile named by ``DUALLOOP_PROFILE_<STAGE>`` (e.g. ``DUALLOOP_PROFILE_PROD=prod-approver``),
   which must be in the stage's account;
2. the caller's own credentials, when they are in the stage's account;
3. the stage's promotion role (``Names.promotion_role_arn``), assumed from the caller's
   account: the first stage's account is the only one that role trusts.

If none works, ``StageCredentialsError`` says which stage, which account, and what was tried.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from outer_orchestrator.promotion import AccountSessions, PromotionError, aws_sessions
from shared.config import DualloopConfig, StageSpec, stage_config, stage_path
from shared.naming import Names

# botocore's sagemaker service-2.json, ModelPackageArn: "arn:aws[a-z\-]*:sagemaker:[a-z0-9\-]{9,16}:[0-9]{12}:model-package/.*"
_PACKAGE_ARN = re.compile(
    r"^arn:aws[a-z\-]*:sagemaker:(?P<region>[a-z0-9\-]{9,16}):(?P<account>[0-9]{12}):model-package/(?P<group>[^/]+)/\d+$"
)


# boto3.Session's signature (profile_name=, region_name=); tests pass fakes whose STS is stubbed.
SessionFactory = Callable[..., boto3.Session]


class StageCredentialsError(PromotionError):
    """No credentials act in the stage's account, or the package belongs to no configured stage."""


def profile_variable(spec: StageSpec) -> str:
    return f"DUALLOOP_PROFILE_{spec.name.value.upper()}"


def stage_of_package(cfg: DualloopConfig, arn: str) -> StageSpec | None:
    """The configured stage whose registry holds ``arn``; None for a string that is not a
    model package ARN (the registry then says it does not know it)."""
    match = _PACKAGE_ARN.match(arn)
    if match is None:
        return None
    path = stage_path(cfg)
    for spec in path:
        names = Names(stage_config(cfg, spec.name.value))
        if (
            spec.account_id == match["account"]
            and spec.region == match["region"]
            and names.model_package_group.lower() == match["group"].lower()
        ):
            return spec
    known = ", ".join(
        f"{s.name.value} ({Names(stage_config(cfg, s.name.value)).model_package_group} in {s.account_id} {s.region})"
        for s in path
    )
    raise StageCredentialsError(
        f"{arn} is in model package group {match['group']} of account {match['account']} ({match['region']}), "
        f"which is no configured stage's registry: {known}"
    )


def account_sessions(
    cfg: DualloopConfig, *, on_aws: bool, make_session: SessionFactory = boto3.Session
) -> AccountSessions:
    """Each stage's session, for ``Promotion`` (``dualloop promote``, ``stages``): the same
    credentials, in the same order, as ``approve`` uses for that stage."""
    return lambda spec: stage_session(cfg, spec, on_aws=on_aws, make_session=make_session)


def stage_session(
    cfg: DualloopConfig, spec: StageSpec, *, on_aws: bool, make_session: SessionFactory = boto3.Session
) -> boto3.Session:
    """A session acting in stage ``spec``'s account and region (module docstring: which credentials)."""
    if not on_aws:
        from shared.local_cloud import accounts

        return accounts.session(spec.account_id, spec.region)
    where = f"stage {spec.name.value} (account {spec.account_id})"
    variable = profile_variable(spec)
    profile = os.environ.get(variable)
    if profile:
        try:
            session = make_session(profile_name=profile, region_name=spec.region)
            account = _account(session)
        except (BotoCoreError, ClientError) as exc:
            raise StageCredentialsError(
                f"{variable}={profile} gives no credentials for {where}: {exc}"
            ) from None
        if account != spec.account_id:
            raise StageCredentialsError(
                f"{variable}={profile} is a profile of account {account}, not of {where}: name a profile "
                f"in {spec.account_id}"
            )
        return session
    base = make_session(region_name=spec.region)
    try:
        if _account(base) == spec.account_id:
            return base
    except (BotoCoreError, ClientError) as exc:
        raise StageCredentialsError(f"no AWS credentials to act in {where}: {exc}") from None
    role = Names(stage_config(cfg, spec.name.value)).promotion_role_arn
    try:
        return aws_sessions(cfg, base)(spec)
    except (BotoCoreError, ClientError) as exc:
        raise StageCredentialsError(
            f"no credentials for {where}: {variable} is not set, this session is in another account, "
            f"and assuming {role} failed ({exc}); set {variable} to a profile in {spec.account_id}"
        ) from None


def _account(session: boto3.Session) -> str:
    identity: dict[str, Any] = dict(session.client("sts").get_caller_identity())
    return str(identity["Account"])

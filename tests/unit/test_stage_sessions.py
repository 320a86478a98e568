"""Which stage a package ARN belongs to, which credentials ``dualloop approve`` and ``dualloop
promote`` use for a stage's account on AWS (its profile, the caller's own in that account, the
stage's promotion role: STS stubbed, no AWS call), and what they say when there are none."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml
from botocore.stub import Stubber

from outer_orchestrator.stage_sessions import (
    StageCredentialsError,
    account_sessions,
    stage_of_package,
    stage_session,
)
from shared.config import load_config, stage_config
from shared.naming import Names

DEV, PROD = "123456789012", "210987654321"
CFG = load_config(
    project="shop",
    stages=[
        {"name": "dev", "account_id": DEV, "region": "us-east-1"},
        {"name": "staging", "account_id": DEV, "region": "us-east-1"},
        {"name": "prod", "account_id": PROD, "region": "eu-west-1"},
    ],
)


def test_the_arn_names_the_stage_by_account_region_and_group() -> None:
    def stage(arn: str) -> str | None:
        spec = stage_of_package(CFG, arn)
        return spec.name.value if spec else None

    # staging shares dev's account: the group tells them apart
    assert stage(f"arn:aws:sagemaker:us-east-1:{DEV}:model-package/shop-dev-models/3") == "dev"
    assert stage(f"arn:aws:sagemaker:us-east-1:{DEV}:model-package/shop-staging-models/1") == "staging"
    assert stage(f"arn:aws:sagemaker:eu-west-1:{PROD}:model-package/shop-prod-models/1") == "prod"
    assert stage("not-an-arn") is None  # the registry then says it does not know it


def test_a_package_of_no_stage_is_refused_naming_the_stages() -> None:
    with pytest.raises(StageCredentialsError) as refused:
        stage_of_package(CFG, f"arn:aws:sagemaker:us-east-1:{PROD}:model-package/shop-prod-models/1")
    message = str(refused.value)
    assert f"of account {PROD} (us-east-1), which is no configured stage's registry" in message
    assert f"prod (shop-prod-models in {PROD} eu-west-1)" in message


def test_on_aws_a_missing_stage_profile_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN DUALLOOP_PROFILE_PROD names a profile this machine does not have
    monkeypatch.setenv("DUALLOOP_PROFILE_PROD", "no-such-profile-here")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent/config")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/credentials")
    # WHEN approve needs prod's credentials THEN it says which variable, which stage and account
    with pytest.raises(StageCredentialsError) as refused:
        stage_session(CFG, CFG.stages[2], on_aws=True)
    assert str(refused.value).startswith(
        f"DUALLOOP_PROFILE_PROD=no-such-profile-here gives no credentials for stage prod (account {PROD}): "
    )


# ---- the order, for approve and promote alike (no AWS call: STS is stubbed) --------------------


class FakeSession:
    """A boto3 session whose STS client is stubbed; ``credentials`` stand for what it acts as."""

    def __init__(self, sts: Any, profile: str | None) -> None:
        self.sts, self.profile = sts, profile

    def client(self, service: str) -> Any:
        assert service == "sts", f"only STS is asked while choosing credentials, not {service}"
        return self.sts


class Accounts:
    """A ``make_session`` whose sessions are in ``accounts[profile]`` (None: the caller's own
    credentials); ``assume`` queues an AssumeRole of that role on the caller's session."""

    def __init__(self, accounts: dict[str | None, str], assume: str | None = None) -> None:
        self.accounts, self.assume = accounts, assume
        self.made: list[str | None] = []
        self.stubs: list[Stubber] = []

    def __call__(self, profile_name: str | None = None, region_name: str | None = None) -> Any:
        self.made.append(profile_name)
        sts = boto3.client("sts", region_name=region_name or "us-east-1")
        stub = Stubber(sts)
        account = self.accounts[profile_name]
        stub.add_response(
            "get_caller_identity",
            {"Account": account, "Arn": f"arn:aws:iam::{account}:user/me", "UserId": "AIDAEXAMPLE"},
        )
        if self.assume and profile_name is None:
            stub.add_response(
                "assume_role",
                {
                    "Credentials": {
                        "AccessKeyId": "ASIAPROMOTIONROLE",
                        "SecretAccessKey": "secret-of-the-role",
                        "SessionToken": "token-of-the-role",
                        "Expiration": datetime(2030, 1, 1, tzinfo=UTC),
                    }
                },
                {"RoleArn": self.assume, "RoleSessionName": "dualloop-promote"},
            )
        stub.activate()
        self.stubs.append(stub)
        return FakeSession(sts, profile_name)

    def all_answered(self) -> None:
        for stub in self.stubs:
            stub.assert_no_pending_responses()


PROD_ROLE = Names(stage_config(CFG, "prod")).promotion_role_arn


def test_promote_uses_the_stage_profile_first(monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN DUALLOOP_PROFILE_PROD names a profile of prod's account, and the caller is in dev's
    monkeypatch.setenv("DUALLOOP_PROFILE_PROD", "prod-admin")
    made = Accounts({"prod-admin": PROD, None: DEV})
    sessions = account_sessions(CFG, on_aws=True, make_session=made)
    # WHEN promote asks for prod's and dev's sessions
    prod, dev = sessions(CFG.stages[2]), sessions(CFG.stages[0])
    # THEN prod's is the profile's (no role assumed), dev's the caller's own
    assert (prod.profile, dev.profile) == ("prod-admin", None)  # type: ignore[attr-defined]
    assert made.made == ["prod-admin", None]
    made.all_answered()


def test_promote_uses_own_credentials_in_the_stage_account_else_the_promotion_role(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # GIVEN no stage profile, and the caller's credentials in dev's account
    monkeypatch.delenv("DUALLOOP_PROFILE_PROD", raising=False)
    monkeypatch.delenv("DUALLOOP_PROFILE_STAGING", raising=False)
    same = Accounts({None: DEV})
    other = Accounts({None: DEV}, assume=PROD_ROLE)
    # WHEN promote asks for staging's (dev's account) and prod's (another account) sessions
    staging = account_sessions(CFG, on_aws=True, make_session=same)(CFG.stages[1])
    prod = account_sessions(CFG, on_aws=True, make_session=other)(CFG.stages[2])
    # THEN staging acts with the caller's own credentials; prod with its promotion role, assumed
    assert isinstance(staging, FakeSession) and staging.profile is None
    credentials = prod.get_credentials()
    assert credentials is not None and credentials.access_key == "ASIAPROMOTIONROLE"
    assert prod.region_name == "eu-west-1"
    same.all_answered()
    other.all_answered()  # the AssumeRole of prod's promotion role was made, once


def test_promote_without_credentials_says_what_it_tried(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from typer.testing import CliRunner

    from shared.cli import app

    # GIVEN the AWS target and no credentials at all
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_ENDPOINT_URL", "DUALLOOP_PROFILE_PROD"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("DUALLOOP_TARGET", "aws")
    config = tmp_path / "dualloop.yaml"
    config.write_text(yaml.safe_dump(CFG.model_dump(mode="json", include={"project", "stages"})))
    package = f"arn:aws:sagemaker:us-east-1:{DEV}:model-package/shop-dev-models/3"
    # WHEN a package is promoted
    out = CliRunner().invoke(app, ["promote", package, "--to", "staging", "--config", str(config)])
    # THEN it exits 1 naming the stage and account it could not act in, as approve would
    assert out.exit_code == 1, out.output
    assert f"no AWS credentials to act in stage staging (account {DEV})" in " ".join(out.output.split())

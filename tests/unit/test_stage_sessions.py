"""Which stage a package ARN belongs to, and what ``dualloop approve`` says when it has no
credentials for that stage's account on AWS (no AWS call is made: the profile is checked first)."""

from __future__ import annotations

import pytest

from outer_orchestrator.stage_sessions import StageCredentialsError, stage_of_package, stage_session
from shared.config import load_config

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

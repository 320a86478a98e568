"""Promotion across accounts on the local cloud: dev retrains, staging and prod are promoted to.

Three stages in two accounts: dev and staging in 123456789012, prod in 210987654321, in one config
file; `dualloop run --promote-to prod` retrains in dev and promotes. Each stage is the
stack CDK synthesizes for it, provisioned in its own account. A retrain in dev deploys a
model; it is promoted to staging (same account) and then to prod (the other account), each
time as a copy of the package in that stage's registry, approved by the stage's rule and
deployed blue/green by the stage's promotion state machine. Prod's endpoint serves the very
artifact dev's package names (same ModelDataUrl, read cross-account through the bucket
policy the promotion adds), and prod's SageMaker role may read that artifact and nothing
else of dev's. Then a second model, deployed in dev, is rolled back in staging (its artifact
was changed after dev loaded it): `run --promote-to prod` stops at staging and says so,
promoting it to prod afterwards stops too, prod keeps the first model, and prod's
notification says so. Prod's drift check reads the promoted package's baseline in
dev's bucket, as its own role; prod's notifications name the promotion, the stage and the package.

One module, one set of stacks, two small retrains: the steps depend on each other, so the
story is one test.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import boto3
import pytest
import yaml
from botocore.exceptions import ClientError
from hosting_fixture import ROW
from inbox_support import drain_inbox
from test_rollback import Traffic, _skew_model_artifact
from typer.testing import CliRunner

from outer_orchestrator import promotion_cli
from outer_orchestrator.drift.job import run_drift_check
from outer_orchestrator.promotion import Promotion, local_sessions
from shared.cli import app
from shared.config import DualloopConfig, load_config, stage_config
from shared.demo_data import generate_transactions, write_dataset
from shared.local_cloud import LocalCloud, accounts
from shared.local_cloud.iam import sessions
from shared.naming import Names

ROWS = 1500
DEV_ACCOUNT = "123456789012"
PROD_ACCOUNT = "210987654321"


def _config() -> DualloopConfig:
    return load_config(
        project=f"promo-{uuid.uuid4().hex[:6]}",
        stages=[
            {"name": "dev", "account_id": DEV_ACCOUNT, "region": "us-east-1"},
            {"name": "staging", "account_id": DEV_ACCOUNT, "region": "us-east-1"},
            {
                "name": "prod",
                "account_id": PROD_ACCOUNT,
                "region": "us-east-1",
                "approval": {"mode": "manual", "timeout_seconds": 3600},
            },
        ],
    )


def _package(session: boto3.Session, arn: str) -> dict[str, Any]:
    return dict(session.client("sagemaker").describe_model_package(ModelPackageName=arn))


def test_a_model_approved_in_dev_is_promoted_to_prod_in_another_account(
    local_cloud: LocalCloud, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN three stages in two accounts, in one config file
    cfg = _config()
    prod = stage_config(cfg, "prod")
    config_file = tmp_path / "dualloop.yaml"
    config_file.write_text(yaml.safe_dump(cfg.model_dump(mode="json")))
    data = tmp_path / "first.csv"
    write_dataset(generate_transactions(ROWS, seed=7), data)

    # WHEN dev retrains and deploys, and the command promotes the package to staging, then to prod
    # (the command provisions each stage's stack in its account)
    command = ["run", "--data", str(data), "--approve", "auto", "--promote-to", "prod", "--json"]
    ran = CliRunner().invoke(app, [*command, "--config", str(config_file)])
    assert ran.exit_code == 0, ran.output
    document = json.loads(ran.stdout)
    assert document["status"] == "Promoted" and document["stopped_at"] is None, document["message"]
    assert document["retrain"]["status"] == "SUCCEEDED"
    dev_arn = document["retrain"]["model_package_arn"]
    assert dev_arn is not None
    [to_staging, to_prod] = [SimpleNamespace(**r) for r in document["promotions"]]
    assert (to_staging.stage, to_staging.status) == ("staging", "Promoted"), to_staging.message
    prod_session = accounts.session(PROD_ACCOUNT, "us-east-1")
    dev_session = boto3.Session(region_name="us-east-1")
    promotion = Promotion(cfg, local_sessions())
    dev_url = _package(dev_session, dev_arn)["InferenceSpecification"]["Containers"][0]["ModelDataUrl"]

    # THEN prod serves, in its own account, a copy of dev's package with dev's very artifact
    assert to_prod.status == "Promoted", to_prod.message
    assert to_prod.stage == "prod" and to_prod.model_data_url == dev_url
    assert to_prod.model_package_arn is not None and f":{PROD_ACCOUNT}:" in to_prod.model_package_arn
    serving = promotion.serving(promotion.spec("prod"))
    assert serving.model_package_arn == to_prod.model_package_arn
    assert serving.model_data_url == dev_url and serving.origin_package_arn == dev_arn
    copy = _package(prod_session, to_prod.model_package_arn)
    assert copy["ModelApprovalStatus"] == "Approved"
    assert copy["CustomerMetadataProperties"]["dualloop:promoted-from"] == to_staging.model_package_arn
    # ... and prod's endpoint answers
    runtime = prod_session.client("sagemaker-runtime")
    answer = runtime.invoke_endpoint(EndpointName=Names(prod).endpoint, Body=ROW, ContentType="text/csv")
    assert 0.0 <= json.loads(answer["Body"].read())["predictions"][0]["score"] <= 1.0

    # AND prod's SageMaker role may read the promoted artifact, nothing else of dev's
    role = sessions.assume(Names(prod).sagemaker_role_arn, "sagemaker.amazonaws.com", "us-east-1")
    as_prod = boto3.client("s3", **role.client_kwargs())
    bucket, _, key = dev_url.removeprefix("s3://").partition("/")
    assert as_prod.get_object(Bucket=bucket, Key=key)["Body"].read()
    with pytest.raises(ClientError) as denied:
        as_prod.get_object(Bucket=bucket, Key=key.rsplit("/", 1)[0] + "/other.tar.gz")
    assert denied.value.response["Error"]["Code"] == "AccessDenied"
    prod_sagemaker = boto3.client("sagemaker", **role.client_kwargs())
    with pytest.raises(ClientError) as denied_registry:
        prod_sagemaker.describe_model_package(ModelPackageName=dev_arn)
    assert denied_registry.value.response["Error"]["Code"] in ("AccessDeniedException", "ValidationException")
    drain_inbox(prod, prod_session)

    # AND prod's drift check, as its own role, finds the promoted package's baseline (dev's
    # Preprocess output, in dev's bucket) and reads it
    as_drift = sessions.assume(Names(prod).drift_role_arn, "lambda.amazonaws.com", "us-east-1")
    report = run_drift_check(
        prod,
        publish=False,
        sagemaker=boto3.client("sagemaker", **as_drift.client_kwargs()),
        s3=boto3.client("s3", **as_drift.client_kwargs()),
    )
    assert report.model_package_arn == to_prod.model_package_arn
    assert report.baseline_uri == copy["CustomerMetadataProperties"]["DriftBaselineS3Uri"]
    assert report.baseline_uri.startswith(f"s3://{bucket}/") and report.baseline_rows > 0

    # AND the stage's notification says promotion, stage and package
    history = prod_session.client("stepfunctions").get_execution_history(
        executionArn=to_prod.execution_arn, maxResults=1000
    )
    subjects = [
        json.loads(e["taskScheduledEventDetails"]["parameters"]).get("Subject")
        for e in history["events"]
        if e["type"] == "TaskScheduled" and e["taskScheduledEventDetails"]["resourceType"] == "sns"
    ]
    version = to_prod.model_package_arn.rsplit("/", 1)[-1]
    assert [s for s in subjects if s and f"promotion-to-prod-package-{version}-" in s], subjects

    # WHEN `run --promote-to prod` retrains a second model in dev, which is rolled back in staging
    # (its artifact is changed after dev loaded it, just before staging deploys it: staging's
    # canary answers 500 under steady traffic, the 5XX alarm fires) ...
    provision = promotion_cli._provision

    def skew_before_staging(cfg_: DualloopConfig, stage: str, promotion_: Promotion) -> None:
        if stage == "staging":
            url = promotion_.serving(promotion_.spec("dev")).model_data_url
            assert url is not None and url != dev_url
            _skew_model_artifact(url)
            traffic.start()  # from now on, not during the retrain
        provision(cfg_, stage, promotion_)

    monkeypatch.setattr(promotion_cli, "_provision", skew_before_staging)
    traffic = Traffic(Names(stage_config(cfg, "staging")).endpoint)
    second_data = tmp_path / "second.csv"
    write_dataset(generate_transactions(ROWS, seed=8), second_data)
    try:
        command = ["run", "--data", str(second_data), "--approve", "auto", "--promote-to", "prod", "--json"]
        again = CliRunner().invoke(app, [*command, "--config", str(config_file)])
    finally:
        traffic.stop()
    # ... THEN the command stops at staging, saying where and why, and never reaches prod
    assert again.exit_code == 1, again.output
    stopped = json.loads(again.stdout)
    assert (stopped["status"], stopped["stopped_at"]) == ("Stopped", "staging"), stopped["message"]
    assert stopped["retrain"]["status"] == "SUCCEEDED"
    second = SimpleNamespace(**stopped["retrain"])
    [in_staging] = [SimpleNamespace(**r) for r in stopped["promotions"]]
    assert in_staging.status == "RolledBack", in_staging.message
    assert stopped["message"].startswith("the promotion stopped at stage staging (RolledBack): ")
    assert f"stage staging keeps serving {to_staging.model_package_arn}" in stopped["message"]
    assert promotion.serving(promotion.spec("staging")).model_package_arn == to_staging.model_package_arn

    # ... THEN its promotion to prod stops, prod keeps serving the first model, and says so
    to_prod_again = promotion.promote(second.model_package_arn, "prod", approve="auto", timeout=300)
    assert to_prod_again.status == "Stopped", to_prod_again.message
    assert "was rolled back in stage staging" in to_prod_again.message
    assert promotion.serving(promotion.spec("prod")).model_package_arn == to_prod.model_package_arn
    [notice] = drain_inbox(prod, prod_session)
    assert in_staging.model_package_arn is not None and in_staging.model_package_arn in notice
    assert f"stage prod keeps serving {to_prod.model_package_arn}" in notice
    shown = CliRunner().invoke(app, ["status", "--stage", "prod", "--json", "--config", str(config_file)])
    assert shown.exit_code == 0, shown.output
    assert [
        (r["stage"], r["model_package_arn"], r["origin_package_arn"]) for r in json.loads(shown.stdout)
    ] == [("prod", to_prod.model_package_arn, dev_arn)]
    groups = prod_session.client("sagemaker").list_model_packages(
        ModelPackageGroupName=Names(prod).model_package_group
    )
    assert len(groups["ModelPackageSummaryList"]) == 1  # nothing of the second model reached prod

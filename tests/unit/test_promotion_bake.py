"""The bake rule: a stage takes a package once it has served in the previous stage for
``bake_seconds`` of AWS time. MarkDeployed stamps ``dualloop:deployed-at`` with wall-clock UTC;
on the local cloud time runs ``clock_factor`` times faster, so a 1-hour bake passes in 36 s."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

from outer_orchestrator.promotion import DEPLOYED_AT, Promotion, PromotionStopped, Serving
from shared.config import load_config

DEV, PROD = "123456789012", "210987654321"
ARN = f"arn:aws:sagemaker:us-east-1:{DEV}:model-package/bake-dev-models/1"
DEPLOYED = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)


def _promotion(now: datetime, clock_factor: float) -> Promotion:
    cfg = load_config(
        project="bake",
        stages=[
            {"name": "dev", "account_id": DEV, "region": "us-east-1"},
            {
                "name": "prod",
                "account_id": PROD,
                "region": "us-east-1",
                "approval": {"mode": "bake", "bake_seconds": 3600},
            },
        ],
    )

    def no_session(_: Any) -> boto3.Session:
        raise AssertionError("the bake rule reads no cloud")

    promotion = Promotion(cfg, no_session, now=lambda: now, clock_factor=clock_factor)
    # dev serves the package (what DescribeEndpoint -> model -> package would say)
    promotion.serving = lambda spec: Serving("dev", DEV, "bake-dev-endpoint", "InService", ARN)  # type: ignore[method-assign]
    return promotion


def _gate(promotion: Promotion) -> None:
    package = {
        "ModelPackageArn": ARN,
        "ModelApprovalStatus": "Approved",
        "CustomerMetadataProperties": {DEPLOYED_AT: DEPLOYED.isoformat()},
    }
    promotion.gate(promotion.spec("dev"), promotion.spec("prod"), package)


def test_too_early_stops_and_says_how_long_is_left() -> None:
    # GIVEN prod bakes 3600 s, and dev deployed the package 20 wall seconds ago on a x100 local clock
    promotion = _promotion(DEPLOYED + timedelta(seconds=20), clock_factor=100)
    # WHEN it is promoted THEN it stops: 2000 of 3600 AWS seconds baked, 1600 s (16 s of wall) left
    with pytest.raises(PromotionStopped) as stopped:
        _gate(promotion)
    message = str(stopped.value)
    assert (
        "for 2000 s of the 3600 s bake time prod asks for: 1600 s left (16.0 s on the local clock)" in message
    )


def test_after_the_bake_it_passes() -> None:
    # GIVEN the same package 36 wall seconds later on the x100 clock: 3600 AWS seconds
    # THEN the bake rule lets it through (the promotion goes on to copy and deploy it)
    _gate(_promotion(DEPLOYED + timedelta(seconds=36), clock_factor=100))


def test_on_aws_the_wall_clock_is_the_clock() -> None:
    # GIVEN 36 s after the deployment on AWS (clock factor 1) THEN 3564 s are left, no local clock named
    with pytest.raises(
        PromotionStopped, match=r"for 36 s of the 3600 s bake time prod asks for: 3564 s left; "
    ):
        _gate(_promotion(DEPLOYED + timedelta(seconds=36), clock_factor=1))
    _gate(_promotion(DEPLOYED + timedelta(hours=1), clock_factor=1))

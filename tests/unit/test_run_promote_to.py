"""What `dualloop run --promote-to` reports once the retrain has ended: each stage's outcome, one
JSON document, and where and why a promotion stopped. (The promotion itself runs in
tests/e2e/test_promotion.py; here it is replaced by the results it returns.)"""

from __future__ import annotations

import json
from typing import Any

import pytest

from outer_orchestrator import cli, promotion_cli
from outer_orchestrator.promotion import PromotionResult
from outer_orchestrator.runner import RunResult
from shared.config import load_config

CFG = load_config(
    project="shop",
    stages=[
        {"name": "dev", "account_id": "123456789012", "region": "us-east-1"},
        {"name": "staging", "account_id": "123456789012", "region": "us-east-1"},
        {"name": "prod", "account_id": "210987654321", "region": "us-east-1"},
    ],
)
DEV_ARN = "arn:aws:sagemaker:us-east-1:123456789012:model-package/shop-dev-models/4"


def _promotes(monkeypatch: pytest.MonkeyPatch, results: list[PromotionResult]) -> list[dict[str, Any]]:
    calls: list[dict[str, Any]] = []

    def promote_through(cfg: Any, package: str, stages: list[str], **kwargs: Any) -> list[PromotionResult]:
        calls.append({"package": package, "stages": stages, **kwargs})
        return results

    monkeypatch.setattr(promotion_cli, "promote_through", promote_through)
    return calls


def test_a_rollback_in_a_later_stage_stops_and_says_where_and_why(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN a retrain that deployed in dev, promoted to staging, rolled back in prod
    calls = _promotes(
        monkeypatch,
        [
            PromotionResult("staging", "Promoted", "stage staging serves ..."),
            PromotionResult("prod", "RolledBack", "the 5XX alarm fired; stage prod keeps serving v1"),
        ],
    )
    retrain = RunResult("arn:exec", "SUCCEEDED", model_package_arn=DEV_ARN)
    # WHEN run reports it (--json, --approve wait)
    ok = cli._promote_after(CFG, retrain, ["staging", "prod"], "wait", as_json=True)
    # THEN the promotion went through both stages with the same approve mode, and the one
    # document says it stopped at prod and why: the command exits non-zero
    assert not ok
    assert calls[0]["package"] == DEV_ARN and calls[0]["stages"] == ["staging", "prod"]
    assert calls[0]["approve"] == "wait"
    document = json.loads(capsys.readouterr().out)
    assert document["status"] == "Stopped" and document["stopped_at"] == "prod"
    assert document["message"] == (
        "the promotion stopped at stage prod (RolledBack): the 5XX alarm fired; stage prod keeps serving v1"
    )
    assert document["retrain"]["model_package_arn"] == DEV_ARN
    assert [p["status"] for p in document["promotions"]] == ["Promoted", "RolledBack"]


def test_a_retrain_that_deployed_nothing_promotes_nothing(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    calls = _promotes(monkeypatch, [])
    failed = RunResult("arn:exec", "FAILED", error="DataQualityFailed")
    assert not cli._promote_after(CFG, failed, ["staging"], "auto", as_json=False)
    assert calls == []
    assert "the retrain did not deploy a model (DataQualityFailed), so nothing was promoted" in " ".join(
        capsys.readouterr().err.split()  # the console writes to stderr
    )

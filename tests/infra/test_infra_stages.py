"""Stage differences: prod keeps its data and retrains on schedule; dev cleans up and does not.
Also: the dev synthesis raises no warning or error annotation."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from synth_support import Synth

_STATEFUL = ("AWS::S3::Bucket", "AWS::DynamoDB::Table", "AWS::KMS::Key", "AWS::Logs::LogGroup")


def _annotations(outdir: Path, kinds: tuple[str, ...]) -> list[tuple[str, Any]]:
    metadata = json.loads(next(outdir.glob("*.metadata.json")).read_text())
    return [(path, e["data"]) for path, entries in metadata.items() for e in entries if e["type"] in kinds]


def test_dev_synthesis_raises_no_annotation(synth: Synth) -> None:
    assert _annotations(synth.outdir, ("aws:cdk:warning", "aws:cdk:error")) == []


def test_dev_stack_is_disposable(synth: Synth) -> None:
    for cfn_type in _STATEFUL:
        for logical_id, res in synth.resources(cfn_type).items():
            assert res.get("DeletionPolicy") == "Delete", logical_id


def test_prod_stack_retains_data_and_retrains_on_schedule(tmp_path: Path) -> None:
    from infra.app import create_app
    from shared.config import load_config
    from shared.naming import Names

    cfg = load_config(stage="prod")
    # No pipeline build here: the stage differences do not depend on it (and it costs seconds).
    app, stack = create_app(cfg=cfg, outdir=str(tmp_path), nag=False, validation=False, pipeline=None)
    template = app.synth().get_stack_by_name(stack.stack_name).template

    assert stack.termination_protection is True
    for res in template["Resources"].values():
        if res["Type"] in _STATEFUL:
            assert res.get("DeletionPolicy") == "Retain", res["Type"]
    names = Names(cfg)
    schedules = {
        r["Properties"]["Name"]: r["Properties"]
        for r in template["Resources"].values()
        if r["Type"] == "AWS::Events::Rule" and "ScheduleExpression" in r["Properties"]
    }
    assert set(schedules) == {names.schedule_rule, names.drift_schedule_rule}
    assert schedules[names.schedule_rule]["State"] == "ENABLED"
    assert stack.stack_name == "dualloop-prod"

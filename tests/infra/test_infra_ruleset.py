"""The CDK stack ships the configured ruleset, not the fraud demo's.

A config file's ``ruleset`` next to it is shipped as the DataQuality job's asset (its bytes,
named after the file); an ``s3://`` ruleset is passed as it is, and the Glue role may read that
one object. Synth only (no pipeline, no validation, no nag: the full stack's tests do those).
"""

from __future__ import annotations

import os
from pathlib import Path

import yaml
from synth_support import Resolver, Synth, role_statements

from shared.config import DualloopConfig, load_config
from shared.naming import Names

RULES = 'Rules = [\n    RowCount > 10,\n    IsComplete "row_id"\n]\n'


def _synth(cfg: DualloopConfig, outdir: Path) -> Synth:
    from infra.app import create_app

    app, stack = create_app(cfg=cfg, outdir=str(outdir), nag=False, validation=False, pipeline=None)
    template = app.synth().get_stack_by_name(stack.stack_name).template
    return Synth(template=template, outdir=outdir, stack=stack)


def _config(tmp_path: Path, ruleset: str) -> DualloopConfig:
    path = tmp_path / "project" / "dualloop.yaml"
    path.parent.mkdir(exist_ok=True)
    path.write_text(yaml.safe_dump({"project": "rulecheck", "ruleset": ruleset}))
    saved = {k: os.environ.pop(k) for k in list(os.environ) if k.startswith("DUALLOOP_")}
    try:
        return load_config(path, stage="dev")
    finally:
        os.environ.update(saved)


def _quality_args(synth: Synth, cfg: DualloopConfig) -> tuple[dict[str, str], Resolver]:
    resolve = Resolver(synth.template, cfg.account_id, cfg.region)
    _, job = synth.one("AWS::Glue::Job", Name=Names(cfg).data_quality_job)
    return resolve(job["Properties"]["DefaultArguments"]), resolve


def test_a_ruleset_beside_the_config_file_is_the_one_shipped(tmp_path: Path) -> None:
    # GIVEN a config file naming a ruleset in its own folder (as `dualloop init` writes them)
    (tmp_path / "project").mkdir()
    (tmp_path / "project" / "wine.dqdl").write_text(RULES)
    cfg = _config(tmp_path, "wine.dqdl")
    # WHEN the stack is synthesized
    synth = _synth(cfg, tmp_path / "cdk.out")
    # THEN the DataQuality job's ruleset asset holds those rules, and the report is named after them
    args, _ = _quality_args(synth, cfg)
    asset_hash = args["--ruleset_uri"].rsplit("/", 1)[1].split(".", 1)[0]
    (asset,) = [p for p in synth.outdir.iterdir() if p.name.startswith(f"asset.{asset_hash}")]
    assert asset.read_text() == RULES
    assert args["--ruleset_name"] == "wine"


def test_an_s3_ruleset_is_read_where_it_is_and_only_that_object(tmp_path: Path) -> None:
    # GIVEN a config naming a ruleset in the user's bucket
    cfg = _config(tmp_path, "s3://team-rules-bucket/dq/wine.dqdl")
    # WHEN the stack is synthesized
    synth = _synth(cfg, tmp_path / "cdk.out")
    # THEN the job reads that URI, and the Glue role may get that object (and no other of the bucket)
    args, resolve = _quality_args(synth, cfg)
    assert args["--ruleset_uri"] == "s3://team-rules-bucket/dq/wine.dqdl"
    assert args["--ruleset_name"] == "wine"
    stmts = {s["Sid"]: s for s in role_statements(synth, resolve, Names(cfg).glue_role)}
    resources = stmts["ReadCode"]["Resource"]
    assert "arn:aws:s3:::team-rules-bucket/dq/wine.dqdl" in resources
    assert not [r for r in resources if "team-rules-bucket" in r and r.endswith("*")]

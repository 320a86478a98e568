"""The stack passes CDK's built-in template validation, cdk-nag's AwsSolutions pack (every
suppression with a reason) and cfn-lint; and ``cdk synth`` works offline."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from synth_support import Synth

from infra.sources import REPO

if TYPE_CHECKING:
    from infra.pipeline_build import PipelineBuild
    from shared.config import DualloopConfig


def test_full_validation_passes_except_for_a_canary(
    cfg: DualloopConfig, pipeline: PipelineBuild | None, tmp_path: Path
) -> None:
    """One full synthesis proves two things: the gate is live (a canary bucket without access
    logs fails it) and the real stack is clean (the canary is the only unsuppressed finding)."""
    import aws_cdk as cdk
    from aws_cdk import aws_s3 as s3

    from infra.app import create_app

    # GIVEN the stack, with built-in validation and cdk-nag on, plus one non-compliant canary
    app, stack = create_app(cfg=cfg, outdir=str(tmp_path), nag=True, validation=True, pipeline=pipeline)
    s3.Bucket(stack, "NagCanary", enforce_ssl=True, removal_policy=cdk.RemovalPolicy.DESTROY)

    # WHEN it is synthesized, THEN validation fails
    with pytest.raises(RuntimeError, match="ValidationFailed"):
        app.synth()

    # AND the only unsuppressed findings are the canary's
    report = json.loads((tmp_path / "validation-report.json").read_text())
    plugins = {p["pluginName"]: p for p in report["pluginReports"]}
    assert "AwsSolutions" in plugins
    for plugin in plugins.values():
        for violation in plugin["violations"]:
            if violation["severity"] == "warning" and plugin["pluginName"] != "AwsSolutions":
                continue  # built-in validation warnings do not fail a deploy; errors would
            paths = [c["constructPath"] for c in violation["violatingConstructs"]]
            assert all("/NagCanary/" in p for p in paths), f"{violation['ruleName']} on {paths}"
    # AND every suppressed finding carries a specific reason
    suppressed = [v for p in plugins.values() for v in p.get("suppressedViolations", [])]
    assert suppressed, "no acknowledged findings at all? the report format may have changed"
    for v in suppressed:
        assert len(v["reason"].strip()) >= 20, f"{v['ruleName']}: {v['reason']!r}"
    # AND no cdk-nag acknowledgement is stale (each one suppressed a real finding)
    used = {(v["acknowledgedAt"], v["acknowledgedId"]) for v in suppressed}
    made = {
        (path.lstrip("/"), rule)
        for path, entries in json.loads(next(tmp_path.glob("*.metadata.json")).read_text()).items()
        for entry in entries
        if entry["type"] == "aws:cdk:acknowledged-rules"
        for rule in entry["data"]
        if rule.startswith("AwsSolutions::")
    }
    assert made - used == set(), "acknowledged, but cdk-nag reports no such finding there"


def test_every_acknowledgement_has_a_reason(synth: Synth) -> None:
    metadata = json.loads(next(synth.outdir.glob("*.metadata.json")).read_text())
    acknowledgements = {
        (path, rule): reason
        for path, entries in metadata.items()
        for entry in entries
        if entry["type"] == "aws:cdk:acknowledged-rules"
        for rule, reason in entry["data"].items()
    }
    assert acknowledgements
    for (path, rule), reason in acknowledgements.items():
        assert isinstance(reason, str) and len(reason.strip()) >= 20, f"{path} {rule}: {reason!r}"
    # Suppressions are per finding, never a whole rule on the whole stack.
    assert not [k for k in acknowledgements if k[0].count("/") < 2], "stack-wide acknowledgement"


def test_cfn_lint_finds_no_errors(synth: Synth, cfg: DualloopConfig) -> None:
    from cfnlint.api import ManualArgs, lint

    template = next(synth.outdir.glob("*.template.json")).read_text()
    matches = lint(template, config=ManualArgs(regions=[cfg.region]))
    errors = [str(m) for m in matches if m.rule.id.startswith("E")]
    assert errors == []


@pytest.mark.timeout(240)
def test_cdk_cli_synth_works_offline(tmp_path: Path) -> None:
    """What `make synth` runs: the CDK CLI, the app with cdk-nag and built-in validation, no AWS."""
    cli = REPO / "node_modules" / ".bin" / "cdk"
    if not cli.exists() or shutil.which("node") is None:
        pytest.skip("the CDK CLI is not installed (npm ci)")
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("AWS_", "DUALLOOP_", "CDK_")) or k == "AWS_DEFAULT_REGION"
    }
    # No credentials and no instance metadata: the CLI must not need AWS to synthesize.
    env |= {"AWS_EC2_METADATA_DISABLED": "true", "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20"}
    started = time.monotonic()
    proc = subprocess.run(
        [
            str(cli),
            "synth",
            "--app",
            f"{sys.executable} -m infra.app",
            "--context",
            "stage=dev",
            "--output",
            str(tmp_path),
            "--quiet",
            "--no-notices",
        ],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=230,
        check=False,
    )
    elapsed = time.monotonic() - started
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert (tmp_path / "Dualloop-dev.template.json").is_file()
    print(f"cdk synth (CLI, nag + validation): {elapsed:.1f} s")

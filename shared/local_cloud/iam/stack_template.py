"""The stack's synthesized CloudFormation template, cached by the content of what makes it.

Synthesis (CDK through jsii) costs 5-13 s, so the template is kept under
``$DUALLOOP_HOME/cache/stack-templates/<sha256>.json``, keyed by the bytes of every file
it is built from (``infra/``, ``cdk.json``, the ASL, the handlers, Glue scripts and
rulesets, ``shared``'s config and naming) and the config itself: an unchanged project
reuses it, any change synthesizes again.

The synthesis runs ``infra.local_template`` in a child process (as ``make synth`` would),
so ``shared`` keeps no import of ``infra`` and jsii's Node process never lives in the
local cloud's. It leaves the inner pipeline out: its definition changes no IAM statement
the local cloud enforces (ECR pulls are not emulated).
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from shared.config import DualloopConfig

ROOT = Path(__file__).resolve().parents[3]
SYNTH_MODULE = "infra.local_template"
_INPUTS = ("infra", "outer_orchestrator", "shared")
_SKIP_PARTS = {"__pycache__", "local_cloud", "cdk.out", "node_modules"}
_SUFFIXES = {".py", ".json", ".dqdl", ".yaml", ".yml", ".txt", ".properties"}
_TIMEOUT_SECONDS = 300


class SynthesisFailed(RuntimeError):
    pass


def cache_dir() -> Path:
    return Path(os.environ.get("DUALLOOP_HOME", Path.home() / ".dualloop")) / "cache" / "stack-templates"


def inputs_digest(cfg: DualloopConfig) -> str:
    digest = hashlib.sha256(cfg.model_dump_json().encode())
    files = [ROOT / "cdk.json"]
    for folder in _INPUTS:
        files += [
            p
            for p in (ROOT / folder).rglob("*")
            if p.suffix in _SUFFIXES and p.is_file() and not _SKIP_PARTS.intersection(p.parts)
        ]
    for path in sorted(files):
        digest.update(str(path.relative_to(ROOT)).encode() + b"\0" + path.read_bytes() + b"\0")
    ruleset = Path(cfg.ruleset)  # a project's own ruleset (beside its config file) is an input too
    if ruleset.is_absolute() and ruleset.is_file():
        digest.update(ruleset.read_bytes())
    return digest.hexdigest()


def stand_in(project: str) -> str:
    """A project name of the same length made of letters no CDK hash or name uses ([zqjx] are
    not hex), so the template synthesized for it turns into any project's by replacing it."""
    return ("zqjx" * 6)[: len(project)]


def load(cfg: DualloopConfig) -> dict[str, Any]:
    """The template for ``cfg``: from the cache, or synthesized now (and cached).

    Names are the only thing the project name changes in the template (``shared/naming``), so
    the template is synthesized once for a stand-in project of the same length (truncations
    stay the same) and the stand-in replaced by the project: every project with the same
    settings shares one synthesis (tests use a project per test; a synthesis costs 5-13 s).
    tests/infra/test_infra_iam.py keeps this equal to a direct synthesis.
    """
    canonical = cfg.model_copy(update={"project": stand_in(cfg.project)})
    path = cache_dir() / f"{inputs_digest(canonical)}.json"
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(f".{os.getpid()}.tmp")
        partial.write_text(json.dumps(synthesize(canonical)))
        partial.replace(path)
    template: dict[str, Any] = json.loads(path.read_text().replace(canonical.project, cfg.project))
    return template


def synthesize(cfg: DualloopConfig) -> dict[str, Any]:
    """The stack's template for ``cfg``, synthesized now in a child process (no cache)."""
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    }
    # The child is CDK, not a workload: it must not inherit a local cloud's endpoint.
    env.pop("AWS_ENDPOINT_URL", None)
    env.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
    result = subprocess.run(  # noqa: S603 - our own interpreter and module
        [sys.executable, "-m", SYNTH_MODULE],
        input=cfg.model_dump_json(),
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=_TIMEOUT_SECONDS,
        check=False,
    )
    if result.returncode != 0:
        tail = "\n".join(result.stderr.strip().splitlines()[-15:])
        raise SynthesisFailed(f"synthesizing the stack for the local cloud's IAM failed:\n{tail}")
    synthesized: dict[str, Any] = json.loads(result.stdout)
    return synthesized

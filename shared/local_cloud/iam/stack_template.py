"""The stack's synthesized CloudFormation template, cached by the content of what makes it.

Synthesis (CDK through jsii) costs 5-13 s, so the template is kept under
``$DUALLOOP_HOME/cache/stack-templates/<sha256>.json``, keyed by the bytes of every file
it is built from (``infra/``, ``cdk.json``, the ASL, the handlers, Glue scripts and
rulesets, ``shared``'s config and naming) and the config itself: an unchanged project
reuses it, any change synthesizes again.

Who synthesizes is not this module's business: ``shared`` knows no ``infra``. A
``TemplateSource`` (config -> template) is injected: passed to ``load``, registered with
``use``, or else the one the composition root declares (pyproject.toml's ``dualloop.stack``
entry point ``template``: ``infra.local_template.synthesize``). The template leaves the
inner pipeline out: its definition changes no IAM statement the local cloud enforces (ECR
pulls are not emulated).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

from shared import entry_points
from shared.config import DualloopConfig

ROOT = Path(__file__).resolve().parents[3]
_INPUTS = ("infra", "outer_orchestrator", "shared")
_SKIP_PARTS = {"__pycache__", "local_cloud", "cdk.out", "node_modules"}
_SUFFIXES = {".py", ".json", ".dqdl", ".yaml", ".yml", ".txt", ".properties"}

TemplateSource = Callable[[DualloopConfig], dict[str, Any]]
_registered: TemplateSource | None = None


def use(source: TemplateSource) -> None:
    """Make ``source`` the process's template source, instead of the declared one."""
    global _registered
    _registered = source


def registered() -> TemplateSource:
    """The source ``use`` set, else the composition root's (``dualloop.stack`` ``template``)."""
    if _registered is not None:
        return _registered
    return cast(TemplateSource, entry_points.load_one(entry_points.STACK, "template"))


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


def load(cfg: DualloopConfig, source: TemplateSource | None = None) -> dict[str, Any]:
    """The template for ``cfg``: from the cache, or made now by ``source`` (default: the
    registered one) and cached.

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
        partial.write_text(json.dumps((source or registered())(canonical)))
        partial.replace(path)
    template: dict[str, Any] = json.loads(path.read_text().replace(canonical.project, cfg.project))
    return template

"""The code assets are complete: everything the handlers and the Glue scripts import (at any
depth, outside ``if TYPE_CHECKING``) is in the asset, in the runtime, or installed for it.

Static analysis of imports, not an import in the target runtime: a module imported by name
through importlib would escape it, and the runtime/layer contents below are what AWS
documents, not what this test can see.
"""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from synth_support import Synth

if TYPE_CHECKING:
    from shared.naming import Names

FIRST_PARTY = {"outer_orchestrator", "shared", "inner_pipeline", "infra"}
# The Lambda Python runtime ships boto3 and its dependencies.
LAMBDA_RUNTIME = {"boto3", "botocore", "s3transfer", "jmespath", "dateutil", "urllib3", "six"}
# The AWS-published Powertools layer: Powertools with its parser/tracer/validation extras.
POWERTOOLS_LAYER = {
    "aws_lambda_powertools",
    "pydantic",
    "pydantic_core",
    "annotated_types",
    "typing_extensions",
    "typing_inspection",
    "aws_xray_sdk",
    "fastjsonschema",
}
# Glue 5.0: Spark 3.5 with PySpark and boto3; --additional-python-modules adds the rest.
GLUE_RUNTIME = {"pyspark", "py4j", "awsglue", "boto3", "botocore"}
GLUE_ADDITIONAL = {
    "pydantic",
    "pydantic_core",
    "pydantic_settings",
    "yaml",
    "dotenv",
    "annotated_types",
    "typing_extensions",
    "typing_inspection",
    "lark",  # the DQDL grammar
}


def _imports(path: Path) -> set[str]:
    """Absolute module names ``path`` imports, skipping ``if TYPE_CHECKING:`` blocks."""
    tree = ast.parse(path.read_text())
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for orelse in node.orelse:
                visit(orelse)
            return
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{a.name}" for a in node.names)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return found - {"__future__"}


def _module_file(root: Path, module: str) -> Path | None:
    parts = module.split(".")
    for candidate in (root.joinpath(*parts).with_suffix(".py"), root.joinpath(*parts, "__init__.py")):
        if candidate.is_file():
            return candidate
    return None


def _closure(root: Path, entry: list[Path]) -> tuple[set[str], set[str]]:
    """(first-party modules missing from ``root``, third-party top-level packages) reachable from ``entry``."""
    missing: set[str] = set()
    third_party: set[str] = set()
    seen: set[Path] = set()
    todo = list(entry)
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        for module in _imports(path):
            top = module.split(".")[0]
            if top in sys.stdlib_module_names:
                continue
            if top not in FIRST_PARTY:
                third_party.add(top)
                continue
            found = _module_file(root, module)
            if found is None:
                # "from pkg import name" names an attribute as often as a module.
                if _module_file(root, module.rsplit(".", 1)[0]) is None:
                    missing.add(module)
                continue
            todo.append(found)
            # Importing a.b.c runs a/__init__ and a/b/__init__ too.
            parents = module.split(".")
            todo += [p for i in range(1, len(parents)) if (p := _module_file(root, ".".join(parents[:i])))]
    return missing, third_party


def _asset(synth: Synth, key: str) -> Path:
    """The staged asset (a directory, or a file keeping its extension) behind an S3 key."""
    (path,) = synth.outdir.glob(f"asset.{key.split('.', 1)[0]}*")
    return path


def test_lambda_asset_holds_everything_the_handlers_import(synth: Synth, names: Names) -> None:
    _, fn = synth.one("AWS::Lambda::Function", FunctionName=names.pipeline_relay_function)
    root = _asset(synth, fn["Properties"]["Code"]["S3Key"])
    handlers = sorted((root / "outer_orchestrator" / "handlers").glob("*.py"))
    assert handlers

    missing, third_party = _closure(root, handlers)

    assert missing == set(), "first-party modules the handlers import but the asset lacks"
    vendored = {p.name for p in root.iterdir() if p.name not in FIRST_PARTY and p.is_dir()}
    unavailable = third_party - LAMBDA_RUNTIME - POWERTOOLS_LAYER - vendored
    assert unavailable == set(), "imported, but neither in the runtime, the layer nor vendored"


def test_drift_asset_holds_everything_the_job_imports(synth: Synth, names: Names) -> None:
    _, fn = synth.one("AWS::Lambda::Function", FunctionName=names.drift_function)
    root = _asset(synth, fn["Properties"]["Code"]["S3Key"])
    job = root / "outer_orchestrator" / "drift" / "job.py"
    assert job.is_file()

    missing, third_party = _closure(root, [job])

    assert missing == set(), "first-party modules the drift job imports but the asset lacks"
    vendored = {p.name for p in root.iterdir() if p.name not in FIRST_PARTY and p.is_dir()}
    unavailable = third_party - LAMBDA_RUNTIME - POWERTOOLS_LAYER - vendored
    assert unavailable == set(), "imported, but neither in the runtime, the layer nor vendored"
    # No numerical stack: the statistics and the baseline's merge are pure Python.
    assert not third_party & {"numpy", "pandas", "pyarrow", "scipy"}
    # The data scientists' code stays out; the baseline contract comes from shared/.
    assert not (root / "inner_pipeline").exists()
    assert (root / "shared" / "feature_baseline.py").is_file()
    # Workstation-only code stays home; the package stays small.
    assert not (root / "outer_orchestrator" / "drift" / "cli.py").exists()
    assert not (root / "shared" / "local_cloud").exists()
    assert not list(root.rglob("__pycache__"))
    assert sum(f.stat().st_size for f in root.rglob("*") if f.is_file()) < 5 * 2**20


def test_glue_helpers_hold_everything_the_scripts_import(synth: Synth, names: Names) -> None:
    _, job = synth.one("AWS::Glue::Job", Name=names.ingest_job)
    root = _asset(synth, job["Properties"]["DefaultArguments"]["--extra-py-files"].rsplit("/", 1)[1])
    script_files = [
        _asset(synth, j["Properties"]["Command"]["ScriptLocation"].rsplit("/", 1)[1])
        for j in synth.resources("AWS::Glue::Job").values()
    ]

    missing, third_party = _closure(root, script_files)

    assert missing == set(), "first-party modules the Glue scripts import but the helpers zip lacks"
    assert third_party - GLUE_RUNTIME - GLUE_ADDITIONAL == set()


def test_the_dqdl_grammar_loads_from_the_helpers_zip(synth: Synth, names: Names, tmp_path: Path) -> None:
    """Glue puts ``--extra-py-files`` on the path as a zip, not a folder: the parser must read
    its grammar (``dqdl.lark``) as package data from there."""
    # GIVEN the Glue helpers asset, zipped as Glue receives it
    _, job = synth.one("AWS::Glue::Job", Name=names.data_quality_job)
    root = _asset(synth, job["Properties"]["DefaultArguments"]["--extra-py-files"].rsplit("/", 1)[1])
    archive = shutil.make_archive(str(tmp_path / "helpers"), "zip", root)
    # WHEN a fresh interpreter imports the parser from that zip (third-party packages as installed)
    code = (
        "import outer_orchestrator.quality.dqdl as dqdl; assert '.zip' in dqdl.__file__, dqdl.__file__; "
        "print(dqdl.parse('Rules = [ RowCount > 1 ]').rules[0].text)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        env={**os.environ, "PYTHONPATH": archive},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    # THEN the ruleset parses
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "RowCount > 1"

"""Every ``dualloop`` command writes through one terminal (shared.cli_support: ``console`` on
stderr, ``out`` on stdout).

What this proves: no product module builds a rich ``Console`` of its own; the CLI modules print
through the shared two; a long ARN or command comes out on one line at any terminal width (so it
can be copied), and numbers and paths in our text are not recoloured. What it does not: how a
given terminal renders colour.
"""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

from shared import cli_support

ROOT = Path(__file__).resolve().parents[2]
PRODUCT = ("shared", "inner_pipeline", "outer_orchestrator", "infra")
CLI_MODULES = (
    "inner_pipeline.cli",
    "outer_orchestrator.cli",
    "outer_orchestrator.drift.cli",
    "outer_orchestrator.graph_cli",
    "outer_orchestrator.init_project",
    "outer_orchestrator.promotion_cli",
    "outer_orchestrator.quality.cli",
    "shared.local_cloud.hosting.cli",
)
ARN = "arn:aws:sagemaker:us-east-1:123456789012:model-package/" + "fraud-detector-" * 12 + "/42"


def _console_calls(path: Path) -> list[int]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return [
        node.lineno
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and (
            (isinstance(node.func, ast.Name) and node.func.id == "Console")
            or (isinstance(node.func, ast.Attribute) and node.func.attr == "Console")
        )
    ]


def test_only_cli_support_builds_a_console() -> None:
    found = {
        f"{path.relative_to(ROOT)}:{line}"
        for package in PRODUCT
        for path in (ROOT / package).rglob("*.py")
        for line in _console_calls(path)
    }
    assert {f.split(":")[0] for f in found} == {"shared/cli_support.py"}, sorted(found)


@pytest.mark.parametrize("module", CLI_MODULES)
def test_each_cli_prints_through_the_shared_console(module: str) -> None:
    imported = importlib.import_module(module)
    assert imported.console is cli_support.console
    if hasattr(imported, "out"):  # a function's parameter named out is not a module attribute
        assert imported.out is cli_support.out


def test_a_long_arn_stays_on_one_line_and_numbers_keep_our_colour(capsys: pytest.CaptureFixture[str]) -> None:
    # GIVEN a line far wider than the (80-column, not a terminal) output
    line = f"promote {ARN} → prod (account 123456789012)"
    assert len(line) > 200
    # WHEN both consoles print it
    cli_support.console.print(line)
    cli_support.out.print(line)
    captured = capsys.readouterr()
    # THEN it comes out whole, on one line
    assert captured.err == captured.out == line + "\n"
    # AND rich adds no highlighting of its own to numbers, ARNs or paths
    for terminal in (cli_support.console, cli_support.out):
        assert terminal.render_str(line).spans == []

"""The import contracts `make lint` runs (`lint-imports`, pyproject.toml's [tool.importlinter]).

What this proves: the tree as committed keeps every contract, and the same check breaks when
an import against the direction is added, even one inside a function (a copy of the packages
gets one such import; the check runs on the copy). It reads source files only: nothing is
imported from the copy, no subprocess runs.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest
from importlinter.cli import lint_imports

REPO = Path(__file__).resolve().parents[2]
ROOTS = ("shared", "inner_pipeline", "outer_orchestrator", "infra")
KEPT, BROKEN = 0, 1


def _check(root: Path, monkeypatch: pytest.MonkeyPatch) -> int:
    """lint-imports over the packages found under ``root`` (grimp finds a root package through
    sys.modules first, then sys.path, where lint-imports puts the working directory first)."""
    for name in ROOTS:
        monkeypatch.delitem(sys.modules, name, raising=False)
    monkeypatch.syspath_prepend(str(root))
    monkeypatch.chdir(root)
    return lint_imports(config_filename=str(REPO / "pyproject.toml"), no_cache=True, no_logo=True)


def _copy(tmp_path: Path) -> Path:
    for name in ROOTS:
        shutil.copytree(REPO / name, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__", "*.json"))
    return tmp_path


def test_the_committed_tree_keeps_every_contract(monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN the repository  WHEN the contracts are checked  THEN all are kept
    assert _check(REPO, monkeypatch) == KEPT


@pytest.mark.parametrize(
    ("module", "line"),
    [
        ("shared/naming.py", "from outer_orchestrator import approvals"),
        ("shared/config.py", "import infra.app"),
        ("inner_pipeline/upsert.py", "from outer_orchestrator.local_stack import LocalStack"),
        ("outer_orchestrator/runner.py", "from infra import pipeline_build"),
        ("outer_orchestrator/status.py", "import moto"),
    ],
)
def test_an_import_against_the_direction_breaks_the_check(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, module: str, line: str
) -> None:
    # GIVEN a copy of the packages where one module imports against the direction, inside a
    # function (where ruff's PLC0415 is off and nothing would notice)
    root = _copy(tmp_path)
    path = root / module
    path.write_text(path.read_text() + f"\n\ndef _against_the_direction() -> None:\n    {line}\n")
    # WHEN the contracts are checked  THEN one is broken
    assert _check(root, monkeypatch) == BROKEN


def test_the_local_cloud_may_import_moto(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN a copy where the local cloud imports one more moto module (it is the one that may)
    root = _copy(tmp_path)
    path = root / "shared/local_cloud/clock.py"
    path.write_text(path.read_text() + "\n\ndef _moto() -> None:\n    import moto.core\n")
    # WHEN the contracts are checked  THEN they are kept: the check is not merely "any change breaks"
    assert _check(root, monkeypatch) == KEPT

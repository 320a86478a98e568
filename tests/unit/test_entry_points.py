"""The composition root: pyproject.toml's ``dualloop.*`` entry points, as installed.

What this proves: the installed metadata declares exactly what pyproject.toml says (an
install older than the checkout is caught here, naming the fix); every command and worker it
names loads; a group or entry that is missing fails loudly instead of leaving a command out.
It cannot prove a fresh install works: `make install` then `dualloop --help` does that.
"""

from __future__ import annotations

import tomllib
from importlib.metadata import EntryPoint, entry_points
from pathlib import Path

import pytest

from shared import entry_points as registry

PYPROJECT = Path(__file__).resolve().parents[2] / "pyproject.toml"
GROUPS = (registry.COMMANDS, registry.WORKERS, registry.STACK)


def _declared_in_pyproject(group: str) -> dict[str, str]:
    tables = tomllib.loads(PYPROJECT.read_text())["project"]["entry-points"]
    return dict(tables[group])


@pytest.mark.parametrize("group", GROUPS)
def test_the_installed_metadata_is_what_pyproject_declares(group: str) -> None:
    # GIVEN pyproject.toml  WHEN the installed distribution's entry points are read
    installed = {ep.name: ep.value for ep in entry_points(group=group)}
    # THEN they are the same (else: reinstall, `make install`)
    assert installed == _declared_in_pyproject(group), f"stale install: {registry.REINSTALL}"


@pytest.mark.parametrize("group", GROUPS)
def test_every_declared_entry_point_loads(group: str) -> None:
    loaded = registry.load(group)
    assert set(loaded) == set(_declared_in_pyproject(group))
    assert all(callable(obj) for obj in loaded.values())


def test_the_cli_has_every_registered_command() -> None:
    # GIVEN the registered commands  WHEN the dualloop app is built
    from shared.cli import build_app

    app = build_app()
    names = {c.name for c in app.registered_commands} | {g.name for g in app.registered_groups}
    # THEN it has the commands each package registers (a few from each, by its entry point)
    assert {"local", "invoke", "inner", "data", "run", "approve", "demo", "drift", "graph"} <= names


def test_a_group_nothing_registers_fails_loudly() -> None:
    with pytest.raises(
        registry.RegistryError, match=r"no entry points in group 'dualloop\.nothing'.*make install"
    ):
        registry.load("dualloop.nothing")


def test_an_entry_point_that_does_not_load_fails_naming_it(monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN a workers group whose one entry names a module that is not there (a renamed module)
    broken = EntryPoint("gone", "shared.local_cloud.no_such_worker:attach", registry.WORKERS)
    monkeypatch.setattr(registry, "entry_points", lambda group: [broken] if group == registry.WORKERS else [])
    # WHEN the workers are loaded  THEN the error names the entry point and its target
    with pytest.raises(
        registry.RegistryError, match=r"entry point gone = 'shared\.local_cloud\.no_such_worker:attach'"
    ):
        registry.load(registry.WORKERS)


def test_a_missing_named_entry_fails_loudly(monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN a stack group without ``local``  WHEN the local stack is looked up  THEN it says so
    other = EntryPoint("other", "shared.naming:Names", registry.STACK)
    monkeypatch.setattr(registry, "entry_points", lambda group: [other])
    with pytest.raises(registry.RegistryError, match=r"no entry point 'local' in group 'dualloop\.stack'"):
        registry.load_one(registry.STACK, "local")

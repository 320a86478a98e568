"""The composition root's registry: what the installed ``dualloop`` distribution declares in
pyproject.toml's ``[project.entry-points."dualloop.*"]`` tables.

``shared`` names no loop module: the CLI's commands (``dualloop.commands``), the local
cloud's workers (``dualloop.workers``) and the local stack (``dualloop.stack``) are found
here by group. A group that is empty or an entry that does not load is a packaging bug (an
install older than the pyproject.toml it runs with), so it fails loudly, naming the fix.
"""

from __future__ import annotations

from importlib.metadata import EntryPoint, entry_points

COMMANDS = "dualloop.commands"
WORKERS = "dualloop.workers"
STACK = "dualloop.stack"

REINSTALL = "reinstall the project (`pip install -e .`, or `make install`) so its entry points are current"


class RegistryError(RuntimeError):
    """The installed metadata does not declare what the code needs."""


def declared(group: str) -> list[EntryPoint]:
    """The group's entry points, sorted by name (the metadata's order is not a contract)."""
    found = sorted(entry_points(group=group), key=lambda ep: ep.name)
    if not found:
        raise RegistryError(f"no entry points in group {group!r} are installed: {REINSTALL}.")
    return found


def load(group: str) -> dict[str, object]:
    """Every entry point of ``group``, loaded: name → object."""
    return {ep.name: _load(ep) for ep in declared(group)}


def load_one(group: str, name: str) -> object:
    for ep in declared(group):
        if ep.name == name:
            return _load(ep)
    raise RegistryError(f"no entry point {name!r} in group {group!r} is installed: {REINSTALL}.")


def _load(ep: EntryPoint) -> object:
    try:
        return ep.load()
    except (ImportError, AttributeError) as exc:
        raise RegistryError(
            f"entry point {ep.name} = {ep.value!r} ({ep.group}) does not load: {exc}"
        ) from exc

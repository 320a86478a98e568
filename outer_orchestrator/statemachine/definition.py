"""The outer loop's ASL, expanded from ``outer_loop.asl.json``: its repetition declared once.

The JSON file is the one reviewable definition. Apart from ASL, it declares, once each and by
name, what many states share (top-level ``x-`` sections, removed here):

- ``x-retriers``: retriers. A ``Retry`` item that is a name is that retrier.
- ``x-catchers``: catchers. A ``Catch`` item that is a name is that catcher.
- ``x-templates``: partial states. A state with ``"x-template": <name>`` is that template's
  fields plus its own (objects merged key by key; a state adds fields, it never redefines one).

Every consumer takes the expanded text from here: the local cloud (``local_stack``), the
promotion machine derived from it (``promotion_asl``) and CDK (``infra``), so the deployed
definitions stay byte for byte the same everywhere. The expansion keeps the declared key order
and writes ``json.dumps(indent=2)``; tests/unit/snapshots/outer_loop.asl.json is the result
(tests/unit/test_outer_loop_definition.py). ``python -m outer_orchestrator.statemachine.definition``
prints it.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

SOURCE = Path(__file__).resolve().parent / "outer_loop.asl.json"
RETRIERS = "x-retriers"
CATCHERS = "x-catchers"
TEMPLATES = "x-templates"
TEMPLATE = "x-template"
ABOUT = "x-about"
_SECTIONS = (ABOUT, RETRIERS, CATCHERS, TEMPLATES)


class DefinitionError(ValueError):
    """The source refers to a declaration it lacks, declares one it never uses, or is malformed."""


def outer_loop_definition(source: str | None = None) -> str:
    """The outer loop's ASL as deployed (``${...}`` placeholders still in): ``source`` expanded,
    by default the repository's ``outer_loop.asl.json``."""
    document = json.loads(source if source is not None else SOURCE.read_text())
    return json.dumps(expand(document), indent=2) + "\n"


def outer_loop_document() -> dict[str, Any]:
    """The expanded outer loop as a dict (placeholders still in), for readers of its states."""
    document: dict[str, Any] = json.loads(outer_loop_definition())
    return document


def expand(document: dict[str, Any]) -> dict[str, Any]:
    """``document`` with its ``x-`` sections removed and every reference to them replaced."""
    unknown = sorted(k for k in document if k.startswith("x-") and k not in _SECTIONS)
    if unknown:
        raise DefinitionError(f"unknown top-level section(s) {unknown}: only {list(_SECTIONS)} are expanded")
    retriers = _section(document, RETRIERS)
    catchers = _section(document, CATCHERS)
    templates = _section(document, TEMPLATES)
    used: set[tuple[str, str]] = set()

    states: dict[str, Any] = {}
    for name, written in document["States"].items():
        if TEMPLATE in written:
            state = _from_template(name, written, templates)
            used.add((TEMPLATES, written[TEMPLATE]))
        else:
            state = dict(written)
        if "Retry" in state:
            state["Retry"] = _resolved(name, "Retry", state["Retry"], RETRIERS, retriers, used)
        if "Catch" in state:
            state["Catch"] = _resolved(name, "Catch", state["Catch"], CATCHERS, catchers, used)
        states[name] = state

    sections = {RETRIERS: retriers, CATCHERS: catchers, TEMPLATES: templates}
    declared = {(section, n) for section, named in sections.items() for n in named}
    if unused := sorted(f"{section}.{n}" for section, n in declared - used):
        raise DefinitionError(f"declared but never used (remove them): {unused}")
    # Only a state's own x- fields are ours (a Parameters key may well be an x-api-key header).
    if leftover := sorted(f"{n}.{k}" for n, s in states.items() for k in s if k.startswith("x-")):
        raise DefinitionError(
            f"x- fields are expanded only at the top level and as a state's x-template, left after expansion: {leftover}"
        )
    expanded = {k: v for k, v in document.items() if k not in _SECTIONS}
    expanded["States"] = states
    return expanded


def _section(document: dict[str, Any], key: str) -> dict[str, Any]:
    section = document.get(key, {})
    if not isinstance(section, dict):
        raise DefinitionError(f"{key} must map names to declarations, not {type(section).__name__}")
    return section


def _from_template(name: str, state: dict[str, Any], templates: dict[str, Any]) -> dict[str, Any]:
    template_name = state[TEMPLATE]
    if not isinstance(template_name, str) or template_name not in templates:
        raise DefinitionError(f"state {name}: no template {template_name!r} in {TEMPLATES}")
    own = {k: v for k, v in state.items() if k != TEMPLATE}
    return _merged(copy.deepcopy(templates[template_name]), own, f"state {name} (template {template_name})")


def _merged(base: dict[str, Any], own: dict[str, Any], where: str) -> dict[str, Any]:
    """``base`` then ``own``'s fields; objects merge key by key, any other field is added only once."""
    for key, value in own.items():
        if key not in base:
            base[key] = value
        elif isinstance(base[key], dict) and isinstance(value, dict):
            base[key] = _merged(base[key], value, f"{where}.{key}")
        else:
            raise DefinitionError(f"{where}: {key} is already set by the template; a state only adds fields")
    return base


def _resolved(
    state: str,
    field: str,
    items: Any,
    section: str,
    declared: dict[str, Any],
    used: set[tuple[str, str]],
) -> list[dict[str, Any]]:
    """A Retry or Catch list with every name replaced by its declaration (inline objects kept)."""
    if not isinstance(items, list):
        raise DefinitionError(f"state {state}: {field} must be a list of objects or names in {section}")
    resolved = []
    for item in items:
        if isinstance(item, str):
            if item not in declared:
                raise DefinitionError(
                    f"state {state}: {field} names {item!r}, which {section} does not declare"
                )
            used.add((section, item))
            resolved.append(copy.deepcopy(declared[item]))
        elif isinstance(item, dict):
            resolved.append(item)
        else:
            raise DefinitionError(f"state {state}: a {field} item is an object or a name, not {item!r}")
    return resolved


if __name__ == "__main__":
    print(outer_loop_definition(), end="")

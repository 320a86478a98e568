"""A pipeline's parameters as the command line gives them: ``NAME=VALUE`` pairs, checked and
typed against the definition's declarations the way the executor types them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from shared.local_cloud.sagemaker.errors import DefinitionError
from shared.local_cloud.sagemaker.expressions import (
    coerce_parameters,
)

if TYPE_CHECKING:
    pass


class ParameterError(ValueError):
    """A parameter the pipeline does not declare, or a value its type does not take."""


def parse_assignments(pairs: Sequence[str]) -> dict[str, str]:
    """``["MaxDepth=7", "Eta=0.1"]`` -> ``{"MaxDepth": "7", "Eta": "0.1"}``."""
    values: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip():
            raise ParameterError(f"{pair!r} is not NAME=VALUE")
        if name.strip() in values:
            raise ParameterError(f"parameter {name.strip()} is given twice")
        values[name.strip()] = value
    return values


def declared_parameters(definition: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return list(definition.get("Parameters") or [])


def check_parameters(definition: Mapping[str, Any], given: Mapping[str, str]) -> dict[str, Any]:
    """Every parameter's typed value (given or default), as the executor will see them.

    Raises ParameterError naming an unknown parameter (with the valid names) or a value its
    declared type does not take.
    """
    declared = declared_parameters(definition)
    names = [str(p["Name"]) for p in declared]
    unknown = sorted(set(given) - set(names))
    if unknown:
        valid = ", ".join(f"{p['Name']} ({p.get('Type', 'String')})" for p in declared)
        raise ParameterError(
            f"unknown pipeline parameter{'s' if len(unknown) > 1 else ''} {', '.join(unknown)}; "
            f"the pipeline declares: {valid}"
        )
    try:
        return coerce_parameters(declared, given)
    except DefinitionError as exc:
        raise ParameterError(str(exc)) from None

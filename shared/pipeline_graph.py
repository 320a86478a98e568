"""The pipeline-definition reader: the step graph of a definition, and when each step may run.

One reader for every consumer: the local executor (``shared/local_cloud/sagemaker``), the
cache plan (``inner_pipeline/cache_plan.py``) and the drawing (``shared/graph``). It imports
nothing from the local cloud, so drawing or planning a pipeline starts no AWS twin.

Edges, as SageMaker builds them:

- ``DependsOn`` (explicit);
- data dependencies: a step that reads ``{"Get": "Steps.X..."}`` (also through
  ``Std:JsonGet`` on X's property file) runs after X;
- branches: the steps of a ConditionStep's ``IfSteps`` / ``ElseSteps`` are nested in its
  arguments, not listed at the top level; each runs after the condition step and only if
  the condition's outcome selects its branch.

A step whose branch was not taken is never executed (it does not appear among the
execution's steps), and so is every step that depends on a step that was not executed,
transitively. The execution still succeeds: that is how a ConditionStep routes work.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any

STEP_PATH = re.compile(r"^Steps\.(?P<step>[A-Za-z0-9_-]+)(?P<rest>.*)$")


class PipelineError(Exception):
    """Base of every error raised on purpose about a pipeline definition or its execution
    (the local executor calls it ``LocalExecutorError``)."""


class DefinitionError(PipelineError):
    """The pipeline definition cannot be run (bad references, cycles, bad parameters)."""


def walk_gets(value: Any) -> Iterator[str]:
    """Every ``Get`` path inside ``value`` (a definition fragment)."""
    if isinstance(value, Mapping):
        if set(value) == {"Get"} and isinstance(value["Get"], str):
            yield value["Get"]
            return
        for item in value.values():
            yield from walk_gets(item)
    elif isinstance(value, list):
        for item in value:
            yield from walk_gets(item)


def step_references(value: Any) -> set[str]:
    """Names of the steps a definition fragment reads from (its implicit data dependencies)."""
    return {m["step"] for path in walk_gets(value) if (m := STEP_PATH.match(path))}


SUPPORTED_VERSION = "2020-12-01"


@dataclass(frozen=True)
class Branch:
    condition: str
    outcome: bool  # True: the step is in IfSteps; False: in ElseSteps


@dataclass(frozen=True)
class StepNode:
    name: str
    type: str
    spec: Mapping[str, Any]
    depends_on: frozenset[str]
    branch: Branch | None = None

    @property
    def display_name(self) -> str | None:
        value = self.spec.get("DisplayName")
        return str(value) if value is not None else None

    @property
    def description(self) -> str | None:
        value = self.spec.get("Description")
        return str(value) if value is not None else None


class Decision(Enum):
    WAIT = "wait"  # a dependency has not finished
    RUN = "run"
    SKIP = "skip"  # not executed: a branch not taken, or a dependency that did not run


# Step states the graph reasons about; the executor maps its records onto these.
SUCCEEDED = "Succeeded"
NOT_EXECUTED = "NotExecuted"
FAILED = "Failed"


@dataclass(frozen=True)
class PipelineGraph:
    nodes: Mapping[str, StepNode]  # in definition order (branches after their condition)

    @classmethod
    def from_definition(cls, definition: Mapping[str, Any]) -> PipelineGraph:
        version = definition.get("Version")
        if version is not None and version != SUPPORTED_VERSION:
            raise DefinitionError(f"pipeline definition version {version!r} is not {SUPPORTED_VERSION!r}")
        steps = definition.get("Steps")
        if not isinstance(steps, list):
            raise DefinitionError("pipeline definition has no Steps list")
        flat: list[tuple[Mapping[str, Any], Branch | None]] = list(_flatten(steps, None))
        names = [str(spec.get("Name")) for spec, _ in flat]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise DefinitionError(f"duplicate step name(s): {', '.join(duplicates)}")
        known = set(names)
        nodes: dict[str, StepNode] = {}
        for spec, branch in flat:
            name = str(spec["Name"])
            explicit = spec.get("DependsOn") or []
            if not isinstance(explicit, list):
                raise DefinitionError(f"step {name!r}: DependsOn must be a list")
            deps = {str(d) for d in explicit} | step_references(_own_fields(spec))
            if branch is not None:
                deps.add(branch.condition)
            unknown = sorted(deps - known)
            if unknown:
                raise DefinitionError(f"step {name!r} depends on unknown step(s): {', '.join(unknown)}")
            if name in deps:
                raise DefinitionError(f"step {name!r} depends on itself")
            nodes[name] = StepNode(name, str(spec.get("Type")), spec, frozenset(deps), branch)
        graph = cls(nodes)
        graph.topological_order()  # raises on a cycle
        return graph

    def topological_order(self) -> list[str]:
        remaining = {name: set(node.depends_on) for name, node in self.nodes.items()}
        order: list[str] = []
        while remaining:
            ready = [name for name, deps in remaining.items() if not deps]
            if not ready:
                raise DefinitionError(f"dependency cycle among steps: {', '.join(sorted(remaining))}")
            for name in ready:
                order.append(name)
                del remaining[name]
            for deps in remaining.values():
                deps.difference_update(ready)
        return order

    def definition_order(self) -> list[str]:
        """A topological order that keeps the definition's order where it can (it reads better
        than the executor's waves: a condition on constants is not listed before the jobs)."""
        self.topological_order()  # raises on a cycle
        placed: list[str] = []
        while len(placed) < len(self.nodes):
            placed.append(
                next(
                    n for n, node in self.nodes.items() if n not in placed and node.depends_on <= set(placed)
                )
            )
        return placed

    def decide(self, name: str, states: Mapping[str, str], outcomes: Mapping[str, bool]) -> Decision:
        """Whether ``name`` can run now, given the states of finished steps and the outcomes of
        finished condition steps. A failed dependency also yields SKIP: the executor starts no
        step after a failure anyway."""
        node = self.nodes[name]
        waiting = False
        for dep in node.depends_on:
            state = states.get(dep)
            if state in (NOT_EXECUTED, FAILED):
                return Decision.SKIP
            if state != SUCCEEDED:
                waiting = True
        if waiting:
            return Decision.WAIT
        if node.branch is not None and outcomes.get(node.branch.condition) != node.branch.outcome:
            return Decision.SKIP
        return Decision.RUN


def _flatten(steps: list[Any], branch: Branch | None) -> Iterator[tuple[Mapping[str, Any], Branch | None]]:
    for spec in steps:
        if not isinstance(spec, Mapping) or not spec.get("Name") or not spec.get("Type"):
            raise DefinitionError(f"every step needs a Name and a Type, got {str(spec)[:200]}")
        yield spec, branch
        if spec["Type"] == "Condition":
            arguments = spec.get("Arguments") or {}
            for key, outcome in (("IfSteps", True), ("ElseSteps", False)):
                nested = arguments.get(key) or []
                if not isinstance(nested, list):
                    raise DefinitionError(f"condition step {spec['Name']!r}: {key} must be a list")
                yield from _flatten(nested, Branch(str(spec["Name"]), outcome))


def _own_fields(spec: Mapping[str, Any]) -> dict[str, Any]:
    """The parts of a step that may read other steps: all but its name, type, DependsOn and,
    for a condition step, the nested branch steps (they are steps of their own)."""
    own = {k: v for k, v in spec.items() if k not in ("Name", "Type", "DependsOn")}
    if spec.get("Type") == "Condition":
        own["Arguments"] = {
            k: v for k, v in (spec.get("Arguments") or {}).items() if k not in ("IfSteps", "ElseSteps")
        }
    return own

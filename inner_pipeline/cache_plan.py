"""Which steps of the next execution will hit the step cache, and why the others will not.

SageMaker shows a cache hit only after the fact (``CacheHitResult`` on a finished step). A
plan answers before anything runs: ``plan_cache(definition, parameters, store, now)`` walks
the step graph in order and, for each step with CacheConfig, resolves its cache-key
arguments exactly as the local executor would (the executor's own step ``resolve_arguments``
and ``cache_key``), with the given parameters and the properties of the upstream steps that
will hit (read from their cache entries), then asks the executor's store (``lookup``) whether
a fresh entry has that key. A miss is explained by comparing with the step's entries:

- ``no previous successful run``;
- ``entry expired (ExpireAfter P30D, age 31d 2h)``: an entry with this very key is too old;
- ``arguments differ: HyperParameters.max_depth 5 → 7`` / ``input changed:
  ProcessingInputs[data].S3Input.S3Uri s3://a/ → s3://b/``: the diff against the step's most
  recent successful run (inputs are ProcessingInputs and InputDataConfig);
- ``upstream step Train will run, so its outputs are unknown until then``;
- ``caching disabled``.

Steps without a cache key (Condition, RegisterModel, Fail, ...) are listed as ``runs every
time``. ``plan_cache`` is pure: no clock, no AWS. Where the store comes from is the caller's
business: the local cloud's own ``InMemoryStepCache`` when it runs in this process, or one
rebuilt from a pipeline's execution history by ``store_from_history`` (``cache_history.py``; for a local cloud in
another process, and for AWS, where no store can be read at all).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from inner_pipeline.cache_history import CacheHistory, History, StoreHistory, store_from_history
from inner_pipeline.pipeline_parameters import (
    ParameterError,
    check_parameters,
    parse_assignments,
)
from shared.local_cloud.sagemaker.cache import (
    CacheEntry,
    CachePolicy,
    cache_key,
    cacheable,
    key_attributes,
)
from shared.local_cloud.sagemaker.errors import ExpressionError
from shared.local_cloud.sagemaker.expressions import (
    ExecutionVariables,
    Resolver,
    to_text,
)
from shared.local_cloud.sagemaker.steps import executor_for
from shared.pipeline_graph import PipelineGraph, StepNode, step_references

if TYPE_CHECKING:
    pass

# What the planned execution's own identifiers resolve to: unknown until it starts, so an
# argument that reads one differs from every previous run (and the diff shows it).
NEXT_EXECUTION_ID = "<next-execution>"
NEXT_JOB_NAME = "<next-job>"
# The attributes that are a step's inputs (a miss there reads "input changed").
INPUT_ATTRIBUTES = frozenset(
    {"ProcessingInputs", "InputDataConfig", "TransformInput", "TrainingJobDefinition.InputDataConfig"}
)
_SHORT = 72


class Outcome(StrEnum):
    HIT = "hit"
    MISS = "miss"
    RUNS = "runs every time"  # the step type has no cache key
    UNKNOWN = "unknown"  # its cache-key arguments cannot be resolved before it runs


@dataclass(frozen=True)
class Difference:
    """One leaf of a step's cache-key arguments that differs from its last successful run."""

    path: str  # "HyperParameters.max_depth", "ProcessingInputs[data].S3Input.S3Uri"
    before: Any  # None: absent
    after: Any

    @property
    def is_input(self) -> bool:
        parts = self.path.split("[", 1)[0].split(".")
        return parts[0] in INPUT_ATTRIBUTES or ".".join(parts[:2]) in INPUT_ATTRIBUTES

    def __str__(self) -> str:
        return f"{self.path} {_shown(self.before)} → {_shown(self.after)}"


@dataclass(frozen=True)
class StepPlan:
    name: str
    type: str
    outcome: Outcome
    reason: str
    # hit: the execution whose outputs are reused; miss: the run compared with.
    source_execution_arn: str | None = None
    age: timedelta | None = None  # of that run's entry
    expire_after: str | None = None
    differences: tuple[Difference, ...] = ()
    upstream: tuple[str, ...] = ()  # the steps that will run first and make this one miss
    branch: str | None = None  # "CheckQuality=true": runs only when the condition selects it

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "type": self.type,
            "outcome": self.outcome.value,
            "reason": self.reason,
            "source_execution_arn": self.source_execution_arn,
            "age_seconds": None if self.age is None else round(self.age.total_seconds(), 3),
            "expire_after": self.expire_after,
            "differences": [{"path": d.path, "before": d.before, "after": d.after} for d in self.differences],
            "upstream": list(self.upstream),
            "branch": self.branch,
        }


@dataclass(frozen=True)
class CachePlan:
    pipeline_name: str
    parameters: Mapping[str, Any]  # every parameter, typed: the given values and the defaults
    now: datetime
    steps: tuple[StepPlan, ...]  # in the order the executor would reach them

    def step(self, name: str) -> StepPlan:
        for plan in self.steps:
            if plan.name == name:
                return plan
        raise KeyError(f"no step {name!r} in the plan (steps: {', '.join(s.name for s in self.steps)})")

    @property
    def hits(self) -> tuple[str, ...]:
        return tuple(s.name for s in self.steps if s.outcome is Outcome.HIT)

    def as_dict(self) -> dict[str, Any]:
        return {
            "pipeline_name": self.pipeline_name,
            "parameters": dict(self.parameters),
            "now": self.now.isoformat(),
            "hits": list(self.hits),
            "steps": [s.as_dict() for s in self.steps],
        }


# ---- the plan --------------------------------------------------------------------------------------


def plan_cache(
    definition: str | Mapping[str, Any],
    parameters: Mapping[str, str],
    store: CacheHistory,
    now: datetime,
    *,
    pipeline_name: str,
    pipeline_arn: str | None = None,
) -> CachePlan:
    """The cache outcome of every step of an execution started now with ``parameters``.

    ``parameters`` are the API's strings (as StartPipelineExecution takes them); ``now`` is on
    the clock the store's ``finished_at`` is on. Raises ParameterError for bad parameters and
    DefinitionError for a definition the executor would refuse.
    """
    spec: Mapping[str, Any] = json.loads(definition) if isinstance(definition, str) else definition
    graph = PipelineGraph.from_definition(spec)
    values = check_parameters(spec, parameters)
    arn = pipeline_arn or f"arn:aws:sagemaker:::pipeline/{pipeline_name}"
    known: dict[str, Mapping[str, Any]] = {}  # properties of the steps that will hit

    def no_property_file(step: str, name: str) -> Any:
        raise ExpressionError(f"property file {name} of step {step} is read only when the step runs")

    def no_read(uri: str) -> Any:
        raise ExpressionError(f"{uri} is read only when the step runs")

    resolver = Resolver(
        parameters=values,
        execution=ExecutionVariables(pipeline_name, arn, f"{arn}/execution/{NEXT_EXECUTION_ID}", now),
        step_properties=lambda step: known[step],
        property_file=no_property_file,
        read_json=no_read,
        experiment_config=spec.get("PipelineExperimentConfig"),
        now=lambda: now,
    )
    plans: list[StepPlan] = []
    for name in graph.definition_order():
        node = graph.nodes[name]
        plan, properties = _plan_step(node, resolver, store, now, pipeline_name, known)
        if properties is not None:
            known[name] = properties
        plans.append(plan)
    return CachePlan(pipeline_name, values, now, tuple(plans))


def _plan_step(
    node: StepNode,
    resolver: Resolver,
    store: CacheHistory,
    now: datetime,
    pipeline_name: str,
    known: Mapping[str, Mapping[str, Any]],
) -> tuple[StepPlan, Mapping[str, Any] | None]:
    branch = f"{node.branch.condition}={str(node.branch.outcome).lower()}" if node.branch else None
    base = StepPlan(node.name, node.type, Outcome.MISS, "", branch=branch)
    if not cacheable(node.type):
        return replace(base, outcome=Outcome.RUNS, reason="runs every time"), None
    policy = CachePolicy.from_step(node.spec)
    if not policy.enabled:
        config = node.spec.get("CacheConfig")
        why = "no CacheConfig" if not config else "CacheConfig.Enabled is false"
        return replace(base, reason=f"caching disabled ({why})"), None
    expire_text = str((node.spec.get("CacheConfig") or {}).get("ExpireAfter") or "") or None
    base = replace(base, expire_after=expire_text)

    arguments = node.spec.get("Arguments") or {}
    key_arguments = {a: arguments[a] for a in key_attributes(node.type) if a in arguments}
    waiting = tuple(sorted(step_references(key_arguments) - set(known)))
    if waiting:
        names = ", ".join(waiting)
        reason = (
            f"upstream step {names} will run, so its outputs are unknown until then"
            if len(waiting) == 1
            else f"upstream steps {names} will run, so their outputs are unknown until then"
        )
        return replace(base, reason=reason, upstream=waiting), None
    try:
        # Only the cache-key attributes: the rest (output locations, ...) may read values
        # that exist only once the execution runs, and they do not decide a hit.
        keyed = replace(node, spec={**node.spec, "Arguments": key_arguments})
        resolved = executor_for(keyed).resolve_arguments(keyed, resolver, NEXT_JOB_NAME)
    except ExpressionError as exc:
        return replace(base, outcome=Outcome.UNKNOWN, reason=f"cannot resolve its arguments: {exc}"), None
    key = cache_key(node.type, resolved)
    hit = store.lookup(pipeline_name, node.name, key, max_age=policy.expire_after, now=now)
    if hit is not None:
        age = now - hit.finished_at
        reason = f"reuses {_execution_id(hit.execution_arn)} ({_age(age)} old)"
        plan = replace(
            base, outcome=Outcome.HIT, reason=reason, source_execution_arn=hit.execution_arn, age=age
        )
        return plan, hit.properties
    return _explain_miss(base, node, resolved, key, store.entries(pipeline_name, node.name), now), None


def _explain_miss(
    base: StepPlan,
    node: StepNode,
    resolved: Mapping[str, Any],
    key: str,
    entries: Sequence[CacheEntry],
    now: datetime,
) -> StepPlan:
    if not entries:
        return replace(base, reason="no previous successful run")
    same = [e for e in entries if e.key == key]
    if same:  # lookup found none of them fresh
        newest = max(same, key=lambda e: e.finished_at)
        age = now - newest.finished_at
        return replace(
            base,
            reason=f"entry expired (ExpireAfter {base.expire_after}, age {_age(age)})",
            source_execution_arn=newest.execution_arn,
            age=age,
        )
    latest = max(entries, key=lambda e: e.finished_at)
    attributes = key_attributes(node.type)
    differences = tuple(
        d for a in attributes for d in _differences(a, latest.properties.get(a), resolved.get(a))
    )
    miss = replace(base, source_execution_arn=latest.execution_arn, age=now - latest.finished_at)
    if not differences or cache_key(node.type, latest.properties) != latest.key:
        # The entry's properties do not hold the arguments its key was made from.
        return replace(
            miss, reason="arguments differ from the last successful run (not recorded in its entry)"
        )
    inputs = [str(d) for d in differences if d.is_input]
    others = [str(d) for d in differences if not d.is_input]
    parts = ([f"input changed: {'; '.join(inputs)}"] if inputs else []) + (
        [f"arguments differ: {'; '.join(others)}"] if others else []
    )
    return replace(miss, reason="; ".join(parts), differences=differences)


def _differences(path: str, before: Any, after: Any) -> Iterator[Difference]:
    if before == after:
        return
    if isinstance(before, Mapping) and isinstance(after, Mapping):
        for k in sorted(set(before) | set(after), key=str):
            yield from _differences(f"{path}.{k}", before.get(k), after.get(k))
        return
    if isinstance(before, list) and isinstance(after, list):
        named_before, named_after = _by_name(before), _by_name(after)
        if named_before is not None and named_after is not None:
            for k in [*named_before, *(n for n in named_after if n not in named_before)]:
                yield from _differences(f"{path}[{k}]", named_before.get(k), named_after.get(k))
            return
        if len(before) == len(after):
            for i, (b, a) in enumerate(zip(before, after, strict=True)):
                yield from _differences(f"{path}[{i}]", b, a)
            return
    yield Difference(path, before, after)


def _by_name(items: list[Any]) -> dict[str, Any] | None:
    """A list of named elements (InputName, ChannelName, ...) keyed by name; None otherwise."""
    named: dict[str, Any] = {}
    for item in items:
        if not isinstance(item, Mapping):
            return None
        name = next((v for k, v in item.items() if k.endswith("Name") and isinstance(v, str)), None)
        if name is None or name in named:
            return None
        named[name] = item
    return named


def _shown(value: Any) -> str:
    if value is None:
        return "(none)"
    text = to_text(value)
    return text if len(text) <= _SHORT else text[: _SHORT - 1] + "…"


def _execution_id(arn: str) -> str:
    return arn.rsplit("/", 1)[-1]


def _age(age: timedelta) -> str:
    seconds = max(0, int(age.total_seconds()))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, seconds = divmod(rest, 60)
    units = [(days, "d"), (hours, "h"), (minutes, "m"), (seconds, "s")]
    shown = [f"{n}{u}" for n, u in units if n][:2]
    return " ".join(shown) or "0s"


# The command line imports these from here: the plan, its parameters and its store's history.
__all__ = [
    "CacheHistory",
    "CachePlan",
    "Difference",
    "History",
    "Outcome",
    "ParameterError",
    "StepPlan",
    "StoreHistory",
    "check_parameters",
    "parse_assignments",
    "plan_cache",
    "store_from_history",
]

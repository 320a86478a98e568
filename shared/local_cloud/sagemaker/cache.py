"""SageMaker step caching ("step signature caching"), as the local executor applies it.

Semantics (SageMaker developer guide, "Caching pipeline steps" and "Default cache key
attributes by pipeline step type"):

- Only steps with ``"CacheConfig": {"Enabled": true}`` look for a previous run, and only
  job steps have a cache key (see ``CACHE_KEY_ATTRIBUTES``); CacheConfig on any other step
  type is ignored.
- The key is the step type plus the step's *resolved* values of those attributes: a changed
  parameter, code URI or upstream output URI changes the key; a changed output location
  (ProcessingOutputConfig, OutputDataConfig) does not. What the URIs point to is not
  looked at: new data under an unchanged URI still hits (hence content-addressed code keys
  and per-run ingest prefixes, ARCHITECTURE rule 5).
- A hit reuses the most recent *successful* run of the same step (same pipeline, same
  step name, same key) that finished no longer than ``ExpireAfter`` ago, and records that
  run's execution as ``CacheHitResult.SourcePipelineExecutionArn``. Failed runs are never
  reused. A run of a step succeeds on its own: a later step's failure does not stop it from
  being reused (that is what makes "fix the failing step and rerun" cheap).
- A cache hit is not itself a source: the entry keeps pointing at the run that computed the
  outputs, so ``ExpireAfter`` keeps measuring the age of the actual computation.
- ``ExpireAfter`` is an ISO 8601 duration (``P30D``, ``PT1H``, ``P4DT12H``); SageMaker also
  accepts it without the ``P`` and in lower case (``30d``, ``T16m``). A year counts 365
  days and a month 30. Without ``ExpireAfter`` entries do not expire.

Store: ``InMemoryStepCache``, one per local cloud (the pipeline worker owns it), keyed by
pipeline name and step name. It lives exactly as long as the moto state whose executions
its entries point at (both are dropped when the local cloud stops), so a hit never names
an execution that does not exist. Direct ``run_definition`` calls pass their own.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from shared.local_cloud.sagemaker.errors import DefinitionError

# The attributes SageMaker compares per step type (only the cacheable types this executor runs;
# Lambda and Callback steps are not cached on SageMaker either).
CACHE_KEY_ATTRIBUTES: Mapping[str, tuple[str, ...]] = {
    "Processing": ("AppSpecification", "Environment", "ProcessingInputs"),
    "Training": (
        "AlgorithmSpecification",
        "CheckpointConfig",
        "DebugHookConfig",
        "DebugRuleConfigurations",
        "Environment",
        "HyperParameters",
        "InputDataConfig",
    ),
    # Only these children of TrainingJobDefinition count ("Default cache key attributes by
    # pipeline step type", Tuning step); a dotted name is a child attribute.
    "Tuning": (
        "HyperParameterTuningJobConfig",
        "TrainingJobDefinition.AlgorithmSpecification",
        "TrainingJobDefinition.HyperParameterRanges",
        "TrainingJobDefinition.InputDataConfig",
        "TrainingJobDefinition.StaticHyperParameters",
        "TrainingJobDefinition.TuningObjective",
        "TrainingJobDefinitions",
    ),
    "Transform": ("DataProcessing", "Environment", "ModelName", "TransformInput"),
}

_DURATION = re.compile(
    r"^P?(?:(?P<years>\d+)Y)?(?:(?P<months>\d+)M)?(?:(?P<weeks>\d+)W)?(?:(?P<days>\d+)D)?"
    r"(?:T(?:(?P<hours>\d+)H)?(?:(?P<minutes>\d+)M)?(?:(?P<seconds>\d+)S)?)?$",
    re.IGNORECASE,
)


def key_attributes(step_type: str) -> tuple[str, ...]:
    """The top-level arguments a step type's cache key reads (a child counts as its parent)."""
    return tuple(dict.fromkeys(a.split(".", 1)[0] for a in CACHE_KEY_ATTRIBUTES[step_type]))


def cacheable(step_type: str) -> bool:
    return step_type in CACHE_KEY_ATTRIBUTES


def cache_key(step_type: str, resolved_arguments: Mapping[str, Any]) -> str:
    """SHA-256 of the step type and its cache-relevant resolved arguments (canonical JSON)."""
    attributes = CACHE_KEY_ATTRIBUTES.get(step_type)
    if attributes is None:
        raise ValueError(f"step type {step_type!r} has no cache key")
    signature = {"StepType": step_type, **{a: _attribute(resolved_arguments, a) for a in attributes}}
    canonical = json.dumps(signature, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _attribute(arguments: Mapping[str, Any], dotted: str) -> Any:
    value: Any = arguments
    for part in dotted.split("."):
        value = value.get(part) if isinstance(value, Mapping) else None
    return value


def parse_duration(text: str) -> timedelta:
    """An ISO 8601 duration as SageMaker's ExpireAfter takes it."""
    match = _DURATION.match(text.strip())
    if (
        not text.strip()
        or match is None
        or not any(match.groupdict().values())
        or text.strip().upper().endswith("T")
    ):
        raise DefinitionError(f"ExpireAfter {text!r} is not an ISO 8601 duration such as P30D or PT1H")
    n = {k: int(v or 0) for k, v in match.groupdict().items()}
    return timedelta(
        days=n["years"] * 365 + n["months"] * 30 + n["weeks"] * 7 + n["days"],
        hours=n["hours"],
        minutes=n["minutes"],
        seconds=n["seconds"],
    )


@dataclass(frozen=True)
class CachePolicy:
    enabled: bool
    expire_after: timedelta | None

    @classmethod
    def from_step(cls, spec: Mapping[str, Any]) -> CachePolicy:
        config = spec.get("CacheConfig") or {}
        enabled = bool(config.get("Enabled")) and cacheable(str(spec.get("Type")))
        expire = config.get("ExpireAfter")
        return cls(enabled, parse_duration(str(expire)) if enabled and expire else None)


@dataclass(frozen=True)
class CacheEntry:
    pipeline_name: str
    step_name: str
    key: str
    execution_arn: str
    finished_at: datetime  # AWS time (the local cloud's clock)
    properties: Mapping[str, Any]
    metadata: Mapping[str, Any]


class StepCache(Protocol):
    def lookup(
        self, pipeline_name: str, step_name: str, key: str, *, max_age: timedelta | None, now: datetime
    ) -> CacheEntry | None: ...

    def record(self, entry: CacheEntry) -> None: ...


class InMemoryStepCache:
    """Successful step runs by (pipeline, step); thread-safe (steps finish on many threads)."""

    def __init__(self) -> None:
        self._entries: dict[tuple[str, str], list[CacheEntry]] = {}
        self._lock = threading.Lock()

    def lookup(
        self, pipeline_name: str, step_name: str, key: str, *, max_age: timedelta | None, now: datetime
    ) -> CacheEntry | None:
        with self._lock:
            candidates = [e for e in self._entries.get((pipeline_name, step_name), []) if e.key == key]
        fresh = [e for e in candidates if max_age is None or now - e.finished_at <= max_age]
        return max(fresh, key=lambda e: e.finished_at, default=None)

    def entries(self, pipeline_name: str, step_name: str) -> list[CacheEntry]:
        """Every recorded run of a step, oldest first (for planning, not for hits)."""
        with self._lock:
            return list(self._entries.get((pipeline_name, step_name), []))

    def record(self, entry: CacheEntry) -> None:
        with self._lock:
            self._entries.setdefault((entry.pipeline_name, entry.step_name), []).append(entry)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

"""A tuning job's search space (``ParameterRanges``) and the strategies that walk it.

Semantics from the SageMaker API reference (``IntegerParameterRange``,
``ContinuousParameterRange``, ``CategoricalParameterRange``, ``HyperParameterTuningJobConfig``)
and the developer guide ("Define hyperparameter ranges", "How hyperparameter tuning works"):

- ``ScalingType`` Linear, Logarithmic (MinValue > 0) or ReverseLogarithmic (continuous only,
  0 <= MinValue < MaxValue < 1); ``Auto`` lets SageMaker choose: here it is Linear.
- ``Random``: independent draws. ``Grid``: categorical ranges only, one job per distinct
  combination (MaxNumberOfTrainingJobs, if given, must equal that count). ``Bayesian``:
  optuna's TPE sampler, told each finished trial's objective (a failed trial is told FAIL).
  ``Hyperband`` stops trials early from per-epoch metrics, which local jobs do not stream:
  refused with a clear error.
- Values reach the training job as strings, as on SageMaker.
"""

from __future__ import annotations

import itertools
import math
import random
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import optuna

from shared.local_cloud.sagemaker.errors import StepFailure

optuna.logging.set_verbosity(optuna.logging.WARNING)

STRATEGIES = ("Bayesian", "Random", "Grid", "Hyperband")
_SCALINGS = ("Auto", "Linear", "Logarithmic", "ReverseLogarithmic")


def _bad(message: str) -> StepFailure:
    return StepFailure(f"ClientError: ValidationException: {message}")


@dataclass(frozen=True)
class Dimension:
    name: str
    kind: str  # Integer | Continuous | Categorical
    low: float = 0.0
    high: float = 0.0
    scaling: str = "Linear"
    values: tuple[str, ...] = ()

    def from_unit(self, u: float) -> str:
        """The value at ``u`` in [0, 1] of this range's scale, as the string a job receives."""
        if self.kind == "Categorical":
            return self.values[min(int(u * len(self.values)), len(self.values) - 1)]
        if self.scaling == "Logarithmic":
            x = math.exp(math.log(self.low) + u * (math.log(self.high) - math.log(self.low)))
        elif self.scaling == "ReverseLogarithmic":
            lo, hi = math.log(1 - self.high), math.log(1 - self.low)
            x = 1 - math.exp(hi - u * (hi - lo))
        else:
            x = self.low + u * (self.high - self.low)
        return self.render(x)

    def render(self, x: float) -> str:
        x = min(max(x, self.low), self.high)
        return str(round(x)) if self.kind == "Integer" else repr(float(x))


def parse_ranges(ranges: Mapping[str, Any]) -> list[Dimension]:
    dims: list[Dimension] = []
    for kind in ("Integer", "Continuous"):
        for item in ranges.get(f"{kind}ParameterRanges") or []:
            name = str(item["Name"])
            try:
                low, high = float(item["MinValue"]), float(item["MaxValue"])
            except (KeyError, ValueError):
                raise _bad(f"{kind} range {name!r}: MinValue and MaxValue must be numbers") from None
            scaling = str(item.get("ScalingType") or "Auto")
            if scaling not in _SCALINGS:
                raise _bad(f"range {name!r}: ScalingType {scaling!r} is not one of {', '.join(_SCALINGS)}")
            if low > high:
                raise _bad(f"range {name!r}: MinValue {low} is greater than MaxValue {high}")
            if scaling == "Logarithmic" and low <= 0:
                raise _bad(f"range {name!r}: Logarithmic scaling needs MinValue > 0")
            if scaling == "ReverseLogarithmic" and (kind == "Integer" or not 0 <= low < high < 1):
                raise _bad(
                    f"range {name!r}: ReverseLogarithmic scaling is for continuous ranges with 0 <= MinValue < MaxValue < 1"
                )
            dims.append(Dimension(name, kind, low, high, "Linear" if scaling == "Auto" else scaling))
    for item in ranges.get("CategoricalParameterRanges") or []:
        values = tuple(str(v) for v in item.get("Values") or [])
        if not values:
            raise _bad(f"categorical range {item.get('Name')!r} has no Values")
        dims.append(Dimension(str(item["Name"]), "Categorical", values=values))
    if ranges.get("AutoParameters"):
        raise _bad("AutoParameters (Autotune) is not supported locally: give explicit ranges")
    names = [d.name for d in dims]
    if len(set(names)) != len(names):
        raise _bad(f"a hyperparameter appears in more than one range: {sorted(names)}")
    return dims


class Strategy(Protocol):
    """Proposes hyperparameters; thread-safe (trials finish on several threads)."""

    def propose(self) -> tuple[Any, dict[str, str]]:
        """(a handle for ``observe``, the hyperparameters of the next trial)."""
        ...

    def observe(self, handle: Any, objective: float | None) -> None:
        """The trial's objective value, or None if it failed or had no objective."""
        ...


class RandomStrategy:
    def __init__(self, dims: Sequence[Dimension], seed: int | None) -> None:
        self._dims = dims
        self._rng = random.Random(seed)  # noqa: S311 - sampling, not secrets
        self._lock = threading.Lock()

    def propose(self) -> tuple[Any, dict[str, str]]:
        with self._lock:
            return None, {d.name: d.from_unit(self._rng.random()) for d in self._dims}

    def observe(self, handle: Any, objective: float | None) -> None:
        return None


class GridStrategy:
    def __init__(self, dims: Sequence[Dimension]) -> None:
        self._combinations = iter(
            [dict(zip([d.name for d in dims], combo, strict=True)) for combo in grid(dims)]
        )
        self._lock = threading.Lock()

    def propose(self) -> tuple[Any, dict[str, str]]:
        with self._lock:
            return None, next(self._combinations)

    def observe(self, handle: Any, objective: float | None) -> None:
        return None


def grid(dims: Sequence[Dimension]) -> list[tuple[str, ...]]:
    return list(itertools.product(*(d.values for d in dims)))


class BayesianStrategy:
    """optuna's TPE on the unit cube of each range's scale (so every ScalingType behaves alike)."""

    def __init__(self, dims: Sequence[Dimension], seed: int | None, maximize: bool) -> None:
        self._dims = dims
        self._study = optuna.create_study(
            direction="maximize" if maximize else "minimize",
            sampler=optuna.samplers.TPESampler(seed=seed, n_startup_trials=min(10, max(2, len(dims) * 2))),
        )
        self._lock = threading.Lock()

    def propose(self) -> tuple[Any, dict[str, str]]:
        space: dict[str, optuna.distributions.BaseDistribution] = {
            d.name: (
                optuna.distributions.CategoricalDistribution(list(d.values))
                if d.kind == "Categorical"
                else optuna.distributions.FloatDistribution(0.0, 1.0)
            )
            for d in self._dims
        }
        with self._lock:
            trial = self._study.ask(space)
        return trial, {
            d.name: (
                str(trial.params[d.name]) if d.kind == "Categorical" else d.from_unit(trial.params[d.name])
            )
            for d in self._dims
        }

    def observe(self, handle: Any, objective: float | None) -> None:
        with self._lock:
            if objective is None:
                self._study.tell(handle, state=optuna.trial.TrialState.FAIL)
            else:
                self._study.tell(handle, objective)


def plan(config: Mapping[str, Any]) -> tuple[Strategy, int]:
    """The strategy of a ``HyperParameterTuningJobConfig`` and how many trials it runs."""
    strategy = str(config.get("Strategy") or "Bayesian")
    if strategy not in STRATEGIES:
        raise _bad(f"Strategy {strategy!r} is not one of {', '.join(STRATEGIES)}")
    if strategy == "Hyperband":
        raise StepFailure(
            "ClientError: the Hyperband tuning strategy is not supported locally: it stops trials early from the "
            "metrics each training job emits per epoch, which local jobs do not stream; use Bayesian or Random"
        )
    if str(config.get("TrainingJobEarlyStoppingType") or "Off") != "Off":
        raise StepFailure(
            "ClientError: TrainingJobEarlyStoppingType Auto is not supported locally "
            "(it needs per-epoch metrics while a job runs); set it to Off"
        )
    dims = parse_ranges(config.get("ParameterRanges") or {})
    limits = config.get("ResourceLimits") or {}
    max_jobs = limits.get("MaxNumberOfTrainingJobs")
    seed = config.get("RandomSeed")
    if strategy == "Grid":
        if any(d.kind != "Categorical" for d in dims):
            raise _bad("the Grid strategy takes categorical parameter ranges only")
        combinations = len(grid(dims))
        if max_jobs is not None and int(max_jobs) != combinations:
            raise _bad(
                f"with the Grid strategy MaxNumberOfTrainingJobs ({max_jobs}) must equal the number of "
                f"distinct combinations ({combinations}), or be left out"
            )
        return GridStrategy(dims), combinations
    if max_jobs is None or int(max_jobs) < 1:
        raise _bad(f"ResourceLimits.MaxNumberOfTrainingJobs must be at least 1 for the {strategy} strategy")
    if not dims:
        raise _bad("ParameterRanges names no hyperparameter to tune")
    seed_value = int(seed) if seed is not None else None
    if strategy == "Random":
        return RandomStrategy(dims, seed_value), int(max_jobs)
    objective = config.get("HyperParameterTuningJobObjective") or {}
    return BayesianStrategy(dims, seed_value, objective.get("Type") == "Maximize"), int(max_jobs)

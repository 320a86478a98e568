"""UpdateEndpoint's ``DeploymentConfig``, parsed and checked against SageMaker's limits.

A blue/green update is a list of traffic steps: the share of traffic the green fleet takes
at each step, and whether a bake (``WaitIntervalInSeconds``, alarms watched) follows it:

- ALL_AT_ONCE: 100%, bake;
- CANARY: the canary share, bake; then 100%;
- LINEAR: one step of ``LinearStepSize`` after another, each followed by a bake, up to 100%.

No ``DeploymentConfig`` is SageMaker's default: blue/green, all at once, no bake, no alarms.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

TRAFFIC_TYPES = ("ALL_AT_ONCE", "CANARY", "LINEAR")
SIZE_TYPES = ("CAPACITY_PERCENT", "INSTANCE_COUNT")


class PolicyError(ValueError):
    """The DeploymentConfig breaks one of SageMaker's rules; the message names the field."""


@dataclass(frozen=True)
class Size:
    type: str
    value: int

    def share(self, instances: int) -> float:
        """The fraction of traffic (and capacity) this size stands for."""
        if self.type == "CAPACITY_PERCENT":
            return self.value / 100.0
        return self.value / max(instances, 1)


@dataclass(frozen=True)
class Step:
    green_share: float
    bake: bool


@dataclass(frozen=True)
class DeploymentPolicy:
    traffic_type: str = "ALL_AT_ONCE"
    wait_seconds: int = 0
    canary: Size | None = None
    linear: Size | None = None
    termination_wait_seconds: int = 0
    max_execution_seconds: int = 3600
    alarms: tuple[str, ...] = ()

    def steps(self, instances: int) -> list[Step]:
        if self.traffic_type == "CANARY":
            assert self.canary is not None
            return [Step(self.canary.share(instances), bake=True), Step(1.0, bake=False)]
        if self.traffic_type == "LINEAR":
            assert self.linear is not None
            size = self.linear.share(instances)
            count = math.ceil(round(1.0 / size, 9))
            return [Step(min(1.0, size * (i + 1)), bake=True) for i in range(count)]
        return [Step(1.0, bake=True)]

    def check_instances(self, instances: int, variant: str = "") -> None:
        """Sizes depend on the variant's instance count, known per config.

        TrafficRoutingConfig.CanarySize/LinearStepSize: "Value must be less than or equal to
        50% of the variant's total instance count" (SageMaker API reference). A step moves
        whole instances (at least one), so with one instance no canary or linear step is a
        strict part of the fleet, whatever its CAPACITY_PERCENT.
        """
        for name, size in (("CanarySize", self.canary), ("LinearStepSize", self.linear)):
            if size is None:
                continue
            # A percentage is rounded down here (but never below one instance): only what
            # SageMaker refuses under any rounding is refused.
            whole = math.floor(size.share(instances) * instances + 1e-9)
            step = size.value if size.type == "INSTANCE_COUNT" else max(1, whole)
            if step > instances / 2:
                of = f" of variant {variant}" if variant else ""
                raise PolicyError(
                    f"Invalid {name} for {self.traffic_type} traffic routing: Value must be less than or equal "
                    f"to 50% of the variant's total instance count, and {size.value}"
                    f"{'%' if size.type == 'CAPACITY_PERCENT' else ''} of the {instances} instance(s){of} "
                    f"is {step} instance(s). Use 2 or more instances, or ALL_AT_ONCE."
                )


def parse(config: Mapping[str, Any] | None) -> DeploymentPolicy:
    if not config:
        return DeploymentPolicy()
    if config.get("RollingUpdatePolicy"):
        raise PolicyError(
            "RollingUpdatePolicy is not supported by the local cloud; use BlueGreenUpdatePolicy"
        )
    alarms = tuple(
        a.get("AlarmName", "") for a in (config.get("AutoRollbackConfiguration") or {}).get("Alarms") or []
    )
    if "AutoRollbackConfiguration" in config and not 1 <= len(alarms) <= 10:
        raise PolicyError("AutoRollbackConfiguration.Alarms must name 1 to 10 alarms")
    if any(not a for a in alarms):
        raise PolicyError("every AutoRollbackConfiguration alarm needs an AlarmName")
    blue_green = config.get("BlueGreenUpdatePolicy") or {}
    routing = blue_green.get("TrafficRoutingConfiguration") or {
        "Type": "ALL_AT_ONCE",
        "WaitIntervalInSeconds": 0,
    }
    kind = routing.get("Type")
    if kind not in TRAFFIC_TYPES:
        raise PolicyError(
            f"TrafficRoutingConfiguration.Type must be one of {', '.join(TRAFFIC_TYPES)}, got {kind!r}"
        )
    canary = _size(routing, "CanarySize") if kind == "CANARY" else None
    linear = _size(routing, "LinearStepSize") if kind == "LINEAR" else None
    return DeploymentPolicy(
        traffic_type=kind,
        wait_seconds=_bounded(routing, "WaitIntervalInSeconds", 0, 3600, default=0),
        canary=canary,
        linear=linear,
        termination_wait_seconds=_bounded(blue_green, "TerminationWaitInSeconds", 0, 3600, default=0),
        max_execution_seconds=_bounded(
            blue_green, "MaximumExecutionTimeoutInSeconds", 600, 28800, default=3600
        ),
        alarms=alarms,
    )


def _size(routing: Mapping[str, Any], field: str) -> Size:
    raw = routing.get(field)
    if not raw:
        raise PolicyError(f"TrafficRoutingConfiguration.{field} is required for Type {routing['Type']}")
    size = Size(type=raw.get("Type"), value=int(raw.get("Value", 0)))
    if size.type not in SIZE_TYPES:
        raise PolicyError(f"{field}.Type must be one of {', '.join(SIZE_TYPES)}, got {size.type!r}")
    if size.value < 1 or (size.type == "CAPACITY_PERCENT" and size.value > 50):
        raise PolicyError(f"{field}.Value must be at least 1 and at most 50% of capacity, got {size.value}")
    return size


def _bounded(section: Mapping[str, Any], field: str, low: int, high: int, *, default: int) -> int:
    value = int(section.get(field, default))
    if not low <= value <= high:
        raise PolicyError(f"{field} must be between {low} and {high}, got {value}")
    return value

"""The control plane: CreateEndpoint and blue/green UpdateEndpoint with automatic rollback.

CreateEndpoint: start a fleet of model servers per production variant, wait for ``/ping``,
route traffic to them, InService (or Failed, with the server's last log line as reason).

UpdateEndpoint, as SageMaker's blue/green deployment (``hosting.policy`` has the steps):

1. the green fleet (the new config's variants) starts; a green fleet that fails its health
   check is rolled back;
2. traffic moves step by step: each step publishes a route table in which green takes its
   share of every variant (CANARY: the canary share, LINEAR: one more step); a bake step
   then waits ``WaitIntervalInSeconds`` on the local clock while the
   ``AutoRollbackConfiguration`` alarms are evaluated every tick (metrics flushed first);
3. green takes all traffic, the endpoint is InService on the new config, and blue is
   retired (drained, then stopped) after ``TerminationWaitInSeconds``.

Rollback (an alarm in ALARM during a bake, green unhealthy, or
``MaximumExecutionTimeoutInSeconds`` spent): one table switch sends all traffic back to
blue, green is drained and stopped, and the endpoint is InService on the old config with a
``FailureReason`` naming the cause. The execution timeout counts local-clock time from the
moment green is healthy: starting a process is real compute, not AWS time, and at clock
factor 100 two seconds of start-up would otherwise eat 200 s of the budget.
"""

from __future__ import annotations

import logging
import os
import re
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from shared.local_cloud import clock, hooks
from shared.local_cloud.hosting import policy
from shared.local_cloud.hosting.alarms import AlarmEvaluator
from shared.local_cloud.hosting.artifacts import ArtifactError, ArtifactStore
from shared.local_cloud.hosting.endpoints import (
    EndpointKey,
    Fleet,
    Instance,
    Router,
    RouteTable,
    VariantRoute,
)
from shared.local_cloud.hosting.model_server import ModelServerProcess, ServerFailed
from shared.local_cloud.hosting.telemetry import CaptureSettings, MetricsPublisher
from shared.local_cloud.patches import sagemaker_hosting as state

LOG = logging.getLogger(__name__)
# Processes per fleet at most: the local cloud runs on a laptop, and blue and green run at once.
MAX_PROCESSES = int(os.environ.get("DUALLOOP_LOCAL_MAX_INSTANCES", "2"))
HEALTH_TIMEOUT_SECONDS = 120.0  # real seconds: loading a model is real compute
_FAILURE_REASON_MAX = 1024


class DeploymentFailed(RuntimeError):
    """A fleet could not be started; the message is the FailureReason. ``before_start``: its
    model could not even be fetched (no server started, so no health check failed)."""

    def __init__(self, reason: str, *, before_start: bool = False) -> None:
        super().__init__(reason)
        self.before_start = before_start


class Rollback(Exception):
    """The update must go back to blue; the message says why."""


class Aborted(Exception):
    """The local cloud is stopping or the endpoint was deleted: clean up, report nothing."""


class Deployer:
    def __init__(
        self,
        router: Router,
        artifacts: ArtifactStore,
        alarms: AlarmEvaluator,
        metrics: MetricsPublisher,
        log_dir: Path,
    ) -> None:
        self._router = router
        self._artifacts = artifacts
        self._alarms = alarms
        self._metrics = metrics
        self._log_dir = log_dir
        self._stopping = threading.Event()

    def stop(self) -> None:
        self._stopping.set()

    def handle(self, event: hooks.EndpointDeploymentRequested) -> None:
        try:
            if event.previous_config_name is None:
                self.create(event)
            else:
                self.update(event)
        except Aborted:
            LOG.info("deployment of %s to %s abandoned", event.endpoint_name, event.endpoint_config_name)

    # ---- CreateEndpoint -----------------------------------------------------------------------
    def create(self, event: hooks.EndpointDeploymentRequested) -> None:
        key = (event.account_id, event.region, event.endpoint_name)
        try:
            variants, capture = state.endpoint_config(
                event.account_id, event.region, event.endpoint_config_name
            )
            fleets = self._start(key, event.endpoint_config_name, variants, capture)
        except (DeploymentFailed, KeyError) as exc:
            state.set_endpoint_state(*key, status="Failed", failure_reason=_reason(str(exc)))
            return
        self._router.publish(key, _table(event.endpoint_config_name, variants, None, fleets, 1.0))
        self._in_service(key, event.endpoint_config_name, variants, capture, fleets)

    # ---- UpdateEndpoint -----------------------------------------------------------------------
    def update(self, event: hooks.EndpointDeploymentRequested) -> None:
        key = (event.account_id, event.region, event.endpoint_name)
        new_config = event.endpoint_config_name
        pending = state.pending_update(*key)
        if pending is not None:
            variants, capture = list(pending.variants), pending.data_capture_config
        else:
            variants, capture = state.endpoint_config(event.account_id, event.region, new_config)
        plan = policy.parse(event.deployment_config)
        blue = self._router.table(key)
        try:
            green = self._start(key, new_config, variants, capture)
        except DeploymentFailed as exc:
            why = "could not fetch its model" if exc.before_start else "failed its health check"
            self._rolled_back(key, blue, [], f"the new fleet {why}: {exc}", new_config)
            return
        try:
            self._shift(key, plan, variants, blue, green, new_config)
        except Rollback as exc:
            self._rolled_back(key, blue, list(green.values()), str(exc), new_config)
            return
        except Aborted:
            self._router.retire(green.values())
            raise
        self._router.publish(key, _table(new_config, variants, None, green, 1.0))
        self._in_service(key, new_config, variants, capture, green)
        if blue is not None:
            # Blue is kept for TerminationWaitInSeconds, then drained and stopped.
            self._stopping.wait(clock.scaled(plan.termination_wait_seconds))
            self._router.retire(blue.fleets)

    def _shift(
        self,
        key: EndpointKey,
        plan: policy.DeploymentPolicy,
        variants: list[dict[str, Any]],
        blue: RouteTable | None,
        green: dict[str, Fleet],
        new_config: str,
    ) -> None:
        steps = plan.steps(min(f.instance_count for f in green.values()))
        deadline = time.monotonic() + clock.scaled(plan.max_execution_seconds)
        for step in steps:
            self._router.publish(
                key, _table(blue.config_name if blue else new_config, variants, blue, green, step.green_share)
            )
            message = f"{step.green_share:.0%} of traffic on the new fleet"
            if step.bake:
                message += f"; baking {plan.wait_seconds} s"
            self._pending_status(
                key,
                new_config,
                variants,
                green,
                step.green_share,
                "Baking" if step.bake else "ActivatingTraffic",
                message,
            )
            if step.bake:
                self._bake(key, plan, deadline)

    def _bake(self, key: EndpointKey, plan: policy.DeploymentPolicy, deadline: float) -> None:
        """Wait WaitIntervalInSeconds (local clock), evaluating the rollback alarms every tick."""
        end = time.monotonic() + clock.scaled(plan.wait_seconds)
        tick = min(0.2, max(0.02, clock.scaled(10)))  # ~10 s of local time, 20-200 ms of wall time
        while True:
            if self._stopping.is_set() or state.endpoint_status(*key) is None:
                raise Aborted
            if plan.alarms:
                self._metrics.flush()  # the requests of the last moment count too
                firing = [
                    s
                    for s in self._alarms.evaluate(key[0], key[1], plan.alarms).values()
                    if s.value == "ALARM"
                ]
                if firing:
                    names = ", ".join(s.name for s in firing)
                    raise Rollback(
                        f"alarm(s) {names} went to ALARM during the baking period: {firing[0].reason}"
                    )
            now = time.monotonic()
            if now >= end:
                return
            if now >= deadline:
                raise Rollback(
                    f"the deployment exceeded MaximumExecutionTimeoutInSeconds ({plan.max_execution_seconds} s)"
                )
            self._stopping.wait(min(tick, end - now))

    def _rolled_back(
        self, key: EndpointKey, blue: RouteTable | None, green: list[Fleet], reason: str, new_config: str
    ) -> None:
        if blue is not None:
            self._router.publish(key, blue)  # one switch: every variant's traffic back on blue
        self._router.retire(green)
        LOG.warning("endpoint %s: update to %s rolled back: %s", key[2], new_config, reason)
        state.set_endpoint_state(
            *key,
            status="InService",
            pending=None,
            failure_reason=_reason(
                f"Blue/green update to endpoint config {new_config} was rolled back: {reason}"
            ),
        )

    # ---- fleets and state -----------------------------------------------------------------------
    def _start(
        self, key: EndpointKey, config_name: str, variants: list[dict[str, Any]], capture: Mapping[str, Any]
    ) -> dict[str, Fleet]:
        """Start and health-check a fleet per variant; on failure stop them all and raise."""
        fleets: dict[str, Fleet] = {}
        settings = CaptureSettings.from_config(capture)
        try:
            for variant in variants:
                name = variant["VariantName"]
                model = self._artifacts.model(variant["ModelName"], key[0])
                count = int(variant.get("InitialInstanceCount") or 1)
                servers = []
                for i in range(max(1, min(count, MAX_PROCESSES))):
                    log = self._log_dir / f"{key[2]}--{config_name}--{name}--{i}.log"
                    servers.append(
                        ModelServerProcess(
                            model.model_dir, model.code_dir, model.program, model.environment, log_path=log
                        )
                    )
                fleet = Fleet(
                    config_name, name, model.name, count, tuple(Instance(s) for s in servers), settings
                )
                fleets[name] = self._router.adopt(fleet)
                for server in servers:
                    server.launch()
            for fleet in fleets.values():
                for instance in fleet.instances:
                    instance.server.await_port()
            timeout = max(
                [HEALTH_TIMEOUT_SECONDS]
                + [float(v.get("ContainerStartupHealthCheckTimeoutInSeconds") or 0) for v in variants]
            )
            for fleet in fleets.values():
                for instance in fleet.instances:
                    instance.server.wait_healthy(timeout)
        except (ServerFailed, ArtifactError, OSError) as exc:
            self._router.retire(fleets.values(), drain_timeout=0)
            if self._stopping.is_set():
                raise Aborted from None
            raise DeploymentFailed(str(exc), before_start=isinstance(exc, ArtifactError)) from None
        except BaseException:
            self._router.retire(fleets.values(), drain_timeout=0)
            raise
        return fleets

    def _in_service(
        self,
        key: EndpointKey,
        config_name: str,
        variants: list[dict[str, Any]],
        capture: Mapping[str, Any],
        fleets: dict[str, Fleet],
    ) -> None:
        summaries = [
            state.variant_summary(
                v,
                current_instances=fleets[v["VariantName"]].instance_count,
                current_weight=float(v.get("InitialVariantWeight", 1.0)),
            )
            for v in variants
        ]
        alive = state.set_endpoint_state(
            *key,
            status="InService",
            config_name=config_name,
            variants=summaries,
            pending=None,
            failure_reason=None,
            capture_config=dict(capture),
        )
        if not alive:  # deleted while we were starting it
            self._router.publish(key, None)
            self._router.retire(fleets.values())

    def _pending_status(
        self,
        key: EndpointKey,
        config_name: str,
        variants: list[dict[str, Any]],
        green: dict[str, Fleet],
        share: float,
        status: str,
        message: str,
    ) -> None:
        state.set_endpoint_state(
            *key,
            status="Updating",
            pending={
                "EndpointConfigName": config_name,
                "StartTime": state.pending_start(*key),
                "ProductionVariants": [
                    state.pending_variant(
                        v,
                        current_instances=green[v["VariantName"]].instance_count,
                        current_weight=round(share * float(v.get("InitialVariantWeight", 1.0)), 4),
                        status=status,
                        message=message,
                    )
                    for v in variants
                ],
            },
        )


def _table(
    config_name: str,
    variants: list[dict[str, Any]],
    blue: RouteTable | None,
    green: dict[str, Fleet],
    share: float,
) -> RouteTable:
    """Every variant: green takes ``share`` of its traffic, blue (if any) the rest."""
    routes = []
    for v in variants:
        name = v["VariantName"]
        old = next((r for r in blue.variants if r.name == name), None) if blue else None
        fleets: list[tuple[Fleet, float]] = []
        if old is not None and share < 1.0:
            fleets += [(f, s * (1.0 - share)) for f, s in old.fleets]
        fleets.append((green[name], share if fleets else 1.0))
        routes.append(VariantRoute(name, float(v.get("InitialVariantWeight", 1.0)), tuple(fleets)))
    return RouteTable(config_name, tuple(routes))


def _reason(text: str) -> str:
    text = re.sub(r"\s+", " ", text).strip()
    return text if len(text) <= _FAILURE_REASON_MAX else text[: _FAILURE_REASON_MAX - 1] + "…"

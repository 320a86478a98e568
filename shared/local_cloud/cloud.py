"""The embedded local cloud: AWS on 127.0.0.1, from moto's server with dualloop's fixes.

One ``LocalCloud`` per process (moto's backends are process-global). It serves every
AWS API the project uses on one port; clients reach it through ``AWS_ENDPOINT_URL``,
the only switch between the local cloud and AWS.

    with LocalCloud() as cloud:           # or: dualloop local up
        os.environ.update(cloud.env())
        boto3.client("stepfunctions").list_state_machines()
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

from shared.local_cloud import clock, hooks
from shared.local_cloud.temp_root import TempRoot

LOG = logging.getLogger(__name__)

LOCAL_ACCESS_KEY = "local"
LOCAL_SECRET_KEY = "local"  # noqa: S105
_MOTO_CONFIG = {"stepfunctions": {"execute_state_machine": True}, "lambda": {"use_docker": False}}
# Set to 0 to let every workload call anything (as before IAM was enforced here).
IAM_ENV = "DUALLOOP_LOCAL_IAM"
_OFF = {"0", "false", "no", "off"}
_running: LocalCloud | None = None
_running_lock = threading.Lock()


@dataclass
class LocalCloud:
    """Start with ``start()`` or as a context manager; ``stop()`` leaves nothing behind."""

    port: int = 0
    host: str = "127.0.0.1"
    region: str = "us-east-1"
    clock_factor: float = field(default_factory=clock.factor_from_env)
    quiet: bool = True
    enforce_iam: bool = field(
        default_factory=lambda: os.environ.get(IAM_ENV, "1").strip().lower() not in _OFF
    )
    _server: Any = None
    _scheduler: Any = None
    _sts_proxy: Any = None
    _temp: TempRoot | None = None
    _workers: list[Callable[[], None]] = field(default_factory=list)

    # ---- lifecycle ----------------------------------------------------------------------
    def start(self) -> LocalCloud:
        global _running
        with _running_lock:
            if _running is not None:
                raise RuntimeError(f"a local cloud is already running in this process at {_running.endpoint}")
            from shared.local_cloud.patches import (
                apply_all,
                iam_enforcement,
                lambda_inprocess,
                server_speed,
                sfn_clock,
            )
            from shared.local_cloud.scheduler import Scheduler
            from shared.local_cloud.sts_proxy import StsProxy

            apply_all()
            # Every folder the cloud makes goes under one root, removed on stop (temp_root).
            self._temp = TempRoot.create()
            lambda_inprocess.set_code_root(self.mkdtemp("dualloop-lambda-"))
            # Workloads run as their own roles, confined to their policies (iam_enforcement).
            iam_enforcement.enable(self.enforce_iam)
            clock.set_factor(self.clock_factor)
            sfn_clock.set_sync_poll()
            if self.quiet:
                for name in ("moto.stepfunctions", "werkzeug"):
                    logging.getLogger(name).setLevel(logging.CRITICAL)

            hooks.reset()
            # moto's ThreadedMotoServer, with HTTP keep-alive unless switched off (server_speed).
            self._server = server_speed.create_server(self.host, self.port)
            self._server.start()
            self.port = self._server.get_host_and_port()[1]
            # The ASL interpreter's own clients call localhost:$MOTO_PORT (see AWS_FACTS).
            os.environ["MOTO_PORT"] = str(self.port)
            self._post("/moto-api/config", _MOTO_CONFIG)
            # STS for the SageMaker SDK, which calls it by its https URL (see sts_proxy.py).
            self._sts_proxy = StsProxy(
                upstream_port=self.port, directory=self.mkdtemp("dualloop-sts-proxy-")
            ).start()
            lambda_inprocess.runtime_environment.clear()
            lambda_inprocess.runtime_environment.update(self.env())
            # On AWS a handler's log lines go to CloudWatch Logs; here they would interleave
            # with the terminal, so only warnings show unless asked for.
            lambda_inprocess.runtime_environment["POWERTOOLS_LOG_LEVEL"] = os.environ.get(
                "DUALLOOP_LAMBDA_LOG_LEVEL", "WARNING"
            )
            self._scheduler = Scheduler()
            self._scheduler.start()
            _running = self
        return self

    def stop(self) -> None:
        """Stop running executions, workers, the scheduler and the server; reset state."""
        global _running
        with _running_lock:
            if self._server is None:
                return
            self._scheduler.stop()
            self._stop_executions()
            for stop_worker in reversed(self._workers):
                try:
                    stop_worker()
                except Exception:
                    LOG.exception("a local cloud worker failed to stop")
            self._workers.clear()
            hooks.current().shutdown()
            self._post("/moto-api/reset", {})
            if self._sts_proxy is not None:
                self._sts_proxy.stop()
                self._sts_proxy = None
            from shared.local_cloud.iam import sessions

            sessions.reset()
            self._server.stop()
            self._server = None
            os.environ.pop("MOTO_PORT", None)
            from shared.local_cloud.patches import lambda_inprocess

            lambda_inprocess.set_code_root(None)
            if self._temp is not None:
                self._temp.remove()
                self._temp = None
            _running = None

    def __enter__(self) -> LocalCloud:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def mkdtemp(self, prefix: str) -> Path:
        """A folder for a part of this cloud, removed with the cloud on ``stop()``."""
        if self._temp is None:
            raise RuntimeError("the local cloud is not running: start it before its workers make folders")
        return self._temp.mkdtemp(prefix)

    @property
    def temp_root(self) -> Path | None:
        """The folder every part of this cloud makes its folders in, while it runs."""
        return self._temp.path if self._temp is not None else None

    def add_worker(self, stop: Callable[[], None]) -> None:
        """Register a worker's stop function, called (in reverse order) on ``stop()``."""
        self._workers.append(stop)

    # ---- what clients need --------------------------------------------------------------
    @property
    def endpoint(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def hooks(self) -> hooks.Hooks:
        return hooks.current()

    def env(self) -> dict[str, str]:
        """The environment that points boto3, the AWS CLI and the SageMaker SDK here."""
        return {
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_DEFAULT_REGION": self.region,
            "AWS_REGION": self.region,
            "AWS_ACCESS_KEY_ID": LOCAL_ACCESS_KEY,
            "AWS_SECRET_ACCESS_KEY": LOCAL_SECRET_KEY,
            "SAGEMAKER_VALIDATE_ROLE": "false",
            **(self._sts_proxy.env() if self._sts_proxy is not None else {}),
        }

    def clock_origin(self) -> dict[str, float]:
        return self._scheduler.origin()  # type: ignore[no-any-return]

    def now(self) -> Any:
        """The local cloud's AWS time (runs at the clock factor)."""
        return self._scheduler.now()

    # ---- internals ----------------------------------------------------------------------
    def _post(self, path: str, body: dict[str, Any]) -> None:
        request = urllib.request.Request(  # noqa: S310 - our own loopback URL
            self.endpoint + path,
            data=json.dumps(body).encode(),
            method="POST",
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - our own loopback URL
            response.read()

    def _stop_executions(self) -> None:
        """Execution threads outlive the server otherwise (see AWS_FACTS)."""
        from moto.stepfunctions.parser.models import stepfunctions_parser_backends

        for regions in list(stepfunctions_parser_backends.values()):
            for backend in list(regions.values()):
                for machine in list(backend.state_machines):
                    for execution in list(machine.executions):
                        if execution.status == "RUNNING":
                            try:
                                backend.stop_execution(execution.execution_arn)
                            except Exception:
                                LOG.debug("could not stop %s", execution.execution_arn, exc_info=True)
        time.sleep(0.05)


def running() -> LocalCloud | None:
    """The local cloud running in this process, if any."""
    return _running

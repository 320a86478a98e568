"""How a retrain looks in a terminal while it runs: ``Retrain.follow``'s events drawn with rich.

A finished outer state or inner step leaves one permanent line (status, duration, cache hit);
what is running now shows below them with a spinner and its elapsed time, and during a
deployment the endpoint's traffic split between the serving (blue) and the new (green) fleet.
Off a terminal (CI logs, a pipe) only the permanent lines are printed, traffic changes
included, so logs stay readable. ``--json`` prints none of this.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from types import TracebackType
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.progress import Progress, SpinnerColumn, TaskID, TextColumn, TimeElapsedColumn

from outer_orchestrator.runner import Retrain

_STATUS_COLOURS = {"Succeeded": "green", "Failed": "red", "Executing": "yellow", "Stopped": "red"}
_DEPLOYING = "deploying"


class LiveProgress:
    """A ``Progress`` callback for ``Retrain.follow``; use it as a context manager."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self._spinners: Progress | None = None
        if console.is_terminal:
            self._spinners = Progress(
                SpinnerColumn(),
                TextColumn("{task.description}"),
                TimeElapsedColumn(),
                console=console,
                transient=True,
            )
        self._running: dict[str, TaskID] = {}

    def __enter__(self) -> LiveProgress:
        if self._spinners is not None:
            self._spinners.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._spinners is not None:
            self._spinners.stop()

    @contextmanager
    def paused(self) -> Iterator[None]:
        """No spinners while the user answers a prompt."""
        if self._spinners is not None:
            self._spinners.stop()
        try:
            yield
        finally:
            if self._spinners is not None:
                self._spinners.start()

    def __call__(self, kind: str, data: dict[str, Any]) -> None:
        if kind == "state-entered":
            self._entered(data["state"])
        elif kind == "state-exited":
            self._exited(data)
        elif kind == "inner-step":
            self._inner_step(data)
        elif kind == "traffic":
            self._traffic(data)
        elif kind == "approval":
            self._print(
                f"  [bold]approval[/bold] {data['decision']} ({data['by']}) {escape(data['model_package_arn'])}"
            )

    # ---- events -------------------------------------------------------------------------------
    def _entered(self, state: str) -> None:
        if state in Retrain.DEPLOYING_STATES:
            self._spin(_DEPLOYING, "[cyan]outer[/cyan] deploying: waiting for the endpoint")
        else:
            self._done(_DEPLOYING)  # the endpoint settled: the loop moved on
            self._spin(f"outer:{state}", f"[cyan]outer[/cyan] {state}")

    def _exited(self, data: dict[str, Any]) -> None:
        name = data["name"]
        self._done(f"outer:{name}")
        if name in Retrain.POLLING_STATES:
            return  # one line for the whole deployment, printed when the endpoint settles
        if name not in Retrain.DEPLOYING_STATES:
            self._done(_DEPLOYING)
        self._print(f"  [cyan]outer[/cyan] {name:<32} {data['seconds']:>7.2f}s")

    def _inner_step(self, data: dict[str, Any]) -> None:
        key, status = f"inner:{data['step']}", data["status"]
        if status == "Executing":
            self._spin(key, f"    [magenta]inner[/magenta] {data['step']}")
            return
        self._done(key)
        colour = _STATUS_COLOURS.get(status, "white")
        hit = " (cache hit)" if data.get("cache_hit") else ""
        seconds = f" {data['seconds']:.2f}s" if "seconds" in data else ""
        self._print(
            f"    [magenta]inner[/magenta] {data['step']:<26} [{colour}]{status}[/{colour}]{hit}{seconds}"
        )
        if data.get("failure_reason"):
            self._print(f"      [red]{escape(data['failure_reason'])}[/red]")

    def _traffic(self, data: dict[str, Any]) -> None:
        split = traffic_line(data)
        if self._spinners is not None and _DEPLOYING in self._running:
            self._spinners.update(self._running[_DEPLOYING], description=f"[cyan]outer[/cyan] {split}")
        self._print(f"  [cyan]traffic[/cyan] {split}")

    # ---- drawing ------------------------------------------------------------------------------
    def _spin(self, key: str, description: str) -> None:
        if self._spinners is not None and key not in self._running:
            self._running[key] = self._spinners.add_task(description, total=None)

    def _done(self, key: str) -> None:
        task = self._running.pop(key, None)
        if task is not None and self._spinners is not None:
            self._spinners.remove_task(task)

    def _print(self, line: str) -> None:
        self.console.print(line)


def traffic_line(data: dict[str, Any]) -> str:
    """``endpoint (Updating): blue 90% (InService) · green 10% (Baking)``"""
    fleets = " · ".join(
        f"{f['fleet']} {f['share']:.0%} {escape(str(f['config']))} ({f['status']})" for f in data["fleets"]
    )
    line = f"{data['endpoint']} {data['status']}: {fleets or 'no fleet serving yet'}"
    if data.get("failure_reason"):
        line += f" — {escape(data['failure_reason'])}"
    return line

"""``dualloop local``: run the embedded local cloud, or print how to reach a running one."""

from __future__ import annotations

import json
import os
import signal
import socket
import threading
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(
    help="The embedded local cloud: AWS on 127.0.0.1, no account, no Docker.", no_args_is_help=True
)

STATE_FILE = Path(os.environ.get("DUALLOOP_HOME", Path.home() / ".dualloop")) / "local-cloud.json"


def _exports(env: dict[str, str]) -> str:
    return "\n".join(f"export {k}={v}" for k, v in env.items())


def read_state() -> dict[str, str] | None:
    """The environment of the local cloud started by ``dualloop local up``, if it answers."""
    if not STATE_FILE.is_file():
        return None
    try:
        env: dict[str, str] = json.loads(STATE_FILE.read_text())["env"]
        with urllib.request.urlopen(env["AWS_ENDPOINT_URL"] + "/moto-api/", timeout=2):  # noqa: S310 - loopback
            return env
    except (OSError, ValueError, KeyError, urllib.error.URLError):
        return None


def local_clock() -> dict[str, float] | None:
    """The clock of the local cloud started by ``dualloop local up`` (``aws_epoch``,
    ``wall_epoch``, ``factor``), or None."""
    if read_state() is None:
        return None
    origin: dict[str, float] | None = json.loads(STATE_FILE.read_text()).get("clock")
    return origin or None


def local_now() -> datetime | None:
    """The AWS time of the local cloud started by ``dualloop local up`` (it runs faster than
    the wall clock; its endpoints stamp captured requests with it), or None."""
    origin = local_clock()
    if origin is None:
        return None
    seconds = origin["aws_epoch"] + (time.time() - origin["wall_epoch"]) * origin["factor"]
    return datetime.fromtimestamp(seconds, UTC)


@app.command()
def up(
    port: Annotated[
        int, typer.Option(min=0, max=65535, help="Port on 127.0.0.1 (0 picks a free one).")
    ] = 4566,
    clock_factor: Annotated[
        float | None, typer.Option(help="How much faster than real time waits pass (default 100).")
    ] = None,
) -> None:
    """Run the local cloud in the foreground until Ctrl-C, printing the environment to export."""
    from shared.local_cloud import LocalCloud
    from shared.local_cloud.workers import attach_all

    running = read_state()
    if running is not None:
        # A second one would take over the state file, and leave none behind when it stops.
        typer.echo(
            f"A local cloud already runs at {running['AWS_ENDPOINT_URL']}: use it "
            '(`eval "$(dualloop local env)"`), or stop it (Ctrl-C where it runs) and start again.',
            err=True,
        )
        raise typer.Exit(1)
    if port:
        _check_port_free(port)
    kwargs = {"clock_factor": clock_factor} if clock_factor is not None else {}
    try:
        cloud = LocalCloud(port=port, **kwargs).start()  # type: ignore[arg-type]
    except OSError as exc:
        raise typer.BadParameter(
            f"cannot listen on 127.0.0.1:{port} ({exc.strerror}); try --port 0", param_hint="--port"
        ) from None
    attach_all(cloud)
    # The workers in this process (Glue jobs, pipeline steps) are AWS services talking to
    # this cloud: they take its endpoint and credentials from the environment, as clients do.
    os.environ.update(cloud.env())
    # Before announcing the environment: whoever reads it may stop us at once.
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    STATE_FILE.parent.mkdir(parents=True, exist_ok=True)
    STATE_FILE.write_text(json.dumps({"pid": os.getpid(), "env": cloud.env(), "clock": cloud.clock_origin()}))
    typer.echo(
        f"# dualloop local cloud on {cloud.endpoint} (clock x{cloud.clock_factor:g}); paste into your shell:"
    )
    typer.echo(_exports(cloud.env()))
    try:
        stopped.wait()
    except KeyboardInterrupt:
        pass
    finally:
        cloud.stop()
        STATE_FILE.unlink(missing_ok=True)
        typer.echo("# local cloud stopped")


def _check_port_free(port: int) -> None:
    """The server thread would die on a port in use, and ``up`` would wait for it forever."""
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the HTTP server binds
        try:
            probe.bind(("127.0.0.1", port))
        except OSError as exc:
            raise typer.BadParameter(
                f"cannot listen on 127.0.0.1:{port} ({exc.strerror}); try --port 0", param_hint="--port"
            ) from None


@app.command()
def env() -> None:
    """Print the environment of the running local cloud (for `eval "$(dualloop local env)"`)."""
    state = read_state()
    if state is None:
        typer.echo("No local cloud is running: start one with `dualloop local up`.", err=True)
        raise typer.Exit(1)
    typer.echo(_exports(state))


def register(root: typer.Typer) -> None:
    """``dualloop local up | env`` (entry point ``dualloop.commands`` ``local``)."""
    root.add_typer(app, name="local")

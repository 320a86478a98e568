"""A model server process: SageMaker's hosting contract over the inference handlers.

One per endpoint variant instance, as a SageMaker inference container is::

    python -m shared.local_cloud.hosting.model_server --model-dir D --code-dir C --port 0

prints its bound port on stdout, loads the model (``model_fn``), then serves

- ``GET /ping``: 200. Connections are accepted only once the model is loaded, so a health
  check that gets an answer has its answer;
- ``POST /invocations``: ``input_fn(body, Content-Type)`` → ``predict_fn`` → ``output_fn(
  prediction, Accept)``; 200 with ``response_content_type(Accept)`` when the module has it;
  the module's ``InvalidInput`` → 400 ``{"message": ...}``; any other exception → 500
  ``{"message": ...}`` with the traceback on stderr (the container log).

Speed: stdlib ``ThreadingHTTPServer`` with HTTP/1.1 keep-alive, TCP_NODELAY, one write per
response, handlers loaded once, no per-request imports or logging. A Python process serves
one request at a time (the GIL), so throughput scales with processes: ``--workers N``
(default ``$SAGEMAKER_MODEL_SERVER_WORKERS``, the variable SageMaker's inference toolkit
reads, else 1) pre-forks workers that share the listening socket. ``OMP_NUM_THREADS``
defaults to 1: a request holds a few rows, and an OpenMP fan-out per prediction costs far
more than it saves (measured: 6x slower single-row predictions on 2 cores).

A server started by ``ModelServerProcess`` exits when its stdin closes, so it never outlives
the process that started it, even one killed with SIGKILL.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import importlib
import importlib.util
import json
import os
import select
import signal
import socket
import subprocess
import sys
import threading
import time
import traceback
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import IO, Any

from shared.polling import NeverHappened, wait_until

WORKERS_ENV = "SAGEMAKER_MODEL_SERVER_WORKERS"
DEFAULT_PROGRAM = "inference.py"
BUILTIN_PREFIX = "builtin:"  # the "program" of a built-in algorithm's model (sagemaker/algorithms)
_REPO_ROOT = Path(__file__).resolve().parents[3]
_HANDLERS = ("model_fn", "input_fn", "predict_fn", "output_fn")


# ---- the server (runs in the model server process) -------------------------------------------
@dataclass(frozen=True)
class Handlers:
    """The inference module's functions and the loaded model."""

    model: Any
    input_fn: Callable[[bytes, str | None], Any]
    predict_fn: Callable[[Any, Any], Any]
    output_fn: Callable[[Any, str | None], str | bytes]
    content_type: Callable[[str | None], str] | None
    invalid_input: type[BaseException] | None


def load_handlers(code_dir: Path, program: str, model_dir: Path) -> Handlers:
    if program.startswith(BUILTIN_PREFIX):  # a built-in algorithm's model: the algorithm's own handlers
        from shared.local_cloud.sagemaker.algorithms import serving_module  # only then: it costs 80 ms

        return _handlers(importlib.import_module(serving_module(program)), model_dir)
    path = code_dir / program
    if not path.is_file():
        raise FileNotFoundError(f"inference program {program} not found in {code_dir}")
    # The program imports its siblings (common.py) by name, as in the container.
    if str(code_dir) not in sys.path:
        sys.path.insert(0, str(code_dir))
    spec = importlib.util.spec_from_file_location(path.stem, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[path.stem] = module
    spec.loader.exec_module(module)
    missing = [name for name in _HANDLERS if not callable(getattr(module, name, None))]
    if missing:
        raise AttributeError(f"{program} does not define {', '.join(missing)}")
    return _handlers(module, model_dir)


def _handlers(module: Any, model_dir: Path) -> Handlers:
    invalid = getattr(module, "InvalidInput", None)
    return Handlers(
        model=module.model_fn(str(model_dir)),
        input_fn=module.input_fn,
        predict_fn=module.predict_fn,
        output_fn=module.output_fn,
        content_type=getattr(module, "response_content_type", None),
        invalid_input=invalid if isinstance(invalid, type) and issubclass(invalid, BaseException) else None,
    )


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: the router reuses its connections
    disable_nagle_algorithm = True
    server_version = "dualloop-model-server"
    sys_version = ""
    handlers: Handlers  # set on the subclass ``serve`` makes

    def log_message(self, format: str, *args: Any) -> None:
        """No access log: writing it would cost more than a small prediction."""

    def do_GET(self) -> None:
        if self.path == "/ping":
            self._send(200, b"", "text/plain")
        else:
            self._send_message(404, f"no such path {self.path}")

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length > 0 else b""
        if self.path != "/invocations":
            self._send_message(404, f"no such path {self.path}")
            return
        h = self.handlers
        accept = self.headers.get("Accept")
        try:
            content_type = h.content_type(accept) if h.content_type else accept or "application/json"
            prediction = h.predict_fn(h.input_fn(body, self.headers.get("Content-Type")), h.model)
            out = h.output_fn(prediction, accept)
        except Exception as exc:
            if h.invalid_input is not None and isinstance(exc, h.invalid_input):
                self._send_message(400, str(exc))
            else:
                traceback.print_exc()
                self._send_message(500, f"{type(exc).__name__}: {exc}")
            return
        self._send(200, out.encode() if isinstance(out, str) else bytes(out), content_type)

    def _send_message(self, status: int, message: str) -> None:
        self._send(status, json.dumps({"message": message}).encode(), "application/json")

    def _send(self, status: int, body: bytes, content_type: str) -> None:
        # One write for status line, headers and body: one packet for a small answer.
        head = (
            f"HTTP/1.1 {status} {HTTPStatus(status).phrase}\r\n"
            f"Content-Type: {content_type}\r\nContent-Length: {len(body)}\r\n\r\n"
        )
        self.wfile.write(head.encode("latin-1") + body)


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that gave up (a health check that timed out) is not a server error.
        if not isinstance(sys.exc_info()[1], ConnectionError | TimeoutError):
            super().handle_error(request, client_address)


def serve(sock: socket.socket, handlers: Handlers) -> None:
    handler = type("Handler", (_Handler,), {"handlers": handlers})
    server = _Server(sock.getsockname()[:2], handler, bind_and_activate=False)
    server.socket.close()
    server.socket = sock
    server.serve_forever(poll_interval=0.5)


def _exit_when_stdin_closes(on_exit: Callable[[], None]) -> None:
    def watch() -> None:
        with contextlib.suppress(OSError):
            while os.read(0, 4096):
                pass
        on_exit()
        os._exit(0)

    threading.Thread(target=watch, name="stdin-watch", daemon=True).start()


def _exit_when_orphaned(parent: int) -> None:
    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(0)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def _load_or_exit(args: argparse.Namespace) -> Handlers:
    try:
        return load_handlers(Path(args.code_dir), args.program, Path(args.model_dir))
    except BaseException as exc:
        traceback.print_exc()
        # The last line of the log is what a FailureReason quotes.
        print(
            f"model server failed to load the model: {type(exc).__name__}: {exc}", file=sys.stderr, flush=True
        )
        os._exit(1)


def _run_workers(sock: socket.socket, args: argparse.Namespace, workers: int) -> None:
    parent = os.getpid()
    children: list[int] = []
    for _ in range(workers):
        pid = os.fork()
        if pid == 0:  # a worker: load the model itself (no threads or OpenMP state cross the fork)
            _exit_when_orphaned(parent)
            serve(sock, _load_or_exit(args))
            os._exit(0)
        children.append(pid)

    def stop_children(*_: Any) -> None:
        for child in children:
            with contextlib.suppress(ProcessLookupError):
                os.kill(child, signal.SIGTERM)
        os._exit(0)

    signal.signal(signal.SIGTERM, stop_children)
    if args.exit_on_stdin_eof:
        _exit_when_stdin_closes(stop_children)
    # A worker that dies (model failed to load) takes the server down: a half fleet is a lie.
    _, status = os.wait()
    for child in children:
        with contextlib.suppress(ProcessLookupError):
            os.kill(child, signal.SIGTERM)
    os._exit(os.waitstatus_to_exitcode(status) or 1)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="SageMaker-style model server (/ping, /invocations).")
    parser.add_argument("--model-dir", required=True, help="the extracted model artifact")
    parser.add_argument("--code-dir", required=True, help="the inference code (SAGEMAKER_SUBMIT_DIRECTORY)")
    parser.add_argument("--program", default=os.environ.get("SAGEMAKER_PROGRAM") or DEFAULT_PROGRAM)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--workers", type=int, default=int(os.environ.get(WORKERS_ENV) or 1))
    parser.add_argument("--exit-on-stdin-eof", action="store_true", help="exit when the owner goes away")
    args = parser.parse_args(argv)
    # Before the inference module imports xgboost: OpenMP reads it once, at load time.
    os.environ.setdefault("OMP_NUM_THREADS", "1")

    sock = socket.create_server((args.host, args.port), backlog=128)
    print(sock.getsockname()[1], flush=True)
    if args.workers > 1:
        _run_workers(sock, args, args.workers)
        return
    if args.exit_on_stdin_eof:
        _exit_when_stdin_closes(lambda: None)
    serve(sock, _load_or_exit(args))


# ---- the handle (runs in the local cloud) -----------------------------------------------------
class ServerFailed(RuntimeError):
    """The model server did not start or did not become healthy; the message says why."""


@dataclass
class ModelServerProcess:
    """Start, health-check and stop one model server process."""

    model_dir: Path
    code_dir: Path
    program: str = DEFAULT_PROGRAM
    environment: Mapping[str, str] = field(default_factory=dict)
    workers: int | None = None
    log_path: Path | None = None
    host: str = "127.0.0.1"
    port: int = 0
    _proc: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    # stop() may race start() (a local cloud stopping while a fleet starts): once stopped, never started.
    _stopped: bool = field(default=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def start(self, timeout: float = 30.0) -> ModelServerProcess:
        """Launch the process and wait until it listens (``launch`` then ``await_port``)."""
        return self.launch().await_port(timeout)

    def launch(self) -> ModelServerProcess:
        """Start the process without waiting: a fleet launches every instance, then awaits them,
        so its instances boot side by side rather than one after another."""
        env = {**os.environ, **self.environment}
        env.setdefault("OMP_NUM_THREADS", "1")
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(_REPO_ROOT), env.get("PYTHONPATH")) if p)
        command = [
            sys.executable, "-m", "shared.local_cloud.hosting.model_server",
            "--model-dir", str(self.model_dir), "--code-dir", str(self.code_dir), "--program", self.program,
            "--host", self.host, "--port", "0", "--exit-on-stdin-eof",
        ]  # fmt: skip
        if self.workers:
            command += ["--workers", str(self.workers)]
        log: IO[bytes] | int = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL  # noqa: SIM115
        try:
            with self._lock:
                if self._stopped:
                    raise ServerFailed("the model server was stopped before it started")
                # Own session: stop() signals the whole group (pre-forked workers included).
                self._proc = subprocess.Popen(  # noqa: S603 - our own interpreter and module
                    command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log, env=env,
                    cwd=str(_REPO_ROOT), start_new_session=True,
                )  # fmt: skip
        finally:
            if not isinstance(log, int):
                log.close()
        return self

    def await_port(self, timeout: float = 30.0) -> ModelServerProcess:
        """Wait for the launched process to print the port it listens on."""
        proc = self._proc
        if proc is None:
            raise ServerFailed("the model server was stopped before it started")
        line = _read_line(proc, timeout)
        if not line.strip().isdigit():
            self.stop()
            raise ServerFailed(f"the model server did not start: {self.log_tail() or line or 'no output'}")
        self.port = int(line)
        return self

    def wait_healthy(self, timeout: float) -> None:
        """Return once ``/ping`` answers 200; raise ``ServerFailed`` if it exits or time runs out."""
        deadline = time.monotonic() + timeout

        def answers() -> bool:
            if self._proc is None or self._proc.poll() is not None:
                code = self._proc.returncode if self._proc else None
                raise ServerFailed(f"the model server exited with status {code}: {self.log_tail()}")
            remaining = deadline - time.monotonic()
            return remaining > 0 and self.ping(timeout=min(remaining, 1.0))

        try:
            wait_until(answers, what="the model server answering /ping", timeout=timeout, interval=0.02)
        except NeverHappened:
            raise ServerFailed(f"the model server did not answer /ping within {timeout:.0f} s") from None

    def ping(self, timeout: float = 2.0) -> bool:
        conn = http.client.HTTPConnection(self.host, self.port, timeout=timeout)
        try:
            conn.request("GET", "/ping")
            return conn.getresponse().status == 200
        except (OSError, http.client.HTTPException):
            return False
        finally:
            conn.close()

    def stop(self, grace: float = 5.0) -> None:
        with self._lock:
            self._stopped = True
            proc, self._proc = self._proc, None
        if proc is None:
            return
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(grace)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        for pipe in (proc.stdin, proc.stdout):
            if pipe is not None:
                pipe.close()

    def log_tail(self) -> str:
        """The last line of the server's log: the reason a failed server gives."""
        if self.log_path is None or not self.log_path.is_file():
            return ""
        with open(self.log_path, "rb") as log:
            log.seek(max(0, log.seek(0, os.SEEK_END) - 4096))
            lines = [ln.strip() for ln in log.read().decode(errors="replace").splitlines() if ln.strip()]
        return lines[-1] if lines else ""


def _read_line(proc: subprocess.Popen[bytes], timeout: float) -> str:
    assert proc.stdout is not None
    ready, _, _ = select.select([proc.stdout], [], [], timeout)
    return proc.stdout.readline().decode().strip() if ready else ""


if __name__ == "__main__":
    main()

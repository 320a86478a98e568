"""Speed: moto's server spends less than half the CPU per call, and keeps connections open.

Three costs, all in moto's HTTP plumbing and none in any AWS behaviour:

1. **Routing.** ``DomainDispatcherApplication.get_application`` infers the service's host name
   from the SigV4 scope (``sqs.us-east-1.amazonaws.com``) and then asks
   ``get_backend_for_host``, which tests ``host in backends.list_of_moto_modules()``: a
   generator that runs ``os.listdir`` over moto's package and ``os.path.isdir`` on every
   entry (~180 ``stat`` calls per request), then matches ~180 URL regexes. All of it runs
   under the dispatcher's one lock, so concurrent clients queue behind it. The answer
   depends only on the host name (moto's installed module list and its URL index do not
   change while the process runs), so it is memoised per host; everything else about
   routing (the SigV4 scope, paths, targets, bodies) is still read from every request.
2. **Finding the action's method.** ``BaseResponse.call_action`` asks whether the action is a
   method with ``action in method_names_from_class(type(self))``, which runs
   ``inspect.getmembers`` over the whole response class on every call (0.1-0.4 ms for S3 and
   SageMaker's ~140 methods). ``_MethodNames`` answers the same membership question with
   one ``getattr``, looked up on every call (so methods the patches add are seen).
3. **One TCP connection per call.** werkzeug's server (``WSGIRequestHandler.run_wsgi``) sends
   ``Connection: close`` on every response and then drains the socket with a 10 ms
   ``select`` loop, so every boto3 call pays a connect, and ``urllib3`` never reuses its
   pool. ``KeepAliveRequestHandler`` serves HTTP/1.1 persistent connections: it sends the
   same status, headers and body as werkzeug, frames every body (the app's
   ``Content-Length``, else chunked; an HTTP/1.0 client or a body that does not match its
   declared length gets ``Connection: close``), reads exactly the unread rest of each
   request body instead of guessing with ``select``, and turns off Nagle (the header and
   small bodies go out in one ``send``).

``KeepAliveMotoServer`` is moto's ``ThreadedMotoServer`` with that handler; its ``stop()``
also ends the idle keep-alive connections and closes the listening socket. Set
``DUALLOOP_LOCAL_CLOUD_FAST_SERVER=0`` before the local cloud starts to get moto's server
exactly as moto ships it (the bench uses this for its "before" figures).
"""

from __future__ import annotations

import inspect
import logging
import os
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from typing import Any

import moto.core.responses as moto_responses
from moto.core.responses import BaseResponse
from moto.core.utils import method_names_from_class
from moto.moto_server.threaded_moto_server import ThreadedMotoServer
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from werkzeug.exceptions import InternalServerError
from werkzeug.serving import DechunkedInput, ThreadedWSGIServer, WSGIRequestHandler
from werkzeug.wsgi import LimitedStream

from shared.local_cloud.patches import Replaced, original, replace

FAST_SERVER_ENV = "DUALLOOP_LOCAL_CLOUD_FAST_SERVER"
IDLE_SECONDS = 60.0  # an idle keep-alive connection is closed after this; clients reconnect
_HOST_CACHE_SIZE = 4096
_COALESCE_BYTES = 64 * 1024  # bodies up to this size go out in the same send as the header
_DRAIN_CHUNK = 64 * 1024
_WERKZEUG_LOG = logging.getLogger("werkzeug")
_connection_dropped_errors = (ConnectionError, socket.timeout)


def enabled() -> bool:
    """Whether the local cloud uses these speed-ups (read when it starts)."""
    return os.environ.get(FAST_SERVER_ENV, "1").strip().lower() not in {"0", "false", "no", "off"}


def REPLACES() -> list[Replaced]:  # noqa: N802
    return [
        Replaced(DomainDispatcherApplication, "get_backend_for_host", "1f41972c1e4e660f"),
        Replaced(moto_responses, "method_names_from_class", "9dbac89d082b655f"),
        Replaced(BaseResponse, "call_action", "26076963fd17fd1a"),  # its one caller: `action in ...`
        # Not patched in place: overridden by the subclasses below, which copy their behaviour.
        Replaced(ThreadedMotoServer, "_server_entry", "ef744bd45e1e465a"),
        Replaced(ThreadedMotoServer, "stop", "0106e010279b6fee"),
        Replaced(WSGIRequestHandler, "run_wsgi", "774df60c75afd439"),
        Replaced(BaseHTTPRequestHandler, "end_headers", "97d4c80d810f1313"),  # inlined in _Response.write
    ]


def apply() -> None:
    if enabled():
        replace(DomainDispatcherApplication, "get_backend_for_host", _get_backend_for_host)
        replace(moto_responses, "method_names_from_class", _MethodNames)


KEEP_ALIVE_ENV = "DUALLOOP_LOCAL_CLOUD_KEEPALIVE"


def keep_alive_enabled() -> bool:
    """Keep-alive is opt-in for now: in one CI rehearsal under load a request to the local
    cloud hung for 60 s with it on (cause not found yet); the memoised lookups stay on."""
    return enabled() and os.environ.get(KEEP_ALIVE_ENV, "0").strip().lower() in {"1", "true", "yes", "on"}


def create_server(host: str, port: int) -> ThreadedMotoServer:
    """The local cloud's server: keep-alive when ``KEEP_ALIVE_ENV`` asks for it."""
    server_class = KeepAliveMotoServer if keep_alive_enabled() else ThreadedMotoServer
    return server_class(ip_address=host, port=port, verbose=False)


# ---- 1. routing -------------------------------------------------------------------------------
def _get_backend_for_host(self: DomainDispatcherApplication, host: str | None) -> Any:
    """moto's ``get_backend_for_host``, memoised per host name (a pure function of it).

    Misses (``None``) are not cached, so moto still prints its hint for an unknown
    ``amazonaws.com`` host each time.
    """
    if host is None:
        return None
    cache: dict[str, Any] | None = self.__dict__.get("_dualloop_backend_for_host")
    if cache is None:
        cache = self.__dict__.setdefault("_dualloop_backend_for_host", {})
    backend = cache.get(host)
    if backend is None:
        backend = original(DomainDispatcherApplication, "get_backend_for_host")(self, host)
        if backend is not None and len(cache) < _HOST_CACHE_SIZE:
            cache[host] = backend
    return backend


# ---- 2. the action's method ------------------------------------------------------------------
class _MethodNames:
    """``method_names_from_class(clazz)`` as ``call_action`` uses it: ``name in names`` is
    true when the class has a plain function by that name (what ``inspect.getmembers(clazz,
    inspect.isfunction)`` lists), checked when asked rather than by listing every member."""

    __slots__ = ("_clazz",)

    def __init__(self, clazz: object) -> None:
        self._clazz = clazz

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and inspect.isfunction(getattr(self._clazz, name, None))

    def __iter__(self) -> Iterator[str]:
        return iter(method_names_from_class(self._clazz))

    def __len__(self) -> int:
        return len(method_names_from_class(self._clazz))


# ---- 3. keep-alive ----------------------------------------------------------------------------
class _Response:
    """One response on a persistent connection: werkzeug's ``start_response``/``write`` pair,
    plus the framing keep-alive needs (``Content-Length`` checked, else chunked, else close)."""

    def __init__(self, handler: KeepAliveRequestHandler, environ: dict[str, Any]) -> None:
        self.handler = handler
        self.is_head = environ["REQUEST_METHOD"] == "HEAD"
        self.status: str | None = None
        self.headers: list[tuple[str, str]] | None = None
        self.headers_sent = False
        self.bodyless = False
        self.chunked = False
        self.owed: int | None = None  # body bytes still due under the declared Content-Length

    def start_response(self, status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        if exc_info:
            try:
                if self.headers_sent:
                    raise exc_info[1].with_traceback(exc_info[2])
            finally:
                exc_info = None
        elif self.headers is not None:
            raise AssertionError("Headers already set")
        self.status, self.headers = status, headers
        return self.write

    def reset(self) -> None:
        """Before the headers are out, an error response may replace this one."""
        self.status = self.headers = None

    def _head(self) -> bytes:
        handler = self.handler
        assert self.status is not None and self.headers is not None, "write() before start_response"
        try:
            code_str, message = self.status.split(None, 1)
        except ValueError:
            code_str, message = self.status, ""
        code = int(code_str)
        handler.send_response(code, message)
        declared: str | None = None
        for key, value in self.headers:
            handler.send_header(key, value)
            if key.lower() == "content-length":
                declared = value
        # No body for HEAD, 1xx, 204 and 304 (RFC 9112 6.3), whatever the headers say.
        self.bodyless = self.is_head or 100 <= code < 200 or code in {204, 304}
        if not self.bodyless:
            if declared is not None:
                try:
                    self.owed = int(declared)
                except ValueError:
                    handler.close_connection = True
                else:
                    if self.owed < 0:
                        handler.close_connection = True
            elif handler.request_version >= "HTTP/1.1":
                self.chunked = True
                handler.send_header("Transfer-Encoding", "chunked")
            else:
                handler.close_connection = True  # an HTTP/1.0 client reads the body to EOF
        if handler.close_connection:
            handler.send_header("Connection", "close")
        # BaseHTTPRequestHandler.end_headers, without its separate flush: the head goes out
        # with the first piece of the body.
        handler._headers_buffer.append(b"\r\n")  # type: ignore[attr-defined]
        head = b"".join(handler._headers_buffer)  # type: ignore[attr-defined]
        handler._headers_buffer = []  # type: ignore[attr-defined]
        self.headers_sent = True
        return head

    def write(self, data: bytes) -> None:
        head = b"" if self.headers_sent else self._head()
        assert isinstance(data, bytes), "applications must write bytes"
        if self.bodyless:
            data = b""
        elif self.owed is not None:
            if len(data) > self.owed:  # more than declared: the client reads only what was declared
                data = data[: self.owed]
                self.handler.close_connection = True
            self.owed -= len(data)
        pieces = [head]
        if data:
            if self.chunked:
                pieces += [b"%x\r\n" % len(data), data, b"\r\n"]
            else:
                pieces.append(data)
        wfile = self.handler.wfile
        if sum(len(p) for p in pieces) <= _COALESCE_BYTES:
            wfile.write(b"".join(pieces))
        else:
            for piece in pieces:
                if piece:
                    wfile.write(piece)

    def finish(self) -> None:
        if not self.headers_sent:
            self.write(b"")
        if self.chunked:
            self.handler.wfile.write(b"0\r\n\r\n")
        elif self.owed:  # less than declared: only the end of the connection tells the client
            self.handler.close_connection = True


class KeepAliveRequestHandler(MotoRequestHandler):
    """moto's request handler (its ``make_environ`` is kept) on HTTP/1.1 persistent connections.

    ``run_wsgi`` is werkzeug 3.1's with three changes: no forced ``Connection: close``, every
    response body framed (see ``_Response``), and the rest of the request body read by its
    own framing (``Content-Length`` or chunked) instead of the 10 ms ``select`` drain, which
    would swallow the next request on a kept-alive connection.
    """

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    timeout = IDLE_SECONDS
    _request_body: LimitedStream | DechunkedInput | None = None
    _in_request = False

    def parse_request(self) -> bool:
        self._in_request = True
        return super().parse_request()

    def make_environ(self) -> dict[str, Any]:
        environ = super().make_environ()
        if environ.get("wsgi.input_terminated"):  # chunked: werkzeug already decodes it
            self._request_body = environ["wsgi.input"]
            return environ
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = -1
        if length < 0:  # no way to find where this body ends: answer, then close
            self.close_connection = True
            self._request_body = None
            return environ
        # Reads past the body would eat the next request; werkzeug's Request wraps it again.
        self._request_body = environ["wsgi.input"] = LimitedStream(self.rfile, length)
        return environ

    def run_wsgi(self) -> None:
        try:
            self._run_wsgi()
        finally:
            self._in_request = False

    def _run_wsgi(self) -> None:
        if self.headers.get("Expect", "").lower().strip(" \t") == "100-continue":
            self.wfile.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        self._request_body = None
        self.environ = environ = self.make_environ()
        response = _Response(self, environ)
        try:
            self._execute(self.server.app, response)  # type: ignore[attr-defined]
        except _connection_dropped_errors as e:
            self.close_connection = True
            self.connection_dropped(e, environ)
            return
        except Exception as e:
            if self.server.passthrough_errors:  # type: ignore[attr-defined]
                raise
            if response.headers_sent:
                self.close_connection = True  # a half-sent response cannot be replaced
            else:
                try:
                    response.reset()
                    self._execute(InternalServerError(), response)
                except Exception:
                    self.close_connection = True
            from werkzeug.debug.tbtools import DebugTraceback

            self.server.log("error", f"Error on request:\n{DebugTraceback(e).render_traceback_text()}")  # type: ignore[attr-defined]
        if not self.close_connection:
            self._discard_unread_body()

    def _execute(self, app: Any, response: _Response) -> None:
        application_iter = app(self.environ, response.start_response)
        try:
            for data in application_iter:
                response.write(data)
            response.finish()
        finally:
            if hasattr(application_iter, "close"):
                application_iter.close()

    def _discard_unread_body(self) -> None:
        """What the app left of the request body, read by its framing (werkzeug ``select``s)."""
        body = self._request_body
        if body is None:
            return
        try:
            if isinstance(body, LimitedStream):
                while not body.is_exhausted and body.read(_DRAIN_CHUNK):
                    pass
                if not body.is_exhausted:
                    self.close_connection = True
            else:
                while body.read(_DRAIN_CHUNK):
                    pass
        except Exception:
            self.close_connection = True

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        # werkzeug formats the line (IRI decoding, colours) before its logger's level check.
        if _WERKZEUG_LOG.level == logging.NOTSET or _WERKZEUG_LOG.isEnabledFor(logging.INFO):
            super().log_request(code, size)

    def log_error(self, format: str, *args: Any) -> None:
        if not self._in_request and format.startswith("Request timed out"):
            return  # an idle keep-alive connection reached IDLE_SECONDS: a normal end
        super().log_error(format, *args)


class KeepAliveWSGIServer(ThreadedWSGIServer):
    """werkzeug's threaded server, knowing its open connections so ``stop`` can end them."""

    def __init__(self, host: str, port: int, app: Any) -> None:
        super().__init__(host, port, app, KeepAliveRequestHandler)
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._connections_lock:
            self._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._connections_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def end_connections(self) -> None:
        """Wake every connection's thread: idle ones see EOF and end; a request in flight
        still gets its response, then its connection ends."""
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            try:
                connection.shutdown(socket.SHUT_RD)
            except OSError:
                pass


class KeepAliveMotoServer(ThreadedMotoServer):
    """moto's ``ThreadedMotoServer`` (same app, same request handler behaviour), keep-alive."""

    _server: KeepAliveWSGIServer | None

    def _server_entry(self) -> None:
        app = DomainDispatcherApplication(create_backend_app)
        self._server = KeepAliveWSGIServer(self._ip_address, self._port, app)
        self._server_ready_event.set()
        self._server.serve_forever()

    def stop(self) -> None:
        server = self._server
        super().stop()
        if server is not None:
            server.end_connections()
            server.server_close()

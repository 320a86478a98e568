"""Before a command, is the named local cloud there? Against real servers on this machine.

What this proves: a server that accepts connections and never answers (a suspended
``dualloop local up``) is found within the timeout, in one sentence; any HTTP answer counts as a
cloud. The rest of ``check_endpoint`` and ``preflight`` need no server (tests/unit/test_user_errors.py).
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import pytest
from user_error_support import one_sentence

from shared.user_errors import check_endpoint


@pytest.fixture
def silent_server() -> Iterator[str]:
    """Accepts connections, never answers: a suspended `dualloop local up`."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(8)
        yield f"http://127.0.0.1:{s.getsockname()[1]}"


@pytest.fixture
def other_server() -> Iterator[str]:
    """Answers every request with 404: something that is not the local cloud."""

    class NotFound(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(404)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), NotFound)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()


def test_a_suspended_cloud_is_found_in_the_timeout(silent_server: str) -> None:
    error = one_sentence(check_endpoint(silent_server, timeout=0.3))
    assert "did not answer within 0.3 s" in error.message


def test_any_http_answer_is_a_cloud(other_server: str) -> None:
    assert check_endpoint(other_server, timeout=1) is None

"""A unit test starts no subprocess, no server and no Spark (tests/unit/conftest.py).

What this proves: inside a unit test, starting a subprocess or listening on a socket fails the
test with one sentence saying to move it to tests/functional, and a unit test that asks for the
local cloud or Spark is failed before the fixture starts them. What it cannot prove: that no
other way to start a process exists (os.fork, os.system are not watched).
"""

from __future__ import annotations

import socket
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

MOVE = r"move it to tests/functional \(a unit test starts no Spark, no subprocess and no server\)\.$"


def test_a_subprocess_fails_the_test_naming_where_it_belongs() -> None:
    with pytest.raises(pytest.fail.Exception, match=r"^This unit test starts a subprocess: " + MOVE):
        subprocess.run([sys.executable, "-c", "pass"], check=False)


def test_a_server_socket_fails_the_test_naming_where_it_belongs() -> None:
    with (
        socket.socket() as server,
        pytest.raises(pytest.fail.Exception, match=r"opens a server socket: " + MOVE),
    ):
        server.bind(("127.0.0.1", 0))
        server.listen(1)


def test_the_local_cloud_and_spark_fixtures_are_refused_before_they_start(
    request: pytest.FixtureRequest,
) -> None:
    here = Path(__file__).with_name("conftest.py")
    (guard,) = [
        p for p in request.config.pluginmanager.get_plugins() if getattr(p, "__file__", None) == str(here)
    ]
    pytest_runtest_setup = guard.pytest_runtest_setup

    @dataclass
    class Item:
        nodeid: str
        fixturenames: tuple[str, ...]

    with pytest.raises(
        pytest.fail.Exception, match=r"^t::x uses the local cloud and a SparkSession: " + MOVE
    ):
        pytest_runtest_setup(Item("t::x", ("tmp_path", "local_cloud", "spark")))
    pytest_runtest_setup(Item("t::y", ("tmp_path", "monkeypatch")))

"""A unit test is pure: it starts no Spark, no subprocess and no server (issue 15).

This guard fails a unit test that does, with one sentence saying where it belongs. Only the
test's own thread is watched: a local cloud that a functional module left running in the same
worker keeps its threads, servers and model-server processes.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
from collections.abc import Callable
from typing import Any

import pytest

MOVE = "move it to tests/functional (a unit test starts no Spark, no subprocess and no server)"
# Fixtures that start what a unit test must not; refused before they are set up.
_IMPURE_FIXTURES = {"local_cloud": "the local cloud", "cloud": "the local cloud", "spark": "a SparkSession"}


def pytest_runtest_setup(item: pytest.Item) -> None:
    used = [what for name, what in _IMPURE_FIXTURES.items() if name in getattr(item, "fixturenames", ())]
    if used:
        pytest.fail(f"{item.nodeid} uses {' and '.join(used)}: {MOVE}.", pytrace=False)


@pytest.fixture(autouse=True)
def _pure(monkeypatch: pytest.MonkeyPatch) -> None:
    test_thread = threading.current_thread()

    def refuse(what: str, original: Callable[..., Any]) -> Callable[..., Any]:
        def guarded(*args: Any, **kwargs: Any) -> Any:
            if threading.current_thread() is test_thread:
                pytest.fail(f"This unit test {what}: {MOVE}.", pytrace=False)
            return original(*args, **kwargs)

        return guarded

    monkeypatch.setattr(
        subprocess.Popen, "__init__", refuse("starts a subprocess", subprocess.Popen.__init__)
    )
    monkeypatch.setattr(socket.socket, "listen", refuse("opens a server socket", socket.socket.listen))
    if "pyspark.sql" in sys.modules:  # else starting Spark's JVM is a subprocess, refused above
        builder = sys.modules["pyspark.sql"].SparkSession.Builder
        monkeypatch.setattr(builder, "getOrCreate", refuse("creates a SparkSession", builder.getOrCreate))

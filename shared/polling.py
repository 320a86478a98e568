"""Waiting for something to happen: one loop, with a deadline and a sentence naming what never did."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


class NeverHappened(TimeoutError):
    """What was waited for did not happen before the deadline."""


def wait_until(check: Callable[[], T | None], *, what: str, timeout: float, interval: float = 0.05) -> T:
    """The first truthy value of ``check()``, called every ``interval`` seconds; ``NeverHappened``
    ("<what> did not happen within <timeout> s.") once ``timeout`` seconds have passed."""
    deadline = time.monotonic() + timeout
    while not (value := check()):
        if time.monotonic() >= deadline:
            raise NeverHappened(f"{what} did not happen within {timeout:g} s.")
        time.sleep(interval)
    return value

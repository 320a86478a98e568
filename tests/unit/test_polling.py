"""``shared.polling.wait_until``: the one polling loop the tests (and the product) share.

What this proves: it returns the first truthy value without waiting once it is there, and
after the deadline fails with one sentence naming what never happened.
"""

from __future__ import annotations

import time

import pytest

from shared.polling import NeverHappened, wait_until


def test_the_first_truthy_value_is_returned() -> None:
    answers = iter([None, "", "ready", "later"])
    assert wait_until(lambda: next(answers), what="readiness", timeout=5, interval=0) == "ready"


def test_a_check_that_never_holds_names_what_never_happened() -> None:
    started = time.monotonic()
    with pytest.raises(NeverHappened, match=r"^the endpoint going InService did not happen within 0\.1 s\.$"):
        wait_until(lambda: False, what="the endpoint going InService", timeout=0.1, interval=0.01)
    assert 0.1 <= time.monotonic() - started < 2

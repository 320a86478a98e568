"""The bad-input suite's figure (tests/conftest.py) counts what really happened, under xdist too.

What this proves: a pytest run of marked cases, on two xdist workers, prints one line with the
count per category, counts a failing case (and one failing only in its teardown, and an xfail)
as not clear, naming it, lists a skipped case apart, and refuses a marker without a valid
category. What it cannot prove: that a marked case checks what it claims (each case's own asserts).
"""

from __future__ import annotations

from pathlib import Path

import pytest

pytest_plugins = ("pytester",)

CONFTEST = Path(__file__).resolve().parents[1] / "conftest.py"

CASES = """
import pytest

@pytest.fixture
def broken_teardown():
    yield
    raise RuntimeError("lost on the way out")

@pytest.mark.bad_input("config")
@pytest.mark.parametrize("n", [1, 2])
def test_clear(n):
    assert n

@pytest.mark.bad_input("events")
def test_not_clear():
    assert False, "a traceback, not a sentence"

@pytest.mark.bad_input("cli")
def test_teardown_fails(broken_teardown):
    pass

@pytest.mark.bad_input("data")
@pytest.mark.xfail(reason="known")
def test_expected_to_fail():
    assert False

@pytest.mark.bad_input("approvals")
def test_skipped():
    pytest.skip("no cloud")

def test_unmarked():
    pass
"""


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makeconftest(CONFTEST.read_text())
    pytester.makeini(
        "[pytest]\nmarkers =\n    bad_input(category): a bad-input case\n    xdist_group: xdist\n"
    )
    return pytester


def test_the_line_counts_failures_as_not_clear_under_xdist(project: pytest.Pytester) -> None:
    project.makepyfile(test_cases=CASES)
    result = project.runpytest_subprocess("-n", "2", "--dist", "loadgroup", "-p", "xdist")
    line = next(x for x in result.outlines if x.startswith("bad-input suite:"))
    assert line == (
        "bad-input suite: 6 cases (data 1, config 2, cli 1, endpoint 0, events 1, approvals 1): "
        "2 end in one clear sentence with nothing lost; 3 failed: test_cases.py::test_expected_to_fail "
        "test_cases.py::test_not_clear test_cases.py::test_teardown_fails; 1 skipped (not counted as clear): "
        "test_cases.py::test_skipped"
    )


def test_a_marker_without_a_known_category_is_refused(project: pytest.Pytester) -> None:
    project.makepyfile(
        test_bad="import pytest\n\n@pytest.mark.bad_input('weather')\ndef test_x():\n    pass\n"
    )
    result = project.runpytest_subprocess()
    assert result.ret != 0
    assert (
        "bad_input takes one category of data, config, cli, endpoint, events, approvals"
        in result.stderr.str()
    )

"""Settings every test needs: a region (the SageMaker SDK reads it at import time), no real
credentials, and no way to reach real AWS by accident."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from shared.local_cloud import LocalCloud

os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
os.environ["SAGEMAKER_VALIDATE_ROLE"] = "false"
os.environ["AWS_ACCESS_KEY_ID"] = "testing"
os.environ["AWS_SECRET_ACCESS_KEY"] = "testing"
os.environ.pop("AWS_PROFILE", None)
os.environ.pop("AWS_SESSION_TOKEN", None)

from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def local_cloud() -> Iterator[LocalCloud]:
    """The local cloud with every worker attached, in-process on a free port.

    One per test session (moto's backends are process-wide): tests use unique names.
    """
    from shared.local_cloud import LocalCloud
    from shared.local_cloud.workers import attach_all

    cloud = LocalCloud(port=0).start()
    attach_all(cloud)
    saved = {k: os.environ.get(k) for k in cloud.env()}
    os.environ.update(cloud.env())
    _create_test_roles()
    try:
        yield cloud
    finally:
        cloud.stop()
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _create_test_roles() -> None:
    """The roles tests not about IAM name for their workloads (``tests/iam_support.py``)."""
    import boto3
    from iam_support import TEST_ROLES, unconfined_role

    iam = boto3.client("iam")
    for name in TEST_ROLES:
        unconfined_role(iam, name)


_FOLDER_MARKERS = frozenset({"unit", "functional", "infra", "e2e", "bench"})


@pytest.hookimpl(tryfirst=True)  # before `-m` deselects by marker, and before xdist reads groups
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Each test is marked by its folder (tests/unit → ``unit``, ...), not by hand in each file.

    And what shares an expensive fixture stays on one xdist worker (``make test`` runs
    ``--dist loadgroup``): a module's tests (their module-scoped local cloud), every infra
    test (one CDK synthesis per session) and every Spark test (one JVM per session).
    """
    tests = Path(__file__).parent
    for item in items:
        inside = item.path.is_relative_to(tests)
        folder = item.path.relative_to(tests).parts[0] if inside else ""
        if folder in _FOLDER_MARKERS:
            item.add_marker(folder)
        if folder == "infra":
            group = "infra"
        elif "spark" in getattr(item, "fixturenames", ()):
            group = "spark"
        else:
            group = item.path.relative_to(tests).as_posix() if inside else str(item.path)
        item.add_marker(pytest.mark.xdist_group(group))


# ---- the bad-input suite's figure (issue 17) ------------------------------------------------------
# A case marked ``bad_input(category)`` feeds the product a bad input and asserts both one clear
# message and that nothing was lost; it counts as "clear" only if every phase passed. The category
# travels in ``report.user_properties`` so the xdist controller, which sees only reports, can count.

BAD_INPUT_CATEGORIES = ("data", "config", "cli", "endpoint", "events", "approvals")
_BAD_INPUT_KEY = "bad_input"
_bad_inputs: dict[str, tuple[str, bool, bool]] = {}  # nodeid -> (category, failed, skipped)


def pytest_itemcollected(item: pytest.Item) -> None:
    marker = item.get_closest_marker(_BAD_INPUT_KEY)
    if marker is not None and (len(marker.args) != 1 or marker.args[0] not in BAD_INPUT_CATEGORIES):
        raise pytest.UsageError(
            f"{item.nodeid}: bad_input takes one category of {', '.join(BAD_INPUT_CATEGORIES)}, "
            f"not {marker.args!r}"
        )


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    marker = item.get_closest_marker(_BAD_INPUT_KEY)
    if marker is not None:
        report: pytest.TestReport = outcome.get_result()
        report.user_properties.append((_BAD_INPUT_KEY, marker.args[0]))


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    category = dict(report.user_properties).get(_BAD_INPUT_KEY)
    if category is None:
        return
    _, failed, skipped = _bad_inputs.get(report.nodeid, (category, False, False))
    # xfail and xpass count as failed: a case that does not pass cleanly is not clear.
    failed = failed or report.failed or hasattr(report, "wasxfail")
    skipped = skipped or (report.skipped and not hasattr(report, "wasxfail"))
    _bad_inputs[report.nodeid] = (category, failed, skipped)


def bad_input_summary(cases: dict[str, tuple[str, bool, bool]]) -> str:
    """One line: how many cases per category, how many end in one clear sentence with nothing lost."""
    counts = {c: sum(1 for cat, _, _ in cases.values() if cat == c) for c in BAD_INPUT_CATEGORIES}
    failed = sorted(nodeid for nodeid, (_, bad, _) in cases.items() if bad)
    skipped = sorted(nodeid for nodeid, (_, bad, skip) in cases.items() if skip and not bad)
    clear = len(cases) - len(failed) - len(skipped)
    per_category = ", ".join(f"{c} {n}" for c, n in counts.items())
    line = (
        f"bad-input suite: {len(cases)} cases ({per_category}): {clear} end in one clear sentence "
        f"with nothing lost; {len(failed)} failed"
    )
    if failed:
        line += ": " + " ".join(failed)
    if skipped:
        line += f"; {len(skipped)} skipped (not counted as clear): " + " ".join(skipped)
    return line


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if _bad_inputs:
        terminalreporter.write_line(bad_input_summary(_bad_inputs))

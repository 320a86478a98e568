"""Settings every test needs: a region (the SageMaker SDK reads it at import time), no real
credentials, and no way to reach real AWS by accident."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

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

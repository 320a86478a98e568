"""Fixtures shared by the functional tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from shared.local_cloud import LocalCloud
from shared.local_cloud.sagemaker import worker


@pytest.fixture(scope="module")
def cloud(local_cloud: LocalCloud) -> Iterator[LocalCloud]:
    """The session's local cloud with the pipeline worker attached (and detached afterwards if
    this module attached it, so other modules keep whatever they had). Modules that need
    another worker (standalone jobs) define their own ``cloud``."""
    attached_here = not worker.is_attached(local_cloud)
    worker.attach(local_cloud)
    yield local_cloud
    if attached_here:
        worker.detach(local_cloud)

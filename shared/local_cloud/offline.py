"""Moto's in-memory AWS, without a server: for builds that must run offline (the CDK synth
builds the inner pipeline's definition against it, ``infra/pipeline_build.py``).

Only the local cloud imports moto (an import-linter contract in pyproject.toml); this is the
door for code above it. ``mock_aws`` resets moto's process-wide backends, so use it in a
process of its own, never beside a running local cloud.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def offline_aws() -> Iterator[None]:
    from moto import mock_aws

    with mock_aws():
        yield

"""A fresh ``DUALLOOP_HOME`` per test that still shares the content-keyed caches.

Tests that run ``dualloop`` in a process of its own give it an empty home, so no state of
another test leaks in. The caches under ``<home>/cache`` (the synthesized stack template,
installed job requirements) are keyed by the content they were built from, so sharing them
changes no outcome and spares each such test a CDK synthesis (5-13 s of CPU).
"""

from __future__ import annotations

import os
from pathlib import Path


def fresh_home(path: Path) -> Path:
    """``path`` as a new DUALLOOP_HOME whose ``cache`` is this test session's."""
    shared = Path(os.environ.get("DUALLOOP_HOME") or Path.home() / ".dualloop") / "cache"
    shared.mkdir(parents=True, exist_ok=True)
    path.mkdir(parents=True, exist_ok=True)
    (path / "cache").symlink_to(shared, target_is_directory=True)
    return path

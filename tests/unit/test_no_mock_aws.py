"""No test uses moto's ``mock_aws``: starting it resets moto's process-wide backends.

The tests of a pytest-xdist worker share one local cloud per session (tests/conftest.py); a
``mock_aws`` anywhere in that worker wipes its roles, buckets and state machines, and every later
module on that worker fails with errors that name something else (``Role local-test not found``).
Tests needing S3 or any other service use the session's local cloud (the ``local_cloud`` fixture).
"""

from __future__ import annotations

import re
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]
USE = re.compile(r"@mock_aws\b|\bmock_aws\s*\(")


def test_no_test_starts_mock_aws() -> None:
    uses = [
        f"{path.relative_to(TESTS)}:{number}"
        for path in sorted(TESTS.rglob("*.py"))
        if path != Path(__file__).resolve()
        for number, line in enumerate(path.read_text().splitlines(), start=1)
        if USE.search(line)
    ]
    assert uses == [], f"use the local_cloud fixture instead of moto's mock_aws at {', '.join(uses)}"

"""Markers come from the folder (tests/conftest.py), not from a line in each file.

What this proves: a test in tests/unit carries ``unit`` and no other folder's marker, though
this file sets none, so ``-m unit`` / ``-m "not bench"`` select by folder.
"""

from __future__ import annotations

import pytest


def test_a_test_in_tests_unit_is_marked_unit(request: pytest.FixtureRequest) -> None:
    marks = {m.name for m in request.node.iter_markers()}
    assert "unit" in marks
    assert not marks & {"functional", "infra", "e2e", "bench"}

"""Names for resources a test creates: the session shares one local cloud, so each is unique."""

from __future__ import annotations

import uuid


def unique_name(prefix: str) -> str:
    """``<prefix>-<8 hex digits>``."""
    return f"{prefix}-{uuid.uuid4().hex[:8]}"

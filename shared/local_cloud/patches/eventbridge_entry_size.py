"""Fix: ``PutEvents`` takes requests of any size.

EventBridge refuses a request whose entries add up to more than 256 KB, sized as AWS
documents it ("Calculating PutEvents event entry size", EventBridge User Guide: ``Time`` 14
bytes if given; ``Source``, ``DetailType`` and ``Detail`` their UTF-8 bytes; each of
``Resources`` its UTF-8 bytes). moto 5.2.5 checks only the number of entries (at most 10),
so an oversized event reached the rules and their targets locally. This wraps moto's
``put_events`` with the size check first.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from moto.events.exceptions import ValidationException
from moto.events.models import EventsBackend

from shared.local_cloud.patches import Patch, original

MAX_ENTRIES_BYTES = 256 * 1024


PATCH = Patch(__name__)


def entry_size(entry: Mapping[str, Any]) -> int:
    """A PutEventsRequestEntry's size, as EventBridge computes it."""
    size = 14 if entry.get("Time") is not None else 0
    for key in ("Source", "DetailType", "Detail"):
        size += len(str(entry.get(key) or "").encode("utf-8"))
    size += sum(len(str(r).encode("utf-8")) for r in entry.get("Resources") or () if r is not None)
    return size


@PATCH.replaces(EventsBackend, "put_events", "c56f6ac1f932c70d")
def _put_events(self: EventsBackend, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    total = sum(entry_size(e) for e in events)
    if total > MAX_ENTRIES_BYTES:
        raise ValidationException(
            f"Total size of the entries in the request is over the limit: {total} bytes, the limit is "
            f"{MAX_ENTRIES_BYTES} (256 KB); put a large payload in S3 and send its location instead."
        )
    result: list[dict[str, Any]] = original(EventsBackend, "put_events")(self, events)
    return result

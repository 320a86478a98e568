"""Fix: ``GetExecutionHistory`` returns every event in one answer, whatever was asked.

AWS returns at most ``maxResults`` events per call (default 100, at most 1,000; 0 means the
default), newest first with ``reverseOrder``, without inputs and outputs when
``includeExecutionData`` is false, and a ``nextToken`` for the rest (an unknown token is
``InvalidToken``, HTTP 400). moto 5.2.5 ignores all four, so a client that reads one page
works locally and misses events on AWS once an execution has more than 100. It also
costs: a follower that wants the few newest events had the whole history serialized on
every poll.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from moto.core.responses import ActionResult
from moto.stepfunctions.exceptions import InvalidToken
from moto.stepfunctions.responses import StepFunctionResponse

from shared.local_cloud.patches import Patch

DEFAULT_PAGE = 100  # AWS: "The default is 100 and the maximum allowed page size is 1000."
_DATA_KEYS = ("input", "output")


PATCH = Patch(__name__)


def _token(arn: str, reverse: bool, offset: int) -> str:
    return base64.urlsafe_b64encode(json.dumps([arn, reverse, offset]).encode()).decode()


def _offset(token: str | None, arn: str, reverse: bool) -> int:
    """Where the page starts; a token made for another execution or order is refused, as AWS
    asks to "keep all other arguments unchanged"."""
    if not token:
        return 0
    try:
        token_arn, token_reverse, offset = json.loads(base64.urlsafe_b64decode(token.encode()))
    except (binascii.Error, ValueError, TypeError):
        raise InvalidToken("the nextToken was not returned by GetExecutionHistory") from None
    if token_arn != arn or token_reverse != reverse or not isinstance(offset, int) or offset < 0:
        raise InvalidToken("the nextToken belongs to another request: keep all other arguments unchanged")
    return offset


def _without_data(event: dict[str, Any]) -> dict[str, Any]:
    return {
        key: {k: v for k, v in value.items() if k not in _DATA_KEYS}
        if key.endswith("EventDetails") and isinstance(value, dict)
        else value
        for key, value in event.items()
    }


@PATCH.replaces(StepFunctionResponse, "get_execution_history", "3889cc6224ac2f76")
def _get_execution_history(self: Any) -> ActionResult:
    arn = self._get_param("executionArn")
    reverse = bool(self._get_param("reverseOrder"))
    size = int(self._get_param("maxResults") or 0) or DEFAULT_PAGE  # request validation bounds it
    include_data = self._get_param("includeExecutionData") is not False
    start = _offset(self._get_param("nextToken"), arn, reverse)
    events = list(self.stepfunction_backend.get_execution_history(arn)["events"])
    if reverse:
        events.reverse()
    page = events[start : start + size]
    result: dict[str, Any] = {"events": page if include_data else [_without_data(e) for e in page]}
    if start + size < len(events):
        result["nextToken"] = _token(arn, reverse, start + size)
    return ActionResult(result)

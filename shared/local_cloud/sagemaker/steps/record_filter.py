"""Batch transform's record filters: SageMaker's JSONPath subset, CSV rows as JSON arrays.

From the developer guide, "Associate prediction results with input records": ``InputFilter``
and ``OutputFilter`` take a JSONPath subset: ``$`` (the whole record), child names (``$.a.b``,
``$['a']``), several names (``$['id','SageMakerOutput']``), indexes (``$[0]``, ``$[1,3]``,
``$[-1]``) and slices (``$[1:]``, ``$[:3]``). A CSV record is handled as a JSON array of its
fields; ``JoinSource: Input`` appends the output to that array (CSV), or adds it as the key
``SageMakerOutput`` of a JSON object input (a JSON array input gets it appended).
Anything outside the subset is refused with an error naming it.
"""

from __future__ import annotations

import csv
import io
import json
import re
from typing import Any

from shared.local_cloud.sagemaker.errors import StepFailure

_TOKEN = re.compile(r"\.(?P<name>[A-Za-z_][A-Za-z0-9_-]*)|\[(?P<bracket>[^\]]*)\]")
_SLICE = re.compile(r"^\s*(-?\d*)\s*:\s*(-?\d*)\s*$")


def apply(path: str | None, value: Any) -> Any:
    """``value`` selected by the JSONPath ``path`` (None or ``$``: unchanged)."""
    if path is None or path.strip() in ("", "$"):
        return value
    text = path.strip()
    if not text.startswith("$"):
        raise _bad(path, "it must start with $")
    pos = 1
    current = value
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None:
            raise _bad(path, f"cannot read {text[pos:]!r}")
        pos = match.end()
        if match["name"] is not None:
            current = _child(path, current, match["name"])
        else:
            current = _bracket(path, current, match["bracket"])
    return current


def _child(path: str, value: Any, name: str) -> Any:
    if not isinstance(value, dict) or name not in value:
        raise StepFailure(f"ClientError: filter {path!r}: the record has no field {name!r}")
    return value[name]


def _bracket(path: str, value: Any, inner: str) -> Any:
    inner = inner.strip()
    if inner.startswith(("'", '"')):
        names = [n.strip().strip("'\"") for n in inner.split(",")]
        if len(names) == 1:
            return _child(path, value, names[0])
        return {n: _child(path, value, n) for n in names}
    if not isinstance(value, list):
        raise StepFailure(
            f"ClientError: filter {path!r}: [{inner}] needs an array (a CSV row), got {type(value).__name__}"
        )
    slice_match = _SLICE.match(inner)
    if slice_match is not None:
        start, stop = (int(v) if v else None for v in slice_match.groups())
        return value[start:stop]
    try:
        indexes = [int(i) for i in inner.split(",")]
    except ValueError:
        raise _bad(path, f"[{inner}] is not an index, a slice or quoted names") from None
    try:
        picked = [value[i] for i in indexes]
    except IndexError:
        raise StepFailure(f"ClientError: filter {path!r}: the record has only {len(value)} fields") from None
    return picked[0] if len(picked) == 1 else picked


def _bad(path: str, why: str) -> StepFailure:
    return StepFailure(
        f"ClientError: filter {path!r} is outside the JSONPath subset SageMaker supports: {why}"
    )


# ---- records as values ---------------------------------------------------------------------------
def parse(record: bytes, content_type: str) -> Any:
    text = record.decode("utf-8").strip("\r\n")
    if "json" in content_type:
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise StepFailure(f"ClientError: a record is not JSON ({exc}): {text[:80]!r}") from None
    if "csv" in content_type:
        return next(csv.reader([text]), [])
    raise StepFailure(
        f"ClientError: DataProcessing filters and JoinSource need text/csv or JSON records, not {content_type!r}"
    )


def render(value: Any, content_type: str) -> bytes:
    if "csv" in content_type and isinstance(value, list):
        out = io.StringIO()
        csv.writer(out, lineterminator="").writerow(value)
        return out.getvalue().encode()
    if "csv" in content_type and not isinstance(value, dict):
        return str(value).encode()
    return json.dumps(value, separators=(",", ":")).encode()


def join(source: Any, output: Any) -> Any:
    """``JoinSource: Input``: the input record with the prediction added."""
    if isinstance(source, dict):
        return {**source, "SageMakerOutput": output}
    if isinstance(source, list):
        return [*source, *(output if isinstance(output, list) else [output])]
    raise StepFailure("ClientError: JoinSource Input needs CSV rows or JSON objects/arrays as records")

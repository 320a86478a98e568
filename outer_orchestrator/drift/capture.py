"""Read an endpoint's captured requests for a time window from S3.

SageMaker data capture writes JSON lines under
``<DestinationS3Uri>/<endpoint>/<variant>/yyyy/mm/dd/hh/<file>.jsonl`` (UTC hours), one line
per request::

    {"captureData": {"endpointInput": {"observedContentType": "text/csv", "mode": "INPUT",
                                       "data": "12.5,gas,...", "encoding": "CSV"},
                     "endpointOutput": {...}},
     "eventMetadata": {"eventId": "...", "inferenceTime": "2026-11-24T08:00:00Z"},
     "eventVersion": "0"}

``encoding`` is CSV or JSON (the text as sent) or BASE64 (any other content, or a body that is
not valid UTF-8); ``observedContentType`` says how to read it. Inputs are read as the serving
handler reads them (``inner_pipeline/code/inference.py``): CSV rows of raw values in feature
order (a header row naming the features is skipped), or JSON ``{"instances": [...]}``
/ a bare list of records, each an object by feature name or a list in feature order. Keys and
header cells are names by the header rule (``shared.column_names``), as the handler reads them.

Only the hour prefixes that overlap the window are listed, and a line whose ``inferenceTime``
falls outside the window is skipped (a prefix's hour can start before the window does). A line
the model server would have rejected, or that is not a capture record at all, counts as
malformed and is skipped; the first few are kept with their S3 key and line number.
"""

from __future__ import annotations

import base64
import binascii
import csv
import io
import json
import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from shared.column_names import HeaderClashError, column_names, is_header_row
from shared.config import DataSchema, FeatureType

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

CSV = "text/csv"
JSON = "application/json"
MAX_EXAMPLES = 5


class MalformedRecord(ValueError):
    """One capture line cannot be used; the message says why."""


@dataclass(frozen=True)
class Capture:
    """Captured rows of a window: ``columns`` maps each schema feature, in schema order, to its
    values: numerics as float (NaN = missing), categoricals as str or None."""

    columns: Mapping[str, Sequence[Any]]
    destination: str
    files: int
    records: int  # capture lines in the window that were parsed
    malformed: int
    out_of_window: int
    malformed_examples: tuple[str, ...]  # "<key>:<line>: <reason>" for the first malformed lines

    @property
    def rows(self) -> int:
        return len(next(iter(self.columns.values()), ()))


def read_capture(
    s3: S3Client,
    destination_uri: str,
    endpoint: str,
    schema: DataSchema,
    start: datetime,
    end: datetime,
    variants: list[str] | None = None,
) -> Capture:
    """Every captured request of ``endpoint`` with ``start <= inferenceTime < end``."""
    bucket, base = split_s3_uri(destination_uri)
    root = f"{base}{endpoint}/"
    if variants is None:  # a blue/green update keeps the name; a config could still list several
        variants = [p.removeprefix(root).rstrip("/") for p in _common_prefixes(s3, bucket, root)]
    reader = _Reader(schema, start, end)
    files = 0
    for variant in variants:
        for hour in hour_prefixes(start, end):
            for key in _keys(s3, bucket, f"{root}{variant}/{hour}"):
                if not key.endswith(".jsonl"):
                    continue
                files += 1
                body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
                reader.read(key, body.decode("utf-8", errors="replace"))
    return Capture(
        columns=dict(zip(reader.names, reader.columns, strict=True)),
        destination=f"s3://{bucket}/{root}",
        files=files,
        records=reader.records,
        malformed=reader.malformed,
        out_of_window=reader.out_of_window,
        malformed_examples=tuple(reader.examples),
    )


def hour_prefixes(start: datetime, end: datetime) -> list[str]:
    """``yyyy/mm/dd/hh/`` of every UTC hour that overlaps ``[start, end)``."""
    hour = _utc(start).replace(minute=0, second=0, microsecond=0)
    stop = _utc(end)
    out = []
    while hour < stop:
        out.append(hour.strftime("%Y/%m/%d/%H/"))
        hour += timedelta(hours=1)
    return out


def split_s3_uri(uri: str) -> tuple[str, str]:
    """``s3://bucket/a/b`` -> ("bucket", "a/b/"); the prefix is "" or ends with "/"."""
    if not uri.startswith("s3://") or not uri[5:].split("/", 1)[0]:
        raise ValueError(f"not an s3:// URI: {uri!r}")
    bucket, _, prefix = uri[5:].partition("/")
    prefix = prefix.strip("/")
    return bucket, f"{prefix}/" if prefix else ""


# ---- parsing -------------------------------------------------------------------------------


class _Reader:
    def __init__(self, schema: DataSchema, start: datetime, end: datetime) -> None:
        self.names = schema.feature_names
        self.numeric = [f.type == FeatureType.NUMERIC for f in schema.features]
        self.start, self.end = _utc(start), _utc(end)
        self.columns: list[list[Any]] = [[] for _ in self.names]
        self.records = self.malformed = self.out_of_window = 0
        self.examples: list[str] = []

    def read(self, key: str, text: str) -> None:
        # "\n" only: str.splitlines() would also split inside a JSON string holding U+2028.
        for number, line in enumerate(text.split("\n"), start=1):
            if not line.strip():
                continue
            try:
                rows = self._record(line)
            except MalformedRecord as exc:
                self.malformed += 1
                if len(self.examples) < MAX_EXAMPLES:
                    self.examples.append(f"{key}:{number}: {exc}")
                continue
            if rows is None:
                self.out_of_window += 1
                continue
            self.records += 1
            for row in rows:  # all rows of a record validated first: a request is used whole or not at all
                for column, value in zip(self.columns, row, strict=True):
                    column.append(value)

    def _record(self, line: str) -> list[list[Any]] | None:
        """The record's rows of converted values; None when it lies outside the window."""
        try:
            record = json.loads(line)
            captured = record["captureData"]["endpointInput"]
            data, encoding = captured["data"], str(captured.get("encoding", "CSV")).upper()
            content_type = _media_type(captured.get("observedContentType"))
        except json.JSONDecodeError as exc:
            raise MalformedRecord(f"not JSON: {exc.msg}") from None
        except (KeyError, TypeError):
            raise MalformedRecord("not a capture record with captureData.endpointInput.data") from None
        when = _inference_time(record)
        if when is not None and not self.start <= when < self.end:
            return None
        if not isinstance(data, str):
            raise MalformedRecord("endpointInput.data is not a string")
        text = _decode(data, encoding)
        if content_type == CSV or (not content_type and encoding == "CSV"):
            return self._csv_rows(text)
        if content_type == JSON or (not content_type and encoding == "JSON"):
            return self._json_rows(text)
        raise MalformedRecord(f"unsupported content type {content_type or '(none)'!r}")

    def _csv_rows(self, text: str) -> list[list[Any]]:
        try:
            rows = [row for row in csv.reader(io.StringIO(text)) if row]
        except csv.Error as exc:
            raise MalformedRecord(f"not valid CSV: {exc}") from None
        if rows and is_header_row(rows[0], self.names):
            rows = rows[1:]
        return self._convert(rows)

    def _json_rows(self, text: str) -> list[list[Any]]:
        try:
            payload = json.loads(text)
        except json.JSONDecodeError as exc:
            raise MalformedRecord(f"input is not valid JSON: {exc.msg}") from None
        if isinstance(payload, dict):
            payload = payload.get("instances")
        if not isinstance(payload, list):
            raise MalformedRecord('JSON input is neither {"instances": [...]} nor a list of records')
        rows = []
        for number, item in enumerate(payload, start=1):
            if isinstance(item, dict):
                try:
                    record = dict(zip(column_names(list(item)), item.values(), strict=True))
                except HeaderClashError as exc:
                    raise MalformedRecord(f"row {number}: {exc}") from None
                absent = [n for n in self.names if n not in record]
                if absent:
                    raise MalformedRecord(f"row {number} lacks feature(s) {', '.join(absent)}")
                rows.append([record[n] for n in self.names])
            elif isinstance(item, list):
                rows.append(item)
            else:
                raise MalformedRecord(f"row {number} is neither a record nor a list of values")
        return self._convert(rows)

    def _convert(self, rows: list[list[Any]]) -> list[list[Any]]:
        if not rows:
            raise MalformedRecord("the request holds no rows")
        out = []
        for number, row in enumerate(rows, start=1):
            if len(row) != len(self.names):
                raise MalformedRecord(f"row {number} has {len(row)} values; expected {len(self.names)}")
            try:
                out.append(
                    [
                        _number(v) if numeric else _category(v)
                        for v, numeric in zip(row, self.numeric, strict=True)
                    ]
                )
            except MalformedRecord as exc:
                raise MalformedRecord(f"row {number}: {exc}") from None
        return out


def _decode(data: str, encoding: str) -> str:
    if encoding in ("CSV", "JSON"):
        return data
    if encoding != "BASE64":
        raise MalformedRecord(f"unknown encoding {encoding!r}")
    try:
        return base64.b64decode(data, validate=True).decode("utf-8")
    except (binascii.Error, ValueError):
        raise MalformedRecord("BASE64 data does not decode to UTF-8 text") from None


def _number(value: Any) -> float:
    """As ``common.to_numeric``: empty or null is missing (NaN); text must be a finite number."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return math.nan
    if isinstance(value, dict | list):
        raise MalformedRecord(f"a {type(value).__name__} is not a value")
    try:
        number = float(value)  # bool -> 0/1, as a boolean column is in training data
    except ValueError:
        raise MalformedRecord(f"{str(value)[:40]!r} is not a number") from None
    if not math.isfinite(number):
        raise MalformedRecord(f"{str(value)[:40]!r} is not a finite number")
    return number


def _category(value: Any) -> str | None:
    """As ``common.category_strings``: 5411.0 reads as "5411"; an empty cell is missing."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, dict | list):
        raise MalformedRecord(f"a {type(value).__name__} is not a value")
    if isinstance(value, bool):
        return str(int(value))
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _inference_time(record: dict[str, Any]) -> datetime | None:
    raw = (record.get("eventMetadata") or {}).get("inferenceTime")
    if raw is None:
        return None  # the hour prefix already placed it in the window
    try:
        return _utc(datetime.fromisoformat(str(raw).replace("Z", "+00:00")))
    except ValueError:
        raise MalformedRecord(f"inferenceTime {str(raw)[:40]!r} is not an ISO 8601 time") from None


def _media_type(value: Any) -> str:
    return str(value or "").split(";")[0].strip().lower()


def _utc(when: datetime) -> datetime:
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)


# ---- S3 listing ----------------------------------------------------------------------------


def _keys(s3: S3Client, bucket: str, prefix: str) -> Iterator[str]:
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for item in page.get("Contents", []):
            yield item["Key"]


def _common_prefixes(s3: S3Client, bucket: str, prefix: str) -> Iterator[str]:
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix, Delimiter="/"):
        for item in page.get("CommonPrefixes", []):
            yield item["Prefix"]

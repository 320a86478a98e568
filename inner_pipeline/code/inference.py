"""Serving: the SageMaker inference handler contract for the trained XGBoost model.

``model_fn(model_dir)`` loads ``xgboost-model.json`` and ``preprocessing.json`` from the
extracted model artifact. Requests carry raw feature values; they are encoded exactly as in
training (``common.encode_features``), so an unknown category is treated as missing in both.

Requests (``Content-Type``):

- ``text/csv``: one row per line, values in feature order (preprocessing.json), no header;
  a first row equal to the feature names is skipped. An empty cell is a missing value.
- ``application/json``: ``{"instances": [{"amount": 12.5, "merchant_category": "gas", ...}]}``
  or a bare list of such records; other keys (an id, say) are ignored. A record may also be
  a list of values in feature order. ``null`` is a missing value.

Responses (``Accept``; ``*/*`` or none means JSON):

- ``application/json``: ``{"predictions": [{"score": 0.03, "label": 0}, ...]}``
- ``text/csv``: one score per line.

``label`` is ``score >= threshold`` with threshold 0.5, or ``$DECISION_THRESHOLD``.

A request the client got wrong (unsupported content type or accept, empty body, bad JSON,
wrong number of values, a non-numeric value for a numeric feature, a missing feature) raises
``InvalidInput`` naming the row and column, so a model server can answer 4XX. Rows are
numbered from 1, not counting a header. Nothing else raises ``InvalidInput``.
"""

from __future__ import annotations

import csv
import io
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xgboost as xgb

# A model server imports this file as a module, not as a script, so the code directory it
# shares with common.py is not necessarily on sys.path.
_HERE = str(Path(__file__).resolve().parent)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)

from common import (  # noqa: E402
    MODEL_FILE,
    NUMERIC,
    PREPROCESSING_FILE,
    Schema,
    encode_features,
    read_preprocessing,
    to_numeric,
)

CSV = "text/csv"
JSON = "application/json"


class InvalidInput(ValueError):
    """The request is malformed; the message says where. Maps to an HTTP 4XX answer."""


@dataclass(frozen=True)
class Model:
    booster: xgb.Booster
    schema: Schema


@dataclass(frozen=True)
class Request:
    """A parsed but not yet validated request: CSV rows (lists of strings) or JSON records."""

    content_type: str
    rows: list[Any]


def model_fn(model_dir: str) -> Model:
    directory = Path(model_dir)
    schema = read_preprocessing(directory / PREPROCESSING_FILE)
    booster = xgb.Booster(model_file=str(directory / MODEL_FILE))
    return Model(booster=booster, schema=schema)


def input_fn(request_body: str | bytes, content_type: str | None) -> Request:
    kind = _media_type(content_type)
    if kind not in (CSV, JSON):
        raise InvalidInput(f"unsupported content type {content_type!r}; send {CSV} or {JSON}")
    if isinstance(request_body, bytes | bytearray):
        try:
            request_body = bytes(request_body).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InvalidInput(f"request body is not UTF-8: {exc}") from None
    if not request_body.strip():
        raise InvalidInput("empty request body")
    if kind == CSV:
        try:
            rows = [row for row in csv.reader(io.StringIO(request_body)) if row]
        except csv.Error as exc:  # e.g. a field beyond csv.field_size_limit()
            raise InvalidInput(f"request body is not valid CSV: {exc}") from None
        return Request(CSV, rows)
    try:
        payload = json.loads(request_body)
    except json.JSONDecodeError as exc:
        raise InvalidInput(f"request body is not valid JSON: {exc}") from None
    if isinstance(payload, dict):
        if "instances" not in payload:
            raise InvalidInput('JSON request must be {"instances": [...]} or a list of records')
        payload = payload["instances"]
    if not isinstance(payload, list):
        raise InvalidInput('"instances" must be a list of records')
    return Request(JSON, payload)


def predict_fn(data: Request, model: Model) -> np.ndarray:
    frame = _to_frame(data, model.schema)
    features = encode_features(frame, model.schema)
    return np.asarray(model.booster.predict(xgb.DMatrix(features, feature_names=model.schema.feature_names)))


def output_fn(prediction: np.ndarray, accept: str | None) -> str:
    kind = response_content_type(accept)
    # Shortest text that round-trips the model's float32 output: no spurious digits.
    scores = [float(str(s)) for s in np.asarray(prediction, dtype=np.float32)]
    if kind == CSV:
        return "".join(f"{s}\n" for s in scores)
    threshold = _threshold()
    return json.dumps({"predictions": [{"score": s, "label": int(s >= threshold)} for s in scores]})


def response_content_type(accept: str | None) -> str:
    """The content type ``output_fn`` answers ``accept`` with (the first supported one)."""
    if not accept or not accept.strip():
        return JSON
    for option in accept.split(","):
        kind = _media_type(option)
        if kind in (JSON, "*/*", "application/*"):
            return JSON
        if kind in (CSV, "text/*"):
            return CSV
    raise InvalidInput(f"unsupported accept {accept!r}; ask for {JSON} or {CSV}")


def _media_type(value: str | None) -> str:
    return (value or "").split(";")[0].strip().lower()


def _threshold() -> float:
    return float(os.environ.get("DECISION_THRESHOLD", "0.5"))


def _to_frame(request: Request, schema: Schema) -> pd.DataFrame:
    """Validate the request against the schema; raw values per feature, numerics as float64."""
    names = schema.feature_names
    rows = request.rows
    if request.content_type == CSV and rows and [v.strip() for v in rows[0]] == names:
        rows = rows[1:]  # a header row
    if not rows:
        raise InvalidInput("the request holds no rows")

    columns: dict[str, list[Any]] = {name: [] for name in names}
    for number, row in enumerate(rows, start=1):
        if isinstance(row, list):
            if len(row) != len(names):
                raise InvalidInput(
                    f"row {number} has {len(row)} values; expected {len(names)} ({', '.join(names)})"
                )
            cells = row
        elif isinstance(row, dict):
            absent = [n for n in names if n not in row]
            if absent:
                raise InvalidInput(f"row {number} lacks feature(s) {', '.join(absent)}")
            cells = [row[n] for n in names]
        else:
            raise InvalidInput(f"row {number} is neither a record (object) nor a list of values")
        for name, value in zip(names, cells, strict=True):
            if isinstance(value, dict | list):
                raise InvalidInput(f"row {number}, column '{name}': a {type(value).__name__} is not a value")
            # JSON true/false count as 1/0, as a boolean column does in training data.
            columns[name].append(int(value) if isinstance(value, bool) else value)

    frame = pd.DataFrame(index=range(len(rows)))
    for f in schema.features:
        series = pd.Series(columns[f.name], dtype=object)
        if f.type == NUMERIC:
            values, bad = to_numeric(series.where(series.notna(), None))
            if bad.any():
                i = int(np.argmax(bad))
                raise InvalidInput(f"row {i + 1}, column '{f.name}': {series.iloc[i]!r} is not a number")
            frame[f.name] = values
        else:
            frame[f.name] = series
    return frame

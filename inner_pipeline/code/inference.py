"""Serving: the SageMaker inference handler contract for the trained XGBoost model.
(Over 400 lines: the handler contract in the one file a data scientist replaces whole; its fast path sits beside it.)

``model_fn(model_dir)`` loads ``xgboost-model.json`` and ``preprocessing.json`` from the
extracted model artifact. Requests carry raw feature values; they are encoded exactly as in
training (``common.encode_features``), so an unknown category is treated as missing in both.

Requests (``Content-Type``):

- ``text/csv``: one row per line, values in feature order (preprocessing.json), no header;
  a first row that names the features is skipped. An empty cell is a missing value.
- ``application/json``: ``{"instances": [{"amount": 12.5, "merchant_category": "gas", ...}]}``
  or a bare list of such records; other keys (an id, say) are ignored. A record may also be
  a list of values in feature order. ``null`` is a missing value.

Keys and header cells are names by the header rule (``column_names.py``), as in training:
``{"mean radius": 17.99}`` is feature ``mean_radius``; two keys of a record with one name
(``"Mean Radius"`` and ``"mean_radius"``) are the client's error.

Responses (``Accept``; ``*/*`` or none means JSON), by preprocessing.json's ``problem_type``:

- binary, ``application/json``: ``{"predictions": [{"score": 0.03, "label": 0}, ...]}``;
  ``text/csv``: one score per line. ``label`` is the positive class (classes[1]) when
  ``score >= threshold`` (0.5, or ``$DECISION_THRESHOLD``), else the negative one.
- multiclass, JSON: ``{"predictions": [{"label": "b", "probabilities": {"a": 0.1, "b": 0.8,
  "c": 0.1}}, ...]}`` (label: the most probable class); CSV: one label per line.
- regression, JSON: ``{"predictions": [{"value": 151.2}, ...]}``; CSV: one value per line.

A label that is an integer (the demo's 0 and 1) is answered as a JSON number.

Speed: a request whose values are all plain (numbers in ordinary decimal notation, known or
unknown categories, missing values) is encoded straight into the model's float32 matrix with
the vocabularies ``model_fn`` prepared, and scored with ``Booster.inplace_predict``: no pandas
and no DMatrix. Anything else (a malformed request, an unusual number) takes the reference
path, ``_to_frame`` + ``common.encode_features``, which decides and words every error. Both
paths give equal features and bit-identical scores (``tests/unit/test_inference_speed_paths.py``).

A request the client got wrong (unsupported content type or accept, empty body, bad JSON,
JSON nested deeper than the parser goes, wrong number of
values, a non-numeric or non-finite value for a numeric feature, a number beyond float32,
which the model computes with, a missing feature) raises ``InvalidInput`` naming the row and
column, so a model server can answer 4XX: a client's mistake must never look like the model
failing (a 5XX fires the rollback alarm of a blue/green bake). Rows are numbered from 1, not
counting a header. Nothing else raises ``InvalidInput``.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import re
import sys
from dataclasses import dataclass
from functools import cached_property
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

from column_names import (  # noqa: E402
    HeaderClashError,
    UnnamedHeaderError,
    column_name,
    column_names,
    is_header_row,
)
from common import (  # noqa: E402
    BINARY,
    CATEGORICAL,
    MODEL_FILE,
    MULTICLASS,
    NUMERIC,
    PREPROCESSING_FILE,
    REGRESSION,
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
    encoder: FastEncoder
    # The booster takes the schema's features in order, as it does when train.py trained it.
    # If not, every request takes the reference path and fails there as it always did
    # (inplace_predict skips the feature-name check Booster.predict makes).
    inplace: bool


@dataclass(frozen=True)
class Request:
    """A parsed but not yet validated request: CSV rows (lists of strings) or JSON records."""

    content_type: str
    rows: list[Any]


def model_fn(model_dir: str) -> Model:
    directory = Path(model_dir)
    schema = read_preprocessing(directory / PREPROCESSING_FILE)
    booster = xgb.Booster(model_file=str(directory / MODEL_FILE))
    names = schema.feature_names
    inplace = booster.feature_names in (None, names) and booster.num_features() == len(names)
    return Model(booster=booster, schema=schema, encoder=FastEncoder.of(schema), inplace=inplace)


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
    except RecursionError:
        raise InvalidInput(
            'request body is JSON nested too deeply to read; send {"instances": [...]} of flat records'
        ) from None
    except ValueError as exc:  # an integer beyond Python's 4,300 digits (sys.get_int_max_str_digits)
        raise InvalidInput(f"request body holds a number too long to read: {exc}") from None
    if isinstance(payload, dict):
        if "instances" not in payload:
            raise InvalidInput('JSON request must be {"instances": [...]} or a list of records')
        payload = payload["instances"]
    if not isinstance(payload, list):
        raise InvalidInput('"instances" must be a list of records')
    return Request(JSON, payload)


@dataclass(frozen=True)
class Prediction:
    """The model's output with what ``output_fn`` needs to word it (it gets no model)."""

    values: np.ndarray  # binary: scores; multiclass: (rows, classes) probabilities; regression: values
    problem_type: str
    classes: tuple[str, ...]


def predict_fn(data: Request, model: Model) -> np.ndarray | Prediction:
    """A 0/1 binary model's scores as a bare array (what the demo always served); else a
    ``Prediction`` carrying the problem type and classes."""
    schema = model.schema
    features = model.encoder.encode(data) if model.inplace else None
    if features is not None:  # plain values: finite, so inplace_predict scores as a DMatrix would
        values = np.asarray(model.booster.inplace_predict(features))
    else:
        # The reference path validates (raising InvalidInput), encodes and scores as it always
        # did; a DMatrix also refuses values beyond float32's range (inf), which inplace_predict
        # would score.
        features = encode_features(_to_frame(data, schema), schema)
        values = np.asarray(model.booster.predict(xgb.DMatrix(features, feature_names=schema.feature_names)))
    classes = schema.classes or ("0", "1")
    if schema.problem_type == BINARY and classes == ("0", "1"):
        return values
    return Prediction(values, schema.problem_type, classes)


def output_fn(prediction: Prediction | np.ndarray, accept: str | None) -> str:
    kind = response_content_type(accept)
    if not isinstance(prediction, Prediction):  # a bare array of scores: a binary model's
        prediction = Prediction(np.asarray(prediction), BINARY, ("0", "1"))
    # Shortest text that round-trips the model's float32 output: no spurious digits.
    values = np.asarray(prediction.values, dtype=np.float32)
    labels = [_label(c) for c in prediction.classes]
    if prediction.problem_type == MULTICLASS:
        rows = values.reshape(-1, len(labels))
        best = [labels[i] for i in rows.argmax(axis=1)]
        if kind == CSV:
            return "".join(f"{label}\n" for label in best)
        return json.dumps(
            {
                "predictions": [
                    {
                        "label": label,
                        "probabilities": {str(c): float(str(p)) for c, p in zip(labels, row, strict=True)},
                    }
                    for label, row in zip(best, rows, strict=True)
                ]
            }
        )
    numbers = [float(str(s)) for s in values]
    if kind == CSV:
        return "".join(f"{s}\n" for s in numbers)
    if prediction.problem_type == REGRESSION:
        return json.dumps({"predictions": [{"value": v} for v in numbers]})
    threshold = _threshold()
    return json.dumps({"predictions": [{"score": s, "label": labels[int(s >= threshold)]} for s in numbers]})


def _label(text: str) -> str | int:
    """A class label as the client sent it in training data: integers as numbers."""
    return int(text) if re.fullmatch(r"-?\d+", text) else text


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
    if request.content_type == CSV and rows and is_header_row(rows[0], names):
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
            record = _by_column_name(row, number)
            absent = [n for n in names if n not in record]
            if absent:
                raise InvalidInput(f"row {number} lacks feature(s) {', '.join(absent)}")
            cells = [record[n] for n in names]
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
            with np.errstate(over="ignore"):  # encode_features' float32 cast would make these inf
                beyond = np.isinf(values.astype(np.float32)) & np.isfinite(values)
            if beyond.any():
                i = int(np.argmax(beyond))
                raise InvalidInput(
                    f"row {i + 1}, column '{f.name}': {series.iloc[i]!r} is beyond the model's float32 "
                    "range (about ±3.4e38)"
                )
            frame[f.name] = values
        else:
            frame[f.name] = series
    return frame


def _another_key_names_a_feature(record: dict[str, Any], names: frozenset[str]) -> bool:
    for key in record:
        if key not in names:
            try:
                if column_name(key) in names:
                    return True
            except UnnamedHeaderError:
                continue
    return False


def _by_column_name(record: dict[str, Any], number: int) -> dict[str, Any]:
    """A JSON record keyed by the header rule's names; two keys with one name are an error."""
    try:
        return dict(zip(column_names(list(record)), record.values(), strict=True))
    except HeaderClashError as exc:
        raise InvalidInput(f"row {number}: {exc}") from None


# ---- the fast path ------------------------------------------------------------------------
#
# It must give exactly what _to_frame + encode_features give, or give up (None). The reference
# reads a numeric value by turning it into a string (str() for a JSON number, True/False as
# 1/0), stripping it, and parsing it with pandas.to_numeric, whose parser is not Python's:
# it accepts no "1_000" or non-ASCII digits, and beyond 15 digits it rounds differently
# ("0.30000000000000004" becomes 0.3). Where both provably agree, float() is used: ASCII
# digits, at most 15 of them (an exact integer N), and a decimal exponent e with |e| <= 22
# (10**|e| is exact), so both compute the one correctly rounded N * 10**e or N / 10**-e.
# Everything else is left to the reference. (One difference no tree can see: pandas reads
# "-0" in an all-integer column as +0.0, float() as -0.0; a split x < t treats both alike.)
# A categorical value is looked up as the string the reference compares with the vocabulary;
# unknown and missing values give NaN.

# A plain decimal of at most 15 digits (the lookahead counts digits and point).
_PLAIN_NUMBER = re.compile(r"[+-]?(?:[0-9]{1,15}|(?=[0-9.]{2,16}\Z)[0-9]*\.[0-9]*)")
# Only digits, signs and points. float() reads a cell of these as pandas does ([+-]digits[.digits])
# or refuses it ("1.2.3", "+-1"), so one scan of a column replaces a regex per cell.
_PLAIN_CHARACTERS = re.compile(r"[0-9.+-]*")
_SCIENTIFIC_NUMBER = re.compile(r"[+-]?([0-9]*)(?:\.([0-9]*))?[eE]([+-]?[0-9]{1,3})")
_NAN = math.nan
_EXACT_INT = 10**15


class _NotPlain(Exception):
    """A value or row the fast path does not vouch for: the reference path takes the request."""


def _number(text: str) -> float:
    """A stripped numeric cell, exactly as the reference reads it; NaN when empty."""
    if not text:
        return _NAN
    if _PLAIN_NUMBER.fullmatch(text):
        return float(text)
    match = _SCIENTIFIC_NUMBER.fullmatch(text)
    if match:
        whole, fraction, exponent = match.group(1), match.group(2) or "", int(match.group(3))
        if 0 < len(whole) + len(fraction) <= 15 and -22 <= exponent - len(fraction) <= 22:
            return float(text)
    raise _NotPlain


def _numbers(column: tuple[str | None, ...]) -> list[float]:
    """A numeric column (None or "" is missing), exactly as the reference reads it."""
    texts = [c.strip() if c else "" for c in column]
    # The common case at C speed: short cells (so at most 15 digits) of plain characters.
    if max(map(len, texts)) <= 15 and _PLAIN_CHARACTERS.fullmatch("".join(texts)):
        try:
            return [float(t) if t else _NAN for t in texts]
        except ValueError:
            pass  # "1.2.3" or "+-1": not a number, which _number reports
    return [_number(t) for t in texts]


def _text(value: Any) -> str | None:
    """A JSON value as the string the reference parses or looks up; None when missing."""
    if isinstance(value, str):
        return value
    if value is None:
        return None
    if isinstance(value, bool):
        return str(int(value))
    if isinstance(value, int):
        if -_EXACT_INT < value < _EXACT_INT:
            return str(value)
        raise _NotPlain
    if isinstance(value, float):
        return None if value != value else repr(value)
    raise _NotPlain  # an object or a list: the reference words the error


@dataclass(frozen=True)
class FastEncoder:
    """What ``model_fn`` precomputes: feature order and, per feature, its vocabulary (None: numeric)."""

    names: tuple[str, ...]
    vocabularies: tuple[dict[str, int] | None, ...]

    @cached_property
    def name_set(self) -> frozenset[str]:
        return frozenset(self.names)

    @classmethod
    def of(cls, schema: Schema) -> FastEncoder:
        vocabularies: list[dict[str, int] | None] = []
        for f in schema.features:
            if f.type == CATEGORICAL:
                assert f.categories is not None, "read_preprocessing guarantees vocabularies"
                vocabularies.append({c: i for i, c in enumerate(f.categories)})
            else:
                vocabularies.append(None)
        return cls(tuple(schema.feature_names), tuple(vocabularies))

    def encode(self, request: Request) -> np.ndarray | None:
        """The model's float32 matrix, or None when the reference path must decide."""
        try:
            table = self._csv(request.rows) if request.content_type == CSV else self._json(request.rows)
            if not table:
                return None  # no rows: the reference words the error
            # float64 first, then float32, as encode_features rounds.
            out = np.empty((len(table), len(self.names)), dtype=np.float64)
            for j, (column, vocabulary) in enumerate(
                zip(zip(*table, strict=True), self.vocabularies, strict=True)
            ):
                out[:, j] = (
                    _numbers(column) if vocabulary is None else [vocabulary.get(c, _NAN) for c in column]
                )
        except _NotPlain:
            return None
        return out.astype(np.float32)

    def _csv(self, rows: list[list[str]]) -> list[list[str]]:
        names = self.names
        if rows and is_header_row(rows[0], names):
            rows = rows[1:]  # a header row
        width = len(names)
        if any(len(row) != width for row in rows):
            raise _NotPlain
        return rows

    def _json(self, rows: list[Any]) -> list[list[str | None]]:
        names = self.names
        table: list[list[str | None]] = []
        for row in rows:
            if isinstance(row, dict):
                try:
                    cells = [row[n] for n in names]
                except KeyError:
                    raise _NotPlain from None  # keys as written: the reference maps them
                if len(row) > len(names) and _another_key_names_a_feature(row, self.name_set):
                    raise _NotPlain  # the reference words the clash
            elif isinstance(row, list) and len(row) == len(names):
                cells = row
            else:
                raise _NotPlain
            table.append([_text(c) for c in cells])
        return table

"""Data as the built-in XGBoost container reads it, for training and for inference.

Training channels (aws/sagemaker-xgboost-container ``data_utils.py``): the channel's
``ContentType`` picks the format, ``libsvm`` when none is given; ``csv``/``text/csv`` (label in
the first column, no header; with ``csv_weights=1`` the instance weight in the second),
``libsvm``/``text/libsvm``/``text/x-libsvm`` (``label idx:value ...``), ``parquet``/
``application/x-parquet`` (label in the first column). Every file of the channel directory is
read, except names starting with ``.`` or ``_``. Inference payloads are the same formats
without the label (``text/csv`` rows, ``text/libsvm`` lines), or JSON.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import xgboost as xgb
from scipy import sparse

from shared.local_cloud.sagemaker.algorithms.xgboost_hyperparameters import UserError

CSV, LIBSVM, PARQUET = "csv", "libsvm", "parquet"


def content_type(value: str | None) -> str:
    """data_utils.get_content_type: the channel's format (libsvm when not given)."""
    if value is None:
        return LIBSVM
    lowered = value.lower()
    if lowered in ("libsvm", "text/libsvm", "text/x-libsvm"):
        return LIBSVM
    if "csv" in lowered:
        kind, _, params = lowered.partition(";")
        if kind.strip() in ("csv", "text/csv"):
            label_size = dict(
                (p.split("=", 1)[0].strip(), p.split("=", 1)[-1].strip())
                for p in params.split(";")
                if "=" in p
            ).get("label_size")
            if label_size not in (None, "1"):
                raise UserError(
                    f"{value} is not an accepted csv ContentType. Optional parameter label_size must be equal to 1"
                )
            return CSV
    if lowered in ("parquet", "application/x-parquet"):
        return PARQUET
    raise UserError(
        f"{value} is not an accepted ContentType: 'csv', 'libsvm', 'parquet', 'text/csv', 'text/libsvm', "
        "'text/x-libsvm', 'application/x-parquet'."
    )


def data_files(path: Path) -> list[Path]:
    if path.is_file():
        return [path]
    return sorted(
        p
        for p in path.rglob("*")
        if p.is_file() and not p.name.startswith((".", "_")) and p.stat().st_size > 0
    )


def load_channel(path: Path, kind: str, *, csv_weights: int = 0) -> xgb.DMatrix | None:
    """The channel's data as a DMatrix (label first), or None if it has no data."""
    files = data_files(path)
    if not files:
        return None
    if kind == CSV:
        frames = [_read_csv(f) for f in files]
        table = np.vstack([f for f in frames if f.size])
        weights = None
        if csv_weights == 1:
            weights, table = table[:, 1], np.delete(table, 1, axis=1)
        return xgb.DMatrix(table[:, 1:], label=table[:, 0], weight=weights, missing=np.nan)
    if kind == LIBSVM:
        labels, matrix = parse_libsvm(b"".join(f.read_bytes() + b"\n" for f in files), with_label=True)
        return xgb.DMatrix(matrix, label=labels)
    import pandas as pd  # only parquet needs it

    frame = pd.concat([pd.read_parquet(f) for f in files], ignore_index=True)
    values = frame.to_numpy(dtype=np.float64)
    return xgb.DMatrix(values[:, 1:], label=values[:, 0], missing=np.nan)


def _read_csv(path: Path) -> np.ndarray[Any, Any]:
    text = path.read_text(encoding="utf-8")
    first = next((line for line in text.splitlines() if line.strip()), "")
    try:
        return parse_csv(text.encode())
    except ValueError:
        raise UserError(
            f"First line '{first[:50]}...' of file '{path.name}' is not 'CSV' format. "
            "Please ensure the file is in 'CSV' format."
        ) from None


def parse_csv(body: bytes) -> np.ndarray[Any, Any]:
    """CSV rows of numbers (an empty cell is missing); no header."""
    rows = [line for line in body.decode("utf-8").splitlines() if line.strip()]
    if not rows:
        return np.empty((0, 0))
    width = len(rows[0].split(","))
    table = np.full((len(rows), width), np.nan)
    for i, line in enumerate(rows):
        cells = line.split(",")
        if len(cells) != width:
            raise ValueError(f"row {i + 1} has {len(cells)} values, the first row has {width}")
        table[i] = [float(c) if c.strip() else np.nan for c in cells]
    return table


def parse_libsvm(body: bytes, *, with_label: bool) -> tuple[np.ndarray[Any, Any], sparse.csr_matrix]:
    """libsvm lines: ``[label] index:value ...`` (indices as given; no label for inference)."""
    labels: list[float] = []
    indptr, indices, values = [0], [], []
    for number, line in enumerate(body.decode("utf-8").splitlines(), start=1):
        parts = line.split("#", 1)[0].split()
        if not parts:
            continue
        if with_label:
            try:
                labels.append(float(parts[0]))
            except ValueError:
                raise UserError(f"First line '{line[:50]}...' is not 'LIBSVM' format.") from None
            parts = parts[1:]
        for token in parts:
            index, sep, value = token.partition(":")
            if not sep:
                raise UserError(f"line {number}: {token!r} is not index:value (libsvm)")
            indices.append(int(index))
            values.append(float(value))
        indptr.append(len(indices))
    width = max(indices) + 1 if indices else 0
    matrix = sparse.csr_matrix((values, indices, indptr), shape=(len(indptr) - 1, width))
    return np.asarray(labels), matrix


def parse_json(body: bytes) -> np.ndarray[Any, Any]:
    """``{"instances": [{"features": [...]}, ...]}`` (SageMaker's common JSON request), or
    ``{"instances": [[...], ...]}``, or a bare list of rows."""
    document = json.loads(body)
    rows = document.get("instances", document.get("features")) if isinstance(document, dict) else document
    if not isinstance(rows, list):
        raise ValueError('expected {"instances": [...]} or a list of rows')
    if rows and not isinstance(rows[0], list | dict):
        rows = [rows]  # one row
    out: list[list[Any]] = []
    for row in rows:
        values = row.get("features") if isinstance(row, dict) else row
        if not isinstance(values, list):
            raise ValueError('each instance is a list of values or {"features": [...]}')
        out.append(values)
    return np.asarray([[np.nan if v is None else float(v) for v in row] for row in out], dtype=np.float64)

"""Code shared by the container scripts (preprocess, train, evaluate, inference).
(Over 400 lines: the container scripts' one shared module, uploaded with them: schema, splits, baseline, job plumbing.)

The scripts are uploaded as one source directory and run as ``python <script>.py`` in a
SageMaker container, so this module may use only the standard library, numpy, pandas,
pyarrow, scikit-learn and xgboost: nothing from the dualloop package but the standard-library
modules linked into this directory (``column_names.py``, ``feature_baseline.py``).

What lives here is what must be identical on both sides of a hand-over: the schema, the
feature encoding (training and serving must agree byte for byte), the split-file format,
the feature baseline (its format: ``feature_baseline.py``), and the failure-reason convention.

preprocessing.json (``format_version`` 1) is the encoding contract. It travels from
Preprocess through the training channel into the model artifact::

    {"format_version": 1, "id_column": "transaction_id", "target_column": "is_fraud",
     "features": [{"name": "amount", "type": "numeric"},
                  {"name": "merchant_category", "type": "categorical",
                   "categories": ["electronics", "gas", ...]}, ...]}

``problem_type`` (binary, multiclass or regression; binary when absent) and, for
classification, ``classes`` (the target's labels in code order: a label is written to the
split files as its index, and serving answers with the label) travel with it.

A row is encoded as float32 values in ``features`` order: numeric values as they are,
a categorical value as its index in ``categories``; missing values and categories not in
the list become NaN, which XGBoost treats as missing (so an unknown category at inference
time takes the default branch learned for missing values, exactly as in training).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import traceback
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, NoReturn

import feature_baseline
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pa_csv
from feature_baseline import FORMAT_VERSION as BASELINE_FORMAT_VERSION
from feature_baseline import categorical_summary, numeric_summary

FORMAT_VERSION = 1
# The baseline's merge and sketch size, where the scripts' tests have always found them.
merge_baselines = feature_baseline.merge_baselines
SKETCH_SIZE = feature_baseline.SKETCH_SIZE
BINARY, MULTICLASS, REGRESSION = "binary", "multiclass", "regression"
PROBLEM_TYPES = (BINARY, MULTICLASS, REGRESSION)
NUMERIC = "numeric"
CATEGORICAL = "categorical"
PREPROCESSING_FILE = "preprocessing.json"
MODEL_FILE = "xgboost-model.json"
SPLITS = ("train", "validation", "test")


class DataError(Exception):
    """A problem with the job's input or arguments; its message is the one-line failure reason."""


# ---- schema and encoding ------------------------------------------------------------------


@dataclass(frozen=True)
class FeatureSpec:
    name: str
    type: str
    # Categorical only: the fixed vocabulary, in code order. None until learned.
    categories: tuple[str, ...] | None = None


@dataclass(frozen=True)
class Schema:
    id_column: str
    target_column: str
    features: tuple[FeatureSpec, ...]
    problem_type: str = BINARY
    # Classification only: the target's labels in code order. None until learned.
    classes: tuple[str, ...] | None = None

    @property
    def feature_names(self) -> list[str]:
        return [f.name for f in self.features]

    def to_dict(self) -> dict[str, Any]:
        features: list[dict[str, Any]] = []
        for f in self.features:
            item: dict[str, Any] = {"name": f.name, "type": f.type}
            if f.categories is not None:
                item["categories"] = list(f.categories)
            features.append(item)
        out: dict[str, Any] = {
            "id_column": self.id_column,
            "target_column": self.target_column,
            "problem_type": self.problem_type,
            "features": features,
        }
        if self.classes is not None:
            out["classes"] = list(self.classes)
        return out

    def with_vocabularies(self, frame: pd.DataFrame) -> Schema:
        """Fill in missing categorical vocabularies with the sorted values seen in ``frame``."""
        features = []
        for f in self.features:
            if f.type == CATEGORICAL and f.categories is None:
                seen = category_strings(frame[f.name]).dropna().unique()
                features.append(replace(f, categories=tuple(sorted(str(v) for v in seen))))
            else:
                features.append(f)
        classes = self.classes
        if self.problem_type != REGRESSION and classes is None:
            classes = learn_classes(frame[self.target_column], self)
        return replace(self, features=tuple(features), classes=classes)


def label_strings(series: pd.Series) -> pd.Series:
    """Target labels as stripped strings, numbers without a spurious ".0" (1.0 is label "1")."""
    text = category_strings(series).str.strip()
    number = pd.to_numeric(text, errors="coerce")
    integral = number.notna() & np.isfinite(number) & (np.mod(number.fillna(0.5), 1) == 0)
    return text.mask(integral, number.where(integral).astype("Int64").astype("string"))


def learn_classes(series: pd.Series, schema: Schema) -> tuple[str, ...]:
    """The sorted labels seen (numerically when all are numbers); binary 0/1 stays ("0", "1")."""
    seen = list(label_strings(series).dropna().unique())
    numbers = pd.to_numeric(pd.Series(seen, dtype="string"), errors="coerce")
    order = np.argsort(numbers.to_numpy(dtype=np.float64, na_value=np.nan)) if numbers.notna().all() else None
    classes = tuple(str(seen[i]) for i in order) if order is not None else tuple(sorted(str(v) for v in seen))
    if schema.problem_type == BINARY:
        if order is not None:  # numeric labels: the 0/1 convention, other numbers are bad rows
            return ("0", "1")
        if len(classes) != 2:
            raise DataError(
                f"binary target '{schema.target_column}' must hold 2 classes, found {len(classes)}: "
                f"{_sample(classes)} (set dataset.problem_type: multiclass for more)"
            )
    elif len(classes) < 2:
        raise DataError(
            f"multiclass target '{schema.target_column}' holds a single class {_sample(classes)}: "
            "a classifier needs at least 2"
        )
    return classes


def _sample(values: Sequence[str]) -> str:
    return ", ".join(repr(v) for v in values[:5]) + (", ..." if len(values) > 5 else "")


def encode_labels(series: pd.Series, schema: Schema) -> tuple[np.ndarray, np.ndarray]:
    """(labels as float64: class codes or regression values, mask of rows whose label is bad)."""
    if schema.problem_type == REGRESSION:
        values, bad = to_numeric(series)
        return values, bad | np.isnan(values)
    assert schema.classes is not None, "classes must be learned before encoding labels"
    codes = pd.Categorical(label_strings(series), categories=list(schema.classes)).codes
    return codes.astype(np.float64), codes < 0


def parse_schema(text: str | dict[str, Any]) -> Schema:
    """Parse the DataSchema JSON (also when SageMaker delivers it JSON-encoded twice)."""
    try:
        data: Any = json.loads(text) if isinstance(text, str) else text
        if isinstance(data, str):  # a hyperparameter JSON-encoded as a string literal
            data = json.loads(data)
    except json.JSONDecodeError as exc:
        raise DataError(f"schema is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise DataError("schema must be a JSON object with id_column, target_column and features")
    try:
        features = tuple(_parse_feature(f) for f in data["features"])
        classes = data.get("classes")
        schema = Schema(
            str(data["id_column"]),
            str(data["target_column"]),
            features,
            problem_type=str(data.get("problem_type", BINARY)),
            classes=None if classes is None else tuple(str(c) for c in classes),
        )
    except (KeyError, TypeError) as exc:
        raise DataError(f"schema is missing or has a malformed field: {exc}") from None
    if schema.problem_type not in PROBLEM_TYPES:
        raise DataError(
            f"schema problem_type {schema.problem_type!r} is not one of {', '.join(PROBLEM_TYPES)}"
        )
    names = schema.feature_names
    if not names:
        raise DataError("schema lists no features")
    if len(set(names)) != len(names):
        raise DataError(
            f"schema lists duplicate features: {sorted({n for n in names if names.count(n) > 1})}"
        )
    if {schema.id_column, schema.target_column} & set(names) or schema.id_column == schema.target_column:
        raise DataError(
            "schema id_column and target_column must differ from each other and from the features"
        )
    return schema


def _parse_feature(item: dict[str, Any]) -> FeatureSpec:
    kind = item.get("type", NUMERIC)
    if kind not in (NUMERIC, CATEGORICAL):
        raise DataError(
            f"feature {item.get('name')!r} has type {kind!r}; expected 'numeric' or 'categorical'"
        )
    categories = item.get("categories")
    if categories is not None:
        if kind != CATEGORICAL:
            raise DataError(f"feature {item['name']!r} is numeric but lists categories")
        categories = tuple(str(c) for c in categories)
        if len(set(categories)) != len(categories):
            raise DataError(f"feature {item['name']!r} lists duplicate categories")
    return FeatureSpec(name=str(item["name"]), type=kind, categories=categories)


def category_strings(series: pd.Series) -> pd.Series:
    """Categorical values as strings (missing stays NA), whatever the source column's dtype.

    CSV columns arrive as text, Parquet ones may be integers that became floats because of
    nulls: 5411.0 must encode like "5411", so integral floats lose their ".0".
    """
    if pd.api.types.is_float_dtype(series.dtype):
        values = series.to_numpy(dtype=np.float64)
        integral = np.isfinite(values) & (np.mod(values, 1) == 0)
        if np.all(integral | np.isnan(values)):
            return series.astype("Int64").astype("string")
    return series.astype("string")


def write_preprocessing(schema: Schema, path: Path) -> None:
    missing = [f.name for f in schema.features if f.type == CATEGORICAL and f.categories is None]
    if missing:
        raise ValueError(f"vocabularies not learned for {missing}")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"format_version": FORMAT_VERSION, **schema.to_dict()}, indent=2) + "\n")


def read_preprocessing(path: Path) -> Schema:
    if not path.is_file():
        raise DataError(f"{path.name} not found in {path.parent} (Preprocess writes it into each split)")
    data = json.loads(path.read_text())
    if data.get("format_version") != FORMAT_VERSION:
        raise DataError(
            f"{path} has format_version {data.get('format_version')!r}; expected {FORMAT_VERSION}"
        )
    schema = parse_schema(data)
    if any(f.type == CATEGORICAL and f.categories is None for f in schema.features):
        raise DataError(f"{path} lacks the vocabulary of a categorical feature")
    if schema.problem_type == BINARY and schema.classes is None:
        return replace(schema, classes=("0", "1"))  # written before problem types: 0/1 labels
    if schema.problem_type == MULTICLASS and schema.classes is None:
        raise DataError(f"{path} lacks the classes of its multiclass target")
    return schema


def encode_features(frame: pd.DataFrame, schema: Schema) -> np.ndarray:
    """Encode raw feature columns (numeric ones already numeric) into the model's float32 matrix.

    inference.py's fast path (``FastEncoder``) encodes request rows the same way without pandas;
    tests/unit/test_inference_speed_paths.py holds the two together.
    """
    out = np.empty((len(frame), len(schema.features)), dtype=np.float32)
    for j, f in enumerate(schema.features):
        if f.type == NUMERIC:
            out[:, j] = frame[f.name].to_numpy(dtype=np.float64, na_value=np.nan)
        else:
            assert f.categories is not None, "vocabulary must be learned before encoding"
            codes = pd.Categorical(category_strings(frame[f.name]), categories=list(f.categories)).codes
            out[:, j] = np.where(codes < 0, np.nan, codes)
    return out


def to_numeric(series: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """(float64 values, NaN where missing; mask of values present but not finite numbers).

    Empty strings count as missing; "abc", "inf" and the like are bad.
    """
    if pd.api.types.is_bool_dtype(series.dtype) or pd.api.types.is_numeric_dtype(series.dtype):
        values = series.to_numpy(dtype=np.float64, na_value=np.nan)
        return values, np.isinf(values)
    text = series.astype("string").str.strip()
    values = pd.to_numeric(text, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    present = (text.notna() & (text != "")).to_numpy(dtype=bool)
    return values, present & ~np.isfinite(values)


# ---- split files (the XGBoost CSV convention: label first, no header) ---------------------------


def write_split(path: Path, labels: np.ndarray, features: np.ndarray) -> None:
    """Label, then features as float32 (what XGBoost computes with); NaN as an empty cell.

    Integer labels (class codes) are written as integers, float ones (regression) as they are.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    # Arrow's CSV writer is several times faster than pandas' and prints float32 shortest.
    columns = [pa.array(labels if np.issubdtype(labels.dtype, np.floating) else labels.astype(np.int64))]
    columns += [pa.array(features[:, j], from_pandas=True) for j in range(features.shape[1])]
    table = pa.table(columns, names=[f"c{j}" for j in range(len(columns))])
    pa_csv.write_csv(table, path, pa_csv.WriteOptions(include_header=False))


def read_split(directory: Path, n_features: int) -> tuple[np.ndarray, np.ndarray]:
    """Read every part file under ``directory``; return (labels, float32 feature matrix)."""
    files = sorted(p for p in directory.rglob("*.csv") if p.is_file())
    if not files:
        raise DataError(f"no CSV part files under {directory}")
    parts = []
    for path in files:
        if path.stat().st_size == 0:  # an instance whose shard put no rows in this split
            continue
        part = pd.read_csv(path, header=None, dtype=np.float32)
        if part.shape[1] != n_features + 1:
            raise DataError(
                f"{path.name} has {part.shape[1]} columns; expected label + {n_features} features"
            )
        parts.append(part.to_numpy())
    if not parts:
        raise DataError(f"the part files under {directory} hold no rows")
    data = np.concatenate(parts)
    return data[:, 0], np.ascontiguousarray(data[:, 1:])


def split_assignment(
    ids: Iterable[str], count: int, train_ratio: float, validation_ratio: float
) -> np.ndarray:
    """0 = train, 1 = validation, 2 = test, decided by the id alone.

    position = first 8 bytes of BLAKE2b(UTF-8 id) as a big-endian integer / 2**64; a row is
    train below ``train_ratio``, validation below ``train_ratio + validation_ratio``, test
    above. Any instance, run or language computes the same split for the same id.
    """
    digests = np.fromiter(
        (int.from_bytes(hashlib.blake2b(i.encode(), digest_size=8).digest(), "big") for i in ids),
        dtype=np.uint64,
        count=count,
    )
    position = digests.astype(np.float64) / 2.0**64
    return np.where(
        position < train_ratio, 0, np.where(position < train_ratio + validation_ratio, 1, 2)
    ).astype(np.int8)


# ---- feature baseline ---------------------------------------------------------------------
#
# The baseline's format (fields, bins, sketch, merge) is a contract with the drift job and
# lives in feature_baseline.py (a link to shared/feature_baseline.py, standard library only).
# Preprocess writes one per instance with compute_baseline; the drift job merges them.


def compute_baseline(frame: pd.DataFrame, schema: Schema, host: str, bins: int = 10) -> dict[str, Any]:
    """Baseline of raw (validated) rows: numeric features numeric, categoricals as found."""
    features: dict[str, Any] = {}
    for f in schema.features:
        column = frame[f.name]
        if f.type == NUMERIC:
            values = column.to_numpy(dtype=np.float64, na_value=np.nan)
            present = np.sort(values[~np.isnan(values)])  # sorted: mean and std sum in this order
            # Distinct values with their counts: the same weighted points as the raw rows,
            # so the shared (pure Python) summary loops over distinct values only.
            distinct, counts = np.unique(present, return_counts=True)
            features[f.name] = numeric_summary(
                distinct.tolist(), counts.tolist(), int(np.isnan(values).sum()), bins
            )
            if present.size:
                features[f.name].update(mean=float(present.mean()), std=float(present.std()))
        else:
            strings = category_strings(column)
            counts_by_category = strings.dropna().value_counts()
            features[f.name] = categorical_summary(
                {str(k): int(v) for k, v in counts_by_category.items()}, int(strings.isna().sum())
            )
    return {
        "format_version": BASELINE_FORMAT_VERSION,
        "hosts": [host],
        "row_count": len(frame),
        "histogram_bins": bins,
        "target": _target_summary(frame[schema.target_column].to_numpy(), schema),
        "features": features,
    }


def _target_summary(target: np.ndarray, schema: Schema) -> dict[str, Any]:
    """Classification: rows per class code; regression: count, sum, min, max (they merge exactly)."""
    if schema.problem_type == REGRESSION:
        values = target.astype(np.float64)
        return {
            "column": schema.target_column,
            "count": int(values.size),
            "sum": float(values.sum()),
            "min": float(values.min()) if values.size else None,
            "max": float(values.max()) if values.size else None,
        }
    classes = schema.classes or ()
    return {
        "column": schema.target_column,
        "counts": {str(code): int((target == code).sum()) for code in range(len(classes))},
    }


# ---- job plumbing -------------------------------------------------------------------------


def read_resource_config(path: Path) -> tuple[str, list[str]]:
    """(current_host, hosts) from SageMaker's resourceconfig.json; one host when it is absent."""
    if not path.is_file():
        return "algo-1", ["algo-1"]
    data = json.loads(path.read_text())
    return str(data["current_host"]), [str(h) for h in data["hosts"]]


class ArgumentParser(argparse.ArgumentParser):
    """Bad arguments become a DataError, so they too reach the failure file."""

    def error(self, message: str) -> NoReturn:
        raise DataError(f"bad arguments: {message}")


def run_job(
    parse: Callable[[], argparse.Namespace],
    main: Callable[[argparse.Namespace], None],
    default_failure_file: Path,
) -> None:
    """Parse arguments and run ``main``; on any error write a one-line reason and exit 1.

    The reason goes to ``args.failure_file`` (``default_failure_file`` when the arguments
    did not parse or have none) and to stderr. SageMaker shows the first KB of that file as
    the job's FailureReason (training) or ExitMessage (processing), so it must be one line
    that names what is wrong.
    """
    args: argparse.Namespace | None = None
    try:
        args = parse()
        main(args)
    except Exception as exc:
        if not isinstance(exc, DataError):  # unexpected: keep the traceback for the logs
            traceback.print_exc()
        reason = str(exc) if isinstance(exc, DataError) else f"internal error: {type(exc).__name__}: {exc}"
        _fail(reason, getattr(args, "failure_file", None) or _failure_file_argument() or default_failure_file)


def _failure_file_argument() -> Path | None:
    # Arguments that failed to parse may still name the failure file (a remapped local run).
    argv = sys.argv[1:]
    for i, arg in enumerate(argv):
        if arg.startswith("--failure-file="):
            return Path(arg.split("=", 1)[1])
        if arg == "--failure-file" and i + 1 < len(argv):
            return Path(argv[i + 1])
    return None


def _fail(reason: str, path: Path) -> NoReturn:
    reason = " ".join(reason.split())[:1000]
    print(f"ERROR: {reason}", file=sys.stderr)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(reason + "\n", encoding="utf-8")
    except OSError as exc:
        print(f"could not write failure reason: {exc}", file=sys.stderr)
    sys.exit(1)

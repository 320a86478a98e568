"""Preprocess step: validate raw transactions, split them, encode them, baseline them.

Reads every CSV (with header) and Parquet file under ``--input-dir`` (recursively), names
their columns by the header rule (``column_names.py``: ``mean radius`` is ``mean_radius``),
checks them against the dataset schema, and writes under ``--output-dir``::

    train/part-<host>.csv          label first, then encoded features; no header
    validation/part-<host>.csv     (the XGBoost CSV convention; empty when a shard has no rows)
    test/part-<host>.csv
    {train,validation,test}/preprocessing.json   the encoding contract (see common.py);
                                                 written by the first host only
    baseline/baseline-<host>.json  feature statistics for drift detection (see common.py)

The schema (``DataSchema`` as JSON) comes from exactly one of ``--schema-file PATH`` (what the
pipeline passes: a file delivered as a processing input, since CreateProcessingJob caps each
container argument at 256 characters) or ``--schema '<json>'`` (handy for local runs).

A row's split depends only on its id (``common.split_assignment``), so it is the same on any
instance and in any run.

Several instances (ProcessingInstanceCount > 1, input ShardedByS3Key): each sees a subset of
the files, names its outputs after ``current_host`` from ``--resource-config`` so nothing
collides in S3, and the drift job merges the baselines (``feature_baseline.merge_baselines``, shared with it).
Vocabularies learned from data would differ between shards, so with more than one instance
every categorical feature must list its ``categories`` in the schema; the job fails otherwise.

On bad input the job exits 1 after writing a one-line reason to ``--failure-file``
(SageMaker reports it as the job's ExitMessage) and to stderr.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
from column_names import HeaderClashError, column_names
from common import (
    CATEGORICAL,
    MULTICLASS,
    NUMERIC,
    PREPROCESSING_FILE,
    REGRESSION,
    SPLITS,
    ArgumentParser,
    DataError,
    Schema,
    compute_baseline,
    encode_features,
    encode_labels,
    parse_schema,
    read_resource_config,
    run_job,
    split_assignment,
    to_numeric,
    write_preprocessing,
    write_split,
)

CSV_SUFFIXES = (".csv",)
# Bookkeeping columns: each row's file and index in it (dunder names no schema column takes).
_FILE, _ROW = "__file__", "__row__"
PARQUET_SUFFIXES = (".parquet", ".pq")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter, allow_abbrev=False
    )
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--schema-file", type=Path, help="a file holding the DataSchema as JSON")
    source.add_argument("--schema", help="the DataSchema as inline JSON (local runs)")
    p.add_argument("--input-dir", type=Path, default=Path("/opt/ml/processing/input/data"))
    p.add_argument("--output-dir", type=Path, default=Path("/opt/ml/processing/output"))
    p.add_argument("--train-ratio", type=float, default=0.70)
    p.add_argument("--validation-ratio", type=float, default=0.15, help="test gets the rest")
    p.add_argument("--histogram-bins", type=int, default=10)
    p.add_argument("--resource-config", type=Path, default=Path("/opt/ml/config/resourceconfig.json"))
    p.add_argument("--failure-file", type=Path, default=Path("/opt/ml/output/message"))
    args: argparse.Namespace = p.parse_args(argv)
    return args


def main(args: argparse.Namespace) -> None:
    train, validation = args.train_ratio, args.validation_ratio
    if not (0 < train < 1 and 0 < validation < 1 and train + validation < 1):
        raise DataError(
            f"--train-ratio {train} and --validation-ratio {validation} must be in (0, 1) "
            "and leave a share for test"
        )
    if args.histogram_bins < 2:
        raise DataError(f"--histogram-bins must be at least 2, got {args.histogram_bins}")
    schema = read_schema(args)
    host, hosts = read_resource_config(args.resource_config)
    if len(hosts) > 1:
        unlisted = [f.name for f in schema.features if f.type == CATEGORICAL and f.categories is None]
        if unlisted:
            raise DataError(
                f"with {len(hosts)} processing instances the schema must list 'categories' for categorical "
                f"feature(s) {', '.join(unlisted)}: each instance sees only its shard, so vocabularies "
                "learned from data could differ"
            )

    if len(hosts) > 1 and schema.problem_type == MULTICLASS and schema.classes is None:
        raise DataError(
            f"with {len(hosts)} processing instances the schema must list the target's 'classes': "
            "each instance sees only its shard, so classes learned from data could differ"
        )

    frame = read_input(args.input_dir, schema, hosts=len(hosts))
    schema = schema.with_vocabularies(frame)
    frame[schema.target_column] = validate_target(frame, schema)

    split = split_assignment(frame[schema.id_column], len(frame), args.train_ratio, args.validation_ratio)
    labels = frame[schema.target_column].to_numpy()
    features = encode_features(frame, schema)
    for code, name in enumerate(SPLITS):
        rows = split == code
        write_split(args.output_dir / name / f"part-{host}.csv", labels[rows], features[rows])
        # Every instance derives the same contract; one writer keeps S3 keys unique.
        if host == sorted(hosts)[0]:
            write_preprocessing(schema, args.output_dir / name / PREPROCESSING_FILE)

    baseline = compute_baseline(frame, schema, host=host, bins=args.histogram_bins)
    baseline_path = args.output_dir / "baseline" / f"baseline-{host}.json"
    baseline_path.parent.mkdir(parents=True, exist_ok=True)
    baseline_path.write_text(json.dumps(baseline, indent=2) + "\n")
    counts = {name: int((split == code).sum()) for code, name in enumerate(SPLITS)}
    print(f"{host}: {len(frame)} rows -> {counts}")


def validate_target(frame: pd.DataFrame, schema: Schema) -> np.ndarray:
    """The target encoded for training (class codes as int8, regression values as float64).

    A label the problem type cannot take fails with the file and line it came from.
    """
    raw = frame[schema.target_column]
    labels, bad = encode_labels(raw, schema)
    if bad.any():
        i = int(np.argmax(bad))
        file = str(frame[_FILE].iloc[i])
        where = _position(int(frame[_ROW].iloc[i]), file.lower().endswith(CSV_SUFFIXES))
        if schema.problem_type == REGRESSION:
            expected = "a number (regression)"
        elif schema.classes == ("0", "1") and schema.problem_type == "binary":
            expected = "0 or 1"
        else:
            expected = f"one of the classes {', '.join(repr(c) for c in (schema.classes or ()))}"
        raise DataError(
            f"{file}: target column '{schema.target_column}' must be {expected}, "
            f"found {_shown(raw.iloc[i])} at {where}"
        )
    if schema.problem_type == REGRESSION:
        return np.asarray(labels, dtype=np.float64)
    return np.asarray(labels, dtype=np.int8 if len(schema.classes or ()) <= 127 else np.int32)


def read_schema(args: argparse.Namespace) -> Schema:
    """The schema from ``--schema-file`` or ``--schema`` (argparse ensures exactly one is given)."""
    path: Path | None = args.schema_file
    if path is None:
        return parse_schema(args.schema)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DataError(
            f"--schema-file {path} does not exist (or pass the JSON itself with --schema)"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"--schema-file {path} cannot be read: {exc}") from None
    try:
        return parse_schema(text)
    except DataError as exc:
        raise DataError(f"--schema-file {path}: {exc}") from None


def read_input(directory: Path, schema: Schema, hosts: int = 1) -> pd.DataFrame:
    """Read and validate every data file; return id, target and features (numerics as float64)."""
    files = sorted(
        p for p in directory.rglob("*") if p.is_file() and p.suffix.lower() in CSV_SUFFIXES + PARQUET_SUFFIXES
    )
    if not files:
        hint = " (with several instances, every instance needs at least one input file)" if hosts > 1 else ""
        raise DataError(f"empty input: no CSV or Parquet files under {directory}{hint}")
    frames = [_read_file(path, directory, schema) for path in files]
    frame = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
    if frame.empty:
        raise DataError(f"empty input: the {len(files)} file(s) under {directory} hold no data rows")
    return frame


def _read_file(path: Path, root: Path, schema: Schema) -> pd.DataFrame:
    name = str(path.relative_to(root))
    is_csv = path.suffix.lower() in CSV_SUFFIXES
    columns = [schema.id_column, schema.target_column, *schema.feature_names]
    try:
        # The header row as written (pandas would rename blank and repeated headers).
        header = (
            [
                str(h)
                for h in pd.read_csv(path, header=None, nrows=1, dtype=str, keep_default_na=False).iloc[0]
            ]
            if is_csv
            else pq.read_schema(path).names
        )
    except (pd.errors.ParserError, pd.errors.EmptyDataError, OSError, ValueError) as exc:
        if is_csv and isinstance(exc, pd.errors.EmptyDataError):
            raise DataError(f"{name}: empty CSV file (a header row is required)") from None
        raise DataError(f"{name}: cannot read file: {exc}") from None
    # Headers become column names by the one rule every reader applies (column_names.py).
    try:
        names = column_names(header)
    except HeaderClashError as exc:
        raise DataError(f"{name}: {exc}") from None
    if schema.target_column not in names:
        raise DataError(f"{name}: missing target column '{schema.target_column}'")
    if schema.id_column not in names:
        raise DataError(f"{name}: missing id column '{schema.id_column}'")
    absent = [c for c in schema.feature_names if c not in names]
    if absent:
        raise DataError(f"{name}: missing feature column(s) {', '.join(repr(c) for c in absent)}")

    original = dict(zip(names, header, strict=True))
    if is_csv:
        # Everything as text first, so a bad value is found and reported rather than guessed.
        raw = pd.read_csv(path, header=0, names=names, usecols=columns, dtype=str, keep_default_na=True)
    else:
        raw = pq.read_table(path, columns=[original[c] for c in columns]).to_pandas()
        raw = raw.rename(columns={original[c]: c for c in columns})

    out = pd.DataFrame(index=raw.index)
    # Where each row came from, for messages about rows judged after all files are read.
    out[_FILE] = name
    out[_ROW] = np.arange(len(raw), dtype=np.int64)
    ids = raw[schema.id_column]
    if ids.isna().any():
        i = int(np.argmax(ids.isna()))
        raise DataError(f"{name}: id column '{schema.id_column}' is empty at {_position(i, is_csv)}")
    out[schema.id_column] = ids.astype(str)

    # Labels stay raw here: classes are learned over every file before they are encoded.
    out[schema.target_column] = raw[schema.target_column]

    for f in schema.features:
        if f.type == NUMERIC:
            values, bad = to_numeric(raw[f.name])
            if bad.any():
                i = int(np.argmax(bad))
                raise DataError(
                    f"{name}: numeric feature '{f.name}' has non-numeric value {_shown(raw[f.name].iloc[i])} "
                    f"at {_position(i, is_csv)}"
                )
            out[f.name] = values
        else:
            out[f.name] = raw[f.name]
    return out


def _position(index: int, is_csv: bool) -> str:
    # A CSV line number is what an editor shows: header is line 1.
    return f"line {index + 2}" if is_csv else f"row {index + 1}"


def _shown(value: Any) -> str:
    return "an empty value" if pd.isna(value) else repr(str(value))[:60]


if __name__ == "__main__":
    run_job(parse_args, main, Path("/opt/ml/output/message"))

"""The ingest job's logic as plain DataFrame functions (testable with any SparkSession).

``read_raw`` reads CSV (with a header), JSON lines or Parquet, chosen by file extension;
``normalise`` maps messy column names onto the configured :class:`DataSchema` (by the header
rule of ``shared.column_names``, the one every reader of user data applies) and casts
each column to its type, failing loudly on values that do not cast; ``drop_exact_duplicates``
removes repeated rows.
"""

from __future__ import annotations

from pathlib import PurePosixPath
from typing import TYPE_CHECKING

import pyspark.sql.functions as sf
from pyspark.sql.types import BooleanType, DataType, NumericType, StringType

from outer_orchestrator.glue import io
from shared.column_names import HeaderClashError, column_name, column_names

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame, SparkSession

    from shared.config import DataSchema

__all__ = [
    "CastError",
    "DataReadError",
    "SchemaMismatchError",
    "detect_format",
    "drop_exact_duplicates",
    "normalise",
    "read_raw",
    "snake_case",
    "with_row_hash_id",
]

# Extension -> Spark reader. Compressed CSV/JSON (.gz, .bz2) are read by Spark as they are.
_FORMATS = {".csv": "csv", ".json": "json", ".jsonl": "json", ".ndjson": "json", ".parquet": "parquet"}
_COMPRESSION = {".gz", ".bz2", ".deflate", ".zst", ".lz4", ".snappy"}
_TRUE_FALSE = {"true": 1.0, "false": 0.0}


class DataReadError(ValueError):
    """The input cannot be read: no files, unknown or mixed formats."""


class SchemaMismatchError(ValueError):
    """Columns the schema needs are missing, or two columns normalise to one name."""


class CastError(ValueError):
    """Values that do not cast to their column's configured type."""


def snake_case(name: str) -> str:
    """``" Transaction ID"`` -> ``transaction_id``: the shared header rule (``shared.column_names``)."""
    return column_name(name)


def _data_files(uri: str) -> list[str]:
    """Files under ``uri`` that hold data, by Hadoop's convention: no part of the path below
    ``uri`` starts with "_" or "." (``_SUCCESS``, ``.crc``, ``_temporary/``). A single file is
    judged by its own name."""
    root = uri.rstrip("/")
    files = []
    for file in io.list_files(uri):
        relative = file[len(root) :].lstrip("/")
        parts = PurePosixPath(relative).parts if relative else (PurePosixPath(file).name,)
        if not any(part.startswith(("_", ".")) for part in parts):
            files.append(file)
    return files


def detect_format(files: list[str]) -> str:
    """The one Spark reader for ``files`` (by extension); mixed or unknown formats are rejected."""
    by_format: dict[str, list[str]] = {}
    unknown: list[str] = []
    for file in files:
        suffixes = [s.lower() for s in PurePosixPath(file).suffixes]
        if suffixes and suffixes[-1] in _COMPRESSION:
            suffixes = suffixes[:-1]
        fmt = _FORMATS.get(suffixes[-1]) if suffixes else None
        if fmt is None:
            unknown.append(file)
        else:
            by_format.setdefault(fmt, []).append(file)
    if unknown:
        known = ", ".join(sorted(_FORMATS))
        raise DataReadError(f"unrecognised file type(s) {unknown[:5]}; expected one of {known}")
    if len(by_format) > 1:
        examples = "; ".join(f"{fmt}: {names[0]}" for fmt, names in sorted(by_format.items()))
        raise DataReadError(f"mixed input formats ({examples}); put one format under a prefix")
    return next(iter(by_format))


def read_raw(spark: SparkSession, uri: str, *, source: str | None = None) -> DataFrame:
    """Read every data file under ``uri`` (a file or a prefix Spark can read; see ``io.spark_input``).

    CSV is read with its header and every value as a string, JSON lines with every value as
    a string, so that ``normalise`` sees what was written; Parquet keeps its types.
    Malformed CSV or JSON records fail the read rather than becoming nulls.
    ``source`` names the original location in error messages when ``uri`` is a staged copy.
    """
    shown = source or uri
    files = _data_files(uri)
    if not files:
        raise DataReadError(f"no data files under {shown}")
    try:
        fmt = detect_format(files)
    except DataReadError as exc:
        raise DataReadError(f"{shown}: {exc}") from None
    reader = spark.read.option("mode", "FAILFAST")
    if fmt == "csv":
        return reader.csv(files, header=True, inferSchema=False)
    if fmt == "json":
        return reader.json(files, primitivesAsString=True)
    return reader.parquet(*files)


def _rename(df: DataFrame) -> DataFrame:
    # Spark's CSV reader names a blank header "_c<index>" (CSVUtils); the rule names it by its
    # position, as Preprocess does, so it is given back blank.
    headers = ["" if c == f"_c{i}" else c for i, c in enumerate(df.columns)]
    try:
        return df.toDF(*column_names(headers))
    except HeaderClashError as exc:
        raise SchemaMismatchError(str(exc)) from None


def _number(c: Column, dtype: DataType, column: str) -> tuple[Column, Column | None]:
    """(value as double, condition marking values that failed to cast, or None if none can)."""
    if isinstance(dtype, NumericType | BooleanType):
        return c.cast("double"), None
    if not isinstance(dtype, StringType):
        raise CastError(f"column {column!r} is {dtype.simpleString()}, which is not a number")
    text = sf.trim(c)
    lowered = sf.lower(text)
    # JSON and CSV writers spell booleans true/false; they are 1/0 as features and labels.
    value = (
        sf.when(lowered == "true", sf.lit(_TRUE_FALSE["true"]))
        .when(lowered == "false", sf.lit(_TRUE_FALSE["false"]))
        .otherwise(text.cast("double"))
    )
    return value, (text != "") & value.isNull()


def normalise(df: DataFrame, schema: DataSchema) -> DataFrame:
    """Columns renamed by the header rule and cast to the schema's types, in schema order.

    id -> trimmed string; numeric features -> double; categorical -> trimmed lower-case
    string; target -> int (a regression's -> double; text classes, ``schema.text_labels``, ->
    trimmed string). Empty strings become null (missing, not wrong). A value that
    does not cast (``"abc"`` as an amount, ``0.5`` as a label) raises :class:`CastError`
    naming the column, the count and a sample; it is never silently turned into null.
    Columns outside the schema are dropped.
    """
    df = _rename(df)
    wanted = [schema.id_column, *schema.feature_names, schema.target_column]
    generated_id = schema.generate_id and schema.id_column not in df.columns
    if generated_id:
        wanted.remove(schema.id_column)
    missing = [c for c in wanted if c not in df.columns]
    if missing:
        raise SchemaMismatchError(f"missing column(s) {missing}; the data has {sorted(df.columns)}")

    types = {f.name: f.type.value for f in schema.features}
    out: list[Column] = []
    bad: dict[str, tuple[Column, str]] = {}  # column -> (cast failed, what it should be)
    for name in wanted:
        c, dtype = sf.col(name), df.schema[name].dataType
        if name == schema.target_column and schema.text_labels:
            text = sf.trim(c.cast("string"))  # labels are case-sensitive: "B" is not "b"
            value, failed, expected = sf.when(text != "", text), None, "text"
        elif name == schema.target_column and schema.problem_type == "regression":
            value, failed = _number(c, dtype, name)
            expected = "a number"
        elif name == schema.target_column:
            value, failed = _number(c, dtype, name)
            # A label must be a whole number: 0.5 is an error, not a 0.
            not_whole = value.isNotNull() & (sf.isnan(value) | (value != sf.floor(value)))
            failed = not_whole if failed is None else failed | not_whole
            value, expected = value.cast("int"), "a whole number"
        elif name in types and types[name] == "numeric":
            value, failed = _number(c, dtype, name)
            expected = "a number"
        else:  # the id and categorical features
            text = sf.trim(c.cast("string"))
            value = sf.when(text != "", sf.lower(text) if name in types else text)
            failed, expected = None, "text"
        out.append(value.alias(name))
        if failed is not None:
            bad[name] = (failed, expected)
    if bad:
        _raise_on_bad_values(df, bad)
    curated = df.select(*out)
    return with_row_hash_id(curated, schema.id_column) if generated_id else curated


def with_row_hash_id(df: DataFrame, id_column: str) -> DataFrame:
    """``df`` with ``id_column`` first: the row's id derived from its own (normalised) values.

    SHA-256 of the row as JSON (Spark's ``to_json`` of the columns in schema order, nulls left
    out), 32 hex digits. A hash of the row rather than its row number: Spark reads files and
    partitions in no fixed order, so a row number would change from one ingest to the next,
    and with it the row's train/validation/test split (decided by the id); the hash is the same
    for the same row in every run. Rows with equal values get equal ids, and ingest keeps one
    of them (``drop_exact_duplicates``), so the ids it writes are unique.
    """
    row = sf.to_json(sf.struct(*[sf.col(c) for c in df.columns]))
    return df.select(sf.substring(sf.sha2(row, 256), 1, 32).alias(id_column), *df.columns)


def _raise_on_bad_values(df: DataFrame, bad: dict[str, tuple[Column, str]]) -> None:
    # One pass counts the failures of every column and keeps one sample of each.
    aggs = []
    for i, (name, (cond, _)) in enumerate(bad.items()):
        aggs.append(sf.count(sf.when(cond, 1)).alias(f"n{i}"))
        aggs.append(sf.first(sf.when(cond, sf.col(name).cast("string")), ignorenulls=True).alias(f"s{i}"))
    row = df.agg(*aggs).first()
    assert row is not None
    problems = [
        f"column {name!r}: {row[f'n{i}']} value(s) are not {expected}, e.g. {row[f's{i}']!r}"
        for i, (name, (_, expected)) in enumerate(bad.items())
        if row[f"n{i}"]
    ]
    if problems:
        raise CastError("; ".join(problems))


def drop_exact_duplicates(df: DataFrame) -> DataFrame:
    """Rows repeated in every column kept once (a re-sent extract must not be learnt twice)."""
    return df.dropDuplicates()

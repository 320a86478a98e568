"""Glue job: raw files -> curated Parquet, normalised to the configured schema.

    ingest.py --raw_uri s3://raw/… --curated_uri s3://curated/<execution>/ [--schema '<DataSchema JSON>']

Reads CSV/JSON lines/Parquet under ``raw_uri``, normalises names and types
(:func:`~outer_orchestrator.glue.transforms.normalise`), drops exact duplicates and writes
Parquet plus ``_manifest.json`` to ``curated_uri``. The caller makes ``curated_uri`` unique
per execution (new data -> new prefix -> the inner pipeline's cache key changes); a retry of
the same execution overwrites it, and the manifest, written last, marks it complete.
"""

from __future__ import annotations

import logging
import math
import re
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime

from pydantic import AwareDatetime, BaseModel, ConfigDict
from pyspark.sql import SparkSession

from outer_orchestrator.glue import io
from outer_orchestrator.glue.runtime import get_spark, resolve_args
from outer_orchestrator.glue.transforms import DataReadError, drop_exact_duplicates, normalise, read_raw
from shared.config import DataSchema

__all__ = ["MANIFEST_NAME", "IngestManifest", "main"]

LOG = logging.getLogger(__name__)
MANIFEST_NAME = "_manifest.json"
# About 1M rows per Parquet file: one file for demo-sized data, parallel writes for more.
_ROWS_PER_FILE = 1_000_000


class ColumnInfo(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str
    type: str  # Spark SQL type name


class IngestManifest(BaseModel):
    """What an ingest run wrote; downstream steps read it instead of listing the prefix."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    raw_uri: str
    curated_uri: str
    row_count: int
    rows_read: int
    duplicates_dropped: int
    columns: tuple[ColumnInfo, ...]
    files: int
    created_at: AwareDatetime


# Spark 3.5's MALFORMED_RECORD_IN_PARSING (FAILFAST): raised by the first action that parses
# every column, inside a Py4JJavaError whose first line only names the JVM call ("o254.count").
_MALFORMED = re.compile(r"Malformed records are detected in record parsing: (.*?)\.?\s*Parse Mode", re.S)


@contextmanager
def _malformed_records_named(source: str) -> Iterator[None]:
    """Turn Spark's failure on a malformed record into one sentence naming the record."""
    try:
        yield
    except Exception as exc:
        match = _MALFORMED.search(str(exc))
        if match is None:
            raise
        record = " ".join(match.group(1).split())[:300]
        raise DataReadError(
            f"{source}: a record does not parse ({record}): a CSV row must have the header's number of "
            "fields (and close its quotes), a JSON line must be one object; fix or remove it"
        ) from None


def main(argv: Sequence[str] | None = None, spark: SparkSession | None = None) -> IngestManifest:
    """Run the job. ``argv`` is ``sys.argv``-style (``--KEY value`` pairs; other tokens ignored)."""
    args = resolve_args(sys.argv[1:] if argv is None else argv, ["raw_uri", "curated_uri"], {"schema": ""})
    schema = DataSchema.model_validate_json(args["schema"]) if args["schema"] else DataSchema()
    raw_uri, curated_uri = args["raw_uri"], args["curated_uri"]
    spark = get_spark("dualloop-ingest", spark)

    with io.spark_input(spark, raw_uri) as source, _malformed_records_named(raw_uri):
        curated = normalise(read_raw(spark, source, source=raw_uri), schema).persist()
        try:
            rows_read = curated.count()
            deduped = drop_exact_duplicates(curated).persist()
            row_count = deduped.count()
            files = max(1, math.ceil(row_count / _ROWS_PER_FILE))
            with io.spark_output(spark, curated_uri) as target:
                deduped.coalesce(files).write.mode("overwrite").parquet(target)
            columns = tuple(ColumnInfo(name=f.name, type=f.dataType.simpleString()) for f in deduped.schema)
            deduped.unpersist()
        finally:
            curated.unpersist()

    manifest = IngestManifest(
        raw_uri=raw_uri,
        curated_uri=curated_uri,
        row_count=row_count,
        rows_read=rows_read,
        duplicates_dropped=rows_read - row_count,
        columns=columns,
        files=files,
        created_at=datetime.now(UTC),
    )
    io.write_text(io.join_uri(curated_uri, MANIFEST_NAME), manifest.model_dump_json(indent=2))
    LOG.info(
        "ingested %s rows (%s duplicates dropped) into %s", row_count, rows_read - row_count, curated_uri
    )
    return manifest


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO)
    main()

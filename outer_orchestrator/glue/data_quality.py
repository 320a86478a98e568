"""Glue job: evaluate a DQDL ruleset on a data set and write the QualityReport JSON.

    data_quality.py --data_uri s3://curated/<execution>/ --ruleset_uri s3://…/transactions.dqdl
                    --report_uri s3://…/quality_report.json [--ruleset_name transactions]

``ruleset_uri`` may also be a local path, or a bare file name shipped in
``outer_orchestrator/quality/`` (``transactions.dqdl``). Failing rules are not an error: the
job succeeds and the state machine decides on ``passed`` in the report. The job fails only
when it cannot produce a report: unreadable data, or a ruleset that does not parse (which
is checked before Spark starts).
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Sequence
from importlib import resources
from pathlib import Path, PurePosixPath

from pyspark.sql import SparkSession

from outer_orchestrator.glue import io
from outer_orchestrator.glue.runtime import get_spark, resolve_args
from outer_orchestrator.glue.transforms import read_raw
from outer_orchestrator.quality.dqdl import parse
from outer_orchestrator.quality.evaluator import evaluate
from outer_orchestrator.quality.report import Outcome, QualityReport

__all__ = ["main", "read_ruleset"]

LOG = logging.getLogger(__name__)


def read_ruleset(uri: str) -> str:
    """DQDL text from ``s3://``, a local path, or a ruleset packaged with dualloop."""
    if io.is_s3(uri) or Path(uri).exists():
        return io.read_text(uri)
    packaged = resources.files("outer_orchestrator.quality").joinpath(uri)
    if "/" not in uri and packaged.is_file():
        return packaged.read_text(encoding="utf-8")
    raise FileNotFoundError(
        f"ruleset {uri!r} not found (neither a path, an s3:// URI nor a packaged ruleset)"
    )


def main(argv: Sequence[str] | None = None, spark: SparkSession | None = None) -> QualityReport:
    """Run the job. ``argv`` is ``sys.argv``-style (``--KEY value`` pairs; other tokens ignored)."""
    args = resolve_args(
        sys.argv[1:] if argv is None else argv,
        ["data_uri", "ruleset_uri", "report_uri"],
        {"ruleset_name": ""},
    )
    ruleset_uri = args["ruleset_uri"]
    ruleset = parse(read_ruleset(ruleset_uri))  # a DqdlSyntaxError fails the job before Spark starts
    name = args["ruleset_name"] or PurePosixPath(ruleset_uri).stem
    spark = get_spark("dualloop-data-quality", spark)

    with io.spark_input(spark, args["data_uri"]) as source:
        data = read_raw(spark, source, source=args["data_uri"])
        report = evaluate(ruleset, data, ruleset_name=name, dataset_location=args["data_uri"])

    io.write_text(args["report_uri"], report.model_dump_json(indent=2))
    LOG.info(
        "data quality %s: %d/%d rules passed; failed: %s",
        "PASSED" if report.passed else "FAILED",
        sum(1 for r in report.rules if r.outcome is Outcome.PASSED),
        len(report.rules),
        list(report.failed_rules),
    )
    return report


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO)
    main()

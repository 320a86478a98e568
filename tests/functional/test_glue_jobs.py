"""The Glue job scripts run locally: ingest normalises CSV, JSON lines and Parquet with messy
column names and duplicates; bad values fail loudly; data_quality writes the report the state
machine reads. Spark is local; S3 is moto's in-process mock, reached through the same boto3
staging path the scripts use off Glue.

What this cannot prove: behaviour on the Glue runtime itself (GlueContext, EMRFS); there the
scripts hand ``s3://`` URIs straight to Spark, which the local cloud's e2e run does not cover.
"""

from __future__ import annotations

import csv
import json
import random
import subprocess
import sys
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from spark_fixture import spark_session  # noqa: F401 - the shared session-scoped "spark" fixture

from outer_orchestrator.glue import data_quality, ingest, io
from outer_orchestrator.glue.runtime import JobArgumentError, resolve_args
from outer_orchestrator.glue.transforms import (
    CastError,
    DataReadError,
    SchemaMismatchError,
    detect_format,
    normalise,
    read_raw,
    snake_case,
)
from outer_orchestrator.quality.dqdl import DqdlSyntaxError
from outer_orchestrator.quality.report import Outcome, QualityReport
from shared.config import DataSchema

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

    from shared.local_cloud import LocalCloud

CATEGORIES = ["grocery", "electronics", "travel", "restaurant", "online_retail", "gas", "entertainment"]
# Canonical name -> how a messy upstream extract spells it.
MESSY = {
    "transaction_id": " Transaction ID ",
    "amount": "AMOUNT",
    "merchant_category": "Merchant-Category",
    "hour": "hour",
    "distance_from_home_km": "DistanceFromHomeKm",
    "tx_count_1h": "tx count 1h",
    "tx_count_24h": "Tx_Count_24h",
    "amount_to_avg_ratio": "amountToAvgRatio",
    "is_online": "is.online",
    "is_fraud": "IS_FRAUD",
}


def transactions(n: int, seed: int = 7) -> list[dict[str, Any]]:
    """Rows that satisfy transactions.dqdl, keyed by canonical column name."""
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        count_1h = rng.randint(0, 4)
        rows.append(
            {
                "transaction_id": f"tx-{i:05d}",
                "amount": round(rng.uniform(1, 2000), 2),
                "merchant_category": rng.choice(CATEGORIES),
                "hour": rng.randint(0, 23),
                "distance_from_home_km": round(rng.uniform(0, 300), 3),
                "tx_count_1h": count_1h,
                "tx_count_24h": count_1h + rng.randint(0, 10),
                "amount_to_avg_ratio": round(rng.uniform(0.1, 6), 3),
                "is_online": rng.randint(0, 1),
                "is_fraud": 1 if i % 10 == 0 else 0,
            }
        )
    return rows


def messy(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for row in rows:
        m = {MESSY[k]: v for k, v in row.items()}
        m["Merchant-Category"] = f"  {row['merchant_category'].title()} "
        m["Notes"] = "free text the schema does not know"
        out.append(m)
    return out


def write_csv(path: Path, rows: list[dict[str, Any]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows({k: "" if v is None else v for k, v in r.items()} for r in rows)


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))


def write_parquet(path: Path, rows: list[dict[str, Any]]) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(rows), path)


WRITERS = {
    "csv": (write_csv, ".csv"),
    "json": (write_jsonl, ".jsonl"),
    "parquet": (write_parquet, ".parquet"),
}


# ---- pure helpers --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"), [(k, v) for v, k in MESSY.items()] + [("HTTPStatus", "http_status")]
)
def test_snake_case(raw: str, expected: str) -> None:
    assert snake_case(raw) == expected


def test_detect_format_rejects_mixed_and_unknown_files() -> None:
    assert detect_format(["a/part-0.csv", "a/part-1.csv.gz"]) == "csv"
    assert detect_format(["x.jsonl", "y.ndjson", "z.json"]) == "json"
    with pytest.raises(DataReadError, match=r"mixed input formats \(csv: a\.csv; parquet: b\.parquet\)"):
        detect_format(["a.csv", "b.parquet"])
    with pytest.raises(DataReadError, match=r"unrecognised file type\(s\) \['notes\.txt'\]"):
        detect_format(["a.csv", "notes.txt"])


def test_read_raw_names_the_problem_before_reading(spark: SparkSession, tmp_path: Path) -> None:
    with pytest.raises(DataReadError, match="no data files under"):
        read_raw(spark, str(tmp_path / "nothing-here"))
    write_csv(tmp_path / "mixed" / "a.csv", [{"a": 1}])
    write_jsonl(tmp_path / "mixed" / "b.jsonl", [{"a": 1}])
    (tmp_path / "mixed" / "_SUCCESS").write_text("")  # Hadoop markers are not data
    with pytest.raises(DataReadError, match="mixed input formats"):
        read_raw(spark, str(tmp_path / "mixed"), source="s3://raw/mixed/")


def test_job_arguments_glue_style() -> None:
    argv = ["job-name", "--raw_uri", "s3://b/raw/", "--JOB_RUN_ID", "jr_1", "--curated_uri=s3://b/c/"]
    args = resolve_args(argv, ["raw_uri", "curated_uri"], {"schema": "default"})
    assert args == {"raw_uri": "s3://b/raw/", "curated_uri": "s3://b/c/", "schema": "default"}
    with pytest.raises(JobArgumentError, match="--curated_uri"):
        resolve_args(["--raw_uri", "x"], ["raw_uri", "curated_uri"])


# ---- ingest --------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["csv", "json", "parquet"])
def test_ingest_normalises_names_types_and_drops_duplicates(
    spark: SparkSession, tmp_path: Path, fmt: str
) -> None:
    # GIVEN 120 messy rows in two files, three of them repeated exactly and one repeated
    # with only its category's case and spacing changed
    rows = messy(transactions(120))
    twin = dict(rows[5], **{"Merchant-Category": rows[5]["Merchant-Category"].strip().upper()})
    writer, ext = WRITERS[fmt]
    writer(tmp_path / "raw" / f"part-0{ext}", rows[:60] + rows[:3])
    writer(tmp_path / "raw" / f"part-1{ext}", [*rows[60:], twin])
    curated = tmp_path / "curated" / "exec-1"

    # WHEN the ingest job runs
    manifest = ingest.main(
        ["ingest", "--raw_uri", str(tmp_path / "raw"), "--curated_uri", str(curated)], spark=spark
    )

    # THEN the curated Parquet has the schema's columns, in order, with the configured types
    out = spark.read.parquet(str(curated))
    schema = DataSchema()
    assert out.columns == [schema.id_column, *schema.feature_names, schema.target_column]
    types = dict(out.dtypes)
    assert types["transaction_id"] == "string" and types["merchant_category"] == "string"
    assert types["is_fraud"] == "int"
    assert all(types[f] == "double" for f in schema.feature_names if f != "merchant_category")
    assert {r[0] for r in out.select("merchant_category").distinct().collect()} <= set(CATEGORIES)
    # ... and duplicates, exact after normalisation, are gone
    assert manifest.rows_read == 124
    assert manifest.row_count == out.count() == 120
    assert manifest.duplicates_dropped == 4
    assert [c.name for c in manifest.columns] == out.columns
    assert manifest.files == len(list(curated.glob("part-*.parquet"))) == 1
    on_disk = ingest.IngestManifest.model_validate_json((curated / "_manifest.json").read_text())
    assert on_disk == manifest


@pytest.mark.bad_input("data")
def test_a_value_that_does_not_cast_fails_naming_the_column(spark: SparkSession, tmp_path: Path) -> None:
    rows = messy(transactions(20))
    rows[3]["AMOUNT"] = "12,50"
    rows[7]["hour"] = "noon"
    write_csv(tmp_path / "raw" / "data.csv", rows)
    with pytest.raises(CastError) as info:
        ingest.main(["--raw_uri", str(tmp_path / "raw"), "--curated_uri", str(tmp_path / "out")], spark=spark)
    message = str(info.value)
    assert "column 'amount': 1 value(s) are not a number, e.g. '12,50'" in message
    assert "column 'hour': 1 value(s) are not a number, e.g. 'noon'" in message
    assert "\n" not in message
    assert not (tmp_path / "out").exists()
    assert [p.name for p in (tmp_path / "raw").iterdir()] == ["data.csv"]  # the raw data is kept


@pytest.mark.bad_input("data")
@pytest.mark.parametrize(("extra", "line"), [(",EXTRA", "tx-ragged"), ("", "tx-short,1")])
def test_a_ragged_csv_fails_in_one_sentence_naming_the_record(
    spark: SparkSession, tmp_path: Path, extra: str, line: str
) -> None:
    # GIVEN a CSV with a row of more (or fewer) fields than its header
    write_csv(tmp_path / "raw" / "data.csv", transactions(20))
    with open(tmp_path / "raw" / "data.csv", "a") as out:
        if extra:
            out.write("tx-ragged,12.5,gas,3,1.0,1,2,1.0,0,0" + extra + "\n")
        else:
            out.write(line + "\n")
    # WHEN it is ingested, THEN the job fails with a DataReadError, not a Py4JJavaError from count()
    with pytest.raises(DataReadError) as info:
        ingest.main(["--raw_uri", str(tmp_path / "raw"), "--curated_uri", str(tmp_path / "out")], spark=spark)
    message = str(info.value)
    assert message.startswith(f"{tmp_path / 'raw'}: a record does not parse (") and "\n" not in message
    assert "number of fields" in message and "Py4J" not in message
    assert not (tmp_path / "out").exists()
    assert [p.name for p in (tmp_path / "raw").iterdir()] == ["data.csv"]  # the raw data is kept


@pytest.mark.bad_input("data")
def test_a_fractional_label_fails_and_missing_columns_are_named(spark: SparkSession, tmp_path: Path) -> None:
    rows = transactions(10)
    rows[2]["is_fraud"] = 0.5
    write_jsonl(tmp_path / "frac" / "data.jsonl", rows)
    with pytest.raises(
        CastError, match=r"column 'is_fraud': 1 value\(s\) are not a whole number, e.g. '0.5'"
    ):
        ingest.main(["--raw_uri", str(tmp_path / "frac"), "--curated_uri", str(tmp_path / "o1")], spark=spark)

    for row in rows:
        del row["hour"]
    write_jsonl(tmp_path / "nohour" / "data.jsonl", rows)
    with pytest.raises(SchemaMismatchError, match=r"missing column\(s\) \['hour'\]"):
        ingest.main(
            ["--raw_uri", str(tmp_path / "nohour"), "--curated_uri", str(tmp_path / "o2")], spark=spark
        )
    assert not (tmp_path / "o1").exists() and not (tmp_path / "o2").exists()  # nothing half-written


def test_ingest_names_columns_by_the_header_rule_and_fails_on_a_clash(
    spark: SparkSession, tmp_path: Path
) -> None:
    # GIVEN a CSV with original headers and a blank one (an index DataFrame.to_csv wrote)
    schema = DataSchema(
        id_column="Sample ID",
        target_column="target",
        features=({"name": "mean radius"}, {"name": "column_1"}),  # type: ignore[arg-type]
    )
    (tmp_path / "ok").mkdir()
    (tmp_path / "ok" / "data.csv").write_text(",Sample ID,mean radius,target\n7,a,1.5,1\n")
    # WHEN it is normalised THEN the columns carry the rule's names, the blank one its position
    out = normalise(read_raw(spark, str(tmp_path / "ok")), schema)
    assert out.columns == ["sample_id", "mean_radius", "column_1", "target"]
    assert out.first() == ("a", 1.5, 7.0, 1)
    # GIVEN two headers with one name WHEN normalised THEN the error names both. (Headers equal
    # but for case Spark itself renames apart, "mean radius1", before the rule sees them.)
    (tmp_path / "clash").mkdir()
    (tmp_path / "clash" / "data.csv").write_text("Sample ID,mean radius,mean_radius,target\na,1,2,1\n")
    with pytest.raises(SchemaMismatchError, match="columns 'mean radius' and 'mean_radius' both become"):
        normalise(read_raw(spark, str(tmp_path / "clash")), schema)


# ---- data quality ----------------------------------------------------------------------------


def test_data_quality_reports_missing_values_out_of_range_amounts_and_duplicate_ids(
    spark: SparkSession, tmp_path: Path
) -> None:
    # GIVEN curated data with two missing amounts, five amounts above 50,000 and a reused id
    rows = transactions(150)
    rows[10]["amount"] = rows[11]["amount"] = None
    for i in range(20, 25):
        rows[i]["amount"] = 75_000.0
    rows[40]["transaction_id"] = rows[41]["transaction_id"]
    write_csv(tmp_path / "raw" / "data.csv", rows)
    curated = tmp_path / "curated"
    ingest.main(["--raw_uri", str(tmp_path / "raw"), "--curated_uri", str(curated)], spark=spark)
    report_path = tmp_path / "reports" / "quality.json"

    # WHEN the data quality job runs the project's ruleset
    report = data_quality.main(
        [
            "dq",
            "--data_uri",
            str(curated),
            "--ruleset_uri",
            "transactions.dqdl",
            "--report_uri",
            str(report_path),
        ],
        spark=spark,
    )

    # THEN it succeeds, and the report it wrote lists exactly those failures
    assert QualityReport.model_validate_json(report_path.read_text()) == report
    assert not report.passed
    assert report.ruleset_name == "transactions"
    assert report.row_count == 150
    assert set(report.failed_rules) == {
        'IsComplete "amount"',
        'IsPrimaryKey "transaction_id"',
        'ColumnValues "amount" between 0 and 50000 with threshold >= 0.999',
    }
    amount = next(r for r in report.rules if r.rule.startswith('ColumnValues "amount"'))
    assert amount.evaluated_metrics["Column.amount.ColumnValues.Compliance"] == pytest.approx(143 / 150)
    assert report.score == pytest.approx((len(report.rules) - 3) / len(report.rules), abs=1e-6)


@pytest.mark.bad_input("data")
def test_data_quality_fails_only_when_it_cannot_report(spark: SparkSession, tmp_path: Path) -> None:
    bad_ruleset = tmp_path / "bad.dqdl"
    bad_ruleset.write_text('Rules = [\n  IsComplete "a",\n  RowCount >> 3\n]')
    args = ["--data_uri", str(tmp_path / "none"), "--report_uri", str(tmp_path / "r.json")]
    with pytest.raises(DqdlSyntaxError, match="line 3, column 13") as syntax:
        data_quality.main([*args, "--ruleset_uri", str(bad_ruleset)], spark=spark)
    assert "\n" not in str(syntax.value)
    with pytest.raises(DataReadError, match="no data files under"):
        data_quality.main([*args, "--ruleset_uri", "transactions.dqdl"], spark=spark)
    with pytest.raises(FileNotFoundError, match=r"nope\.dqdl"):
        data_quality.main([*args, "--ruleset_uri", "nope.dqdl"], spark=spark)
    assert not (tmp_path / "r.json").exists()


def test_data_quality_script_exits_non_zero_on_a_syntax_error(tmp_path: Path) -> None:
    # The parse happens before Spark starts, so this subprocess needs no JVM.
    bad_ruleset = tmp_path / "bad.dqdl"
    bad_ruleset.write_text("Rules = [ RowCount > ]")
    script = Path(data_quality.__file__)
    result = subprocess.run(
        [
            sys.executable,
            str(script),
            "--data_uri",
            "x",
            "--ruleset_uri",
            str(bad_ruleset),
            "--report_uri",
            "y",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode != 0
    assert "DqdlSyntaxError" in result.stderr and "line 1, column 22" in result.stderr


# ---- through S3 (moto), staged by io off Glue ----------------------------------------------


@pytest.fixture
def s3_run(local_cloud: LocalCloud) -> tuple[Any, str]:
    """An S3 client on the session's local cloud, and a prefix for this test's buckets.

    Not moto's ``mock_aws``: it resets moto's process-wide backends, which would wipe the
    session's local cloud that other modules in this worker use.
    """
    import boto3

    client, run = boto3.client("s3"), uuid.uuid4().hex[:8]
    for bucket in ("raw", "curated", "artifacts"):
        client.create_bucket(Bucket=f"{bucket}-{run}")
    return client, run


def test_both_jobs_read_and_write_s3_uris(
    spark: SparkSession, tmp_path: Path, s3_run: tuple[Any, str]
) -> None:
    s3, run = s3_run
    # GIVEN raw JSON lines and the ruleset in S3, and Spark with no S3 connector
    rows = messy(transactions(130))
    write_jsonl(tmp_path / "a.jsonl", rows[:70])
    write_jsonl(tmp_path / "b.jsonl", rows[70:])
    s3.upload_file(str(tmp_path / "a.jsonl"), f"raw-{run}", "drop/2026-11-24/a.jsonl")
    s3.upload_file(str(tmp_path / "b.jsonl"), f"raw-{run}", "drop/2026-11-24/b.jsonl")
    ruleset = Path(data_quality.__file__).parents[1] / "quality" / "transactions.dqdl"
    s3.upload_file(str(ruleset), f"artifacts-{run}", "rulesets/transactions.dqdl")
    assert not io.spark_reads_s3(spark)

    # WHEN ingest and data quality run on s3:// URIs
    manifest = ingest.main(
        ["--raw_uri", f"s3://raw-{run}/drop/2026-11-24/", "--curated_uri", f"s3://curated-{run}/exec-42"],
        spark=spark,
    )
    report = data_quality.main(
        [
            "--data_uri",
            f"s3://curated-{run}/exec-42/",
            "--ruleset_uri",
            f"s3://artifacts-{run}/rulesets/transactions.dqdl",
            "--report_uri",
            f"s3://curated-{run}/exec-42-quality/report.json",
        ],
        spark=spark,
    )

    # THEN the curated prefix holds Parquet and the manifest, and clean data passes every rule
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=f"curated-{run}")["Contents"]]
    assert "exec-42/_manifest.json" in keys
    assert any(k.startswith("exec-42/part-") and k.endswith(".parquet") for k in keys)
    assert not any(k.endswith(".crc") for k in keys)
    assert manifest.row_count == 130
    assert report.passed, [
        (r.rule, r.failure_message) for r in report.rules if r.outcome is not Outcome.PASSED
    ]
    stored = s3.get_object(Bucket=f"curated-{run}", Key="exec-42-quality/report.json")["Body"].read()
    assert QualityReport.model_validate_json(stored).passed

"""A suggested ruleset passes on the data it was suggested from and fails on corrupted copies,
evaluated as the DataQuality step evaluates it: the raw CSV read and normalised by the ingest
job's own functions, then the DQDL evaluator (Deequ semantics) on Spark. The evaluator has no
Spark-free path, so this uses the session's one local SparkSession; no cloud.

Also: a regression target is curated as a number (a label stays a whole number); ingest's generated id (``dataset.generate_id``) is a hash of the row: the same for a row
however the files are ordered, and unique once exact duplicates are dropped.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd
import pytest
from sklearn.datasets import load_breast_cancer, load_diabetes, load_wine
from spark_fixture import spark_session  # noqa: F401 - the shared session-scoped "spark" fixture

from outer_orchestrator.glue.transforms import CastError, drop_exact_duplicates, normalise, read_raw
from outer_orchestrator.init_project import infer_schema
from outer_orchestrator.quality.evaluator import evaluate_dqdl
from outer_orchestrator.quality.suggest import read_curated, suggest_ruleset
from shared.config import ProblemType

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

    from outer_orchestrator.quality.report import QualityReport
    from shared.config import DataSchema

DATASETS = {
    "breast-cancer": lambda: load_breast_cancer(as_frame=True).frame,
    "wine": lambda: load_wine(as_frame=True).frame,
    "diabetes": lambda: load_diabetes(as_frame=True, scaled=False).frame,
}


def _with_id(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.assign(**{"Sample ID": [f"s{i:04d}" for i in range(len(frame))]})


def _evaluate(
    spark: SparkSession, frame: pd.DataFrame, path: Path, schema: DataSchema, rules: str
) -> QualityReport:
    """Write ``frame`` as CSV, curate it as ingest does, and run ``rules`` on it."""
    frame.to_csv(path, index=False)
    curated = normalise(read_raw(spark, str(path)), schema)
    return evaluate_dqdl(rules, curated)


@pytest.mark.parametrize("name", list(DATASETS))
def test_suggested_rules_pass_on_the_data_and_fail_on_a_corrupted_copy(
    spark: SparkSession, tmp_path: Path, name: str
) -> None:
    # GIVEN a dataset (original headers, an id column) and the ruleset suggested from it
    frame = _with_id(DATASETS[name]())
    source = tmp_path / "data.csv"
    frame.to_csv(source, index=False)
    schema, _ = infer_schema(source, "target", "Sample ID")
    rules = suggest_ruleset(read_curated(source, schema), schema)
    (feature, column), (other, other_column) = [
        (f.name, frame.columns[i]) for i, f in enumerate(schema.features[:2])
    ]

    # WHEN it is evaluated on that data THEN every rule passes
    clean = _evaluate(spark, frame, tmp_path / "clean.csv", schema, rules)
    assert clean.passed, clean.failed_rules

    # AND on a copy with nulls in a feature, a duplicated id and an out-of-range value (each in
    # rows and columns of its own), exactly the rules that guard against them fail (nulls fail a
    # complete column's range too: DQDL's ColumnValues counts a null as not compliant)
    corrupted = frame.copy()
    corrupted.loc[corrupted.index[:5], column] = None
    corrupted.loc[corrupted.index[6], "Sample ID"] = corrupted["Sample ID"].iloc[7]
    corrupted.loc[corrupted.index[8], other_column] = frame[other_column].max() * 100 + 1
    report = _evaluate(spark, corrupted, tmp_path / "corrupted.csv", schema, rules)
    assert not report.passed
    failed = sorted(r.split(" between ")[0] for r in report.failed_rules)
    assert failed == sorted(
        [
            f'IsComplete "{feature}"',
            f'ColumnValues "{feature}"',
            'IsUnique "sample_id"',
            f'ColumnValues "{other}"',
        ]
    )


def test_generated_id_is_a_hash_of_the_row_stable_across_file_order_and_unique(
    spark: SparkSession, tmp_path: Path
) -> None:
    # GIVEN the wine data with no id column, in two files, and the same rows in reverse order;
    # a config that says ingest adds the id
    frame = DATASETS["wine"]()
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    frame.iloc[:90].to_csv(tmp_path / "a" / "part-0.csv", index=False)
    frame.iloc[90:].to_csv(tmp_path / "a" / "part-1.csv", index=False)
    pd.concat([frame, frame.iloc[:5]]).iloc[::-1].to_csv(tmp_path / "b" / "all.csv", index=False)
    schema, _ = infer_schema(tmp_path / "a" / "part-0.csv", "target")
    assert schema.generate_id and schema.id_column == "row_id"

    # WHEN ingest's transforms curate both
    first = drop_exact_duplicates(normalise(read_raw(spark, str(tmp_path / "a")), schema)).toPandas()
    second = drop_exact_duplicates(normalise(read_raw(spark, str(tmp_path / "b")), schema)).toPandas()

    # THEN every row has a 32-hex-digit id, unique once the 5 repeated rows are dropped,
    # and each row has the same id in both runs
    assert first.columns[0] == "row_id" and len(first) == len(second) == len(frame)
    assert first["row_id"].str.fullmatch(r"[0-9a-f]{32}").all()
    assert first["row_id"].is_unique
    key = [c for c in first.columns if c != "row_id"]
    merged = first.merge(second, on=key, suffixes=("_a", "_b"))
    assert len(merged) == len(frame) and (merged["row_id_a"] == merged["row_id_b"]).all()


def test_a_regression_target_is_curated_as_a_number_and_a_label_as_a_whole_one(
    spark: SparkSession, tmp_path: Path
) -> None:
    # GIVEN a table whose target has fractions
    frame = pd.DataFrame({"x": [1.0, 2.0, 3.0], "y": [0.5, 151.25, 3.0]})
    frame.to_csv(tmp_path / "t.csv", index=False)
    regression, _ = infer_schema(tmp_path / "t.csv", "y", problem_type=ProblemType.REGRESSION)
    binary = regression.model_copy(update={"problem_type": ProblemType.BINARY})
    # WHEN ingest's transforms curate it for a regression THEN the target keeps its fractions
    curated = normalise(read_raw(spark, str(tmp_path / "t.csv")), regression)
    assert sorted(r["y"] for r in curated.collect()) == [0.5, 3.0, 151.25]
    # AND for a classifier a fraction is still an error, not a truncated label
    with pytest.raises(CastError, match="not a whole number"):
        normalise(read_raw(spark, str(tmp_path / "t.csv")), binary)


def test_text_labels_are_curated_as_text_and_pass_their_suggested_rules(
    spark: SparkSession, tmp_path: Path
) -> None:
    # GIVEN a table with text labels, and the schema and rules init derives from it
    frame = pd.DataFrame(
        {"x": [float(i) for i in range(120)], "Label": [[" Yes", "no"][i % 2] for i in range(120)]}
    )
    frame.to_csv(tmp_path / "t.csv", index=False)
    schema, _ = infer_schema(tmp_path / "t.csv", "Label")
    rules = suggest_ruleset(read_curated(tmp_path / "t.csv", schema), schema)
    # WHEN ingest's transforms curate it THEN the labels stay text (trimmed, case kept), and the rules pass
    curated = normalise(read_raw(spark, str(tmp_path / "t.csv")), schema)
    assert {r["label"] for r in curated.collect()} == {"Yes", "no"}
    assert evaluate_dqdl(rules, curated).passed

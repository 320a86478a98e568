"""The evaluator against hand-computed expectations on a six-row DataFrame.

What this proves: each rule type passes and fails where Deequ's semantics say it should,
with the metric values worked out by hand below. What it cannot prove: agreement with the
real Deequ JAR (not reachable here); the semantics table in ``evaluator.py`` says where it
follows Deequ's DQDL translator and where it deliberately differs.

The whole ruleset is evaluated once (one Spark pass plus a few groupBy jobs) and each case
then reads its outcome from the report.
"""

from __future__ import annotations

import json
import math
from typing import TYPE_CHECKING

import pytest
from spark_fixture import spark_session  # noqa: F401 - the shared session-scoped "spark" fixture

from outer_orchestrator.quality.dqdl import parse
from outer_orchestrator.quality.evaluator import evaluate, evaluate_dqdl
from outer_orchestrator.quality.report import Outcome, QualityReport, RuleOutcome

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

# id | dup  | cat  | amount | name    | flag
ROWS = [
    (1, 1, "a", 10.0, "alice", 0),
    (2, 1, "b", 20.0, "bob", 1),
    (3, 2, "b", 30.0, "carol", 0),
    (4, 3, "c", None, None, 1),
    (5, 3, None, 40.0, "  ", 0),
    (6, None, "c", 50.0, "dave", 1),
]
SCHEMA = "id int, dup int, cat string, amount double, name string, flag int"

# Hand-computed metrics:
#   amount: 5 of 6 non-null; mean 150/5 = 30; sum 150;
#           population std sqrt(((20^2+10^2+0+10^2+20^2))/5) = sqrt(200) = 14.142 (sample: 15.81)
#   dup:    non-null 1,1,2,3,3 -> only "2" occurs once -> uniqueness 1/5 = 0.2; 3 distinct
#   cat:    5 of 6 non-null (0.8333); a once, b and c twice -> uniqueness 1/5 = 0.2; 3 distinct
#   (cat, flag): (a,0) (b,1) (b,0) (c,1)x2 (null,0) -> 4 of 6 rows unique = 0.6667
#   name lengths: 5, 3, 5, null, 2, 4 -> min 2, max 5
P, F, E = Outcome.PASSED, Outcome.FAILED, Outcome.ERROR
CASES: list[tuple[str, Outcome, dict[str, float | None]]] = [
    ("RowCount = 6", P, {"Dataset.*.RowCount": 6}),
    ("RowCount > 6", F, {"Dataset.*.RowCount": 6}),
    ('RowCount = 3 where "flag = 1"', P, {"Dataset.*.RowCount": 3}),
    ("ColumnCount = 6", P, {"Dataset.*.ColumnCount": 6}),
    ("ColumnCount < 6", F, {}),
    ('ColumnExists "amount"', P, {}),
    ('ColumnExists "missing"', F, {}),
    ('IsComplete "id"', P, {"Column.id.Completeness": 1.0}),
    ('IsComplete "amount"', F, {"Column.amount.Completeness": 5 / 6}),
    ('IsComplete "amount" where "id != 4"', P, {"Column.amount.Completeness": 1.0}),
    ('Completeness "cat" between 0.8 and 0.9', P, {"Column.cat.Completeness": 5 / 6}),
    ('Completeness "cat" > 0.9', F, {}),
    ('Completeness "amount" > 0.5 where "id > 100"', F, {"Column.amount.Completeness": None}),
    ('IsUnique "id"', P, {"Column.id.Uniqueness": 1.0}),
    ('IsUnique "dup"', F, {"Column.dup.Uniqueness": 0.2}),
    ('Uniqueness "dup" = 0.2', P, {"Column.dup.Uniqueness": 0.2}),
    ('Uniqueness "cat" > 0.5', F, {"Column.cat.Uniqueness": 0.2}),
    ('Uniqueness "cat" "flag" between 0.66 and 0.67', P, {"Multicolumn.cat,flag.Uniqueness": 4 / 6}),
    ('Uniqueness "dup" = 1 where "id <= 3 and id != 2"', P, {"Column.dup.Uniqueness": 1.0}),
    ('IsPrimaryKey "id"', P, {"Column.id.Uniqueness": 1.0, "Column.id.Completeness": 1.0}),
    ('IsPrimaryKey "id" "flag"', P, {"Multicolumn.id,flag.Uniqueness": 1.0}),
    # Unique among its non-null values, but not complete: not a key.
    ('IsPrimaryKey "amount"', F, {"Column.amount.Uniqueness": 1.0, "Column.amount.Completeness": 5 / 6}),
    ('DistinctValuesCount "cat" = 3', P, {"Column.cat.DistinctValuesCount": 3}),
    ('DistinctValuesCount "dup" > 3', F, {"Column.dup.DistinctValuesCount": 3}),
    ('Mean "amount" = 30', P, {"Column.amount.Mean": 30.0}),
    ('Mean "amount" > 30', F, {}),
    ('Mean "amount" = 35 where "flag = 1"', P, {"Column.amount.Mean": 35.0}),
    ('Sum "amount" = 150', P, {"Column.amount.Sum": 150.0}),
    ('Sum "amount" < 100', F, {}),
    (
        'StandardDeviation "amount" between 14.14 and 14.15',
        P,
        {"Column.amount.StandardDeviation": math.sqrt(200)},
    ),
    # The sample standard deviation (15.81) would pass this; Deequ's population one does not.
    ('StandardDeviation "amount" > 15', F, {}),
    # A null fails a comparison...
    ('ColumnValues "amount" > 5', F, {"Column.amount.ColumnValues.Compliance": 5 / 6}),
    (
        'ColumnValues "amount" > 5 where "amount is not null"',
        P,
        {"Column.amount.ColumnValues.Compliance": 1.0},
    ),
    # ... between is exclusive: 10 and 50 are out.
    ('ColumnValues "amount" between 10 and 50', F, {"Column.amount.ColumnValues.Compliance": 0.5}),
    ('ColumnValues "amount" between 9 and 51 with threshold >= 0.8', P, {}),
    ('ColumnValues "amount" between 9 and 51 with threshold > 0.9', F, {}),
    ('ColumnValues "amount" not between 15 and 100', F, {"Column.amount.ColumnValues.Compliance": 1 / 6}),
    # ... but passes != and not in.
    ('ColumnValues "amount" != 99', P, {"Column.amount.ColumnValues.Compliance": 1.0}),
    ('ColumnValues "amount" != 10', F, {"Column.amount.ColumnValues.Compliance": 5 / 6}),
    ('ColumnValues "amount" = NULL where "id = 4"', P, {}),
    ('ColumnValues "amount" != NULL', F, {"Column.amount.ColumnValues.Compliance": 5 / 6}),
    ('ColumnValues "flag" in [0, 1]', P, {"Column.flag.ColumnValues.Compliance": 1.0}),
    ('ColumnValues "flag" not in [1]', F, {"Column.flag.ColumnValues.Compliance": 0.5}),
    ('ColumnValues "dup" in [1, 2, 3, NULL]', P, {}),
    ('ColumnValues "cat" in ["a", "b", "c"]', F, {"Column.cat.ColumnValues.Compliance": 5 / 6}),
    ('ColumnValues "cat" in ["a", "b", "c", NULL]', P, {}),
    ('ColumnValues "cat" not in ["z"]', P, {}),
    ('ColumnValues "cat" = "b" where "id in (2, 3)"', P, {}),
    ('ColumnValues "name" matches "[a-z]+"', F, {"Column.name.ColumnValues.Compliance": 4 / 6}),
    ('ColumnValues "name" matches "[a-z]+" with threshold >= 0.66', P, {}),
    ('ColumnValues "name" not matches "a.*" where "name is not null"', F, {}),
    ('ColumnValues "name" in [NULL, EMPTY, WHITESPACES_ONLY] where "id in (4, 5)"', P, {}),
    ('ColumnValues "name" in [EMPTY, WHITESPACES_ONLY] where "id in (4, 5)"', F, {}),
    (
        'ColumnLength "name" between 1 and 6',
        P,
        {"Column.name.MinimumLength": 2, "Column.name.MaximumLength": 5},
    ),
    ('ColumnLength "name" >= 3', F, {"Column.name.MinimumLength": 2}),
    ('ColumnLength "name" in [5]', F, {"Column.name.LengthCompliance": 2 / 6}),
    ('ColumnLength "name" in [5] with threshold >= 0.3', P, {}),
    ('ColumnDataType "name" = "INTEGER"', F, {"Column.name.ColumnDataType.Compliance": 0.0}),
    ('ColumnDataType "dup" = "INTEGER" where "dup is not null"', P, {}),
    ('ColumnDataType "cat" != "INTEGER" with threshold > 0.5', P, {}),
    ('CustomSql "select count(*) from primary where flag = 1" = 3', P, {"Dataset.*.CustomSQL": 3.0}),
    ('CustomSql "select max(amount) from primary" < 50', F, {"Dataset.*.CustomSQL": 50.0}),
    ('CustomSql "select id from primary where amount >= 30"', F, {"Dataset.*.CustomSQL.Compliance": 0.5}),
    ('CustomSql "select id from primary where amount >= 30" with threshold >= 0.5', P, {}),
    (
        '(IsComplete "id") and (IsUnique "id")',
        P,
        {"Column.id.Completeness": 1.0, "Column.id.Uniqueness": 1.0},
    ),
    ('(IsComplete "id") and (IsComplete "amount")', F, {}),
    ('(IsComplete "amount") or (IsUnique "id")', P, {}),
    ('(IsComplete "amount") or ((IsUnique "dup") and (RowCount = 6))', F, {}),
    # Rules that cannot be evaluated are errors, not crashes of the whole evaluation.
    ('ColumnValues "nope" > 1', E, {}),
    ('Mean "cat" > 1', E, {}),
    ('IsComplete "id" where "no_such_column > 1"', E, {}),
    ('IsComplete "id" where "id >>> 1"', E, {}),
    ('CustomSql "select count(*) from nowhere" > 1', E, {}),
    ('CustomSql "select id, id + 1 as other from primary"', E, {}),
    ('ColumnLength "amount" > 1', E, {}),
    # A failure decides an "and", a pass an "or"; otherwise an error leaves it undecided.
    ('(IsComplete "nope") and (IsComplete "amount")', F, {}),
    ('(IsComplete "nope") or (IsComplete "id")', P, {}),
    ('(IsComplete "nope") or (IsComplete "amount")', E, {}),
]


@pytest.fixture(scope="module")
def data(spark: SparkSession) -> DataFrame:
    return spark.createDataFrame(ROWS, SCHEMA)


@pytest.fixture(scope="module")
def report(data: DataFrame) -> QualityReport:
    text = "Rules = [\n" + ",\n".join(rule for rule, _, _ in CASES) + "\n]"
    return evaluate(parse(text), data, ruleset_name="cases", dataset_location="memory")


@pytest.mark.parametrize(("rule", "outcome", "metrics"), CASES, ids=[c[0] for c in CASES])
def test_rule_outcome_and_metrics(
    report: QualityReport, rule: str, outcome: Outcome, metrics: dict[str, float | None]
) -> None:
    # GIVEN the six rows WHEN the rule is evaluated THEN outcome and metrics match the hand computation
    result = next(r for r in report.rules if r.rule == rule)
    assert result.outcome is outcome, result.failure_message
    for name, expected in metrics.items():
        if expected is None:
            assert result.evaluated_metrics[name] is None
        else:
            assert result.evaluated_metrics[name] == pytest.approx(expected), name
    if outcome is not P:
        assert result.failure_message


def test_failure_messages_say_why(report: QualityReport) -> None:
    by_rule = {r.rule: r for r in report.rules}
    assert by_rule['IsComplete "amount"'].failure_message == "1 of 6 values are null."
    assert "no rows match the where clause" in str(
        by_rule['Completeness "amount" > 0.5 where "id > 100"'].failure_message
    )
    assert "does not exist" in str(by_rule['ColumnValues "nope" > 1'].failure_message)
    assert "not numeric" in str(by_rule['Mean "cat" > 1'].failure_message)
    assert "Invalid where clause" in str(
        by_rule['IsComplete "id" where "no_such_column > 1"'].failure_message
    )
    key = by_rule['IsPrimaryKey "amount"'].failure_message
    assert key == "1 null value(s) in 'amount'."


def test_report_summary(report: QualityReport) -> None:
    expected_passed = [r for r, o, _ in CASES if o is P]
    assert report.row_count == 6
    assert report.ruleset_name == "cases" and report.dataset_location == "memory"
    assert not report.passed
    assert report.score == pytest.approx(len(expected_passed) / len(CASES), abs=1e-6)
    assert set(report.failed_rules) == {r for r, o, _ in CASES if o is not P}


def test_report_json_round_trip(report: QualityReport) -> None:
    text = report.model_dump_json()
    assert QualityReport.model_validate_json(text) == report
    doc = json.loads(text)
    assert doc["passed"] is False and isinstance(doc["failed_rules"], list)
    assert doc["rules"][0]["outcome"] in ("Passed", "Failed", "Error")


def test_report_rejects_a_summary_that_disagrees_with_its_rules(report: QualityReport) -> None:
    doc = json.loads(report.model_dump_json())
    doc["passed"] = True
    with pytest.raises(ValueError, match="does not match"):
        QualityReport.model_validate(doc)
    with pytest.raises(ValueError, match="needs a failure_message"):
        RuleOutcome(rule='IsComplete "a"', outcome=Outcome.FAILED)


def test_all_passing_ruleset_passes_with_score_one(data: DataFrame) -> None:
    result = evaluate_dqdl('Rules = [ RowCount > 0, IsPrimaryKey "id", Mean "flag" = 0.5 ]', data)
    assert result.passed and result.score == 1.0 and result.failed_rules == ()


def test_simple_metrics_share_one_spark_pass(spark: SparkSession, data: DataFrame) -> None:
    # GIVEN rules whose metrics are all plain aggregates (no grouping, no SQL)
    text = """Rules = [ RowCount > 1, IsComplete "id", Completeness "cat" > 0.5, Mean "amount" > 1,
        Sum "amount" > 1, StandardDeviation "amount" > 1, ColumnValues "flag" in [0, 1],
        ColumnValues "amount" > 0 where "amount is not null", ColumnLength "name" < 10, ColumnDataType "id" = "LONG" ]"""
    ruleset = parse(text)
    tracker = spark.sparkContext.statusTracker()
    spark.sparkContext.setJobGroup("dq-one-pass", "one pass")
    try:
        # WHEN evaluated
        result = evaluate(ruleset, data)
    finally:
        spark.sparkContext.setLocalProperty("spark.jobGroup.id", None)  # type: ignore[arg-type]
    # THEN one aggregation computed them all (Spark may split one query into a job per stage)
    assert result.passed, result.failed_rules
    assert len(tracker.getJobIdsForGroup("dq-one-pass")) <= 2


def test_empty_data_fails_rather_than_passing(spark: SparkSession) -> None:
    empty = spark.createDataFrame([], SCHEMA)
    result = evaluate_dqdl(
        'Rules = [ RowCount = 0, IsComplete "id", Mean "amount" > 0, IsUnique "id" ]', empty
    )
    outcomes = [r.outcome for r in result.rules]
    assert outcomes == [P, F, F, F]
    assert result.row_count == 0


def test_uniqueness_groups_values_as_spark_does(spark: SparkSession) -> None:
    # -0.0 and 0.0 are one value to Spark; timestamps a microsecond apart are two.
    from datetime import datetime

    df = spark.createDataFrame(
        [(0.0, datetime(2026, 1, 1, 0, 0, 0, 1)), (-0.0, datetime(2026, 1, 1, 0, 0, 0, 2))],
        "x double, t timestamp",
    )
    result = evaluate_dqdl('Rules = [ IsUnique "x", IsUnique "t", DistinctValuesCount "x" = 1 ]', df)
    assert [r.outcome for r in result.rules] == [F, P, P]


@pytest.mark.parametrize("bad", [float("inf"), float("-inf"), float("nan")])
def test_non_finite_values_fail_every_numeric_rule(spark: SparkSession, bad: float) -> None:
    # GIVEN a numeric column with one non-finite value among good ones (Spark orders NaN above
    # every number and inf compares as a number, so "x >= 0" used to pass a column of inf)
    df = spark.createDataFrame([(1.0,), (2.0,), (bad,)], "x double")
    rules = [
        'ColumnValues "x" >= 0',
        'ColumnValues "x" <= 100',
        'ColumnValues "x" between -1 and 100',
        'ColumnValues "x" != 7',
        'ColumnValues "x" not in [7, 8]',
        'ColumnValues "x" not between 5 and 6',
        'ColumnValues "x" in [1, 2, NULL]',
        'ColumnValues "x" != NULL',
        'Mean "x" > 0',
        'Sum "x" < 1e12',
        'StandardDeviation "x" >= 0',
    ]
    # WHEN the rules are evaluated, THEN each fails: a non-finite value satisfies no range
    result = evaluate_dqdl(f"Rules = [ {', '.join(rules)} ]", df)
    assert [(r.rule, r.outcome) for r in result.rules] == [(rule, F) for rule in rules]
    compliance = result.rules[0].evaluated_metrics["Column.x.ColumnValues.Compliance"]
    assert compliance == pytest.approx(2 / 3)
    assert "not a finite number" in (result.rules[8].failure_message or "")

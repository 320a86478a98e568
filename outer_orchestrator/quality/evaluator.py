"""Evaluate a parsed DQDL ruleset on a Spark DataFrame with Deequ's semantics.
(Over 400 lines: one planner per DQDL rule type around one shared metrics pass, which a split would scatter.)

On AWS, Glue Data Quality hands DQDL to Deequ (``com.amazon.deequ.dqdl``). The Deequ JAR is
not reachable here, so this module re-implements the checks Deequ's DQDL translator builds,
rule type by rule type, and says where it deliberately differs.

| DQDL rule              | Deequ                           | metric and pass condition here                  |
|------------------------|---------------------------------|-------------------------------------------------|
| RowCount               | hasSize                         | rows (after ``where``)                          |
| ColumnCount            | (schema)                        | number of columns                               |
| ColumnExists           | hasColumn                       | column present (case-insensitive, like Spark)   |
| IsComplete c           | isComplete                      | Completeness == 1.0: no nulls                   |
| Completeness c         | hasCompleteness                 | non-null rows / rows                            |
| Uniqueness c..         | hasUniqueness                   | values seen once / non-null rows [1]            |
| IsUnique c             | isUnique                        | Uniqueness == 1.0                               |
| IsPrimaryKey c..       | isPrimaryKey + isComplete       | Uniqueness == 1.0 and every column complete     |
| DistinctValuesCount c  | hasNumberOfDistinctValues       | distinct non-null values                        |
| Mean, Sum              | hasMean, hasSum                 | over non-null values of a numeric column        |
| StandardDeviation      | hasStandardDeviation            | POPULATION std dev, sqrt(m2/n) (stddev_pop)     |
| ColumnValues c <cond>  | hasMin/hasMax/isContainedIn/    | Compliance = rows satisfying / rows; passes at  |
|                        | satisfies, each + isComplete    | 1.0 or when ``with threshold`` holds [2]        |
| .. between a and b     | isContainedIn(exclusive bounds) | a < v < b: DQDL's between is EXCLUSIVE          |
| .. matches "re"        | hasPattern(^re$)                | full match, Java regex (rlike)                  |
| ColumnLength c <cond>  | hasMinLength/hasMaxLength       | min/max length of non-null values [3]           |
| ColumnDataType c = "T" | cast(c as T) is not null        | Compliance; nulls are not compliant             |
| CustomSql "q" <cond>   | customSql                       | ``q`` (table ``primary``) returns one number    |
| CustomSql "q"          | CustomSqlRowLevelExecutor       | rows of the data ``q`` returns / rows [4]       |
| ... where "sql"        | .where(...)                     | rows where it is not true are left out first    |
| (A) and (B), (A) or (B)| composite rule                  | each part on the whole data, then combined      |

[1] Rows count when at least one of the columns is non-null; groups are null-safe.
[2] A null fails every form except ``!=`` and ``not in`` (as Glue documents); ``= NULL``,
    ``!= NULL`` and ``in [.., NULL]`` name nulls explicitly. EMPTY and WHITESPACES_ONLY too.
    A non-finite number (NaN, ±Infinity) fails every numeric form, and a Mean, Sum or
    StandardDeviation that is not finite fails its rule: Spark orders NaN above every number
    and compares infinity as one, so ``>= 0`` alone would pass a column of them.
[3] For ``>``, ``>=``, ``<``, ``<=``, ``=`` and ``between`` without a threshold. ``!=``, ``in``,
    ``not in``, ``not between`` or a threshold are per-row compliance, a null counting as
    length 0 (Deequ's ``in`` handling).
[4] Null-safe match on the returned columns, which must all be columns of the data.

Deliberate differences: an aggregate over no rows (empty data, or a ``where`` that matches
nothing) fails with a message instead of comparing Deequ's NaN; ``not matches`` is the plain
negation of ``matches`` (Deequ builds a lookahead regex); ``ColumnLength !=`` is checked per
row (Deequ checks only min and max); a row-level CustomSql result is de-duplicated before
matching. ``Error`` means the rule could not be evaluated (missing column, bad ``where`` or
SQL); Glue reports those as failed, and :class:`QualityReport` does not count them as passed.

Cost: every simple metric of every rule is one expression in a single ``agg`` over the data;
the value frequencies the uniqueness family needs, for every (columns, where) at once, are one
more query; each CustomSql is its own query. Only aggregates reach the driver.
"""

from __future__ import annotations

import functools
import math
import operator
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

import pyspark.sql.functions as sf
from py4j.protocol import Py4JJavaError
from pyspark.errors import PySparkException
from pyspark.sql import Column, DataFrame
from pyspark.sql.types import (
    DataType,
    DoubleType,
    FloatType,
    NumericType,
    StringType,
    TimestampNTZType,
    TimestampType,
)

from outer_orchestrator.quality.dqdl import (
    ColumnCount,
    ColumnDataType,
    ColumnExists,
    ColumnLength,
    ColumnValues,
    Completeness,
    Composite,
    CustomSql,
    DistinctValuesCount,
    IsComplete,
    IsPrimaryKey,
    IsUnique,
    Keyword,
    Mean,
    NumberCondition,
    RowCount,
    Rule,
    Ruleset,
    StandardDeviation,
    StringCondition,
    Sum,
    Uniqueness,
    parse,
)
from outer_orchestrator.quality.report import Outcome, QualityReport, RuleOutcome

__all__ = ["evaluate", "evaluate_dqdl"]

# CustomSql names the data as the temporary view ``primary``; views are per session, so
# concurrent evaluations on one session (local workers are threads) take turns.
_PRIMARY_VIEW = "primary"
_PRIMARY_LOCK = threading.Lock()

# DQDL type names as Spark SQL cast targets; DECIMAL(p,s) is passed through.
_CAST_TARGETS = {
    "BOOLEAN": "boolean",
    "DATE": "date",
    "TIMESTAMP": "timestamp",
    "INTEGER": "int",
    "DOUBLE": "double",
    "FLOAT": "float",
    "LONG": "bigint",
}

Metrics = dict[str, float | None]


class _RuleError(Exception):
    """The rule cannot be evaluated on this data; it becomes an ``Error`` outcome."""


@dataclass(frozen=True)
class _Frequencies:
    rows: int  # rows with at least one non-null grouping column
    groups: int  # distinct value combinations among them
    singletons: int  # combinations seen exactly once


FrequencySpec = tuple[tuple[str, ...], str | None]


@dataclass
class _Results:
    aggregates: dict[str, Any] = field(default_factory=dict)
    frequencies: dict[FrequencySpec, _Frequencies] = field(default_factory=dict)


Finish = Callable[[_Results], RuleOutcome]


# ---- small helpers ---------------------------------------------------------------------------


def _col(name: str) -> Column:
    # Backticks keep dots and spaces in names from being read as struct access.
    return sf.col("`" + name.replace("`", "``") + "`")


def _lit(value: float) -> int | float:
    # Integral operands stay integers so an integer column is compared without widening.
    return int(value) if value.is_integer() else value


def _ratio(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _label(rule: Rule) -> str:
    # Parsed rules carry their source text; a rule built in code falls back to its repr.
    return rule.text or repr(rule)


def _outcome(rule: Rule, passed: bool, metrics: Metrics, message: str) -> RuleOutcome:
    if passed:
        return RuleOutcome(rule=_label(rule), outcome=Outcome.PASSED, evaluated_metrics=metrics)
    return RuleOutcome(
        rule=_label(rule), outcome=Outcome.FAILED, evaluated_metrics=metrics, failure_message=message
    )


def _no_rows(rule: Rule, metrics: Metrics) -> RuleOutcome:
    where = getattr(rule, "where", None)
    why = f'no rows match the where clause "{where}"' if where else "the data set has no rows"
    return _outcome(rule, False, metrics, f"Cannot evaluate: {why}.")


def _check(
    rule: Rule, name: str, value: float | None, cond: NumberCondition, metrics: Metrics
) -> RuleOutcome:
    if value is None:
        return _no_rows(rule, metrics)
    if not math.isfinite(value):  # NaN or ±inf: a column holding a non-finite value
        return _outcome(rule, False, metrics, f"{name} is {value}, not a finite number, so '{cond}' fails.")
    return _outcome(rule, cond.holds(value), metrics, f"{name} {value:g} does not satisfy '{cond}'.")


# ---- the planner: collect every metric, compute them together --------------------------------


class _Planner:
    """Collects what the rules need, computes it in as few Spark jobs as it can, then finishes each rule."""

    def __init__(self, df: DataFrame) -> None:
        self.df = df
        self._aggs: dict[str, tuple[str, Column]] = {}
        self._freqs: set[FrequencySpec] = set()
        self._by_lower = {c.lower(): c for c in df.columns}

    # -- validation: analysis only, no Spark job
    def has_column(self, name: str) -> bool:
        return name.lower() in self._by_lower

    def column(self, name: str) -> str:
        actual = self._by_lower.get(name.lower())
        if actual is None:
            raise _RuleError(f"Column {name!r} does not exist; columns are {sorted(self.df.columns)}.")
        return actual

    def dtype(self, name: str) -> DataType:
        return self.df.schema[self.column(name)].dataType

    def mask(self, where: str | None) -> Column:
        if where is None:
            return sf.lit(True)
        try:
            cond = sf.coalesce(sf.expr(where).cast("boolean"), sf.lit(False))
            self.df.select(cond)  # analysis resolves columns and types here
        except PySparkException as exc:
            raise _RuleError(f'Invalid where clause "{where}": {_first_line(exc)}') from None
        return cond

    # -- requests
    def agg(self, key: str, expr: Column) -> str:
        """Register an aggregate for the shared pass; equal keys share one expression."""
        if key not in self._aggs:
            try:
                self.df.agg(expr)  # analysis only: a bad expression fails its own rule, not the pass
            except PySparkException as exc:
                raise _RuleError(_first_line(exc)) from None
            self._aggs[key] = (f"_m{len(self._aggs)}", expr)
        return key

    def row_count(self, where: str | None) -> str:
        return self.agg(f"rows|{where}", sf.count(sf.when(self.mask(where), 1)))

    def non_null(self, column: str, where: str | None) -> str:
        expr = sf.count(sf.when(self.mask(where) & _col(column).isNotNull(), 1))
        return self.agg(f"nonnull|{column}|{where}", expr)

    def compliant(self, key: str, predicate: Column, where: str | None) -> str:
        expr = sf.count(sf.when(self.mask(where) & sf.coalesce(predicate, sf.lit(False)), 1))
        return self.agg(f"comply|{key}|{where}", expr)

    def frequencies(self, columns: tuple[str, ...], where: str | None) -> FrequencySpec:
        self.mask(where)
        self._freqs.add((columns, where))
        return columns, where

    # -- execution
    def run(self) -> _Results:
        results = _Results()
        if self._aggs:
            rows = self.df.agg(*[expr.alias(alias) for alias, expr in self._aggs.values()]).collect()
            results.aggregates = {key: rows[0][alias] for key, (alias, _) in self._aggs.items()}
        if self._freqs:
            results.frequencies = self._run_frequencies(sorted(self._freqs, key=repr))
        return results

    def _run_frequencies(self, specs: list[FrequencySpec]) -> dict[FrequencySpec, _Frequencies]:
        """Value frequencies of every (columns, where) in one query over one scan.

        Each row yields one (spec, key) entry per spec it belongs to; the key is the row's
        values as a JSON string (injective for a fixed set of fields: to_json leaves out only
        null fields), so specs over columns of different types share one groupBy.
        """
        entries = []
        for i, (columns, where) in enumerate(specs):
            counted = self.mask(where) & functools.reduce(
                operator.or_, [_col(c).isNotNull() for c in columns]
            )
            key = sf.to_json(sf.struct(*[self._key_part(c).alias(f"f{j}") for j, c in enumerate(columns)]))
            entries.append(sf.when(counted, sf.struct(sf.lit(i).alias("spec"), key.alias("key"))))
        counts = (
            self.df.select(sf.explode(sf.array(*entries)).alias("e"))
            .where(sf.col("e").isNotNull())
            .groupBy("e.spec", "e.key")
            .agg(sf.count("*").alias("n"))
        )
        summary = counts.groupBy("spec").agg(
            sf.count("*").alias("groups"),
            sf.count(sf.when(sf.col("n") == 1, 1)).alias("singletons"),
            sf.sum("n").alias("rows"),
        )
        found = {int(r["spec"]): r for r in summary.collect()}
        empty = _Frequencies(rows=0, groups=0, singletons=0)
        return {
            spec: _Frequencies(rows=int(r["rows"]), groups=int(r["groups"]), singletons=int(r["singletons"]))
            if (r := found.get(i)) is not None
            else empty
            for i, spec in enumerate(specs)
        }

    def _key_part(self, column: str) -> Column:
        # Make the JSON key group exactly as Spark's groupBy would: -0.0 equals 0.0, and
        # timestamps keep their microseconds (JSON would cut them to milliseconds).
        c, dtype = _col(column), self.dtype(column)
        if isinstance(dtype, FloatType | DoubleType):
            return sf.when(c == 0, sf.lit(0.0)).otherwise(c.cast("double"))
        if isinstance(dtype, TimestampType | TimestampNTZType):
            return c.cast("string")
        return c


# ---- ColumnValues predicates (null handling as in Deequ's ColumnValuesRule) -------------------


def _number_predicate(c: Column, cond: NumberCondition) -> Column:
    nums = [_lit(o) for o in cond.operands if o is not None]
    has_null = None in cond.operands
    op = cond.op
    # A present value that is a finite number: Spark orders NaN above +inf, so |v| < inf is
    # false for NaN and ±inf, and null (stays null: isNotNull / isNull decide those rows).
    v = c.isNotNull() & (sf.abs(c.cast("double")) < sf.lit(math.inf))
    comparisons: dict[str, Callable[[], Column]] = {
        ">": lambda: v & (c > nums[0]),
        ">=": lambda: v & (c >= nums[0]),
        "<": lambda: v & (c < nums[0]),
        "<=": lambda: v & (c <= nums[0]),
        "=": lambda: c.isNull() if has_null else v & (c == nums[0]),
        "!=": lambda: v if has_null else c.isNull() | (v & (c != nums[0])),
        "between": lambda: v & (c > nums[0]) & (c < nums[1]),
        "not between": lambda: v & ((c <= nums[0]) | (c >= nums[1])),
    }
    if op in comparisons:
        return comparisons[op]()
    if op == "in":
        if not nums:
            return c.isNull()
        return ((v & c.isin(nums)) | c.isNull()) if has_null else (v & c.isin(nums))
    # not in
    if not nums:
        return v
    return (v & ~c.isin(nums)) if has_null else (c.isNull() | (v & ~c.isin(nums)))


def _string_predicate(c: Column, cond: StringCondition) -> Column:
    if cond.op in ("matches", "not matches"):
        full = c.rlike(f"^(?:{cond.operands[0]})$")
        return c.isNotNull() & (full if cond.op == "matches" else ~full)
    values = [o for o in cond.operands if not isinstance(o, Keyword)]
    keywords = {o for o in cond.operands if isinstance(o, Keyword)}
    blank = sf.length(sf.trim(c)) == 0
    if cond.op in ("=", "in"):
        wanted = {
            Keyword.NULL: c.isNull(),
            Keyword.EMPTY: c == "",
            Keyword.WHITESPACES_ONLY: blank & (sf.length(c) > 0),
        }
        parts = [wanted[k] for k in keywords] + ([c.isNotNull() & c.isin(values)] if values else [])
        return functools.reduce(operator.or_, parts)
    unwanted = {
        Keyword.NULL: c.isNotNull(),
        Keyword.EMPTY: c != "",
        Keyword.WHITESPACES_ONLY: ~blank | (sf.length(c) == 0),
    }
    parts = [unwanted[k] for k in keywords] + ([c.isNull() | ~c.isin(values)] if values else [])
    return functools.reduce(operator.and_, parts)


# ---- one planner per rule type ---------------------------------------------------------------


def _plan_compliance(
    rule: Rule,
    planner: _Planner,
    *,
    metric: str,
    predicate: Column,
    where: str | None,
    threshold: NumberCondition | None,
) -> Finish:
    rows_key = planner.row_count(where)
    ok_key = planner.compliant(_label(rule), predicate, where)

    def finish(res: _Results) -> RuleOutcome:
        rows, ok = res.aggregates[rows_key], res.aggregates[ok_key]
        value = _ratio(ok, rows)
        metrics: Metrics = {metric: value}
        if value is None:
            return _no_rows(rule, metrics)
        if threshold is not None:
            message = (
                f"Compliance {value:.4f} ({ok} of {rows} rows) does not satisfy the threshold {threshold}."
            )
            return _outcome(rule, threshold.holds(value), metrics, message)
        return _outcome(rule, value == 1.0, metrics, f"{rows - ok} of {rows} rows do not satisfy the rule.")

    return finish


def _plan_row_count(rule: RowCount, planner: _Planner) -> Finish:
    key = planner.row_count(rule.where)

    def finish(res: _Results) -> RuleOutcome:
        rows = res.aggregates[key]
        return _check(rule, "RowCount", float(rows), rule.condition, {"Dataset.*.RowCount": rows})

    return finish


def _plan_column_count(rule: ColumnCount, planner: _Planner) -> Finish:
    n = len(planner.df.columns)
    return lambda res: _check(rule, "ColumnCount", float(n), rule.condition, {"Dataset.*.ColumnCount": n})


def _plan_column_exists(rule: ColumnExists, planner: _Planner) -> Finish:
    exists = planner.has_column(rule.column)
    return lambda res: _outcome(rule, exists, {}, f"Column {rule.column!r} does not exist.")


def _plan_completeness(rule: IsComplete | Completeness, planner: _Planner) -> Finish:
    col = planner.column(rule.column)
    rows_key, nn_key = planner.row_count(rule.where), planner.non_null(col, rule.where)

    def finish(res: _Results) -> RuleOutcome:
        rows, non_null = res.aggregates[rows_key], res.aggregates[nn_key]
        value = _ratio(non_null, rows)
        metrics: Metrics = {f"Column.{col}.Completeness": value}
        if isinstance(rule, Completeness):
            return _check(rule, "Completeness", value, rule.condition, metrics)
        if value is None:
            return _no_rows(rule, metrics)
        return _outcome(rule, value == 1.0, metrics, f"{rows - non_null} of {rows} values are null.")

    return finish


FrequencyRule = IsUnique | Uniqueness | IsPrimaryKey | DistinctValuesCount


def _plan_frequency(rule: FrequencyRule, planner: _Planner) -> Finish:
    names = (rule.column,) if isinstance(rule, IsUnique | DistinctValuesCount) else rule.columns
    cols = tuple(planner.column(c) for c in names)
    spec = planner.frequencies(cols, rule.where)
    entity = f"Column.{cols[0]}" if len(cols) == 1 else f"Multicolumn.{','.join(cols)}"
    # IsPrimaryKey also needs every column complete (Deequ adds isComplete per column).
    completeness = (
        {c: (planner.row_count(rule.where), planner.non_null(c, rule.where)) for c in cols}
        if isinstance(rule, IsPrimaryKey)
        else {}
    )

    def finish(res: _Results) -> RuleOutcome:
        freq = res.frequencies[spec]
        if isinstance(rule, DistinctValuesCount):
            metrics: Metrics = {f"{entity}.DistinctValuesCount": freq.groups}
            return _check(rule, "DistinctValuesCount", float(freq.groups), rule.condition, metrics)
        uniqueness = _ratio(freq.singletons, freq.rows)
        metrics = {f"{entity}.Uniqueness": uniqueness}
        if isinstance(rule, Uniqueness):
            return _check(rule, "Uniqueness", uniqueness, rule.condition, metrics)
        problems = []
        for c, (rows_key, nn_key) in completeness.items():
            rows, non_null = res.aggregates[rows_key], res.aggregates[nn_key]
            metrics[f"Column.{c}.Completeness"] = _ratio(non_null, rows)
            if non_null < rows:
                problems.append(f"{rows - non_null} null value(s) in {c!r}")
        if uniqueness is None:
            return _no_rows(rule, metrics)
        if uniqueness < 1.0:
            shared = freq.rows - freq.singletons
            problems.insert(0, f"Uniqueness {uniqueness:.4f}: {shared} of {freq.rows} rows share their value")
        return _outcome(rule, not problems, metrics, "; ".join(problems) + ".")

    return finish


_STATISTICS: dict[type, tuple[str, Callable[[Column], Column]]] = {
    Mean: ("Mean", sf.avg),
    Sum: ("Sum", sf.sum),
    StandardDeviation: ("StandardDeviation", sf.stddev_pop),  # Deequ: population, not sample
}


def _plan_statistic(rule: Mean | Sum | StandardDeviation, planner: _Planner) -> Finish:
    col = planner.column(rule.column)
    dtype = planner.dtype(col)
    if not isinstance(dtype, NumericType):
        raise _RuleError(f"Column {col!r} is {dtype.simpleString()}, not numeric.")
    name, fn = _STATISTICS[type(rule)]
    values = sf.when(planner.mask(rule.where), _col(col))
    key = planner.agg(f"{name}|{col}|{rule.where}", fn(values).cast("double"))

    def finish(res: _Results) -> RuleOutcome:
        value = res.aggregates[key]
        return _check(rule, name, value, rule.condition, {f"Column.{col}.{name}": value})

    return finish


def _plan_column_values(rule: ColumnValues, planner: _Planner) -> Finish:
    col = planner.column(rule.column)
    cond = rule.condition
    c = _col(col)
    predicate = (
        _number_predicate(c, cond) if isinstance(cond, NumberCondition) else _string_predicate(c, cond)
    )
    return _plan_compliance(
        rule,
        planner,
        metric=f"Column.{col}.ColumnValues.Compliance",
        predicate=predicate,
        where=rule.where,
        threshold=rule.threshold,
    )


_LENGTH_BOUNDS: dict[str, Callable[[int, int, list[float]], bool]] = {
    ">": lambda lo, hi, n: lo > n[0],
    ">=": lambda lo, hi, n: lo >= n[0],
    "<": lambda lo, hi, n: hi < n[0],
    "<=": lambda lo, hi, n: hi <= n[0],
    "=": lambda lo, hi, n: lo == n[0] and hi == n[0],
    "between": lambda lo, hi, n: lo > n[0] and hi < n[1],
}


def _plan_column_length(rule: ColumnLength, planner: _Planner) -> Finish:
    col = planner.column(rule.column)
    dtype = planner.dtype(col)
    if not isinstance(dtype, StringType):
        raise _RuleError(f"ColumnLength needs a string column; {col!r} is {dtype.simpleString()}.")
    cond = rule.condition
    if rule.threshold is not None or cond.op not in _LENGTH_BOUNDS:
        return _plan_compliance(
            rule,
            planner,
            metric=f"Column.{col}.LengthCompliance",
            predicate=_number_predicate(sf.coalesce(sf.length(_col(col)), sf.lit(0)), cond),
            where=rule.where,
            threshold=rule.threshold,
        )
    lengths = sf.length(sf.when(planner.mask(rule.where), _col(col)))
    min_key = planner.agg(f"minlen|{col}|{rule.where}", sf.min(lengths))
    max_key = planner.agg(f"maxlen|{col}|{rule.where}", sf.max(lengths))

    def finish(res: _Results) -> RuleOutcome:
        lo, hi = res.aggregates[min_key], res.aggregates[max_key]
        metrics: Metrics = {f"Column.{col}.MinimumLength": lo, f"Column.{col}.MaximumLength": hi}
        if lo is None:
            return _no_rows(rule, metrics)
        ok = _LENGTH_BOUNDS[cond.op](lo, hi, [o for o in cond.operands if o is not None])
        return _outcome(rule, ok, metrics, f"Lengths run from {lo} to {hi}, which does not satisfy '{cond}'.")

    return finish


def _plan_column_data_type(rule: ColumnDataType, planner: _Planner) -> Finish:
    col = planner.column(rule.column)
    type_name = str(rule.condition.operands[0])
    castable = _col(col).cast(_CAST_TARGETS.get(type_name, type_name.replace(" ", "").lower())).isNotNull()
    return _plan_compliance(
        rule,
        planner,
        metric=f"Column.{col}.ColumnDataType.Compliance",
        predicate=castable if rule.condition.op == "=" else ~castable,
        where=rule.where,
        threshold=rule.threshold,
    )


def _plan_custom_sql(rule: CustomSql, planner: _Planner) -> Finish:
    # The statement needs its own query; it runs now, holding the view lock, and finishes later.
    df = planner.df
    spark = df.sparkSession
    rows: list[Any] = []
    matched = total = 0
    with _PRIMARY_LOCK:
        df.createOrReplaceTempView(_PRIMARY_VIEW)
        try:
            result = spark.sql(rule.statement)
            if rule.condition is not None:
                rows = result.take(2)
            else:
                matched, total = _row_level_match(df, result)
        except (PySparkException, Py4JJavaError) as exc:
            raise _RuleError(f"Error executing SQL statement: {_first_line(exc)}") from None
        finally:
            spark.catalog.dropTempView(_PRIMARY_VIEW)

    if rule.condition is not None:
        cond = rule.condition
        value = rows[0][0] if len(rows) == 1 and len(rows[0]) == 1 else None
        if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
            raise _RuleError("A CustomSql rule with a condition must return exactly one number.")
        number = float(value)
        return lambda res: _check(rule, "CustomSQL", number, cond, {"Dataset.*.CustomSQL": number})

    def finish(res: _Results) -> RuleOutcome:
        value = _ratio(matched, total)
        metrics: Metrics = {"Dataset.*.CustomSQL.Compliance": value}
        if value is None:
            return _no_rows(rule, metrics)
        if rule.threshold is not None:
            message = f"Compliance {value:.4f} does not satisfy threshold '{rule.threshold}'."
            return _outcome(rule, rule.threshold.holds(value), metrics, message)
        message = f"{total - matched} of {total} rows are not returned by the SQL."
        return _outcome(rule, value == 1.0, metrics, message)

    return finish


def _row_level_match(df: DataFrame, result: DataFrame) -> tuple[int, int]:
    by_lower = {c.lower(): c for c in df.columns}
    returned = result.columns
    unknown = [c for c in returned if c.lower() not in by_lower]
    if not returned or len(unknown) == len(returned):
        raise _RuleError("A row-level CustomSql must return columns of the data ('select id from primary').")
    if unknown:
        raise _RuleError(f"The row-level CustomSql returned columns that are not in the data set: {unknown}.")
    keys = result.select(*[_col(c).alias(f"_r{i}") for i, c in enumerate(returned)]).distinct()
    keys = keys.withColumn("_matched", sf.lit(True))
    on = functools.reduce(
        operator.and_,
        [_col(by_lower[c.lower()]).eqNullSafe(sf.col(f"_r{i}")) for i, c in enumerate(returned)],
    )
    row = (
        df.join(keys, on=on, how="left")
        .agg(sf.count(sf.when(sf.col("_matched"), 1)).alias("matched"), sf.count("*").alias("total"))
        .first()
    )
    assert row is not None
    return int(row["matched"]), int(row["total"])


_LEAF_PLANNERS: dict[type, Callable[[Any, _Planner], Finish]] = {
    RowCount: _plan_row_count,
    ColumnCount: _plan_column_count,
    ColumnExists: _plan_column_exists,
    IsComplete: _plan_completeness,
    Completeness: _plan_completeness,
    IsUnique: _plan_frequency,
    Uniqueness: _plan_frequency,
    IsPrimaryKey: _plan_frequency,
    DistinctValuesCount: _plan_frequency,
    Mean: _plan_statistic,
    Sum: _plan_statistic,
    StandardDeviation: _plan_statistic,
    ColumnValues: _plan_column_values,
    ColumnLength: _plan_column_length,
    ColumnDataType: _plan_column_data_type,
    CustomSql: _plan_custom_sql,
}


# ---- composition and entry points -------------------------------------------------------------


def _plan(rule: Rule, planner: _Planner) -> Finish:
    if isinstance(rule, Composite):
        parts = [_plan(r, planner) for r in rule.rules]
        return lambda res: _combine(rule, [p(res) for p in parts])
    try:
        return _LEAF_PLANNERS[type(rule)](rule, planner)
    except _RuleError as exc:
        message = str(exc)
        return lambda res: RuleOutcome(rule=_label(rule), outcome=Outcome.ERROR, failure_message=message)


def _combine(rule: Composite, outcomes: Sequence[RuleOutcome]) -> RuleOutcome:
    metrics: Metrics = {}
    for o in outcomes:
        metrics.update(o.evaluated_metrics)
    kinds = {o.outcome for o in outcomes}
    # "and" is decided by any failure, "or" by any pass; otherwise an error leaves it undecided.
    decisive, otherwise = (
        (Outcome.FAILED, Outcome.PASSED) if rule.operator == "and" else (Outcome.PASSED, Outcome.FAILED)
    )
    result = decisive if decisive in kinds else Outcome.ERROR if Outcome.ERROR in kinds else otherwise
    if result is Outcome.PASSED:
        return RuleOutcome(rule=_label(rule), outcome=result, evaluated_metrics=metrics)
    failed = [o for o in outcomes if o.outcome is not Outcome.PASSED]
    reasons = "; ".join(f"[{o.rule}] {o.failure_message}" for o in failed)
    return RuleOutcome(rule=_label(rule), outcome=result, evaluated_metrics=metrics, failure_message=reasons)


def evaluate(
    ruleset: Ruleset,
    df: DataFrame,
    *,
    ruleset_name: str = "ruleset",
    dataset_location: str = "",
    evaluated_at: datetime | None = None,
) -> QualityReport:
    """Evaluate every rule on ``df``. Failing rules are reported, never raised."""
    planner = _Planner(df)
    total_key = planner.row_count(None)
    finishers = [_plan(rule, planner) for rule in ruleset.rules]
    results = planner.run()
    return QualityReport.build(
        ruleset_name=ruleset_name,
        dataset_location=dataset_location,
        row_count=int(results.aggregates[total_key]),
        rules=[finish(results) for finish in finishers],
        evaluated_at=evaluated_at,
    )


def evaluate_dqdl(text: str, df: DataFrame, **kwargs: Any) -> QualityReport:
    """Parse DQDL text (raising ``DqdlSyntaxError``) and evaluate it on ``df``."""
    return evaluate(parse(text), df, **kwargs)

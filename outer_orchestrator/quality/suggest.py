"""``dualloop quality suggest``: a DQDL ruleset recommended from the data and its schema.

What AWS Glue Data Quality's rule recommendations (``StartDataQualityRuleRecommendationRun``,
docs.aws.amazon.com/glue/latest/dg/data-quality-recommendations.html) propose, in the rule
types ``outer_orchestrator.quality.dqdl`` parses and the evaluator runs:

- ``RowCount between lo and hi``: half to four times the rows seen (at least ``MIN_ROWS``);
- ``IsComplete`` for a column with no nulls, else ``Completeness >= `` its share less 0.02;
- the id: ``IsComplete`` and ``IsUnique``;
- a classification label: ``ColumnValues in [...]`` its classes;
- a number (feature, or a regression target): ``ColumnValues between lo and hi``, its range
  widened by ``RANGE_TOLERANCE`` of the range each way, rounded outwards;
- a categorical feature with at most ``MAX_VOCABULARY`` values: ``ColumnValues in [...]``.

The rules describe the data as ingest writes it (the data-quality step reads the curated
data): headers by the header rule, categories trimmed and lower-cased, numbers as doubles.
``read_curated`` applies those conversions to a local file with pandas (no Spark needed).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from outer_orchestrator.quality.dqdl import NumberCondition, StringCondition, parse
from shared.column_names import HeaderClashError, column_names
from shared.config import DataSchema, FeatureType, ProblemType

if TYPE_CHECKING:
    from outer_orchestrator.quality.dqdl_rules import NumberOp

__all__ = [
    "MAX_VOCABULARY",
    "MIN_ROWS",
    "RANGE_TOLERANCE",
    "DataProblem",
    "read_curated",
    "read_table",
    "suggest_ruleset",
]

# Fewer rows than this cannot be split into train, validation and test sets that say anything
# (the reference pipeline splits 70/15/15): the suggested RowCount never allows fewer.
MIN_ROWS = 100
RANGE_TOLERANCE = 0.1  # of a numeric column's observed range, on each side
COMPLETENESS_TOLERANCE = 0.02
MAX_VOCABULARY = 50  # more distinct values than this is an identifier or free text, not a vocabulary
_DATA_SUFFIXES = (".csv", ".parquet", ".pq")
_TRUE_FALSE = {"true": 1.0, "false": 0.0}


class DataProblem(ValueError):
    """The data cannot be read or does not fit the schema; the message is one sentence."""


def read_table(path: Path) -> pd.DataFrame:
    """A CSV or Parquet file, or a folder of them, as ingest's Spark reader sees it: CSV values
    as text (an empty field is null, nothing else is), Parquet with its types."""
    if not path.exists():
        raise DataProblem(f"no file or folder at {path}: give a CSV or Parquet file, or a folder of them")
    files = (
        [path]
        if path.is_file()
        else sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in _DATA_SUFFIXES)
    )
    if not files or files[0].suffix.lower() not in _DATA_SUFFIXES:
        raise DataProblem(f"{path} is not a CSV or Parquet file, nor a folder holding some")
    frames = []
    for file in files:
        try:
            if file.suffix.lower() == ".csv":
                frames.append(pd.read_csv(file, dtype=str, keep_default_na=False, na_values=[""]))
            else:
                frames.append(pd.read_parquet(file))
        except (
            pd.errors.ParserError,
            pd.errors.EmptyDataError,
            UnicodeDecodeError,
            OSError,
            ValueError,
        ) as exc:
            reason = " ".join(str(exc).split())
            raise DataProblem(
                f"cannot read {file} ({reason}): give a CSV file with a header row, or Parquet"
            ) from None
    frame = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
    headers = [str(c) for c in frame.columns]
    try:
        frame.columns = column_names(headers)
    except HeaderClashError as exc:
        raise DataProblem(f"{path}: {exc}") from None
    frame.attrs["headers"] = headers  # as written, for messages
    return frame


def as_numbers(column: pd.Series, name: str) -> pd.Series:
    """Ingest's number rule: trimmed text, true/false as 1/0; any other text is an error."""
    if pd.api.types.is_bool_dtype(column) or pd.api.types.is_numeric_dtype(column):
        return column.astype("float64")
    text = column.astype("string").str.strip()
    lowered = text.str.lower()
    values = pd.to_numeric(
        text.where(~lowered.isin(list(_TRUE_FALSE)), lowered.map(_TRUE_FALSE)), errors="coerce"
    )
    bad = text.notna() & (text != "") & values.isna()
    if bad.any():
        raise DataProblem(
            f"column {name!r}: {int(bad.sum())} value(s) are not numbers, e.g. {text[bad].iloc[0]!r}"
        )
    return values.astype("float64")


def read_curated(path: Path, schema: DataSchema) -> pd.DataFrame:
    """The data at ``path`` as ingest would curate it for ``schema`` (without its generated id)."""
    raw = read_table(path)
    wanted = [*schema.feature_names, schema.target_column]
    if not (schema.generate_id and schema.id_column not in raw.columns):
        wanted.insert(0, schema.id_column)
    missing = [c for c in wanted if c not in raw.columns]
    if missing:
        raise DataProblem(
            f"{path} lacks the column(s) {', '.join(missing)} (it has {', '.join(raw.columns)})"
        )
    types = {f.name: f.type for f in schema.features}
    out = {}
    for name in wanted:
        if name == schema.target_column and schema.text_labels:
            text = raw[name].astype("string").str.strip()
            out[name] = text.where(text != "")
        elif name == schema.target_column or types.get(name) is FeatureType.NUMERIC:
            out[name] = as_numbers(raw[name], name)
        else:
            text = raw[name].astype("string").str.strip()
            text = text.where(text != "")
            out[name] = text.str.lower() if name in types else text
    return pd.DataFrame(out)


def _nice_step(low: float, high: float) -> float:
    """A round step about a hundredth of the span (or of the magnitude, for a constant)."""
    span = high - low or max(abs(low), abs(high), 1.0)
    return float(10 ** math.floor(math.log10(span / 100)))


def _number(value: float) -> float:
    """``value`` without float noise (0.30000000000000004 -> 0.3), as DQDL will print it."""
    return float(f"{value:.12g}")


def _range(values: pd.Series) -> tuple[float, float]:
    """The observed range widened by RANGE_TOLERANCE each way, rounded outwards."""
    low, high = float(values.min()), float(values.max())
    step = _nice_step(low, high)
    slack = (high - low) * RANGE_TOLERANCE or step * 10
    bottom = math.floor((low - slack) / step) * step
    if low > 0:
        bottom = max(bottom, 0.0)  # a positive quantity stays one (0 itself is outside: exclusive)
    return _number(bottom), _number(math.ceil((high + slack) / step) * step)


def _num(op: NumberOp, *operands: float) -> str:
    return str(NumberCondition(op, tuple(float(o) for o in operands)))


def _quoted(name: str) -> str:
    return f'"{name}"'


def _completeness(name: str, column: pd.Series) -> list[str]:
    share = float(column.notna().mean())
    if share == 1.0:
        return [f"IsComplete {_quoted(name)}"]
    floor = max(0.0, math.floor((share - COMPLETENESS_TOLERANCE) * 100) / 100)
    return [f"Completeness {_quoted(name)} {_num('>=', floor)}"]


def _where_present(name: str, column: pd.Series) -> str:
    """Nulls fail every ColumnValues rule; when the column has some, Completeness budgets them."""
    return f' where "`{name}` is not null"' if column.isna().any() else ""


def _values_in(name: str, column: pd.Series, *, numbers: bool) -> str:
    present = column.dropna()
    if numbers:
        return f"ColumnValues {_quoted(name)} {_num('in', *sorted({float(v) for v in present}))}"
    cond = StringCondition("in", tuple(sorted({str(v) for v in present})))
    return f"ColumnValues {_quoted(name)} {cond}{_where_present(name, column)}"


def _between(name: str, column: pd.Series) -> str:
    low, high = _range(column.dropna())
    return f"ColumnValues {_quoted(name)} {_num('between', low, high)}{_where_present(name, column)}"


def suggest_ruleset(frame: pd.DataFrame, schema: DataSchema, *, source: str = "the data") -> str:
    """DQDL text for data like ``frame`` (as ``read_curated`` returns it), parsed back before it
    is returned, so what is written is what the DataQuality step runs."""
    rows = len(frame)
    if rows < MIN_ROWS:
        raise DataProblem(
            f"{source} has {rows} rows, fewer than the {MIN_ROWS} the suggested ruleset allows "
            "(RowCount): too few to train, validate and test a model on; give more rows"
        )
    lines: list[tuple[str, Sequence[str]]] = []
    low, high = max(MIN_ROWS, rows // 2), rows * 4
    lines.append(
        (
            f"Enough rows, and not a runaway extract: {low} to {high} ({rows} seen; DQDL's between is exclusive).",
            [f"RowCount {_num('between', low - 1, high + 1)}"],
        )
    )
    if schema.generate_id and schema.id_column not in frame.columns:
        id_note = "The id, which ingest adds (a hash of each row): present and unique."
    else:
        id_note = "The id: present and unique (a duplicate means a broken or re-run extract)."
    lines.append(
        (id_note, [f"IsComplete {_quoted(schema.id_column)}", f"IsUnique {_quoted(schema.id_column)}"])
    )

    target = frame[schema.target_column]
    if schema.problem_type is ProblemType.REGRESSION:
        label = [*_completeness(schema.target_column, target), _between(schema.target_column, target)]
        lines.append(("The target: present, and a number in the range seen.", label))
    else:
        label = [
            *_completeness(schema.target_column, target),
            _values_in(schema.target_column, target, numbers=not schema.text_labels),
        ]
        lines.append((f"The label: present, and one of the {target.nunique()} classes seen.", label))

    for feature in schema.features:
        column = frame[feature.name]
        rules = _completeness(feature.name, column)
        if column.notna().any():
            if feature.type is FeatureType.NUMERIC:
                rules.append(_between(feature.name, column))
            elif column.nunique() <= MAX_VOCABULARY:
                rules.append(_values_in(feature.name, column, numbers=False))
        lines.append((f"{feature.name} ({feature.type.value}).", rules))

    text = _render(lines, source, rows)
    parse(text)  # a rule this module writes must be one the DataQuality step can run
    return text


def _render(groups: Sequence[tuple[str, Sequence[str]]], source: str, rows: int) -> str:
    out = [
        f"# Data quality rules suggested by `dualloop quality suggest` from {source} ({rows} rows).",
        "# The DataQuality step evaluates them on the curated data of every retrain; the state machine",
        "# trains only when all pass. Review them: they say what this data looked like, not what it must be.",
        f"# Ranges are the values seen widened by {RANGE_TOLERANCE:.0%} of the range each way; DQDL's",
        "# between is EXCLUSIVE; nulls fail every ColumnValues rule, so a column with nulls is checked",
        "# where it is not null and its nulls are budgeted by Completeness.",
        "Rules = [",
    ]
    rules = [(comment, rule) for comment, group in groups for rule in group]
    for i, (comment, rule) in enumerate(rules):
        if i == 0 or rules[i - 1][0] != comment:
            out.append(f"    # {comment}")
        out.append(f"    {rule}{',' if i < len(rules) - 1 else ''}")
    out.append("]")
    return "\n".join(out) + "\n"

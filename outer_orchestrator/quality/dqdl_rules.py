"""The rule objects a parsed DQDL ruleset holds: conditions, one frozen class per rule type.

:func:`outer_orchestrator.quality.dqdl.parse` builds them and
:mod:`outer_orchestrator.quality.evaluator` runs them; both import them from
:mod:`outer_orchestrator.quality.dqdl`, which re-exports the rule and condition types.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Generic, Literal, TypeAlias, TypeVar


class Keyword(StrEnum):
    """DQDL's value keywords for ``ColumnValues`` conditions."""

    NULL = "NULL"
    EMPTY = "EMPTY"
    WHITESPACES_ONLY = "WHITESPACES_ONLY"


NumberOp = Literal[">", ">=", "<", "<=", "=", "!=", "between", "not between", "in", "not in"]
StringOp = Literal["=", "!=", "in", "not in", "matches", "not matches"]

# The type names ColumnDataType accepts (Deequ's ColumnDataTypeRule), besides DECIMAL(p,s).
DATA_TYPES = ("BOOLEAN", "DATE", "TIMESTAMP", "INTEGER", "DOUBLE", "FLOAT", "LONG")
DECIMAL_RE = re.compile(r"^DECIMAL\(\s*\d+\s*,\s*\d+\s*\)$", re.IGNORECASE)


def _fmt_number(value: float) -> str:
    return str(int(value)) if value.is_integer() else repr(value)


def fmt_string(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


@dataclass(frozen=True)
class NumberCondition:
    """A condition on a number; ``None`` among the operands is DQDL's ``NULL``."""

    op: NumberOp
    operands: tuple[float | None, ...]

    def holds(self, value: float) -> bool:
        """Whether a metric value satisfies the condition (``between`` is exclusive, as in DQDL)."""
        nums = [o for o in self.operands if o is not None]
        return _HOLDS[self.op](value, nums)

    def __str__(self) -> str:
        shown = ["NULL" if o is None else _fmt_number(o) for o in self.operands]
        if self.op.endswith("between"):
            return f"{self.op} {shown[0]} and {shown[1]}"
        if self.op.endswith("in"):
            return f"{self.op} [{', '.join(shown)}]"
        return f"{self.op} {shown[0]}"


@dataclass(frozen=True)
class StringCondition:
    """A condition on string values; keyword operands are :class:`Keyword` members."""

    op: StringOp
    operands: tuple[str | Keyword, ...]

    def __str__(self) -> str:
        shown = [o.value if isinstance(o, Keyword) else fmt_string(o) for o in self.operands]
        if self.op.endswith("in"):
            return f"{self.op} [{', '.join(shown)}]"
        return f"{self.op} {shown[0]}"


_HOLDS: dict[str, Callable[[float, list[float]], bool]] = {
    ">": lambda v, n: v > n[0],
    ">=": lambda v, n: v >= n[0],
    "<": lambda v, n: v < n[0],
    "<=": lambda v, n: v <= n[0],
    "=": lambda v, n: v == n[0],
    "!=": lambda v, n: v != n[0],
    "between": lambda v, n: n[0] < v < n[1],
    "not between": lambda v, n: v <= n[0] or v >= n[1],
    "in": lambda v, n: v in n,
    "not in": lambda v, n: v not in n,
}

C = TypeVar("C", bound=NumberCondition | StringCondition)

# ``text`` is the rule as written (whitespace collapsed); it names the rule in reports and
# is left out of equality so that two spellings of one rule compare equal.
_text = field(default="", compare=False)


@dataclass(frozen=True)
class RowCount:
    condition: NumberCondition
    where: str | None = None
    text: str = _text


@dataclass(frozen=True)
class ColumnCount:
    condition: NumberCondition
    text: str = _text


@dataclass(frozen=True)
class ColumnExists:
    column: str
    text: str = _text


# Rule types of one shape share a base (and one alternative of the grammar's ``simple``, in
# dqdl.lark); each type stays a class of its own, so the evaluator dispatches on it and two
# types with equal fields never compare equal.


@dataclass(frozen=True)
class _ColumnRule:
    column: str
    where: str | None = None
    text: str = _text


@dataclass(frozen=True)
class _ColumnMetric:
    """A number computed over one column, compared with ``condition``."""

    column: str
    condition: NumberCondition
    where: str | None = None
    text: str = _text


@dataclass(frozen=True)
class _ColumnCheck(Generic[C]):
    """A condition on each row's value; ``threshold`` is the share of rows that must pass."""

    column: str
    condition: C
    threshold: NumberCondition | None = None
    where: str | None = None
    text: str = _text


class IsComplete(_ColumnRule):
    """No NULL in the column."""


class IsUnique(_ColumnRule):
    """No value of the column appears twice."""


class Completeness(_ColumnMetric):
    """The share of non-NULL values."""


class DistinctValuesCount(_ColumnMetric):
    """The number of distinct values."""


class Mean(_ColumnMetric):
    """The mean of the values."""


class Sum(_ColumnMetric):
    """The sum of the values."""


class StandardDeviation(_ColumnMetric):
    """The standard deviation of the values."""


@dataclass(frozen=True)
class Uniqueness:
    columns: tuple[str, ...]
    condition: NumberCondition
    where: str | None = None
    text: str = _text


@dataclass(frozen=True)
class IsPrimaryKey:
    columns: tuple[str, ...]
    where: str | None = None
    text: str = _text


class ColumnValues(_ColumnCheck[NumberCondition | StringCondition]):
    """Each value meets a number or string condition."""


class ColumnLength(_ColumnCheck[NumberCondition]):
    """Each value's length meets a number condition."""


class ColumnDataType(_ColumnCheck[StringCondition]):
    """Each value has (``=``) or lacks (``!=``) one upper-cased type name."""


@dataclass(frozen=True)
class CustomSql:
    """``condition`` set: the statement returns one number. Unset: the row-level form."""

    statement: str
    condition: NumberCondition | None = None
    threshold: NumberCondition | None = None
    text: str = _text


@dataclass(frozen=True)
class Composite:
    operator: Literal["and", "or"]
    rules: tuple[Rule, ...]
    text: str = _text


Rule: TypeAlias = (
    RowCount
    | ColumnCount
    | ColumnExists
    | IsComplete
    | Completeness
    | IsUnique
    | Uniqueness
    | IsPrimaryKey
    | ColumnValues
    | ColumnLength
    | ColumnDataType
    | DistinctValuesCount
    | Mean
    | Sum
    | StandardDeviation
    | CustomSql
    | Composite
)


@dataclass(frozen=True)
class Ruleset:
    rules: tuple[Rule, ...]


# Every supported rule type by its DQDL name (case-sensitive), each built from its parse.
RULE_TYPES: dict[str, Callable[..., Rule]] = {
    rule.__name__: rule
    for rule in (
        RowCount,
        ColumnCount,
        ColumnExists,
        IsComplete,
        Completeness,
        IsUnique,
        Uniqueness,
        IsPrimaryKey,
        ColumnValues,
        ColumnLength,
        ColumnDataType,
        CustomSql,
        DistinctValuesCount,
        Mean,
        Sum,
        StandardDeviation,
    )
}

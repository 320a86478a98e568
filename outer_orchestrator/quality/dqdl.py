"""A parser for the subset of AWS Glue Data Quality's DQDL that dualloop evaluates.

``parse(text)`` turns ``Rules = [ ... ]`` into a :class:`Ruleset` of frozen rule objects
(``dqdl_rules.py``, re-exported here); :mod:`outer_orchestrator.quality.evaluator` runs them
on a Spark DataFrame. The grammar is ``dqdl.lark`` (lark, LALR), shaped like AWS's own
(awslabs/dqdl): rule type names are case-sensitive, keywords are not, one alternative per
rule type says what it takes. Here: the rule objects built from the parse tree, the checks a
grammar cannot say (a regex that compiles, a known data type, one operator per level), and
lark's errors turned into the line, the column and what was expected there, in words.

``#`` starts a comment that runs to the end of the line. Anything outside this subset
(dynamic rules such as ``avg(last(3))``, date expressions, ``Analyzers``) is a syntax
error rather than being silently ignored, so a ruleset that passes here never means
less than it says.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import cache
from importlib.resources import files
from typing import Any, cast

from lark import Lark, Token, Transformer, v_args
from lark.exceptions import UnexpectedCharacters, UnexpectedToken, VisitError
from lark.tree import Meta

from outer_orchestrator.quality.dqdl_errors import (
    OPERANDS,
    DqdlSyntaxError,
    before,
    describe,
    error,
    string_value,
    unexpected,
    unknown_rule,
    what_was_expected,
)
from outer_orchestrator.quality.dqdl_rules import (
    DATA_TYPES,
    DECIMAL_RE,
    RULE_TYPES,
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
    NumberOp,
    RowCount,
    Rule,
    Ruleset,
    StandardDeviation,
    StringCondition,
    StringOp,
    Sum,
    Uniqueness,
)

__all__ = [
    "DATA_TYPES",
    "ColumnCount",
    "ColumnDataType",
    "ColumnExists",
    "ColumnLength",
    "ColumnValues",
    "Completeness",
    "Composite",
    "CustomSql",
    "DistinctValuesCount",
    "DqdlSyntaxError",
    "IsComplete",
    "IsPrimaryKey",
    "IsUnique",
    "Keyword",
    "Mean",
    "NumberCondition",
    "RowCount",
    "Rule",
    "Ruleset",
    "StandardDeviation",
    "StringCondition",
    "Sum",
    "Uniqueness",
    "parse",
]


@cache
def _lark() -> Lark:
    """The grammar, compiled on first use, once per process."""
    # Read as package data: on Glue the package is a zip on --extra-py-files, not a folder.
    grammar = files("outer_orchestrator.quality").joinpath("dqdl.lark").read_text()
    return Lark(grammar, parser="lalr", propagate_positions=True)


def parse(text: str) -> Ruleset:
    """Parse a DQDL document; raise :class:`DqdlSyntaxError` naming line, column and what was expected."""
    interactive = _lark().parse_interactive(text)
    seen: list[Token] = []
    try:
        for tok in interactive.iter_parse():
            # An identifier where a rule type goes: name it, with a did-you-mean (lark's accepts() is untyped).
            if tok.type == "IDENT" and "ROW_COUNT" in interactive.accepts():  # type: ignore[no-untyped-call]
                raise unknown_rule(tok)
            seen.append(tok)
        lines = text.split("\n")
        tree = interactive.feed_token(Token("$END", "", len(text), len(lines), len(lines[-1]) + 1))
    except UnexpectedToken as exc:
        raise unexpected(
            exc.token, before(seen, exc.token.start_pos), set(exc.accepts or exc.expected)
        ) from None
    except UnexpectedCharacters as exc:
        char = text[exc.pos_in_stream or 0]
        if char == '"':
            raise DqdlSyntaxError(
                "unterminated string (missing closing '\"')", exc.line, exc.column
            ) from None
        expected = what_was_expected(set(exc.allowed or ()), before(seen, exc.pos_in_stream), None)
        raise DqdlSyntaxError(
            f"expected {expected}, found character {char!r}", exc.line, exc.column
        ) from None
    try:
        return cast(Ruleset, _Build(text).transform(tree))
    except VisitError as exc:
        if isinstance(exc.orig_exc, DqdlSyntaxError):
            raise exc.orig_exc from None
        raise


# ---- the rule objects from the tree ------------------------------------------------------------


def _tokens(children: list[Any], kind: str) -> Iterator[Token]:
    return (c for c in children if isinstance(c, Token) and c.type == kind)


def _optional(children: list[Any], kind: type) -> Any:
    return next((c for c in children if isinstance(c, kind)), None)


@v_args(meta=True)
class _Build(Transformer[Token, Any]):
    """Bottom-up: conditions first, then rules (``text`` is the rule as written), then the set."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text

    def _make(self, meta: Meta, children: list[Any], *args: Any) -> Rule:
        text = " ".join(self.text[meta.start_pos : meta.end_pos].split())
        return RULE_TYPES[str(children[0])](*args, text=text)

    def start(self, meta: Meta, children: list[Any]) -> Ruleset:
        return Ruleset(tuple(c for c in children if not isinstance(c, Token)))

    def rule(self, meta: Meta, children: list[Any]) -> Rule:
        if len(children) == 1:
            return cast(Rule, children[0])
        ops = list(_tokens(children, "LOGIC"))
        first = ops[0].lower()
        for op in ops[1:]:
            if op.lower() != first:
                raise error(
                    f"cannot mix 'and' and 'or' at one level; add parentheses around the '{first}' part", op
                )
        text = " ".join(self.text[meta.start_pos : meta.end_pos].split())
        parts = tuple(c for c in children if not isinstance(c, Token))
        return Composite("and" if first == "and" else "or", parts, text)

    def paren(self, meta: Meta, children: list[Any]) -> Rule:
        return cast(Rule, children[0])

    def row_count(self, meta: Meta, c: list[Any]) -> Rule:
        return self._make(meta, c, c[1], _optional(c, Where))

    def column_count(self, meta: Meta, c: list[Any]) -> Rule:
        return self._make(meta, c, c[1])

    def column_exists(self, meta: Meta, c: list[Any]) -> Rule:
        return self._make(meta, c, string_value(c[1]))

    def column_rule(self, meta: Meta, c: list[Any]) -> Rule:
        return self._make(meta, c, string_value(c[1]), _optional(c, Where))

    def column_metric(self, meta: Meta, c: list[Any]) -> Rule:
        return self._make(meta, c, string_value(c[1]), c[2], _optional(c, Where))

    def columns_metric(self, meta: Meta, c: list[Any]) -> Rule:
        columns = tuple(string_value(t) for t in _tokens(c, "STRING"))
        return self._make(meta, c, columns, _optional(c, NumberCondition), _optional(c, Where))

    def columns_rule(self, meta: Meta, c: list[Any]) -> Rule:
        columns = tuple(string_value(t) for t in _tokens(c, "STRING"))
        return self._make(meta, c, columns, _optional(c, Where))

    def column_check(self, meta: Meta, c: list[Any]) -> Rule:
        where, threshold = c[3]
        return self._make(meta, c, string_value(c[1]), c[2], threshold, where)

    def custom_sql(self, meta: Meta, c: list[Any]) -> Rule:
        condition: NumberCondition | None = _optional(c, NumberCondition)
        threshold: Threshold | None = _optional(c, Threshold)
        if condition is not None and threshold is not None:
            raise error(
                "a CustomSql rule with a condition returns one number and takes no threshold",
                threshold.keyword,
            )
        return self._make(meta, c, string_value(c[1]), condition, threshold.condition if threshold else None)

    def unknown_rule(self, meta: Meta, c: list[Any]) -> Rule:
        raise unknown_rule(c[0])

    def tail(self, meta: Meta, c: list[Any]) -> tuple[str | None, NumberCondition | None]:
        threshold: Threshold | None = _optional(c, Threshold)
        return _optional(c, Where), threshold.condition if threshold else None

    def where(self, meta: Meta, c: list[Any]) -> Where:
        clause = string_value(c[1])
        if not clause.strip():
            raise error("the 'where' condition is empty", c[1])
        return Where(clause)

    def threshold(self, meta: Meta, c: list[Any]) -> Threshold:
        return Threshold(c[0], c[2])

    def num_cond(self, meta: Meta, c: list[Any]) -> NumberCondition:
        if len(c) == 1:
            return cast(NumberCondition, c[0])
        if c[0].type == "CMP":
            return NumberCondition(cast(NumberOp, str(c[0])), (float(c[1]),))
        op: NumberOp = "not in" if c[0].type == "NOT" else "in"
        return NumberCondition(op, tuple(float(t) for t in _tokens(c, "NUMBER")))

    def between(self, meta: Meta, c: list[Any]) -> NumberCondition:
        low, high = (float(t) for t in _tokens(c, "NUMBER"))
        return NumberCondition("not between" if c[0].type == "NOT" else "between", (low, high))

    def item(self, meta: Meta, c: list[Any]) -> Token:
        return cast(Token, c[0])

    def type_cond(self, meta: Meta, c: list[Any]) -> StringCondition:
        op, name_tok = c
        if op not in ("=", "!="):
            raise error(f"expected '=' or '!=' followed by a data type such as \"INTEGER\", found {op!r}", op)
        name = string_value(name_tok).strip().upper()
        if name not in DATA_TYPES and not DECIMAL_RE.match(name):
            raise error(
                f"unknown data type {name!r}; expected one of {', '.join(DATA_TYPES)} or DECIMAL(p,s)",
                name_tok,
            )
        return StringCondition(cast(StringOp, str(op)), (name,))

    def value_cond(self, meta: Meta, c: list[Any]) -> NumberCondition | StringCondition:
        if len(c) == 1:
            return cast(NumberCondition, c[0])
        negated = c[0].type == "NOT"
        head, rest = (c[1], c[2:]) if negated else (c[0], c[1:])
        if head.type == "MATCHES":
            pattern = string_value(rest[0])
            try:
                re.compile(pattern)
            except re.error as exc:
                raise error(f"invalid regular expression: {exc}", rest[0]) from None
            return StringCondition("not matches" if negated else "matches", (pattern,))
        if head.type == "IN":
            return _in_list(negated, list(_operands(rest)))
        return _comparison(str(head), rest[0])


class Where(str):
    """A ``where`` clause (a str, told apart from the column names in a rule's children)."""


class Threshold:
    def __init__(self, keyword: Token, condition: NumberCondition) -> None:
        self.keyword = keyword  # ``with``: where an error about the threshold points
        self.condition = condition


def _operands(children: list[Any]) -> Iterator[Token]:
    return (c for c in children if isinstance(c, Token) and c.type in OPERANDS)


def _comparison(op: str, operand: Token) -> NumberCondition | StringCondition:
    if operand.type == "NUMBER":
        return NumberCondition(cast(NumberOp, op), (float(operand),))
    if op not in ("=", "!="):
        raise error(f"expected a number after '{op}', found {describe(operand)}", operand)
    if operand.type == "NULL":
        return NumberCondition(cast(NumberOp, op), (None,))
    if operand.type == "KEYWORD":
        return StringCondition(cast(StringOp, op), (Keyword(operand.upper()),))
    return StringCondition(cast(StringOp, op), (string_value(operand),))


def _in_list(negated: bool, items: list[Token]) -> NumberCondition | StringCondition:
    numbers: list[float | None] = []
    strings: list[str | Keyword] = []
    for tok in items:
        if tok.type == "NUMBER":
            numbers.append(float(tok))
        elif tok.type == "STRING":
            strings.append(string_value(tok))
        else:
            keyword = Keyword(tok.upper())
            if keyword is Keyword.NULL:
                numbers.append(None)
            strings.append(keyword)
        has_number = any(n is not None for n in numbers)
        if has_number and any(not isinstance(s, Keyword) for s in strings):
            raise error("a list cannot mix numbers and strings", tok)
        if has_number and any(s in (Keyword.EMPTY, Keyword.WHITESPACES_ONLY) for s in strings):
            raise error("EMPTY and WHITESPACES_ONLY apply to strings, not numbers", tok)
    op: NumberOp = "not in" if negated else "in"
    if any(n is not None for n in numbers) or (strings and all(s is Keyword.NULL for s in strings)):
        return NumberCondition(op, tuple(numbers))
    return StringCondition(cast(StringOp, op), tuple(strings))

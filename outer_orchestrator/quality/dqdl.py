"""A parser for the subset of AWS Glue Data Quality's DQDL that dualloop evaluates.
(Over 400 lines: one parser, a method per production; its tokens and rule objects live apart.)

``parse(text)`` turns ``Rules = [ ... ]`` into a :class:`Ruleset` of frozen rule objects
(``dqdl_rules.py``, re-exported here); :mod:`outer_orchestrator.quality.evaluator` runs them
on a Spark DataFrame. Tokens come from ``dqdl_lexer.py``; the rule types are one table,
``RULE_TYPES`` (what each takes), as in AWS's own grammar (awslabs/dqdl: ``dqRule: ruleType
parameter* condition?`` with the rule types and their parameters listed apart). The grammar
follows the DQDL reference (rule type names are case-sensitive, keywords are not):

    ruleset    := "Rules" "=" "[" rule ("," rule)* "]"
    rule       := "(" rule ")" (("and" | "or") "(" rule ")")*   -- one operator per level
                | simple
    simple     := TYPE [column | columns] [condition] [where] [threshold] [where]
                                                    -- what each TYPE takes: RULE_TYPES below
                | CustomSql STR (num_cond | [threshold])   -- a number, or the row-level form
    column     := STR                               columns := STR+
    condition  := num_cond | value_cond (ColumnValues) | ("=" | "!=") STR (ColumnDataType)
    num_cond   := (">" | ">=" | "<" | "<=" | "=" | "!=") NUM
                | ["not"] "between" NUM "and" NUM | ["not"] "in" "[" NUM ("," NUM)* "]"
    value_cond := num_cond with NULL allowed, or string forms: ("=" | "!=") STR|KEYWORD,
                  ["not"] "in" "[" (STR|KEYWORD) ... "]", ["not"] "matches" STR
    threshold  := "with" "threshold" num_cond
    where      := "where" STR                       -- a Spark SQL boolean expression

``#`` starts a comment that runs to the end of the line. Anything outside this subset
(dynamic rules such as ``avg(last(3))``, date expressions, ``Analyzers``) is a syntax
error rather than being silently ignored, so a ruleset that passes here never means
less than it says.

Hand-written recursive descent, kept (lark was weighed, issue 15): a lark grammar of this
subset is about 55 lines, but lark's errors name expected terminals, so keeping the tested
messages and positions (a did-you-mean for a rule type, the operand expected after an
operator, and/or needing parentheses) takes a table from parser context to message, and the
Glue job would ship one more wheel. The rule-type table (RULE_TYPES) gives most of the gain.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Literal, cast

from outer_orchestrator.quality.dqdl_lexer import DqdlSyntaxError, Token, tokenize
from outer_orchestrator.quality.dqdl_rules import (
    DATA_TYPES,
    DECIMAL_RE,
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
    "RULE_TYPES",
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
    "RuleType",
    "Ruleset",
    "StandardDeviation",
    "StringCondition",
    "Sum",
    "Uniqueness",
    "parse",
]


# ---- the rule types ------------------------------------------------------------------------


@dataclass(frozen=True)
class RuleType:
    """What a rule type takes after its name, in order; ``build`` gets them positionally."""

    build: Callable[..., Rule]
    target: Literal["column", "columns"] | None  # one quoted column, one or more, or none
    condition: Literal["number", "value", "data type"] | None = None
    where: bool = True  # an optional ``where "<SQL>"``
    threshold: bool = False  # an optional ``with threshold <cond>``, before or after the where


RULE_TYPES: dict[str, RuleType] = {
    "RowCount": RuleType(RowCount, None, "number"),
    "ColumnCount": RuleType(ColumnCount, None, "number", where=False),
    "ColumnExists": RuleType(ColumnExists, "column", where=False),
    "IsComplete": RuleType(IsComplete, "column"),
    "Completeness": RuleType(Completeness, "column", "number"),
    "IsUnique": RuleType(IsUnique, "column"),
    "Uniqueness": RuleType(Uniqueness, "columns", "number"),
    "IsPrimaryKey": RuleType(IsPrimaryKey, "columns"),
    "ColumnValues": RuleType(ColumnValues, "column", "value", threshold=True),
    "ColumnLength": RuleType(ColumnLength, "column", "number", threshold=True),
    "ColumnDataType": RuleType(ColumnDataType, "column", "data type", threshold=True),
    "CustomSql": RuleType(
        CustomSql, None
    ),  # a statement, then a number or the row-level form: its own method
    "DistinctValuesCount": RuleType(DistinctValuesCount, "column", "number"),
    "Mean": RuleType(Mean, "column", "number"),
    "Sum": RuleType(Sum, "column", "number"),
    "StandardDeviation": RuleType(StandardDeviation, "column", "number"),
}


# ---- parser ------------------------------------------------------------------------------


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = tokenize(text)
        self.pos = 0

    # -- token helpers
    @property
    def tok(self) -> Token:
        return self.tokens[self.pos]

    def _advance(self) -> Token:
        tok = self.tokens[self.pos]
        if tok.kind != "eof":
            self.pos += 1
        return tok

    def _error(self, expected: str, tok: Token | None = None) -> DqdlSyntaxError:
        tok = tok or self.tok
        return DqdlSyntaxError(f"expected {expected}, found {tok.describe()}", tok.line, tok.column)

    def _is_word(self, word: str, tok: Token | None = None) -> bool:
        tok = tok or self.tok
        return tok.kind == "ident" and tok.value.lower() == word

    def _is_op(self, op: str) -> bool:
        return self.tok.kind == "op" and self.tok.value == op

    def _is_punct(self, ch: str) -> bool:
        return self.tok.kind == "punct" and self.tok.value == ch

    def _expect_word(self, word: str, expected: str | None = None) -> Token:
        if not self._is_word(word):
            raise self._error(expected or f"'{word}'")
        return self._advance()

    def _expect_punct(self, ch: str, expected: str | None = None) -> Token:
        if not self._is_punct(ch):
            raise self._error(expected or f"'{ch}'")
        return self._advance()

    def _expect_string(self, what: str) -> str:
        if self.tok.kind != "string":
            raise self._error(f"{what} as a double-quoted string")
        return self._advance().value

    def _expect_number(self, what: str = "a number") -> float:
        if self.tok.kind != "number":
            raise self._error(what)
        return float(self._advance().value)

    def _source(self, start: Token) -> str:
        end = self.tokens[self.pos - 1].end
        return " ".join(self.text[start.offset : end].split())

    # -- document
    def parse(self) -> Ruleset:
        if not (self._is_word("rules") and self.tok.value == "Rules"):  # "Rules" is case-sensitive
            raise self._error("'Rules = [' at the start of the ruleset")
        self._advance()
        if not self._is_op("="):
            raise self._error("'=' after 'Rules'")
        self._advance()
        self._expect_punct("[", "'[' to open the list of rules")
        if self._is_punct("]"):
            raise self._error("at least one rule")
        rules = [self._rule()]
        while self._is_punct(","):
            self._advance()
            rules.append(self._rule())
        self._expect_punct("]", "',' or ']' after a rule")
        if self.tok.kind != "eof":
            raise self._error("end of input after the closing ']'")
        return Ruleset(tuple(rules))

    # -- composition
    def _rule(self) -> Rule:
        start = self.tok
        if not self._is_punct("("):
            rule = self._simple()
            if self._is_word("and") or self._is_word("or"):
                raise DqdlSyntaxError(
                    f"expected ',' or ']' after a rule, found {self.tok.describe()} "
                    "(rules joined by 'and'/'or' must each be wrapped in parentheses)",
                    self.tok.line,
                    self.tok.column,
                )
            return rule
        parts = [self._parenthesised()]
        operator: str | None = None
        while self._is_word("and") or self._is_word("or"):
            op_tok = self._advance()
            op = op_tok.value.lower()
            if operator is not None and op != operator:
                raise DqdlSyntaxError(
                    f"cannot mix 'and' and 'or' at one level; add parentheses around the '{operator}' part",
                    op_tok.line,
                    op_tok.column,
                )
            operator = op
            if not self._is_punct("("):
                raise self._error(f"'(' to open the rule after '{op}' (combined rules need parentheses)")
            parts.append(self._parenthesised())
        if operator is None:
            return parts[0]
        return Composite("and" if operator == "and" else "or", tuple(parts), self._source(start))

    def _parenthesised(self) -> Rule:
        self._expect_punct("(")
        rule = self._rule()
        self._expect_punct(")", "')' to close the rule")
        return rule

    # -- simple rules
    def _simple(self) -> Rule:
        start = self.tok
        if start.kind != "ident":
            raise self._error("a rule type such as IsComplete or ColumnValues")
        name = start.value
        if name not in RULE_TYPES:
            close = next((t for t in RULE_TYPES if t.lower() == name.lower()), None)
            hint = f" (rule types are case-sensitive: did you mean {close!r}?)" if close else ""
            raise DqdlSyntaxError(
                f"unknown or unsupported rule type {name!r}{hint}; supported: {', '.join(RULE_TYPES)}",
                start.line,
                start.column,
            )
        self._advance()
        rule = self._rule_body(name)
        return _with_text(rule, self._source(start))

    def _rule_body(self, name: str) -> Rule:
        if name == "CustomSql":
            return self._custom_sql()
        kind = RULE_TYPES[name]
        args: list[object] = []
        if kind.target == "column":
            args.append(self._expect_string("a column name"))
        elif kind.target == "columns":
            args.append(self._columns())
        if kind.condition is not None:
            args.append(_CONDITIONS[kind.condition](self))
        if kind.threshold:
            where, threshold = self._where_and_threshold()
            args += [threshold, where]
        elif kind.where:
            args.append(self._optional_where())
        return kind.build(*args)

    def _custom_sql(self) -> Rule:
        statement = self._expect_string("a SQL statement")
        cond = None if self._at_rule_end() or self._is_word("with") else self._number_condition()
        if cond is not None and self._is_word("with"):
            raise DqdlSyntaxError(
                "a CustomSql rule with a condition returns one number and takes no threshold",
                self.tok.line,
                self.tok.column,
            )
        return CustomSql(statement, cond, self._optional_threshold())

    def _at_rule_end(self) -> bool:
        return self.tok.kind == "eof" or (self.tok.kind == "punct" and self.tok.value in ",])")

    def _columns(self) -> tuple[str, ...]:
        cols = [self._expect_string("a column name")]
        while self.tok.kind == "string":
            cols.append(self._advance().value)
        return tuple(cols)

    def _optional_where(self) -> str | None:
        if not self._is_word("where"):
            return None
        self._advance()
        clause = self._expect_string("a SQL condition after 'where'")
        if not clause.strip():
            raise DqdlSyntaxError(
                "the 'where' condition is empty",
                self.tokens[self.pos - 1].line,
                self.tokens[self.pos - 1].column,
            )
        return clause

    def _optional_threshold(self) -> NumberCondition | None:
        if not self._is_word("with"):
            return None
        self._advance()
        self._expect_word("threshold", "'threshold' after 'with'")
        return self._number_condition()

    def _where_and_threshold(self) -> tuple[str | None, NumberCondition | None]:
        # DQDL writes these in either order; accept both, each at most once.
        where = self._optional_where()
        threshold = self._optional_threshold()
        if where is None:
            where = self._optional_where()
        return where, threshold

    # -- conditions
    def _number_condition(self) -> NumberCondition:
        cond = self._condition(allow_strings=False, allow_null=False)
        assert isinstance(cond, NumberCondition)
        return cond

    def _value_condition(self) -> NumberCondition | StringCondition:
        return self._condition(allow_strings=True, allow_null=True)

    def _condition(self, *, allow_strings: bool, allow_null: bool) -> NumberCondition | StringCondition:
        tok = self.tok
        what = "a condition such as '> 10', 'between 1 and 5' or 'in [1, 2]'"
        if tok.kind == "op":
            op = self._advance().value
            return self._comparison(op, allow_strings=allow_strings, allow_null=allow_null)
        negated = False
        if self._is_word("not"):
            self._advance()
            negated = True
            what = "'between', 'in' or 'matches' after 'not'"
        if self._is_word("between"):
            self._advance()
            low = self._expect_number("a number after 'between'")
            self._expect_word("and", "'and' between the two bounds")
            high = self._expect_number("a number after 'and'")
            return NumberCondition("not between" if negated else "between", (low, high))
        if self._is_word("in"):
            self._advance()
            return self._in_list(negated, allow_strings=allow_strings, allow_null=allow_null)
        if allow_strings and self._is_word("matches"):
            self._advance()
            pattern = self._expect_string("a regular expression after 'matches'")
            try:
                re.compile(pattern)
            except re.error as exc:
                prev = self.tokens[self.pos - 1]
                raise DqdlSyntaxError(f"invalid regular expression: {exc}", prev.line, prev.column) from None
            return StringCondition("not matches" if negated else "matches", (pattern,))
        if tok.kind == "punct" and tok.value == "(":
            raise DqdlSyntaxError(
                "expected a literal operand; expressions such as now() or avg(last(3)) are not supported",
                tok.line,
                tok.column,
            )
        raise self._error(what)

    def _comparison(
        self, op: str, *, allow_strings: bool, allow_null: bool
    ) -> NumberCondition | StringCondition:
        tok = self.tok
        if tok.kind == "number":
            return NumberCondition(cast(NumberOp, op), (float(self._advance().value),))
        if op in ("=", "!=") and allow_null and self._is_word("null"):
            self._advance()
            return NumberCondition(cast(NumberOp, op), (None,))
        if op in ("=", "!=") and allow_strings:
            if tok.kind == "string":
                return StringCondition(cast(StringOp, op), (self._advance().value,))
            kw = self._keyword()
            if kw is not None:
                return StringCondition(cast(StringOp, op), (kw,))
        if tok.kind == "punct" and tok.value == "(":
            raise DqdlSyntaxError(
                "expected a literal operand; expressions such as now() or avg(last(3)) are not supported",
                tok.line,
                tok.column,
            )
        kinds = "a number" if not allow_strings or op not in ("=", "!=") else "a number, string or NULL"
        raise self._error(f"{kinds} after '{op}'")

    def _keyword(self) -> Keyword | None:
        if self.tok.kind != "ident":
            return None
        try:
            kw = Keyword(self.tok.value.upper())
        except ValueError:
            return None
        self._advance()
        return kw

    def _in_list(
        self, negated: bool, *, allow_strings: bool, allow_null: bool
    ) -> NumberCondition | StringCondition:
        self._expect_punct("[", "'[' to open the list of values")
        numbers: list[float | None] = []
        strings: list[str | Keyword] = []
        first = True
        while first or self._is_punct(","):
            if not first:
                self._advance()
            first = False
            tok = self.tok
            if tok.kind == "number":
                numbers.append(float(self._advance().value))
            elif tok.kind == "string" and allow_strings:
                strings.append(self._advance().value)
            elif allow_null and (kw := self._keyword()) is not None:
                if kw is Keyword.NULL:
                    numbers.append(None)
                strings.append(kw)
            else:
                raise self._error("a value in the list" if allow_strings else "a number in the list")
            has_num = any(n is not None for n in numbers)
            has_str = any(not isinstance(s, Keyword) for s in strings)
            if has_num and has_str:
                raise DqdlSyntaxError("a list cannot mix numbers and strings", tok.line, tok.column)
            if has_num and any(s in (Keyword.EMPTY, Keyword.WHITESPACES_ONLY) for s in strings):
                raise DqdlSyntaxError(
                    "EMPTY and WHITESPACES_ONLY apply to strings, not numbers", tok.line, tok.column
                )
        self._expect_punct("]", "',' or ']' in the list of values")
        op: Literal["in", "not in"] = "not in" if negated else "in"
        if any(n is not None for n in numbers) or (strings and all(s is Keyword.NULL for s in strings)):
            return NumberCondition(op, tuple(numbers))
        return StringCondition(op, tuple(strings))

    def _data_type_condition(self) -> StringCondition:
        if not (self._is_op("=") or self._is_op("!=")):
            raise self._error("'=' or '!=' followed by a data type such as \"INTEGER\"")
        op = self._advance().value
        tok = self.tok
        if tok.kind != "string":
            raise self._error('a data type as a double-quoted string, such as "INTEGER"')
        name = self._advance().value.strip().upper()
        if name not in DATA_TYPES and not DECIMAL_RE.match(name):
            raise DqdlSyntaxError(
                f"unknown data type {name!r}; expected one of {', '.join(DATA_TYPES)} or DECIMAL(p,s)",
                tok.line,
                tok.column,
            )
        return StringCondition(cast(StringOp, op), (name,))


_CONDITIONS: dict[str, Callable[[_Parser], NumberCondition | StringCondition]] = {
    "number": _Parser._number_condition,
    "value": _Parser._value_condition,
    "data type": _Parser._data_type_condition,
}


def _with_text(rule: Rule, text: str) -> Rule:
    return replace(rule, text=text)


def parse(text: str) -> Ruleset:
    """Parse a DQDL document; raise :class:`DqdlSyntaxError` naming line, column and what was expected."""
    return _Parser(text).parse()

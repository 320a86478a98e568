"""A parser for the subset of AWS Glue Data Quality's DQDL that dualloop evaluates.

``parse(text)`` turns ``Rules = [ ... ]`` into a :class:`Ruleset` of frozen rule objects;
:mod:`outer_orchestrator.quality.evaluator` runs them on a Spark DataFrame. The grammar
follows the DQDL reference (rule type names are case-sensitive, keywords are not):

    ruleset    := "Rules" "=" "[" rule ("," rule)* "]"
    rule       := "(" rule ")" (("and" | "or") "(" rule ")")*   -- one operator per level
                | simple
    simple     := RowCount num_cond [where]
                | ColumnCount num_cond
                | ColumnExists STR
                | IsComplete STR [where]            | Completeness STR num_cond [where]
                | IsUnique STR [where]              | Uniqueness STR+ num_cond [where]
                | IsPrimaryKey STR+ [where]
                | ColumnValues STR value_cond [where] [threshold] [where]
                | ColumnLength STR num_cond [where] [threshold] [where]
                | ColumnDataType STR ("=" | "!=") STR [where] [threshold] [where]
                | DistinctValuesCount | Mean | Sum | StandardDeviation  STR num_cond [where]
                | CustomSql STR (num_cond | [threshold])   -- a number, or the row-level form
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
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Literal, TypeAlias, cast

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


class DqdlSyntaxError(ValueError):
    """A ruleset that is not valid DQDL (or not in the supported subset)."""

    def __init__(self, message: str, line: int, column: int) -> None:
        super().__init__(f"DQDL syntax error at line {line}, column {column}: {message}")
        self.message = message
        self.line = line
        self.column = column


class Keyword(StrEnum):
    """DQDL's value keywords for ``ColumnValues`` conditions."""

    NULL = "NULL"
    EMPTY = "EMPTY"
    WHITESPACES_ONLY = "WHITESPACES_ONLY"


NumberOp = Literal[">", ">=", "<", "<=", "=", "!=", "between", "not between", "in", "not in"]
StringOp = Literal["=", "!=", "in", "not in", "matches", "not matches"]

# The type names ColumnDataType accepts (Deequ's ColumnDataTypeRule), besides DECIMAL(p,s).
DATA_TYPES = ("BOOLEAN", "DATE", "TIMESTAMP", "INTEGER", "DOUBLE", "FLOAT", "LONG")
_DECIMAL_RE = re.compile(r"^DECIMAL\(\s*\d+\s*,\s*\d+\s*\)$", re.IGNORECASE)


def _fmt_number(value: float) -> str:
    return str(int(value)) if value.is_integer() else repr(value)


def _fmt_string(value: str) -> str:
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
        shown = [o.value if isinstance(o, Keyword) else _fmt_string(o) for o in self.operands]
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


@dataclass(frozen=True)
class IsComplete:
    column: str
    where: str | None = None
    text: str = _text


@dataclass(frozen=True)
class Completeness:
    column: str
    condition: NumberCondition
    where: str | None = None
    text: str = _text


@dataclass(frozen=True)
class IsUnique:
    column: str
    where: str | None = None
    text: str = _text


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


@dataclass(frozen=True)
class ColumnValues:
    column: str
    condition: NumberCondition | StringCondition
    threshold: NumberCondition | None = None
    where: str | None = None
    text: str = _text


@dataclass(frozen=True)
class ColumnLength:
    column: str
    condition: NumberCondition
    threshold: NumberCondition | None = None
    where: str | None = None
    text: str = _text


@dataclass(frozen=True)
class ColumnDataType:
    column: str
    condition: StringCondition  # "=" or "!=" with one upper-cased type name
    threshold: NumberCondition | None = None
    where: str | None = None
    text: str = _text


@dataclass(frozen=True)
class DistinctValuesCount:
    column: str
    condition: NumberCondition
    where: str | None = None
    text: str = _text


@dataclass(frozen=True)
class Mean:
    column: str
    condition: NumberCondition
    where: str | None = None
    text: str = _text


@dataclass(frozen=True)
class Sum:
    column: str
    condition: NumberCondition
    where: str | None = None
    text: str = _text


@dataclass(frozen=True)
class StandardDeviation:
    column: str
    condition: NumberCondition
    where: str | None = None
    text: str = _text


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


# ---- tokenizer ---------------------------------------------------------------------------

# "other" is a character DQDL has no use for; the parser reports it where it meets it.
TokenKind = Literal["ident", "string", "number", "op", "punct", "other", "eof"]


@dataclass(frozen=True)
class _Token:
    kind: TokenKind
    value: str
    line: int
    column: int
    offset: int
    end: int

    def describe(self) -> str:
        if self.kind == "eof":
            return "end of input"
        if self.kind == "string":
            return f"string {_fmt_string(self.value)}"
        if self.kind == "other":
            return f"character {self.value!r}"
        return f"{self.value!r}"


_NUMBER_RE = re.compile(r"-?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")
_IDENT_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_OPS = (">=", "<=", "!=", "=", ">", "<")
_PUNCT = "[](),"


def _lex_string(text: str, start: int, line: int, column: int) -> tuple[str, int]:
    """Read a double-quoted string starting at ``start``; return its value and the end offset."""
    chars: list[str] = []
    i = start + 1
    while i < len(text) and text[i] != "\n":
        c = text[i]
        if c == "\\" and i + 1 < len(text) and text[i + 1] in '"\\':
            # Only \" and \\ are escapes: other backslashes stay, so regexes read naturally.
            chars.append(text[i + 1])
            i += 2
        elif c == '"':
            return "".join(chars), i + 1
        else:
            chars.append(c)
            i += 1
    raise DqdlSyntaxError("unterminated string (missing closing '\"')", line, column)


def _lex_token(text: str, i: int, line: int, col: int) -> _Token:
    ch = text[i]
    if ch == '"':
        value, end = _lex_string(text, i, line, col)
        return _Token("string", value, line, col, i, end)
    m = _NUMBER_RE.match(text, i)
    if m and (ch != "-" or m.end() > i + 1):
        return _Token("number", m.group(), line, col, i, m.end())
    if m := _IDENT_RE.match(text, i):
        return _Token("ident", m.group(), line, col, i, m.end())
    if op := next((o for o in _OPS if text.startswith(o, i)), None):
        return _Token("op", op, line, col, i, i + len(op))
    if ch in _PUNCT:
        return _Token("punct", ch, line, col, i, i + 1)
    return _Token("other", ch, line, col, i, i + 1)


def _tokenize(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    i, line, line_start = 0, 1, 0
    while i < len(text):
        ch = text[i]
        if ch == "\n":
            i, line, line_start = i + 1, line + 1, i + 1
        elif ch.isspace():
            i += 1
        elif ch == "#":
            end = text.find("\n", i)
            i = len(text) if end < 0 else end
        else:
            tok = _lex_token(text, i, line, i - line_start + 1)
            tokens.append(tok)
            i = tok.end
    tokens.append(_Token("eof", "", line, i - line_start + 1, len(text), len(text)))
    return tokens


# ---- parser ------------------------------------------------------------------------------

_COLUMN_STAT_RULES: dict[str, Callable[[str, NumberCondition, str | None], Rule]] = {
    "DistinctValuesCount": DistinctValuesCount,
    "Mean": Mean,
    "Sum": Sum,
    "StandardDeviation": StandardDeviation,
}
_RULE_TYPES = (
    "RowCount",
    "ColumnCount",
    "ColumnExists",
    "IsComplete",
    "Completeness",
    "IsUnique",
    "Uniqueness",
    "IsPrimaryKey",
    "ColumnValues",
    "ColumnLength",
    "ColumnDataType",
    "CustomSql",
    *_COLUMN_STAT_RULES,
)


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = _tokenize(text)
        self.pos = 0

    # -- token helpers
    @property
    def tok(self) -> _Token:
        return self.tokens[self.pos]

    def _advance(self) -> _Token:
        tok = self.tokens[self.pos]
        if tok.kind != "eof":
            self.pos += 1
        return tok

    def _error(self, expected: str, tok: _Token | None = None) -> DqdlSyntaxError:
        tok = tok or self.tok
        return DqdlSyntaxError(f"expected {expected}, found {tok.describe()}", tok.line, tok.column)

    def _is_word(self, word: str, tok: _Token | None = None) -> bool:
        tok = tok or self.tok
        return tok.kind == "ident" and tok.value.lower() == word

    def _is_op(self, op: str) -> bool:
        return self.tok.kind == "op" and self.tok.value == op

    def _is_punct(self, ch: str) -> bool:
        return self.tok.kind == "punct" and self.tok.value == ch

    def _expect_word(self, word: str, expected: str | None = None) -> _Token:
        if not self._is_word(word):
            raise self._error(expected or f"'{word}'")
        return self._advance()

    def _expect_punct(self, ch: str, expected: str | None = None) -> _Token:
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

    def _source(self, start: _Token) -> str:
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
        if name not in _RULE_TYPES:
            close = next((t for t in _RULE_TYPES if t.lower() == name.lower()), None)
            hint = f" (rule types are case-sensitive: did you mean {close!r}?)" if close else ""
            raise DqdlSyntaxError(
                f"unknown or unsupported rule type {name!r}{hint}; supported: {', '.join(_RULE_TYPES)}",
                start.line,
                start.column,
            )
        self._advance()
        rule = self._rule_body(name)
        return _with_text(rule, self._source(start))

    def _rule_body(self, name: str) -> Rule:
        if name in _COLUMN_STAT_RULES:
            col = self._expect_string("a column name")
            return _COLUMN_STAT_RULES[name](col, self._number_condition(), self._optional_where())
        return _RULE_BODIES[name](self)

    # One method per rule type; _RULE_BODIES maps the DQDL names to them.
    def _row_count(self) -> Rule:
        cond = self._number_condition()
        return RowCount(cond, self._optional_where())

    def _column_count(self) -> Rule:
        return ColumnCount(self._number_condition())

    def _column_exists(self) -> Rule:
        return ColumnExists(self._expect_string("a column name"))

    def _is_complete(self) -> Rule:
        col = self._expect_string("a column name")
        return IsComplete(col, self._optional_where())

    def _completeness(self) -> Rule:
        col = self._expect_string("a column name")
        return Completeness(col, self._number_condition(), self._optional_where())

    def _is_unique(self) -> Rule:
        col = self._expect_string("a column name")
        return IsUnique(col, self._optional_where())

    def _uniqueness(self) -> Rule:
        cols = self._columns()
        return Uniqueness(cols, self._number_condition(), self._optional_where())

    def _is_primary_key(self) -> Rule:
        cols = self._columns()
        return IsPrimaryKey(cols, self._optional_where())

    def _column_values(self) -> Rule:
        col = self._expect_string("a column name")
        cond = self._value_condition()
        where, threshold = self._where_and_threshold()
        return ColumnValues(col, cond, threshold, where)

    def _column_length(self) -> Rule:
        col = self._expect_string("a column name")
        cond = self._number_condition()
        where, threshold = self._where_and_threshold()
        return ColumnLength(col, cond, threshold, where)

    def _column_data_type(self) -> Rule:
        col = self._expect_string("a column name")
        cond = self._data_type_condition()
        where, threshold = self._where_and_threshold()
        return ColumnDataType(col, cond, threshold, where)

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
        if name not in DATA_TYPES and not _DECIMAL_RE.match(name):
            raise DqdlSyntaxError(
                f"unknown data type {name!r}; expected one of {', '.join(DATA_TYPES)} or DECIMAL(p,s)",
                tok.line,
                tok.column,
            )
        return StringCondition(cast(StringOp, op), (name,))


_RULE_BODIES: dict[str, Callable[[_Parser], Rule]] = {
    "RowCount": _Parser._row_count,
    "ColumnCount": _Parser._column_count,
    "ColumnExists": _Parser._column_exists,
    "IsComplete": _Parser._is_complete,
    "Completeness": _Parser._completeness,
    "IsUnique": _Parser._is_unique,
    "Uniqueness": _Parser._uniqueness,
    "IsPrimaryKey": _Parser._is_primary_key,
    "ColumnValues": _Parser._column_values,
    "ColumnLength": _Parser._column_length,
    "ColumnDataType": _Parser._column_data_type,
    "CustomSql": _Parser._custom_sql,
}


def _with_text(rule: Rule, text: str) -> Rule:
    return replace(rule, text=text)


def parse(text: str) -> Ruleset:
    """Parse a DQDL document; raise :class:`DqdlSyntaxError` naming line, column and what was expected."""
    return _Parser(text).parse()

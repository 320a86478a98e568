"""DQDL's syntax errors in words: lark's unexpected token or character, turned into the line,
the column and what the parser wanted there (from the terminals it accepts and the token
before), as the tests in tests/unit/test_dqdl_parser.py pin them."""

from __future__ import annotations

import re

from lark import Token

from outer_orchestrator.quality.dqdl_rules import RULE_TYPES, fmt_string

LITERAL = "expected a literal operand; expressions such as now() or avg(last(3)) are not supported"
OPERANDS = ("NUMBER", "STRING", "NULL", "KEYWORD")


class DqdlSyntaxError(ValueError):
    """A ruleset that is not valid DQDL (or not in the supported subset)."""

    def __init__(self, message: str, line: int, column: int) -> None:
        super().__init__(f"DQDL syntax error at line {line}, column {column}: {message}")
        self.message = message
        self.line = line
        self.column = column


def string_value(tok: Token) -> str:
    return re.sub(r'\\(["\\])', r"\1", tok[1:-1])


def error(message: str, tok: Token) -> DqdlSyntaxError:
    return DqdlSyntaxError(message, tok.line or 1, tok.column or 1)


def before(seen: list[Token], pos: int | None) -> list[Token]:
    """The tokens before ``pos`` (lark's contextual lexer may fail before yielding the one at it)."""
    return [t for t in seen if pos is None or (t.start_pos or 0) < pos]


def describe(tok: Token) -> str:
    if tok.type == "$END":
        return "end of input"
    if tok.type == "STRING":
        return f"string {fmt_string(string_value(tok))}"
    return f"{str(tok)!r}"


def unexpected(tok: Token, earlier: list[Token], accepts: set[str]) -> DqdlSyntaxError:
    operand_expected = earlier and earlier[-1].type in ("CMP", "BETWEEN", "AND", "IN")
    if tok.type == "LPAR" and (operand_expected or "CMP" in accepts):
        return error(LITERAL, tok)
    expected = what_was_expected(accepts, earlier, tok)
    hint = ""
    if tok.type == "LOGIC" and expected == "',' or ']' after a rule":
        hint = " (rules joined by 'and'/'or' must each be wrapped in parentheses)"
    return error(f"expected {expected}, found {describe(tok)}{hint}", tok)


def what_was_expected(accepts: set[str], earlier: list[Token], tok: Token | None) -> str:
    """What the parser wanted, from the terminals it accepts, the token before, and how many
    parentheses and brackets are open (LALR's lookahead sets merge those contexts)."""
    prev = earlier[-1] if earlier else None
    p = prev.type if prev is not None else None
    open_parens = sum({"LPAR": 1, "RPAR": -1}.get(t.type, 0) for t in earlier)
    in_list = sum({"LSQB": 1, "RSQB": -1}.get(t.type, 0) for t in earlier) > 1
    rule_type = next((t.type for t in reversed(earlier) if t.type in RULE_TYPES_BY_TERMINAL), None)
    takes_condition = rule_type not in ("COLUMN_EXISTS", "COLUMN_RULE", "COLUMNS_RULE")
    if prev is None:
        return "'Rules = [' at the start of the ruleset"
    if p == "RULES":
        return "'=' after 'Rules'"
    if p == "EQ":
        return "'[' to open the list of rules"
    if "ROW_COUNT" in accepts:
        if p == "LSQB" and tok is not None and tok.type == "RSQB":
            return "at least one rule"
        return "a rule type such as IsComplete or ColumnValues"
    if p == "LOGIC":
        return f"'(' to open the rule after '{prev.lower()}' (combined rules need parentheses)"
    after_word = {
        "CUSTOM_SQL": "a SQL statement as a double-quoted string",
        "WHERE": "a SQL condition after 'where' as a double-quoted string",
        "MATCHES": "a regular expression after 'matches' as a double-quoted string",
        "WITH": "'threshold' after 'with'",
        "BETWEEN": "a number after 'between'",
        "AND": "a number after 'and'",
        "IN": "'[' to open the list of values",
        "NOT": "'between', 'in' or 'matches' after 'not'",
    }
    if p in after_word:
        return after_word[p]
    if p in RULE_TYPES_BY_TERMINAL and "STRING" in accepts:  # CUSTOM_SQL: answered above
        return "a column name as a double-quoted string"
    if accepts == {"AND"}:
        return "'and' between the two bounds"
    if p == "CMP":
        if "STRING" in accepts and "NUMBER" in accepts and prev in ("=", "!="):
            return f"a number, string or NULL after '{prev}'"
        if "STRING" in accepts and "NUMBER" not in accepts:
            return 'a data type as a double-quoted string, such as "INTEGER"'
        return f"a number after '{prev}'"
    if "NUMBER" in accepts and "COMMA" not in accepts:
        return "a value in the list" if "STRING" in accepts else "a number in the list"
    if "CMP" in accepts and takes_condition:
        if "BETWEEN" not in accepts:
            return "'=' or '!=' followed by a data type such as \"INTEGER\""
        return "a condition such as '> 10', 'between 1 and 5' or 'in [1, 2]'"
    if accepts <= {"$END", "<END-OF-FILE>"}:
        return "end of input after the closing ']'"
    if in_list:
        return "',' or ']' in the list of values"
    return "')' to close the rule" if open_parens > 0 else "',' or ']' after a rule"


# The terminals that name rule types (a column name comes next for most).
RULE_TYPES_BY_TERMINAL = {
    "CUSTOM_SQL",
    "ROW_COUNT",
    "COLUMN_COUNT",
    "COLUMN_EXISTS",
    "COLUMN_RULE",
    "COLUMN_METRIC",
    "COLUMNS_METRIC",
    "COLUMNS_RULE",
    "COLUMN_VALUES",
    "COLUMN_LENGTH",
    "COLUMN_DATA_TYPE",
}


def unknown_rule(tok: Token) -> DqdlSyntaxError:
    close = next((t for t in RULE_TYPES if t.lower() == tok.lower()), None)
    hint = f" (rule types are case-sensitive: did you mean {close!r}?)" if close else ""
    return error(
        f"unknown or unsupported rule type {str(tok)!r}{hint}; supported: {', '.join(RULE_TYPES)}", tok
    )

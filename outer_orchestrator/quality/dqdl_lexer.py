"""DQDL's tokens: identifiers, double-quoted strings, numbers, operators and punctuation,
each with its line and column; ``#`` starts a comment that runs to the end of the line."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from outer_orchestrator.quality.dqdl_rules import fmt_string


class DqdlSyntaxError(ValueError):
    """A ruleset that is not valid DQDL (or not in the supported subset)."""

    def __init__(self, message: str, line: int, column: int) -> None:
        super().__init__(f"DQDL syntax error at line {line}, column {column}: {message}")
        self.message = message
        self.line = line
        self.column = column


# "other" is a character DQDL has no use for; the parser reports it where it meets it.
TokenKind = Literal["ident", "string", "number", "op", "punct", "other", "eof"]


@dataclass(frozen=True)
class Token:
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
            return f"string {fmt_string(self.value)}"
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


def _lex_token(text: str, i: int, line: int, col: int) -> Token:
    ch = text[i]
    if ch == '"':
        value, end = _lex_string(text, i, line, col)
        return Token("string", value, line, col, i, end)
    m = _NUMBER_RE.match(text, i)
    if m and (ch != "-" or m.end() > i + 1):
        return Token("number", m.group(), line, col, i, m.end())
    if m := _IDENT_RE.match(text, i):
        return Token("ident", m.group(), line, col, i, m.end())
    if op := next((o for o in _OPS if text.startswith(o, i)), None):
        return Token("op", op, line, col, i, i + len(op))
    if ch in _PUNCT:
        return Token("punct", ch, line, col, i, i + 1)
    return Token("other", ch, line, col, i, i + 1)


def tokenize(text: str) -> list[Token]:
    tokens: list[Token] = []
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
    tokens.append(Token("eof", "", line, i - line_start + 1, len(text), len(text)))
    return tokens

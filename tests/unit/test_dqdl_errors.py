"""DQDL syntax errors where lark's LALR tables alone would mislead: its lookahead sets merge
contexts (inside parentheses or not, inside a value list or not, a rule type that takes a
condition or not), so the message also reads the tokens before. Pure Python, no Spark.

What this proves: each message names what the parser wanted in that context, at the token
where it stopped. What it cannot prove: that every possible input gets the best wording (a
differential fuzz against the earlier hand-written parser found no input accepted or rejected
differently; see the commit that added this file).
"""

from __future__ import annotations

import pytest

from outer_orchestrator.quality.dqdl import DqdlSyntaxError, parse


@pytest.mark.parametrize(
    ("text", "column", "message"),
    [
        # inside parentheses a finished rule wants ')', not ',' or ']'
        ('Rules = [ (IsComplete "a" th) ]', 27, "expected ')' to close the rule, found 'th'"),
        # IsPrimaryKey takes no condition, although Uniqueness (same columns) does
        ('Rules = [ IsPrimaryKey "a" "b" wh ]', 32, "expected ',' or ']' after a rule, found 'wh'"),
        # inside a value list, 'and' is no rule joined without parentheses
        (
            'Rules = [ ColumnValues "a" in [1, 2 and 3] ]',
            37,
            "expected ',' or ']' in the list of values, found 'and'",
        ),
        # strings compare only with = and !=
        ('Rules = [ ColumnValues "a" >= "x" ]', 31, "expected a number after '>=', found string \"x\""),
        ("Rules = 1", 9, "expected '[' to open the list of rules, found '1'"),
        ('Rules = [ Mean "b" (1) ]', 20, "expressions such as now() or avg(last(3)) are not supported"),
    ],
)
def test_the_message_reads_the_context_the_tables_merge(text: str, column: int, message: str) -> None:
    # GIVEN a ruleset with one syntax error
    # WHEN it is parsed
    with pytest.raises(DqdlSyntaxError) as info:
        parse(text)
    # THEN the error points at the token and says what was wanted there
    assert (info.value.line, info.value.column) == (1, column), str(info.value)
    assert message in info.value.message, info.value.message
    assert "must each be wrapped in parentheses" not in info.value.message

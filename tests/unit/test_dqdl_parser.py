"""The DQDL parser: every supported rule type becomes its typed rule; bad input names the
line, the column and what was expected. Pure Python, no Spark."""

from __future__ import annotations

from pathlib import Path

import pytest

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
    DqdlSyntaxError,
    IsComplete,
    IsPrimaryKey,
    IsUnique,
    Keyword,
    Mean,
    NumberCondition,
    RowCount,
    Rule,
    StandardDeviation,
    StringCondition,
    Sum,
    Uniqueness,
    parse,
)

RULESET = Path(__file__).parents[2] / "outer_orchestrator" / "quality" / "transactions.dqdl"


def one(rule_text: str) -> Rule:
    ruleset = parse(f"Rules = [ {rule_text} ]")
    assert len(ruleset.rules) == 1
    return ruleset.rules[0]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("RowCount > 100", RowCount(NumberCondition(">", (100.0,)))),
        ("RowCount between 10 and 20", RowCount(NumberCondition("between", (10.0, 20.0)))),
        ('RowCount >= 5 where "a > 1"', RowCount(NumberCondition(">=", (5.0,)), where="a > 1")),
        ("ColumnCount = 10", ColumnCount(NumberCondition("=", (10.0,)))),
        ('ColumnExists "id"', ColumnExists("id")),
        ('IsComplete "id"', IsComplete("id")),
        ('IsComplete "id" where "country = \'DE\'"', IsComplete("id", where="country = 'DE'")),
        ('Completeness "email" > 0.95', Completeness("email", NumberCondition(">", (0.95,)))),
        ('IsUnique "id"', IsUnique("id")),
        ('Uniqueness "id" >= 0.99', Uniqueness(("id",), NumberCondition(">=", (0.99,)))),
        ('Uniqueness "a" "b" = 1.0', Uniqueness(("a", "b"), NumberCondition("=", (1.0,)))),
        ('IsPrimaryKey "id"', IsPrimaryKey(("id",))),
        ('IsPrimaryKey "a" "b"', IsPrimaryKey(("a", "b"))),
        ('DistinctValuesCount "c" > 3', DistinctValuesCount("c", NumberCondition(">", (3.0,)))),
        ('Mean "x" between -1.5 and 2e3', Mean("x", NumberCondition("between", (-1.5, 2000.0)))),
        ('Sum "x" <= 10', Sum("x", NumberCondition("<=", (10.0,)))),
        ('StandardDeviation "x" < 2.5', StandardDeviation("x", NumberCondition("<", (2.5,)))),
        ('ColumnLength "zip" = 5', ColumnLength("zip", NumberCondition("=", (5.0,)))),
        (
            'ColumnLength "zip" in [5, 9] with threshold > 0.9',
            ColumnLength("zip", NumberCondition("in", (5.0, 9.0)), NumberCondition(">", (0.9,))),
        ),
        ('ColumnDataType "a" = "integer"', ColumnDataType("a", StringCondition("=", ("INTEGER",)))),
        (
            'ColumnDataType "a" != "DECIMAL(10,2)" with threshold >= 0.9',
            ColumnDataType("a", StringCondition("!=", ("DECIMAL(10,2)",)), NumberCondition(">=", (0.9,))),
        ),
        (
            'CustomSql "select count(*) from primary" > 10',
            CustomSql("select count(*) from primary", NumberCondition(">", (10.0,))),
        ),
        ('CustomSql "select id from primary where x > 0"', CustomSql("select id from primary where x > 0")),
        (
            'CustomSql "select id from primary" with threshold > 0.5',
            CustomSql("select id from primary", threshold=NumberCondition(">", (0.5,))),
        ),
    ],
)
def test_every_rule_type_parses_to_its_typed_rule(text: str, expected: Rule) -> None:
    # GIVEN one rule WHEN parsed THEN it is the typed rule, and it remembers how it was written
    rule = one(text)
    assert rule == expected
    assert rule.text == text


@pytest.mark.parametrize(
    ("text", "condition"),
    [
        ('"x" > 0', NumberCondition(">", (0.0,))),
        ('"x" >= 0', NumberCondition(">=", (0.0,))),
        ('"x" < 0', NumberCondition("<", (0.0,))),
        ('"x" <= 0', NumberCondition("<=", (0.0,))),
        ('"x" = 3', NumberCondition("=", (3.0,))),
        ('"x" != 3', NumberCondition("!=", (3.0,))),
        ('"x" = NULL', NumberCondition("=", (None,))),
        ('"x" != null', NumberCondition("!=", (None,))),
        ('"x" between 0 and 23', NumberCondition("between", (0.0, 23.0))),
        ('"x" NOT BETWEEN 0 and 23', NumberCondition("not between", (0.0, 23.0))),
        ('"x" in [0, 1]', NumberCondition("in", (0.0, 1.0))),
        ('"x" not in [0, 1, NULL]', NumberCondition("not in", (0.0, 1.0, None))),
        ('"x" in [NULL]', NumberCondition("in", (None,))),
        ('"c" = "a"', StringCondition("=", ("a",))),
        ('"c" != "a"', StringCondition("!=", ("a",))),
        ('"c" in ["a", "b"]', StringCondition("in", ("a", "b"))),
        (
            '"c" in ["US", NULL, EMPTY, WHITESPACES_ONLY]',
            StringCondition("in", ("US", Keyword.NULL, Keyword.EMPTY, Keyword.WHITESPACES_ONLY)),
        ),
        ('"c" not in ["a"]', StringCondition("not in", ("a",))),
        ('"c" = EMPTY', StringCondition("=", (Keyword.EMPTY,))),
        ('"c" matches "[a-z]+\\d*"', StringCondition("matches", ("[a-z]+\\d*",))),
        ('"c" not matches "x\\"y"', StringCondition("not matches", ('x"y',))),
    ],
)
def test_column_values_conditions(text: str, condition: NumberCondition | StringCondition) -> None:
    rule = one(f"ColumnValues {text}")
    assert isinstance(rule, ColumnValues)
    assert rule.condition == condition


def test_threshold_and_where_in_either_order() -> None:
    a = one('ColumnValues "x" > 0 with threshold > 0.9 where "y = 1"')
    b = one('ColumnValues "x" > 0 where "y = 1" with threshold > 0.9')
    assert a == b == ColumnValues("x", NumberCondition(">", (0.0,)), NumberCondition(">", (0.9,)), "y = 1")


def test_composites_nest_with_parentheses() -> None:
    rule = one('(RowCount > 0) or ((IsComplete "a") and (IsUnique "a") and (Mean "m" > 1))')
    assert isinstance(rule, Composite)
    assert rule.operator == "or"
    inner = rule.rules[1]
    assert isinstance(inner, Composite)
    assert inner.operator == "and"
    assert [type(r) for r in inner.rules] == [IsComplete, IsUnique, Mean]
    assert inner.rules[0].text == 'IsComplete "a"'
    # A single parenthesised rule is just that rule.
    assert one('(IsComplete "a")') == IsComplete("a")


def test_comments_keywords_and_layout() -> None:
    ruleset = parse(
        """
        # leading comment
        Rules = [
            RowCount > 1,   # trailing comment with "quotes" and [brackets]
            IsComplete "a"  # last rule
        ]
        # after
        """
    )
    assert ruleset.rules == (RowCount(NumberCondition(">", (1.0,))), IsComplete("a"))
    # Keywords are case-insensitive; rule types are not.
    assert one('ColumnValues "x" BETWEEN 1 AND 2') == one('ColumnValues "x" between 1 and 2')


def test_metric_conditions_evaluate_like_dqdl() -> None:
    between = NumberCondition("between", (0.0, 10.0))
    assert between.holds(5) and not between.holds(0) and not between.holds(10)  # exclusive
    assert NumberCondition("not between", (0.0, 10.0)).holds(10)
    assert NumberCondition("in", (1.0, 2.0)).holds(2) and not NumberCondition("in", (1.0,)).holds(3)
    assert NumberCondition("!=", (1.0,)).holds(2) and NumberCondition(">=", (1.0,)).holds(1)
    assert str(NumberCondition("in", (1.0, 2.5, None))) == "in [1, 2.5, NULL]"


def test_the_projects_ruleset_parses() -> None:
    ruleset = parse(RULESET.read_text())
    texts = [r.text for r in ruleset.rules]
    assert "RowCount > 100" in texts
    assert 'IsPrimaryKey "transaction_id"' in texts
    assert {type(r) for r in ruleset.rules} >= {RowCount, IsComplete, IsPrimaryKey, ColumnValues, CustomSql}


@pytest.mark.parametrize(
    ("text", "line", "column", "fragment"),
    [
        ("Rulez = [ RowCount > 1 ]", 1, 1, "expected 'Rules = ['"),
        ("Rules [ RowCount > 1 ]", 1, 7, "expected '=' after 'Rules'"),
        ("Rules = [ ]", 1, 11, "expected at least one rule"),
        ("Rules = [\n  RowCount > 1,\n  IsComplete\n]", 4, 1, "expected a column name"),
        ("Rules = [\n  RowCount >\n]", 3, 1, "expected a number after '>'"),
        ('Rules = [ RowCount > 1 IsComplete "a" ]', 1, 24, "expected ',' or ']'"),
        ("Rules = [ RowCount > 1, ]", 1, 25, "expected a rule type"),
        ('Rules = [ iscomplete "a" ]', 1, 11, "did you mean 'IsComplete'"),
        ('Rules = [ Entropy "a" > 1 ]', 1, 11, "unsupported rule type 'Entropy'"),
        ('Rules = [ ColumnValues "a" between 1 or 2 ]', 1, 38, "expected 'and' between the two bounds"),
        ('Rules = [ ColumnValues "a" in [1, "x"] ]', 1, 35, "cannot mix numbers and strings"),
        ('Rules = [ ColumnValues "a" > "x" ]', 1, 30, "expected a number after '>'"),
        ('Rules = [ ColumnValues "a" matches "(" ]', 1, 36, "invalid regular expression"),
        ('Rules = [ Completeness "a" > 0.5 with threshold > 0.1 ]', 1, 34, "expected ',' or ']'"),
        ("Rules = [ RowCount > avg(last(3)) ]", 1, 22, "expected a number after '>'"),
        ('Rules = [ ColumnValues "d" > (now() - 3 days) ]', 1, 30, "expressions such as now()"),
        ('Rules = [ IsComplete "a" and IsUnique "a" ]', 1, 26, "must each be wrapped in parentheses"),
        ('Rules = [ (IsComplete "a") and IsUnique "a" ]', 1, 32, "expected '(' to open the rule after 'and'"),
        (
            'Rules = [ (IsComplete "a") and (IsUnique "a") or (RowCount > 1) ]',
            1,
            47,
            "cannot mix 'and' and 'or'",
        ),
        ('Rules = [ (IsComplete "a" ]', 1, 27, "expected ')' to close the rule"),
        ('Rules = [ IsComplete "a ]', 1, 22, "unterminated string"),
        ("Rules = [ RowCount > 1 ] extra", 1, 26, "expected end of input"),
        ('Rules = [ ColumnDataType "a" = "TEXT" ]', 1, 32, "unknown data type 'TEXT'"),
        ('Rules = [ ColumnDataType "a" > "INTEGER" ]', 1, 30, "expected '=' or '!='"),
        ('Rules = [ CustomSql "select 1" > 1 with threshold > 0.5 ]', 1, 36, "takes no threshold"),
        ('Rules = [ IsComplete "a" where "" ]', 1, 32, "the 'where' condition is empty"),
        ("Rules = [ RowCount > 1 ; ]", 1, 24, "found character ';'"),
    ],
)
def test_syntax_errors_name_line_column_and_what_was_expected(
    text: str, line: int, column: int, fragment: str
) -> None:
    with pytest.raises(DqdlSyntaxError) as info:
        parse(text)
    err = info.value
    assert (err.line, err.column) == (line, column), str(err)
    assert fragment in str(err)
    assert str(err).startswith(f"DQDL syntax error at line {line}, column {column}: ")

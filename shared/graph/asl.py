"""Reads an ASL document (the outer loop) into a graph: states; Next, Default, Choices and Catch edges."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from shared.graph.model import Edge, Graph, Node

_OPERATORS = {
    "Equals": "=",
    "LessThan": "<",
    "GreaterThan": ">",
    "LessThanEquals": "≤",
    "GreaterThanEquals": "≥",
    "Matches": "matches",
}
_TESTS = {"IsPresent": "present", "IsNull": "null", "IsNumeric": "numeric", "IsString": "a string"}
_TESTS |= {"IsBoolean": "a boolean", "IsTimestamp": "a timestamp"}
LABEL_CHARS = 34


def _short(text: str, limit: int = LABEL_CHARS) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _path_tail(path: Any) -> str:
    return str(path).removeprefix("$.").removeprefix("$").rsplit(".", 1)[-1] or "$"


def rule_label(rule: Mapping[str, Any]) -> str:
    """A Choice rule in a few words: ``passed = true``, ``raw_uri present and 3 more``."""
    if rule.get("Comment"):
        return str(rule["Comment"])
    for key, joiner in (("And", " and "), ("Or", " or ")):
        if key in rule:
            parts = [rule_label(r) for r in rule[key]]
            return f"{parts[0]}{joiner}{len(parts) - 1} more" if len(parts) > 2 else joiner.join(parts)
    if "Not" in rule:
        return f"not ({rule_label(rule['Not'])})"
    if "Condition" in rule:  # JSONata
        return str(rule["Condition"]).strip("{%} ")
    variable = _path_tail(rule.get("Variable", "$"))
    for key, value in rule.items():
        if key in _TESTS:
            return f"{variable} {'' if value else 'not '}{_TESTS[key]}"
        for suffix, symbol in _OPERATORS.items():
            for kind in ("String", "Numeric", "Boolean", "Timestamp"):
                if key == f"{kind}{suffix}":
                    return f"{variable} {symbol} {_json_value(value)}"
                if key == f"{kind}{suffix}Path":
                    return f"{variable} {symbol} {_path_tail(value)}"
    return variable


def _json_value(value: Any) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def _error_label(errors: Sequence[str]) -> str:
    """``DynamoDB.ConditionalCheckFailedException`` reads as ``ConditionalCheckFailed``; the
    catch-all is left unlabelled (the dashed line says "on error")."""
    names = [e.rsplit(".", 1)[-1].removesuffix("Exception") for e in errors if e != "States.ALL"]
    return ", ".join(names)


def _resource_detail(resource: str) -> str:
    action = resource.removeprefix("arn:aws:states:::").removeprefix("aws-sdk:")
    if action.endswith(".waitForTaskToken"):
        return action.removesuffix(".waitForTaskToken") + " (callback)"
    if resource.startswith("arn:aws:lambda:"):
        return "lambda"
    return action


def asl_graph(asl: Mapping[str, Any], title: str = "Outer loop · Step Functions") -> Graph:
    """The top-level states of an ASL document and their transitions.

    One edge per Next, per Choice rule, per Default and per Catch (dashed); two transitions
    between the same states stay two edges. Branches inside Parallel/Map states are not drawn.
    """
    states: Mapping[str, Mapping[str, Any]] = asl["States"]
    nodes: list[Node] = []
    edges: list[Edge] = []
    for name, state in states.items():
        kind = str(state.get("Type", "?"))
        detail = _resource_detail(str(state["Resource"])) if kind == "Task" and "Resource" in state else kind
        nodes.append(Node(name, kind, detail, terminal=kind in ("Succeed", "Fail")))
        for rule in state.get("Choices", []):
            edges.append(Edge(name, rule["Next"], _short(rule_label(rule))))
        if "Default" in state:
            edges.append(Edge(name, state["Default"], "default"))
        if "Next" in state:
            edges.append(Edge(name, state["Next"]))
        for catch in state.get("Catch", []):
            edges.append(Edge(name, catch["Next"], _short(_error_label(catch["ErrorEquals"])), dashed=True))
    unknown = sorted({e.target for e in edges} - set(states))
    if unknown:
        raise ValueError(f"transitions to unknown state(s): {', '.join(unknown)}")
    return Graph(title, tuple(nodes), tuple(edges), start=asl.get("StartAt"))

"""Resolve the expressions of a pipeline definition (schema 2020-12-01) to plain JSON values.

What a definition may hold in place of a literal:

- ``{"Get": "Parameters.<name>"}``: the execution's parameter, typed as declared;
- ``{"Get": "Execution.<variable>"}``: PipelineName, PipelineArn, PipelineExecutionId,
  PipelineExecutionArn, StartDateTime, CurrentDateTime, and, inside a job step,
  ProcessingJobName / TrainingJobName;
- ``{"Get": "PipelineExperimentConfig.ExperimentName|TrialName"}``;
- ``{"Get": "Steps.<step>.<property path>"}``: a field of the step's Describe* response,
  e.g. ``ProcessingOutputConfig.Outputs['train'].S3Output.S3Uri``; ``['x']`` on a list picks
  the element whose ``*Name`` field is ``x`` (OutputName, ChannelName, MetricName, ...);
- ``{"Std:Join": {"On": ..., "Values": [...]}}`` and
  ``{"Std:JsonGet": {"PropertyFile": {"Get": "Steps.<step>.PropertyFiles.<name>"} | "S3Uri": ...,
  "Path": ...}}`` (the path is JMESPath, as SageMaker's; a leading ``$.`` is accepted).

Conditions: ``Equals``, ``GreaterThan``, ``GreaterThanOrEqualTo``, ``LessThan``,
``LessThanOrEqualTo`` (LeftValue/RightValue), ``In`` (QueryValue/Values), ``Not``
(Condition) and ``Or`` (Conditions). A ConditionStep's list of conditions is their AND.

Anything else (an unknown ``Std:`` function, ``Get`` root, condition type) is an
``ExpressionError`` that names it, never a silent literal.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import jmespath

from shared.local_cloud.sagemaker.errors import DefinitionError, ExpressionError
from shared.pipeline_graph import STEP_PATH

FUNCTIONS = ("Std:Join", "Std:JsonGet")
COMPARISONS = ("Equals", "GreaterThan", "GreaterThanOrEqualTo", "LessThan", "LessThanOrEqualTo")
CONDITION_TYPES = (*COMPARISONS, "In", "Not", "Or")
PARAMETER_TYPES = ("String", "Integer", "Float", "Boolean")

_PATH_TOKEN = re.compile(
    r"\.(?P<attr>[A-Za-z0-9_:-]+)|\[\s*'(?P<sq>[^']*)'\s*\]|\[\s*\"(?P<dq>[^\"]*)\"\s*\]|\[\s*(?P<idx>\d+)\s*\]"
)

PathToken = str | int


# ---- pure helpers ---------------------------------------------------------------------------------


def parse_step_path(path: str) -> tuple[str, list[PathToken]]:
    """``Steps.A.Outputs['x'].S3Uri`` -> ``("A", ["Outputs", "x", "S3Uri"])``; names stay strings,
    ``[0]`` becomes an int. Raises ExpressionError on anything it cannot tokenize."""
    match = STEP_PATH.match(path)
    if match is None:
        raise ExpressionError(f"not a step property reference: {path!r}")
    rest: str = match["rest"]
    tokens: list[PathToken] = []
    pos = 0
    while pos < len(rest):
        token = _PATH_TOKEN.match(rest, pos)
        if token is None:
            raise ExpressionError(f"cannot parse property path {path!r} at {rest[pos:]!r}")
        if token["idx"] is not None:
            tokens.append(int(token["idx"]))
        else:
            tokens.append(str(next(v for v in (token["attr"], token["sq"], token["dq"]) if v is not None)))
        pos = token.end()
    return str(match["step"]), tokens


def get_path(document: Any, tokens: Sequence[PathToken], *, what: str) -> Any:
    """Walk ``tokens`` into a Describe*-shaped document; a missing field is an ExpressionError."""
    current = document
    for i, token in enumerate(tokens):
        here = f"{what}.{'.'.join(str(t) for t in tokens[: i + 1])}"
        if isinstance(token, int):
            if not isinstance(current, list) or token >= len(current):
                raise ExpressionError(f"{here}: no element {token}")
            current = current[token]
        elif isinstance(current, Mapping):
            if token not in current:
                raise ExpressionError(f"{here}: no such property")
            current = current[token]
        elif isinstance(current, list):
            # SageMaker's Properties lists are keyed by their name field.
            named = [
                item
                for item in current
                if isinstance(item, Mapping)
                and any(k.endswith("Name") and v == token for k, v in item.items())
            ]
            if not named:
                raise ExpressionError(f"{here}: no element named {token!r}")
            current = named[0]
        else:
            raise ExpressionError(f"{here}: cannot index a {type(current).__name__}")
    return current


def to_text(value: Any) -> str:
    """How ``Std:Join`` renders a value: strings as they are, anything else as JSON (0.8, true)."""
    return value if isinstance(value, str) else json.dumps(value)


def coerce_parameters(declared: Sequence[Mapping[str, Any]], provided: Mapping[str, str]) -> dict[str, Any]:
    """The execution's typed parameter values: provided (strings, as the API takes them) or default."""
    values: dict[str, Any] = {}
    names = set()
    for spec in declared:
        name, kind = str(spec["Name"]), str(spec.get("Type", "String"))
        names.add(name)
        if kind not in PARAMETER_TYPES:
            raise DefinitionError(f"parameter {name!r} has unknown type {kind!r}")
        if name in provided:
            raw: Any = provided[name]
        elif "DefaultValue" in spec:
            raw = spec["DefaultValue"]
        else:
            raise DefinitionError(f"parameter {name!r} has no default value and none was provided")
        values[name] = _typed(name, kind, raw)
        enum = spec.get("EnumValues")
        if enum and values[name] not in enum:
            raise DefinitionError(f"parameter {name!r} = {values[name]!r} is not one of {enum}")
    unknown = sorted(set(provided) - names)
    if unknown:
        raise DefinitionError(f"parameter(s) {', '.join(unknown)} not defined in the pipeline")
    return values


def _typed(name: str, kind: str, raw: Any) -> Any:
    try:
        if kind == "String":
            return raw if isinstance(raw, str) else to_text(raw)
        if kind == "Integer":
            if isinstance(raw, bool) or (isinstance(raw, float) and not raw.is_integer()):
                raise ValueError(raw)
            return int(raw)
        if kind == "Float":
            if isinstance(raw, bool):
                raise ValueError(raw)
            return float(raw)
        if isinstance(raw, bool):
            return raw
        if str(raw).lower() in ("true", "false"):
            return str(raw).lower() == "true"
        raise ValueError(raw)
    except (TypeError, ValueError):
        raise DefinitionError(f"parameter {name!r} of type {kind} cannot take the value {raw!r}") from None


def _iso(t: datetime) -> str:
    return (t if t.tzinfo else t.replace(tzinfo=UTC)).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


def compare(kind: str, left: Any, right: Any) -> bool:
    """One comparison condition. Numbers compare numerically (also a number against a numeric
    string, as a JsonGet value against a parameter); strings compare as strings."""
    numeric = isinstance(left, int | float) or isinstance(right, int | float)
    a, b = (_number(left), _number(right)) if numeric else (None, None)
    if a is not None and b is not None:
        lhs: Any = a
        rhs: Any = b
    elif kind == "Equals":
        return bool(left == right)
    elif isinstance(left, str) and isinstance(right, str):
        lhs, rhs = left, right
    else:
        raise ExpressionError(f"{kind} cannot compare {left!r} with {right!r}")
    if kind == "Equals":
        return bool(lhs == rhs)
    if kind == "GreaterThan":
        return bool(lhs > rhs)
    if kind == "GreaterThanOrEqualTo":
        return bool(lhs >= rhs)
    if kind == "LessThan":
        return bool(lhs < rhs)
    if kind == "LessThanOrEqualTo":
        return bool(lhs <= rhs)
    raise ExpressionError(f"unknown comparison {kind!r}")


# ---- the resolver ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class ExecutionVariables:
    pipeline_name: str
    pipeline_arn: str
    execution_arn: str
    start_time: datetime

    @property
    def execution_id(self) -> str:
        return self.execution_arn.rsplit("/", 1)[-1]


StepProperties = Callable[[str], Mapping[str, Any]]
PropertyFileReader = Callable[[str, str], Any]
JsonReader = Callable[[str], Any]


@dataclass(frozen=True)
class Resolver:
    """Resolves definition fragments against one execution's state.

    ``step_properties(name)`` returns the Describe*-shaped properties of a step that has
    succeeded (KeyError otherwise); ``property_file(step, name)`` the parsed JSON of a
    step's property file; ``read_json(s3_uri)`` the parsed JSON object at an S3 URI.
    """

    parameters: Mapping[str, Any]
    execution: ExecutionVariables
    step_properties: StepProperties
    property_file: PropertyFileReader
    read_json: JsonReader
    experiment_config: Mapping[str, Any] | None = None
    now: Callable[[], datetime] = lambda: datetime.now(UTC)

    def resolve(self, value: Any, *, job_name: str | None = None) -> Any:
        """``value`` with every expression replaced by its value (the input is not changed)."""
        if isinstance(value, Mapping):
            if len(value) == 1:
                ((key, arg),) = value.items()
                if key == "Get":
                    return self._get(arg, job_name)
                if key.startswith("Std:"):
                    return self._function(key, arg, job_name)
            return {k: self.resolve(v, job_name=job_name) for k, v in value.items()}
        if isinstance(value, list):
            return [self.resolve(v, job_name=job_name) for v in value]
        return value

    def evaluate(self, condition: Mapping[str, Any]) -> bool:
        kind = condition.get("Type")
        if kind in COMPARISONS:
            return compare(
                str(kind), self.resolve(condition.get("LeftValue")), self.resolve(condition.get("RightValue"))
            )
        if kind == "In":
            query = self.resolve(condition.get("QueryValue"))
            return any(compare("Equals", query, self.resolve(v)) for v in condition.get("Values") or [])
        if kind == "Not":
            return not self.evaluate(condition["Condition"])
        if kind == "Or":
            return any(self.evaluate(c) for c in condition.get("Conditions") or [])
        raise ExpressionError(f"unknown condition type {kind!r} (supported: {', '.join(CONDITION_TYPES)})")

    def evaluate_all(self, conditions: Sequence[Mapping[str, Any]]) -> bool:
        return all(self.evaluate(c) for c in conditions)

    # ---- internals --------------------------------------------------------------------------------
    def _get(self, path: Any, job_name: str | None) -> Any:
        if not isinstance(path, str):
            raise ExpressionError(f"Get takes a string path, not {path!r}")
        root, _, rest = path.partition(".")
        if root == "Parameters":
            if rest not in self.parameters:
                raise ExpressionError(f"{path}: no such pipeline parameter")
            return self.parameters[rest]
        if root == "Execution":
            return self._execution_variable(rest, job_name)
        if root == "PipelineExperimentConfig":
            defaults = {
                "ExperimentName": self.execution.pipeline_name,
                "TrialName": self.execution.execution_id,
            }
            if rest not in defaults:
                raise ExpressionError(f"{path}: unknown PipelineExperimentConfig property")
            configured = (self.experiment_config or {}).get(rest)
            return defaults[rest] if configured is None else self.resolve(configured, job_name=job_name)
        if root == "Steps":
            step, tokens = parse_step_path(path)
            if tokens[:1] == ["PropertyFiles"]:
                raise ExpressionError(f"{path}: a property file can only be read through Std:JsonGet")
            try:
                properties = self.step_properties(step)
            except KeyError:
                raise ExpressionError(f"{path}: step {step!r} has not succeeded in this execution") from None
            return get_path(properties, tokens, what=f"Steps.{step}")
        raise ExpressionError(
            f"{path}: unknown Get root {root!r} (Parameters, Execution, Steps, PipelineExperimentConfig)"
        )

    def _execution_variable(self, name: str, job_name: str | None) -> Any:
        e = self.execution
        fixed = {
            "PipelineName": e.pipeline_name,
            "PipelineArn": e.pipeline_arn,
            "PipelineExecutionId": e.execution_id,
            "PipelineExecutionArn": e.execution_arn,
            "StartDateTime": _iso(e.start_time),
        }
        if name in fixed:
            return fixed[name]
        if name == "CurrentDateTime":
            return _iso(self.now())
        if name in ("ProcessingJobName", "TrainingJobName"):
            if job_name is None:
                raise ExpressionError(f"Execution.{name} is only defined inside a job step")
            return job_name
        raise ExpressionError(f"Execution.{name}: unknown execution variable")

    def _function(self, name: str, arg: Any, job_name: str | None) -> Any:
        if not isinstance(arg, Mapping):
            raise ExpressionError(f"{name} takes an object, not {arg!r}")
        if name == "Std:Join":
            on = self.resolve(arg.get("On", ""), job_name=job_name)
            values = self.resolve(arg.get("Values", []), job_name=job_name)
            if not isinstance(values, list):
                raise ExpressionError(f"Std:Join Values must be a list, not {values!r}")
            return to_text(on).join(to_text(v) for v in values)
        if name == "Std:JsonGet":
            return self._json_get(arg, job_name)
        raise ExpressionError(f"unknown function {name!r} (supported: {', '.join(FUNCTIONS)})")

    def _json_get(self, arg: Mapping[str, Any], job_name: str | None) -> Any:
        path = arg.get("Path")
        if not isinstance(path, str) or not path:
            raise ExpressionError(f"Std:JsonGet needs a Path, got {path!r}")
        if "PropertyFile" in arg:
            ref = arg["PropertyFile"]
            get = ref.get("Get") if isinstance(ref, Mapping) else None
            step, tokens = parse_step_path(get) if isinstance(get, str) else ("", [])
            if len(tokens) != 2 or tokens[0] != "PropertyFiles":
                raise ExpressionError(
                    f"Std:JsonGet PropertyFile must be Steps.<step>.PropertyFiles.<name>, got {ref!r}"
                )
            source = f"property file {tokens[1]} of step {step}"
            document = self.property_file(step, str(tokens[1]))
        elif "S3Uri" in arg:
            uri = self.resolve(arg["S3Uri"], job_name=job_name)
            source = str(uri)
            document = self.read_json(str(uri))
        else:
            raise ExpressionError("Std:JsonGet needs a PropertyFile or an S3Uri")
        expression = path[2:] if path.startswith("$.") else path
        try:
            value = jmespath.search(expression, document)
        except jmespath.exceptions.JMESPathError as exc:
            raise ExpressionError(f"Std:JsonGet: bad path {path!r}: {exc}") from None
        if value is None:
            raise ExpressionError(f"Std:JsonGet: path {path!r} not found in {source}")
        return value

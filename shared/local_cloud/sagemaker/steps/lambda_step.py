"""Lambda steps: invoke the function through the Lambda API (the local cloud runs its handler).

As SageMaker runs a ``LambdaStep`` (developer guide, "Lambda step"): the resolved
``Arguments`` are the event, the function is invoked synchronously, and the JSON object it
returns gives the step's ``OutputParameters`` (read as ``Steps.X.OutputParameters['name']``,
each cast to its declared ``OutputType``). A function error, a response that is not a JSON
object, or a declared output the function did not return fails the step with that message.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from shared.local_cloud.sagemaker.errors import StepFailure
from shared.local_cloud.sagemaker.steps.base import (
    ResolvesArguments,
    StepContext,
    StepOutcome,
    client_and_target,
)
from shared.local_cloud.sagemaker.steps.model import call

OUTPUT_TYPES = ("String", "Integer", "Boolean", "Float")


def typed_outputs(
    declared: Sequence[Mapping[str, Any]], returned: Mapping[str, Any], *, source: str
) -> dict[str, Any]:
    """The declared outputs from ``returned``, each cast to its OutputType."""
    out: dict[str, Any] = {}
    for item in declared:
        name = str(item.get("OutputName"))
        kind = str(item.get("OutputType") or "String")
        if kind not in OUTPUT_TYPES:
            raise StepFailure(
                f"ClientError: output {name!r}: OutputType {kind!r} is not one of {OUTPUT_TYPES}"
            )
        if name not in returned:
            raise StepFailure(
                f"ClientError: {source} did not return the output parameter {name!r} "
                f"(returned: {sorted(returned) or 'none'})"
            )
        out[name] = _cast(name, kind, returned[name])
    return out


def _cast(name: str, kind: str, value: Any) -> Any:
    try:
        if kind == "Integer":
            return int(value)
        if kind == "Float":
            return float(value)
        if kind == "Boolean":
            if isinstance(value, str):
                if value.lower() not in ("true", "false"):
                    raise ValueError(value)
                return value.lower() == "true"
            return bool(value)
    except (TypeError, ValueError):
        raise StepFailure(f"ClientError: output {name!r}: {value!r} is not a {kind}") from None
    return value if isinstance(value, str) else json.dumps(value)


def output_list(outputs: Mapping[str, Any]) -> list[dict[str, str]]:
    """``OutputParameters`` as step metadata shows them (Name/Value strings)."""
    return [{"Name": k, "Value": v if isinstance(v, str) else json.dumps(v)} for k, v in outputs.items()]


class LambdaExecutor(ResolvesArguments):
    step_type: ClassVar[str] = "Lambda"

    def run(self, ctx: StepContext) -> StepOutcome:
        client, function_arn = client_and_target(ctx, ctx.services.lambda_client, "Lambda", "a FunctionArn")
        response = call(
            "Invoke",
            client.invoke,
            FunctionName=function_arn,
            InvocationType="RequestResponse",
            Payload=json.dumps(dict(ctx.arguments)).encode(),
        )
        body = response["Payload"].read().decode() if "Payload" in response else ""
        metadata: dict[str, Any] = {"Lambda": {"Arn": function_arn}}
        if response.get("FunctionError"):
            try:
                error = json.loads(body)
                message = f"{error.get('errorType', 'Error')}: {error.get('errorMessage', '')}"
            except (json.JSONDecodeError, AttributeError):
                message = body[:512]
            raise StepFailure(
                f"ClientError: Lambda function {function_arn} failed: {message}", metadata=metadata
            )
        try:
            returned = json.loads(body) if body else {}
        except json.JSONDecodeError:
            returned = None
        if not isinstance(returned, Mapping):
            raise StepFailure(
                f"ClientError: Lambda function {function_arn} must return a JSON object, returned {body[:200]!r}",
                metadata=metadata,
            )
        outputs = typed_outputs(
            ctx.node.spec.get("OutputParameters") or [], returned, source=f"Lambda function {function_arn}"
        )
        metadata["Lambda"]["OutputParameters"] = output_list(outputs)
        return StepOutcome(properties={"OutputParameters": outputs}, metadata=metadata)

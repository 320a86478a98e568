"""Every error name a Retry or Catch of the outer loop waits for is one its task can raise.

Step Functions names an integration's errors ``<Service>.<Name>Exception`` after the
operation's modeled errors (botocore's service model here); errors a service does not model
(throttling, validation, internal errors) arrive as ``<Service>.<Service>Exception`` for
``aws-sdk:*`` tasks (AWS_FACTS.md; docs.aws.amazon.com/step-functions/latest/dg/supported-services-awssdk.html).
A name nothing can raise is a Retry that never retries: ``SageMaker.ResourceLimitExceeded``
(without ``Exception``) or ``SageMaker.ThrottlingException`` (unmodeled) were such names.
"""

from __future__ import annotations

import botocore.session

from outer_orchestrator.statemachine.definition import outer_loop_document

_SERVICES = {
    "SageMaker": "sagemaker",
    "S3": "s3",
    "DynamoDB": "dynamodb",
    "Glue": "glue",
    "SNS": "sns",
    "Lambda": "lambda",
}
# Lambda's transient service errors, as AWS's "Handle transient Lambda service exceptions" names them.
_LAMBDA_TRANSIENT = {"Lambda.ServiceException", "Lambda.AWSLambdaException", "Lambda.SdkClientException"}
# Errors the project's own Lambda functions raise or send (SendTaskFailure / errorType).
_OWN = {"ModelRejected", "PipelineStartThrottled"}


def _operation(resource: str) -> tuple[str, list[str]]:
    """(botocore service, operations) a Task's Resource calls."""
    integration = resource.removeprefix("arn:aws:states:::").removesuffix(".waitForTaskToken")
    if integration.startswith("aws-sdk:"):
        _, service, action = integration.split(":")
        return service, [action[0].upper() + action[1:]]
    service, action = integration.split(":")
    ops = [action.removesuffix(".sync")[0].upper() + action.removesuffix(".sync")[1:]]
    if service == "glue" and action.endswith(".sync"):
        ops.append("GetJobRun")
    return service, ops


def _allowed(resource: str) -> set[str]:
    service, ops = _operation(resource)
    model = botocore.session.get_session().get_service_model(service)
    prefix = next(p for p, s in _SERVICES.items() if s == service)
    names = {
        f"{prefix}.{shape.name}" + ("" if shape.name.endswith("Exception") else "Exception")
        for op in ops
        for shape in model.operation_model(op).error_shapes
    }
    if resource.startswith("arn:aws:states:::aws-sdk:"):
        names.add(f"{prefix}.{prefix}Exception")  # the unmodeled ones
    if service == "lambda":
        names |= _LAMBDA_TRANSIENT | _OWN
    return names


def test_every_retry_and_catch_names_an_error_its_task_can_raise() -> None:
    asl = outer_loop_document()
    wrong = []
    for name, state in asl["States"].items():
        if state["Type"] != "Task":
            continue
        allowed = _allowed(state["Resource"])
        for policy in state.get("Retry", []) + state.get("Catch", []):
            for error in policy["ErrorEquals"]:
                if not error.startswith("States.") and error not in allowed:
                    wrong.append(f"{name}: {error}")
    assert wrong == [], f"no such error from these tasks: {wrong}"


def test_throttled_start_is_retried_and_a_refused_one_is_not() -> None:
    # StartPipelineExecution runs in the pipeline callback Lambda, which tells throttling (raised
    # as PipelineStartThrottled, retried here) from a refusal (answered as InnerPipelineNotStarted).
    state = outer_loop_document()["States"]["RunInnerPipeline"]
    retried = {e for policy in state["Retry"] for e in policy["ErrorEquals"]}
    assert "PipelineStartThrottled" in retried
    assert "InnerPipelineNotStarted" not in retried and "States.TaskFailed" not in retried

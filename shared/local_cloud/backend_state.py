"""How local workers report back: the states a managed service would set, set in moto.

Workers never reach into moto themselves; they call these functions, which also emit
the EventBridge events AWS emits for the same transitions.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from shared.local_cloud import events

GLUE_TERMINAL = frozenset({"SUCCEEDED", "FAILED", "STOPPED", "TIMEOUT", "ERROR"})
PIPELINE_TERMINAL = frozenset({"Succeeded", "Failed", "Stopped"})


def set_glue_job_run_state(
    account_id: str, region: str, job_name: str, run_id: str, state: str, error: str | None = None
) -> None:
    from moto.glue.models import glue_backends

    if state not in GLUE_TERMINAL | {"STARTING", "RUNNING", "STOPPING"}:
        raise ValueError(f"not a Glue job run state: {state}")
    run = glue_backends[account_id][region].get_job(job_name).get_job_run(run_id)
    run.dualloop_state = state
    run.dualloop_error = error
    now = datetime.now(UTC)
    run.modified_on = now
    if state in GLUE_TERMINAL:
        run.completed_on = now


def pipeline_execution(account_id: str, region: str, execution_arn: str) -> Any:
    from moto.sagemaker.models import sagemaker_backends

    backend = sagemaker_backends[account_id][region]
    for pipeline in backend.pipelines.values():
        if execution_arn in pipeline.pipeline_executions:
            return pipeline, pipeline.pipeline_executions[execution_arn]
    raise KeyError(f"no pipeline execution {execution_arn}")


def set_pipeline_execution_status(
    account_id: str, region: str, execution_arn: str, status: str, failure_reason: str | None = None
) -> None:
    """Move a pipeline execution to ``status`` and emit the status-change event."""
    if status not in PIPELINE_TERMINAL | {"Executing", "Stopping"}:
        raise ValueError(f"not a pipeline execution status: {status}")
    pipeline, execution = pipeline_execution(account_id, region, execution_arn)
    previous = execution.pipeline_execution_status
    execution.pipeline_execution_status = status
    execution.pipeline_execution_failure_reason = failure_reason
    now = datetime.now(UTC)
    execution.last_modified_time = now
    if previous == status:
        return
    events.pipeline_execution_status_change(
        account_id=account_id,
        region=region,
        pipeline_arn=pipeline.arn,
        execution_arn=execution_arn,
        display_name=execution.pipeline_execution_display_name,
        current=status,
        previous=previous,
        start_time=execution.start_time if isinstance(execution.start_time, datetime) else None,
        end_time=now if status in PIPELINE_TERMINAL else None,
    )


def glue_job_session(account_id: str, region: str, job_name: str) -> Any:
    """The job's role, assumed as Glue does (``None`` while the local cloud does not enforce IAM)."""
    from moto.glue.models import glue_backends

    from shared.local_cloud.iam import sessions
    from shared.local_cloud.patches import iam_enforcement

    if not iam_enforcement.enabled():
        return None
    role = str(glue_backends[account_id][region].get_job(job_name).role)
    arn = role if role.startswith("arn:") else f"arn:aws:iam::{account_id}:role/{role}"
    return sessions.assume(arn, "glue.amazonaws.com", region)


def bucket_account(bucket: str) -> str | None:
    """The account that owns ``bucket`` (moto keeps one global map of bucket names), if any."""
    from moto.s3.models import s3_backends

    owner = s3_backends.bucket_accounts.get(bucket)
    return owner[1] if owner else None

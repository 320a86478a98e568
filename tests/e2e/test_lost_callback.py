"""A pipeline relay event that never arrives costs one check interval, not the pipeline timeout.

On AWS a relay failure (no permission, a bug, a throttled Lambda past its retries) or an
event EventBridge gave up on would leave ``RunInnerPipeline`` waiting for its whole timeout
(6 hours by default) and deploy nothing. Here the pipeline status rule is disabled, so the
relay never hears of the pipeline's end: the state machine's own bound (a new
``RunInnerPipeline`` attempt every ``pipeline_check_interval_seconds``, which answers at once
for a pipeline that has ended) must still carry the retrain through to a deployment.

What this cannot show: that EventBridge on AWS drops events as described (that is its
documented retry policy), only that the loop no longer depends on every event arriving.
"""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import boto3

from inner_pipeline.upsert import upsert_pipeline
from outer_orchestrator.local_stack import LocalStack
from outer_orchestrator.runner import Retrain, upload_data
from shared.config import load_config
from shared.demo_data import generate_transactions, write_dataset
from shared.local_cloud import LocalCloud
from shared.local_cloud.clock import scaled
from shared.naming import Names

CHECK_SECONDS = 600  # AWS time; 6 s of wall time at the local clock's x100


def test_a_dropped_pipeline_event_still_ends_the_retrain_within_one_check_interval(
    local_cloud: LocalCloud, tmp_path: Path
) -> None:
    # GIVEN a project whose pipeline status events reach no relay (the rule is disabled)
    cfg = load_config(project=f"lost-{uuid.uuid4().hex[:6]}", pipeline_check_interval_seconds=CHECK_SECONDS)
    LocalStack(cfg).provision()
    upsert_pipeline(cfg)
    names = Names(cfg)
    boto3.client("events").disable_rule(Name=names.pipeline_status_rule)
    path = tmp_path / "data.csv"
    write_dataset(generate_transactions(3000, seed=7), path)
    retrain = Retrain(cfg)

    # WHEN a retrain runs
    started = time.monotonic()
    result = retrain.follow(
        retrain.start(upload_data(cfg, path, uuid.uuid4().hex[:8])), approve="auto", timeout=600
    )
    took = time.monotonic() - started

    # THEN it deploys anyway: RunInnerPipeline timed out at least once, was entered again, and
    # that attempt answered with the pipeline's outcome
    assert result.status == "SUCCEEDED", (result.error, result.cause)
    visited = [s["name"] for s in result.states]
    assert "CountPipelineCheck" in visited and "MarkDeployed" in visited, visited
    assert result.model_package_arn is not None

    # ... no later than one check interval after the pipeline ended
    sm = boto3.client("sagemaker")
    (execution,) = sm.list_pipeline_executions(PipelineName=names.pipeline)["PipelineExecutionSummaries"]
    described = sm.describe_pipeline_execution(PipelineExecutionArn=execution["PipelineExecutionArn"])
    assert described["PipelineExecutionStatus"] == "Succeeded"
    history = boto3.client("stepfunctions").get_execution_history(
        executionArn=result.execution_arn, maxResults=1000
    )["events"]
    answered = max(
        e["timestamp"]
        for e in history
        if e["type"] == "TaskStateExited" and e["stateExitedEventDetails"]["name"] == "RunInnerPipeline"
    )
    waited = (answered - described["LastModifiedTime"]).total_seconds()
    assert waited <= scaled(CHECK_SECONDS) + 5, f"answered {waited:.1f} s after the pipeline ended"
    # One pipeline execution only: the later attempts started nothing new.
    assert took < 600

"""Where a cache plan's store comes from: the executor's own store, or one rebuilt from a
pipeline's execution history through the API (a local cloud in another process, or AWS,
where no store can be read at all)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

from shared.local_cloud.sagemaker.cache import (
    CacheEntry,
    InMemoryStepCache,
    StepCache,
    cache_key,
    cacheable,
    key_attributes,
)
from shared.local_cloud.sagemaker.errors import ExpressionError, LocalExecutorError
from shared.local_cloud.sagemaker.expressions import (
    ExecutionVariables,
    Resolver,
    coerce_parameters,
)
from shared.local_cloud.sagemaker.steps import executor_for
from shared.local_cloud.sagemaker.steps.base import json_safe
from shared.pipeline_graph import PipelineGraph

if TYPE_CHECKING:
    from mypy_boto3_sagemaker import SageMakerClient


class CacheHistory(StepCache, Protocol):
    """The executor's store (``lookup`` decides a hit) plus the listing a miss is explained by."""

    def entries(self, pipeline_name: str, step_name: str) -> Sequence[CacheEntry]: ...


@dataclass(frozen=True)
class StoreHistory:
    """The executor's ``InMemoryStepCache`` as a ``CacheHistory``."""

    store: InMemoryStepCache

    def lookup(
        self, pipeline_name: str, step_name: str, key: str, *, max_age: timedelta | None, now: datetime
    ) -> CacheEntry | None:
        return self.store.lookup(pipeline_name, step_name, key, max_age=max_age, now=now)

    def record(self, entry: CacheEntry) -> None:
        self.store.record(entry)

    def entries(self, pipeline_name: str, step_name: str) -> Sequence[CacheEntry]:
        # InMemoryStepCache has no public listing (yet): read it under its own lock.
        return self.store.entries(pipeline_name, step_name)


_JOB_TYPES = {
    "ProcessingJob": "Processing",
    "TrainingJob": "Training",
    "TuningJob": "Tuning",
    "TransformJob": "Transform",
}


@dataclass
class History:
    """What ``store_from_history`` read (the plan says where its store came from)."""

    store: InMemoryStepCache = field(default_factory=InMemoryStepCache)
    executions: int = 0
    entries: int = 0


def store_from_history(
    sagemaker: SageMakerClient, pipeline_name: str, *, max_executions: int = 20
) -> History:
    """The cache store as the pipeline's recent executions left it, read through the API.

    For each execution (newest first): its own definition and parameters, its step list, and
    the Describe* of each job step's job. The cache-key arguments are re-resolved from that
    definition with the executor's resolver, the upstream properties taken from the jobs, and
    every successful run that was not itself a cache hit is recorded with the executor's
    ``cache_key`` and the step's EndTime. Works against AWS as well as a local cloud in another
    process; times are the API's (a local cloud's accelerated clock is not visible from here).
    """
    history = History()
    summaries = [
        s
        for page in sagemaker.get_paginator("list_pipeline_executions").paginate(PipelineName=pipeline_name)
        for s in page["PipelineExecutionSummaries"]
    ]
    summaries.sort(key=lambda s: s["StartTime"], reverse=True)
    for summary in summaries[:max_executions]:
        history.executions += 1
        history.entries += _record_execution(
            sagemaker, pipeline_name, summary["PipelineExecutionArn"], summary["StartTime"], history.store
        )
    return history


def _record_execution(
    sagemaker: SageMakerClient,
    pipeline_name: str,
    execution_arn: str,
    start_time: datetime,
    store: InMemoryStepCache,
) -> int:
    steps = {
        s["StepName"]: s
        for page in sagemaker.get_paginator("list_pipeline_execution_steps").paginate(
            PipelineExecutionArn=execution_arn
        )
        for s in page["PipelineExecutionSteps"]
        if s.get("StepStatus") == "Succeeded" and _job_of(s) is not None
    }
    if not steps:
        return 0
    definition = json.loads(
        sagemaker.describe_pipeline_definition_for_execution(PipelineExecutionArn=execution_arn)[
            "PipelineDefinition"
        ]
    )
    given = {
        str(p["Name"]): str(p["Value"])
        for page in sagemaker.get_paginator("list_pipeline_parameters_for_execution").paginate(
            PipelineExecutionArn=execution_arn
        )
        for p in page["PipelineParameters"]
    }
    try:
        graph = PipelineGraph.from_definition(definition)
        values = coerce_parameters(definition.get("Parameters") or [], given)
    except LocalExecutorError:
        return 0  # a definition this executor cannot run leaves nothing it could reuse
    properties: dict[str, Mapping[str, Any]] = {}
    resolver = Resolver(
        parameters=values,
        execution=ExecutionVariables(
            pipeline_name, execution_arn.split("/execution/", 1)[0], execution_arn, start_time
        ),
        step_properties=lambda step: properties[step],
        property_file=_unreadable,
        read_json=lambda uri: _unreadable(uri, ""),
        experiment_config=definition.get("PipelineExperimentConfig"),
    )
    recorded = 0
    for name in graph.topological_order():
        step, node = steps.get(name), graph.nodes[name]
        job = _job_of(step) if step is not None else None
        if step is None or job is None or not cacheable(node.type):
            continue
        kind, job_name = job
        try:
            arguments = executor_for(node).resolve_arguments(node, resolver, job_name)
        except (ExpressionError, LocalExecutorError):
            continue
        job_properties = json_safe(_describe_job(sagemaker, kind, job_name))
        keyed = {a: arguments[a] for a in key_attributes(node.type) if a in arguments}
        if "CacheHitResult" in step:
            # The outputs downstream steps read are the source run's (its job's Describe*).
            properties[name] = {**job_properties, **keyed}
            continue
        properties[name] = {**job_properties, **arguments}
        store.record(
            CacheEntry(
                pipeline_name=pipeline_name,
                step_name=name,
                key=cache_key(node.type, arguments),
                execution_arn=execution_arn,
                finished_at=step["EndTime"],
                properties=properties[name],
                metadata=json_safe(step.get("Metadata") or {}),
            )
        )
        recorded += 1
    return recorded


def _job_of(step: Mapping[str, Any]) -> tuple[str, str] | None:
    """(kind, job name) of a job step's job (the source run's job for a cache hit)."""
    metadata = step.get("Metadata") or {}
    for kind in _JOB_TYPES:
        arn = (metadata.get(kind) or {}).get("Arn")
        if arn:
            return kind, str(arn).rsplit("/", 1)[-1]
    return None


def _describe_job(sagemaker: SageMakerClient, kind: str, name: str) -> Mapping[str, Any]:
    if kind == "ProcessingJob":
        return dict(sagemaker.describe_processing_job(ProcessingJobName=name))
    if kind == "TuningJob":
        described = dict(sagemaker.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=name))
        # A TuningStep's properties also hold ListTrainingJobsForHyperParameterTuningJob's answer.
        summaries = sagemaker.list_training_jobs_for_hyper_parameter_tuning_job(
            HyperParameterTuningJobName=name, SortBy="FinalObjectiveMetricValue", MaxResults=100
        )["TrainingJobSummaries"]
        return {**described, "TrainingJobSummaries": summaries}
    if kind == "TransformJob":
        return dict(sagemaker.describe_transform_job(TransformJobName=name))
    return dict(sagemaker.describe_training_job(TrainingJobName=name))


def _unreadable(step: str, name: str) -> Any:
    raise ExpressionError(f"{step} {name}: not read when rebuilding the cache from history".strip())

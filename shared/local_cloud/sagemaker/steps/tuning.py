"""Tuning steps: CreateHyperParameterTuningJob arguments, each trial a real local training job.

Every trial is the ``TrainingJobDefinition`` with ``StaticHyperParameters`` plus the values the
strategy proposes (``search_space.py``), run by the Training executor's ``run`` (so a trial is
a TrainingJob that DescribeTrainingJob answers for, with its own ``/opt/ml`` root). The
objective is the trial's ``FinalMetricDataList`` entry named by
``HyperParameterTuningJobObjective.MetricName`` (from ``MetricDefinitions`` regexes, or the
built-in algorithm's metrics the training executor reports).

At most ``MaxParallelTrainingJobs`` trials run at once, bounded by this machine's cores (a
trial is CPU-bound; more at once only slows each). A failed trial does not fail the tuning
job; it fails when no trial produced the objective, as on SageMaker.

Properties, as the SDK's ``TuningStep`` reads them (``DescribeHyperParameterTuningJob`` +
``ListTrainingJobsForHyperParameterTuningJob``): ``BestTrainingJob`` and
``TrainingJobSummaries`` sorted best first, so ``get_top_model_s3_uri(top_k=0, ...)`` resolves
to ``<S3OutputPath>/<best job>/output/model.tar.gz``.
"""

from __future__ import annotations

import os
import secrets
import string
from collections.abc import Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, replace
from typing import Any, ClassVar

from shared.local_cloud.sagemaker.errors import StepFailure, StepStopped
from shared.local_cloud.sagemaker.steps.base import ResolvesArguments, StepContext, StepOutcome, iso_now
from shared.local_cloud.sagemaker.steps.search_space import Strategy, plan
from shared.local_cloud.sagemaker.steps.training import TrainingExecutor

KIND = "HyperParameterTuningJob"
_ALPHABET = string.ascii_lowercase + string.digits
# TrainingJobDefinition fields that are not CreateTrainingJob fields.
_DEFINITION_ONLY = ("StaticHyperParameters", "HyperParameterRanges", "TuningObjective", "DefinitionName")


@dataclass(frozen=True)
class Trial:
    summary: dict[str, Any]
    objective: float | None


def tuning_job_name(ctx: StepContext) -> str:
    """<= 32 characters, as CreateHyperParameterTuningJob requires (botocore model:
    HyperParameterTuningJobName max 32); unique per attempt. A standalone tuning job (no
    pipeline execution) keeps the name its CreateHyperParameterTuningJob gave it, so its trials
    and results land on that job."""
    if not ctx.execution.pipeline_arn:
        return ctx.job_name
    suffix = "".join(secrets.choice(_ALPHABET) for _ in range(8))
    return f"{ctx.execution.execution_id[:12]}-{ctx.node.name[:10]}-{suffix}".lower()


def parallelism(requested: int) -> int:
    return max(1, min(requested, os.cpu_count() or 1))


class TuningExecutor(ResolvesArguments):
    step_type: ClassVar[str] = "Tuning"

    def run(self, ctx: StepContext) -> StepOutcome:
        args = ctx.arguments
        config = args.get("HyperParameterTuningJobConfig") or {}
        definition = args.get("TrainingJobDefinition")
        if args.get("TrainingJobDefinitions"):
            raise StepFailure(
                "ClientError: TrainingJobDefinitions (several algorithms in one tuning job) is not supported "
                "locally; tune one TrainingJobDefinition"
            )
        if not definition:
            raise StepFailure("ClientError: ValidationException: TrainingJobDefinition is required")
        if args.get("WarmStartConfig"):
            raise StepFailure("ClientError: WarmStartConfig is not supported locally; leave it out")
        strategy, total = plan(config)
        objective = config.get("HyperParameterTuningJobObjective") or {}
        metric = str(objective.get("MetricName") or "")
        maximize = objective.get("Type") == "Maximize"
        if not metric:
            raise StepFailure(
                "ClientError: ValidationException: HyperParameterTuningJobObjective.MetricName is required"
            )

        name = tuning_job_name(ctx)
        started = iso_now()
        arn = ctx.services.jobs.job_started(KIND, name, {**args, "HyperParameterTuningJobName": name})
        metadata = {"TuningJob": {"Arn": arn}}
        try:
            trials = self._run_trials(ctx, name, arn, definition, strategy, total, metric, maximize, config)
        except BaseException as exc:
            status = "Failed" if isinstance(exc, StepFailure) else "Stopped"
            ctx.services.jobs.job_finished(KIND, name, status, str(exc) if status == "Failed" else None, {})
            if isinstance(exc, StepFailure):
                exc.metadata = exc.metadata or metadata
            raise
        sign = -1.0 if maximize else 1.0
        ranked = sorted(
            (t for t in trials if t.objective is not None), key=lambda t: sign * (t.objective or 0.0)
        )
        unranked = [t for t in trials if t.objective is None]
        summaries = [t.summary for t in [*ranked, *unranked]]
        details: dict[str, Any] = {
            "TrainingJobSummaries": summaries,
            "TrainingJobStatusCounters": _counters(summaries),
            "ObjectiveStatusCounters": {
                "Succeeded": len(ranked),
                "Pending": 0,
                "Failed": len(unranked),
            },
        }
        if not ranked:
            reason = (
                f"ClientError: No training job succeeded after {len(trials)} attempts with objective metric "
                f"{metric!r}; see the training jobs' failure reasons (first: "
                f"{next((s.get('FailureReason') for s in summaries if s.get('FailureReason')), 'none reported')})"
            )
            ctx.services.jobs.job_finished(KIND, name, "Failed", reason, details)
            raise StepFailure(reason, metadata=metadata)
        details["BestTrainingJob"] = ranked[0].summary
        ctx.services.jobs.job_finished(KIND, name, "Completed", None, details)
        properties = {
            **args,
            **details,
            "HyperParameterTuningJobName": name,
            "HyperParameterTuningJobArn": arn,
            "HyperParameterTuningJobStatus": "Completed",
            "CreationTime": started,
            "HyperParameterTuningEndTime": iso_now(),
        }
        return StepOutcome(properties=properties, metadata=metadata)

    def _run_trials(
        self,
        ctx: StepContext,
        name: str,
        arn: str,
        definition: Mapping[str, Any],
        strategy: Strategy,
        total: int,
        metric: str,
        maximize: bool,
        config: Mapping[str, Any],
    ) -> list[Trial]:
        limits = config.get("ResourceLimits") or {}
        workers = parallelism(int(limits.get("MaxParallelTrainingJobs") or 1))
        static = {str(k): str(v) for k, v in (definition.get("StaticHyperParameters") or {}).items()}
        base = {k: v for k, v in definition.items() if k not in _DEFINITION_ONLY}
        trials: list[Trial] = []
        running: dict[Future[Trial], Any] = {}
        started = 0
        with ThreadPoolExecutor(workers, thread_name_prefix=f"tuning-{name}") as pool:
            while started < total or running:
                while started < total and len(running) < workers and not ctx.stop.is_set():
                    handle, tuned = strategy.propose()
                    started += 1
                    trial_name = f"{name}-{started:03d}-{secrets.token_hex(4)}"
                    request = {**base, "HyperParameters": {**static, **tuned}}
                    future = pool.submit(self._trial, ctx, trial_name, name, request, tuned, metric, maximize)
                    running[future] = handle
                if not running:
                    break
                done, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in done:
                    handle = running.pop(future)
                    trial = future.result()  # StepStopped propagates: the execution is stopping
                    strategy.observe(handle, trial.objective)
                    trials.append(trial)
        if ctx.stop.is_set():
            raise StepStopped(f"tuning job {name} stopped")
        return trials

    def _trial(
        self,
        ctx: StepContext,
        trial_name: str,
        tuning_name: str,
        request: Mapping[str, Any],
        tuned: Mapping[str, str],
        metric: str,
        maximize: bool,
    ) -> Trial:
        trial_ctx = replace(ctx, arguments=request, job_name=trial_name, work_dir=ctx.work_dir / trial_name)
        trial_ctx.work_dir.mkdir(parents=True, exist_ok=True)
        start = iso_now()
        summary: dict[str, Any] = {
            "TrainingJobName": trial_name,
            "TuningJobName": tuning_name,
            "CreationTime": start,
            "TrainingStartTime": start,
            "TunedHyperParameters": dict(tuned),
        }
        try:
            outcome = TrainingExecutor().run(trial_ctx)
        except StepFailure as failure:
            arn = str((failure.metadata.get("TrainingJob") or {}).get("Arn") or "")
            summary.update(
                TrainingJobArn=arn,
                TrainingEndTime=iso_now(),
                TrainingJobStatus="Failed",
                FailureReason=str(failure)[:1024],
                ObjectiveStatus="Failed",
            )
            return Trial(summary, None)
        values = [
            m for m in outcome.properties.get("FinalMetricDataList") or [] if m.get("MetricName") == metric
        ]
        summary.update(
            TrainingJobArn=outcome.properties["TrainingJobArn"],
            TrainingEndTime=outcome.properties.get("TrainingEndTime", iso_now()),
            TrainingJobStatus="Completed",
        )
        if not values:
            summary.update(
                ObjectiveStatus="Failed",
                FailureReason=f"the training job did not emit the objective metric {metric!r}",
            )
            return Trial(summary, None)
        value = float(values[-1]["Value"])
        summary.update(
            ObjectiveStatus="Succeeded",
            FinalHyperParameterTuningJobObjectiveMetric={
                "Type": "Maximize" if maximize else "Minimize",
                "MetricName": metric,
                "Value": value,
            },
        )
        return Trial(summary, value)


def _counters(summaries: list[dict[str, Any]]) -> dict[str, int]:
    completed = sum(1 for s in summaries if s.get("TrainingJobStatus") == "Completed")
    failed = sum(1 for s in summaries if s.get("TrainingJobStatus") == "Failed")
    return {
        "Completed": completed,
        "InProgress": 0,
        "RetryableError": 0,
        "NonRetryableError": failed,
        "Stopped": 0,
    }

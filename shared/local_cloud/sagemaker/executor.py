"""``LocalPipelineExecutor``: runs one execution of a pipeline definition, without Docker.
(Over 400 lines: the executor's one loop and its bookkeeping; the reader, cache, retries and steps live apart.)

It walks the step graph (``shared/pipeline_graph.py``), starting every step whose dependencies have
succeeded, up to ``ParallelismConfiguration.MaxParallelExecutionSteps`` at once, and hands
each to its step-type executor (``steps/``) after resolving its arguments and consulting the
step cache (``cache.py``). Failures are retried per the step's ``RetryPolicies``.

As on SageMaker: after a step fails no further step starts, running steps finish, and the
execution fails with a reason naming each failed step and its reason. A stop request stops
running jobs and ends the execution Stopped. Every step status change goes to the
observer (the local cloud's: moto's step list and the EventBridge step event).

A definition the executor cannot run (a step type without executor, a bad reference, a
cycle, a missing parameter, a bad ExpireAfter) fails the execution before any step starts,
with a reason that says what is wrong.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import shutil
import string
import tempfile
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from shared.local_cloud import clock
from shared.local_cloud.sagemaker import s3io
from shared.local_cloud.sagemaker.cache import (
    CacheEntry,
    CachePolicy,
    InMemoryStepCache,
    StepCache,
    cache_key,
    cacheable,
)
from shared.local_cloud.sagemaker.errors import (
    DefinitionError,
    ExpressionError,
    LocalExecutorError,
    StepFailure,
    StepStopped,
)
from shared.local_cloud.sagemaker.expressions import ExecutionVariables, Resolver, coerce_parameters
from shared.local_cloud.sagemaker.retry import RetryPolicy, parse_policies, retry_delay
from shared.local_cloud.sagemaker.steps import executor_for
from shared.local_cloud.sagemaker.steps.base import (
    ArnOnlyJobRecorder,
    JobRecorder,
    Services,
    StepContext,
    StepExecutor,
    StepOutcome,
    job_name,
)
from shared.pipeline_graph import (
    FAILED,
    NOT_EXECUTED,
    SUCCEEDED,
    Decision,
    PipelineGraph,
    StepNode,
)

if TYPE_CHECKING:
    from mypy_boto3_lambda import LambdaClient
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_sagemaker import SageMakerClient
    from mypy_boto3_sqs import SQSClient

LOG = logging.getLogger(__name__)

DEFAULT_MAX_PARALLEL = 8
_TICK_SECONDS = 0.05
_JOB_STEP_TYPES = frozenset({"Processing", "Training", "Tuning", "Transform"})


@dataclass
class StepRecord:
    """One step of the execution, as ListPipelineExecutionSteps reports it."""

    name: str
    type: str
    start_time: datetime
    display_name: str | None = None
    description: str | None = None
    status: str = "Starting"
    end_time: datetime | None = None
    attempt_count: int = 0
    cache_source_execution_arn: str | None = None
    selective_source_execution_arn: str | None = None
    failure_reason: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)

    def to_aws(self) -> dict[str, Any]:
        """The ``PipelineExecutionStep`` shape (datetimes stay datetimes)."""
        out: dict[str, Any] = {
            "StepName": self.name,
            "StepStatus": self.status,
            "StartTime": self.start_time,
            "Metadata": self.metadata,
            "AttemptCount": self.attempt_count,
        }
        if self.display_name:
            out["StepDisplayName"] = self.display_name
        if self.description:
            out["StepDescription"] = self.description
        if self.end_time is not None:
            out["EndTime"] = self.end_time
        if self.cache_source_execution_arn:
            out["CacheHitResult"] = {"SourcePipelineExecutionArn": self.cache_source_execution_arn}
        if self.selective_source_execution_arn:
            out["SelectiveExecutionResult"] = {
                "SourcePipelineExecutionArn": self.selective_source_execution_arn
            }
        if self.failure_reason:
            out["FailureReason"] = self.failure_reason[:1024]
        return out


class ExecutionObserver(Protocol):
    """Where the execution reports (the local cloud mirrors it into moto and EventBridge)."""

    def step_changed(self, record: StepRecord, previous_status: str | None) -> None: ...

    def execution_changed(self, status: str, failure_reason: str | None) -> None: ...

    def stop_requested(self) -> bool: ...


class NullObserver:
    def step_changed(self, record: StepRecord, previous_status: str | None) -> None:
        return None

    def execution_changed(self, status: str, failure_reason: str | None) -> None:
        return None

    def stop_requested(self) -> bool:
        return False


@dataclass(frozen=True)
class ExecutionResult:
    execution_arn: str
    status: str  # Succeeded | Failed | Stopped
    failure_reason: str | None
    steps: tuple[StepRecord, ...]  # in start order
    not_executed: tuple[str, ...]
    properties: Mapping[str, Mapping[str, Any]]

    def step(self, name: str) -> StepRecord:
        for record in self.steps:
            if record.name == name:
                return record
        raise KeyError(f"step {name!r} was not executed (executed: {[s.name for s in self.steps]})")


@dataclass(frozen=True)
class SelectiveRun:
    """SelectiveExecutionConfig: run only ``selected``; the steps they read from are reused
    from ``source`` (an earlier execution of the same pipeline), never run."""

    selected: frozenset[str]
    source: ExecutionResult


@dataclass(frozen=True)
class ExecutionIdentity:
    pipeline_name: str
    pipeline_arn: str
    execution_arn: str
    account_id: str
    region: str
    start_time: datetime


@dataclass(frozen=True)
class _PlannedStep:
    """A step with how its definition says to run it: its executor, cache and retry policies."""

    node: StepNode
    executor: StepExecutor
    caching: CachePolicy
    retries: tuple[RetryPolicy, ...]


class LocalPipelineExecutor:
    """Runs one execution; ``run()`` blocks until it ends, ``stop()`` asks it to stop."""

    def __init__(
        self,
        definition: str | Mapping[str, Any],
        *,
        identity: ExecutionIdentity,
        services: Services,
        parameters: Mapping[str, str] | None = None,
        cache: StepCache | None = None,
        observer: ExecutionObserver | None = None,
        max_parallel: int | None = None,
        work_root: Path | None = None,
        keep_work_dir: bool = False,
        scratch_parent: Path | None = None,
        aws_now: Callable[[], datetime] | None = None,
        resume: ExecutionResult | None = None,
        selective: SelectiveRun | None = None,
    ) -> None:
        """``resume``: this execution's earlier, failed run (RetryPipelineExecution): its
        succeeded steps are kept, with their properties, and are not run again."""
        self._definition_source = definition
        self._resume = resume
        self._selective = selective
        self._identity = identity
        self._services = services
        self._parameters = dict(parameters or {})
        self._cache: StepCache = cache if cache is not None else InMemoryStepCache()
        self._observer: ExecutionObserver = observer or NullObserver()
        self._max_parallel = max(1, int(max_parallel or DEFAULT_MAX_PARALLEL))
        self._work_root = work_root
        self._keep_work_dir = keep_work_dir
        self._scratch_parent = scratch_parent  # the local cloud's folder; else the machine's tmp
        self._aws_now = aws_now or (lambda: datetime.now(UTC))
        self._execution_id = identity.execution_arn.rsplit("/", 1)[-1]
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._records: dict[str, StepRecord] = {}
        self._properties: dict[str, Mapping[str, Any]] = {}
        self._property_files: dict[tuple[str, str], Any] = {}
        self._outcomes: dict[str, bool] = {}

    def stop(self) -> None:
        self._stop.set()

    # ---- the execution --------------------------------------------------------------------------
    def run(self) -> ExecutionResult:
        try:
            definition = (
                json.loads(self._definition_source)
                if isinstance(self._definition_source, str)
                else self._definition_source
            )
            graph = PipelineGraph.from_definition(definition)
            executors = {name: executor_for(node) for name, node in graph.nodes.items()}
            caching = {name: CachePolicy.from_step(node.spec) for name, node in graph.nodes.items()}
            retries = {name: parse_policies(node.spec) for name, node in graph.nodes.items()}
            steps = {
                name: _PlannedStep(node, executors[name], caching[name], retries[name])
                for name, node in graph.nodes.items()
            }
            parameters = coerce_parameters(definition.get("Parameters") or [], self._parameters)
        except (LocalExecutorError, json.JSONDecodeError, AttributeError, TypeError, KeyError) as exc:
            reason = f"the local executor cannot run this pipeline definition: {exc}"
            return self._finish("Failed", reason, not_executed=())
        resolver = Resolver(
            parameters=parameters,
            execution=ExecutionVariables(
                self._identity.pipeline_name,
                self._identity.pipeline_arn,
                self._identity.execution_arn,
                self._identity.start_time,
            ),
            step_properties=self._step_properties,
            property_file=lambda step, name: self._property_file(graph, step, name),
            read_json=self._read_json,
            experiment_config=definition.get("PipelineExperimentConfig"),
        )
        self._reuse_succeeded(graph)
        try:
            self._reuse_unselected(graph)
        except LocalExecutorError as exc:
            return self._finish(
                "Failed", f"the local executor cannot run this pipeline definition: {exc}", ()
            )
        scratch = self._scratch_dir()
        try:
            return self._walk(graph, steps, resolver, scratch)
        finally:
            if not self._keep_work_dir and self._work_root is None:
                shutil.rmtree(scratch, ignore_errors=True)

    def _reuse_succeeded(self, graph: PipelineGraph) -> None:
        if self._resume is None:
            return
        for record in self._resume.steps:
            if record.status != "Succeeded" or record.name not in graph.nodes:
                continue
            properties = self._resume.properties.get(record.name)
            if properties is None:
                continue
            with self._lock:
                self._records[record.name] = record
                self._properties[record.name] = properties
                if record.type == "Condition":
                    self._outcomes[record.name] = properties.get("Outcome") == "True"

    def _reuse_unselected(self, graph: PipelineGraph) -> None:
        """Selective execution: every step that is not selected is either reused from the
        source execution (if a selected step depends on it) or not run at all."""
        if self._selective is None:
            return
        selected, source = self._selective.selected, self._selective.source
        unknown = sorted(selected - set(graph.nodes))
        if unknown:
            raise DefinitionError(
                f"SelectedSteps name steps the pipeline does not have: {', '.join(unknown)}"
            )
        needed = {dep for name in selected for dep in graph.nodes[name].depends_on} - selected
        succeeded = {r.name: r for r in source.steps if r.status == "Succeeded"}
        missing = sorted(n for n in needed if n not in succeeded or n not in source.properties)
        if missing:
            raise DefinitionError(
                f"selected steps read from {', '.join(missing)}, which did not succeed in the source execution "
                f"{source.execution_arn}: select them too"
            )
        for name in sorted(needed):
            reused = replace(
                succeeded[name],
                selective_source_execution_arn=source.execution_arn,
                cache_source_execution_arn=None,
                metadata=dict(succeeded[name].metadata),
            )
            properties = source.properties[name]
            with self._lock:
                self._records[name] = reused
                self._properties[name] = properties
                if reused.type == "Condition":
                    self._outcomes[name] = properties.get("Outcome") == "True"
            self._observer.step_changed(reused, None)

    def _walk(
        self,
        graph: PipelineGraph,
        steps: Mapping[str, _PlannedStep],
        resolver: Resolver,
        scratch: Path,
    ) -> ExecutionResult:
        with self._lock:
            states: dict[str, str] = {name: SUCCEEDED for name in self._records}
        pending = [
            name
            for name in graph.topological_order()
            if name not in states and (self._selective is None or name in self._selective.selected)
        ]
        running: dict[Future[str], str] = {}
        failed = stopping = False
        with ThreadPoolExecutor(self._max_parallel, thread_name_prefix="pipeline-step") as pool:
            while True:
                if not stopping and (self._stop.is_set() or self._observer.stop_requested()):
                    stopping = True
                    self._stop.set()
                if not failed and not stopping:
                    for name in self._ready(graph, pending, states):
                        if len(running) >= self._max_parallel:
                            break
                        pending.remove(name)
                        future = pool.submit(self._run_step, steps[name], resolver, scratch)
                        running[future] = name
                if not running:
                    break
                done, _ = wait(running, timeout=_TICK_SECONDS, return_when=FIRST_COMPLETED)
                for future in done:
                    name = running.pop(future)
                    status = future.result()
                    states[name] = {"Succeeded": SUCCEEDED, "Failed": FAILED}.get(status, status)
                    failed = failed or status == "Failed"
        not_executed = tuple(n for n in graph.nodes if n not in self._records)
        if stopping:
            return self._finish("Stopped", None, not_executed)
        failures = [r for r in self._records.values() if r.status == "Failed"]
        if failures:
            reason = "; ".join(f"Step {r.name} failed: {r.failure_reason}" for r in failures)
            return self._finish("Failed", reason, not_executed)
        return self._finish("Succeeded", None, not_executed)

    def _ready(self, graph: PipelineGraph, pending: list[str], states: dict[str, str]) -> list[str]:
        """Steps that may start now; marks the ones that will never run as not executed
        (repeated until nothing changes, so a skip propagates down a chain at once)."""
        ready: list[str] = []
        with self._lock:
            outcomes = dict(self._outcomes)
        changed = True
        while changed:
            changed = False
            for name in list(pending):
                if name in ready:
                    continue
                decision = graph.decide(name, states, outcomes)
                if decision is Decision.SKIP:
                    states[name] = NOT_EXECUTED
                    pending.remove(name)
                    changed = True
                elif decision is Decision.RUN:
                    ready.append(name)
        return ready

    # ---- one step -------------------------------------------------------------------------------
    def _run_step(self, step: _PlannedStep, resolver: Resolver, scratch: Path) -> str:
        node = step.node
        record = StepRecord(
            name=node.name,
            type=node.type,
            start_time=datetime.now(UTC),
            display_name=node.display_name,
            description=node.description,
        )
        self._publish(record, None)
        try:
            return self._attempts(record, step, resolver, scratch)
        except Exception as exc:  # a bug here must fail the step, not hang the execution
            LOG.exception("local executor error in step %s", node.name)
            return self._end(record, "Failed", f"InternalServerError: {type(exc).__name__}: {exc}")

    def _attempts(self, record: StepRecord, step: _PlannedStep, resolver: Resolver, scratch: Path) -> str:
        node = step.node
        name = job_name(self._execution_id, node.name)
        try:
            arguments = step.executor.resolve_arguments(node, resolver, name)
        except ExpressionError as exc:
            return self._end(record, "Failed", f"ClientError: {exc}")
        # Every successful run of a cacheable step is recorded; only CacheConfig'd ones look up.
        key = cache_key(node.type, arguments) if cacheable(node.type) else None
        if key is not None and step.caching.enabled:
            hit = self._cache.lookup(
                self._identity.pipeline_name,
                node.name,
                key,
                max_age=step.caching.expire_after,
                now=self._aws_now(),
            )
            if hit is not None:
                with self._lock:
                    self._properties[node.name] = hit.properties
                record.cache_source_execution_arn = hit.execution_arn
                record.metadata = dict(hit.metadata)
                return self._end(record, "Succeeded")

        self._set_status(record, "Executing")
        outcome = self._with_retries(record, step, arguments, name, resolver, scratch)
        if outcome is None:
            return record.status
        with self._lock:
            self._properties[node.name] = outcome.properties
            if outcome.condition_outcome is not None:
                self._outcomes[node.name] = outcome.condition_outcome
        record.metadata = dict(outcome.metadata)
        if key is not None:
            self._cache.record(
                CacheEntry(
                    pipeline_name=self._identity.pipeline_name,
                    step_name=node.name,
                    key=key,
                    execution_arn=self._identity.execution_arn,
                    finished_at=self._aws_now(),
                    properties=outcome.properties,
                    metadata=record.metadata,
                )
            )
        return self._end(record, "Succeeded")

    def _with_retries(
        self,
        record: StepRecord,
        step: _PlannedStep,
        arguments: Mapping[str, Any],
        name: str,
        resolver: Resolver,
        scratch: Path,
    ) -> StepOutcome | None:
        """The step's outcome, or None once the record has ended Failed or Stopped."""
        node = step.node
        first_attempt = time.monotonic()
        while not self._stop.is_set():
            record.attempt_count += 1
            work_dir = scratch / node.name / f"attempt-{record.attempt_count}"
            work_dir.mkdir(parents=True, exist_ok=True)
            context = StepContext(
                node=node,
                arguments=arguments,
                job_name=name,
                execution=resolver.execution,
                account_id=self._identity.account_id,
                region=self._identity.region,
                attempt=record.attempt_count,
                resolver=resolver,
                services=self._services,
                work_dir=work_dir,
                stop=self._stop,
            )
            try:
                return step.executor.run(context)
            except StepStopped:
                break
            except StepFailure as failure:
                error: StepFailure = failure
            except Exception as exc:
                LOG.exception("step %s attempt %d", node.name, record.attempt_count)
                kind = (
                    "SageMaker.JOB_INTERNAL_ERROR" if node.type in _JOB_STEP_TYPES else "Step.SERVICE_FAULT"
                )
                error = StepFailure(f"InternalServerError: {type(exc).__name__}: {exc}", kind)
            elapsed = (time.monotonic() - first_attempt) * clock.factor()  # AWS seconds
            delay = retry_delay(step.retries, error.exception_type, record.attempt_count, elapsed)
            if delay is None:
                record.metadata = dict(error.metadata)
                self._end(record, "Failed", str(error))
                return None
            LOG.info("step %s: %s; retrying in %.1f s (AWS time)", node.name, error, delay)
            if self._stop.wait(clock.scaled(delay)):
                break
            name = job_name(self._execution_id, node.name)  # each attempt is a new job
        self._end(record, "Stopped")
        return None

    # ---- state and reporting ------------------------------------------------------------------
    def _set_status(self, record: StepRecord, status: str) -> None:
        previous = record.status
        record.status = status
        self._publish(record, previous)

    def _end(self, record: StepRecord, status: str, reason: str | None = None) -> str:
        record.end_time = datetime.now(UTC)
        record.failure_reason = reason
        self._set_status(record, status)
        return status

    def _publish(self, record: StepRecord, previous: str | None) -> None:
        snapshot = replace(record, metadata=dict(record.metadata))
        with self._lock:
            self._records[record.name] = snapshot
        self._observer.step_changed(snapshot, previous)

    def _finish(self, status: str, reason: str | None, not_executed: tuple[str, ...]) -> ExecutionResult:
        self._observer.execution_changed(status, reason)
        with self._lock:
            steps = tuple(sorted(self._records.values(), key=lambda r: r.start_time))
            properties = dict(self._properties)
        return ExecutionResult(self._identity.execution_arn, status, reason, steps, not_executed, properties)

    # ---- what expressions read ------------------------------------------------------------------
    def _step_properties(self, step: str) -> Mapping[str, Any]:
        with self._lock:
            return self._properties[step]

    def _property_file(self, graph: PipelineGraph, step: str, name: str) -> Any:
        with self._lock:
            if (step, name) in self._property_files:
                return self._property_files[(step, name)]
        node = graph.nodes.get(step)
        spec = (
            next(
                (p for p in (node.spec.get("PropertyFiles") or []) if p.get("PropertyFileName") == name), None
            )
            if node
            else None
        )
        if spec is None:
            raise ExpressionError(f"step {step!r} declares no property file {name!r}")
        try:
            properties = self._step_properties(step)
        except KeyError:
            raise ExpressionError(f"property file {name}: step {step!r} has not succeeded") from None
        outputs = (properties.get("ProcessingOutputConfig") or {}).get("Outputs") or []
        output = next((o for o in outputs if o.get("OutputName") == spec.get("OutputName")), None)
        if output is None or "S3Output" not in output:
            raise ExpressionError(
                f"property file {name}: step {step!r} has no output {spec.get('OutputName')!r}"
            )
        uri = f"{str(output['S3Output']['S3Uri']).rstrip('/')}/{str(spec.get('FilePath', '')).lstrip('/')}"
        document = self._read_json(uri)
        with self._lock:
            self._property_files[(step, name)] = document
        return document

    def _read_json(self, uri: str) -> Any:
        try:
            return s3io.read_json(self._services.s3, uri)
        except StepFailure as exc:
            raise ExpressionError(str(exc).removeprefix("ClientError: ")) from None
        except Exception as exc:
            raise ExpressionError(f"cannot read {uri}: {exc}") from None

    def _scratch_dir(self) -> Path:
        execution_id = self._identity.execution_arn.rsplit("/", 1)[-1]
        if self._work_root is not None:
            path = self._work_root / execution_id
            path.mkdir(parents=True, exist_ok=True)
            return path
        return Path(tempfile.mkdtemp(prefix=f"dualloop-pipeline-{execution_id}-", dir=self._scratch_parent))


# ---- direct use -----------------------------------------------------------------------------------

_ID_ALPHABET = string.ascii_lowercase + string.digits


def run_definition(
    definition: str | Mapping[str, Any],
    parameters: Mapping[str, str] | None = None,
    *,
    s3: S3Client,
    sagemaker: SageMakerClient,
    pipeline_name: str = "local-pipeline",
    account_id: str = "123456789012",
    region: str | None = None,
    cache: StepCache | None = None,
    jobs: JobRecorder | None = None,
    container_env: Mapping[str, str] | None = None,
    max_parallel: int | None = None,
    work_root: Path | None = None,
    keep_work_dir: bool = False,
    lambda_client: LambdaClient | None = None,
    sqs: SQSClient | None = None,
) -> ExecutionResult:
    """Run a definition once, outside any pipeline resource (no hook, no events): the steps
    still read and write S3 and call SageMaker through the clients given. Pass the same
    ``cache`` to several calls to see step caching between them."""
    region = region or s3.meta.region_name or os.environ.get("AWS_DEFAULT_REGION", "us-east-1")
    execution_id = "".join(secrets.choice(_ID_ALPHABET) for _ in range(12))
    pipeline_arn = f"arn:aws:sagemaker:{region}:{account_id}:pipeline/{pipeline_name}"
    identity = ExecutionIdentity(
        pipeline_name=pipeline_name,
        pipeline_arn=pipeline_arn,
        execution_arn=f"{pipeline_arn}/execution/{execution_id}",
        account_id=account_id,
        region=region,
        start_time=datetime.now(UTC),
    )
    services = Services(
        s3=s3,
        sagemaker=sagemaker,
        jobs=jobs or ArnOnlyJobRecorder(account_id, region),
        container_env=dict(container_env or {}),
        lambda_client=lambda_client,
        sqs=sqs,
    )
    executor = LocalPipelineExecutor(
        definition,
        identity=identity,
        services=services,
        parameters=parameters,
        cache=cache,
        max_parallel=max_parallel,
        work_root=work_root,
        keep_work_dir=keep_work_dir,
    )
    return executor.run()

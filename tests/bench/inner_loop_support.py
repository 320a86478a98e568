"""Helpers for ``test_inner_loop_bench.py``: the baseline (the three job scripts run directly),
pipeline runs on the local cloud, a timing probe inside the executor, and a process-tree RSS
sampler.

The baseline takes its commands from the pipeline definition itself (the processing steps'
``ContainerEntrypoint + ContainerArguments``, the training step's hyperparameters as the
executor turns them into ``--name value`` arguments), with ``/opt/ml`` rewritten by the
executor's own ``Instance.rewrite``: so both sides run the same interpreter, the same script
files and the same arguments. What differs is exactly what the executor adds: S3 downloads
and uploads through the local cloud, the model tarball, job and step bookkeeping, scheduling.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from statistics import median
from typing import Any

import boto3
import pytest

from inner_pipeline.pipeline import STEP_EVALUATE, STEP_PREPROCESS, STEP_TRAIN
from shared.config import DualloopConfig
from shared.local_cloud.sagemaker import s3io
from shared.local_cloud.sagemaker.expressions import ExecutionVariables, Resolver, coerce_parameters
from shared.local_cloud.sagemaker.steps import processing, training
from shared.local_cloud.sagemaker.steps.container import Instance, base_environment, local_command
from shared.naming import Names

CODE_DIR = Path(__file__).resolve().parents[2] / "inner_pipeline" / "code"
JOB_STEPS = (STEP_PREPROCESS, STEP_TRAIN, STEP_EVALUATE)
SCRIPTS = {STEP_PREPROCESS: "preprocess.py", STEP_TRAIN: "train.py", STEP_EVALUATE: "evaluate.py"}
TERMINAL = frozenset({"Succeeded", "Failed", "Stopped"})
POLL_SECONDS = 0.1


# ---- figures -------------------------------------------------------------------------------------


def best_and_median(values: Sequence[float]) -> tuple[float, float]:
    return min(values), median(values)


def load_note() -> str:
    """The 1-minute load average against the core count, with a warning when other jobs compete."""
    cores = os.cpu_count() or 1
    load = os.getloadavg()[0]
    busy = load > 0.5 * cores
    return f"load avg {load:.2f} on {cores} cores" + (
        " (LOADED by other jobs: wall-time figures are noisy)" if busy else ""
    )


def table(title: str, header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A compact fixed-width table (first column left-aligned, the rest right-aligned)."""
    cells = [[str(h) for h in header], *[[_cell(v) for v in row] for row in rows]]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]

    def line(row: Sequence[str]) -> str:
        return "  ".join(
            c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True))
        )

    rule = "-" * len(line(cells[0]))
    return "\n".join([f"\n{title}", rule, line(cells[0]), rule, *(line(r) for r in cells[1:]), rule])


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.2f}"
    return str(value)


# ---- the baseline: the three scripts, directly ---------------------------------------------------


@dataclass(frozen=True)
class DirectRun:
    seconds: float
    per_script: Mapping[str, float]  # step name -> wall seconds of its subprocess


def _definition_steps(definition: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    return {str(s["Name"]): s for s in definition["Steps"]}


def _parameter_resolver(definition: Mapping[str, Any], parameters: Mapping[str, str]) -> Resolver:
    """Resolves parameter references only (what the baseline's arguments hold)."""

    def no_steps(name: str) -> Mapping[str, Any]:
        raise KeyError(name)

    def unavailable(*args: Any) -> Any:
        raise AssertionError(f"the baseline resolves parameters only, not {args}")

    return Resolver(
        parameters=coerce_parameters(definition.get("Parameters") or [], parameters),
        execution=ExecutionVariables(
            "baseline", "arn:baseline", "arn:baseline/execution/direct", datetime.now(UTC)
        ),
        step_properties=no_steps,
        property_file=unavailable,
        read_json=unavailable,
    )


def _link(link: Path, target: Path) -> None:
    link.parent.mkdir(parents=True, exist_ok=True)
    link.symlink_to(target, target_is_directory=True)


def run_directly(
    definition: Mapping[str, Any],
    parameters: Mapping[str, str],
    data_dir: Path,
    schema_json: str,
    root: Path,
    env: Mapping[str, str],
) -> DirectRun:
    """preprocess -> train -> evaluate, one subprocess each in a plain loop, on local dirs.

    ``root`` plays the container's filesystem, like an executor instance root: the data and
    the code are linked in where the definition's arguments expect them, Train reads
    Preprocess's output dirs in place and Evaluate reads Train's model dir in place (no S3,
    no tarball: that is the executor's cost being measured).
    """
    steps = _definition_steps(definition)
    resolver = _parameter_resolver(definition, parameters)
    instance = Instance("algo-1", root)
    python = sys.executable
    opt_ml = root / "opt" / "ml"

    # Preprocess's inputs, where its arguments point.
    _link(opt_ml / "processing/input/code", CODE_DIR)
    _link(opt_ml / "processing/input/data", data_dir)
    schema_dir = opt_ml / "processing/input/schema"
    schema_dir.mkdir(parents=True)
    (schema_dir / "schema.json").write_text(schema_json)
    config_dir = opt_ml / "config"
    config_dir.mkdir(parents=True)
    (config_dir / "resourceconfig.json").write_text(
        json.dumps(
            {"current_host": "algo-1", "hosts": ["algo-1"], "current_group_name": "homogeneousCluster"}
        )
    )

    # Train: its channels are Preprocess's output dirs; hyperparameters as the executor passes them.
    output = opt_ml / "processing/output"
    hyperparameters = {
        str(k): str(v) for k, v in resolver.resolve(steps[STEP_TRAIN]["Arguments"]["HyperParameters"]).items()
    }
    user_hps = {k: v for k, v in hyperparameters.items() if not k.startswith("sagemaker_")}
    input_config = opt_ml / "input/config"
    input_config.mkdir(parents=True)
    (input_config / "hyperparameters.json").write_text(json.dumps(hyperparameters))
    model_dir = opt_ml / "model"
    model_dir.mkdir(parents=True)
    train_env = {
        "SM_CHANNEL_TRAIN": str(output / "train"),
        "SM_CHANNEL_VALIDATION": str(output / "validation"),
        "SM_MODEL_DIR": str(model_dir),
        "SM_INPUT_CONFIG_DIR": str(input_config),
        "SM_OUTPUT_DIR": str(opt_ml / "output"),
    }
    program = str(training.decode(hyperparameters["sagemaker_program"]))

    # Evaluate: the model dir and test split, in place.
    _link(opt_ml / "processing/model", model_dir)
    _link(opt_ml / "processing/test", output / "test")

    def processing_command(step: str) -> list[str]:
        app = resolver.resolve(steps[step]["Arguments"]["AppSpecification"])
        return local_command(
            [*app["ContainerEntrypoint"], *app.get("ContainerArguments", [])], instance, python
        )

    jobs: list[tuple[str, list[str], Path, dict[str, str]]] = [
        (STEP_PREPROCESS, processing_command(STEP_PREPROCESS), root, {}),
        (STEP_TRAIN, [python, program, *training.cli_args(user_hps)], CODE_DIR, train_env),
        (STEP_EVALUATE, processing_command(STEP_EVALUATE), root, {}),
    ]
    base_env = base_environment(env)
    per_script: dict[str, float] = {}
    started = time.perf_counter()
    for step, command, cwd, extra in jobs:
        t0 = time.perf_counter()
        with open(root / f"{step}.log", "wb") as log:
            code = subprocess.call(
                command, cwd=cwd, env={**base_env, **extra}, stdout=log, stderr=subprocess.STDOUT
            )
        per_script[step] = time.perf_counter() - t0
        if code != 0:
            tail = (root / f"{step}.log").read_text(errors="replace")[-2000:]
            raise AssertionError(f"baseline {step} exited {code}:\n{tail}")
    seconds = time.perf_counter() - started
    return DirectRun(seconds, per_script)


# ---- pipeline runs on the local cloud -------------------------------------------------------------


@dataclass(frozen=True)
class PipelineRun:
    execution_arn: str
    status: str
    seconds: float  # from StartPipelineExecution to a terminal DescribePipelineExecution
    started_at: float  # time.time() just before StartPipelineExecution
    steps: Mapping[str, Mapping[str, Any]]  # ListPipelineExecutionSteps, by name
    failure_reason: str | None = None

    def step_seconds(self, name: str) -> float:
        step = self.steps[name]
        return float((step["EndTime"] - step["StartTime"]).total_seconds())

    def cache_hit(self, name: str) -> bool:
        return "CacheHitResult" in self.steps[name]


def upload_input(cfg: DualloopConfig, data_dir: Path, label: str) -> str:
    """Upload a dataset dir once; its InputDataUri."""
    s3 = boto3.client("s3")
    bucket = Names(cfg).raw_bucket
    prefix = f"manual/bench-{label}-{uuid.uuid4().hex[:8]}/"
    for path in sorted(p for p in data_dir.rglob("*") if p.is_file()):
        s3.upload_file(str(path), bucket, prefix + str(path.relative_to(data_dir)))
    return f"s3://{bucket}/{prefix}"


def new_pipeline(cfg: DualloopConfig, definition: str) -> str:
    """A new pipeline (own name, so its own step cache) with the project's definition."""
    name = f"{Names(cfg).pipeline}-bench-{uuid.uuid4().hex[:6]}"
    boto3.client("sagemaker").create_pipeline(
        PipelineName=name,
        PipelineDefinition=definition,
        RoleArn=Names(cfg).sagemaker_role_arn,
        ClientRequestToken=uuid.uuid4().hex,
    )
    return name


def run_pipeline(pipeline: str, parameters: Mapping[str, str], timeout: float = 3600) -> PipelineRun:
    """StartPipelineExecution, then poll every ``POLL_SECONDS`` until the execution ends."""
    sm = boto3.client("sagemaker")
    started_at = time.time()
    t0 = time.perf_counter()
    arn = sm.start_pipeline_execution(
        PipelineName=pipeline,
        PipelineParameters=[{"Name": k, "Value": v} for k, v in parameters.items()],
        ClientRequestToken=uuid.uuid4().hex,
    )["PipelineExecutionArn"]
    while True:
        described = sm.describe_pipeline_execution(PipelineExecutionArn=arn)
        status = described["PipelineExecutionStatus"]
        if status in TERMINAL:
            break
        if time.perf_counter() - t0 > timeout:
            raise AssertionError(f"{arn} still {status} after {timeout:g} s")
        time.sleep(POLL_SECONDS)
    seconds = time.perf_counter() - t0
    listed = sm.list_pipeline_execution_steps(PipelineExecutionArn=arn, SortOrder="Ascending")
    steps = {s["StepName"]: dict(s) for s in listed["PipelineExecutionSteps"]}
    return PipelineRun(arn, status, seconds, started_at, steps, described.get("FailureReason"))


# ---- where the executor's time goes -------------------------------------------------------------


@dataclass
class Probe:
    """Wall time of what the executor does per job step: the job subprocesses, the S3
    transfers, the tarball. Wraps the functions the step executors call (timing only)."""

    records: list[tuple[float, str, float]] = field(default_factory=list)  # (started, what, seconds)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def wrap(self, what: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            started, t0 = time.time(), time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                with self.lock:
                    self.records.append((started, what, time.perf_counter() - t0))

        return timed

    def install(self, monkeypatch: pytest.MonkeyPatch) -> Probe:
        for name in ("download_prefix", "upload_dir", "upload_file", "tar_dir", "extract_tar"):
            monkeypatch.setattr(s3io, name, self.wrap(name, getattr(s3io, name)))
        for module in (processing, training):
            monkeypatch.setattr(module, "run_instances", self.wrap("subprocess", module.run_instances))
        monkeypatch.setattr(training, "_fetch_code", self.wrap("fetch_code", training._fetch_code))
        return self

    def clear(self) -> None:
        with self.lock:
            self.records.clear()

    def split(self, run: PipelineRun) -> ExecutorSplit:
        """Where ``run``'s time went: each record goes to the step whose window holds it."""
        spent: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
        windows = [
            (name, s["StartTime"].timestamp(), s["EndTime"].timestamp())
            for name, s in run.steps.items()
            if s.get("EndTime")
        ]
        with self.lock:
            records = list(self.records)
        for started, what, seconds in records:
            step = next((n for n, a, b in windows if a - 0.01 <= started <= b), "?")
            spent[step][what] += seconds
        steps = []
        for name in run.steps:
            parts = spent.get(name, {})
            steps.append(
                StepSplit(
                    step=name,
                    wall=run.step_seconds(name),
                    subprocess=parts.get("subprocess", 0.0),
                    transfers=sum(parts.get(k, 0.0) for k in _TRANSFERS),
                    tarball=parts.get("tar_dir", 0.0) + parts.get("extract_tar", 0.0),
                )
            )
        return ExecutorSplit(run, tuple(steps))


_TRANSFERS = ("download_prefix", "upload_dir", "upload_file", "fetch_code")


@dataclass(frozen=True)
class StepSplit:
    step: str
    wall: float  # StartTime -> EndTime of the step record
    subprocess: float  # the job's script(s), start to exit
    transfers: float  # S3 downloads and uploads through the local cloud
    tarball: float  # model.tar.gz packed, sourcedir.tar.gz unpacked

    @property
    def rest(self) -> float:
        """Job registration, config files, cache lookup and record, step events."""
        return self.wall - self.subprocess - self.transfers - self.tarball


@dataclass(frozen=True)
class ExecutorSplit:
    run: PipelineRun
    steps: tuple[StepSplit, ...]

    @property
    def subprocess(self) -> float:
        return sum(s.subprocess for s in self.steps)

    @property
    def added(self) -> float:
        """Everything but the job scripts: what the executor adds to running them."""
        return self.run.seconds - self.subprocess

    @property
    def outside_steps(self) -> float:
        """Start to first step, gaps between steps, last step to a terminal Describe (polled)."""
        return self.run.seconds - sum(s.wall for s in self.steps)


# ---- peak memory of the process tree ------------------------------------------------------------


@dataclass
class RssSampler:
    """Samples RSS of this process and all its descendants every ``interval`` seconds.

    A job process's own peak is its ``VmHWM`` (/proc/<pid>/status: the kernel's high-water
    mark of that process's RSS since exec), so a spike between samples is not missed.
    ``getrusage(RUSAGE_CHILDREN).ru_maxrss`` would not do: at exec the kernel keeps the
    forked child's pre-exec high-water mark, which is this process's size, so it reports
    the parent (the local cloud and its in-memory S3), not the largest job.
    """

    interval: float = 0.05
    peak_jobs_mb: float = 0.0  # the sum over live job processes (the three scripts), at its peak
    peak_others_mb: float = 0.0  # the sum over other descendants (the local cloud's own), at its peak
    peak_self_mb: float = 0.0  # this process: the local cloud (moto's S3 included) and the executor
    peak_tree_mb: float = 0.0  # this process + every descendant, at the peak of the sum
    peak_by_script: dict[str, float] = field(default_factory=dict)  # VmHWM per job script
    others: set[str] = field(default_factory=set)  # what the other descendants were
    samples: int = 0
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    @property
    def peak_job_mb(self) -> float:
        """The job processes' peak: the larger of their sampled sum and any one job's VmHWM."""
        return max([self.peak_jobs_mb, *self.peak_by_script.values()])

    def _sample(self) -> None:
        import psutil  # via sagemaker-serve; imported here so collecting this module never needs it

        me = psutil.Process()
        while not self._stop.is_set():
            try:
                own = me.memory_info().rss
                jobs = others = 0
                for child in me.children(recursive=True):
                    try:
                        rss = child.memory_info().rss
                        argv = child.cmdline()
                        script = next((s for s in SCRIPTS.values() if s in " ".join(argv)), None)
                        if script is None:
                            others += rss
                            self.others.add(" ".join(Path(a).name for a in argv[:2])[:60])
                            continue
                        jobs += rss
                        peak = max(rss, _high_water_mark(child.pid)) / 2**20
                        self.peak_by_script[script] = max(self.peak_by_script.get(script, 0.0), peak)
                    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess, OSError):
                        continue
            except psutil.Error:
                continue
            self.samples += 1
            self.peak_self_mb = max(self.peak_self_mb, own / 2**20)
            self.peak_jobs_mb = max(self.peak_jobs_mb, jobs / 2**20)
            self.peak_others_mb = max(self.peak_others_mb, others / 2**20)
            self.peak_tree_mb = max(self.peak_tree_mb, (own + jobs + others) / 2**20)
            self._stop.wait(self.interval)

    @contextmanager
    def running(self) -> Iterator[RssSampler]:
        self._thread = threading.Thread(target=self._sample, name="rss-sampler", daemon=True)
        self._thread.start()
        try:
            yield self
        finally:
            self._stop.set()
            self._thread.join()


def _high_water_mark(pid: int) -> int:
    """``VmHWM`` of a process in bytes (0 where /proc does not say)."""
    with open(f"/proc/{pid}/status", encoding="ascii", errors="replace") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return 0

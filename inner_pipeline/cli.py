"""``dualloop data generate`` and ``dualloop inner run | definition | upsert | cache-plan``.
(Over 400 lines: the inner loop's commands share one set of options, input checks and cloud
handling; a module per command would pass them all back and forth.)

The inner loop from a terminal, on the local cloud (the cloud ``AWS_ENDPOINT_URL`` names,
else one started in this process for the command) or, with ``DUALLOOP_TARGET=aws``, on AWS.

``inner run`` provisions the local twin of the stack, upserts the pipeline, stages the input
and starts an execution, printing each step (status, cache hit, duration) as it goes.
Local input (a file or folder, or ``--rows`` demo rows, seed 0) is uploaded to a prefix
named after its content (``s3://<raw bucket>/manual/inner-<sha256>/``): the same data is the
same ``InputDataUri``, so a second run hits the cache (ARCHITECTURE rule 5), and
``inner cache-plan`` with the same options predicts that run without uploading anything.

A data scientist's own SDK code runs unchanged against ``dualloop local up`` (after
``eval "$(dualloop local env)"``), because the SDK's clients honour ``AWS_ENDPOINT_URL``::

    from inner_pipeline.pipeline import build_pipeline, pipeline_session
    from shared.config import load_config
    from shared.naming import Names
from shared.pipeline_outcome import failure_reason, outcome_of
from shared.target import Target

    cfg = load_config()
    pipeline = build_pipeline(cfg, pipeline_session(cfg))
    pipeline.upsert(role_arn=Names(cfg).sagemaker_role_arn)
    execution = pipeline.start(parameters={"MaxDepth": 7})
    execution.wait(delay=2)
    for step in execution.list_steps():
        print(step["StepName"], step["StepStatus"], step.get("CacheHitResult"))

(``tests/functional/test_inner_cli.py`` runs exactly this.)
"""

from __future__ import annotations

import hashlib
import json
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager, redirect_stdout
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import boto3
import typer
from rich.markup import escape

from inner_pipeline.cache_plan import (
    CacheHistory,
    CachePlan,
    History,
    Outcome,
    ParameterError,
    StoreHistory,
    check_parameters,
    parse_assignments,
    plan_cache,
    store_from_history,
)
from shared.cli_support import (
    config_or_exit,
    console,
    local_cloud_for_command,
    out,
    provision_local_stack,
    quiet_libraries,
)
from shared.column_names import HeaderClashError, column_names
from shared.config import DualloopConfig
from shared.local_cloud.sagemaker.errors import LocalExecutorError
from shared.naming import Names
from shared.pipeline_outcome import failure_reason, outcome_of
from shared.polling import NeverHappened, wait_until
from shared.target import Target

if TYPE_CHECKING:
    from mypy_boto3_sagemaker import SageMakerClient

    from shared.local_cloud.sagemaker.cache import InMemoryStepCache


DEFAULT_ROWS = 5000
DEMO_SEED = 0
TERMINAL = frozenset({"Succeeded", "Failed", "Stopped"})
_COLOURS = {"Succeeded": "green", "Failed": "red", "Stopped": "red", "Executing": "yellow"}

data_app = typer.Typer(help="Demo data.", no_args_is_help=True)
inner_app = typer.Typer(
    help="The inner loop (the SageMaker pipeline) on its own: run, plan the cache, upsert.",
    no_args_is_help=True,
)

ConfigOption = Annotated[Path | None, typer.Option(help="YAML/TOML config file.")]
ParamOption = Annotated[
    list[str] | None,
    typer.Option("--param", "-p", help="A pipeline parameter, NAME=VALUE (repeatable).", show_default=False),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print one JSON document, no progress.")]
InputOption = Annotated[
    str | None,
    typer.Option("--input", help="The InputDataUri: an s3:// URI, or a local file/folder to upload."),
]
RowsOption = Annotated[
    int | None,
    typer.Option(min=1, help=f"Without --input: demo transactions to generate [default: {DEFAULT_ROWS}]."),
]


def fail(message: str, code: int = 2) -> typer.Exit:
    console.print(f"[red]{escape(message)}[/red]")
    return typer.Exit(code)


# ---- data generate --------------------------------------------------------------------------------


class DataFormat(StrEnum):
    csv = "csv"
    parquet = "parquet"


@data_app.command("generate")
def generate(
    rows: Annotated[int, typer.Option(min=1, help="How many transactions.")],
    out_dir: Annotated[Path, typer.Option("--out", help="Directory for part-00000.<format>, ...")],
    seed: Annotated[int, typer.Option(min=0, help="Same seed, same rows.")] = 0,
    drift: Annotated[
        float, typer.Option(min=0.0, help="0 = training-time world, 1 = clearly drifted.")
    ] = 0.0,
    fmt: Annotated[DataFormat, typer.Option("--format", help="File format.")] = DataFormat.csv,
    files: Annotated[int, typer.Option(min=1, help="Split into this many files.")] = 1,
) -> None:
    """Write synthetic credit-card transactions with fraud labels (the default dataset schema)."""
    from shared.demo_data import generate_transactions, write_dataset

    if files > rows:
        raise typer.BadParameter(
            f"{files} files cannot split {rows} rows (at most one file per row)", param_hint="'--files'"
        )
    if out_dir.exists() and not out_dir.is_dir():
        raise typer.BadParameter(f"{out_dir} exists and is not a directory", param_hint="--out")
    try:
        written = write_dataset(
            generate_transactions(rows, seed=seed, drift=drift), out_dir, fmt.value, files
        )
    except ValueError as exc:  # drift nan/inf: the generator names it
        raise fail(str(exc)) from None
    except OSError as exc:  # a read-only or missing parent, a full disk
        raise fail(
            f"--out: cannot write to {out_dir} ({exc.strerror or exc}): choose another folder"
        ) from None
    for path in written:
        typer.echo(str(path))
    console.print(f"{rows} transactions (seed {seed}, drift {drift:g}) in {len(written)} {fmt.value} file(s)")


# ---- shared plumbing ------------------------------------------------------------------------------


def _params_or_exit(pairs: list[str] | None) -> dict[str, str]:
    try:
        return parse_assignments(pairs or [])
    except ParameterError as exc:
        raise fail(f"--param: {exc}") from None


def _check_or_exit(definition: dict[str, Any], given: dict[str, str], metric: str) -> dict[str, Any]:
    try:
        values = check_parameters(definition, given)
    except ParameterError as exc:
        raise fail(f"--param: {exc}") from None
    if "MetricThreshold" in given:  # a threshold no model can reach fails every run, late, at the gate
        from pydantic import ValidationError

        from shared.config import Quality

        try:
            Quality(metric=metric, threshold=values["MetricThreshold"])
        except ValidationError as exc:
            raise fail(
                f"--param MetricThreshold={given['MetricThreshold']}: "
                f"{exc.errors()[0]['msg'].removeprefix('Value error, ')} (quality.metric names the gate's metric)"
            ) from None
    return values


def declared_definition(cfg: DualloopConfig) -> dict[str, Any]:
    """The parameters part of the definition this checkout would upsert, without building it."""
    from inner_pipeline.pipeline import declared_parameters

    return {"Parameters": declared_parameters(cfg)}


def _provisioned(cfg: DualloopConfig) -> None:
    """Provision only if the artifact bucket is missing: enough for commands that just build."""
    from botocore.exceptions import ClientError

    try:
        _session(cfg).client("s3").head_bucket(Bucket=Names(cfg).artifact_bucket)
    except ClientError:
        provision_local_stack(cfg)


def _session(cfg: DualloopConfig) -> boto3.Session:
    return boto3.Session(region_name=cfg.region)


@contextmanager
def _cloud() -> Iterator[bool]:
    """The cloud for one command; yields True when it was started here (and so is empty).

    Meanwhile stdout goes to stderr: the in-process cloud's Lambdas log to stdout (as on
    AWS, where that is CloudWatch), and stdout is for the command's result (``--json | jq``).
    """
    started = not Target.current().is_named
    with ExitStack() as stack, redirect_stdout(sys.stderr):
        local_cloud_for_command(stack)
        yield started


def _check_input_options(given: dict[str, str], data: str | None, rows: int | None) -> None:
    if data is not None and rows is not None:
        raise fail("--input and --rows are alternatives: give one")
    if "InputDataUri" in given and (data is not None or rows is not None):
        raise fail("--param InputDataUri and --input/--rows are alternatives: give one")


_DATA_SUFFIXES = (".csv", ".parquet", ".pq")  # what the Preprocess script reads


def check_local_input(cfg: DualloopConfig, data: str | None) -> None:
    """Fail in a second, before any cloud starts, on local input the Preprocess step would
    reject anyway: no such path, no data files, an unreadable header, missing columns.

    Only headers are read (values are the Preprocess step's to check, with their line numbers),
    exactly as the script reads them, so what passes here is what it accepts.
    """
    if data is None or data.startswith("s3://"):
        return
    source = Path(data)
    if not source.exists():
        raise fail(f"--input: no file or folder at {source}: give a CSV or Parquet file, or a folder of them")
    if source.is_file():
        if source.suffix.lower() not in _DATA_SUFFIXES:
            raise fail(f"--input: {source} is not a .csv or .parquet file, the only kinds the pipeline reads")
        files = [source]
    else:
        files = sorted(p for p in source.rglob("*") if p.is_file() and p.suffix.lower() in _DATA_SUFFIXES)
        if not files:
            raise fail(f"--input: {source} holds no CSV or Parquet files: add some, or name a file")
    schema = cfg.dataset
    required = [schema.id_column, schema.target_column, *schema.feature_names]
    for file in files:
        header = _header(file)
        try:
            names = column_names(header)  # the header rule Preprocess applies
        except HeaderClashError as exc:
            raise fail(f"--input: {file}: {exc}") from None
        absent = [c for c in required if c not in names]
        if schema.generate_id and absent == [schema.id_column]:
            raise fail(
                f"--input: {file} has no id column {schema.id_column} (dataset.generate_id): ingest adds it, "
                "and `inner run` reads the data as it is: run the dual loop (`dualloop run --data ...`), "
                "or add the id column to the file"
            )
        if absent:
            raise fail(
                f"--input: {file} lacks the column(s) {', '.join(absent)} "
                f"(it has {', '.join(header) or 'none'}): give data with the dataset's columns"
            )


def _header(file: Path) -> list[str]:
    import pandas as pd
    import pyarrow.parquet as pq

    try:
        if file.suffix.lower() in (".parquet", ".pq"):
            return list(pq.read_schema(file).names)
        # The header row as written, as Preprocess reads it (pandas renames blank and repeated ones).
        return [
            str(c) for c in pd.read_csv(file, header=None, nrows=1, dtype=str, keep_default_na=False).iloc[0]
        ]
    except pd.errors.EmptyDataError:
        raise fail(f"--input: {file} is empty: a CSV file needs a header row and data rows") from None
    except (pd.errors.ParserError, UnicodeDecodeError, OSError, ValueError) as exc:
        reason = " ".join(str(exc).split())
        raise fail(
            f"--input: cannot read {file} ({reason}): give a CSV file with a header row, or Parquet"
        ) from None


def _data_digest(source: Path) -> str:
    """SHA-256 over the files ``upload_data`` uploads (names and bytes)."""
    files = [source] if source.is_file() else sorted(p for p in source.rglob("*") if p.is_file())
    digest = hashlib.sha256()
    for file in files:
        relative = file.name if source.is_file() else file.relative_to(source).as_posix()
        digest.update(relative.encode() + b"\0" + file.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def input_uri(cfg: DualloopConfig, data: str | None, rows: int | None, *, upload: bool) -> str:
    """The InputDataUri for ``--input`` / ``--rows``: content-addressed for local data."""
    if data is not None and data.startswith("s3://"):
        return data
    with tempfile.TemporaryDirectory() as tmp:
        if data is not None:
            source = Path(data)
            if not source.exists():
                raise fail(f"--input: no file or folder at {source}")
        else:
            from shared.demo_data import generate_transactions, write_dataset

            source = Path(tmp) / "demo"
            write_dataset(generate_transactions(rows or DEFAULT_ROWS, seed=DEMO_SEED), source)
        if source.is_dir() and not any(p.is_file() for p in source.rglob("*")):
            raise fail(f"--input: {source} holds no files")
        run_id = f"inner-{_data_digest(source)}"
        if upload:
            from inner_pipeline.inputs import stage_input

            return stage_input(cfg, source, run_id, s3=_session(cfg).client("s3"))
        return f"s3://{Names(cfg).curated_bucket}/manual/{run_id}/"


# ---- inner run ------------------------------------------------------------------------------------


@dataclass
class InnerRun:
    execution_arn: str
    status: str
    input_uri: str
    parameters: dict[str, str]
    seconds: float = 0.0
    steps: list[dict[str, Any]] = field(default_factory=list)
    model_package_arn: str | None = None
    metrics: dict[str, float] = field(default_factory=dict)
    failure_reason: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _step_info(step: dict[str, Any]) -> dict[str, Any]:
    info: dict[str, Any] = {
        "name": step["StepName"],
        "status": step["StepStatus"],
        "cache_hit": "CacheHitResult" in step,
        "source_execution_arn": (step.get("CacheHitResult") or {}).get("SourcePipelineExecutionArn"),
        "seconds": None,
        "failure_reason": step.get("FailureReason"),
    }
    if step.get("StartTime") and step.get("EndTime"):
        info["seconds"] = round((step["EndTime"] - step["StartTime"]).total_seconds(), 2)
    return info


def _show_step(info: dict[str, Any]) -> None:
    colour = _COLOURS.get(info["status"], "white")
    hit = " [cyan](cache hit)[/cyan]" if info["cache_hit"] else ""
    seconds = f" {info['seconds']:.2f}s" if info["seconds"] is not None else ""
    console.print(f"  {info['name']:<22} [{colour}]{info['status']}[/{colour}]{hit}{seconds}")
    if info["failure_reason"]:
        console.print(f"    [red]{escape(info['failure_reason'])}[/red]")


def follow(
    sagemaker: SageMakerClient,
    execution_arn: str,
    *,
    poll_seconds: float,
    timeout_seconds: float,
    on_step: Callable[[dict[str, Any]], None] = lambda _: None,
) -> tuple[str, list[dict[str, Any]]]:
    """Poll until the execution ends; ``on_step`` sees every step status change. Returns the
    final status and the steps in start order."""
    seen: dict[str, str] = {}
    status = "Executing"

    def ended() -> tuple[str, list[dict[str, Any]]] | None:
        nonlocal status
        # Status first, then steps: once the status is final, the steps read after it are too.
        status = sagemaker.describe_pipeline_execution(PipelineExecutionArn=execution_arn)[
            "PipelineExecutionStatus"
        ]
        paginator = sagemaker.get_paginator("list_pipeline_execution_steps")
        steps = [
            _step_info(dict(s))
            for page in paginator.paginate(PipelineExecutionArn=execution_arn, SortOrder="Ascending")
            for s in page["PipelineExecutionSteps"]
        ]
        for info in steps:
            if seen.get(info["name"]) != info["status"]:
                seen[info["name"]] = info["status"]
                on_step(info)
        return (status, steps) if status in TERMINAL else None

    try:
        return wait_until(
            ended, what=f"the end of {execution_arn}", timeout=timeout_seconds, interval=poll_seconds
        )
    except NeverHappened:
        raise fail(f"{execution_arn} still {status} after {timeout_seconds:g} s", code=1) from None


@inner_app.command("run")
def run(
    data: InputOption = None,
    rows: RowsOption = None,
    param: ParamOption = None,
    as_json: JsonOption = False,
    config: ConfigOption = None,
) -> None:
    """Run the pipeline once: provision, upsert, stage the input, start, follow to the end."""
    from inner_pipeline.upsert import upsert_pipeline

    cfg = config_or_exit(config)
    given = _params_or_exit(param)
    _check_input_options(given, data, rows)
    check_local_input(cfg, data)
    names = Names(cfg)
    # Checked in seconds, before a cloud and an upsert.
    _check_or_exit(declared_definition(cfg), given, cfg.quality.metric)
    with _cloud():
        quiet_libraries()  # the SDK turned the root logger to INFO: keep the terminal for the steps
        provision_local_stack(cfg)
        session = _session(cfg)
        sagemaker = session.client("sagemaker")
        upsert_pipeline(cfg, session)
        quiet_libraries()  # again: building the pipeline loads more of the SDK
        # Checked against what will run: the definition just upserted.
        definition = json.loads(
            sagemaker.describe_pipeline(PipelineName=names.pipeline)["PipelineDefinition"]
        )
        _check_or_exit(definition, given, cfg.quality.metric)
        uri = given.get("InputDataUri") or input_uri(cfg, data, rows, upload=True)
        parameters = {**given, "InputDataUri": uri}
        started = time.monotonic()
        arn = sagemaker.start_pipeline_execution(
            PipelineName=names.pipeline,
            PipelineExecutionDisplayName=f"inner-{uuid.uuid4().hex[:12]}",
            PipelineExecutionDescription="dualloop inner run",
            PipelineParameters=[{"Name": k, "Value": v} for k, v in parameters.items()],
            ClientRequestToken=uuid.uuid4().hex,
        )["PipelineExecutionArn"]
        if not as_json:
            console.print(f"[bold]inner run[/bold] {arn}\n  input: {uri}")
        status, steps = follow(
            sagemaker,
            arn,
            poll_seconds=15.0 if Target.current().is_aws else 0.25,
            timeout_seconds=cfg.pipeline_timeout_seconds,
            on_step=(lambda _: None) if as_json else _show_step,
        )
        result = InnerRun(arn, status, uri, parameters, round(time.monotonic() - started, 2), steps)
        if status == "Succeeded":
            outcome = outcome_of(sagemaker, session.client("s3"), arn)
            if outcome is not None:
                result.model_package_arn, result.metrics = outcome.model_package_arn, dict(outcome.metrics)
        else:
            result.failure_reason = failure_reason(sagemaker, arn)
    _summarise(result, as_json)
    raise typer.Exit(0 if result.status == "Succeeded" else 1)


def _summarise(result: InnerRun, as_json: bool) -> None:
    if as_json:
        typer.echo(json.dumps(result.as_dict(), default=str, indent=2))
        return
    colour = _COLOURS.get(result.status, "white")
    hits = sum(1 for s in result.steps if s["cache_hit"])
    console.print(
        f"\n[bold {colour}]{result.status}[/bold {colour}] in {result.seconds:.1f}s "
        f"({hits} cache hit{'s' if hits != 1 else ''})"
    )
    if result.model_package_arn:
        console.print(f"  model package: {result.model_package_arn}")
        metrics = ", ".join(f"{k} {v:.4f}" for k, v in sorted(result.metrics.items()))
        if metrics:
            console.print(f"  metrics: {metrics}")
    if result.failure_reason:
        from shared.outcome_advice import explain_outcome

        console.print(f"  [red]{escape(result.failure_reason)}[/red]")
        console.print(f"  {escape(explain_outcome('InnerPipelineFailed', result.failure_reason) or '')}")


# ---- inner definition / upsert --------------------------------------------------------------------


@inner_app.command("definition")
def definition_cmd(
    out_file: Annotated[Path | None, typer.Option("--out", help="Write it here instead of stdout.")] = None,
    config: ConfigOption = None,
) -> None:
    """Print the pipeline definition JSON: byte for byte what is upserted and what runs."""
    from inner_pipeline.pipeline import pipeline_definition

    cfg = config_or_exit(config)
    with _cloud():
        _provisioned(cfg)  # the code and schema uploads need the artifact bucket
        text = pipeline_definition(cfg)
    if out_file is None:
        typer.echo(text)
        return
    out_file.parent.mkdir(parents=True, exist_ok=True)
    out_file.write_text(text)
    console.print(f"wrote {out_file} ({len(text)} bytes)")


@inner_app.command("upsert")
def upsert_cmd(config: ConfigOption = None) -> None:
    """Create or update the pipeline where AWS_ENDPOINT_URL points (AWS only with DUALLOOP_TARGET=aws)."""
    from inner_pipeline.upsert import upsert_pipeline

    cfg = config_or_exit(config)
    target = Target.current()
    endpoint = target.endpoint_url
    if not target.is_named:
        # Upserting into a cloud that lives for one command would be lost at once, and
        # without an endpoint the next stop is a real account: neither is what was meant.
        raise fail(
            "AWS_ENDPOINT_URL is not set: start a local cloud (`dualloop local up`, then "
            '`eval "$(dualloop local env)"`), or set DUALLOOP_TARGET=aws to upsert to your AWS account.'
        )
    provision_local_stack(cfg)
    arn = upsert_pipeline(cfg, _session(cfg))
    typer.echo(arn)
    console.print(f"upserted at {endpoint or f'AWS ({cfg.region})'}")


# ---- inner cache-plan -----------------------------------------------------------------------------


def _live_store(endpoint: str | None) -> tuple[InMemoryStepCache, datetime] | None:
    """The step cache of the local cloud running in this process, on its clock, if that cloud
    is the one AWS_ENDPOINT_URL names."""
    from shared.local_cloud.cloud import running
    from shared.local_cloud.sagemaker import worker

    cloud = running()
    if cloud is None or cloud.endpoint != endpoint:
        return None
    cache = worker.step_cache(cloud)
    return (cache, cloud.now()) if cache is not None else None


def cache_store(
    sagemaker: SageMakerClient, pipeline_name: str, *, history: int
) -> tuple[CacheHistory, datetime, str]:
    """The store a plan consults, the time to measure ages at, and a note on where it came from."""
    live = _live_store(Target.current().endpoint_url)
    if live is not None:
        return StoreHistory(live[0]), live[1], "the local cloud's step cache"
    try:
        rebuilt = store_from_history(sagemaker, pipeline_name, max_executions=history)
    except sagemaker.exceptions.ResourceNotFound:
        rebuilt = None
    except sagemaker.exceptions.ClientError as exc:
        if exc.response.get("Error", {}).get("Code") != "ValidationException":  # moto: no such pipeline
            raise
        rebuilt = None
    if rebuilt is None:
        return StoreHistory(History().store), datetime.now(UTC), "no executions (the pipeline does not exist)"
    note = f"rebuilt from {rebuilt.entries} step run(s) in the last {rebuilt.executions} execution(s)"
    return StoreHistory(rebuilt.store), datetime.now(UTC), note


@inner_app.command("cache-plan")
def cache_plan_cmd(
    data: InputOption = None,
    rows: RowsOption = None,
    param: ParamOption = None,
    as_json: JsonOption = False,
    deployed: Annotated[
        bool, typer.Option(help="Plan the upserted definition instead of the one built from this checkout.")
    ] = False,
    history: Annotated[
        int, typer.Option(min=1, help="Executions to read when the cache is rebuilt from history.")
    ] = 20,
    config: ConfigOption = None,
) -> None:
    """Which steps will hit the cache for these parameters, and why the others will not.

    Takes the same input options as `inner run` and answers for that run, without running it.
    """
    from inner_pipeline.pipeline import pipeline_definition

    cfg = config_or_exit(config)
    given = _params_or_exit(param)
    _check_input_options(given, data, rows)
    names = Names(cfg)
    with _cloud() as fresh:
        _provisioned(cfg)
        sagemaker = _session(cfg).client("sagemaker")
        if deployed:
            try:
                text = sagemaker.describe_pipeline(PipelineName=names.pipeline)["PipelineDefinition"]
            except sagemaker.exceptions.ClientError:
                raise fail(
                    f"no pipeline {names.pipeline} here yet: `dualloop inner upsert` creates it"
                ) from None
        else:
            text = pipeline_definition(cfg)
        definition = json.loads(text)
        _check_or_exit(definition, given, cfg.quality.metric)
        parameters = {
            **given,
            "InputDataUri": given.get("InputDataUri") or input_uri(cfg, data, rows, upload=False),
        }
        store, now, source = cache_store(sagemaker, names.pipeline, history=history)
        try:
            plan = plan_cache(
                definition,
                parameters,
                store,
                now,
                pipeline_name=names.pipeline,
                pipeline_arn=names.pipeline_arn,
            )
        except LocalExecutorError as exc:  # what the executor would refuse to run, e.g. a bad ExpireAfter
            raise fail(f"cannot plan this definition: {exc}") from None
    if fresh:
        source += (
            "; a local cloud started for this command has no history (keep one with `dualloop local up`)"
        )
    if as_json:
        typer.echo(json.dumps({**plan.as_dict(), "store": source}, default=str, indent=2))
        return
    show_plan(plan, source)


_OUTCOME_COLOURS = {
    Outcome.HIT: "green",
    Outcome.MISS: "yellow",
    Outcome.RUNS: "blue",
    Outcome.UNKNOWN: "red",
}


def show_plan(plan: CachePlan, source: str) -> None:
    out.print(f"[bold]cache plan[/bold] for {plan.pipeline_name} (store: {escape(source)})")
    out.print(f"  InputDataUri = {plan.parameters.get('InputDataUri')}")
    width = max(len(s.name) for s in plan.steps) + 2
    for step in plan.steps:
        colour = _OUTCOME_COLOURS[step.outcome]
        branch = f" (only if {step.branch})" if step.branch else ""
        outcome = step.outcome.value.split()[0]
        out.print(
            f"  {step.name:<{width}}[{colour}]{outcome:<5}[/{colour}] {escape(step.reason)}{escape(branch)}"
        )
    cacheable = [s for s in plan.steps if s.outcome is not Outcome.RUNS]
    out.print(f"{len(plan.hits)} of {len(cacheable)} cacheable step(s) will hit")


def register(app: typer.Typer) -> None:
    app.add_typer(data_app, name="data")
    app.add_typer(inner_app, name="inner")

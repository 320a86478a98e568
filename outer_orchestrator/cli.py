"""``dualloop run | status | demo``: the outer loop from a terminal (``approve``/``reject``: approval_cli)."""

from __future__ import annotations

import json
import uuid
from contextlib import ExitStack
from pathlib import Path
from typing import Annotated

import boto3
import typer
from botocore.exceptions import ClientError
from rich.markup import escape

from outer_orchestrator import approval_cli
from outer_orchestrator.handlers.release_lock import HOLDER_ATTRIBUTE, LOCK_KEY
from outer_orchestrator.progress import LiveProgress
from outer_orchestrator.runner import ApprovePolicy, Retrain, RunResult, upload_data
from shared.cli_support import config_or_exit, console, local_cloud_for_command, out, quiet_libraries
from shared.config import DualloopConfig
from shared.data_upload import check_data_path
from shared.naming import Names
from shared.outcome_advice import explain_outcome
from shared.target import Target

# `dualloop run`'s exit code when another retrain holds the lock and this one did nothing
# (README: "Exit codes"); 0 is a retrain that succeeded, 1 one that failed, 2 a usage mistake.
ALREADY_RUNNING = 3


def running_retrain(cfg: DualloopConfig) -> str | None:
    """The execution holding the retrain lock, if Step Functions says it is still RUNNING."""
    names = Names(cfg)
    try:
        item = (
            boto3.client("dynamodb", region_name=cfg.region)
            .get_item(TableName=names.lock_table, Key=LOCK_KEY, ConsistentRead=True)
            .get("Item")
        )
        if not item or HOLDER_ATTRIBUTE not in item:
            return None
        holder = str(item[HOLDER_ATTRIBUTE]["S"])
        status = boto3.client("stepfunctions", region_name=cfg.region).describe_execution(executionArn=holder)
    except ClientError as exc:
        if exc.response["Error"]["Code"] in ("ResourceNotFoundException", "ExecutionDoesNotExist"):
            return None  # not provisioned yet, or a lock whose execution is gone: AcquireLock decides
        raise
    return holder if status["status"] == "RUNNING" else None


def already_running(holder: str | None, as_json: bool) -> typer.Exit:
    """Say that this start did nothing (another retrain holds the lock) and exit ALREADY_RUNNING."""
    message = (
        f"AlreadyRunning: retrain {holder or '(another execution)'} holds the lock, so this one did nothing; "
        "follow it with `dualloop status` and run again once it has ended."
    )
    if as_json:
        typer.echo(json.dumps({"status": "AlreadyRunning", "holder": holder, "message": message}, indent=2))
    else:
        console.print(f"[yellow]{escape(message)}[/yellow]")
    return typer.Exit(ALREADY_RUNNING)


def provision_local(cfg: DualloopConfig) -> None:
    if Target.current().is_aws:
        return  # on AWS, `make deploy` (CDK) provisions
    from inner_pipeline.upsert import upsert_pipeline
    from outer_orchestrator.local_stack import LocalStack

    quiet_libraries()
    LocalStack(cfg).provision()
    upsert_pipeline(cfg)
    quiet_libraries()  # again: building the pipeline loads more of the SDK


def summarise(result: RunResult, as_json: bool) -> None:
    if as_json:
        typer.echo(json.dumps(result.as_dict(), default=str, indent=2))
        return
    colour = "green" if result.status == "SUCCEEDED" else "red"
    console.print(
        f"\n[bold {colour}]{result.status}[/bold {colour}] {result.execution_arn} in {result.seconds:.1f}s"
    )
    if result.quality:
        q = result.quality
        console.print(
            f"  data quality: {'passed' if q.get('passed') else 'FAILED'}, score {q.get('score', 0):.2f}"
        )
        for rule in q.get("failed_rules", []):
            console.print(f"    [red]failed:[/red] {rule}")
    if result.model_package_arn:
        console.print(f"  model package: {result.model_package_arn} ({result.approval or 'no decision'})")
    if result.error:
        console.print(f"  [red]{result.error}[/red]: {escape(short_cause(result.cause))}")
        next_step = explain_outcome(result.error, result.cause)
        if next_step:
            console.print(f"  [bold]next:[/bold] {escape(next_step)}")
    transitions = result.state_transitions - result.polling_transitions
    console.print(
        f"  state transitions: {result.state_transitions} ({transitions} excluding endpoint polling) "
        f"≈ ${result.state_transitions * 0.025 / 1000:.5f} on Step Functions Standard"
    )


def short_cause(cause: str | None) -> str:
    """What a person reads of a failed task's cause.

    A service integration's cause is often the service's whole response, e.g. a failed Glue
    run as JSON (arguments, schema and all); its message is what matters.
    """
    if not cause:
        return ""
    prefix, text = "", cause
    head, sep, rest = cause.partition(": ")
    if sep and rest.lstrip().startswith("{"):
        prefix, text = f"{head}: ", rest  # FormatStatesFailure's "States.X: <cause>"
    try:
        data = json.loads(text)
    except ValueError:
        return cause if len(cause) <= _MAX_CAUSE else cause[:_MAX_CAUSE] + " …"
    if isinstance(data, dict):
        for key in ("ErrorMessage", "FailureReason", "errorMessage", "Cause", "message"):
            if data.get(key):
                source = data.get("JobName") or data.get("errorType")
                return f"{prefix}{f'{source}: ' if source else ''}{data[key]}"
    return cause if len(cause) <= _MAX_CAUSE else cause[:_MAX_CAUSE] + " …"


_MAX_CAUSE = 600


def run(
    data: Annotated[
        str | None, typer.Option(help="Raw data: a local file/folder to upload, or an s3:// URI.")
    ] = None,
    rows: Annotated[
        int, typer.Option(min=1, help="Without --data: how many demo transactions to generate.")
    ] = 20000,
    approve: Annotated[str, typer.Option(help="auto | prompt | wait (for `dualloop approve`).")] = "auto",
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON document, no progress.")] = False,
    config: Annotated[Path | None, typer.Option(help="YAML/TOML config file.")] = None,
    promote_to: Annotated[
        str | None,
        typer.Option(
            "--promote-to",
            help="Then promote the deployed package stage by stage up to this stage (config.stages).",
        ),
    ] = None,
) -> None:
    """Start a retrain (the outer loop) and follow it to the end."""
    if approve not in ("auto", "prompt", "wait"):
        raise typer.BadParameter("use auto, prompt or wait", param_hint="--approve")
    cfg = config_or_exit(config)
    stages = _promotion_stages(cfg, promote_to)  # before minutes of provisioning, not after
    if data and not data.startswith("s3://"):
        check_data_path(Path(data))  # before minutes of provisioning, not after
    with ExitStack() as stack:
        local_cloud_for_command(stack, warm=True)
        # Before provisioning: re-provisioning replaces the Glue jobs a running retrain is using.
        holder = running_retrain(cfg)
        if holder is not None:
            raise already_running(holder, as_json)
        provision_local(cfg)
        raw_uri = stage_data(cfg, data, rows, run_id := uuid.uuid4().hex[:12])
        result = start_and_follow(cfg, raw_uri, run_id, approve, as_json)  # type: ignore[arg-type]
        if result.status == "SUCCEEDED" and any(s.get("name") == "AlreadyRunning" for s in result.states):
            raise already_running(running_retrain(cfg), as_json)  # started meanwhile: the ASL's lock said so
        if promote_to is None:
            summarise(result, as_json)
            raise typer.Exit(0 if result.status == "SUCCEEDED" else 1)
        if not as_json:  # with --json, one document says the retrain's outcome and the promotion's
            summarise(result, as_json=False)
        promoted = _promote_after(cfg, result, stages, approve, as_json)  # type: ignore[arg-type]
    raise typer.Exit(0 if promoted else 1)


def _promotion_stages(cfg: DualloopConfig, promote_to: str | None) -> list[str]:
    """The stages ``--promote-to`` deploys to after the retrain; exit 2 with one sentence if none."""
    if promote_to is None:
        return []
    from outer_orchestrator.promotion import PromotionError
    from outer_orchestrator.promotion_cli import stages_to

    try:
        return stages_to(cfg, promote_to)
    except PromotionError as exc:
        console.print(f"[red]--promote-to: {escape(str(exc))}.[/red]")
        raise typer.Exit(2) from None


def _promote_after(
    cfg: DualloopConfig, result: RunResult, stages: list[str], approve: ApprovePolicy, as_json: bool
) -> bool:
    """Promote what the retrain deployed through ``stages``; True when every stage serves it.
    Prints each stage's outcome (with ``as_json``, one document: the retrain and each step)."""
    from outer_orchestrator.promotion import PromotionError, PromotionResult
    from outer_orchestrator.promotion_cli import promote_through, stopped_at

    results: list[PromotionResult] = []
    error: str | None = None
    if result.status != "SUCCEEDED" or not result.model_package_arn:
        error = (
            f"the retrain did not deploy a model ({result.error or result.status}), so nothing was promoted"
        )
    else:
        try:
            results = promote_through(
                cfg,
                result.model_package_arn,
                stages,
                approve=approve,
                as_json=as_json,
                on_aws=Target.current().is_aws,
                ask=lambda arn: typer.confirm(f"Approve {arn}?", default=False, err=True),
            )
        except PromotionError as exc:
            error = str(exc)
    stop = stopped_at(results)
    if stop is not None:
        error = f"the promotion stopped at stage {stop.stage} ({stop.status}): {stop.message}"
    if as_json:
        document = {
            "status": "Promoted" if error is None else "Stopped",
            "retrain": result.as_dict(),
            "promotions": [r.as_dict() for r in results],
            "stopped_at": stop.stage if stop is not None else None,
            "message": error,
        }
        typer.echo(json.dumps(document, default=str, indent=2))
    elif error is not None:
        console.print(f"[red]{escape(error)}[/red]")
    else:
        console.print(
            f"[bold green]Promoted[/bold green] {result.model_package_arn} up to stage {stages[-1]}"
        )
    return error is None


def start_and_follow(
    cfg: DualloopConfig, raw_uri: str, run_id: str, approve: ApprovePolicy, as_json: bool
) -> RunResult:
    """Start one retrain on ``raw_uri`` and follow it live (silently with ``as_json``)."""
    retrain = Retrain(cfg)
    execution = retrain.start(raw_uri, name=f"run-{run_id}")

    def ask(arn: str) -> bool:  # on stderr: with --json, stdout holds the document only
        return typer.confirm(f"Approve {arn}?", default=False, err=True)

    if as_json:
        return retrain.follow(execution, approve=approve, ask=ask)
    console.print(f"[bold]retrain[/bold] {execution}\n  data: {raw_uri}")
    with LiveProgress(console) as progress:

        def ask_between_spinners(arn: str) -> bool:
            with progress.paused():
                return ask(arn)

        return retrain.follow(execution, approve=approve, progress=progress, ask=ask_between_spinners)


def stage_data(cfg: DualloopConfig, data: str | None, rows: int, run_id: str) -> str:
    """The raw data's S3 URI: ``data`` if it is one; else ``data`` or ``rows`` demo rows, uploaded."""
    if data and data.startswith("s3://"):
        return data
    if data:
        return upload_data(cfg, Path(data), run_id)
    import tempfile

    from shared.demo_data import generate_transactions, write_dataset

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "transactions.csv"
        write_dataset(generate_transactions(rows, seed=len(run_id)), path)
        return upload_data(cfg, path, run_id)


def status_cmd(
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON document.")] = False,
    config: Annotated[Path | None, typer.Option(help="YAML/TOML config file.")] = None,
    stage: Annotated[str | None, typer.Option(help="A stage of config.stages: what it serves.")] = None,
) -> None:
    """Retrains and their triggers, model packages, the endpoint's traffic split, the latest drift."""
    from rich.table import Table

    from outer_orchestrator.status import collect

    if not Target.current().is_named:
        console.print(
            "[red]No cloud named: start `dualloop local up` and `eval $(dualloop local env)`, "
            "or set DUALLOOP_TARGET=aws.[/red]"
        )
        raise typer.Exit(2)
    if stage is not None:
        from outer_orchestrator.promotion_cli import show_stages

        show_stages(config_or_exit(config), stage, as_json)
        return
    state = collect(config_or_exit(config))
    if as_json:
        typer.echo(json.dumps(state.as_dict(), default=str, indent=2))
        return
    runs = Table("retrain", "trigger", "status", "started", "error", title="retrains")
    for e in state.executions:
        runs.add_row(e["name"], e["trigger"], e["status"], e["started"], e["error"] or "")
    out.print(runs)
    packages = Table("version", "approval", "quality", "deployed to", "rolled back", title="model packages")
    for p in state.packages:
        deployed = p["deployed_to"] or ""
        if deployed:
            deployed += " (serving)" if p["serving"] else " (replaced since)"
        packages.add_row(
            str(p["version"]),
            p["approval"] or "",
            p["quality"] or "",
            deployed,
            escape(p["rolled_back"] or ""),
        )
    out.print(packages)
    if state.endpoint:
        e = state.endpoint
        split = ", ".join(f"{v['name']} {v['weight']}" for v in e["variants"])
        out.print(
            f"endpoint {e['name']}: {e['status']} on {e['config']} ({split})"
            + (f" — {e['failure_reason']}" if e["failure_reason"] else "")
        )
    if state.drift:
        out.print(f"latest drift: {json.dumps(state.drift, default=str)[:400]}")
    if state.lock:
        out.print(f"retrain lock held by {state.lock.get('execution_arn')}")


def demo_cmd(
    rows: int = typer.Option(20000, help="Demo transactions to generate."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON document, no progress."),
) -> None:
    """The whole dual loop on a local cloud: data → ingest → quality gate → pipeline → approval → deploy → predictions."""
    from outer_orchestrator.demo import run_demo

    if Target.current().is_aws:
        console.print("[red]The demo runs on the local cloud only: unset DUALLOOP_TARGET.[/red]")
        raise typer.Exit(2)
    ok = run_demo(config_or_exit(None), rows, as_json, console)
    raise typer.Exit(0 if ok else 1)


def register(app: typer.Typer) -> None:
    """The outer loop's commands (entry point ``dualloop.commands`` ``outer``)."""
    from outer_orchestrator.init_project import init_cmd
    from outer_orchestrator.quality.cli import app as quality_app

    app.command("demo")(demo_cmd)
    app.command("init")(init_cmd)
    app.add_typer(quality_app, name="quality")
    app.command("status")(status_cmd)
    app.command("run")(run)
    app.command("approve")(approval_cli.approve_cmd)
    app.command("reject")(approval_cli.reject_cmd)

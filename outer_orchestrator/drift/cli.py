"""``dualloop drift run | simulate``: check drift now, or send drifted demo traffic to the endpoint.

Both talk to the cloud ``AWS_ENDPOINT_URL`` names, else to the local cloud ``dualloop local up``
started; real AWS only with ``DUALLOOP_TARGET=aws``. They start no local cloud of their own:
a fresh one would have no endpoint and no captured traffic.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import boto3
import typer
from botocore.exceptions import BotoCoreError, ClientError
from rich.markup import escape
from rich.table import Table

from outer_orchestrator.drift.report import DriftReport, Status
from shared.cli_support import console
from shared.config import ConfigError, DualloopConfig, load_config
from shared.naming import Names
from shared.target import Target

_COLOUR = {Status.OK: "green", Status.DRIFT: "red", Status.INSUFFICIENT_DATA: "yellow"}


def drift_run(
    endpoint: Annotated[str | None, typer.Option(help="Endpoint to check (default: the stack's).")] = None,
    window_hours: Annotated[
        int | None, typer.Option(min=1, help="Hours of captured requests (default: drift.window_hours).")
    ] = None,
    baseline_uri: Annotated[
        str | None, typer.Option(help="s3:// baseline file or prefix, instead of the deployed model's.")
    ] = None,
    publish: Annotated[
        bool, typer.Option("--publish/--no-publish", help="Write the report to S3 and publish the metrics.")
    ] = True,
    at: Annotated[
        datetime | None,
        typer.Option(help="End of the window, UTC (default: now; the local cloud's clock there)."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    config: Annotated[Path | None, typer.Option(help="YAML/TOML config file.")] = None,
) -> None:
    """Compare the endpoint's captured requests with its model's training baseline, now."""
    from outer_orchestrator.drift.baseline import BaselineNotFound, EndpointNotFound
    from outer_orchestrator.drift.job import run_drift_check

    cfg = _config(config)
    _cloud_or_exit()
    try:
        report = run_drift_check(
            cfg,
            endpoint=endpoint,
            window_hours=window_hours,
            now=at.replace(tzinfo=at.tzinfo or UTC) if at else _local_now(),
            baseline_uri=baseline_uri,
            publish=publish,
        )
    except EndpointNotFound as exc:
        _error(f"{exc}: deploy one first (`dualloop run`), or pass --endpoint")
        raise typer.Exit(1) from None
    except BaselineNotFound as exc:
        hint = (
            "check --baseline-uri"
            if baseline_uri
            else "retrain to deploy a model with one, or pass --baseline-uri"
        )
        _error(f"{exc}: {hint}")
        raise typer.Exit(1) from None
    if as_json:
        typer.echo(report.model_dump_json(indent=2))
    else:
        print_report(report)


def drift_simulate(
    shift: Annotated[float, typer.Argument(min=0.0, help="0 = training-time traffic, 1 = clearly drifted.")],
    requests: Annotated[int, typer.Option(min=1, help="Requests to send, one transaction each.")] = 500,
    endpoint: Annotated[str | None, typer.Option(help="Endpoint (default: the stack's).")] = None,
    seed: Annotated[int, typer.Option(min=0, help="Seed of the generated transactions.")] = 1,
    config: Annotated[Path | None, typer.Option(help="YAML/TOML config file.")] = None,
) -> None:
    """Send demo transactions drawn with ``drift=SHIFT`` to the endpoint as text/csv requests."""
    from shared.demo_data import generate_transactions

    cfg = _config(config)
    names = cfg.dataset.feature_names
    frame = generate_transactions(requests, seed=seed, drift=shift)
    absent = [n for n in names if n not in frame.columns]
    if absent:
        console.print(f"[red]the demo transactions lack the schema's feature(s) {', '.join(absent)}[/red]")
        raise typer.Exit(2)
    _cloud_or_exit()
    target = endpoint or Names(cfg).endpoint
    runtime = boto3.client("sagemaker-runtime", region_name=cfg.region)
    # One CSV row per request, raw values in schema feature order, no header: what a client sends.
    lines = frame[names].to_csv(header=False, index=False, lineterminator="\n").splitlines()
    failed, first_error = 0, ""
    with console.status(f"sending {requests} requests to {target}"):
        for line in lines:
            try:
                runtime.invoke_endpoint(
                    EndpointName=target, ContentType="text/csv", Accept="application/json", Body=line.encode()
                )
            except ClientError as exc:
                error = exc.response.get("Error", {})
                if (
                    failed == 0
                    and error.get("Code") == "ValidationError"
                    and "not found" in error.get("Message", "")
                ):
                    _error(
                        f"endpoint {target} not found: deploy one first (`dualloop run`), or pass --endpoint"
                    )
                    raise typer.Exit(1) from None
                failed += 1
                first_error = first_error or str(exc)
            except BotoCoreError as exc:  # no cloud, no credentials: every request would fail alike
                from shared.user_errors import explain

                known = explain(exc)
                if known is None:
                    raise
                _error(known.message)
                raise typer.Exit(known.exit_code) from None
    console.print(f"sent {len(lines)} requests (shift {shift}) to {target}: {len(lines) - failed} answered")
    if failed:
        console.print(f"[red]{failed} failed[/red], the first with: {escape(first_error)}")
        raise typer.Exit(1)


def print_report(report: DriftReport) -> None:
    colour = _COLOUR[report.status]
    console.print(
        f"[bold]{report.endpoint}[/bold] {report.window_start:%Y-%m-%d %H:%M} - "
        f"{report.window_end:%Y-%m-%d %H:%M} UTC: [bold {colour}]{report.status.value}[/bold {colour}]"
    )
    console.print(f"  model package: {report.model_package_arn or '(given baseline)'}")
    console.print(f"  baseline: {report.baseline_uri} ({report.baseline_rows} rows)")
    c = report.capture
    console.print(
        f"  captured: {c.rows} rows in {c.records} requests from {c.files} files; "
        f"{c.malformed} malformed, {c.out_of_window} outside the window"
    )
    for example in c.malformed_examples:
        console.print(f"    [yellow]skipped[/yellow] {example}")
    table = Table(show_edge=False, pad_edge=False)
    for column, justify in (
        ("feature", "left"),
        ("statistic", "left"),
        ("score", "right"),
        ("threshold", "right"),
        ("samples", "right"),
        ("status", "left"),
    ):
        table.add_column(column, justify=justify)  # type: ignore[arg-type]
    for f in report.features:
        fc = _COLOUR[f.status]
        needed = "-" if f.min_samples is None else str(f.min_samples)
        note = f.reason or (f"unseen: {', '.join(f.unseen_categories)}" if f.unseen_categories else "")
        table.add_row(
            f.name,
            "PSI" if f.metric == "psi" else "JS distance",
            "-" if f.score is None else f"{f.score:.3f}",
            f"{f.threshold:g}",
            f"{f.sample_size}/{needed}",
            f"[{fc}]{f.status.value}[/{fc}]" + (f" [dim]{note}[/dim]" if note else ""),
        )
    console.print(table)
    if report.max_score is not None:
        console.print(f"  max drift: {report.max_score:.2f} x threshold ({report.max_feature})")
    if report.report_uri:
        console.print(f"  report: {report.report_uri}")


def _config(path: Path | None) -> DualloopConfig:
    from shared.user_errors import describe_config_error

    try:
        return load_config(path)
    except ConfigError as exc:
        target = Target(config_file=str(path) if path else os.environ.get("DUALLOOP_CONFIG_FILE"))
        _error(describe_config_error(exc, target))
        raise typer.Exit(2) from None


def _error(message: str) -> None:
    console.print(escape(message), style="red")


def _local_now() -> datetime | None:
    """The clock of the local cloud (in this process, or the one `dualloop local up` runs): it
    runs faster than the wall clock, and its endpoints stamp captured requests with it. None
    on AWS (the job's own now)."""
    from shared.local_cloud import running
    from shared.local_cloud.cli import local_now

    cloud = running()
    if cloud is not None:
        return cloud.now()  # type: ignore[no-any-return]
    return local_now() if not Target.current().is_aws else None


def _cloud_or_exit() -> None:
    if Target.current().is_named:
        return
    from shared.local_cloud.cli import read_state

    env = read_state()
    if env is None:
        _error(
            "no cloud to talk to: start the local cloud with `dualloop local up` "
            "(or export AWS_ENDPOINT_URL), or set DUALLOOP_TARGET=aws for real AWS"
        )
        raise typer.Exit(2)
    os.environ.update(env)


def register(app: typer.Typer) -> None:
    """``dualloop drift run | simulate`` (entry point ``dualloop.commands`` ``drift``)."""
    drift_app = typer.Typer(
        help="Feature drift of live traffic against the deployed model's training baseline."
    )
    drift_app.command("run")(drift_run)
    drift_app.command("simulate")(drift_simulate)
    app.add_typer(drift_app, name="drift")

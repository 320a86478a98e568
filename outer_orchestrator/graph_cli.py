"""``dualloop graph``: pictures of the outer state machine and the inner pipeline DAG, with
the last execution's statuses overlaid.

The outer loop comes from the ASL file, the inner one from the pipeline definition built from
this checkout (or ``--definition FILE``). Building uploads the code package, so it needs a
cloud: the one ``AWS_ENDPOINT_URL`` names, AWS with ``DUALLOOP_TARGET=aws``, else a local
cloud started in this process for the command. Statuses come from the execution given with
``--execution``, else from the latest execution of this project's state machine when a cloud
is named (a cloud started for the command has none).
"""

from __future__ import annotations

import json
import logging
import sys
from contextlib import ExitStack, redirect_stdout
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import boto3
import typer
from botocore.exceptions import ClientError
from rich.markup import escape

from shared.cli_support import config_or_exit, console, local_cloud_for_command, quiet_libraries
from shared.config import DualloopConfig
from shared.graph import (
    Graph,
    Panel,
    Status,
    asl_graph,
    execution_statuses,
    panels_to_mermaid,
    panels_to_png,
    panels_to_svg,
    pipeline_graph,
    step_statuses,
)
from shared.naming import Names
from shared.target import Target

if TYPE_CHECKING:
    from mypy_boto3_sagemaker import SageMakerClient
    from mypy_boto3_stepfunctions import SFNClient


class Format(StrEnum):
    svg = "svg"
    png = "png"
    mermaid = "mermaid"


class Loop(StrEnum):
    both = "both"
    outer = "outer"
    inner = "inner"


_SUFFIXES = {".svg": Format.svg, ".png": Format.png, ".mmd": Format.mermaid, ".md": Format.mermaid}


# ---- reading an execution (thin: Step Functions and SageMaker read APIs only) -----------------------


@dataclass(frozen=True)
class Overlay:
    execution_arn: str
    name: str
    status: str
    outer: dict[str, Status]
    pipeline_execution_arn: str | None
    inner: dict[str, Status] | None


def latest_execution(sfn: SFNClient, state_machine_arn: str) -> str | None:
    """The most recently started execution of the state machine, if it exists and has any."""
    try:
        executions = []
        kwargs: dict[str, Any] = {"stateMachineArn": state_machine_arn}
        while True:
            page = sfn.list_executions(**kwargs)
            executions += page["executions"]
            if not page.get("nextToken"):
                break
            kwargs["nextToken"] = page["nextToken"]
    except sfn.exceptions.StateMachineDoesNotExist:
        return None
    if not executions:
        return None
    arn: str = max(executions, key=lambda e: e["startDate"])["executionArn"]
    return arn


def history(sfn: SFNClient, execution_arn: str) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"executionArn": execution_arn, "maxResults": 1000}
    while True:
        page = sfn.get_execution_history(**kwargs)
        events += [dict(e) for e in page["events"]]
        if not page.get("nextToken"):
            return events
        kwargs["nextToken"] = page["nextToken"]


def pipeline_of(sfn: SFNClient, state_machine_arn: str, fallback: str) -> str:
    """The pipeline the state machine starts (its deployed definition names it), so an
    execution of another project's state machine finds its own pipeline."""
    try:
        definition = json.loads(sfn.describe_state_machine(stateMachineArn=state_machine_arn)["definition"])
        parameters = definition["States"]["RunInnerPipeline"]["Parameters"]
        # RunInnerPipeline invokes the pipeline callback function, which gets the pipeline's name.
        name = parameters.get("Payload", {}).get("pipeline_name") or parameters["PipelineName"]
    except (KeyError, ValueError, TypeError, ClientError):
        return fallback
    return str(name) if name and "${" not in str(name) else fallback


def pipeline_execution(sagemaker: SageMakerClient, pipeline: str, display_name: str) -> str | None:
    """The pipeline execution the outer loop started: its display name is the outer execution's name."""
    kwargs: dict[str, Any] = {"PipelineName": pipeline}
    try:
        while True:
            page = sagemaker.list_pipeline_executions(**kwargs)
            for summary in page.get("PipelineExecutionSummaries", []):
                if summary.get("PipelineExecutionDisplayName") == display_name:
                    arn: str = summary["PipelineExecutionArn"]
                    return arn
            if not page.get("NextToken"):
                return None
            kwargs["NextToken"] = page["NextToken"]
    except ClientError:
        return None  # no such pipeline (yet)


def pipeline_steps(sagemaker: SageMakerClient, execution_arn: str) -> list[dict[str, Any]]:
    paginator = sagemaker.get_paginator("list_pipeline_execution_steps")
    return [
        dict(step)
        for page in paginator.paginate(PipelineExecutionArn=execution_arn, SortOrder="Ascending")
        for step in page["PipelineExecutionSteps"]
    ]


def read_overlay(session: boto3.Session, execution_arn: str, default_pipeline: str) -> Overlay:
    sfn, sagemaker = session.client("stepfunctions"), session.client("sagemaker")
    described = sfn.describe_execution(executionArn=execution_arn)
    pipeline = pipeline_of(sfn, described["stateMachineArn"], default_pipeline)
    inner_arn = pipeline_execution(sagemaker, pipeline, described["name"])
    return Overlay(
        execution_arn=execution_arn,
        name=described["name"],
        status=described["status"],
        outer=execution_statuses(history(sfn, execution_arn)),
        pipeline_execution_arn=inner_arn,
        inner=step_statuses(pipeline_steps(sagemaker, inner_arn)) if inner_arn else None,
    )


# ---- building the pictures --------------------------------------------------------------------------


def outer_graph() -> Graph:
    """The outer loop as the repository defines it (``${...}`` placeholders and all: the
    picture does not need resource names)."""
    from outer_orchestrator.statemachine.definition import outer_loop_document

    return asl_graph(outer_loop_document())


def built_definition(cfg: DualloopConfig, session: boto3.Session) -> dict[str, Any]:
    """The definition built from this checkout; on a local cloud, the artifact bucket is
    provisioned first if missing (the build uploads the code package there)."""
    from inner_pipeline.pipeline import pipeline_definition, pipeline_session
    from outer_orchestrator.local_stack import LocalStack

    if not Target.current().is_aws:
        try:
            session.client("s3").head_bucket(Bucket=Names(cfg).artifact_bucket)
        except ClientError:
            LocalStack(cfg).provision()
    sdk_session = pipeline_session(cfg, session)  # imports the SDK, which turns the root logger to INFO
    quiet_libraries()
    # The SDK warns about every field it pops out of the definition: noise for a picture.
    sdk_logger = logging.getLogger("sagemaker")
    level = sdk_logger.level
    sdk_logger.setLevel(logging.ERROR)
    try:
        definition: dict[str, Any] = json.loads(pipeline_definition(cfg, sdk_session))
    finally:
        sdk_logger.setLevel(level)
    return definition


def panels(outer: Graph | None, inner: Graph | None, overlay: Overlay | None) -> list[Panel]:
    result = []
    if outer is not None:
        caption = f"execution {overlay.name}: {overlay.status}" if overlay else ""
        result.append(Panel(outer, overlay.outer if overlay else None, caption))
    if inner is not None:
        caption, statuses = "started by RunInnerPipeline", None
        if overlay is not None and overlay.pipeline_execution_arn and overlay.inner is not None:
            caption += f"; pipeline execution {overlay.pipeline_execution_arn.rsplit('/', 1)[-1]}"
            statuses = overlay.inner
        elif overlay is not None:
            caption += f"; no pipeline execution for {overlay.name}"
        result.append(Panel(inner, statuses, caption))
    return result


def render(chosen: list[Panel], fmt: Format, out: Path | None) -> None:
    if fmt is Format.png:
        assert out is not None
        out.parent.mkdir(parents=True, exist_ok=True)
        panels_to_png(chosen, out)
        console.print(f"wrote {out}")
        return
    if fmt is Format.svg:
        text = panels_to_svg(chosen)
    else:
        text = panels_to_mermaid(chosen)
        if out is not None and out.suffix == ".md":  # a Markdown page renders fenced Mermaid
            text = f"```mermaid\n{text}```\n"
    if out is None:
        typer.echo(text, nl=False)
        return
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)
    console.print(f"wrote {out} ({len(text)} bytes)")


def graph(
    execution: Annotated[
        str | None,
        typer.Option(help="A Step Functions execution ARN whose statuses to overlay (default: the latest)."),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option("--out", help="Write here, the suffix picking the format (default: stdout)."),
    ] = None,
    fmt: Annotated[
        Format | None,
        typer.Option("--format", help="svg | png | mermaid (default: from the --out suffix, else svg)."),
    ] = None,
    loop: Annotated[Loop, typer.Option(help="Which loop to draw.")] = Loop.both,
    definition: Annotated[
        Path | None,
        typer.Option(
            help="A pipeline definition JSON file (`dualloop inner definition`) instead of building one."
        ),
    ] = None,
    statuses: Annotated[
        bool, typer.Option("--statuses/--no-statuses", help="Overlay an execution's statuses.")
    ] = True,
    config: Annotated[Path | None, typer.Option(help="YAML/TOML config file.")] = None,
) -> None:
    """Draw the outer state machine and the inner pipeline DAG, coloured by the last run."""
    fmt = fmt or (_SUFFIXES.get(out.suffix.lower(), Format.svg) if out else Format.svg)
    if fmt is Format.png and out is None:
        raise typer.BadParameter("a PNG needs a file: --out graph.png", param_hint="--out")
    if execution and not statuses:
        raise typer.BadParameter(
            "--execution overlays statuses: drop --no-statuses", param_hint="--execution"
        )
    if execution and not Target.current().is_named:
        console.print(
            "[red]--execution needs the cloud it ran on: `dualloop local up` and "
            '`eval "$(dualloop local env)"`, or DUALLOOP_TARGET=aws.[/red]'
        )
        raise typer.Exit(2)
    cfg = config_or_exit(config)
    outer = outer_graph() if loop is not Loop.inner else None
    inner_definition: dict[str, Any] | None = None
    if loop is not Loop.outer and definition is not None:
        try:
            inner_definition = json.loads(definition.read_text())
        except (OSError, ValueError) as exc:
            raise typer.BadParameter(f"cannot read {definition}: {exc}", param_hint="--definition") from None
    want_overlay = statuses and Target.current().is_named
    needs_cloud = want_overlay or (loop is not Loop.outer and inner_definition is None)
    overlay: Overlay | None = None
    if needs_cloud:
        # The in-process cloud's Lambdas log to stdout; stdout is for the picture.
        with ExitStack() as stack, redirect_stdout(sys.stderr):
            local_cloud_for_command(stack)
            session = boto3.Session(region_name=cfg.region)
            if loop is not Loop.outer and inner_definition is None:
                inner_definition = built_definition(cfg, session)
            if want_overlay:
                names = Names(cfg)
                arn = execution or latest_execution(session.client("stepfunctions"), names.state_machine_arn)
                if arn is None:
                    console.print(f"no executions of {names.state_machine} yet: drawing without statuses")
                else:
                    try:
                        overlay = read_overlay(session, arn, names.pipeline)
                    except ClientError as exc:
                        code = exc.response.get("Error", {}).get("Code")
                        if code not in ("ExecutionDoesNotExist", "InvalidArn"):
                            raise
                        console.print(
                            f"[red]no execution {escape(arn)} here: `dualloop status` lists the retrains, "
                            "or leave out --execution to draw the latest[/red]"
                        )
                        raise typer.Exit(2) from None
    inner = None
    if inner_definition is not None:
        from shared.pipeline_graph import DefinitionError

        try:
            inner = pipeline_graph(inner_definition)
        except DefinitionError as exc:
            console.print(f"[red]not a pipeline definition: {escape(str(exc))}[/red]")
            raise typer.Exit(2) from None
    render(panels(outer, inner, overlay), fmt, out)


def register(app: typer.Typer) -> None:
    """``dualloop graph`` (entry point ``dualloop.commands`` ``graph``)."""
    app.command("graph")(graph)

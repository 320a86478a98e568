"""``dualloop approve | reject``: a human's decision on a registered model, in its stage's registry."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import boto3
import typer
from rich.markup import escape

from outer_orchestrator import approvals
from outer_orchestrator.runner import ApprovePolicy
from shared.cli_support import config_or_exit, console
from shared.config import DualloopConfig
from shared.naming import Names
from shared.target import Target

STILL_SERVING_EXIT = 3  # `dualloop reject` of the serving package: rejected, but it still serves


def _registry(cfg: DualloopConfig, model_package_arn: str | None, stage: str | None) -> tuple[Any, Names]:
    """The SageMaker client and names of the registry that decides: with ``config.stages``, the
    stage whose registry holds the package (its ARN names account, region and group), else
    ``--stage``, else this process's stage, acting in that stage's account (``stage_sessions``:
    which credentials); with one stage, the caller's own account, as always."""
    from outer_orchestrator.stage_sessions import stage_of_package, stage_session
    from shared.config import stage_config, stage_path

    named = stage or cfg.stage.value
    path = stage_path(cfg)
    spec = stage_of_package(cfg, model_package_arn) if cfg.stages and model_package_arn else None
    if spec is not None and stage is not None and spec.name.value != stage:
        console.print(f"[red]{model_package_arn} is stage {spec.name.value}'s, not {stage}'s.[/red]")
        raise typer.Exit(2)
    spec = spec or next((s for s in path if s.name.value == named), None)
    if spec is None:
        console.print(
            f"[red]--stage {named}: not a configured stage ({', '.join(s.name.value for s in path)}).[/red]"
        )
        raise typer.Exit(2)
    if not cfg.stages:
        return boto3.client("sagemaker", region_name=cfg.region), Names(cfg)
    session = stage_session(cfg, spec, on_aws=Target.current().is_aws)
    return session.client("sagemaker"), Names(stage_config(cfg, spec.name.value))


def _decide(
    model_package_arn: str | None,
    latest: bool,
    decision: ApprovePolicy | str,
    reason: str | None,
    stage: str | None = None,
    config: Path | None = None,
) -> None:
    from outer_orchestrator.stage_sessions import StageCredentialsError

    cfg = config_or_exit(config)
    try:
        sagemaker, names = _registry(cfg, model_package_arn, stage)
        arn = model_package_arn or (approvals.latest_pending(sagemaker, names) if latest else None)
        if arn is None:
            console.print(
                "[red]Name a MODEL_PACKAGE_ARN or pass --latest (`dualloop status` lists them).[/red]"
            )
            raise typer.Exit(2)
        approvals.decide(sagemaker, arn, decision, reason, names.model_package_group)  # type: ignore[arg-type]
    except approvals.StillServing as exc:
        # Done in the registry, but the user may expect more: a distinct exit code (README).
        console.print(f"[yellow]{exc}[/yellow]")
        raise typer.Exit(STILL_SERVING_EXIT) from None
    except (approvals.ApprovalError, StageCredentialsError) as exc:
        console.print(f"[red]{escape(str(exc))}[/red]")
        raise typer.Exit(1) from None
    typer.echo(f"{decision}: {arn}")


def _decision_command(decision: str, summary: str) -> Callable[..., None]:
    """``dualloop approve`` / ``reject``: one shape, one decision each."""

    def command(
        model_package_arn: Annotated[str | None, typer.Argument()] = None,
        latest: Annotated[bool, typer.Option(help="The newest package awaiting approval.")] = False,
        reason: Annotated[
            str | None,
            typer.Option(help="Recorded as the approval description (a rejected retrain fails with it)."),
        ] = None,
        stage: Annotated[
            str | None,
            typer.Option(help="With --latest: the stage (config.stages) whose registry to look in."),
        ] = None,
        config: Annotated[Path | None, typer.Option(help="YAML/TOML config file.")] = None,
    ) -> None:
        _decide(model_package_arn, latest, decision, reason, stage, config)

    command.__doc__ = summary
    return command


approve_cmd = _decision_command(
    "Approved", "Approve a registered model: the waiting retrain (or promotion) goes on to deploy it."
)
reject_cmd = _decision_command(
    "Rejected", "Reject a registered model: the waiting retrain (or promotion) stops without deploying."
)

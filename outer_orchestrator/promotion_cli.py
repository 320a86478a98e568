"""``dualloop promote`` and ``dualloop stages``: promotion along ``config.stages`` from a terminal.

On the local cloud (``dualloop local up``, ``eval "$(dualloop local env)"``) every stage's
account lives in that one cloud: ``promote`` provisions the target stage's stack in its
account first (idempotent), as ``dualloop run`` provisions the first stage. On AWS
(``DUALLOOP_TARGET=aws``) ``make deploy STAGE=...`` has deployed each stage, and ``promote``
acts in each stage's account with the credentials ``approve`` would use there
(``stage_sessions``: the stage's profile, else your own in that account, else the stage's
promotion role, assumed from the deploying account).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape

from outer_orchestrator.promotion import (
    AccountSessions,
    ApproveStage,
    Ask,
    Promotion,
    PromotionError,
    PromotionResult,
)
from outer_orchestrator.stage_sessions import account_sessions
from shared.cli_support import config_or_exit, console, out, quiet_libraries
from shared.config import ApprovalMode, DualloopConfig, stage_path

_ON_AWS = "aws"


def _cloud_or_exit() -> bool:
    """True on AWS; False on a named local cloud; exit 2 when no cloud is named."""
    if os.environ.get("DUALLOOP_TARGET") == _ON_AWS:
        return True
    if os.environ.get("AWS_ENDPOINT_URL"):
        return False
    console.print(
        "[red]No cloud named: promotion starts from a stage that serves a model. Start `dualloop local up`, "
        'then `eval "$(dualloop local env)"` and `dualloop run`, or set DUALLOOP_TARGET=aws.[/red]'
    )
    raise typer.Exit(2)


def _sessions(cfg: DualloopConfig, on_aws: bool) -> AccountSessions:
    return account_sessions(cfg, on_aws=on_aws)


def _clock_factor(on_aws: bool) -> float:
    """AWS seconds per wall second: 1 on AWS; the local cloud's clock factor (in this process,
    or the one `dualloop local up` started) locally, where a 1-hour bake passes in 36 s at x100."""
    if on_aws:
        return 1.0
    from shared.local_cloud import clock, running
    from shared.local_cloud.cli import local_clock

    cloud = running()
    if cloud is not None:
        return float(cloud.clock_factor)
    origin = local_clock()
    if origin and origin.get("factor"):
        return float(origin["factor"])
    return clock.factor_from_env()


def _print(result: PromotionResult) -> None:
    colour = {"Promoted": "green", "Stopped": "yellow"}.get(result.status, "red")
    console.print(f"[bold {colour}]{result.status}[/bold {colour}] {result.stage}: {escape(result.message)}")


def stages_to(cfg: DualloopConfig, to: str) -> list[str]:
    """The stages a promotion up to ``to`` deploys to, in order (the first stage retrains);
    ``PromotionError`` says in one sentence why ``to`` is not one."""
    path = [s.name.value for s in stage_path(cfg)]
    if len(path) < 2:
        raise PromotionError(
            f"there is no stage to promote to: the config lists one stage ({path[0]}); list the stages "
            "in order under stages (README, Promotion across accounts)"
        )
    if to not in path[1:]:
        raise PromotionError(f"name a stage after {path[0]}: one of {', '.join(path[1:])} (not {to!r})")
    return path[1 : path.index(to) + 1]


def promote_through(
    cfg: DualloopConfig,
    package: str,
    stages: list[str],
    *,
    approve: ApproveStage,
    as_json: bool,
    on_aws: bool,
    promotion: Promotion | None = None,
    ask: Ask | None = None,
) -> list[PromotionResult]:
    """Promote ``package`` to each of ``stages`` in turn, stopping at the first that does not
    end ``Promoted``; a stage that already serves it is skipped. Raises ``PromotionError``."""
    promotion = promotion or Promotion(cfg, _sessions(cfg, on_aws), clock_factor=_clock_factor(on_aws))
    results: list[PromotionResult] = []
    for stage in stages:
        spec = promotion.spec(stage)
        now = promotion.serving(spec)
        if package in (now.model_package_arn, now.origin_package_arn):
            continue  # already serves it
        if not on_aws:
            _provision(cfg, stage, promotion)
        if not as_json:
            console.print(f"[bold]promote[/bold] {package} → {stage} (account {spec.account_id})")
            if approve == "wait" and spec.approval.mode is ApprovalMode.MANUAL:
                console.print(
                    f"  stage {stage} waits for its approvers: `dualloop approve --latest --stage {stage}` "
                    f"(within {spec.approval.timeout_seconds} s)"
                )
        result = promotion.promote(
            package, stage, approve=approve, progress=None if as_json else _progress, ask=ask
        )
        results.append(result)
        if not as_json:
            _print(result)
        if result.status != "Promoted":
            break
    return results


def stopped_at(results: list[PromotionResult]) -> PromotionResult | None:
    """The step that stopped the promotion (rolled back, rejected, ...), if one did."""
    return next((r for r in results if r.status != "Promoted"), None)


def promote(
    package: Annotated[
        str | None, typer.Argument(help="A model package ARN of an earlier stage (or of the first).")
    ] = None,
    to: Annotated[str, typer.Option("--to", help="The stage to promote to; earlier stages first.")] = "",
    latest: Annotated[bool, typer.Option(help="The package the first stage serves now.")] = False,
    approve: Annotated[
        str, typer.Option(help="auto: approve a manual stage's copy now; wait: for its approvers.")
    ] = "wait",
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON document.")] = False,
    config: Annotated[Path | None, typer.Option(help="YAML/TOML config file.")] = None,
) -> None:
    """Promote an approved package, stage after stage, up to --to (never retrained)."""
    if approve not in ("auto", "wait"):
        raise typer.BadParameter("use auto or wait", param_hint="--approve")
    cfg = config_or_exit(config)
    try:
        stages = stages_to(cfg, to)
    except PromotionError as exc:
        raise typer.BadParameter(str(exc), param_hint="--to") from None
    on_aws = _cloud_or_exit()
    promotion = Promotion(cfg, _sessions(cfg, on_aws), clock_factor=_clock_factor(on_aws))
    first = promotion.path[0].name.value
    try:
        if latest:
            package = promotion.serving(promotion.path[0]).model_package_arn
        if not package:
            console.print(f"[red]Name a MODEL_PACKAGE_ARN, or pass --latest (what {first} serves).[/red]")
            raise typer.Exit(2)
        results = promote_through(
            cfg,
            package,
            stages,
            approve=approve,  # type: ignore[arg-type]
            as_json=as_json,
            on_aws=on_aws,
            promotion=promotion,
        )
    except PromotionError as exc:
        console.print(f"[red]{escape(str(exc))}[/red]")
        raise typer.Exit(1) from None
    if as_json:
        typer.echo(json.dumps([r.as_dict() for r in results], default=str, indent=2))
    raise typer.Exit(0 if stopped_at(results) is None else 1)


def _progress(kind: str, data: dict[str, Any]) -> None:
    if kind == "state-exited":
        console.print(f"  {data['name']:<32} {data['seconds']:.2f}s")


def _provision(cfg: DualloopConfig, stage: str, promotion: Promotion) -> None:
    from outer_orchestrator.promotion_stack import provision_stage

    quiet_libraries()
    provision_stage(cfg, stage, promotion.session(promotion.spec(stage)))


def stage_rows(cfg: DualloopConfig, stage: str | None = None) -> list[dict[str, Any]]:
    """Each stage's (or one stage's) account, endpoint and serving package."""
    promotion = Promotion(cfg, _sessions(cfg, _cloud_or_exit()))
    specs = [promotion.spec(stage)] if stage else list(promotion.path)
    return [promotion.serving(spec).as_dict() | {"approval": spec.approval.mode.value} for spec in specs]


def stages_cmd(
    stage: Annotated[str | None, typer.Option(help="One stage only.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON document.")] = False,
    config: Annotated[Path | None, typer.Option(help="YAML/TOML config file.")] = None,
) -> None:
    """Each stage: its account, its endpoint, the package it serves and where that came from."""
    show_stages(config_or_exit(config), stage, as_json)


def show_stages(cfg: DualloopConfig, stage: str | None, as_json: bool) -> None:
    from rich.table import Table

    try:
        rows = stage_rows(cfg, stage)
    except PromotionError as exc:
        console.print(f"[red]{escape(str(exc))}[/red]")
        raise typer.Exit(2) from None
    if as_json:
        typer.echo(json.dumps(rows, default=str, indent=2))
        return
    table = Table("stage", "account", "approval", "endpoint", "serving package", "model data", title="stages")
    for row in rows:
        origin = row["origin_package_arn"]
        serving = row["model_package_arn"] or ""
        if origin and origin != serving:
            serving += f"\n(from {origin})"
        table.add_row(
            row["stage"],
            row["account_id"],
            row["approval"],
            f"{row['endpoint']} ({row['status'] or 'absent'})",
            serving,
            row["model_data_url"] or "",
        )
    out.print(table)


def register(app: typer.Typer) -> None:
    app.command("promote")(promote)
    app.command("stages")(stages_cmd)

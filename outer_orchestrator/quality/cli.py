"""``dualloop quality suggest``: write a DQDL ruleset recommended from your data."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from shared.cli_support import console

__all__ = ["app"]

app = typer.Typer(
    help="Data-quality rules (DQDL) for the outer loop's DataQuality step.", no_args_is_help=True
)


@app.command("suggest")
def suggest_cmd(
    data: Annotated[Path, typer.Option(help="Your table: a CSV or Parquet file (or a folder of them).")],
    out: Annotated[Path | None, typer.Option(help="Write the ruleset here (default: print it).")] = None,
    config: Annotated[Path | None, typer.Option(help="YAML/TOML config file (its dataset section).")] = None,
) -> None:
    """Suggest a DQDL ruleset from the data and the configured schema, as Glue Data Quality's
    rule recommendations do; point the config's `ruleset` at the file it writes."""
    from outer_orchestrator.quality.suggest import DataProblem, read_curated, suggest_ruleset
    from shared.cli_support import config_or_exit

    schema = config_or_exit(config).dataset
    try:
        text = suggest_ruleset(read_curated(data, schema), schema, source=data.name)
    except DataProblem as exc:
        hint = (
            "" if config else ": the schema is the fraud demo's without --config (`dualloop init` writes one)"
        )
        console.print(f"[red]{escape(str(exc) + hint)}[/red]")
        raise typer.Exit(2) from None
    if out is None:
        typer.echo(text, nl=False)
        return
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, encoding="utf-8")
    console.print(
        f"wrote {out} ({text.count(chr(10))} lines): set `ruleset: {out.name}` in the config next to it"
    )

"""The ``dualloop`` command: one entry point over both loops and the local cloud."""

from __future__ import annotations

import os
from typing import Any

import typer

# The SageMaker SDK needs a region at import time and a real IAM role unless told otherwise.
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
os.environ.setdefault("SAGEMAKER_VALIDATE_ROLE", "false")

from inner_pipeline import cli as inner_cli
from outer_orchestrator import cli as outer_cli
from outer_orchestrator.drift import cli as drift_cli
from shared import graph_cli
from shared.config import DualloopConfig
from shared.local_cloud.cli import app as local_app
from shared.local_cloud.hosting import cli as hosting_cli
from shared.local_cloud.iam import stack_template


def _synthesize_stack(cfg: DualloopConfig) -> dict[str, Any]:
    """The local cloud's template source: CDK's synthesis of the stack (jsii loads only if
    a template is not cached)."""
    from infra.local_template import synthesize

    return synthesize(cfg)


# The composition root wires the local cloud to the stack definition that deploys.
stack_template.use(_synthesize_stack)

app = typer.Typer(
    help="dualloop: a SageMaker Pipeline (inner loop) inside a Step Functions state machine (outer loop).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(local_app, name="local")
outer_cli.register(app)
inner_cli.register(app)

drift_app = typer.Typer(help="Feature drift of live traffic against the deployed model's training baseline.")
drift_app.command("run")(drift_cli.drift_run)
drift_app.command("simulate")(drift_cli.drift_simulate)
app.add_typer(drift_app, name="drift")
app.command("invoke")(hosting_cli.invoke)
app.command("graph")(graph_cli.graph)


@app.command()
def demo(
    rows: int = typer.Option(20000, help="Demo transactions to generate."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON document, no progress."),
) -> None:
    """The whole dual loop on a local cloud: data → ingest → quality gate → pipeline → approval → deploy → predictions."""
    from outer_orchestrator.demo import run_demo

    if os.environ.get("DUALLOOP_TARGET") == "aws":
        outer_cli.console.print("[red]The demo runs on the local cloud only: unset DUALLOOP_TARGET.[/red]")
        raise typer.Exit(2)
    ok = run_demo(outer_cli.config_or_exit(None), rows, as_json, outer_cli.console)
    raise typer.Exit(0 if ok else 1)


def main() -> None:
    """The ``dualloop`` command: a mistake a user can make ends in one sentence, not a traceback.

    Errors ``shared.user_errors`` knows (no or expired credentials, no cloud at the endpoint,
    a bad config or path, ...) print what happened and what to do, exiting 2 (fix the command
    or configuration) or 1 (the operation failed); any other exception is a bug and keeps its
    traceback.
    """
    import sys

    from shared.user_errors import Target, explain, preflight

    target = Target.from_environment(os.environ.copy(), sys.argv[1:])
    # A local cloud that is not there is found in seconds, not after botocore's retries.
    error = preflight(sys.argv[1:], target)
    if error is None:
        try:
            app()
        except Exception as exc:
            error = explain(exc, target)
            if error is None:
                raise
    if error is not None:
        typer.secho(error.message, fg=typer.colors.RED, err=True)
        sys.exit(error.exit_code)


if __name__ == "__main__":
    main()

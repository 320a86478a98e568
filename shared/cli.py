"""The ``dualloop`` command: one entry point over both loops and the local cloud."""

from __future__ import annotations

import os

import typer

# The SageMaker SDK needs a region at import time and a real IAM role unless told otherwise.
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
os.environ.setdefault("SAGEMAKER_VALIDATE_ROLE", "false")

from shared.local_cloud.cli import app as local_app  # noqa: E402

app = typer.Typer(
    help="dualloop: a SageMaker Pipeline (inner loop) inside a Step Functions state machine (outer loop).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(local_app, name="local")


def main() -> None:
    app()

"""The ``dualloop`` command: one entry point over both loops and the local cloud.

The commands are not named here: each package registers its own through the
``dualloop.commands`` entry points in pyproject.toml (the one composition root), each a
``register(app)`` function, so ``shared`` imports no loop.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import cast

import typer

# The SageMaker SDK needs a region at import time and a real IAM role unless told otherwise.
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
os.environ.setdefault("SAGEMAKER_VALIDATE_ROLE", "false")

from shared import entry_points


def build_app() -> typer.Typer:
    """The ``dualloop`` app with every command the installed distribution registers."""
    root = typer.Typer(
        help="dualloop: a SageMaker Pipeline (inner loop) inside a Step Functions state machine (outer loop).",
        no_args_is_help=True,
        pretty_exceptions_enable=False,
    )
    for register in entry_points.load(entry_points.COMMANDS).values():
        cast(Callable[[typer.Typer], None], register)(root)
    return root


app = build_app()


def main() -> None:
    """The ``dualloop`` command: a mistake a user can make ends in one sentence, not a traceback.

    Errors ``shared.user_errors`` knows (no or expired credentials, no cloud at the endpoint,
    a bad config or path, ...) print what happened and what to do, exiting 2 (fix the command
    or configuration) or 1 (the operation failed); any other exception is a bug and keeps its
    traceback.
    """
    import sys

    from shared.target import Target
    from shared.user_errors import explain, preflight

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

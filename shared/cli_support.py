"""What every ``dualloop`` command shares: the terminal, the configuration, the cloud to talk to."""

from __future__ import annotations

import os
from contextlib import ExitStack
from pathlib import Path
from typing import Protocol, cast

import typer
from rich.console import Console
from rich.markup import escape

from shared import entry_points
from shared.config import ConfigError, DualloopConfig, load_config
from shared.target import Target
from shared.user_errors import describe_config_error

# The one terminal of every command: progress and errors on stderr (``console``), results on
# stdout (``out``). No highlighting (rich would recolour the numbers and paths of our own text);
# soft wrap, so a long ARN, URI or command stays on one line and can be copied whole.
console = Console(stderr=True, highlight=False, soft_wrap=True)
out = Console(highlight=False, soft_wrap=True)
_NOISY_LOGGERS = (
    "sagemaker",
    "sagemaker.config",  # set to INFO by the SDK unless it already has a level
    "botocore",
    "py4j",
    "_glue_job_ingest",
    "_glue_job_data_quality",
    "aws_lambda_powertools",
    "dualloop-",  # the relay Lambdas' loggers (service names), when they run in this process
)


def quiet_libraries() -> None:
    """A terminal wants our lines only; the SageMaker SDK turns logging up as its modules load.

    The root logger goes to WARNING and the libraries' own loggers (which the SDK sets to
    INFO one by one) to WARNING, the SDK's to ERROR: its warnings are about fields of the
    definition it fills in at execution time, not something a user can act on.
    """
    import logging

    logging.getLogger().setLevel(logging.WARNING)
    for name in [*_NOISY_LOGGERS, *logging.root.manager.loggerDict]:
        if name.startswith(_NOISY_LOGGERS):
            logging.getLogger(name).setLevel(
                logging.ERROR if name.startswith("sagemaker") else logging.WARNING
            )


def config_or_exit(path: Path | None) -> DualloopConfig:
    try:
        return load_config(path)
    except ConfigError as exc:
        console.print(f"[red]{escape(describe_config_error(exc))}[/red]")
        raise typer.Exit(2) from None


def local_cloud_for_command(stack: ExitStack, *, warm: bool = False) -> None:
    """Use the cloud AWS_ENDPOINT_URL names; without one, start a local cloud in process.

    Real AWS is used only when asked for with ``DUALLOOP_TARGET=aws`` (as ``make run STAGE=...``
    does), so a command never reaches an account by accident. ``warm``: the command will run
    Glue jobs, so Spark starts now, in the background, while the stack is provisioned.
    """
    if Target.current().is_named:
        return
    from shared.local_cloud import LocalCloud
    from shared.local_cloud.workers import attach_all

    cloud = stack.enter_context(LocalCloud())
    attach_all(cloud, warm=warm)
    os.environ.update(cloud.env())


class _Stack(Protocol):
    def provision(self) -> object: ...


class _StackFactory(Protocol):
    def __call__(self, cfg: DualloopConfig) -> _Stack: ...


def provision_local_stack(cfg: DualloopConfig) -> None:
    """Create the project's resources on the local cloud, as the stack the outer loop registers
    (``dualloop.stack`` ``local``) defines them; on AWS, ``make deploy`` (CDK) provisions."""
    if Target.current().is_aws:
        return
    factory = cast(_StackFactory, entry_points.load_one(entry_points.STACK, "local"))
    factory(cfg).provision()

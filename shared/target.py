"""Where a command's AWS calls go: AWS, a local cloud named by ``AWS_ENDPOINT_URL``, or a local
cloud the command starts in its own process. The one place that reads the two switches.

- ``DUALLOOP_TARGET=aws``: real AWS, only when asked for (``make run STAGE=...`` sets it), so
  a command never reaches an account by accident.
- ``AWS_ENDPOINT_URL``: the cloud it names (``dualloop local up``'s, or any endpoint); boto3
  and the SageMaker SDK honour it, so no product code asks where it talks to.
- neither: a local cloud started in process for the command.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Target:
    """The runtime a command talks to; account, region, stage and config file are for messages."""

    endpoint_url: str | None = None
    aws: bool = False
    account_id: str | None = None
    region: str | None = None
    stage: str | None = None
    config_file: str | None = None

    @classmethod
    def current(cls, environ: Mapping[str, str] | None = None) -> Target:
        """The target the environment names now (cheap: reads no configuration)."""
        env = os.environ if environ is None else environ
        return cls(endpoint_url=env.get("AWS_ENDPOINT_URL") or None, aws=env.get("DUALLOOP_TARGET") == "aws")

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None, argv: Sequence[str] = ()) -> Target:
        """The target before a command runs, with the configuration's account, region and stage
        when it loads (commands may change the environment as they go)."""
        env = os.environ if environ is None else environ
        config_file = _option(argv, "--config") or env.get("DUALLOOP_CONFIG_FILE") or None
        account = region = stage = None
        try:
            from shared.config import load_config

            cfg = load_config(_option(argv, "--config"))
            account, region, stage = cfg.account_id, cfg.region, cfg.stage.value
        except Exception:  # noqa: S110 - best effort: a bad configuration is reported by the command
            pass
        base = cls.current(env)
        return cls(
            endpoint_url=base.endpoint_url,
            aws=base.aws,
            account_id=account,
            region=region or env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION"),
            stage=stage,
            config_file=config_file,
        )

    @property
    def is_aws(self) -> bool:
        """Real AWS: provisioning is CDK's (``make deploy``), waits poll at AWS's pace."""
        return self.aws

    @property
    def is_named(self) -> bool:
        """A cloud is named (AWS or an endpoint): the command must not start one of its own."""
        return self.aws or bool(self.endpoint_url)

    @property
    def where(self) -> str:
        if self.endpoint_url:
            return f"the local cloud at {self.endpoint_url}"
        account = f"account {self.account_id}" if self.account_id else "the configured account"
        return f"{account} in region {self.region or 'us-east-1'}"

    @property
    def or_local(self) -> str:
        """How to get away from AWS, when the command was pointed at it."""
        return "unset DUALLOOP_TARGET to use the local cloud" if self.aws else "use the local cloud"


def _option(argv: Sequence[str], name: str) -> str | None:
    for i, arg in enumerate(argv):
        if arg == name and i + 1 < len(argv):
            return argv[i + 1]
        if arg.startswith(name + "="):
            return arg.split("=", 1)[1]
    return None

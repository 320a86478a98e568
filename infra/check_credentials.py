"""Fail fast, and say why, before ``cdk diff|deploy|destroy`` when AWS is not usable.

Without credentials the CDK CLI fails with "Unable to resolve AWS account"; this names the
actual problem instead: no credentials, credentials AWS rejects, the local cloud's
endpoint still set, or an account other than the one the config (and so every ARN in the
ASL and the pipeline definition) is spelled for.

    python -m infra.check_credentials --stage dev
"""

from __future__ import annotations

import argparse
import os
import sys


def check(stage: str) -> str | None:
    """None when deploying ``stage`` can proceed, else what is wrong and how to fix it."""
    endpoints = sorted(k for k in os.environ if k.startswith("AWS_ENDPOINT_URL"))
    if endpoints:
        return (
            f"{', '.join(endpoints)} is set (the local cloud?): CDK deploys to real AWS only. "
            "Unset it, e.g. `env -u AWS_ENDPOINT_URL make deploy`."
        )

    import boto3
    from botocore.config import Config
    from botocore.exceptions import (
        BotoCoreError,
        ClientError,
        CredentialRetrievalError,
        LoginError,
        NoCredentialsError,
        PartialCredentialsError,
        ProfileNotFound,
        SSOError,
        TokenRetrievalError,
    )

    from shared.config import ConfigError, Stage, load_config
    from shared.user_errors import describe_config_error

    stages = [s.value for s in Stage]
    if stage not in stages:
        return f"STAGE={stage} is not a stage: use one of {', '.join(stages)} (e.g. `make deploy STAGE=dev`)."
    try:
        cfg = load_config(stage=stage)
    except ConfigError as exc:
        return describe_config_error(exc)
    try:
        sts = boto3.client(
            "sts",
            region_name=cfg.region,
            config=Config(connect_timeout=5, read_timeout=10, retries={"max_attempts": 1}),
        )
        identity = sts.get_caller_identity()
    except NoCredentialsError:
        return (
            "no AWS credentials are configured. Configure a profile (`aws configure sso` or "
            "`aws configure`) and export AWS_PROFILE, or export AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY."
        )
    except (
        PartialCredentialsError,
        ProfileNotFound,
        SSOError,
        LoginError,
        TokenRetrievalError,
        CredentialRetrievalError,
    ) as exc:
        return (
            f"the configured AWS credentials cannot be loaded ({exc}). Fix AWS_PROFILE or the "
            "AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY pair, or sign in again (`aws sso login`)."
        )
    except ClientError as exc:
        return (
            f"AWS rejected the configured credentials: {exc.response.get('Error', {}).get('Message', exc)}. "
            "Refresh them (`aws sso login`, or new keys) and retry."
        )
    except BotoCoreError as exc:
        return f"could not reach AWS STS to check the credentials ({exc}): check your network connection and retry."
    account = identity["Account"]
    if account != cfg.account_id:
        return (
            f"the credentials are for account {account}, but the {stage} config is for {cfg.account_id}: "
            f"set DUALLOOP_ACCOUNT_ID={account} (or use credentials for {cfg.account_id})."
        )
    print(f"AWS credentials OK: {identity['Arn']} (account {account}, region {cfg.region})")
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--stage", default="dev")
    problem = check(parser.parse_args(argv).stage)
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Fail fast, and say why, before ``cdk diff|deploy|destroy`` when AWS is not usable.

Without credentials the CDK CLI fails with "Unable to resolve AWS account"; this names the
actual problem instead: no credentials, credentials AWS rejects, the local cloud's
endpoint still set, or an account other than the one the config (and so every ARN in the
ASL and the pipeline definition) is spelled for.

    python -m infra.check_credentials --stage dev [--require-bootstrap]
    python -m infra.check_credentials --stage dev --print-environment   # aws://ACCOUNT/REGION

``--require-bootstrap`` also checks that ``cdk bootstrap`` ran in that account and region:
the synthesized template refuses bootstrap stacks older than ``MIN_BOOTSTRAP_VERSION``
(its ``CheckBootstrapVersion`` rule), and CDK's assets need the bootstrap bucket.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

# The modern bootstrap template's version parameter, under CDK's default qualifier; the
# synthesized template's CheckBootstrapVersion rule rejects versions 1-5.
BOOTSTRAP_VERSION_PARAMETER = "/cdk-bootstrap/hnb659fds/version"
MIN_BOOTSTRAP_VERSION = 6


def _stage_config(stage: str) -> Any:
    """The config of ``stage``: with ``stages`` configured, that stage's account and region."""
    from shared.config import load_config, stage_config

    cfg = load_config(stage=stage)
    return stage_config(cfg, stage) if cfg.stages else cfg


def environment(stage: str) -> str:
    """``aws://ACCOUNT/REGION`` the stage's config deploys to (what ``cdk bootstrap`` takes), and,
    for a stage in another account than the first stage's (the deploying account), the
    ``--trust`` that lets that account deploy here (CDK's "Bootstrapping your environment":
    a trusted account must name the execution policies, which are CDK's default here)."""
    from shared.config import stage_path

    cfg = _stage_config(stage)
    out = f"aws://{cfg.account_id}/{cfg.region}"
    deployer = stage_path(cfg)[0].account_id
    if deployer != cfg.account_id:
        out += (
            f" --trust {deployer} --trust-for-lookup {deployer}"
            " --cloudformation-execution-policies arn:aws:iam::aws:policy/AdministratorAccess"
        )
    return out


def check(stage: str, *, require_bootstrap: bool = False) -> str | None:
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

    from shared.config import ConfigError, Stage, stage_path
    from shared.user_errors import describe_config_error

    stages = [s.value for s in Stage]
    if stage not in stages:
        return f"STAGE={stage} is not a stage: use one of {', '.join(stages)} (e.g. `make deploy STAGE=dev`)."
    try:
        cfg = _stage_config(stage)
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
    # A stage in another account is deployed from the first stage's (bootstrapped with --trust it).
    deployer = stage_path(cfg)[0].account_id
    if account == deployer != cfg.account_id:
        print(
            f"AWS credentials OK: {identity['Arn']} deploys {stage} into {cfg.account_id} (trusted by its bootstrap)"
        )
        return None
    if account != cfg.account_id:
        return (
            f"the credentials are for account {account}, but the {stage} config is for {cfg.account_id}: "
            f"set DUALLOOP_ACCOUNT_ID={account} (or use credentials for {cfg.account_id})."
        )
    print(f"AWS credentials OK: {identity['Arn']} (account {account}, region {cfg.region})")
    if require_bootstrap:
        return bootstrap_problem(boto3.client("ssm", region_name=cfg.region), stage, account, cfg.region)
    return None


def bootstrap_problem(ssm: Any, stage: str, account: str, region: str) -> str | None:
    """None when CDK's bootstrap stack (version >= 6) is in the account and region."""
    from botocore.exceptions import ClientError

    fix = f"run `make bootstrap STAGE={stage}` once for aws://{account}/{region}, then deploy again."
    try:
        value = ssm.get_parameter(Name=BOOTSTRAP_VERSION_PARAMETER)["Parameter"]["Value"]
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "ParameterNotFound":
            return f"aws://{account}/{region} is not bootstrapped for the CDK: {fix}"
        return f"could not read {BOOTSTRAP_VERSION_PARAMETER} ({exc}): {fix}"
    if int(value) < MIN_BOOTSTRAP_VERSION:
        return (
            f"aws://{account}/{region} has CDK bootstrap version {value}; the stack needs "
            f"{MIN_BOOTSTRAP_VERSION} or later: {fix}"
        )
    print(f"CDK bootstrap OK: version {value} in aws://{account}/{region}")
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--stage", default="dev")
    parser.add_argument("--require-bootstrap", action="store_true", help="also check `cdk bootstrap` ran")
    parser.add_argument(
        "--print-environment", action="store_true", help="print aws://ACCOUNT/REGION from the config and exit"
    )
    args = parser.parse_args(argv)
    if args.print_environment:
        from shared.config import ConfigError

        try:
            print(environment(args.stage))
        except ConfigError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        return 0
    problem = check(args.stage, require_bootstrap=args.require_bootstrap)
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

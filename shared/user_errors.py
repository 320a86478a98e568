"""What a user did wrong, in one sentence: what happened, and what to do about it.
(Over 400 lines: one reader per kind of mistake (credentials, connection, service answer,
config, local file), each with the sentences for it; split, they would share every helper.)

``explain(exc, target)`` turns an exception a user can cause (no or expired AWS credentials,
a cloud that does not answer, a stack that is not deployed, a bad config or path, ...) into a
``UserError``: one sentence and an exit code (2: fix the command, its input or the
configuration; 1: the operation failed). Anything else gives ``None``: an exception this
module does not know is a bug, and its traceback is what a maintainer needs.
``shared.cli.main`` applies it to every ``dualloop`` command. Pure: no AWS calls, no printing.

What to do after a failed retrain (the outer loop's error names) is ``shared.outcome_advice``.
"""

from __future__ import annotations

import errno
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from shared.target import Target

USAGE = 2  # fix the command, its input or the configuration
FAILED = 1  # the operation itself failed

LOCAL_CLOUD_HINT = 'start one with `dualloop local up` and `eval "$(dualloop local env)"`'
# The config's `ruleset` names the rules; the fraud demo's unless it says otherwise.
RULESET = "named by the config's `ruleset` (by default outer_orchestrator/quality/transactions.dqdl)"


@dataclass(frozen=True)
class UserError:
    message: str
    exit_code: int


# ---- before a command runs -------------------------------------------------------------------------

# The commands that never talk to a cloud (``local up`` starts one; ``data`` writes files).
_OFFLINE_COMMANDS = frozenset({"local", "data"})


def preflight(argv: Sequence[str], target: Target, timeout: float = 3.0) -> UserError | None:
    """A local cloud named by AWS_ENDPOINT_URL that does not answer, found in a few seconds.

    Without this, botocore would retry every call for seconds (connection refused) or minutes
    (a suspended ``dualloop local up`` accepts connections and never answers).
    """
    words = [a for a in argv if not a.startswith("-")]
    if not target.endpoint_url or not words or words[0] in _OFFLINE_COMMANDS:
        return None
    if any(a in ("--help", "-h") for a in argv):
        return None
    return check_endpoint(target.endpoint_url, timeout)


def check_endpoint(url: str, timeout: float = 3.0) -> UserError | None:
    """None if something answers HTTP at ``url`` (any status: it may not be dualloop's cloud)."""
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(url.rstrip("/") + "/moto-api/", timeout=timeout):  # noqa: S310 - the user's endpoint
            return None
    except urllib.error.HTTPError:
        return None  # it answers
    except ValueError:
        return UserError(
            f"AWS_ENDPOINT_URL={url} is not a URL: set it to the address `dualloop local up` prints "
            '(`eval "$(dualloop local env)"`), or unset it.',
            USAGE,
        )
    except OSError as exc:  # URLError, connection refused, timeouts
        if isinstance(exc, TimeoutError) or isinstance(getattr(exc, "reason", None), TimeoutError):
            return UserError(
                f"The local cloud at {url} accepts connections but did not answer within {timeout:g} s "
                "(is `dualloop local up` suspended?): resume or restart it, or unset AWS_ENDPOINT_URL.",
                FAILED,
            )
        return UserError(f"No local cloud at {url}: {LOCAL_CLOUD_HINT}, or unset AWS_ENDPOINT_URL.", FAILED)


# ---- exceptions ------------------------------------------------------------------------------------

# ClientError codes, by what the user should do about them.
_EXPIRED = frozenset({"ExpiredToken", "ExpiredTokenException", "RequestExpired", "TokenRefreshRequired"})
_REJECTED = frozenset(
    {
        "InvalidClientTokenId",
        "UnrecognizedClientException",
        "SignatureDoesNotMatch",
        "InvalidSignatureException",
        "IncompleteSignature",
        "InvalidAccessKeyId",
        "AuthFailure",
        "MissingAuthenticationToken",
        "MissingAuthenticationTokenException",
    }
)
_DENIED = frozenset(
    {
        "AccessDenied",
        "AccessDeniedException",
        "UnauthorizedOperation",
        "AuthorizationError",
        "Forbidden",
        "403",
    }
)
_NOT_DEPLOYED = frozenset(
    {
        "StateMachineDoesNotExist",
        "ResourceNotFoundException",  # DynamoDB tables, Lambda functions
        "ResourceNotFound",  # SageMaker
        "EntityNotFoundException",  # Glue
        "NotFound",  # SNS topics
    }
)
_THROTTLED = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "SlowDown",
        "ProvisionedThroughputExceededException",
    }
)


def explain(exc: BaseException, target: Target | None = None) -> UserError | None:
    """One sentence for an exception a user can cause, or None for one that is a bug."""
    target = target or Target.from_environment()
    for explainer in (_credentials, _connection, _client_error, _config, _local_problem):
        found = explainer(exc, target)
        if found is not None:
            return found
    return None


def _credentials(exc: BaseException, target: Target) -> UserError | None:
    from botocore import exceptions as bce

    if target.endpoint_url and isinstance(exc, bce.NoCredentialsError | bce.PartialCredentialsError):
        return UserError(
            f'No AWS credentials for {target.where}: run `eval "$(dualloop local env)"`, which exports '
            "them (any values work on the local cloud).",
            USAGE,
        )
    fix = f"configure them (`aws configure`, `aws sso login` or AWS_PROFILE) or {target.or_local}"
    if isinstance(exc, bce.NoCredentialsError):
        return UserError(f"No AWS credentials found for {target.where}: {fix}.", USAGE)
    if isinstance(exc, bce.PartialCredentialsError):
        missing = exc.kwargs.get("cred_var", "a value")
        return UserError(
            f"Incomplete AWS credentials for {target.where} ({missing} is missing): set both "
            f"AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or use a profile (AWS_PROFILE), or {target.or_local}.",
            USAGE,
        )
    if isinstance(exc, bce.ProfileNotFound):
        profile = exc.kwargs.get("profile", "")
        return UserError(
            f"The AWS profile {profile!r} does not exist: pick one that `aws configure list-profiles` "
            f"shows, or unset AWS_PROFILE, or {target.or_local}.",
            USAGE,
        )
    expired = (
        bce.UnauthorizedSSOTokenError,
        bce.SSOTokenLoadError,
        bce.TokenRetrievalError,
        bce.LoginError,
        bce.NoAuthTokenError,
    )
    if isinstance(exc, expired):
        return UserError(
            f"The AWS sign-in session for {target.where} has expired or was never started: "
            f"run `aws sso login` (or `aws login`) and try again, or {target.or_local}.",
            USAGE,
        )
    if isinstance(exc, bce.CredentialRetrievalError):
        return UserError(
            f"Could not get AWS credentials for {target.where} ({exc}): fix the credential source of "
            f"your profile, or {fix}.",
            USAGE,
        )
    code = _code(exc)
    if code in _EXPIRED:
        return UserError(
            f"The AWS credentials for {target.where} have expired: refresh them (`aws sso login`, or new "
            f"temporary credentials) and run again, or {target.or_local}.",
            USAGE,
        )
    if code in _REJECTED:
        return UserError(
            f"AWS rejected the credentials for {target.where} ({code}): check AWS_ACCESS_KEY_ID, "
            f"AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN (or AWS_PROFILE), or {target.or_local}.",
            USAGE,
        )
    if code in _DENIED:
        operation = getattr(exc, "operation_name", "this call")
        return UserError(
            f"The AWS credentials in use may not call {operation} in {target.where}: use a role with "
            "dualloop's permissions (the stack `make deploy` creates grants them) or ask your AWS "
            "administrator.",
            USAGE,
        )
    return None


def _connection(exc: BaseException, target: Target) -> UserError | None:
    from botocore import exceptions as bce

    unreachable = (
        bce.EndpointConnectionError,
        bce.ConnectTimeoutError,
        bce.ProxyConnectionError,
        bce.SSLError,
        bce.ConnectionClosedError,
        bce.ReadTimeoutError,
    )
    if isinstance(exc, bce.NoRegionError):
        return UserError(
            "No AWS region is set: set DUALLOOP_REGION (or AWS_DEFAULT_REGION) and run again.", USAGE
        )
    from botocore.parsers import ResponseParserError

    if isinstance(exc, ResponseParserError):
        if target.endpoint_url:
            return UserError(
                f"{target.endpoint_url} answers, but not as a dualloop local cloud (its reply is not an AWS "
                "response): point AWS_ENDPOINT_URL at the address `dualloop local up` prints "
                '(`eval "$(dualloop local env)"`), or unset it.',
                USAGE,
            )
        return UserError(
            "The reply to an AWS call was not an AWS response (a proxy or a Wi-Fi sign-in page in the "
            "way?): check your network connection and run again.",
            FAILED,
        )
    if not isinstance(exc, unreachable):
        return None
    silent = isinstance(exc, bce.ReadTimeoutError)
    if target.endpoint_url:
        if silent:
            return UserError(
                f"The local cloud at {target.endpoint_url} did not answer in time: restart "
                '`dualloop local up` (then `eval "$(dualloop local env)"`) and run again.',
                FAILED,
            )
        return UserError(
            f"No local cloud at {target.endpoint_url}: {LOCAL_CLOUD_HINT}, or unset AWS_ENDPOINT_URL.",
            FAILED,
        )
    if not target.aws:
        # Neither named: the call went to the local cloud `dualloop local up` runs (found through its
        # state file) or to one started for the command, and it went away mid-command.
        url = Target.current().endpoint_url or str(exc.kwargs.get("endpoint_url", ""))
        return UserError(
            f"The local cloud{f' at {url}' if url else ''} stopped answering: if `dualloop local up` runs "
            "it, restart that and run again.",
            FAILED,
        )
    region = target.region or "us-east-1"
    if silent:
        return UserError(
            f"AWS did not answer in time in region {region}: check your network connection and run again, "
            f"or {target.or_local}.",
            FAILED,
        )
    aws_url = urlsplit(str(exc.kwargs.get("endpoint_url", ""))).netloc
    return UserError(
        f"Cannot reach AWS in region {region}{f' ({aws_url})' if aws_url else ''}: check your network connection "
        f"and proxy settings, or {target.or_local}.",
        FAILED,
    )


def _client_error(exc: BaseException, target: Target) -> UserError | None:
    from botocore.exceptions import ClientError, ParamValidationError

    if isinstance(exc, ParamValidationError):
        detail = " ".join(str(exc.kwargs.get("report", exc)).split())
        return UserError(
            f"A value you gave is not valid for AWS ({detail}): correct it and run again.", USAGE
        )
    if not isinstance(exc, ClientError):
        return None
    error = exc.response.get("Error", {})
    code, message = str(error.get("Code", "")), str(error.get("Message", "")).strip().rstrip(".")
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    if code == "NoSuchBucket":
        bucket = error.get("BucketName", "")
        return UserError(
            f"The S3 bucket {bucket or '(named in the request)'} does not exist in {target.where}: check the "
            f"s3:// URI you gave; if the bucket is the stack's, {_deploy_hint(target)}.",
            USAGE,
        )
    if code in ("NoSuchKey", "404") and exc.operation_name in ("GetObject", "HeadObject"):
        return UserError(
            f"No S3 object where the command looked ({message or code}) in {target.where}: check the "
            "s3:// URI you gave and run again.",
            USAGE,
        )
    if code in _NOT_DEPLOYED:
        return UserError(f"{message or code} in {target.where}: {_deploy_hint(target)}.", USAGE)
    if code in _THROTTLED:
        return UserError(
            f"AWS is throttling {exc.operation_name} calls in {target.where}: wait a minute and run again.",
            FAILED,
        )
    if target.endpoint_url and status == 404 and code in ("404", "NotFound", ""):
        return UserError(
            f"{target.endpoint_url} answers, but not as a dualloop local cloud (HTTP 404 on "
            f"{exc.operation_name}): point AWS_ENDPOINT_URL at the address `dualloop local up` prints "
            '(`eval "$(dualloop local env)"`), or unset it.',
            USAGE,
        )
    if not target.endpoint_url and isinstance(status, int) and status >= 500:
        return UserError(
            f"AWS failed on {exc.operation_name} ({code}: {message}): try again in a few minutes; if it "
            "persists, check the AWS Health Dashboard.",
            FAILED,
        )
    return None


def _deploy_hint(target: Target) -> str:
    if target.endpoint_url:
        return "run `dualloop run` there once to provision the stack (or check DUALLOOP_PROJECT and DUALLOOP_STAGE)"
    return (
        f"deploy the stack with `make deploy STAGE={target.stage or 'dev'}` "
        "(or check DUALLOOP_PROJECT, DUALLOOP_STAGE and DUALLOOP_REGION)"
    )


def _config(exc: BaseException, target: Target) -> UserError | None:
    from pydantic import ValidationError

    from shared.config import ConfigError

    if isinstance(exc, ConfigError):
        return UserError(describe_config_error(exc, target), USAGE)
    if isinstance(exc, ValidationError):
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or e.get('type', 'value')}: {e['msg']}"
            + (f" (got {e['input']!r})" if not isinstance(e.get("input"), dict | list | None) else "")
            for e in exc.errors()
        )
        return UserError(f"Invalid {exc.title}: {problems}: correct the value and run again.", USAGE)
    return None


def describe_config_error(exc: Exception, target: Target | None = None) -> str:
    """A ``ConfigError`` as one sentence that also says where to fix it."""
    target = target or Target(config_file=os.environ.get("DUALLOOP_CONFIG_FILE"))
    text = str(exc)
    cause = exc.__cause__
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if lines and lines[0].startswith("invalid dualloop configuration"):
        fields = [line.partition(": ")[0] for line in lines[1:]]
        return (
            f"Invalid dualloop configuration: {'; '.join(lines[1:])}: "
            f"fix {_where_set(fields, target)} and run again."
        )
    match = re.match(r"config file (.+?) is not valid (\w+)", text)
    if match:
        detail = lines[-1].split(": ", 1)[-1] if len(lines) == 1 else _yaml_detail(cause) or lines[-1]
        return f"Config file {match.group(1)} is not valid {match.group(2)} ({detail}): fix it and run again."
    if text.endswith("does not exist"):
        return f"{capitalised(text)}: fix DUALLOOP_CONFIG_FILE (or --config) and run again."
    if text.startswith("environment variable DUALLOOP_"):  # shared.config.unknown_variables
        return f"{capitalised(text)}, and run again."
    return f"{capitalised(' '.join(lines))}: fix it and run again."


def _where_set(fields: list[str], target: Target) -> str:
    """Where the bad fields' values came from: a variable wins over the file."""
    variables, in_file, elsewhere = [], [], []
    for field in dict.fromkeys(fields):
        parts = field.split(".")
        candidates = ("DUALLOOP_" + "__".join(parts[:depth]).upper() for depth in range(len(parts), 0, -1))
        variable = next((v for v in candidates if v in os.environ), None)
        if variable:
            variables.append(variable)
        elif target.config_file:
            in_file.append(field)
        else:
            elsewhere.append(f"{field} (DUALLOOP_{'__'.join(parts).upper()} or the config file)")
    if in_file:
        variables.append(f"{' and '.join(in_file)} in {target.config_file}")
    return " and ".join(dict.fromkeys(variables + elsewhere))


def _yaml_detail(cause: BaseException | None) -> str | None:
    problem, mark = getattr(cause, "problem", None), getattr(cause, "problem_mark", None)
    if not problem:
        return None
    return f"{problem} at line {mark.line + 1}, column {mark.column + 1}" if mark else str(problem)


def _local_problem(exc: BaseException, target: Target) -> UserError | None:
    """Paths, disks and memory on this machine."""
    if isinstance(exc, MemoryError):
        return UserError(
            "Not enough memory for this: use fewer rows (--rows) or less data and run again.", FAILED
        )
    if isinstance(exc, UnicodeDecodeError):
        return UserError(
            f"A file you gave is not UTF-8 text ({exc.reason} at byte {exc.start}): check the files named by "
            "--config, DUALLOOP_CONFIG_FILE, --data, --input or --file and run again.",
            USAGE,
        )
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return UserError(
            f"No space left on the disk ({exc.filename or exc}): free some and run again.", FAILED
        )
    if isinstance(exc, FileNotFoundError | IsADirectoryError | NotADirectoryError | PermissionError):
        if exc.filename is None:  # raised with a message of our own: "no data at PATH"
            return UserError(f"{capitalised(str(exc))}: check the path and run again.", USAGE)
        reason = exc.strerror or type(exc).__name__
        return UserError(f"{reason}: {exc.filename}: check the path and run again.", USAGE)
    if type(exc) is TimeoutError and exc.args:  # ours ("... still running after N s"), not a socket's
        return UserError(
            f"{capitalised(str(exc))}: it may still be running; `dualloop status` shows it.", FAILED
        )
    return None


def capitalised(text: str) -> str:
    return text[:1].upper() + text[1:]


def _code(exc: BaseException) -> str | None:
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        code = response.get("Error", {}).get("Code")
        return str(code) if code is not None else None
    return None

"""``shared.user_errors``: every mistake a user can make is one sentence and an exit code.

What this proves: each exception botocore, the configuration and the file system raise for a
user's mistake (built here exactly as those libraries build them) maps to one line that says
what happened and what to do, with 2 for "fix the command or configuration" and 1 for "the
operation failed"; anything else maps to nothing (a bug keeps its traceback); every error a
failed outer-loop execution can end with has a next step. What it cannot prove: that the
commands let these exceptions reach ``main`` (tests/functional/test_cli_errors.py runs them);
the preflight against a real server (tests/functional/test_cloud_preflight.py).
"""

from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import Any

import pytest
from botocore import exceptions as bce
from botocore.parsers import ResponseParserError
from user_error_support import one_sentence

from outer_orchestrator.statemachine.definition import outer_loop_document
from shared.config import ConfigError, load_config
from shared.outcome_advice import explain_outcome
from shared.user_errors import (
    FAILED,
    USAGE,
    Target,
    check_endpoint,
    describe_config_error,
    explain,
    preflight,
)

AWS = Target(aws=True, account_id="123456789012", region="eu-west-1", stage="prod")
LOCAL = Target(endpoint_url="http://127.0.0.1:4566", account_id="123456789012", region="us-east-1")


def client_error(code: str, message: str = "", operation: str = "ListExecutions", status: int = 400) -> Any:
    return bce.ClientError(
        {"Error": {"Code": code, "Message": message}, "ResponseMetadata": {"HTTPStatusCode": status}},
        operation,
    )


# ---- credentials ---------------------------------------------------------------------------------


def test_no_credentials_on_aws_names_account_region_and_both_ways_out() -> None:
    error = one_sentence(explain(bce.NoCredentialsError(), AWS))
    assert error.message == (
        "No AWS credentials found for account 123456789012 in region eu-west-1: configure them "
        "(`aws configure`, `aws sso login` or AWS_PROFILE) or unset DUALLOOP_TARGET to use the local cloud."
    )
    assert error.exit_code == USAGE


def test_no_credentials_for_the_local_cloud_points_at_local_env() -> None:
    error = one_sentence(explain(bce.NoCredentialsError(), LOCAL))
    assert "local cloud at http://127.0.0.1:4566" in error.message
    assert 'eval "$(dualloop local env)"' in error.message


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (
            bce.PartialCredentialsError(provider="env", cred_var="AWS_SECRET_ACCESS_KEY"),
            "AWS_SECRET_ACCESS_KEY",
        ),
        (bce.ProfileNotFound(profile="nope"), "The AWS profile 'nope' does not exist"),
        (bce.UnauthorizedSSOTokenError(), "aws sso login"),
        (bce.TokenRetrievalError(provider="sso", error_msg="expired"), "aws sso login"),
        (bce.CredentialRetrievalError(provider="process", error_msg="boom"), "Could not get AWS credentials"),
        (
            client_error("ExpiredTokenException", "The security token included in the request is expired"),
            "expired",
        ),
        (client_error("RequestExpired"), "expired"),
        (client_error("UnrecognizedClientException", status=400), "AWS rejected the credentials"),
        (client_error("InvalidClientTokenId", status=403), "AWS rejected the credentials"),
        (client_error("SignatureDoesNotMatch", status=403), "AWS rejected the credentials"),
    ],
)
def test_credential_problems_are_usage_errors_that_say_what_to_do(exc: Exception, expected: str) -> None:
    error = one_sentence(explain(exc, AWS))
    assert expected in error.message
    assert error.exit_code == USAGE
    assert "unset DUALLOOP_TARGET" in error.message or "ask your AWS administrator" in error.message


def test_access_denied_names_the_call() -> None:
    error = one_sentence(explain(client_error("AccessDeniedException", "no", "StartExecution", 400), AWS))
    assert error.message.startswith(
        "The AWS credentials in use may not call StartExecution in account 123456789012 in region eu-west-1:"
    )


# ---- reaching the cloud --------------------------------------------------------------------------


def test_no_local_cloud_at_the_endpoint() -> None:
    exc = bce.EndpointConnectionError(endpoint_url="http://127.0.0.1:4566/")
    error = one_sentence(explain(exc, LOCAL))
    assert error.message == (
        "No local cloud at http://127.0.0.1:4566: start one with `dualloop local up` and "
        '`eval "$(dualloop local env)"`, or unset AWS_ENDPOINT_URL.'
    )
    assert error.exit_code == FAILED


def test_aws_unreachable_names_the_host_not_the_whole_url() -> None:
    exc = bce.EndpointConnectionError(endpoint_url="https://bucket.s3.amazonaws.com/some/long/key")
    error = one_sentence(explain(exc, AWS))
    assert error.message == (
        "Cannot reach AWS in region eu-west-1 (bucket.s3.amazonaws.com): check your network connection and "
        "proxy settings, or unset DUALLOOP_TARGET to use the local cloud."
    )


@pytest.mark.parametrize(
    "exc",
    [
        bce.ConnectTimeoutError(endpoint_url="https://states.eu-west-1.amazonaws.com/"),
        bce.ReadTimeoutError(endpoint_url="https://states.eu-west-1.amazonaws.com/"),
        bce.ConnectionClosedError(endpoint_url="https://states.eu-west-1.amazonaws.com/"),
    ],
)
def test_timeouts_and_dropped_connections_are_operational_failures(exc: Exception) -> None:
    assert one_sentence(explain(exc, AWS)).exit_code == FAILED
    assert one_sentence(explain(exc, LOCAL)).exit_code == FAILED


def test_a_cloud_that_is_not_dualloops_is_named() -> None:
    error = one_sentence(explain(client_error("404", "", "ListModelPackages", 404), LOCAL))
    assert error.message.startswith(
        "http://127.0.0.1:4566 answers, but not as a dualloop local cloud (HTTP 404 on ListModelPackages):"
    )
    garbled = ResponseParserError("Unable to parse response (no element found)")
    assert "not as a dualloop local cloud" in one_sentence(explain(garbled, LOCAL)).message
    assert "proxy" in one_sentence(explain(garbled, AWS)).message


# ---- the stack -----------------------------------------------------------------------------------


def test_a_stack_that_is_not_deployed_says_how_to_deploy_it() -> None:
    exc = client_error(
        "StateMachineDoesNotExist",
        "State Machine Does Not Exist: 'arn:aws:states:eu-west-1:123456789012:stateMachine:dualloop-prod-retrain'",
    )
    on_aws = one_sentence(explain(exc, AWS))
    assert on_aws.message == (
        "State Machine Does Not Exist: 'arn:aws:states:eu-west-1:123456789012:stateMachine:dualloop-prod-retrain' "
        "in account 123456789012 in region eu-west-1: deploy the stack with `make deploy STAGE=prod` "
        "(or check DUALLOOP_PROJECT, DUALLOOP_STAGE and DUALLOOP_REGION)."
    )
    assert "run `dualloop run` there once to provision the stack" in one_sentence(explain(exc, LOCAL)).message


def test_throttling_and_aws_outages_are_operational_and_unknown_api_errors_are_bugs() -> None:
    assert one_sentence(explain(client_error("ThrottlingException"), AWS)).exit_code == FAILED
    assert one_sentence(explain(client_error("InternalFailure", "oops", status=500), AWS)).exit_code == FAILED
    assert (
        explain(client_error("InternalFailure", "oops", status=500), LOCAL) is None
    )  # the local cloud's bug
    assert explain(client_error("ValidationException", "1 validation error"), AWS) is None


def test_a_bad_request_parameter_is_a_usage_error() -> None:
    exc = bce.ParamValidationError(report="Invalid length for parameter ModelPackageName, value: 0")
    error = one_sentence(explain(exc, AWS))
    assert "Invalid length for parameter ModelPackageName" in error.message
    assert error.exit_code == USAGE


# ---- configuration -------------------------------------------------------------------------------


def test_a_bad_variable_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DUALLOOP_STAGE", "qa")
    with pytest.raises(ConfigError) as caught:
        load_config()
    error = one_sentence(explain(caught.value, Target()))
    assert error.message == (
        "Invalid dualloop configuration: stage: Input should be 'dev', 'staging' or 'prod' (got 'qa'): "
        "fix DUALLOOP_STAGE and run again."
    )
    assert error.exit_code == USAGE


def test_unknown_keys_in_a_file_name_the_file(tmp_path: Path) -> None:
    file = tmp_path / "dualloop.yaml"
    file.write_text("stagee: dev\nquality:\n  thresh: 1\n")
    with pytest.raises(ConfigError) as caught:
        load_config(file)
    message = describe_config_error(caught.value, Target(config_file=str(file)))
    assert message == (
        "Invalid dualloop configuration: quality.thresh: Extra inputs are not permitted (got 1); "
        "stagee: Extra inputs are not permitted (got 'dev'): "
        f"fix quality.thresh and stagee in {file} and run again."
    )


def test_malformed_yaml_says_where_in_one_line(tmp_path: Path) -> None:
    file = tmp_path / "dualloop.yaml"
    file.write_text("stage: [dev\n")
    with pytest.raises(ConfigError) as caught:
        load_config(file)
    assert describe_config_error(caught.value) == (
        f"Config file {file} is not valid YAML (expected ',' or ']', but got '<stream end>' "
        "at line 2, column 1): fix it and run again."
    )


def test_a_missing_config_file() -> None:
    assert describe_config_error(ConfigError("config file /no/such.yaml does not exist")) == (
        "Config file /no/such.yaml does not exist: fix DUALLOOP_CONFIG_FILE (or --config) and run again."
    )


def test_other_validation_errors_are_usage_errors() -> None:
    from shared.contracts import RetrainInput

    with pytest.raises(Exception) as caught:
        RetrainInput.model_validate({"trigger": "nope"})
    error = one_sentence(explain(caught.value, Target()))
    assert error.message.startswith("Invalid RetrainInput: ")
    assert error.exit_code == USAGE


# ---- this machine --------------------------------------------------------------------------------


def test_paths() -> None:
    missing = FileNotFoundError(2, "No such file or directory", "/no/such/file")
    assert one_sentence(explain(missing, Target())).message == (
        "No such file or directory: /no/such/file: check the path and run again."
    )
    ours = FileNotFoundError("no data at /no/such/file")
    assert (
        one_sentence(explain(ours, Target())).message
        == "No data at /no/such/file: check the path and run again."
    )


def test_memory_disk_and_encoding() -> None:
    assert one_sentence(explain(MemoryError(), Target())).exit_code == FAILED
    assert (
        one_sentence(explain(OSError(28, "No space left on device", "/tmp/x"), Target())).exit_code == FAILED
    )
    undecodable = UnicodeDecodeError("utf-8", b"\xff", 0, 1, "invalid start byte")
    assert one_sentence(explain(undecodable, Target())).exit_code == USAGE


def test_bugs_are_not_explained() -> None:
    for exc in (KeyError("x"), TypeError("y"), ValueError("z"), RuntimeError("w"), OSError(5, "I/O error")):
        assert explain(exc, Target()) is None


# ---- before a command: is the named local cloud there? -------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def test_check_endpoint() -> None:
    url = f"http://127.0.0.1:{_free_port()}"
    refused = one_sentence(check_endpoint(url, timeout=1))
    assert refused.message.startswith(f"No local cloud at {url}: start one with `dualloop local up`")
    assert one_sentence(check_endpoint("nonsense", timeout=1)).exit_code == USAGE


def test_preflight_only_for_commands_that_talk_to_the_named_cloud() -> None:
    dead = Target(endpoint_url=f"http://127.0.0.1:{_free_port()}")
    assert preflight(["status"], dead) is not None
    assert preflight(["inner", "run", "--rows", "5"], dead) is not None
    for argv in (["local", "up"], ["data", "generate"], ["status", "--help"], [], ["--help"]):
        assert preflight(argv, dead) is None
    assert preflight(["status"], Target()) is None  # no endpoint named: nothing to check


def test_target_from_environment(tmp_path: Path) -> None:
    file = tmp_path / "c.yaml"
    file.write_text("account_id: '210987654321'\nregion: eu-west-1\n")
    target = Target.from_environment(
        {"DUALLOOP_TARGET": "aws", "AWS_ENDPOINT_URL": ""}, ["run", "--config", str(file)]
    )
    assert (target.aws, target.endpoint_url, target.account_id, target.region) == (
        True,
        None,
        "210987654321",
        "eu-west-1",
    )
    assert target.config_file == str(file)


# ---- outer-loop outcomes -------------------------------------------------------------------------

GLUE_RUN = {
    "Id": "jr_1",
    "JobName": "dualloop-dev-ingest",
    "JobRunState": "FAILED",
    "ErrorMessage": "DataReadError: no data files under s3://dualloop-dev-raw-123456789012/manual/x/",
}


@pytest.mark.parametrize(
    ("error", "cause", "expected"),
    [
        (
            "DataQualityFailed",
            "The curated data failed the DQDL ruleset",
            "outer_orchestrator/quality/transactions.dqdl",
        ),
        (
            "InnerPipelineFailed",
            "step CheckQuality failed: Quality gate failed: auc 0.93 is not ≥ the threshold 0.9999",
            "quality gate",
        ),
        (
            # The condition's Fail step is the step that fails when the gate is missed.
            "InnerPipelineFailed",
            "step QualityGateFailed failed: auc 0.61 is not ≥ the threshold 0.75",
            "quality gate",
        ),
        (
            "InnerPipelineFailed",
            "step Preprocess failed: AlgorithmError: a.csv: missing target column 'is_fraud'",
            "fix what the reason names in the data",
        ),
        (
            # A numeric target under the default binary problem type: the config, not the data.
            "InnerPipelineFailed",
            "step Preprocess failed: AlgorithmError: d.csv: target column 'progression' must be 0 or 1, "
            "found '151' at line 2",
            "set the problem type your target has in config",
        ),
        ("InnerPipelineFailed", "step Train failed: AlgorithmError: boom", "Pipeline step Train failed"),
        ("ModelNotApproved", "The registered model was rejected", "approval_timeout_seconds"),
        ("DeploymentRolledBack", "An endpoint alarm fired", "previous model still serves"),
        ("DeploymentFailed", "The endpoint did not reach InService", "FailureReason"),
        ("InvalidInput", "The execution input must be a RetrainInput", "`dualloop run`"),
        ("NoModelRegistered", "registered no model package", "RegisterModel"),
        ("RetrainFailed", "States.TaskFailed: " + json.dumps(GLUE_RUN), "DataReadError: no data files under"),
        (
            "RetrainFailed",
            "States.TaskFailed: " + json.dumps({**GLUE_RUN, "JobName": "dualloop-dev-data-quality"}),
            "The data-quality job failed",
        ),
        ("RetrainFailed", "States.Timeout: null", "pipeline_timeout_seconds"),
        ("RetrainFailed", "States.TaskFailed: something else", "A task of the retrain failed"),
        ("States.Timeout", None, "pipeline_timeout_seconds"),
        ("States.TaskFailed", "boom", "A task of the retrain failed"),
        ("Glue.AWSGlueException", "Job not found", "Glue job of the stack could not run"),
        ("Lambda.ResourceNotFoundException", "Function not found", "Lambda function of the stack failed"),
        ("SageMaker.ValidationException", "bad", "SageMaker call of the retrain failed"),
        ("SomethingNew", "?", "The retrain failed with SomethingNew"),
    ],
)
def test_every_outcome_has_one_next_step(error: str, cause: str | None, expected: str) -> None:
    sentence = explain_outcome(error, cause)
    assert sentence is not None
    assert expected in sentence
    assert "\n" not in sentence and sentence.endswith(".") and ": " in sentence


def test_a_rollback_is_not_blamed_on_clients_bad_requests() -> None:
    # GIVEN a deployment rolled back by an alarm, WHEN the user reads the next step,
    # THEN it tells the model's 5XX from a client's 4XX, which cannot have caused it
    sentence = explain_outcome("DeploymentRolledBack", "An endpoint alarm fired") or ""
    assert "5XX alarm means the new model failed" in sentence
    assert "malformed requests are 4XX and never fire it" in sentence


def test_no_error_no_advice() -> None:
    assert explain_outcome(None, None) is None
    assert explain_outcome("", "whatever") is None


def test_every_fail_state_of_the_asl_is_explained_specifically() -> None:
    asl = outer_loop_document()
    errors = {s["Error"] for s in asl["States"].values() if s["Type"] == "Fail" and "Error" in s}
    assert errors  # DataQualityFailed, ModelNotApproved, ...
    for error in errors:
        sentence = explain_outcome(error, None) or ""
        assert not sentence.startswith("The retrain failed with"), error

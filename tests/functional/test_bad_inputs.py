"""The bad-input suite's cheap cases: configuration, command lines and approvals, in this process.

What this proves: each bad setting, command line or approval decision run through
``shared.cli.main`` (what a user's shell runs) ends in one clear message and a non-zero exit
code, without a traceback, and changes nothing: configuration and usage mistakes are refused
before any AWS request is sent; a refused decision leaves every model package's approval
status as it was. Every case is marked ``bad_input(category)``; ``tests/conftest.py`` counts
them (issue 17). What it cannot prove: what real AWS answers (tests/functional/test_cli_errors.py
runs the same ``main`` against credentials and endpoints that are not there).
"""

from __future__ import annotations

import os
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.client import BaseClient
from botocore.exceptions import NoCredentialsError
from cli_support import Outcome, assert_clean, own_project, run_main
from package_support import decided_packages, package

from shared.local_cloud import LocalCloud


@dataclass
class Dualloop:
    """``dualloop ARGS`` in this process, through ``shared.cli.main``; records AWS calls made."""

    monkeypatch: pytest.MonkeyPatch
    capsys: pytest.CaptureFixture[str]
    calls: list[str] = field(default_factory=list)

    def __call__(self, *args: str) -> Outcome:
        return run_main(self.monkeypatch, self.capsys, *args)


@pytest.fixture
def offline(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Iterator[Dualloop]:
    """A deployed stack's settings (DUALLOOP_TARGET=aws) where no request can leave this process:
    every API call is recorded and refused as botocore refuses a call without credentials."""
    for key in [k for k in os.environ if k.startswith("DUALLOOP_")]:
        monkeypatch.delenv(key)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.setenv("DUALLOOP_TARGET", "aws")
    monkeypatch.setenv("COLUMNS", "400")
    dualloop = Dualloop(monkeypatch, capsys)
    # The command runs in this thread; the session's local cloud keeps serving in its own
    # threads (an earlier module's endpoint uploading captured data): theirs pass through.
    command_thread = threading.get_ident()
    send = BaseClient.__dict__["_make_api_call"]

    def refuse(client: BaseClient, operation: str, params: dict[str, Any]) -> Any:
        if threading.get_ident() != command_thread:
            return send(client, operation, params)
        dualloop.calls.append(operation)
        raise NoCredentialsError()

    monkeypatch.setattr(BaseClient, "_make_api_call", refuse)
    yield dualloop
    # Nothing lost: the command sent no request, so it cannot have changed anything.
    assert dualloop.calls == [], f"a refused command still called AWS: {dualloop.calls}"


# ---- configuration ---------------------------------------------------------------------------------

CONFIG_ERRORS = [
    (
        "DUALLOOP_QUALITY__THRESHOLD",
        "1.5",
        "quality.threshold: Value error, out of range for auc, which runs from 0.0 to 1.0 (got '1.5')",
    ),
    (
        "DUALLOOP_QUALITY__THRESHOLD",
        "abc",
        "quality.threshold: Input should be a valid number, unable to parse string as a number (got 'abc')",
    ),
    (
        "DUALLOOP_REGION",
        "moon-1",
        r"region: String should match pattern '^[a-z]{2}(-gov)?-[a-z]+-\d$' (got 'moon-1')",
    ),
    (
        "DUALLOOP_RAW_BUCKET",
        "My_Bucket",
        "raw_bucket: Value error, 'My_Bucket' is not a valid S3 bucket name (3-63 chars: lowercase letters, "
        "digits, '.', '-') (got 'My_Bucket')",
    ),
    (
        "DUALLOOP_DEPLOYMENT__CANARY_PERCENT",
        "60",
        "deployment.canary_percent: Input should be less than or equal to 50 (got '60')",
    ),
    (
        "DUALLOOP_DEPLOYMENT__TRAFFIC_TYPE",
        "SIDEWAYS",
        "deployment.traffic_type: Input should be 'ALL_AT_ONCE', 'CANARY' or 'LINEAR' (got 'SIDEWAYS')",
    ),
    (
        "DUALLOOP_INSTANCES__INFERENCE_INSTANCE_COUNT",
        "0",
        "instances.inference_instance_count: Input should be greater than or equal to 1 (got '0')",
    ),
    (
        "DUALLOOP_PROJECT",
        "Bad_Name!",
        "project: Value error, must be 3-22 chars of lowercase letters, digits and '-', starting with a "
        "letter (got 'Bad_Name!')",
    ),
    (
        "DUALLOOP_DEPLOYMENT__WAIT_INTERVAL_SECONDS",
        "-1",
        "deployment.wait_interval_seconds: Input should be greater than or equal to 0 (got '-1')",
    ),
    (
        "DUALLOOP_DATASET__TARGET_COLUMN",
        "",
        "dataset.target_column: Value error, '' has no letter or digit to make a column name of (got '')",
    ),
]


@pytest.mark.bad_input("config")
@pytest.mark.parametrize(
    ("variable", "value", "problem"), CONFIG_ERRORS, ids=[f"{v}={x}" for v, x, _ in CONFIG_ERRORS]
)
def test_a_bad_setting_in_the_environment_names_the_field_and_the_variable(
    offline: Dualloop, variable: str, value: str, problem: str
) -> None:
    # GIVEN a bad value in a setting's variable, WHEN any command loads the configuration
    offline.monkeypatch.setenv(variable, value)
    # THEN it stops before any request, naming the field, the value and the variable to fix
    assert_clean(
        offline("drift", "run"),
        2,
        f"Invalid dualloop configuration: {problem}: fix {variable} and run again.",
    )


@pytest.mark.bad_input("config")
@pytest.mark.parametrize(
    ("variable", "closest"),
    [("DUALLOOP_FOO", "DUALLOOP_HOME"), ("DUALLOOP_PROJEKT", "DUALLOOP_PROJECT")],
)
def test_an_unknown_variable_is_refused_in_process_too(
    offline: Dualloop, variable: str, closest: str
) -> None:
    offline.monkeypatch.setenv(variable, "1")
    assert_clean(
        offline("status"),
        2,
        f"Environment variable {variable} is not a dualloop setting (the closest is {closest}); "
        "rename or unset it, and run again.",
    )


CONFIG_FILES = [
    (
        "missing",
        None,
        "Config file {path} does not exist: fix DUALLOOP_CONFIG_FILE (or --config) and run again.",
    ),
    ("directory", "dir", "Config file {path} is a directory, not a YAML or TOML file: fix it and run again."),
    (
        "bad.yaml",
        "stage: [\n",
        "Config file {path} is not valid YAML (expected the node content, but found '<stream end>' at line 2, "
        "column 1): fix it and run again.",
    ),
    (
        "bad.toml",
        "a = \n",
        "Config file {path} is not valid TOML (Invalid value (at line 1, column 5)): fix it and run again.",
    ),
    (
        "list.yaml",
        "- a\n- b\n",
        "Config file {path} must hold a mapping of settings at the top level: fix it and run again.",
    ),
    (
        "range.yaml",
        "quality:\n  threshold: 7\n",
        "Invalid dualloop configuration: quality.threshold: Value error, out of range for auc, which runs from "
        "0.0 to 1.0 (got 7): fix quality.threshold in {path} and run again.",
    ),
]


@pytest.mark.bad_input("config")
@pytest.mark.parametrize(("name", "content", "message"), CONFIG_FILES, ids=[c[0] for c in CONFIG_FILES])
def test_a_bad_config_file_is_named_and_left_as_it_was(
    offline: Dualloop, tmp_path: Path, name: str, content: str | None, message: str
) -> None:
    path = tmp_path / name
    if content == "dir":
        path.mkdir()
    elif content is not None:
        path.write_text(content)
    offline.monkeypatch.setenv("DUALLOOP_CONFIG_FILE", str(path))
    assert_clean(offline("drift", "run"), 2, message.format(path=path))
    # Nothing lost: the file is as the user wrote it (or still absent).
    if content is None:
        assert not path.exists()
    elif content != "dir":
        assert path.read_text() == content


# ---- command lines ---------------------------------------------------------------------------------

USAGE_ERRORS = [
    (["frobnicate"], "No such command 'frobnicate'."),
    (["run", "--rows", "abc"], "Invalid value for '--rows': Input should be a valid integer"),
    (["run", "--rows", "0"], "Invalid value for '--rows': Input should be greater than or equal to 1"),
    (
        ["run", "--approve", "sometimes", "--rows", "5"],
        "Invalid value for --approve: use auto, prompt or wait",
    ),
    (["graph", "--loop", "sideways"], "Invalid value for '--loop': Value error, 'sideways' is not one of"),
    (["drift", "simulate", "abc"], "Invalid value for 'shift': Input should be a valid number"),
    (
        ["data", "generate", "--rows", "0"],
        "Invalid value for '--rows': Input should be greater than or equal to 1",
    ),
    (
        ["local", "up", "--port", "99999"],
        "Invalid value for '--port': Input should be less than or equal to 65535",
    ),
    (
        ["local", "up", "--port", "-1"],
        "Invalid value for '--port': Input should be greater than or equal to 0",
    ),
    (["status", "--no-such-option"], "No such option: --no-such-option"),
]


@pytest.mark.bad_input("cli")
@pytest.mark.parametrize(("argv", "problem"), USAGE_ERRORS, ids=[" ".join(a) for a, _ in USAGE_ERRORS])
def test_a_bad_command_line_is_a_usage_error_before_anything_runs(
    offline: Dualloop, argv: list[str], problem: str
) -> None:
    outcome = offline(*argv)
    assert outcome.code == 2 and "Traceback" not in outcome.err, outcome.err
    assert problem in outcome.err
    assert outcome.out == ""


PARAM_ERRORS = [
    (
        "Nope=1",
        "--param: unknown pipeline parameter Nope; the pipeline declares: InputDataUri (String), "
        "ProcessingInstanceType (String), ProcessingInstanceCount (Integer), TrainingInstanceType (String), "
        "TrainingInstanceCount (Integer), ModelApprovalStatus (String), MetricThreshold (Float), MaxDepth "
        "(Integer), Eta (Float), NumRound (Integer), CallbackToken (String)",
    ),
    ("MetricThreshold=abc", "--param: parameter 'MetricThreshold' of type Float cannot take the value 'abc'"),
    ("MetricThreshold", "--param: 'MetricThreshold' is not NAME=VALUE"),
]


@pytest.mark.bad_input("cli")
@pytest.mark.parametrize(("param", "message"), PARAM_ERRORS, ids=[p for p, _ in PARAM_ERRORS])
def test_a_bad_pipeline_parameter_is_refused_naming_what_the_pipeline_declares(
    offline: Dualloop, param: str, message: str
) -> None:
    assert_clean(offline("inner", "run", "--param", param), 2, message)


@pytest.mark.bad_input("cli")
def test_invoke_without_a_body_says_how_to_give_one(offline: Dualloop) -> None:
    assert_clean(offline("invoke"), 2, "give the request as exactly one of --file or --body")


# ---- approvals, against the local cloud --------------------------------------------------------------


@dataclass
class Project:
    dualloop: Dualloop
    group: str
    packages: dict[str, str]

    def statuses(self) -> dict[str, str]:
        summaries = boto3.client("sagemaker").list_model_packages(ModelPackageGroupName=self.group)
        return {p["ModelPackageArn"]: p["ModelApprovalStatus"] for p in summaries["ModelPackageSummaryList"]}


@pytest.fixture
def project(
    local_cloud: LocalCloud, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Project:
    """Its own project on the local cloud: one Approved and one Rejected package, none pending."""
    name = own_project(monkeypatch, "bi")
    monkeypatch.setenv("COLUMNS", "400")
    group = f"{name}-dev-models"
    return Project(Dualloop(monkeypatch, capsys), group, decided_packages(group))


def _unknown(project: Project) -> str:
    return project.packages["Approved"].rsplit("/", 1)[0] + "/99"


NOT_HERE = "no model package {arn} here: `dualloop status` lists the packages, or pass --latest for the newest one awaiting approval"
NONE_PENDING = (
    "no model package {group} awaits approval: a retrain registers one when its model passes the quality gate "
    "(`dualloop status` shows the retrains)"
)
APPROVAL_ERRORS = [
    ("reject-unknown", ["reject", "{unknown}"], 1, NOT_HERE.format(arn="{unknown}")),
    ("approve-not-an-arn", ["approve", "not-an-arn"], 1, NOT_HERE.format(arn="not-an-arn")),
    ("reject-not-an-arn", ["reject", "not-an-arn"], 1, NOT_HERE.format(arn="not-an-arn")),
    ("reject-rejected", ["reject", "{Rejected}"], 1, "{Rejected} is already Rejected: nothing to do"),
    ("reject-latest-none-pending", ["reject", "--latest"], 1, NONE_PENDING.replace("{group}", "in {group}")),
    (
        "approve-nothing-named",
        ["approve"],
        2,
        "Name a MODEL_PACKAGE_ARN or pass --latest (`dualloop status` lists them).",
    ),
    (
        "approve-empty-arn",
        ["approve", ""],
        2,
        "Name a MODEL_PACKAGE_ARN or pass --latest (`dualloop status` lists them).",
    ),
    ("approve-version-number", ["approve", "1"], 1, NOT_HERE.format(arn="1")),
    (
        "approve-another-account",
        ["approve", "arn:aws:sagemaker:eu-west-1:999999999999:model-package/elsewhere/1"],
        1,
        NOT_HERE.format(arn="arn:aws:sagemaker:eu-west-1:999999999999:model-package/elsewhere/1"),
    ),
    ("reject-version-zero", ["reject", "{base}/0"], 1, NOT_HERE.format(arn="{base}/0")),
    (
        "reject-nothing-named",
        ["reject"],
        2,
        "Name a MODEL_PACKAGE_ARN or pass --latest (`dualloop status` lists them).",
    ),
    (
        "approve-rejected-with-reason",
        ["approve", "{Rejected}", "--reason", "second thoughts"],
        1,
        "{Rejected} was rejected and its retrain has stopped: start a new retrain (`dualloop run`) instead",
    ),
]


@pytest.mark.bad_input("approvals")
@pytest.mark.parametrize(
    ("argv", "code", "message"), [c[1:] for c in APPROVAL_ERRORS], ids=[c[0] for c in APPROVAL_ERRORS]
)
def test_a_decision_that_cannot_be_made_says_why_and_changes_no_package(
    project: Project, argv: list[str], code: int, message: str
) -> None:
    # GIVEN a project whose packages are all decided
    base = project.packages["Approved"].rsplit("/", 1)[0]
    values = {**project.packages, "unknown": _unknown(project), "group": project.group, "base": base}
    before = project.statuses()
    # WHEN a user makes a decision that cannot be made
    started = time.monotonic()
    outcome = project.dualloop(*(a.format(**values) for a in argv))
    # THEN one sentence says why, the exit code is non-zero, and no package's status changed
    assert_clean(outcome, code, message.format(**values))
    assert project.statuses() == before
    assert time.monotonic() - started < 10


def _pending(project: Project) -> str:
    return package(project.group)


@pytest.mark.bad_input("approvals")
@pytest.mark.parametrize("decision", ["approve", "reject"])
def test_the_same_decision_twice_is_refused_the_second_time(project: Project, decision: str) -> None:
    # GIVEN a package decided once, by the user
    arn = _pending(project)
    first = project.dualloop(decision, arn, "--reason", "first")
    assert first.code == 0, first.err
    status = "Approved" if decision == "approve" else "Rejected"
    before = project.statuses()
    description = boto3.client("sagemaker").describe_model_package(ModelPackageName=arn)[
        "ApprovalDescription"
    ]
    # WHEN the same decision is made again (a double click, a retried script)
    again = project.dualloop(decision, arn, "--reason", "second")
    # THEN it says there is nothing to do, and the first decision stands with its reason
    assert_clean(again, 1, f"{arn} is already {status}: nothing to do")
    assert project.statuses() == before and before[arn] == status
    assert description == "first"
    assert (
        boto3.client("sagemaker").describe_model_package(ModelPackageName=arn)["ApprovalDescription"]
        == "first"
    )


@pytest.mark.bad_input("approvals")
@pytest.mark.parametrize("decision", ["approve", "reject"])
def test_latest_in_a_project_that_never_registered_a_model(
    local_cloud: LocalCloud,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    decision: str,
) -> None:
    # GIVEN a project with no model package group at all (never run)
    name = f"bi-{uuid.uuid4().hex[:6]}"
    monkeypatch.setenv("DUALLOOP_PROJECT", name)
    monkeypatch.delenv("DUALLOOP_TARGET", raising=False)
    # WHEN the user approves or rejects the latest, THEN one sentence says none awaits, and no group appears
    assert_clean(
        Dualloop(monkeypatch, capsys)(decision, "--latest"),
        1,
        NONE_PENDING.format(group=f"in {name}-dev-models"),
    )
    groups = boto3.client("sagemaker").list_model_package_groups(NameContains=name)[
        "ModelPackageGroupSummaryList"
    ]
    assert groups == []


@pytest.mark.bad_input("approvals")
@pytest.mark.parametrize("decision", ["approve", "reject"])
def test_a_package_of_another_project_is_not_decided_from_this_one(project: Project, decision: str) -> None:
    # GIVEN a package pending in another project's group (an ARN copied from its notification)
    sagemaker = boto3.client("sagemaker")
    other = f"bi-{uuid.uuid4().hex[:6]}-dev-models"
    arn = package(other, create_group=True)
    # WHEN this project's user approves or rejects it
    outcome = project.dualloop(decision, arn)
    # THEN it is refused, naming both groups, and the other project's retrain still awaits its decision
    assert_clean(
        outcome,
        1,
        f"{arn} belongs to {other}, not to this project's {project.group}: set DUALLOOP_PROJECT and "
        "DUALLOOP_STAGE to its project to decide it",
    )
    assert (
        sagemaker.describe_model_package(ModelPackageName=arn)["ModelApprovalStatus"]
        == "PendingManualApproval"
    )

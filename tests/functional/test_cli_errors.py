"""Every mistake a user can make with ``dualloop`` ends in one sentence and an exit code.

What this proves: real commands, run through ``shared.cli.main`` (the wrapper every command
goes through) in a subprocess or in this process against the local cloud, answer bad
credentials, a local cloud that is not there, bad configuration, bad paths and data, unknown
ARNs, endpoints and executions with one line saying what happened and what to do, exit 2
(fix the command or configuration) or 1 (the operation failed), and no traceback; and they do
it in seconds. Nothing here reaches AWS: without credentials botocore stops before sending,
and everything else talks to the local cloud.
What it cannot prove: what real AWS answers to expired or denied credentials (the unit tests
build those errors as botocore does), or the pipeline's own data checks (tests/e2e).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import boto3
import pytest
from cli_support import Outcome, assert_clean, own_project, run_main
from home_support import fresh_home
from package_support import decided_packages
from wait_support import endpoint_settled

from shared.local_cloud import LocalCloud
from shared.naming import Names

ROOT = Path(__file__).resolve().parents[2]
HEADER = (
    "transaction_id,amount,merchant_category,hour,distance_from_home_km,tx_count_1h,tx_count_24h,"
    "amount_to_avg_ratio,is_online,is_fraud"
)


# ---- in a subprocess: exactly what a user's shell sees ------------------------------------------


def _base_env(tmp_path: Path) -> dict[str, str]:
    """No credentials anywhere (files, profile, instance metadata), nothing from this process."""
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp_path),
        "DUALLOOP_HOME": str(fresh_home(tmp_path / ".dualloop")),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "no-credentials"),
        "AWS_CONFIG_FILE": str(tmp_path / "no-config"),
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_DEFAULT_REGION": "us-east-1",
        "SAGEMAKER_VALIDATE_ROLE": "false",
        "COLUMNS": "400",
    }


def dualloop(env: dict[str, str], *args: str, timeout: float = 60) -> Outcome:
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "shared.cli", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    return Outcome(done.returncode, done.stdout, done.stderr, time.monotonic() - started)


NO_CREDENTIALS = (
    "No AWS credentials found for account 123456789012 in region us-east-1: configure them "
    "(`aws configure`, `aws sso login` or AWS_PROFILE) or unset DUALLOOP_TARGET to use the local cloud."
)


@pytest.mark.bad_input("cli")
@pytest.mark.parametrize(
    "command",
    [["status"], ["approve", "--latest"], ["run", "--data", "s3://somewhere/raw/"], ["drift", "run"]],
    ids=" ".join,
)
def test_no_aws_credentials_is_one_sentence_in_seconds(tmp_path: Path, command: list[str]) -> None:
    env = {**_base_env(tmp_path), "DUALLOOP_TARGET": "aws"}
    outcome = dualloop(env, *command)
    assert_clean(outcome, 2, NO_CREDENTIALS)
    assert outcome.seconds < 20


@pytest.mark.bad_input("cli")
def test_an_endpoint_with_no_local_cloud_is_found_before_any_call(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{s.getsockname()[1]}"  # free once closed: nothing listens
    env = {
        **_base_env(tmp_path),
        "AWS_ENDPOINT_URL": url,
        "AWS_ACCESS_KEY_ID": "x",
        "AWS_SECRET_ACCESS_KEY": "x",
    }
    outcome = dualloop(env, "status")
    assert_clean(
        outcome,
        1,
        f'No local cloud at {url}: start one with `dualloop local up` and `eval "$(dualloop local env)"`, '
        "or unset AWS_ENDPOINT_URL.",
    )
    assert outcome.seconds < 10


@pytest.mark.bad_input("config")
def test_a_bad_stage_in_the_environment(tmp_path: Path) -> None:
    env = {**_base_env(tmp_path), "DUALLOOP_STAGE": "qa", "DUALLOOP_TARGET": "aws"}
    assert_clean(
        dualloop(env, "drift", "run"),
        2,
        "Invalid dualloop configuration: stage: Input should be 'dev', 'staging' or 'prod' (got 'qa'): "
        "fix DUALLOOP_STAGE and run again.",
    )


@pytest.mark.bad_input("config")
@pytest.mark.parametrize(
    ("variable", "closest"),
    [("DUALLOOP_QUALITY_THRESHOLD", "DUALLOOP_QUALITY__THRESHOLD"), ("DUALLOOP_REGIONS", "DUALLOOP_REGION")],
)
def test_an_unknown_dualloop_variable_is_refused_naming_the_closest(
    tmp_path: Path, variable: str, closest: str
) -> None:
    # GIVEN a variable that is no setting (ignored without a word before), WHEN any command loads the config
    env = {**_base_env(tmp_path), variable: "0.99", "DUALLOOP_TARGET": "aws"}
    # THEN it is refused by name, with the closest valid one, before anything runs
    outcome = dualloop(env, "drift", "run")
    assert_clean(
        outcome,
        2,
        f"Environment variable {variable} is not a dualloop setting (the closest is {closest}); "
        "rename or unset it, and run again.",
    )
    assert outcome.seconds < 10


# ---- in this process, through main(), against the local cloud -----------------------------------


@dataclass
class Dualloop:
    """``dualloop ARGS`` in this process, through ``shared.cli.main``."""

    project: str
    monkeypatch: pytest.MonkeyPatch
    capsys: pytest.CaptureFixture[str]

    def __call__(self, *args: str) -> Outcome:
        return run_main(self.monkeypatch, self.capsys, *args)


@pytest.fixture
def main(
    local_cloud: LocalCloud, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Dualloop:
    """Its own project on the local cloud, with nothing deployed."""
    return Dualloop(own_project(monkeypatch, "ue"), monkeypatch, capsys)


@pytest.mark.bad_input("cli")
def test_status_of_a_stack_that_is_not_provisioned(main: Dualloop, local_cloud: LocalCloud) -> None:
    project = main.project
    outcome = main("status")
    machines = boto3.client("stepfunctions").list_state_machines()["stateMachines"]
    assert all(project not in m["name"] for m in machines)  # status provisions nothing
    assert_clean(
        outcome,
        2,
        f"State Machine Does Not Exist: 'arn:aws:states:us-east-1:123456789012:stateMachine:{project}-dev-retrain'"
        f" in the local cloud at {local_cloud.endpoint}: run `dualloop run` there once to provision the stack "
        "(or check DUALLOOP_PROJECT and DUALLOOP_STAGE).",
    )


@pytest.fixture
def packages(main: Dualloop) -> dict[str, str]:
    """One approved and one rejected package in the project's model package group."""
    return decided_packages(f"{main.project}-dev-models")


@pytest.mark.bad_input("approvals")
def test_approve_what_does_not_exist_or_is_already_decided(main: Dualloop, packages: dict[str, str]) -> None:
    project = main.project
    sagemaker = boto3.client("sagemaker")
    before = sagemaker.list_model_packages(ModelPackageGroupName=f"{project}-dev-models")[
        "ModelPackageSummaryList"
    ]
    unknown = f"arn:aws:sagemaker:us-east-1:123456789012:model-package/{project}-dev-models/99"
    assert_clean(
        main("approve", unknown),
        1,
        f"no model package {unknown} here: `dualloop status` lists the packages, "
        "or pass --latest for the newest one awaiting approval",
    )
    assert_clean(
        main("approve", packages["Approved"]),
        1,
        f"{packages['Approved']} is already Approved: nothing to do",
    )
    assert_clean(
        main("approve", packages["Rejected"]),
        1,
        f"{packages['Rejected']} was rejected and its retrain has stopped: start a new retrain "
        "(`dualloop run`) instead",
    )
    assert_clean(
        main("approve", "--latest"),
        1,
        f"no model package in {project}-dev-models awaits approval: a retrain registers one when its model "
        "passes the quality gate (`dualloop status` shows the retrains)",
    )
    after = sagemaker.list_model_packages(ModelPackageGroupName=f"{project}-dev-models")[
        "ModelPackageSummaryList"
    ]
    assert after == before  # no decision recorded, no package added or changed


@pytest.mark.bad_input("endpoint")
def test_invoke_and_drift_without_an_endpoint(main: Dualloop) -> None:
    endpoint = f"{main.project}-dev-endpoint"
    assert_clean(
        main("invoke", "--body", "1,2,3"),
        1,
        f"endpoint {endpoint} not found: deploy one first (dualloop run), or pass --endpoint",
    )
    assert_clean(
        main("drift", "run"),
        1,
        f"endpoint '{endpoint}' does not exist: deploy one first (`dualloop run`), or pass --endpoint",
    )
    assert_clean(
        main("drift", "simulate", "0.5", "--requests", "3"),
        1,
        f"endpoint {endpoint} not found: deploy one first (`dualloop run`), or pass --endpoint",
    )


@pytest.mark.bad_input("endpoint")
def test_invoke_with_a_malformed_body_says_what_the_model_expects(main: Dualloop, tmp_path: Path) -> None:
    sys.path.insert(0, str(ROOT / "tests"))
    from hosting_fixture import Registry, model_tarball, sourcedir_tarball, train_model

    s3, sagemaker = boto3.client("s3"), boto3.client("sagemaker")
    registry = Registry.create(s3, sagemaker)
    model = train_model(tmp_path / "model", rows=400, rounds=3)
    package = registry.package(
        registry.upload("model.tar.gz", model_tarball(model)),
        registry.upload("src.tar.gz", sourcedir_tarball()),
    )
    name = f"ue-{uuid.uuid4().hex[:6]}"
    sagemaker.create_endpoint(
        EndpointName=name, EndpointConfigName=registry.endpoint_config(package, capture=False)
    )
    try:
        assert endpoint_settled(name, timeout=60)["EndpointStatus"] == "InService"
        assert_clean(
            main("invoke", "--endpoint", name, "--body", "1,2,3"),
            2,
            f"endpoint {name} refused the request (row 1 has 3 values; expected 8 (amount, merchant_category, "
            "hour, distance_from_home_km, tx_count_1h, tx_count_24h, amount_to_avg_ratio, is_online)): "
            "fix the body and send it again",
        )
        assert_clean(
            main("invoke", "--endpoint", name, "--body", "{", "--content-type", "application/json"),
            2,
            f"endpoint {name} refused the request (request body is not valid JSON: Expecting property name "
            "enclosed in double quotes: line 1 column 2 (char 1)): fix the body and send it again",
        )
        # Nothing lost: the endpoint still serves, and answers the next good request.
        assert sagemaker.describe_endpoint(EndpointName=name)["EndpointStatus"] == "InService"
        good = main("invoke", "--endpoint", name, "--body", "12.5,grocery,14,3.0,1,3,1.0,0")
        assert good.code == 0, good.err
    finally:
        sagemaker.delete_endpoint(EndpointName=name)


@pytest.mark.bad_input("cli")
def test_graph_of_an_unknown_execution(main: Dualloop) -> None:
    arn = f"arn:aws:states:us-east-1:123456789012:execution:{main.project}-dev-retrain:no-such-run"
    assert_clean(
        main("graph", "--loop", "outer", "--execution", arn),
        2,
        f"no execution {arn} here: `dualloop status` lists the retrains, or leave out --execution to draw "
        "the latest",
    )


@pytest.mark.bad_input("data")
def test_run_with_data_that_is_not_there(
    main: Dualloop, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # As on a deployed stack (nothing to provision), on the local cloud (nothing reaches AWS).
    monkeypatch.setenv("DUALLOOP_TARGET", "aws")
    assert_clean(
        main("run", "--data", "/no/such/file"),
        2,
        "No data at /no/such/file: check the path and run again.",
    )
    (tmp_path / "empty").mkdir()
    assert_clean(
        main("run", "--data", str(tmp_path / "empty")),
        2,
        f"{tmp_path / 'empty'} holds no files: check the path and run again.",
    )
    assert list((tmp_path / "empty").iterdir()) == []
    machines = boto3.client("stepfunctions").list_state_machines()["stateMachines"]
    assert all(main.project not in m["name"] for m in machines)  # nothing started


@pytest.mark.bad_input("data")
@pytest.mark.parametrize(
    ("content", "name", "message"),
    [
        (
            None,
            "nowhere.csv",
            "--input: no file or folder at {path}: give a CSV or Parquet file, or a folder of them",
        ),
        ("", "empty.csv", "--input: {path} is empty: a CSV file needs a header row and data rows"),
        (
            'a,"b\n1,2\n',
            "malformed.csv",
            "--input: cannot read {path} (Error tokenizing data. C error: EOF inside string starting at row 0): "
            "give a CSV file with a header row, or Parquet",
        ),
        (
            "transaction_id,amount,is_fraud\ntx-1,12.5,0\n",
            "narrow.csv",
            "--input: {path} lacks the column(s) merchant_category, hour, distance_from_home_km, tx_count_1h, "
            "tx_count_24h, amount_to_avg_ratio, is_online (it has transaction_id, amount, is_fraud): "
            "give data with the dataset's columns",
        ),
        (
            HEADER + "\n",
            "rows.txt",
            "--input: {path} is not a .csv or .parquet file, the only kinds the pipeline reads",
        ),
    ],
    ids=["missing", "empty", "malformed", "missing-columns", "not-csv"],
)
def test_inner_run_rejects_bad_input_before_starting_anything(
    main: Dualloop, tmp_path: Path, content: str | None, name: str, message: str
) -> None:
    path = tmp_path / name
    if content is not None:
        path.write_text(content)
    outcome = main("inner", "run", "--input", str(path))
    assert_clean(outcome, 2, message.format(path=path))
    assert outcome.seconds < 5  # no cloud, no pipeline
    assert (path.read_text() if content is not None else None) == content  # the input as the user left it


@pytest.mark.bad_input("cli")
def test_run_refuses_a_negative_row_count_before_provisioning(main: Dualloop) -> None:
    outcome = main("run", "--rows", "-5")
    assert outcome.code == 2 and "Traceback" not in outcome.err
    assert "Invalid value for '--rows'" in outcome.err and "greater than or equal to 1" in outcome.err
    assert outcome.seconds < 5  # no cloud, no provisioning
    machines = boto3.client("stepfunctions").list_state_machines()["stateMachines"]
    assert all(main.project not in m["name"] for m in machines)


@pytest.mark.bad_input("cli")
@pytest.mark.parametrize("value", ["2", "-0.1"])
def test_inner_run_refuses_a_metric_threshold_no_score_can_reach(main: Dualloop, value: str) -> None:
    outcome = main("inner", "run", "--param", f"MetricThreshold={value}")
    assert_clean(
        outcome,
        2,
        f"--param MetricThreshold={value}: out of range for auc, which runs from 0.0 to 1.0 "
        "(quality.metric names the gate's metric)",
    )
    machines = boto3.client("stepfunctions").list_state_machines()["stateMachines"]
    assert all(main.project not in m["name"] for m in machines)


@pytest.mark.bad_input("cli")
def test_a_second_run_while_one_runs_says_already_running_and_leaves_its_jobs_alone(main: Dualloop) -> None:
    import json

    from outer_orchestrator.cli import ALREADY_RUNNING
    from outer_orchestrator.local_stack import LocalStack
    from shared.config import load_config

    # GIVEN a provisioned project whose lock is held by a retrain that is still RUNNING
    cfg = load_config()
    LocalStack(cfg).provision()
    names = Names(cfg)
    sfn, glue = boto3.client("stepfunctions"), boto3.client("glue")
    waiting = sfn.create_state_machine(
        name=f"{main.project}-holder",
        definition=json.dumps(
            {"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 600, "End": True}}}
        ),
        roleArn="arn:aws:iam::123456789012:role/local-test",
    )["stateMachineArn"]
    holder = sfn.start_execution(stateMachineArn=waiting)["executionArn"]
    boto3.client("dynamodb").put_item(
        TableName=names.lock_table, Item={"lock_id": {"S": "retrain"}, "execution_arn": {"S": holder}}
    )
    created = glue.get_job(JobName=names.ingest_job)["Job"]["CreatedOn"]
    try:
        # WHEN a second `dualloop run` starts
        outcome = main("run", "--rows", "200")
    finally:
        sfn.stop_execution(executionArn=holder)
    # THEN it says AlreadyRunning with its own exit code, before provisioning anything again
    assert_clean(
        outcome,
        ALREADY_RUNNING,
        f"AlreadyRunning: retrain {holder} holds the lock, so this one did nothing; follow it with "
        "`dualloop status` and run again once it has ended.",
    )
    assert ALREADY_RUNNING not in (0, 1, 2)
    assert glue.get_job(JobName=names.ingest_job)["Job"]["CreatedOn"] == created  # the running retrain's job


def test_inner_run_explains_a_failed_step(capsys: pytest.CaptureFixture[str]) -> None:
    from inner_pipeline.cli import InnerRun, _summarise

    reason = (
        "step Preprocess failed: AlgorithmError: a.csv: numeric feature 'amount' has non-numeric value 'abc' "
        "at line 3"
    )
    _summarise(InnerRun("arn:x", "Failed", "s3://b/p/", {}, failure_reason=reason), as_json=False)
    lines = [line.strip() for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert lines[-2:] == [
        reason,
        "The pipeline rejected the training data: fix what the reason names in the data and run again.",
    ]


@pytest.mark.bad_input("cli")
def test_data_generate_into_a_place_that_cannot_be_written(main: Dualloop, tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    assert_clean(
        main("data", "generate", "--rows", "5", "--out", str(blocker / "sub")),
        2,
        f"--out: cannot write to {blocker / 'sub'} (Not a directory): choose another folder",
    )
    assert blocker.read_text() == ""  # the file in the way is left as it was


@pytest.mark.bad_input("cli")
def test_local_up_on_a_taken_port_stops_at_once(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        outcome = dualloop(_base_env(tmp_path), "local", "up", "--port", str(port), timeout=30)
    assert "Traceback" not in outcome.err
    assert outcome.code == 2
    unboxed = " ".join(outcome.err.replace("│", " ").split())  # typer's usage-error box
    assert (
        f"Invalid value for --port: cannot listen on 127.0.0.1:{port} (Address already in use); try --port 0"
        in unboxed
    )


@pytest.mark.bad_input("cli")
def test_local_up_when_one_already_runs(
    main: Dualloop, local_cloud: LocalCloud, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import json

    from shared.local_cloud import cli as local_cli

    state = tmp_path / "local-cloud.json"
    state.write_text(json.dumps({"pid": os.getpid(), "env": local_cloud.env()}))
    monkeypatch.setattr(local_cli, "STATE_FILE", state)
    assert_clean(
        main("local", "up", "--port", "0"),
        1,
        f"A local cloud already runs at {local_cloud.endpoint}: use it "
        '(`eval "$(dualloop local env)"`), or stop it (Ctrl-C where it runs) and start again.',
    )
    assert json.loads(state.read_text())["env"] == local_cloud.env()  # untouched

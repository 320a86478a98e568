"""`dualloop local up` serves AWS on 127.0.0.1 to other processes: boto3 and the AWS CLI
reach it through the printed environment, `local env` prints the same, and SIGTERM stops
it cleanly (state file removed, port released)."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from home_support import fresh_home
from local_up_support import start_local_up


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[dict[str, str], subprocess.Popen[str], dict[str, str]]]:
    env = {**os.environ, "DUALLOOP_HOME": str(fresh_home(tmp_path / "home"))}
    env.pop("AWS_ENDPOINT_URL", None)
    process, exported = start_local_up(env)
    try:
        yield exported, process, env
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_other_processes_reach_it(
    served: tuple[dict[str, str], subprocess.Popen[str], dict[str, str]],
) -> None:
    exported, _, env = served
    session = boto3.Session(
        aws_access_key_id=exported["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=exported["AWS_SECRET_ACCESS_KEY"],
        region_name=exported["AWS_DEFAULT_REGION"],
    )
    s3 = session.client("s3", endpoint_url=exported["AWS_ENDPOINT_URL"])
    s3.create_bucket(Bucket="from-another-process")
    assert "from-another-process" in [b["Name"] for b in s3.list_buckets()["Buckets"]]
    printed = subprocess.run(
        [sys.executable, "-m", "shared.cli", "local", "env"],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    ).stdout
    assert f"export AWS_ENDPOINT_URL={exported['AWS_ENDPOINT_URL']}" in printed


@pytest.mark.skipif(shutil.which("aws") is None, reason="the AWS CLI is not installed on this machine")
def test_the_aws_cli_works_against_it(
    served: tuple[dict[str, str], subprocess.Popen[str], dict[str, str]],
) -> None:
    exported, _, env = served
    cli_env = {**env, **exported}
    subprocess.run(
        ["aws", "s3api", "create-bucket", "--bucket", "cli-made"],
        env=cli_env,
        check=True,
        capture_output=True,
    )
    listed = subprocess.run(
        ["aws", "s3api", "list-buckets"], env=cli_env, check=True, capture_output=True, text=True
    )
    assert "cli-made" in listed.stdout
    machines = subprocess.run(
        ["aws", "stepfunctions", "list-state-machines"],
        env=cli_env,
        check=True,
        capture_output=True,
        text=True,
    )
    assert '"stateMachines"' in machines.stdout


def test_sigterm_stops_it_cleanly(
    served: tuple[dict[str, str], subprocess.Popen[str], dict[str, str]],
) -> None:
    exported, process, env = served
    state_file = Path(env["DUALLOOP_HOME"]) / "local-cloud.json"
    assert state_file.is_file()
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=30) == 0
    assert not state_file.exists()
    port = int(exported["AWS_ENDPOINT_URL"].rsplit(":", 1)[1])
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # TIME_WAIT is fine; a listener is not
        s.bind(("127.0.0.1", port))  # released
    gone = subprocess.run(
        [sys.executable, "-m", "shared.cli", "local", "env"],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert gone.returncode == 1 and "No local cloud is running" in gone.stderr

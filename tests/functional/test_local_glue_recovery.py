"""The local Glue runner survives its Spark driver dying.

What this proves, on a local cloud in a subprocess of its own (killing the JVM must not touch
the Spark session other tests share in this process): a job run started through the Glue
API succeeds; after the driver's JVM is killed (as the OOM killer or a stray ``kill -9``
would), the next run of the same job starts a new driver and succeeds too (before, every
later run failed with ``ConnectionRefusedError`` until the cloud restarted); and a run during
which the driver dies fails with a reason naming the driver, whose ``next:`` advice is to run
again, not to fix the data. What it cannot prove: Glue's own recovery on AWS (a fresh worker
per run there).
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

from home_support import fresh_home

ROOT = Path(__file__).resolve().parents[2]

_SCRIPT = textwrap.dedent(
    """
    import json, os, signal, sys, time
    import boto3
    from shared.local_cloud import LocalCloud
    from outer_orchestrator.glue import local_worker
    from shared.polling import wait_until

    JOB = '''
    import os, signal
    def main(argv, spark):
        args = dict(zip(argv[1::2], argv[2::2]))
        if args.get("--die") == "yes":  # the driver dies while the job runs
            os.kill(spark.sparkContext._gateway.proc.pid, signal.SIGKILL)
        assert spark.range(5).count() == 5
    '''

    cloud = LocalCloud(port=0).start()
    glue_worker = local_worker.attach(cloud)
    os.environ.update(cloud.env())
    s3, glue = boto3.client("s3"), boto3.client("glue")
    s3.create_bucket(Bucket="scripts")
    s3.put_object(Bucket="scripts", Key="job.py", Body=JOB.encode())
    # The run calls AWS as its job's role (the local cloud enforces IAM): one it may assume.
    role = boto3.client("iam").create_role(
        RoleName="glue-test",
        AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Principal": {"Service": "glue.amazonaws.com"}, "Action": "sts:AssumeRole"}]}),
    )["Role"]["Arn"]
    boto3.client("iam").put_role_policy(RoleName="glue-test", PolicyName="all", PolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}))
    glue.create_job(Name="count", Role=role,
                    Command={"Name": "glueetl", "ScriptLocation": "s3://scripts/job.py"}, GlueVersion="5.0")

    def run(**arguments):
        run_id = glue.start_job_run(JobName="count", Arguments=arguments)["JobRunId"]

        def ended():
            got = glue.get_job_run(JobName="count", RunId=run_id)["JobRun"]
            return got if got["JobRunState"] in ("SUCCEEDED", "FAILED", "ERROR", "STOPPED") else None

        got = wait_until(ended, what=f"the end of Glue job run {run_id}", timeout=120, interval=0.1)
        return got["JobRunState"], got.get("ErrorMessage", "")

    def kill_driver():
        pid = glue_worker.spark().sparkContext._gateway.proc.pid
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        return pid

    outcomes = {"first": run()}
    killed = kill_driver()
    outcomes["after_kill"] = run()
    outcomes["dies_during"] = run(**{"--die": "yes"})
    outcomes["after_that"] = run()
    outcomes["new_driver"] = glue_worker.spark().sparkContext._gateway.proc.pid != killed
    cloud.stop()
    outcomes["scripts_left"] = glue_worker._scripts.exists()
    print(json.dumps(outcomes))
    """
)


def test_a_killed_spark_driver_is_replaced_and_the_next_run_succeeds(tmp_path: Path) -> None:
    # GIVEN a local cloud whose Glue runner has run a job; WHEN its Spark JVM is killed, and
    # later dies during a run; THEN each next run succeeds on a new driver
    done = subprocess.run(
        [sys.executable, "-c", _SCRIPT],
        cwd=ROOT,
        env={**_env(), "DUALLOOP_HOME": str(fresh_home(tmp_path / "home"))},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    outcomes = json.loads(done.stdout.strip().splitlines()[-1])
    assert outcomes["first"] == ["SUCCEEDED", ""]
    assert outcomes["after_kill"] == ["SUCCEEDED", ""], outcomes
    state, reason = outcomes["dies_during"]
    assert state == "FAILED" and reason.startswith("the local Spark driver (JVM) stopped during the run ("), (
        reason
    )
    assert outcomes["after_that"] == ["SUCCEEDED", ""], outcomes
    assert outcomes["new_driver"] is True
    assert outcomes["scripts_left"] is False  # the runner's temporary folder goes with the cloud

    # and the next step a user reads blames the driver, not the data
    from shared.outcome_advice import explain_outcome

    cause = json.dumps({"JobName": "dualloop-dev-ingest", "JobRunState": "FAILED", "ErrorMessage": reason})
    advice = explain_outcome("RetrainFailed", f"States.TaskFailed: {cause}") or ""
    assert "the local Spark driver (JVM) stopped" in advice and "run again" in advice
    assert "raw data" not in advice


def _env() -> dict[str, str]:
    import os

    return {k: v for k, v in os.environ.items() if not k.startswith(("AWS_ENDPOINT", "MOTO_"))}

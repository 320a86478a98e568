"""The job container's contracts that run a process, without a cloud: the rewrite fallback's
/opt/ml guard (a script run in rewrite mode), and a job's requirements (pip, offline).
The contracts that need no process are tests/unit/test_job_containers.py."""

from __future__ import annotations

import os
import sys
import threading
import time
from pathlib import Path

import pytest

from shared.local_cloud.sagemaker.steps.container import (
    Instance,
    Launch,
    base_environment,
    failure_message,
    local_command,
    run_instances,
)


def test_rewrite_mode_stops_a_script_that_hard_codes_opt_ml_with_one_sentence(tmp_path: Path) -> None:
    # GIVEN an instance without a mounted /opt/ml and a script that hard-codes the path
    instance = Instance("algo-1", tmp_path / "algo-1", mounted=False)
    script = tmp_path / "job.py"
    script.write_text('open("/opt/ml/processing/input/data.csv").read()\n')
    launch = Launch(instance, local_command(["python3", str(script)], instance, sys.executable),
                    base_environment({}), tmp_path)  # fmt: skip

    # WHEN it runs
    result = run_instances([launch], stop=threading.Event(), max_runtime_seconds=60)[0]

    # THEN it failed before touching the host's /opt/ml, saying what and what to do
    assert result.returncode != 0
    reason = failure_message(instance, result, [])
    assert reason.startswith("ClientError: the job uses the container path /opt/ml/processing/input/data.csv")
    assert "run the local cloud as root" in reason


def test_rewrite_mode_still_maps_paths_passed_in(tmp_path: Path) -> None:
    # GIVEN a path passed as an argument (SageMaker's way) in rewrite mode
    instance = Instance("algo-1", tmp_path / "algo-1", mounted=False)
    out = instance.path("/opt/ml/processing/output")
    out.mkdir(parents=True)
    script = tmp_path / "job.py"
    script.write_text('import sys, pathlib; pathlib.Path(sys.argv[1], "x").write_text("ok")\n')
    command = local_command(["python3", str(script), "/opt/ml/processing/output"], instance, sys.executable)

    result = run_instances([Launch(instance, command, base_environment({}), tmp_path)],
                           stop=threading.Event(), max_runtime_seconds=60)[0]  # fmt: skip

    # THEN it wrote to the job's own root
    assert result.returncode == 0
    assert (out / "x").read_text() == "ok"


def test_requirements_already_installed_need_nothing_and_missing_ones_fail_clearly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from shared.local_cloud.sagemaker.errors import StepFailure
    from shared.local_cloud.sagemaker.steps.requirements import install_requirements

    monkeypatch.setenv("DUALLOOP_HOME", str(tmp_path / "home"))
    satisfied = tmp_path / "ok.txt"
    satisfied.write_text("numpy>=1\n# a comment\npandas\n")
    # GIVEN requirements the interpreter satisfies: nothing to install (works offline)
    assert install_requirements(satisfied, sys.executable) == []

    # GIVEN one it does not, and no package index (PIP_NO_INDEX: pip never goes to the network)
    missing = tmp_path / "missing.txt"
    missing.write_text("numpy\ndualloop-no-such-package==1.0\n")
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    with pytest.raises(StepFailure) as error:
        install_requirements(missing, sys.executable)
    assert str(error.value).startswith(
        f"ClientError: missing.txt: dualloop-no-such-package==1.0 not installed in {sys.executable}"
    )
    assert not any((tmp_path / "home").rglob("*.complete"))


def _sleeper(tmp_path: Path, host: str, code: str = "import time; time.sleep(30)") -> Launch:
    instance = Instance(host, tmp_path / host, mounted=False)
    return Launch(instance, [sys.executable, "-c", code], base_environment({}), tmp_path)


def test_a_job_past_its_max_runtime_fails_naming_it_and_its_processes_end(tmp_path: Path) -> None:
    from shared.local_cloud.sagemaker.errors import StepFailure

    # GIVEN an instance that would run 30 s, WHEN its MaxRuntimeInSeconds is 1
    pid_file = tmp_path / "pid"
    code = f"import os, time; open({str(pid_file)!r}, 'w').write(str(os.getpid())); time.sleep(30)"
    started = time.monotonic()
    with pytest.raises(StepFailure) as error:
        run_instances([_sleeper(tmp_path, "algo-1", code)], stop=threading.Event(), max_runtime_seconds=1)
    # THEN it fails with SageMaker's reason, soon after the limit, and its process is gone
    assert str(error.value) == "ClientError: the job exceeded its MaxRuntimeInSeconds (1 s)"
    assert 1 <= time.monotonic() - started < 10
    with pytest.raises(ProcessLookupError):
        os.kill(int(pid_file.read_text()), 0)


def test_a_stop_ends_the_wait_and_one_failed_instance_ends_the_others(tmp_path: Path) -> None:
    from shared.local_cloud.sagemaker.errors import StepStopped

    # GIVEN a job being stopped: StepStopped, without waiting for its 30 s
    stop = threading.Event()
    stop.set()
    started = time.monotonic()
    with pytest.raises(StepStopped):
        run_instances([_sleeper(tmp_path, "algo-1")], stop=stop, max_runtime_seconds=None)
    # GIVEN two instances, one failing at once: the job ends without waiting for the other
    results = run_instances(
        [_sleeper(tmp_path, "algo-1"), _sleeper(tmp_path, "algo-2", "raise SystemExit(4)")],
        stop=threading.Event(),
        max_runtime_seconds=None,
    )
    assert results[1].returncode == 4 and results[0].returncode != 0
    assert time.monotonic() - started < 10

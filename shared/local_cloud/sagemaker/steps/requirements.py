"""A training job's ``requirements.txt``, installed as the SageMaker training toolkit does before
the entry point runs, but once per content rather than once per job.

When every requirement is already satisfied by the job's interpreter (the usual case locally,
and the only one that works offline) nothing is installed. Otherwise ``pip install --target``
fills a folder keyed by the file's content and the interpreter, kept under
``$DUALLOOP_HOME/cache/requirements`` and reused by every later job with the same file; the
job gets it on its ``PYTHONPATH``. A pip that fails (no network, an unknown package) fails the
job with one sentence naming the requirements that are missing and what to do.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import os
import shutil
import subprocess
import sys
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement

from shared.local_cloud.sagemaker.errors import StepFailure

_PIP_TIMEOUT_SECONDS = 900


def cache_root() -> Path:
    return Path(os.environ.get("DUALLOOP_HOME") or Path.home() / ".dualloop") / "cache" / "requirements"


def _lines(text: str) -> list[str]:
    return [
        line.split(" #", 1)[0].strip()
        for line in text.splitlines()
        if line.strip() and not line.startswith("#")
    ]


def unsatisfied(lines: list[str], python: str) -> list[str]:
    """The requirement lines the job's interpreter does not satisfy (all of them when it is not
    this interpreter, or for lines that are pip options rather than requirements)."""
    if Path(python).resolve() != Path(sys.executable).resolve():
        return lines
    missing = []
    for line in lines:
        try:
            requirement = Requirement(line)
        except InvalidRequirement:
            missing.append(line)  # "-r other.txt", "-e .", a URL: pip decides
            continue
        if requirement.marker is not None and not requirement.marker.evaluate():
            continue
        try:
            version = importlib.metadata.version(requirement.name)
        except importlib.metadata.PackageNotFoundError:
            missing.append(line)
            continue
        if requirement.specifier and not requirement.specifier.contains(version, prereleases=True):
            missing.append(line)
    return missing


def install_requirements(path: Path, python: str, *, required: bool = False) -> list[str]:
    """PYTHONPATH entries that make ``path``'s requirements importable for the job."""
    if not path.is_file():
        if required:
            raise StepFailure(
                f"ClientError: the requirements file {path.name} is not in the source directory"
            )
        return []
    text = path.read_text(encoding="utf-8")
    missing = unsatisfied(_lines(text), python)
    if not missing:
        return []
    key = hashlib.sha256(f"{python}\n{sys.version}\n{text}".encode()).hexdigest()[:24]
    target = cache_root() / key
    if (target / ".complete").is_file():
        return [str(target)]
    staging = target.with_name(f"{key}.{os.getpid()}.partial")
    shutil.rmtree(staging, ignore_errors=True)
    command = [python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-input",
               "--timeout", "15", "--retries", "1", "--target", str(staging), "-r", str(path)]  # fmt: skip
    try:
        done = subprocess.run(  # noqa: S603 - pip on the job's own requirements file
            command,
            capture_output=True,
            text=True,
            timeout=_PIP_TIMEOUT_SECONDS,
            check=False,
            cwd=path.parent,
        )
    except subprocess.TimeoutExpired:
        raise StepFailure(
            f"ClientError: installing {path.name} took over {_PIP_TIMEOUT_SECONDS} s ({', '.join(missing)})"
        ) from None
    if done.returncode != 0:
        shutil.rmtree(staging, ignore_errors=True)
        errors = [
            line for line in done.stderr.splitlines() if line.startswith("ERROR")
        ] or done.stderr.splitlines()
        reason = errors[-1] if errors else f"pip exited with {done.returncode}"
        raise StepFailure(
            f"ClientError: {path.name}: {', '.join(missing)} not installed in {python} and pip could not install "
            f"them ({reason}); install them into that environment (it works offline then) or make the package "
            "index reachable"
        )
    (staging / ".complete").touch()
    try:
        staging.rename(target)
    except OSError:  # another job installed the same file meanwhile: use theirs
        shutil.rmtree(staging, ignore_errors=True)
    return [str(target)]

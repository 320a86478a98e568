"""The Glue jobs' Python dependencies, shipped as a zip of wheels instead of pip-installed from PyPI.

The job scripts import ``shared.config`` (pydantic, pydantic-settings, PyYAML) and the DQDL
parser (lark), which Glue 5.0 does not provide. Naming them in ``--additional-python-modules``
made every job run pip-install them from the internet: slow at every start, and impossible in an account
without egress. AWS recommends, for production, "all Python dependencies packaged as wheel
files in one zip artifact" (Glue 5.0 and later: the "zip of wheels"; "Using Python libraries
with AWS Glue", docs.aws.amazon.com/glue/latest/dg/aws-glue-programming-python-libraries.html),
installed with pip's ``--no-index`` so nothing is fetched.

The wheels are built at synth, offline, from the copies installed here, which are the
versions the scripts are tested with. pydantic-core and PyYAML carry compiled code, so the
machine that synthesizes must match Glue 5.0's platform (CPython 3.11 on Linux x86_64, as CI
and these machines are); anywhere else the synth stops and says so rather than ship code
built for another platform.
"""

from __future__ import annotations

import base64
import hashlib
import re
import sys
import zipfile
from importlib.metadata import Distribution, distribution
from pathlib import Path

from packaging.markers import default_environment
from packaging.requirements import Requirement

# What the Glue scripts import that Glue 5.0 lacks; their dependencies are added from the metadata.
ROOTS = ("pydantic", "pydantic-settings", "PyYAML", "lark")  # lark: the DQDL grammar (pure Python)
GLUE_PYTHON = "cp311"
GLUE_PLATFORM = re.compile(r"linux_x86_64|manylinux\w*_x86_64")
_FIXED_TIME = (1980, 1, 1, 0, 0, 0)  # reproducible zips: an unchanged wheel keeps its asset hash
_NOT_IN_WHEELS = {"INSTALLER", "REQUESTED", "direct_url.json", "RECORD"}


class GlueWheelError(RuntimeError):
    """A dependency cannot be shipped to Glue from this machine; the message says why."""


def closure(roots: tuple[str, ...] = ROOTS) -> list[Distribution]:
    """The installed distributions ``roots`` need, themselves included (markers evaluated
    for Glue's Python, no extras)."""
    environment = {str(k): str(v) for k, v in default_environment().items()}
    environment.update(python_version="3.11", extra="")
    seen: dict[str, Distribution] = {}
    pending = list(roots)
    while pending:
        dist = distribution(pending.pop())
        key = _normalized(dist.metadata["Name"])
        if key in seen:
            continue
        seen[key] = dist
        for text in dist.requires or ():
            requirement = Requirement(text)
            if requirement.marker is None or requirement.marker.evaluate(environment):
                pending.append(requirement.name)
    return sorted(seen.values(), key=lambda d: _normalized(d.metadata["Name"]))


def wheel_tags(dist: Distribution) -> str:
    """The compressed tag set of the wheel the distribution was installed from."""
    text = dist.read_text("WHEEL") or ""
    tags = [line.split(":", 1)[1].strip() for line in text.splitlines() if line.startswith("Tag:")]
    if not tags:
        raise GlueWheelError(
            f"{dist.metadata['Name']} was not installed from a wheel: no tags to ship it with"
        )
    parts = [sorted({t.split("-")[i] for t in tags}) for i in range(3)]
    return "-".join(".".join(p) for p in parts)


def check_platform(name: str, tags: str) -> None:
    python, _abi, platform = tags.split("-")
    if platform == "any":
        return
    if GLUE_PYTHON not in python.split(".") or not GLUE_PLATFORM.search(platform):
        raise GlueWheelError(
            f"{name} is installed here as {tags}, but Glue 5.0 runs CPython 3.11 on Linux x86_64: "
            f"synthesize on such a machine (as CI does); this one is {sys.platform}, Python "
            f"{sys.version_info.major}.{sys.version_info.minor}"
        )


def build_wheel(dist: Distribution, out_dir: Path) -> Path:
    """Re-pack an installed distribution as the wheel it came from (files unchanged, RECORD rebuilt)."""
    name, version = dist.metadata["Name"], dist.version
    tags = wheel_tags(dist)
    check_platform(name, tags)
    path = out_dir / f"{_normalized(name).replace('-', '_')}-{version}-{tags}.whl"
    files = [
        f
        for f in dist.files or ()
        if f.parts[0] not in ("..", "bin")
        and "__pycache__" not in f.parts
        and not (f.parts[0].endswith(".dist-info") and f.name in _NOT_IN_WHEELS)
    ]
    dist_info = next(f.parts[0] for f in dist.files or () if f.parts[0].endswith(".dist-info"))
    record = []
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as wheel:
        for f in sorted(files, key=lambda f: f.as_posix()):
            data = Path(str(dist.locate_file(f))).read_bytes()
            wheel.writestr(zipfile.ZipInfo(f.as_posix(), _FIXED_TIME), data, zipfile.ZIP_DEFLATED)
            digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
            record.append(f"{f.as_posix()},sha256={digest},{len(data)}")
        record.append(f"{dist_info}/RECORD,,")
        wheel.writestr(zipfile.ZipInfo(f"{dist_info}/RECORD", _FIXED_TIME), "\n".join(record) + "\n")
    return path


def stage(out_dir: Path) -> Path:
    """``out_dir`` filled with the wheels of ``closure()``: the asset Glue gets as a zip."""
    out_dir.mkdir(parents=True, exist_ok=True)
    for dist in closure():
        build_wheel(dist, out_dir)
    return out_dir


def _normalized(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()

"""Loaded by a job's Python (first on its PYTHONPATH) when its /opt/ml could not be mounted.

The runner then rewrites /opt/ml in the command and environment to the job's own root, so a
script that uses /opt/ml *itself* would read or write the host's /opt/ml, shared by every job.
This audit hook (PEP 578) stops the first such file operation with one sentence saying why and
what to do; the runner quotes the marked line as the job's FailureReason.
"""

from __future__ import annotations

import os
import sys
from typing import Any

_MARKER = "[dualloop:opt-ml]"
_OPT_ML = "/opt/ml"
# The audit events whose first argument is a path (see the audit events table in the docs).
_PATH_EVENTS = frozenset(
    {"open", "os.mkdir", "os.listdir", "os.scandir", "os.remove", "os.rmdir", "os.rename", "os.replace",
     "os.chdir", "os.truncate", "os.utime", "os.symlink", "os.link", "shutil.copyfile", "shutil.rmtree",
     "glob.glob", "os.chmod", "os.chown"}
)  # fmt: skip


def _under_opt_ml(value: Any) -> str | None:
    if not isinstance(value, str | bytes | os.PathLike):
        return None
    try:
        path = os.path.abspath(os.fsdecode(value))
    except (TypeError, ValueError):
        return None
    return path if path == _OPT_ML or path.startswith(_OPT_ML + "/") else None


def _hook(event: str, args: tuple[Any, ...]) -> None:
    if event not in _PATH_EVENTS or not args:
        return
    path = _under_opt_ml(args[0])
    if path is None:
        return
    sentence = (
        f"ClientError: the job uses the container path {path} itself, but this machine cannot give "
        "jobs a private /opt/ml (that needs Linux, root and util-linux unshare), so take the path "
        "from an argument or environment variable, or run the local cloud as root"
    )
    print(f"{_MARKER} {sentence}", file=sys.stderr, flush=True)
    raise PermissionError(sentence)


sys.addaudithook(_hook)

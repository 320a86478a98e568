"""One temporary folder per local cloud, under which every part of it makes its own.

``<tmp>/dualloop-cloud-<pid>-<random>/`` holds the Lambda code, the STS proxy's certificates,
the Glue scripts, the hosting and job work dirs, pipeline scratch: ``stop()`` removes it
whole, and a cloud that could not stop (``kill -9``) leaves a root whose PID is dead, which
the next cloud's start removes. ``tempfile.tempdir`` is left alone: user code (job scripts,
handlers) keeps the machine's temporary folder.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

LOG = logging.getLogger(__name__)

PREFIX = "dualloop-cloud-"
_ROOT = re.compile(rf"^{PREFIX}(?P<pid>\d+)-")


@dataclass(frozen=True)
class TempRoot:
    path: Path

    @classmethod
    def create(cls, base: Path | None = None) -> TempRoot:
        """Sweep the roots of dead clouds, then make this process's root."""
        base = Path(base or tempfile.gettempdir())
        sweep_dead(base)
        return cls(Path(tempfile.mkdtemp(prefix=f"{PREFIX}{os.getpid()}-", dir=base)))

    def mkdtemp(self, prefix: str) -> Path:
        """A new folder inside the root (``tempfile.mkdtemp`` with ``dir`` set)."""
        return Path(tempfile.mkdtemp(prefix=prefix, dir=self.path))

    def remove(self) -> None:
        shutil.rmtree(self.path, ignore_errors=True)


def sweep_dead(base: Path) -> list[Path]:
    """Remove the roots whose cloud's process is gone; return them."""
    removed = []
    for entry in base.glob(f"{PREFIX}*"):
        match = _ROOT.match(entry.name)
        if match is None or not entry.is_dir() or _alive(int(match["pid"])):
            continue
        shutil.rmtree(entry, ignore_errors=True)
        LOG.info("removed %s, left by a local cloud that did not stop", entry)
        removed.append(entry)
    return removed


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)  # signal 0: exists? (a recycled PID keeps a root: safe, not swept)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process
    return True

"""Where the runtime code the stack ships lives, and how it is staged into CDK assets.

Infrastructure never imports runtime code: it points at files. Paths are resolved from
``__file__`` so the app synthesizes the same way from any working directory.

A file another team has not landed yet must not stop ``cdk synth`` in dev: it is replaced
by a stub that fails loudly when run, and the construct gets a warning (an error in prod,
so a stub can never reach production).
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
from collections.abc import Iterable
from pathlib import Path

from aws_cdk import Annotations
from constructs import Construct

REPO = Path(__file__).resolve().parents[1]
GLUE_DIR = REPO / "outer_orchestrator" / "glue"
QUALITY_DIR = REPO / "outer_orchestrator" / "quality"
HANDLERS_DIR = REPO / "outer_orchestrator" / "handlers"
PIPELINE_MODULE = REPO / "inner_pipeline" / "pipeline.py"

# Never shipped: caches, and the local cloud (moto) and CLI, which only run on a workstation.
_ALWAYS_EXCLUDED = ("__pycache__", "*.pyc", ".mypy_cache", ".ruff_cache", ".pytest_cache")

_staging_root: Path | None = None


def staging_dir(name: str) -> Path:
    """A fresh directory for one staged asset, removed when the process exits (after synth
    has copied it into the cloud assembly)."""
    global _staging_root
    if _staging_root is None:
        _staging_root = Path(tempfile.mkdtemp(prefix="dualloop-infra-"))
        atexit.register(shutil.rmtree, _staging_root, True)
    path = _staging_root / name
    if path.exists():
        shutil.rmtree(path)
    path.mkdir(parents=True)
    return path


def missing_source(scope: Construct, path: Path, *, strict: bool) -> None:
    """Report a runtime file that is not there: an error when ``strict`` (prod), else a warning."""
    message = (
        f"{path.relative_to(REPO)} does not exist: the deployed resource would run a stub that "
        "fails at once. Land the file before deploying."
    )
    if strict:
        Annotations.of(scope).add_error(message)
    else:
        Annotations.of(scope).add_warning_v2("dualloop:missing-source", message)


def source_file(scope: Construct, path: Path, *, strict: bool) -> Path:
    """``path`` if it exists, else a stub that raises when executed (see module docstring)."""
    if path.is_file():
        return path
    missing_source(scope, path, strict=strict)
    stub = staging_dir(f"stub-{path.name}") / path.name
    stub.write_text(f'raise SystemExit("dualloop: {path.relative_to(REPO)} was missing at synth time")\n')
    return stub


def stage_packages(name: str, packages: Iterable[str], *, exclude: Iterable[str] = ()) -> Path:
    """Copy repo packages or modules (``"shared"``, ``"shared/config.py"``, ...) into one asset dir.

    ``exclude`` holds repo-relative paths left out. Every parent package keeps its
    ``__init__.py`` so imports resolve exactly as they do in the repo.
    """
    out = staging_dir(name)
    skip = {REPO / e for e in exclude}
    for package in packages:
        src = REPO / package
        if not src.exists():
            continue
        for parent in Path(package).parents:
            init = REPO / parent / "__init__.py"
            if parent != Path(".") and init.is_file():
                (out / parent).mkdir(parents=True, exist_ok=True)
                shutil.copy2(init, out / parent / "__init__.py")
        for file in [src] if src.is_file() else sorted(src.rglob("*")):
            if not file.is_file() or any(file.match(p) or p in file.parts for p in _ALWAYS_EXCLUDED):
                continue
            if any(file == s or s in file.parents for s in skip):
                continue
            dest = out / file.relative_to(REPO)
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(file, dest)
    return out


def vendor_pure_python(out: Path, distribution: str) -> None:
    """Copy an installed distribution's pure-Python modules into ``out`` (an asset dir).

    Compiled extensions are left out: they are built for this machine, not the target
    runtime, and the packages vendored here fall back to pure Python without them.
    """
    from importlib.metadata import distribution as dist

    d = dist(distribution)
    for f in d.files or ():
        if f.suffix != ".py" or ".dist-info" in f.parts[0] or f.parts[0] in ("..", "bin"):
            continue
        dest = out / f
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(Path(str(d.locate_file(f))), dest)

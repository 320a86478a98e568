"""``examples/iterate_locally.ipynb`` runs top to bottom in a Jupyter kernel.

What this proves: a data scientist's notebook starts its own local cloud inside the kernel,
provisions, builds the pipeline with the SDK v3 objects, upserts, starts, waits, lists the
steps, reads the registered model's metrics, and a second run hits the cache for every
cacheable step; no cell raises. The kernel is a separate process: this test process's local
cloud (if a fixture started one) is not shared, and its AWS_ENDPOINT_URL is not passed on.
What it cannot prove: that the notebook renders nicely in Jupyter (a person looked).
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOK = ROOT / "examples" / "iterate_locally.ipynb"
CACHEABLE = ("Preprocess", "Train", "Evaluate")


def _text(cell: Any) -> str:
    parts = []
    for output in cell.get("outputs", []):
        if output.get("output_type") == "stream":
            parts.append(output.get("text", ""))
        elif "data" in output:
            parts.append(output["data"].get("text/plain", ""))
    return "".join(parts)


def _kernel_env() -> dict[str, str]:
    """This process's environment without anything pointing at a cloud or a project."""
    return {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("AWS_", "DUALLOOP_", "MOTO_")) and k != "SAGEMAKER_VALIDATE_ROLE"
    }


def test_the_notebook_runs_and_the_second_run_hits_the_cache() -> None:
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")

    notebook = nbformat.read(NOTEBOOK, as_version=4)
    client = nbclient.NotebookClient(
        notebook,
        timeout=240,  # per cell
        kernel_name="python3",  # ipykernel's own spec: this interpreter (sys.executable)
        resources={"metadata": {"path": str(ROOT)}},
    )
    client.execute(env=_kernel_env())  # raises on the first cell error

    code = [c for c in notebook.cells if c.cell_type == "code"]
    errors = [o for c in code for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors, errors
    assert all(c.get("execution_count") for c in code), "a cell did not run"
    last = _text(code[-1])
    match = re.search(r"^cache hits: (.*)$", last, re.MULTILINE)
    assert match, last
    assert match.group(1).split(", ") == list(CACHEABLE), last

"""The data scientists' container code (``inner_pipeline/code``), imported or run as the scripts are.

The directory is not a package: a script runs with it on ``sys.path`` and imports ``common``
(and ``common`` its linked neighbours, ``column_names`` and ``feature_baseline``). Tests that
need what Preprocess writes (a baseline) import it the same way; tests that run a script as
the container does (``run_script``) start a subprocess, so they live in tests/functional.
"""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

CODE = Path(__file__).resolve().parents[1] / "inner_pipeline" / "code"


def container_module(name: str) -> ModuleType:
    """``name`` (common, inference, ...) imported by name, as the scripts import their siblings."""
    if str(CODE) not in sys.path:
        sys.path.insert(0, str(CODE))
    return importlib.import_module(name)


def container_common() -> ModuleType:
    return container_module("common")


def run_script(
    script: str, *args: Any, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """``python <script> ARGS`` with this environment less its ``SM_*`` variables, plus ``env``."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("SM_")}
    return subprocess.run(
        [sys.executable, str(CODE / script), *map(str, args)],
        env={**clean, **(env or {})},
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


def train(
    channel: Path, model_dir: Path, *cli: Any, hyperparameters: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """train.py on ``channel``'s train and validation splits, as a training job runs it (its
    ``SM_*`` environment and ``hyperparameters.json``), into ``model_dir``; it must succeed."""
    config_dir = model_dir.parent / f"{model_dir.name}-config"
    config_dir.mkdir(parents=True)
    (config_dir / "hyperparameters.json").write_text(json.dumps(hyperparameters or {}))
    result = run_script(
        "train.py",
        *cli,
        env={
            "SM_CHANNEL_TRAIN": str(channel / "train"),
            "SM_CHANNEL_VALIDATION": str(channel / "validation"),
            "SM_MODEL_DIR": str(model_dir),
            "SM_INPUT_CONFIG_DIR": str(config_dir),
            "SM_OUTPUT_DIR": str(model_dir.parent / f"{model_dir.name}-output"),
        },
    )
    assert result.returncode == 0, result.stderr
    return result

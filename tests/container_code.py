"""The data scientists' container code (``inner_pipeline/code``), imported as the scripts import it.

The directory is not a package: a script runs with it on ``sys.path`` and imports ``common``
(and ``common`` its linked neighbours, ``column_names`` and ``feature_baseline``). Tests that
need what Preprocess writes (a baseline) import it the same way.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from types import ModuleType

CODE = Path(__file__).resolve().parents[1] / "inner_pipeline" / "code"


def container_common() -> ModuleType:
    if str(CODE) not in sys.path:
        sys.path.insert(0, str(CODE))
    return importlib.import_module("common")

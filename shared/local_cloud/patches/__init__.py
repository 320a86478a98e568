"""Fixes and additions to moto, the local cloud's AWS twin, each in one named module.

Every patch is pinned to the moto version it was written against: ``apply_all`` refuses
another version, and ``tests/unit/test_moto_patches.py`` fingerprints the source of each
function a patch replaces, so an upgrade that changes the patched code fails loudly and
points at the patch to review (or delete, if moto fixed the gap).
"""

from __future__ import annotations

import hashlib
import importlib
import inspect
import threading
from dataclasses import dataclass
from importlib.metadata import version
from typing import Any

MOTO_VERSION = "5.2.5"


@dataclass(frozen=True)
class Replaced:
    """One attribute a patch replaces, and the fingerprint of what it replaced."""

    owner: Any
    attribute: str
    sha256: str

    def original(self) -> Any:
        return _originals.get((id(self.owner), self.attribute), getattr(self.owner, self.attribute))

    def current_source_sha(self) -> str:
        return source_sha(self.original())


def source_sha(obj: Any) -> str:
    target = obj.fget if isinstance(obj, property) else obj
    return hashlib.sha256(inspect.getsource(target).encode()).hexdigest()[:16]


_originals: dict[tuple[int, str], Any] = {}
_applied = False
_apply_lock = threading.Lock()


def replace(owner: Any, attribute: str, new: Any) -> None:
    key = (id(owner), attribute)
    if key not in _originals:
        _originals[key] = (
            owner.__dict__[attribute] if attribute in owner.__dict__ else getattr(owner, attribute)
        )
    setattr(owner, attribute, new)


def add(additions: list[tuple[type, str, Any]], patch_module: str) -> None:
    """Give moto the APIs it lacks; refuse if moto has since implemented one (review the patch)."""
    for owner, attribute, function in additions:
        existing = owner.__dict__.get(attribute)
        if existing is not None and existing is not function:
            raise RuntimeError(
                f"moto now implements {owner.__name__}.{attribute}: review "
                f"{patch_module.replace('.', '/')}.py (delete the addition if moto's is complete)"
            )
        setattr(owner, attribute, function)


def original(owner: Any, attribute: str) -> Any:
    """The moto implementation a patch replaced (for patches that wrap it)."""
    return _originals[(id(owner), attribute)]


# Applied in this order; each module has REPLACES() and apply().
PATCH_MODULES: tuple[str, ...] = (
    "sfn_sync_integration",
    "sfn_clock",
    "sfn_aws_sdk_responses",
    "sfn_execution_names",
    "sfn_task_failure_cause",
    "sfn_execution_events",
    "sfn_history_pages",
    "eventbridge_targets",
    "eventbridge_entry_size",
    "lambda_inprocess",
    "control_plane",
    "sagemaker_pipelines",
    "sagemaker_jobs",
    "sfn_sagemaker_integration",
    "sts_local_identity",
    "sagemaker_callback_steps",
    "sagemaker_hosting",
    "server_speed",
    "cloudwatch_alarms",
    "cloudwatch_list_metrics",
    "iam_enforcement",
    "request_validation",
)


def _modules() -> list[Any]:
    return [importlib.import_module(f"{__name__}.{name}") for name in PATCH_MODULES]


def all_replaced() -> list[Replaced]:
    return [replaced for module in _modules() for replaced in module.REPLACES()]


def apply_all() -> None:
    """Apply every patch once per process (moto's backends are process-global)."""
    global _applied
    with _apply_lock:
        if _applied:
            return
        installed = version("moto")
        if installed != MOTO_VERSION:
            raise RuntimeError(
                f"the local cloud patches moto {MOTO_VERSION}, but moto {installed} is installed: "
                f"pin moto=={MOTO_VERSION} or review shared/local_cloud/patches/ against the new version"
            )
        for module in _modules():
            module.apply()
        _applied = True

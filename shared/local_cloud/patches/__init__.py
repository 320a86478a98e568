"""Fixes and additions to moto, the local cloud's AWS twin, each in one named module.

Every patch is pinned to the moto version it was written against: ``apply_all`` refuses
another version, and ``tests/unit/test_moto_patches.py`` fingerprints the source of each
function a patch replaces, so an upgrade that changes the patched code fails loudly and
points at the patch to review (or delete, if moto fixed the gap).

A patch module declares what it changes beside the code that does it::

    PATCH = Patch(__name__)

    @PATCH.replaces(GlueBackend, "start_job_run", "86006fa0ebaa0443")  # moto's code, fingerprinted
    def _start_job_run(self, ...): ...

    @PATCH.adds(SageMakerModelBackend, "stop_pipeline_execution")  # an API moto lacks
    def _stop_pipeline_execution(self, ...): ...

and an ``apply()`` only for what a declaration cannot say (a replacement made conditionally or
generated, which it pins with ``PATCH.pins``).
"""

from __future__ import annotations

import hashlib
import importlib
import inspect
import threading
from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import version
from typing import Any, TypeVar

MOTO_VERSION = "5.2.5"


@dataclass(frozen=True)
class Replaced:
    """One attribute a patch replaces, and the fingerprint of what it replaced."""

    owner: Any
    attribute: str
    sha256: str
    # What ``apply_all`` installs in its place; None where the module's own ``apply()`` does
    # (conditionally, or with a function it generates).
    by: Any = None

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


_T = TypeVar("_T")


class Patch:
    """What one patch module changes in moto, declared beside the code that does it: each
    replacement with the fingerprint of the moto code it replaces, each API it adds."""

    def __init__(self, module: str) -> None:
        self.module = module
        self.replaced: list[Replaced] = []
        self.additions: list[tuple[type, str, Any]] = []

    def replaces(self, owner: Any, attribute: str, sha256: str) -> Callable[[_T], _T]:
        """Decorator: ``owner.attribute`` becomes the decorated function (or property)."""

        def register(new: _T) -> _T:
            self.replaced.append(Replaced(owner, attribute, sha256, new))
            return new

        return register

    def pins(self, owner: Any, attribute: str, sha256: str) -> None:
        """Fingerprints moto code that the module's own ``apply()`` replaces or depends on."""
        self.replaced.append(Replaced(owner, attribute, sha256))

    def adds(self, owner: type, attribute: str) -> Callable[[_T], _T]:
        """Decorator: gives moto an API it lacks (refused once moto has its own)."""

        def register(new: _T) -> _T:
            self.additions.append((owner, attribute, new))
            return new

        return register

    def adds_response(
        self, owner: type, operation: str, *params: str, backend: str = "sagemaker_backend"
    ) -> None:
        """Gives a moto response class the handler of an API added to its backend: the request's
        ``params``, in this order, passed to the backend's method of the same name."""

        def respond(response: Any) -> Any:
            from moto.core.responses import ActionResult

            method = getattr(getattr(response, backend), operation)
            return ActionResult(method(*(response._get_param(name) for name in params)))

        respond.__name__ = respond.__qualname__ = operation
        self.additions.append((owner, operation, respond))

    def install(self) -> None:
        add(self.additions, self.module)
        for replaced in self.replaced:
            if replaced.by is not None:
                replace(replaced.owner, replaced.attribute, replaced.by)


# Applied in this order; each module declares a ``PATCH`` (installed first) and may have an
# ``apply()`` for what a declaration cannot say.
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
    return [replaced for module in _modules() for replaced in module.PATCH.replaced]


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
            module.PATCH.install()
            if hasattr(module, "apply"):
                module.apply()
        _applied = True

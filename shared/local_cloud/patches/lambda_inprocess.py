"""Addition: Lambda functions run their real Python handler, in process, without Docker.

With ``use_docker: False`` moto 5.2.5 echoes the payload back (``LambdaSimpleBackend.invoke``)
and never runs the code. Here the function's deployment package is unpacked once per code
hash, its ``Handler`` (``module.function``) imported from it, and called with the event
and a Lambda context object, under the function's environment variables plus the local
cloud's endpoint. An exception becomes what Lambda returns for it: the payload
``{"errorType", "errorMessage", "stackTrace"}`` with ``X-Amz-Function-Error: Unhandled``,
so a Step Functions ``Catch`` sees ``errorType`` as the error name, as on AWS.

Handlers read their configuration from ``os.environ``, which is process-wide: so that one
invocation's variables never leak into another thread (a test, the CLI, another
function), ``os.environ`` becomes a mapping that each thread sees through its own overlay
while it runs a function (``ThreadEnviron``); outside invocations it is the process
environment, unchanged.
"""

from __future__ import annotations

import hashlib
import importlib.util
import io
import json
import logging
import os
import sys
import tempfile
import threading
import time
import traceback
import uuid
import zipfile
from collections.abc import Callable, Iterator, MutableMapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from moto.awslambda.models import LambdaFunction
from moto.awslambda_simple.models import LambdaSimpleBackend

from shared.local_cloud.iam import sessions
from shared.local_cloud.patches import Patch

LOG = logging.getLogger(__name__)

_import_lock = threading.Lock()
_modules: dict[tuple[str, str], ModuleType] = {}
# Where function packages are unpacked: the running local cloud's folder (set_code_root).
_code_root: Path | None = None
_async_pool = ThreadPoolExecutor(4, thread_name_prefix="local-lambda-async")
# Set by the local cloud: what every handler's boto3 clients need to reach it.
runtime_environment: dict[str, str] = {}


PATCH = Patch(__name__)


@dataclass
class LambdaContext:
    """The attributes of AWS's Python Lambda context object."""

    function_name: str
    function_version: str
    invoked_function_arn: str
    memory_limit_in_mb: int
    timeout_seconds: int
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    log_group_name: str = ""
    log_stream_name: str = ""
    _deadline: float = 0.0

    def __post_init__(self) -> None:
        self.log_group_name = f"/aws/lambda/{self.function_name}"
        self.log_stream_name = time.strftime("%Y/%m/%d/[$LATEST]") + self.aws_request_id.replace("-", "")
        self._deadline = time.monotonic() + self.timeout_seconds

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


class HandlerNotFound(Exception):
    pass


def set_code_root(path: Path | None) -> None:
    """The local cloud unpacks function code in its own folder, removed when it stops; the
    modules already imported stay (their code is in memory, keyed by the package's hash)."""
    global _code_root
    _code_root = path


def _unpack_root() -> Path:
    global _code_root
    if _code_root is None:  # invoked outside a local cloud (moto alone): a folder of its own
        _code_root = Path(tempfile.mkdtemp(prefix="dualloop-lambda-"))
    return _code_root


def _handler_for(fn: LambdaFunction) -> Callable[[Any, Any], Any]:
    code_hash = hashlib.sha256(fn.code_bytes).hexdigest()[:16]
    module_path, _, function_name = str(fn.handler).rpartition(".")
    if not module_path or not function_name:
        raise HandlerNotFound(f"Handler {fn.handler!r} must look like 'module.function'")
    key = (code_hash, module_path)
    if key not in _modules:
        root = _unpack_root() / code_hash
        if not root.exists():
            with zipfile.ZipFile(io.BytesIO(fn.code_bytes)) as archive:
                archive.extractall(root)
        file = root / (module_path.replace(".", "/") + ".py")
        if not file.is_file():
            raise HandlerNotFound(f"Unable to import module '{module_path}': no {file.name} in the package")
        if str(root) not in sys.path:
            sys.path.append(str(root))  # the package's own dependencies, after the project's
        name = f"_lambda_{code_hash}_{module_path}"
        spec = importlib.util.spec_from_file_location(name, file)
        assert spec and spec.loader
        module = importlib.util.module_from_spec(spec)
        # As an import would: pydantic resolves postponed annotations through sys.modules.
        sys.modules[name] = module
        spec.loader.exec_module(module)
        _modules[key] = module
    handler = getattr(_modules[key], function_name, None)
    if not callable(handler):
        raise HandlerNotFound(f"Handler '{function_name}' missing on module '{module_path}'")
    return handler  # type: ignore[no-any-return]


class ThreadEnviron(MutableMapping[str, str]):
    """The process environment, overlaid per thread during an in-process invocation."""

    _DELETED = object()

    def __init__(self, base: MutableMapping[str, str]) -> None:
        self.base = base
        self._local = threading.local()

    def _overlay(self) -> dict[str, Any] | None:
        return getattr(self._local, "overlay", None)

    def __deepcopy__(self, memo: dict[int, Any]) -> ThreadEnviron:
        # botocore deep-copies os.environ when AWS_DEFAULTS_MODE is set; os.environ has one
        # identity, so a copy would be a different (and unpicklable: thread-local) thing.
        return self

    @contextmanager
    def overlaid(self, values: dict[str, str]) -> Iterator[None]:
        previous = self._overlay()
        self._local.overlay = {**(previous or {}), **values}
        try:
            yield
        finally:
            self._local.overlay = previous

    def __getitem__(self, key: str) -> str:
        overlay = self._overlay()
        if overlay is not None and key in overlay:
            value = overlay[key]
            if value is self._DELETED:
                raise KeyError(key)
            return str(value)
        return self.base[key]

    def __setitem__(self, key: str, value: str) -> None:
        overlay = self._overlay()
        if overlay is not None:
            overlay[key] = value
        else:
            self.base[key] = value

    def __delitem__(self, key: str) -> None:
        overlay = self._overlay()
        if overlay is None:
            del self.base[key]
        elif key not in self:
            raise KeyError(key)
        else:
            overlay[key] = self._DELETED

    def _keys(self) -> set[str]:
        keys = set(self.base)
        for key, value in (self._overlay() or {}).items():
            if value is self._DELETED:
                keys.discard(key)
            else:
                keys.add(key)
        return keys

    def __iter__(self) -> Iterator[str]:
        return iter(self._keys())

    def __len__(self) -> int:
        return len(self._keys())

    def copy(self) -> dict[str, str]:
        return dict(self)


def thread_environ() -> ThreadEnviron:
    """``os.environ`` as a per-thread overlay (installed on first use)."""
    if not isinstance(os.environ, ThreadEnviron):
        os.environ = ThreadEnviron(os.environ)  # type: ignore[assignment]  # noqa: B003 - an overlay, not a reset
    return os.environ  # type: ignore[return-value]


def _role_session(fn: LambdaFunction) -> sessions.RoleSession | None:
    """The function's execution role, assumed as Lambda does (none while IAM is off)."""
    from shared.local_cloud.patches import iam_enforcement

    if not iam_enforcement.enabled():
        return None
    return sessions.assume(str(fn.role), "lambda.amazonaws.com", fn.region)


@contextmanager
def _environment(fn: LambdaFunction) -> Iterator[None]:
    values = {
        **runtime_environment,
        "AWS_LAMBDA_FUNCTION_NAME": fn.function_name,
        "AWS_LAMBDA_FUNCTION_VERSION": str(fn.version),
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(fn.memory_size),
        "AWS_EXECUTION_ENV": f"AWS_Lambda_{fn.run_time}",
        "AWS_REGION": fn.region,
        "AWS_DEFAULT_REGION": fn.region,
        **{k: str(v) for k, v in (fn.environment_vars or {}).items()},
    }
    with thread_environ().overlaid(values):
        yield


def run_function(fn: LambdaFunction, event: Any) -> tuple[Any, bool]:
    """Run ``fn``'s handler on ``event``; return (payload, errored) as Lambda would."""
    context = LambdaContext(
        function_name=fn.function_name,
        function_version=str(fn.version),
        invoked_function_arn=fn.function_arn,
        memory_limit_in_mb=int(fn.memory_size or 128),
        timeout_seconds=int(fn.timeout or 3),
    )
    try:
        role = _role_session(fn)
    except sessions.RoleNotAssumable as exc:
        # Lambda's words for it (at CreateFunction on AWS, which the local cloud does not check).
        message = f"The role defined for the function cannot be assumed by Lambda: {exc}"
        return _error_payload("InvalidRuntimeException", RuntimeError(message)), True
    with _environment(fn), sessions.acting_as(role):
        try:
            with _import_lock:
                handler = _handler_for(fn)
            return handler(event, context), False
        except HandlerNotFound as exc:
            return _error_payload("Runtime.ImportModuleError", exc), True
        except Exception as exc:
            return _error_payload(type(exc).__name__, exc), True


def _error_payload(error_type: str, exc: BaseException) -> dict[str, Any]:
    return {
        "errorMessage": str(exc),
        "errorType": error_type,
        "requestId": "",
        "stackTrace": traceback.format_exception(exc)[1:],
    }


@PATCH.replaces(LambdaSimpleBackend, "invoke", "1b029265c71d5ae0")
def _invoke(
    self: LambdaSimpleBackend,
    function_name: str,
    qualifier: str | None,
    body: Any,
    headers: Any,
    response_headers: Any,
) -> bytes:
    fn = self.get_function(function_name, qualifier)
    event = json.loads(body) if body else {}
    if headers.get("X-Amz-Invocation-Type") == "Event":
        _async_pool.submit(_run_logged, fn, event)
        return b""
    payload, errored = run_function(fn, event)
    if errored:
        response_headers["x-amz-function-error"] = "Unhandled"
    return json.dumps(payload, default=str).encode()


def _run_logged(fn: LambdaFunction, event: Any) -> None:
    payload, errored = run_function(fn, event)
    if errored:
        # AWS would retry twice and then drop the event (or send it to a DLQ).
        LOG.error("async invocation of %s failed: %s", fn.function_name, payload.get("errorMessage"))


def invoke_async(function_arn: str, event: Any, account_id: str, region: str) -> None:
    """An Event invocation, as EventBridge makes for a Lambda target."""
    from moto.awslambda_simple.models import lambda_simple_backends

    fn = lambda_simple_backends[account_id][region].get_function(function_arn, None)
    _async_pool.submit(_run_logged, fn, event)


_thread_environ = thread_environ  # the name tests and older callers use

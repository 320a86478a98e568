"""Addition: every request is checked against AWS's request limits, as AWS checks it.
(Over 400 lines: one patch, as the patches are laid out: AWS's limits per operation and the one checker reading them.)

moto 5.2.5 accepts any value its handlers can store: a 2,048-character pipeline parameter,
an enum value that does not exist, a name longer than AWS allows. AWS refuses those before
the operation runs, with a ``ValidationException`` (json / rest-json protocols) or a
``ValidationError`` (query protocol) whose message lists each violated constraint of the
operation's input shape in botocore's service model, in AWS's wording::

    1 validation error detected: Value '...' at 'pipelineParameters.1.member.value' failed to
    satisfy constraint: Member must have length less than or equal to 1024

(several: ``2 validation errors detected: ...; ...``). The member path is each member name with
its first letter lowered, list items as ``N.member`` counted from 1, as in AWS's messages
(e.g. ``pipeline.stages.1.member.actions.1.member.configuration`` from CodePipeline).

What is checked, and only where the model declares it: required members ("Member must not be
null"), ``min``/``max`` lengths of strings, blobs, lists and maps, ``min``/``max`` values of
numbers, ``enum`` value sets, and ``pattern``. AWS matches a pattern against the whole value
(Java's ``String.matches``), whatever anchors it spells: DynamoDB refuses the table name
``'"smart-dcb-messages"'`` for ``[a-zA-Z0-9_.-]+`` (aws/aws-cli#790), so ``re.fullmatch``. A Java
pattern Python's ``re`` cannot compile with the same meaning -- ``\\p{..}``, possessive
quantifiers, class intersections -- is skipped, never enforced wrongly; ``.`` also matches
line breaks here (Java's does not): lenient where unsure. Types are not checked (AWS answers
those with a serialization error, and boto3 never sends them).

Where: ``BaseResponse._dispatch``, after moto has read the request (``setup_class``) and
before the action runs, so every service moto serves over HTTP passes here. The request is
parsed back into the operation's parameters (json: the body itself; query and rest-json:
moto's own botocore-model parsers). Not checked: S3 (rest-xml; its bodies are object data and
its routing is its own), EC2's protocol, and any request whose protocol or operation moto's
parsers do not know (e.g. CBOR) -- those go to moto unchecked, as before. Calls a patch makes to a moto backend in-process never
pass through HTTP and are not checked here.

Speed: each operation's input shape is compiled once into a tree of checks (compiled regexes,
enum sets, limits; subtrees with nothing to check are skipped) and cached; a request then costs
one parse and one walk of its own values: 20-55 us for a typical call (about 1 % of a local
cloud call of 3-4 ms), ~170 us for a StartPipelineExecution with 50 parameters.
Set ``DUALLOOP_LOCAL_CLOUD_VALIDATE_REQUESTS=0`` before the local cloud starts to turn it off.
"""

from __future__ import annotations

import json
import logging
import os
import re
import threading
import uuid
import warnings
from dataclasses import dataclass, field
from typing import Any

from botocore.model import OperationNotFoundError
from moto.core.exceptions import ServiceException
from moto.core.parse import PROTOCOL_PARSERS
from moto.core.request import determine_request_protocol
from moto.core.responses import ActionResult, BaseResponse
from moto.core.utils import get_service_model

from shared.local_cloud.patches import Patch, replace

LOG = logging.getLogger(__name__)
VALIDATE_ENV = "DUALLOOP_LOCAL_CLOUD_VALIDATE_REQUESTS"
# rest-xml (S3) is left to moto; see the module docstring.
# ec2 is left out too: EC2 answers with its own error codes and wording, not this Coral message.
_CHECKED_PROTOCOLS = frozenset({"json", "query", "rest-json"})
_SKIPPED_SERVICES = frozenset({"s3", "s3control"})
# Java regex features Python's `re` would read differently (or not at all): skip such patterns.
_JAVA_ONLY = re.compile(r"\\[pPzXRhHvV]\{?|\\x\{|&&|[*+?}]\+|\[:\w+:\]|\\Q|\\E")


def enabled() -> bool:
    return os.environ.get(VALIDATE_ENV, "1").strip().lower() not in {"0", "false", "no", "off"}


PATCH = Patch(__name__)
PATCH.pins(BaseResponse, "_dispatch", "446e22484251a00b")


def apply() -> None:
    if enabled():
        replace(BaseResponse, "_dispatch", _dispatch)


def _dispatch(self: BaseResponse, request: Any, full_url: str | None = None, headers: Any = None) -> Any:
    """moto's ``_dispatch`` (``setup_class`` then ``call_action``) with the check in between."""
    self.setup_class(request, full_url, headers)
    refusal = refusal_for(self, request)
    if refusal is not None:
        return refusal
    return self.call_action()


class ValidationFailure(ServiceException):
    """AWS's request-validation error; moto's serializer gives it the protocol's error shape."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(code, message)


def refusal_for(response: BaseResponse, request: Any) -> Any:
    """The error response AWS would send for this request's constraint violations, or None."""
    service = response.boto3_service_name
    if not service or service in _SKIPPED_SERVICES:
        return None
    try:
        action = response._get_action()
        if not action:
            return None
        service_model = get_service_model(service)
        operation_model = service_model.operation_model(action)
        protocol = determine_request_protocol(service_model, request.content_type)
    except (OperationNotFoundError, NotImplementedError, KeyError):
        return None
    if protocol not in _CHECKED_PROTOCOLS:
        return None
    errors = _errors(response, request, service, operation_model, protocol)
    if not errors:
        return None
    code = _validation_code(service_model, protocol)
    failure = ValidationFailure(code, validation_message(errors))
    LOG.info("refused %s.%s: %s", service, operation_model.name, failure.message[:2000])
    status, headers, body = response.serialized(ActionResult(failure))
    # Every AWS answer carries a request id (botocore's ResponseMetadata.RequestId); Step Functions'
    # aws-sdk tasks read it from an error, and without it fail with an uncatchable States.Runtime.
    headers = {**headers, "x-amzn-RequestId": str(uuid.uuid4())}
    return 400 if status == 200 else status, headers, body


def _validation_code(service_model: Any, protocol: str) -> str:
    """The service's own validation error (sagemaker-runtime models ``ValidationError``), else
    the protocol's usual one."""
    modeled = {shape.name for shape in service_model.error_shapes}
    for name in ("ValidationException", "ValidationError"):
        if name in modeled:
            return name
    return "ValidationError" if protocol == "query" else "ValidationException"


def _errors(
    response: BaseResponse, request: Any, service: str, operation_model: Any, protocol: str
) -> list[str]:
    plan = plan_for(service, operation_model, wire_names=protocol == "json")
    if plan is None:
        return []
    try:
        if protocol == "json":
            # The body is the parameters, by their model names (botocore's json serializer).
            params = json.loads(request.data or b"{}")
        else:
            parser = PROTOCOL_PARSERS[protocol](operation_model)
            params = parser.parse(
                {
                    "method": request.method,
                    "values": request.values,
                    "headers": request.headers,
                    "body": request.data,
                    "url_path": request.path,
                    "url_params": response.uri_match,
                }
            )
    except Exception as e:  # a request moto's parser cannot read is moto's to answer
        LOG.debug("request validation skipped for %s.%s: %s", service, operation_model.name, e)
        return []
    if not isinstance(params, dict):
        return []
    errors: list[str] = []
    plan.check(params, "", errors)
    return errors


def validation_message(errors: list[str]) -> str:
    count = len(errors)
    return f"{count} validation error{'s' if count != 1 else ''} detected: " + "; ".join(errors)


# ---- the checks, compiled once per operation ---------------------------------------------------
def _render(value: Any) -> str:
    """A value as AWS quotes it in the message (Java's toString of the member)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, list):
        return "'[" + ", ".join(_plain(v) for v in value) + "]'"
    if isinstance(value, bytes):
        return "'java.nio.HeapByteBuffer'"
    return f"'{value}'"


def _plain(value: Any) -> str:
    return _render(value).strip("'") if not isinstance(value, str) else value


# A long string is left out of the message ("Value at 'x' failed ...", AWS's form for a member
# it does not echo): such values are tokens, keys and documents, and refusals are logged.
_ECHO_LIMIT = 128


def _violation(value: Any, path: str, constraint: str) -> str:
    if isinstance(value, str) and len(value) > _ECHO_LIMIT:
        return f"Value at '{path}' failed to satisfy constraint: {constraint}"
    return f"Value {_render(value)} at '{path}' failed to satisfy constraint: {constraint}"


def _length_rules(lo: int | None, hi: int | None) -> list[str]:
    rules = []
    if hi is not None:
        rules.append(f"Member must have length less than or equal to {hi}")
    if lo is not None:
        rules.append(f"Member must have length greater than or equal to {lo}")
    return rules


@dataclass(eq=False)
class Check:
    """The constraints of one shape of an operation's input, and its children's."""

    kind: str  # structure | list | map | string | blob | number | other
    members: dict[str, tuple[str, Check]] = field(default_factory=dict)  # name -> (path segment, check)
    required: tuple[str, ...] = ()
    item: Check | None = None  # list member; map value
    key: Check | None = None
    lo: int | float | None = None
    hi: int | float | None = None
    enum: frozenset[str] = frozenset()
    enum_text: str = ""
    pattern: re.Pattern[str] | None = None
    pattern_text: str = ""
    trivial: bool = False  # nothing below can fail: skip the walk

    def check(self, value: Any, path: str, errors: list[str]) -> None:
        if value is None or self.trivial:
            return
        kind = self.kind
        if kind == "structure":
            if not isinstance(value, dict):
                return
            for name in self.required:
                if value.get(name) is None:
                    segment = self.members[name][0]
                    errors.append(_violation(None, _join(path, segment), "Member must not be null"))
            for name, member_value in value.items():
                entry = self.members.get(name)
                if entry is not None and member_value is not None:
                    entry[1].check(member_value, _join(path, entry[0]), errors)
        elif kind == "string":
            if isinstance(value, str):
                self._check_string(value, path, errors)
        elif kind == "number":
            if isinstance(value, int | float) and not isinstance(value, bool):
                if self.hi is not None and value > self.hi:
                    errors.append(
                        _violation(value, path, f"Member must have value less than or equal to {self.hi}")
                    )
                if self.lo is not None and value < self.lo:
                    errors.append(
                        _violation(value, path, f"Member must have value greater than or equal to {self.lo}")
                    )
        elif kind == "list":
            if isinstance(value, list):
                self._check_length(value, len(value), path, errors)
                if self.item is not None and not self.item.trivial:
                    for index, item in enumerate(value, 1):
                        self.item.check(item, f"{path}.{index}.member", errors)
        elif kind == "map":
            if isinstance(value, dict):
                self._check_length(value, len(value), path, errors)
                self._check_map_entries(value, path, errors)
        elif kind == "blob":
            if isinstance(value, bytes):
                self._check_length(value, len(value), path, errors)
            elif isinstance(value, str):  # base64 on the wire (json): the limit is on the bytes
                self._check_length(value, len(value) * 3 // 4 - value[-2:].count("="), path, errors)

    def _check_string(self, value: str, path: str, errors: list[str]) -> None:
        if self.enum and value not in self.enum:
            errors.append(_violation(value, path, f"Member must satisfy enum value set: [{self.enum_text}]"))
        if self.pattern is not None and self.pattern.fullmatch(value) is None:
            errors.append(
                _violation(
                    value, path, f"Member must satisfy regular expression pattern: {self.pattern_text}"
                )
            )
        self._check_length(value, len(value), path, errors)

    def _check_length(self, value: Any, length: int, path: str, errors: list[str]) -> None:
        if self.hi is not None and length > self.hi:
            errors.append(_violation(value, path, f"Member must have length less than or equal to {self.hi}"))
        if self.lo is not None and length < self.lo:
            errors.append(
                _violation(value, path, f"Member must have length greater than or equal to {self.lo}")
            )

    def _check_map_entries(self, value: dict[Any, Any], path: str, errors: list[str]) -> None:
        # AWS reports a bad key or scalar value as one constraint listing every rule of the shape:
        # "Value at 'x' failed to satisfy constraint: Map value must satisfy constraint: [...]".
        for label, check, items in (
            ("Map keys", self.key, list(value)),
            ("Map value", self.item, list(value.values())),
        ):
            if check is None or check.trivial:
                continue
            if check.kind not in {"string", "number", "blob"}:  # structures, lists: walk them
                for map_key, item in value.items():
                    check.check(item, f"{path}.{map_key}", errors)
                continue
            for item in items:
                found: list[str] = []
                check.check(item, path, found)
                if found:
                    rules = ", ".join(check.rules())
                    errors.append(
                        f"Value at '{path}' failed to satisfy constraint: {label} must satisfy constraint: [{rules}]"
                    )
                    break

    def rules(self) -> list[str]:
        rules = []
        if self.enum:
            rules.append(f"Member must satisfy enum value set: [{self.enum_text}]")
        if self.pattern is not None:
            rules.append(f"Member must satisfy regular expression pattern: {self.pattern_text}")
        return rules + _length_rules(self.lo, self.hi)  # type: ignore[arg-type]


def _join(path: str, segment: str) -> str:
    return f"{path}.{segment}" if path else segment


_patterns: dict[str, re.Pattern[str] | None] = {}


def compiled_pattern(pattern: str) -> re.Pattern[str] | None:
    """A model pattern as Python reads it, or None when Python would read it differently."""
    if pattern in _patterns:
        return _patterns[pattern]
    result: re.Pattern[str] | None = None
    if _JAVA_ONLY.search(pattern) is None:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("error")  # e.g. FutureWarning: a nested set Java reads otherwise
                result = re.compile(pattern, re.DOTALL)
        except (re.error, Warning):
            result = None
    _patterns[pattern] = result
    return result


def _segment(name: str) -> str:
    return name[:1].lower() + name[1:]


def compile_shape(shape: Any, seen: dict[str, Check], wire_names: bool = False) -> Check:
    """``shape``'s checks; with ``wire_names`` its members are keyed as the json protocol sends
    them (``jsonName`` where the model sets one), else by their model names (moto's parsers)."""
    cached = seen.get(shape.name)
    if cached is not None:
        return cached
    meta = shape.metadata
    type_name = shape.type_name
    if type_name == "structure" and not getattr(shape, "is_document_type", False):
        node = Check("structure")
        seen[shape.name] = node  # before the members: shapes may be recursive
        node.required = tuple(name for name in shape.required_members if name in shape.members)
        for name, member in shape.members.items():
            key = member.serialization.get("name", name) if wire_names else name
            node.members[key] = (_segment(name), compile_shape(member, seen, wire_names))
        node.required = tuple(
            (shape.members[name].serialization.get("name", name) if wire_names else name)
            for name in node.required
        )
    elif type_name == "list":
        node = Check("list", lo=meta.get("min"), hi=meta.get("max"))
        seen[shape.name] = node
        node.item = compile_shape(shape.member, seen, wire_names)
    elif type_name == "map":
        node = Check("map", lo=meta.get("min"), hi=meta.get("max"))
        seen[shape.name] = node
        node.key = compile_shape(shape.key, seen, wire_names)
        node.item = compile_shape(shape.value, seen, wire_names)
    elif type_name == "string":
        node = Check("string", lo=meta.get("min"), hi=meta.get("max"))
        if shape.enum:
            node.enum = frozenset(shape.enum)
            node.enum_text = ", ".join(shape.enum)
        if "pattern" in meta:
            node.pattern = compiled_pattern(meta["pattern"])
            node.pattern_text = meta["pattern"]
        seen[shape.name] = node
    elif type_name in {"integer", "long", "short", "byte", "float", "double"}:
        node = Check("number", lo=meta.get("min"), hi=meta.get("max"))
        seen[shape.name] = node
    elif type_name == "blob":
        node = Check("blob", lo=meta.get("min"), hi=meta.get("max"))
        seen[shape.name] = node
    else:
        node = Check("other", trivial=True)
        seen[shape.name] = node
    return node


def _mark_trivial(node: Check, visiting: set[int]) -> bool:
    """Whether nothing in ``node`` can fail (then its walk is skipped); cycles count as not."""
    if id(node) in visiting:
        return False
    visiting.add(id(node))
    children = [check for _, check in node.members.values()] + [
        c for c in (node.item, node.key) if c is not None
    ]
    own = bool(
        node.required or node.lo is not None or node.hi is not None or node.enum or node.pattern is not None
    )
    child_trivial = [_mark_trivial(child, visiting) for child in children]
    node.trivial = node.trivial or (not own and all(child_trivial))
    return node.trivial


_plans: dict[tuple[str, str, bool], Check | None] = {}
_plans_lock = threading.Lock()


def plan_for(service: str, operation_model: Any, wire_names: bool = False) -> Check | None:
    """The compiled checks of an operation's input (None: it has no input)."""
    key = (service, operation_model.name, wire_names)
    try:
        return _plans[key]
    except KeyError:
        pass
    with _plans_lock:
        if key not in _plans:
            shape = operation_model.input_shape
            plan = None if shape is None else compile_shape(shape, {}, wire_names)
            if plan is not None:
                _mark_trivial(plan, set())
            _plans[key] = plan
        return _plans[key]

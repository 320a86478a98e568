"""A step's ``RetryPolicies``, with SageMaker's semantics.

Each policy names the failure categories it retries (``ExceptionType``: ``Step.SERVICE_FAULT``,
``Step.THROTTLING``, ``SageMaker.JOB_INTERNAL_ERROR``, ``SageMaker.CAPACITY_ERROR``,
``SageMaker.RESOURCE_LIMIT``). The first policy whose types include the failure's decides:
wait ``IntervalSeconds * BackoffRate ** (retries so far)``, at most ``MaxAttempts`` retries
(retries, not attempts: as in Step Functions) or until ``ExpireAfterMin`` minutes after the
first attempt. A job's own failure (its code exited non-zero, bad input) has no category and
is never retried, as on SageMaker. Waits are in AWS time (the executor scales them with the
local clock).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from shared.local_cloud.sagemaker.errors import DefinitionError

EXCEPTION_TYPES = frozenset(
    {
        "Step.SERVICE_FAULT",
        "Step.THROTTLING",
        "SageMaker.JOB_INTERNAL_ERROR",
        "SageMaker.CAPACITY_ERROR",
        "SageMaker.RESOURCE_LIMIT",
    }
)


@dataclass(frozen=True)
class RetryPolicy:
    exception_types: frozenset[str]
    interval_seconds: float = 1.0
    backoff_rate: float = 2.0
    max_attempts: int | None = None
    expire_after_minutes: float | None = None

    @classmethod
    def from_spec(cls, spec: Mapping[str, Any]) -> RetryPolicy:
        types = frozenset(str(t) for t in spec.get("ExceptionType") or [])
        unknown = sorted(types - EXCEPTION_TYPES)
        if not types or unknown:
            raise DefinitionError(
                f"retry policy ExceptionType {sorted(types)} must name some of {sorted(EXCEPTION_TYPES)}"
            )
        return cls(
            exception_types=types,
            interval_seconds=float(spec.get("IntervalSeconds", 1)),
            backoff_rate=float(spec.get("BackoffRate", 2.0)),
            max_attempts=int(spec["MaxAttempts"]) if spec.get("MaxAttempts") is not None else None,
            expire_after_minutes=float(spec["ExpireAfterMin"])
            if spec.get("ExpireAfterMin") is not None
            else None,
        )


def parse_policies(step_spec: Mapping[str, Any]) -> tuple[RetryPolicy, ...]:
    return tuple(RetryPolicy.from_spec(p) for p in step_spec.get("RetryPolicies") or [])


def retry_delay(
    policies: Sequence[RetryPolicy], exception_type: str | None, attempts: int, elapsed_seconds: float
) -> float | None:
    """Seconds (AWS time) to wait before the next attempt, or None to fail the step now.
    ``attempts`` is how many attempts have been made, ``elapsed_seconds`` since the first."""
    if exception_type is None:
        return None
    for policy in policies:
        if exception_type not in policy.exception_types:
            continue
        retries = attempts - 1
        if policy.max_attempts is not None and retries >= policy.max_attempts:
            return None
        if policy.expire_after_minutes is not None and elapsed_seconds >= policy.expire_after_minutes * 60:
            return None
        return policy.interval_seconds * policy.backoff_rate**retries
    return None

"""The local clock: how much faster than wall time the local cloud lets time pass.

At factor 100 a 60 s Wait state takes 0.6 s, a Retry interval of 10 s takes 0.1 s and
a 3600 s task timeout fires after 36 s. Everything time-based in the local cloud (the
ASL interpreter's waits, retries, ``.sync`` polling and timeouts, schedule rules, the
endpoint bake) goes through ``scaled``, so one number compresses the whole story.
AWS has no such knob: the factor exists only in the local cloud.
"""

from __future__ import annotations

import os
import threading

DEFAULT_FACTOR = 100.0
FACTOR_ENV = "DUALLOOP_LOCAL_CLOCK_FACTOR"

_lock = threading.Lock()
_factor = DEFAULT_FACTOR


def factor() -> float:
    return _factor


def set_factor(value: float) -> None:
    if not value >= 1.0:
        raise ValueError(f"local clock factor must be >= 1 (1 = real time), got {value!r}")
    global _factor
    with _lock:
        _factor = float(value)


def factor_from_env(default: float = DEFAULT_FACTOR) -> float:
    raw = os.environ.get(FACTOR_ENV)
    if raw is None:
        return default
    try:
        return float(raw)
    except ValueError:
        raise ValueError(f"{FACTOR_ENV} must be a number >= 1, got {raw!r}") from None


def scaled(seconds: float) -> float:
    """Wall-clock seconds that stand for ``seconds`` of AWS time."""
    return max(0.0, float(seconds)) / _factor

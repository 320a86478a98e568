"""Demo data generation at scale (``make bench``; prints figures).

The demo and the benchmarks generate up to millions of transactions; generation must stay a
matter of seconds and a bounded amount of memory on 2 cores, or every bigger run waits on it.
"""

from __future__ import annotations

import time

import pytest

from shared.demo_data import generate_transactions

pytestmark = pytest.mark.bench

ROWS = 2_000_000
TARGET_SECONDS = 10.0
TARGET_BYTES = 150e6


def test_two_million_rows_generate_in_seconds_and_bounded_memory() -> None:
    start = time.perf_counter()
    df = generate_transactions(ROWS, seed=1)
    elapsed = time.perf_counter() - start
    size = df.memory_usage(deep=True).sum()
    print(
        f"\ndemo data: {ROWS:,} rows in {elapsed:.1f} s (target {TARGET_SECONDS:.0f} s), {size / 1e6:.0f} MB"
    )
    assert len(df) == ROWS
    assert elapsed < TARGET_SECONDS, f"took {elapsed:.1f}s"
    assert size < TARGET_BYTES

"""The training baseline's format (version 1): how it is summarised, binned, merged and checked.

A contract between the loops: Preprocess writes one baseline per instance
(``inner_pipeline/code/common.py``'s ``compute_baseline``), the drift job reads them and merges
them (``outer_orchestrator/drift``). Standard library only, so both sides run the same code
without numpy: ``inner_pipeline/code/feature_baseline.py`` is a symbolic link to this file
(code packaging and CDK staging copy its content), and the drift Lambda needs no numpy layer.

    {"format_version": 1,
     "hosts": ["algo-1"],                  # instances whose rows it summarises
     "row_count": 3000,
     "histogram_bins": 10,                 # quantile bins asked for (fewer for discrete data)
     "target": {"column": "is_fraud", "counts": {"0": 2950, "1": 50}},   # rows per class code
                                           # (regression: {"column", "count", "sum", "min", "max"})
     "features": {
       "amount": {"type": "numeric", "count": 2998, "missing": 2,   # count = non-missing
                  "mean": 101.2, "std": 97.1, "min": 0.5, "max": 2210.0,   # std: population
                  "histogram": {"edges": [12.1, 20.5, ...], "counts": [300, 299, ...]},
                  "sketch": {"values": [...], "weights": [...]}},
       "merchant_category": {"type": "categorical", "count": 3000, "missing": 0,
                             "frequencies": {"electronics": 190, "gas": 360, ...}}}}

Histogram: ``edges`` are the distinct quantiles at 1/bins, ..., (bins-1)/bins (deciles by
default; inverted-CDF, so each edge is an observed value, or a sketch point after a merge).
Bins are right-closed and open-ended, (-inf, e0], (e0, e1], ..., (e_last, +inf), so
``counts`` has len(edges) + 1 entries and a value outside the training range still lands in a
bin: ``bin_index`` (numpy: ``searchsorted(edges, x, side="left")``). Discrete features get one
edge per distinct decile (is_online: edges [0, 1], counts [n0, n1, 0]).

Merging: quantile edges differ per instance, so histograms cannot simply be added. Each
feature also carries a sketch: its distinct values with their counts when there are at most
``SKETCH_SIZE`` of them (exact), else ``SKETCH_SIZE`` equal-weight chunks of the sorted values,
each stored as (chunk mean, chunk size). ``merge_baselines`` concatenates the sketches,
re-derives the edges and counts from the combined weighted points, and recompresses the
sketch. For features with at most ``SKETCH_SIZE`` distinct values the merged baseline equals
the one a single instance would have computed over all rows; otherwise an edge can be off by
one chunk (at most count / ``SKETCH_SIZE`` rows of a host move to a neighbouring bin). Counts,
missing, min, max, frequencies are exact; mean and std are combined exactly (Chan et al.).
"""

from __future__ import annotations

import copy
import math
from bisect import bisect_left
from collections.abc import Mapping, Sequence
from itertools import accumulate
from typing import Any

__all__ = [
    "CATEGORICAL",
    "FORMAT_VERSION",
    "NUMERIC",
    "SKETCH_SIZE",
    "BaselineFormatError",
    "bin_index",
    "categorical_summary",
    "check_baseline",
    "merge_baselines",
    "numeric_summary",
]

FORMAT_VERSION = 1
SKETCH_SIZE = 256
NUMERIC = "numeric"
CATEGORICAL = "categorical"
_NUMERIC_KEYS = ("count", "missing", "histogram", "sketch")
_CATEGORICAL_KEYS = ("count", "missing", "frequencies")


class BaselineFormatError(ValueError):
    """A document is not a version-1 baseline; the message says what is wrong."""


def bin_index(edges: Sequence[float], value: float) -> int:
    """The histogram bin of ``value``: right-closed bins, open at both ends."""
    return bisect_left(edges, value)


def numeric_summary(
    values: Sequence[float], weights: Sequence[float], missing: int, bins: int
) -> dict[str, Any]:
    """Histogram and sketch of weighted points sorted by value (raw rows: weight 1 each, or the
    distinct values with their counts). ``mean`` and ``std`` are left None for the caller."""
    summary: dict[str, Any] = {
        "type": NUMERIC,
        "count": round(math.fsum(weights)),
        "missing": missing,
        "mean": None,
        "std": None,
        "min": None,
        "max": None,
        "histogram": {"edges": [], "counts": [0]},
        "sketch": {"values": [], "weights": []},
    }
    if not values:
        return summary
    cumulative = list(accumulate(float(w) for w in weights))
    total = cumulative[-1]
    # Inverted-CDF quantiles: the first point whose cumulative weight reaches p * total.
    last = len(values) - 1
    picked = {
        float(values[min(bisect_left(cumulative, i / bins * total - 1e-9), last)]) for i in range(1, bins)
    }
    edges = sorted(picked)
    counts = [0.0] * (len(edges) + 1)
    for value, weight in zip(values, weights, strict=True):
        counts[bin_index(edges, value)] += weight
    summary.update(
        min=float(values[0]),
        max=float(values[-1]),
        histogram={"edges": edges, "counts": _ints(counts)},
        sketch=_sketch(values, weights),
    )
    return summary


def categorical_summary(frequencies: Mapping[str, int], missing: int) -> dict[str, Any]:
    """A categorical feature from its category counts (missing values not among them)."""
    return {
        "type": CATEGORICAL,
        "count": sum(int(v) for v in frequencies.values()),
        "missing": int(missing),
        "frequencies": {str(k): int(v) for k, v in sorted(frequencies.items())},
    }


def check_baseline(data: Any) -> dict[str, Any]:
    """``data`` if it is a version-1 baseline with well-formed features, else BaselineFormatError."""
    if not isinstance(data, dict):
        raise BaselineFormatError(f"a baseline is a JSON object, not {type(data).__name__}")
    if data.get("format_version") != FORMAT_VERSION:
        raise BaselineFormatError(
            f"baseline format_version {data.get('format_version')!r}; expected {FORMAT_VERSION}"
        )
    features = data.get("features")
    if not isinstance(features, dict):
        raise BaselineFormatError("the baseline has no features object")
    for name, spec in features.items():
        kind = spec.get("type") if isinstance(spec, dict) else None
        needed = {NUMERIC: _NUMERIC_KEYS, CATEGORICAL: _CATEGORICAL_KEYS}.get(str(kind))
        if needed is None:
            raise BaselineFormatError(
                f"feature {name!r} has type {kind!r}; expected {NUMERIC} or {CATEGORICAL}"
            )
        absent = [k for k in needed if k not in spec]
        if absent:
            raise BaselineFormatError(f"{kind} feature {name!r} lacks {', '.join(absent)}")
        if kind == NUMERIC:
            histogram = spec["histogram"]
            if len(histogram.get("counts", ())) != len(histogram.get("edges", ())) + 1:
                raise BaselineFormatError(f"feature {name!r}: a histogram has one count more than edges")
    return data


def merge_baselines(baselines: Sequence[Mapping[str, Any]], bins: int | None = None) -> dict[str, Any]:
    """Merge per-instance baselines into one, as the module docstring says. Inputs are not changed.

    ``bins`` defaults to the inputs' ``histogram_bins`` (the largest, should they differ).
    One baseline and no ``bins`` returns an equal copy.
    """
    if not baselines:
        raise ValueError("merge_baselines needs at least one baseline")
    for b in baselines:
        if b.get("format_version") != FORMAT_VERSION:
            raise ValueError(f"cannot merge baseline format_version {b.get('format_version')!r}")
    layout = {name: spec["type"] for name, spec in baselines[0]["features"].items()}
    for b in baselines[1:]:
        if {name: spec["type"] for name, spec in b["features"].items()} != layout:
            raise ValueError("baselines describe different features; they come from different schemas")
    if len(baselines) == 1 and bins is None:
        return copy.deepcopy(dict(baselines[0]))
    bins = bins or max(int(b["histogram_bins"]) for b in baselines)

    features: dict[str, Any] = {}
    for name, kind in layout.items():
        specs = [b["features"][name] for b in baselines]
        count = sum(int(s["count"]) for s in specs)
        missing = sum(int(s["missing"]) for s in specs)
        if kind == CATEGORICAL:
            freq: dict[str, int] = {}
            for s in specs:
                for k, v in s["frequencies"].items():
                    freq[k] = freq.get(k, 0) + int(v)
            features[name] = categorical_summary(freq, missing)
            continue
        points = [
            (float(v), float(w))
            for s in specs
            for v, w in zip(s["sketch"]["values"], s["sketch"]["weights"], strict=True)
        ]
        points.sort(key=lambda p: p[0])  # stable, as numpy's argsort(kind="stable")
        merged = numeric_summary([v for v, _ in points], [w for _, w in points], missing, bins)
        merged["count"] = count  # exact, whatever rounding the sketch weights saw
        present = [s for s in specs if s["count"]]
        if present:
            n_total, mean, m2 = 0, 0.0, 0.0
            for s in present:  # Chan et al.'s pairwise combination of (n, mean, M2)
                n, mu, var = int(s["count"]), float(s["mean"]), float(s["std"]) ** 2
                delta = mu - mean
                mean += delta * n / (n_total + n)
                m2 += var * n + delta**2 * n_total * n / (n_total + n)
                n_total += n
            merged.update(
                mean=mean,
                std=math.sqrt(max(m2 / n_total, 0.0)),
                min=min(float(s["min"]) for s in present),
                max=max(float(s["max"]) for s in present),
            )
        features[name] = merged

    return {
        "format_version": FORMAT_VERSION,
        "hosts": sorted({h for b in baselines for h in b["hosts"]}),
        "row_count": sum(int(b["row_count"]) for b in baselines),
        "histogram_bins": bins,
        "target": _merge_targets([b["target"] for b in baselines]),
        "features": features,
    }


def _merge_targets(targets: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    if "counts" in targets[0]:
        keys = sorted({k for t in targets for k in t["counts"]}, key=int)
        return {
            "column": targets[0]["column"],
            "counts": {k: sum(int(t["counts"].get(k, 0)) for t in targets) for k in keys},
        }
    present = [t for t in targets if t["count"]]
    return {
        "column": targets[0]["column"],
        "count": sum(int(t["count"]) for t in targets),
        "sum": sum(float(t["sum"]) for t in targets),
        "min": min((float(t["min"]) for t in present), default=None),
        "max": max((float(t["max"]) for t in present), default=None),
    }


def _sketch(values: Sequence[float], weights: Sequence[float]) -> dict[str, list[Any]]:
    distinct: list[float] = []
    totals: list[float] = []
    for value, weight in zip(values, weights, strict=True):  # sorted: equal values are adjacent
        if distinct and distinct[-1] == value:
            totals[-1] += weight
        else:
            distinct.append(float(value))
            totals.append(float(weight))
    if len(distinct) <= SKETCH_SIZE:
        return {"values": distinct, "weights": _ints(totals)}
    # Equal-weight chunks of the sorted points; a point goes to the chunk its start falls in.
    grand = math.fsum(totals)
    chunk_weight = [0.0] * SKETCH_SIZE
    chunk_sum = [0.0] * SKETCH_SIZE
    start = 0.0
    for value, total in zip(distinct, totals, strict=True):
        chunk = min(int(start / grand * SKETCH_SIZE), SKETCH_SIZE - 1)
        chunk_weight[chunk] += total
        chunk_sum[chunk] += total * value
        start += total
    used = [i for i in range(SKETCH_SIZE) if chunk_weight[i] > 0]
    return {
        "values": [chunk_sum[i] / chunk_weight[i] for i in used],
        "weights": _ints([chunk_weight[i] for i in used]),
    }


def _ints(values: Sequence[float]) -> list[int]:
    return [round(v) for v in values]  # half to even, as numpy's rint

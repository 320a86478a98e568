"""Drift statistics: captured feature values against the training baseline. Pure numpy.

Numeric features: the **population stability index** over the baseline's own histogram bins
(right-closed, open at both ends, ``bin = searchsorted(edges, x, "left")``; see
``inner_pipeline/code/common.py``)::

    PSI = sum_i (a_i - e_i) * ln(a_i / e_i)      e: baseline share of bin i, a: captured share

Categorical features: the **Jensen-Shannon distance** (base 2, so in [0, 1]) between the
baseline frequencies and the captured ones. A category the baseline never saw is a bin of its
own with baseline share 0; JS stays finite there, and since such a bin adds exactly half its
captured share to the divergence, lumping unseen categories together changes nothing.

Both statistics add a *missing* bin (empty cell, JSON null): a client that stops sending a
feature has drifted as surely as one that sends other values.

Empty bins (PSI only). ln(a/e) is infinite when a bin is empty on one side, so an empty bin
counts as ``PSEUDO_COUNT`` = half a value of its own sample (share 0.5/M captured, 0.5/N in the
baseline; the Haldane-Anscombe correction for zero cells); bins empty on both sides are
dropped. So an empty bin reads as "fewer than one in M", and its penalty shrinks as the sample
grows able to resolve it. The usual fixed floor (a share of 1e-4) does not: with 70 captured
values a bin holding 3.5 % of the baseline is empty by chance 8 % of the time, and the floor
turns each of those into PSI 0.2, a false alarm (measured on the demo data: 8 % of runs with
the fixed floor, 0.03 % with half a count). A real change still shows: a decile that empties
adds (0.1 - 0.5/M) * ln(0.1 M / 0.5) = 0.36 for M = 200, and values in a range the
baseline never saw (its open-ended outer bins) are far from its half count.

Minimum sample sizes. Both statistics are noisy on small samples even when nothing drifted:
with M captured and N baseline values over k bins, both samples from one distribution,
``PSI / (1/M + 1/N)`` tends to a chi-square with k - 1 degrees of freedom (PSI is, to second
order, the Pearson chi-square distance; Yurdakul 2018, "Statistical Properties of
Population Stability Index"), and likewise ``8 ln(2) * JSD_bits / (1/M + 1/N)``. A feature is
scored only when M is large enough that noise alone exceeds the threshold with probability at
most ``FALSE_ALARM_RATE`` (0.1 % per feature and run)::

    chi2_{1-alpha}(k - 1) * (1/M + 1/N) <= budget,   budget = t (PSI) or 8 ln(2) t^2 (JS)

Deciles (k = 10, chi2 = 27.9) and PSI 0.2 need M >= 140 with a large baseline; seven
categories (chi2(6) = 22.5) and JS distance 0.1 need M >= 405: JS distance is a square root,
so small shares move it a lot. The approximation is asymptotic and PSI's tail is a little
heavier at these sizes: on the demo data the bare minimum gives 0.1-0.4 % false alarms per
feature, 200 values at most 0.03 %; the configured ``min_samples`` (default 200) raises the
computed size, never lowers it. Fewer values give "not enough data" and no score, never an
alarm; so does a baseline too small for any M to be enough, saying so.

Also reported, never used to decide: the p-value of a chi-square test of homogeneity (the
baseline is a sample too, so not a goodness-of-fit test). With thousands of captured rows it
flags shifts too small to matter, which is why the decision rests on effect sizes.

No scipy at run time: ``scipy.stats`` takes about 3 s to import here and scipy is 113 MB,
against a Lambda package limit of 250 MB unzipped shared with numpy and pandas. The
chi-square tail has a closed form for integer degrees of freedom, and the tests check every
function here against scipy (``jensenshannon``, ``chi2``, ``chi2_contingency``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

PSEUDO_COUNT = 0.5
FALSE_ALARM_RATE = 1e-3
NOT_ENOUGH_DATA = "not enough data"

Metric = Literal["psi", "js_distance"]


# ---- the statistics ------------------------------------------------------------------------


def psi(expected: ArrayLike, actual: ArrayLike, pseudo_count: float = PSEUDO_COUNT) -> float:
    """Population stability index of ``actual`` against ``expected``, both counts per bin.

    Counts, not shares: an empty bin counts as ``pseudo_count`` values of its own sample.
    """
    e, a = _counts(expected), _counts(actual)
    if e.shape != a.shape:
        raise ValueError(f"expected has {e.size} bins, actual {a.size}")
    if e.sum() <= 0 or a.sum() <= 0:
        raise ValueError("both samples need at least one count")
    used = (e > 0) | (a > 0)
    e_share = np.maximum(e[used], pseudo_count) / e.sum()
    a_share = np.maximum(a[used], pseudo_count) / a.sum()
    return float(np.sum((a_share - e_share) * np.log(a_share / e_share)))


def js_distance(p: ArrayLike, q: ArrayLike) -> float:
    """Jensen-Shannon distance, base 2 (0 = identical, 1 = disjoint), of two count vectors."""
    p_, q_ = _shares(p), _shares(q)
    if p_.shape != q_.shape:
        raise ValueError(f"p has {p_.size} bins, q {q_.size}")
    m = (p_ + q_) / 2

    def kl(x: NDArray[np.float64]) -> float:
        used = x > 0  # 0 * log(0) = 0; where x > 0, m > 0 too
        return float(np.sum(x[used] * np.log2(x[used] / m[used])))

    divergence = (kl(p_) + kl(q_)) / 2
    return min(math.sqrt(max(divergence, 0.0)), 1.0)  # rounding can stray past [0, 1]


def chi_square_p_value(expected: ArrayLike, actual: ArrayLike) -> float:
    """p-value of Pearson's chi-square test that two count vectors come from one distribution."""
    table = np.vstack([_counts(expected), _counts(actual)])
    table = table[:, table.sum(axis=0) > 0]
    if table.shape[1] < 2 or (table.sum(axis=1) == 0).any():
        return 1.0
    fitted = np.outer(table.sum(axis=1), table.sum(axis=0)) / table.sum()
    statistic = float(np.sum((table - fitted) ** 2 / fitted))
    return chi2_sf(statistic, table.shape[1] - 1)


def chi2_sf(x: float, df: int) -> float:
    """P(X > x) for X ~ chi-square(df), df a positive integer: closed forms, no scipy.

    Even df: e^(-x/2) * sum_{j < df/2} (x/2)^j / j!; odd df: erfc(sqrt(x/2)) plus
    e^(-x/2) * sum_{j=1}^{(df-1)/2} (x/2)^(j-1/2) / Gamma(j + 1/2). Terms are summed in log space.
    """
    if df < 1:
        raise ValueError(f"degrees of freedom must be a positive integer, got {df}")
    if x <= 0:
        return 1.0
    h = x / 2
    if df % 2 == 0:
        terms = [j * math.log(h) - h - math.lgamma(j + 1) for j in range(df // 2)]
        total = 0.0
    else:
        terms = [(j - 0.5) * math.log(h) - h - math.lgamma(j + 0.5) for j in range(1, (df + 1) // 2)]
        total = math.erfc(math.sqrt(h))
    return min(total + sum(math.exp(t) for t in terms), 1.0)


def chi2_isf(alpha: float, df: int) -> float:
    """The x with P(X > x) = alpha, X ~ chi-square(df): bisection on ``chi2_sf``."""
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")
    low, high = 0.0, float(df)
    while chi2_sf(high, df) > alpha:
        high *= 2
    for _ in range(200):
        mid = (low + high) / 2
        if chi2_sf(mid, df) > alpha:
            low = mid
        else:
            high = mid
        if high - low <= 1e-10 * high:
            break
    return (low + high) / 2


def min_sample_size(
    metric: Metric,
    threshold: float,
    support: int,
    baseline_size: int,
    false_alarm_rate: float = FALSE_ALARM_RATE,
) -> int | None:
    """Fewest captured values for which noise alone exceeds ``threshold`` with probability at most
    ``false_alarm_rate`` (see the module docstring); None when no sample size is enough.

    ``support`` is the number of bins the baseline fills (the chi-square has support - 1
    degrees of freedom); ``baseline_size`` the values the baseline counted.
    """
    if threshold <= 0:
        raise ValueError(f"threshold must be positive, got {threshold}")
    if support < 2:
        return 1  # one filled bin: an undrifted sample lands there, and both statistics are 0
    if baseline_size <= 0:
        return None
    budget = threshold if metric == "psi" else 8 * math.log(2) * threshold**2
    room = budget / chi2_isf(false_alarm_rate, support - 1) - 1 / baseline_size
    return math.ceil(1 / room) if room > 0 else None


# ---- one feature against its baseline ------------------------------------------------------


@dataclass(frozen=True)
class FeatureScore:
    """The outcome for one feature. ``score`` is None when there was not enough data."""

    metric: Metric
    score: float | None
    threshold: float
    sample_size: int  # captured values compared, missing ones included
    min_samples: int | None  # None: the baseline is too small for any sample to be enough
    baseline_size: int
    p_value: float | None = None
    reason: str | None = None  # why there is no score
    unseen: tuple[str, ...] = ()  # captured categories the baseline never saw

    @property
    def drifted(self) -> bool:
        return self.score is not None and self.score > self.threshold


def numeric_drift(
    baseline: Mapping[str, Any],
    values: ArrayLike,
    threshold: float,
    min_samples: int = 0,
    false_alarm_rate: float = FALSE_ALARM_RATE,
) -> FeatureScore:
    """PSI of captured ``values`` (float, NaN = missing) against a baseline numeric feature."""
    x = np.asarray(values, dtype=np.float64)
    edges = np.asarray(baseline["histogram"]["edges"], dtype=np.float64)
    expected = np.append(np.asarray(baseline["histogram"]["counts"], dtype=np.float64), baseline["missing"])
    present = x[~np.isnan(x)]
    actual = np.append(
        np.bincount(np.searchsorted(edges, present, side="left"), minlength=edges.size + 1),
        x.size - present.size,
    ).astype(np.float64)
    return _score("psi", expected, actual, threshold, min_samples, false_alarm_rate)


def categorical_drift(
    baseline: Mapping[str, Any],
    values: Sequence[str | None] | NDArray[Any],
    threshold: float,
    min_samples: int = 0,
    false_alarm_rate: float = FALSE_ALARM_RATE,
) -> FeatureScore:
    """JS distance of captured category strings (None = missing) against a baseline feature."""
    frequencies: Mapping[str, int] = baseline["frequencies"]
    strings = np.asarray([v for v in values if v is not None], dtype=object)
    captured: dict[str, int] = {}
    if strings.size:
        seen, counts = np.unique(strings, return_counts=True)
        captured = {str(s): int(c) for s, c in zip(seen, counts, strict=True)}
    unseen = sorted(set(captured) - set(frequencies))
    categories = [*sorted(frequencies), *unseen]
    expected = np.array([*(frequencies.get(c, 0) for c in categories), baseline["missing"]], dtype=np.float64)
    actual = np.array(
        [*(captured.get(c, 0) for c in categories), len(values) - strings.size], dtype=np.float64
    )
    score = _score("js_distance", expected, actual, threshold, min_samples, false_alarm_rate)
    return replace(score, unseen=tuple(unseen))


def _score(
    metric: Metric,
    expected: NDArray[np.float64],
    actual: NDArray[np.float64],
    threshold: float,
    floor: int,
    false_alarm_rate: float,
) -> FeatureScore:
    baseline_size, sample_size = int(expected.sum()), int(actual.sum())
    needed = min_sample_size(metric, threshold, int((expected > 0).sum()), baseline_size, false_alarm_rate)
    if needed is not None:
        needed = max(needed, floor, 1)
    score = p_value = reason = None
    if needed is None:
        reason = (
            f"{NOT_ENOUGH_DATA}: the baseline counts {baseline_size} values, too few for "
            f"threshold {threshold} at any sample size"
        )
    elif sample_size < needed:
        reason = f"{NOT_ENOUGH_DATA}: {sample_size} captured values, {needed} needed"
    else:
        score = psi(expected, actual) if metric == "psi" else js_distance(expected, actual)
        p_value = chi_square_p_value(expected, actual)
    return FeatureScore(
        metric=metric,
        score=score,
        threshold=threshold,
        sample_size=sample_size,
        min_samples=needed,
        baseline_size=baseline_size,
        p_value=p_value,
        reason=reason,
    )


# ---- helpers -------------------------------------------------------------------------------


def _counts(values: ArrayLike) -> NDArray[np.float64]:
    x = np.asarray(values, dtype=np.float64)
    if x.ndim != 1 or x.size == 0:
        raise ValueError("expected a non-empty 1-d vector of counts or shares")
    if not np.all(np.isfinite(x)) or (x < 0).any():
        raise ValueError("counts and shares must be finite and non-negative")
    return x


def _shares(values: ArrayLike) -> NDArray[np.float64]:
    x = _counts(values)
    total = x.sum()
    if total <= 0:
        raise ValueError("a distribution needs at least one count")
    shares: NDArray[np.float64] = x / total
    return shares

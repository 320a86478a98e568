"""Drift statistics: captured feature values against the training baseline. Standard library only.

Numeric features: the **population stability index** over the baseline's own histogram bins
(right-closed, open at both ends: ``shared.feature_baseline.bin_index``)::

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

No numpy, scipy or pandas at run time, so the drift Lambda carries no layer but Powertools
(Lambda allows 250 MB unzipped for a function and its layers; numpy alone unpacks to 73 MB,
and the Lambda runtime's Python 3.12 wheels of it cannot be built offline at synth). The
work is a bisect per captured value and sums over a few dozen bins; the chi-square tail has
a closed form for integer degrees of freedom. The tests check every function here against
scipy (``jensenshannon``, ``chi2``, ``chi2_contingency``).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal

from shared.feature_baseline import bin_index

PSEUDO_COUNT = 0.5
FALSE_ALARM_RATE = 1e-3
NOT_ENOUGH_DATA = "not enough data"

Metric = Literal["psi", "js_distance"]


# ---- the statistics ------------------------------------------------------------------------


def psi(expected: Sequence[float], actual: Sequence[float], pseudo_count: float = PSEUDO_COUNT) -> float:
    """Population stability index of ``actual`` against ``expected``, both counts per bin.

    Counts, not shares: an empty bin counts as ``pseudo_count`` values of its own sample.
    """
    e, a = _counts(expected), _counts(actual)
    if len(e) != len(a):
        raise ValueError(f"expected has {len(e)} bins, actual {len(a)}")
    e_total, a_total = math.fsum(e), math.fsum(a)
    if e_total <= 0 or a_total <= 0:
        raise ValueError("both samples need at least one count")
    terms = []
    for e_count, a_count in zip(e, a, strict=True):
        if e_count > 0 or a_count > 0:  # bins empty on both sides are dropped
            e_share = max(e_count, pseudo_count) / e_total
            a_share = max(a_count, pseudo_count) / a_total
            terms.append((a_share - e_share) * math.log(a_share / e_share))
    return math.fsum(terms)


def js_distance(p: Sequence[float], q: Sequence[float]) -> float:
    """Jensen-Shannon distance, base 2 (0 = identical, 1 = disjoint), of two count vectors."""
    p_, q_ = _shares(p), _shares(q)
    if len(p_) != len(q_):
        raise ValueError(f"p has {len(p_)} bins, q {len(q_)}")
    m = [(x + y) / 2 for x, y in zip(p_, q_, strict=True)]

    def kl(x: list[float]) -> float:
        # 0 * log(0) = 0; where x > 0, m > 0 too
        return math.fsum(xi * math.log2(xi / mi) for xi, mi in zip(x, m, strict=True) if xi > 0)

    divergence = (kl(p_) + kl(q_)) / 2
    return min(math.sqrt(max(divergence, 0.0)), 1.0)  # rounding can stray past [0, 1]


def chi_square_p_value(expected: Sequence[float], actual: Sequence[float]) -> float:
    """p-value of Pearson's chi-square test that two count vectors come from one distribution."""
    e, a = _counts(expected), _counts(actual)
    if len(e) != len(a):
        raise ValueError(f"expected has {len(e)} bins, actual {len(a)}")
    columns = [(x, y) for x, y in zip(e, a, strict=True) if x + y > 0]
    rows = (math.fsum(x for x, _ in columns), math.fsum(y for _, y in columns))
    if len(columns) < 2 or 0 in rows:
        return 1.0
    total = rows[0] + rows[1]
    statistic = math.fsum(
        (observed - row * (x + y) / total) ** 2 / (row * (x + y) / total)
        for x, y in columns
        for observed, row in ((x, rows[0]), (y, rows[1]))
    )
    return chi2_sf(statistic, len(columns) - 1)


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
    unseen_categories: tuple[str, ...] = ()  # captured categories the baseline never saw

    @property
    def drifted(self) -> bool:
        return self.score is not None and self.score > self.threshold


def numeric_drift(
    baseline: Mapping[str, Any],
    values: Iterable[float],
    threshold: float,
    min_samples: int = 0,
    false_alarm_rate: float = FALSE_ALARM_RATE,
) -> FeatureScore:
    """PSI of captured ``values`` (float, NaN = missing) against a baseline numeric feature."""
    edges = [float(e) for e in baseline["histogram"]["edges"]]
    expected = [*(float(c) for c in baseline["histogram"]["counts"]), float(baseline["missing"])]
    actual = [0.0] * (len(edges) + 2)  # the histogram's bins, then missing
    for value in values:
        x = float(value)
        actual[-1 if math.isnan(x) else bin_index(edges, x)] += 1
    return _score("psi", expected, actual, threshold, min_samples, false_alarm_rate)


def categorical_drift(
    baseline: Mapping[str, Any],
    values: Iterable[str | None],
    threshold: float,
    min_samples: int = 0,
    false_alarm_rate: float = FALSE_ALARM_RATE,
) -> FeatureScore:
    """JS distance of captured category strings (None = missing) against a baseline feature."""
    frequencies: Mapping[str, int] = baseline["frequencies"]
    captured: Counter[str] = Counter()
    missing = 0
    for value in values:
        if value is None:
            missing += 1
        else:
            captured[str(value)] += 1
    unseen = sorted(set(captured) - set(frequencies))
    categories = [*sorted(frequencies), *unseen]
    expected = [*(float(frequencies.get(c, 0)) for c in categories), float(baseline["missing"])]
    actual = [*(float(captured.get(c, 0)) for c in categories), float(missing)]
    score = _score("js_distance", expected, actual, threshold, min_samples, false_alarm_rate)
    return replace(score, unseen_categories=tuple(unseen))


def _score(
    metric: Metric,
    expected: list[float],
    actual: list[float],
    threshold: float,
    floor: int,
    false_alarm_rate: float,
) -> FeatureScore:
    baseline_size, sample_size = int(math.fsum(expected)), int(math.fsum(actual))
    support = sum(1 for e in expected if e > 0)
    needed = min_sample_size(metric, threshold, support, baseline_size, false_alarm_rate)
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


def _counts(values: Iterable[float]) -> list[float]:
    try:
        x = [float(v) for v in values]
    except (TypeError, ValueError):
        raise ValueError("expected a non-empty 1-d vector of counts or shares") from None
    if not x:
        raise ValueError("expected a non-empty 1-d vector of counts or shares")
    if not all(math.isfinite(v) and v >= 0 for v in x):
        raise ValueError("counts and shares must be finite and non-negative")
    return x


def _shares(values: Iterable[float]) -> list[float]:
    x = _counts(values)
    total = math.fsum(x)
    if total <= 0:
        raise ValueError("a distribution needs at least one count")
    return [v / total for v in x]

"""The drift statistics against independent computations, and on the demo data's known drift.

What this proves: the numbers (PSI by hand from the literature, JS distance and chi-square
against scipy), the bin alignment with the baseline written by Preprocess (the container's
own ``compute_baseline``), and which demo features a drift of 1.0 moves past the thresholds.
What it does not: reading captures or publishing metrics (tests/functional/test_drift.py).
"""

from __future__ import annotations

import math
from datetime import UTC, datetime

import numpy as np
import pytest
from container_code import container_common
from scipy import stats as scipy_stats
from scipy.spatial.distance import jensenshannon

from outer_orchestrator.drift import stats
from outer_orchestrator.drift.report import CaptureSummary, DriftReport, FeatureDrift, Status
from shared.config import DataSchema
from shared.demo_data import generate_transactions

PSI_T, JS_T = 0.2, 0.1  # the config's default thresholds


def _baseline(frame, host: str = "algo-1") -> dict:
    common = container_common()
    schema = common.parse_schema(DataSchema().model_dump(mode="json"))
    return common.compute_baseline(frame, schema, host=host)


@pytest.fixture(scope="module")
def training_baseline() -> dict:
    return _baseline(generate_transactions(20000, seed=0, drift=0.0))


def _score(baseline: dict, frame, name: str) -> stats.FeatureScore:
    spec = baseline["features"][name]
    if spec["type"] == "numeric":
        return stats.numeric_drift(spec, frame[name].to_numpy(dtype=np.float64), PSI_T, 200)
    values = [None if v is None or v != v else str(v) for v in frame[name].astype(object)]
    return stats.categorical_drift(spec, values, JS_T, 200)


# ---- PSI ----------------------------------------------------------------------------------


def test_psi_matches_the_hand_computed_textbook_example():
    # GIVEN the three-band example found in PSI tutorials (e.g. GeeksforGeeks, "Population
    # Stability Index (PSI)"): expected shares 40/30/30 %, observed 35/25/40 %
    expected, actual = [40, 30, 30], [35, 25, 40]
    # WHEN computed; THEN it equals the terms worked out by hand:
    #   (0.35-0.40) ln(0.35/0.40) = 0.0066765, (0.25-0.30) ln(0.25/0.30) = 0.0091161,
    #   (0.40-0.30) ln(0.40/0.30) = 0.0287682; sum 0.0445608
    assert stats.psi(expected, actual) == pytest.approx(0.0445608, abs=1e-7)
    # Counts or percentages, the same shares give the same PSI.
    assert stats.psi([400, 300, 300], [70, 50, 80]) == pytest.approx(0.0445608, abs=1e-7)


def test_psi_counts_an_empty_bin_as_half_a_value_and_drops_bins_empty_on_both_sides():
    # GIVEN 100 baseline values in two bins, 200 captured with the second bin empty, and a bin
    # empty on both sides
    expected, actual = [50, 50, 0], [200, 0, 0]
    # THEN the empty captured bin reads as 0.5/200 and the third bin adds nothing
    a1, a2 = 200 / 200, 0.5 / 200
    by_hand = (a1 - 0.5) * math.log(a1 / 0.5) + (a2 - 0.5) * math.log(a2 / 0.5)
    assert stats.psi(expected, actual) == pytest.approx(by_hand, rel=1e-12)
    assert math.isfinite(stats.psi([10, 0], [0, 10]))


def test_psi_of_identical_distributions_is_zero():
    assert stats.psi([5, 10, 20, 0], [5, 10, 20, 0]) == 0.0
    assert stats.psi([5, 10, 20], [50, 100, 200]) == pytest.approx(0.0, abs=1e-15)


@pytest.mark.parametrize("bad", [[], [1, -1], [math.nan, 1], [0, 0]])
def test_psi_rejects_what_is_not_a_distribution(bad):
    with pytest.raises(ValueError):
        stats.psi(bad, bad)


# ---- JS distance and chi-square against scipy ----------------------------------------------


@pytest.mark.parametrize(
    ("p", "q"),
    [
        ([10, 20, 30], [30, 20, 10]),
        ([1, 0, 0, 0], [0, 0, 0, 1]),  # disjoint: 1
        ([5, 5, 5], [5, 5, 5]),  # identical: 0
        ([120, 80, 0, 3], [100, 70, 25, 0]),  # a category one side never saw
        ([2950, 50], [2000, 1000]),
    ],
)
def test_js_distance_equals_scipy(p, q):
    assert stats.js_distance(p, q) == pytest.approx(jensenshannon(p, q, base=2), abs=1e-12)


def test_js_distance_on_random_counts_equals_scipy():
    rng = np.random.default_rng(3)
    for _ in range(200):
        p, q = rng.integers(0, 40, 9), rng.integers(0, 40, 9)
        p[0], q[1] = p[0] + 1, q[1] + 1  # never an empty distribution
        assert stats.js_distance(p, q) == pytest.approx(jensenshannon(p, q, base=2), abs=1e-12)


@pytest.mark.parametrize("df", [1, 2, 3, 6, 9, 20, 101])
def test_chi2_tail_and_quantile_equal_scipy(df):
    for x in (0.001, 0.7, 3.0, 12.0, 40.0, 250.0):
        assert stats.chi2_sf(x, df) == pytest.approx(scipy_stats.chi2.sf(x, df), rel=1e-9, abs=1e-300)
    for alpha in (0.05, 1e-3, 1e-7):
        assert stats.chi2_isf(alpha, df) == pytest.approx(scipy_stats.chi2.isf(alpha, df), rel=1e-8)


def test_chi_square_p_value_is_the_homogeneity_test():
    rng = np.random.default_rng(5)
    for _ in range(50):
        expected, actual = rng.integers(0, 200, 7), rng.integers(0, 60, 7)
        expected[0], actual[0] = expected[0] + 1, actual[0] + 1
        table = np.vstack([expected, actual])
        table = table[:, table.sum(axis=0) > 0]
        reference = scipy_stats.chi2_contingency(table, correction=False).pvalue
        assert stats.chi_square_p_value(expected, actual) == pytest.approx(reference, rel=1e-8, abs=1e-300)


# ---- minimum sample sizes ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("metric", "threshold", "support", "baseline_size", "expected"),
    [
        ("psi", 0.2, 10, 10**9, 140),  # deciles
        ("js_distance", 0.1, 7, 10**9, 405),  # seven categories
        ("psi", 0.2, 10, 3000, 147),  # a smaller baseline adds its own noise
    ],
)
def test_min_sample_size_follows_the_chi_square_bound(metric, threshold, support, baseline_size, expected):
    # The same bound computed with scipy: chi2_{1-alpha}(k-1) * (1/M + 1/N) <= budget.
    budget = threshold if metric == "psi" else 8 * math.log(2) * threshold**2
    quantile = scipy_stats.chi2.isf(stats.FALSE_ALARM_RATE, support - 1)
    assert math.ceil(1 / (budget / quantile - 1 / baseline_size)) == expected
    assert stats.min_sample_size(metric, threshold, support, baseline_size) == expected


def test_a_baseline_too_small_for_the_threshold_needs_an_impossible_sample():
    assert stats.min_sample_size("js_distance", 0.1, 7, 300) is None
    assert stats.min_sample_size("psi", 0.2, 1, 10) == 1  # one filled bin: nothing to be noisy


# ---- one feature against its baseline ------------------------------------------------------


def test_too_few_values_give_not_enough_data_never_an_alarm(training_baseline):
    # GIVEN 150 captured transactions that drifted far (drift 3)
    few = generate_transactions(150, seed=4, drift=3.0)
    for name in ("amount", "merchant_category", "is_online"):
        # WHEN scored with the default floor of 200
        result = _score(training_baseline, few, name)
        # THEN there is no score and no alarm, and the reason says so
        assert result.score is None
        assert not result.drifted
        assert result.reason is not None and result.reason.startswith(stats.NOT_ENOUGH_DATA)
        assert result.sample_size == 150 and result.min_samples is not None and result.min_samples >= 200


def test_the_baseline_rows_themselves_score_exactly_zero(training_baseline):
    # Bin alignment with Preprocess: values on an edge must fall in the same bin on both sides,
    # which discrete features (hour, is_online, tx_count_*) put to the test.
    frame = generate_transactions(20000, seed=0, drift=0.0)
    for name in DataSchema().feature_names:
        result = _score(training_baseline, frame, name)
        assert result.score == pytest.approx(0.0, abs=1e-12), name


def test_fresh_undrifted_traffic_stays_well_below_the_thresholds(training_baseline):
    fresh = generate_transactions(5000, seed=2, drift=0.0)
    for name in DataSchema().feature_names:
        result = _score(training_baseline, fresh, name)
        assert result.score is not None and result.score < result.threshold / 4, (name, result.score)


def test_drift_one_moves_amount_category_and_online_share_past_their_thresholds(training_baseline):
    # GIVEN traffic drawn with drift=1.0 (amounts +25 %, online share +25 points, category mix
    # towards e-commerce, night share +15 points; see shared/demo_data.py)
    drifted = generate_transactions(20000, seed=1, drift=1.0)
    results = {name: _score(training_baseline, drifted, name) for name in DataSchema().feature_names}
    # THEN the features that drift exceed their thresholds ...
    assert {n for n, r in results.items() if r.drifted} == {"amount", "merchant_category", "is_online"}
    # ... the night share moves hour clearly (PSI about 0.14) but not past 0.2 ...
    assert 0.08 < results["hour"].score < PSI_T
    # ... and what drift leaves alone stays at noise level
    for name in ("tx_count_1h", "tx_count_24h", "amount_to_avg_ratio", "distance_from_home_km"):
        assert results[name].score < PSI_T / 4, (name, results[name].score)


def test_unseen_categories_and_missing_values_count(training_baseline):
    spec = {"type": "categorical", "count": 10000, "missing": 0, "frequencies": {"a": 5000, "b": 5000}}
    captured = ["a"] * 150 + ["b"] * 150 + ["zz"] * 60 + [None] * 40
    result = stats.categorical_drift(spec, captured, JS_T, 10)
    # bins a, b, unseen zz, missing
    assert result.score == pytest.approx(
        jensenshannon([5000, 5000, 0, 0], [150, 150, 60, 40], base=2), abs=1e-12
    )
    assert result.unseen_categories == ("zz",)
    assert result.drifted

    numeric = training_baseline["features"]["amount"]
    values = np.full(400, np.nan)  # a client that stopped sending the amount
    assert stats.numeric_drift(numeric, values, PSI_T, 200).drifted


def test_a_merged_multi_host_baseline_scores_like_one_host_baseline():
    common = container_common()
    frame = generate_transactions(6000, seed=0)
    merged = common.merge_baselines(
        [_baseline(frame.iloc[:3000], "algo-1"), _baseline(frame.iloc[3000:], "algo-2")]
    )
    single = _baseline(frame)
    captured = generate_transactions(3000, seed=9, drift=0.5)
    for name in ("merchant_category", "is_online", "hour", "tx_count_1h"):  # exact merges (few values)
        assert _score(merged, captured, name).score == pytest.approx(_score(single, captured, name).score)


# ---- the report's summary ------------------------------------------------------------------


def _feature(name: str, score: float | None, threshold: float = 0.2) -> FeatureDrift:
    drifted = score is not None and score > threshold
    status = Status.INSUFFICIENT_DATA if score is None else Status.DRIFT if drifted else Status.OK
    return FeatureDrift(
        name=name,
        type="numeric",
        metric="psi",
        score=score,
        threshold=threshold,
        drifted=drifted,
        status=status,
        sample_size=300,
        min_samples=200,
        baseline_size=1000,
        reason=None if score is not None else "not enough data: 3 captured values, 200 needed",
    )


def _report(features: list[FeatureDrift]) -> DriftReport:
    now = datetime(2026, 11, 24, 8, tzinfo=UTC)
    capture = CaptureSummary(
        destination="s3://b/dc/e/", files=1, records=300, rows=300, malformed=0, out_of_window=0
    )
    return DriftReport.build(
        endpoint="e",
        model_package_arn=None,
        baseline_uri="s3://b/baseline/",
        baseline_rows=1000,
        window_start=now.replace(hour=0),
        window_end=now,
        capture=capture,
        features=features,
    )


def test_report_summary_is_relative_to_each_threshold():
    report = _report([_feature("a", 0.1), _feature("b", 0.3), _feature("c", 0.05, threshold=0.04)])
    assert report.max_feature == "b" and report.max_score == pytest.approx(1.5)
    assert report.drifted_features == ("b", "c")
    assert report.status is Status.DRIFT
    assert _report([_feature("a", 0.1)]).status is Status.OK
    insufficient = _report([_feature("a", None)])
    assert insufficient.status is Status.INSUFFICIENT_DATA and insufficient.max_score is None


def test_a_report_whose_summary_disagrees_with_its_features_is_rejected():
    data = _report([_feature("a", 0.3)]).model_dump(mode="json")
    data["status"] = "ok"
    with pytest.raises(ValueError, match="summary"):
        DriftReport.model_validate(data)


def test_a_feature_the_baseline_lacks_is_reported_not_compared(training_baseline):
    from outer_orchestrator.drift.capture import Capture
    from outer_orchestrator.drift.job import score_features
    from shared.config import DualloopConfig

    # GIVEN a baseline without "hour" (a schema changed since the model was trained)
    baseline = {**training_baseline, "features": dict(training_baseline["features"])}
    del baseline["features"]["hour"]
    frame = generate_transactions(500, seed=6)
    columns = {
        n: frame[n].astype(object).tolist() if n == "merchant_category" else frame[n].tolist()
        for n in DataSchema().feature_names
    }
    captured = Capture(
        columns, "s3://b/dc/e/", files=1, records=500, malformed=0, out_of_window=0, malformed_examples=()
    )
    # WHEN scored
    features = {f.name: f for f in score_features(DualloopConfig(), baseline, captured)}
    # THEN hour has no score and says why; the rest are compared as usual
    assert features["hour"].score is None and "absent from the baseline" in (features["hour"].reason or "")
    assert features["hour"].status is Status.INSUFFICIENT_DATA
    assert all(f.score is not None for n, f in features.items() if n != "hour")

"""The ``tuning`` section: off by default, SageMaker's strategies the local cloud runs, ranges
over train.py's own hyperparameters within train.py's bounds, and one sentence per mistake."""

from __future__ import annotations

from typing import Any

import pytest

from shared.config import ConfigError, TuningStrategy, load_config


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for key in list(os.environ):
        if key.startswith("DUALLOOP_"):
            monkeypatch.delenv(key)


def _tuning(**settings: Any) -> Any:
    return load_config(tuning={"enabled": True, **settings}).tuning


def test_tuning_is_off_by_default_and_on_with_sensible_ranges() -> None:
    # GIVEN no tuning settings THEN tuning is off (the demo trains one job)
    assert load_config().tuning.enabled is False
    # WHEN only enabled THEN Bayesian, 8 jobs 2 at a time, over eta (log scale) and max_depth
    tuning = _tuning()
    assert tuning.strategy is TuningStrategy.BAYESIAN
    assert (tuning.jobs, tuning.max_parallel_jobs) == (8, 2)
    assert set(tuning.ranges) == {"eta", "max_depth"}
    assert tuning.ranges["eta"].scaling.value == "Logarithmic"


def test_the_environment_turns_tuning_on(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DUALLOOP_TUNING__ENABLED", "true")
    monkeypatch.setenv("DUALLOOP_TUNING__MAX_JOBS", "4")
    tuning = load_config().tuning
    assert tuning.enabled and tuning.jobs == 4


def test_grid_runs_one_job_per_combination_of_values() -> None:
    tuning = _tuning(
        strategy="Grid", ranges={"max_depth": {"values": [3, 5]}, "eta": {"values": ["0.1", 0.3]}}
    )
    assert tuning.jobs == 4
    assert tuning.ranges["max_depth"].values == ("3", "5")  # strings, as the training job receives them


@pytest.mark.parametrize(
    ("settings", "field", "sentence"),
    [
        ({"strategy": "Hyperband"}, "tuning.strategy", "Hyperband is not supported"),
        ({"strategy": "Annealing"}, "tuning.strategy", "Input should be 'Bayesian', 'Random' or 'Grid'"),
        ({"max_jobs": 0}, "tuning.max_jobs", "greater than or equal to 1"),
        ({"max_parallel_jobs": 0}, "tuning.max_parallel_jobs", "greater than or equal to 1"),
        ({"max_jobs": 2, "max_parallel_jobs": 3}, "tuning", "max_parallel_jobs (3) is more than the 2 jobs"),
        ({"ranges": {}}, "tuning.ranges", "name at least one hyperparameter"),
        (
            {"ranges": {"gamma": {"min": 0, "max": 1}}},
            "tuning.ranges",
            "'gamma' is not a hyperparameter train.py",
        ),
        ({"ranges": {"eta": {"min": 0.1, "max": 1.5}}}, "tuning.ranges", "eta: 1.5 is not a valid eta"),
        ({"ranges": {"max_depth": {"min": 1.5, "max": 4}}}, "tuning.ranges", "not a whole number"),
        (
            {"ranges": {"eta": {"min": 0.5, "max": 0.1}}},
            "tuning.ranges.eta",
            "min 0.5 is greater than max 0.1",
        ),
        ({"ranges": {"eta": {"min": 0.1}}}, "tuning.ranges.eta", "give min and max"),
        (
            {"ranges": {"eta": {"min": 0.1, "max": 0.3, "values": ["0.2"]}}},
            "tuning.ranges.eta",
            "either values (categorical) or min and max",
        ),
        (
            {"ranges": {"subsample": {"min": 0.5, "max": 1.0, "scaling": "ReverseLogarithmic"}}},
            "tuning.ranges.subsample",
            "0 <= min < max < 1",
        ),
        (
            {"ranges": {"max_depth": {"min": 2, "max": 8}}, "strategy": "Grid"},
            "tuning",
            "Grid strategy takes categorical ranges (values) only, not ['max_depth']",
        ),
        (
            {"ranges": {"max_depth": {"values": [2, 4]}}, "strategy": "Grid", "max_jobs": 3},
            "tuning",
            "must equal the number of combinations of values (2)",
        ),
        (
            {"ranges": {"max_depth": {"values": [str(v) for v in range(1, 21)] * 2}}},
            "tuning.ranges.max_depth.values",
            "at most 30 items",
        ),
    ],
)
def test_a_bad_tuning_setting_is_refused_naming_the_field(
    settings: dict[str, Any], field: str, sentence: str
) -> None:
    with pytest.raises(ConfigError) as refused:
        _tuning(**settings)
    message = str(refused.value)
    assert f"  {field}:" in message, message
    assert sentence in message, message


def test_scale_pos_weight_is_tuned_only_for_a_binary_target() -> None:
    ranges = {"scale_pos_weight": {"min": 1, "max": 20}}
    assert "scale_pos_weight" in _tuning(ranges=ranges).ranges
    with pytest.raises(ConfigError, match=r"tuning\.ranges\.scale_pos_weight weighs a binary target"):
        load_config(
            tuning={"enabled": True, "ranges": ranges},
            dataset={"problem_type": "regression"},
            quality={"metric": "rmse", "threshold": 10},
        )

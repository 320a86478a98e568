"""The synthetic transaction generator: schema, determinism, realism, drift, speed, files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from shared.config import DataSchema
from shared.demo_data import CATEGORIES, generate_transactions, write_dataset


@pytest.fixture(scope="module")
def sample() -> pd.DataFrame:
    return generate_transactions(50_000, seed=11)


def test_columns_are_exactly_the_default_schema(sample: pd.DataFrame) -> None:
    schema = DataSchema()
    assert list(sample.columns) == [schema.id_column, *schema.feature_names, schema.target_column]


def test_values_are_plausible(sample: pd.DataFrame) -> None:
    assert sample["transaction_id"].is_unique
    assert (sample["amount"] > 0).all()
    assert sample["hour"].between(0, 23).all()
    assert set(sample["is_online"].unique()) == {0, 1}
    assert set(sample["is_fraud"].unique()) == {0, 1}
    assert (sample["tx_count_1h"] >= 1).all()
    assert (sample["tx_count_1h"] <= sample["tx_count_24h"]).all()
    assert (sample["distance_from_home_km"] >= 0).all()
    assert set(sample["merchant_category"].unique()) == set(CATEGORIES)
    assert not sample.isna().any().any()
    assert 0.01 <= sample["is_fraud"].mean() <= 0.02


def test_fraud_differs_from_legitimate_spend(sample: pd.DataFrame) -> None:
    fraud = sample[sample["is_fraud"] == 1]
    legit = sample[sample["is_fraud"] == 0]
    assert fraud["amount_to_avg_ratio"].median() > 2 * legit["amount_to_avg_ratio"].median()
    assert fraud["is_online"].mean() > legit["is_online"].mean() + 0.2
    assert (fraud["hour"] < 6).mean() > 3 * (legit["hour"] < 6).mean()
    assert fraud["tx_count_1h"].mean() > 2 * legit["tx_count_1h"].mean()


def test_dtypes_are_lean(sample: pd.DataFrame) -> None:
    dtypes = sample.dtypes.astype(str).to_dict()
    assert dtypes["amount"] == "float32"
    assert dtypes["merchant_category"] == "category"
    assert dtypes["hour"] == dtypes["is_online"] == dtypes["is_fraud"] == "int8"
    assert sample.memory_usage(deep=True).sum() / len(sample) < 60  # bytes per row


def test_same_seed_same_frame_other_seed_other_ids() -> None:
    a = generate_transactions(2000, seed=5)
    pd.testing.assert_frame_equal(a, generate_transactions(2000, seed=5))
    b = generate_transactions(2000, seed=6)
    assert set(a["transaction_id"]).isdisjoint(set(b["transaction_id"]))
    pd.testing.assert_frame_equal(a, generate_transactions(2000, seed=5, drift=0.0))


def test_drift_moves_the_population_the_documented_way(sample: pd.DataFrame) -> None:
    drifted = generate_transactions(50_000, seed=11, drift=1.0)
    assert drifted["amount"].median() > 1.2 * sample["amount"].median()
    assert drifted["is_online"].mean() > sample["is_online"].mean() + 0.2
    assert (drifted["hour"] < 6).mean() > (sample["hour"] < 6).mean() + 0.1
    share = drifted["merchant_category"].value_counts(normalize=True)
    base = sample["merchant_category"].value_counts(normalize=True)
    assert share["online_retail"] > base["online_retail"] + 0.1
    assert share["grocery"] < base["grocery"] - 0.05
    assert drifted["is_fraud"].mean() > sample["is_fraud"].mean()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"rows": 0}, "rows"),
        ({"rows": -5}, "rows"),
        ({"rows": 10, "drift": -0.1}, "drift"),
        ({"rows": 10, "drift": float("nan")}, "drift"),
    ],
)
def test_bad_arguments_are_rejected(kwargs: dict[str, float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        generate_transactions(**kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_write_dataset_round_trips_in_parts(tmp_path: Path, fmt: str) -> None:
    df = generate_transactions(1001, seed=2)
    paths = write_dataset(df, tmp_path / "out", fmt=fmt, files=3)  # type: ignore[arg-type]
    assert [p.name for p in paths] == [f"part-{i:05d}.{fmt}" for i in range(3)]
    read = pd.read_csv if fmt == "csv" else pd.read_parquet
    back = pd.concat([read(p) for p in paths], ignore_index=True)
    assert len(back) == len(df)
    assert back["transaction_id"].tolist() == df["transaction_id"].tolist()
    np.testing.assert_allclose(back["amount"], df["amount"], rtol=1e-6)
    assert back["merchant_category"].astype(str).tolist() == df["merchant_category"].astype(str).tolist()


def test_write_dataset_rejects_bad_arguments(tmp_path: Path) -> None:
    df = generate_transactions(5)
    with pytest.raises(ValueError, match="fmt"):
        write_dataset(df, tmp_path, fmt="json")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="files"):
        write_dataset(df, tmp_path, files=0)
    with pytest.raises(ValueError, match="files"):
        write_dataset(df, tmp_path, files=6)

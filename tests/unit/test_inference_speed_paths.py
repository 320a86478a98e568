"""inference.py's fast path (numpy + inplace_predict) against its reference path (pandas + DMatrix).

What this proves: on thousands of demo rows, sent as CSV and as JSON, with unknown categories,
missing values and numbers in every notation a client might use, the fast path builds a
feature matrix equal to the one ``_to_frame`` + ``common.encode_features`` build and ``predict_fn``
answers bit for bit what the former ``predict_fn`` (a DMatrix with feature names) answered;
a value the fast path cannot vouch for sends the request down the reference path, and a
malformed request raises the same ``InvalidInput`` with the same message. What it cannot
prove: how fast a model server is (``tests/bench/test_endpoint_bench.py`` measures that).
"""

from __future__ import annotations

import csv
import io
import json
import random
import re
import sys
from dataclasses import replace
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pandas as pd
import pytest
import xgboost as xgb
from hosting_fixture import CODE, ROW, train_model

from shared.demo_data import generate_transactions

ROWS = 3000


def _module(name: str) -> ModuleType:
    if str(CODE) not in sys.path:
        sys.path.insert(0, str(CODE))
    return __import__(name)


@pytest.fixture(scope="module")
def inference() -> ModuleType:
    return _module("inference")


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return train_model(tmp_path_factory.mktemp("speed") / "model")


@pytest.fixture(scope="module")
def model(inference: ModuleType, model_dir: Path) -> Any:
    return inference.model_fn(str(model_dir))


def reference_features(inference: ModuleType, request: Any, model: Any) -> np.ndarray:
    common = _module("common")
    features: np.ndarray = common.encode_features(inference._to_frame(request, model.schema), model.schema)
    return features


def reference_predict(inference: ModuleType, request: Any, model: Any) -> np.ndarray:
    """predict_fn as it was before the fast path."""
    features = reference_features(inference, request, model)
    return np.asarray(model.booster.predict(xgb.DMatrix(features, feature_names=model.schema.feature_names)))


@pytest.fixture(scope="module")
def rows(model: Any) -> pd.DataFrame:
    """Demo rows as raw text, with unknown categories, missing values and odd notations."""
    frame = generate_transactions(ROWS, seed=11)[model.schema.feature_names]
    text = frame.astype(str).astype(object)
    rng = np.random.default_rng(5)
    pick = rng.random(text.shape) < 0.06
    category = text["merchant_category"].to_numpy()
    for i in np.flatnonzero(pick[:, 1]):
        category[i] = ["spaceship", " gas", "GAS", "", "nan"][i % 5]  # unknown: as missing
    text["merchant_category"] = category
    for j, name in enumerate(model.schema.feature_names):
        if name == "merchant_category":
            continue
        column = text[name].to_numpy()
        for i in np.flatnonzero(pick[:, j]):
            value = float(column[i])
            column[i] = [
                "",  # missing
                f" {column[i]} ",  # padded
                f"{value:e}",  # scientific
                f"+{column[i]}",
                f"{value:.3f}",
                f"{value:.6E}",
            ][i % 6]
        text[name] = column
    return text


def _csv(frame: pd.DataFrame, header: bool = False) -> str:
    return frame.to_csv(index=False, header=header)


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """JSON records with numbers as numbers, missing values as null, categories as strings."""
    records = []
    for row in frame.to_dict(orient="records"):
        record: dict[str, Any] = {}
        for name, value in row.items():
            if name == "merchant_category":
                record[name] = value
            elif not value.strip():
                record[name] = None
            else:
                record[name] = float(value)
                if record[name].is_integer() and abs(record[name]) < 1e6:
                    record[name] = int(record[name])
        records.append(record)
    return records


# ---- identical features and scores ------------------------------------------------------------


@pytest.mark.parametrize("kind", ["csv", "csv with header", "json records", "json lists", "json numbers"])
def test_fast_path_matches_the_reference_on_demo_rows(
    inference: ModuleType, model: Any, rows: pd.DataFrame, kind: str
) -> None:
    # GIVEN thousands of demo rows in one of the request formats
    if kind.startswith("csv"):
        body, content_type = _csv(rows, header=kind.endswith("header")), "text/csv"
    elif kind == "json records":
        body, content_type = json.dumps({"instances": rows.to_dict(orient="records")}), "application/json"
    elif kind == "json lists":
        body, content_type = json.dumps(rows.to_numpy().tolist()), "application/json"
    else:
        body, content_type = json.dumps({"instances": _records(rows)}), "application/json"
    request = inference.input_fn(body, content_type)
    # WHEN both paths encode and score them
    fast = model.encoder.encode(request)
    reference = reference_features(inference, request, model)
    # THEN the fast path took them all and built the same matrix (NaN where missing or unknown)
    assert fast is not None
    assert fast.dtype == np.float32 and fast.shape == (ROWS, len(model.schema.feature_names))
    assert np.array_equal(fast, reference, equal_nan=True)
    assert np.isnan(fast[:, 1]).sum() > 50  # unknown categories were among them
    # AND scores are bit-identical, as is the response text
    new = inference.predict_fn(request, model)
    old = reference_predict(inference, request, model)
    assert new.dtype == old.dtype and new.shape == old.shape
    assert new.tobytes() == old.tobytes()
    for accept in ("application/json", "text/csv"):
        assert inference.output_fn(new, accept) == inference.output_fn(old, accept)


def test_the_benchmark_row_takes_the_fast_path(inference: ModuleType, model: Any) -> None:
    assert model.inplace
    for body, content_type in (
        (ROW + "\n", "text/csv"),
        (
            json.dumps([dict(zip(model.schema.feature_names, ROW.split(","), strict=True))]),
            "application/json",
        ),
    ):
        assert model.encoder.encode(inference.input_fn(body.encode(), content_type)) is not None


def test_inplace_predict_equals_dmatrix_predict(model: Any) -> None:
    # Rows spread over the whole feature space, with missing values: every tree path is tried.
    rng = np.random.default_rng(3)
    features = (rng.random((5000, 8)) * np.array([500, 8, 24, 200, 6, 15, 8, 2])).astype(np.float32)
    features[rng.random(features.shape) < 0.1] = np.nan
    by_dmatrix = model.booster.predict(xgb.DMatrix(features, feature_names=model.schema.feature_names))
    assert model.booster.inplace_predict(features).tobytes() == by_dmatrix.tobytes()


# ---- values one by one -------------------------------------------------------------------------

ODD_TEXT = [
    "1_0", "\u0661\u0662", "\uff11\uff12", "nan", "NaN", "inf", "-Infinity", "1e5", "1E-5", "1.5e+2", ".5", "5.",
    "+.5", "-0", "-0.0", " 7 ", "\xa012", "0.30000000000000004", "1234567890123456", "123456789012345",
    "1e400", "1e-400", "1e22", "1e23", "12\x0034", "1,5", "--1", "1.2.3", ".", "+", "-", "e5", "1e",
    "", "  ", "0x10", "1d5", "gas", "grocery", "5411",
]  # fmt: skip
ODD_JSON = [
    None, True, False, 0, -5, 14, 10**15, 10**20, 5.5, 1e-7, 1e300, 0.1 + 0.2, 5411.0,
    float("nan"), float("inf"), "x", "12.5", [1], {"a": 1},
]  # fmt: skip


def _outcome(call: Any) -> tuple[str, Any]:
    try:
        return "scores", call().tobytes()
    except Exception as exc:  # the reference may fail in any way: the fast path must fail alike
        # XGBoost's message carries a wall-clock "[hh:mm:ss]" prefix and a varying trace.
        return type(exc).__name__, re.sub(r"^\[\d\d:\d\d:\d\d\] ", "", str(exc).split("Stack trace")[0])


@pytest.mark.parametrize("column", ["amount", "merchant_category", "hour"])
@pytest.mark.filterwarnings("ignore:overflow encountered in cast:RuntimeWarning")
def test_odd_values_are_scored_or_refused_as_before(inference: ModuleType, model: Any, column: str) -> None:
    names = model.schema.feature_names
    good = dict(zip(names, ROW.split(","), strict=True))
    taken = 0
    for value in [*ODD_TEXT, *ODD_JSON]:
        # GIVEN a good row with one odd value, as CSV (text only) and as JSON
        bodies = [(json.dumps([{**good, column: value}]), "application/json")]
        if isinstance(value, str):
            line = io.StringIO()
            csv.writer(line).writerow({**good, column: value}.values())
            bodies.append((line.getvalue(), "text/csv"))
        for body, content_type in bodies:
            request = inference.input_fn(body, content_type)
            # WHEN it is scored, THEN the answer or the error is the reference's
            new = _outcome(lambda r=request: inference.predict_fn(r, model))
            assert new == _outcome(lambda r=request: reference_predict(inference, r, model)), (value, body)
            if model.encoder.encode(request) is not None:
                taken += 1
                assert new[0] == "scores"
    assert taken >= 15  # the fast path does cover the usual notations


def test_numbers_the_fast_path_parses_are_the_numbers_pandas_parses(inference: ModuleType) -> None:
    # GIVEN random decimal strings: up to 18 digits, with and without a point, sign, exponent
    common = _module("common")
    rng = random.Random(1)

    def number() -> str:
        digits = "".join(rng.choice("0123456789") for _ in range(rng.randint(1, 18)))
        if rng.random() < 0.7:
            point = rng.randint(0, len(digits))
            digits = f"{digits[:point]}.{digits[point:]}"
        if rng.random() < 0.4:
            digits += rng.choice("eE") + rng.choice(["", "+", "-"]) + str(rng.randint(0, 30))
        return rng.choice(["", "-", "+", " "]) + digits

    texts = [number() for _ in range(50_000)]
    # WHEN the fast path reads those it vouches for
    fast: dict[int, float] = {}
    for i, text in enumerate(texts):
        try:
            fast[i] = inference._number(text.strip())
        except inference._NotPlain:
            pass
    # THEN pandas.to_numeric (what the reference uses) reads the same doubles
    reference, bad = common.to_numeric(pd.Series(texts, dtype=object))
    assert len(fast) > 30_000
    assert not bad[list(fast)].any()
    assert all(fast[i] == reference[i] for i in fast)
    # AND columns read at once (three cells each) read the same doubles, or are refused
    read = 0
    for start in range(0, len(texts), 3):
        try:
            column = inference._numbers(tuple(texts[start : start + 3]))
        except inference._NotPlain:
            continue
        read += 1
        assert column == reference[start : start + 3].tolist(), texts[start : start + 3]
    assert read > 2_000


# ---- errors ------------------------------------------------------------------------------------

GOOD = "12.5,grocery,14,3.0,1,3,1.0,0"


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (f"{GOOD}\n12.5,grocery,14", "text/csv"),
        (f"{GOOD},99", "text/csv"),
        ("12.5,grocery,noon,3.0,1,3,1.0,0", "text/csv"),
        ("12.5,grocery,14,3.0,1,3,1.0,abc\n12.5,grocery,14", "text/csv"),  # shape is checked first
        ("12.5,grocery,14,x,1,3,1.0,abc", "text/csv"),  # the first bad column is named
        ("12.5,grocery,14,3.0,1,3,1.0,0\n12.5,grocery,1e400,3.0,1,3,1.0,0", "text/csv"),
        (
            "amount,merchant_category,hour,distance_from_home_km,tx_count_1h,tx_count_24h,"
            "amount_to_avg_ratio,is_online\n",
            "text/csv",
        ),
        ('{"instances": []}', "application/json"),
        ('[{"amount": 1}]', "application/json"),
        ("[7]", "application/json"),
        ('[[1, "gas", 2]]', "application/json"),
        ('[[1, "gas", 2, 3, 4, 5, 6, {"x": 1}]]', "application/json"),
        ('[[1, ["gas"], 2, 3, 4, 5, 6, 7]]', "application/json"),
        ('[[1, "gas", 2, 3, 4, 5, 6, Infinity]]', "application/json"),
        ('[[1, "gas", 2, 3, 4, 5, 6, "1_0"]]', "application/json"),
    ],
)
def test_malformed_requests_fail_with_the_reference_message(
    inference: ModuleType, model: Any, body: str, content_type: str
) -> None:
    request = inference.input_fn(body, content_type)
    assert model.encoder.encode(request) is None
    with pytest.raises(inference.InvalidInput) as new:
        inference.predict_fn(request, model)
    with pytest.raises(inference.InvalidInput) as old:
        reference_predict(inference, request, model)
    assert str(new.value) == str(old.value)


def test_a_model_with_other_feature_names_is_refused_as_before(
    inference: ModuleType, model: Any, tmp_path: Path
) -> None:
    # GIVEN an artifact whose booster names its features differently from preprocessing.json
    booster = model.booster.copy()
    booster.feature_names = [f"f{i}" for i in range(len(model.schema.feature_names))]
    strange = replace(model, booster=booster, inplace=False)
    request = inference.input_fn(GOOD, "text/csv")
    # WHEN model_fn loads it, THEN it does not predict in place, and fails as it always did
    booster.save_model(tmp_path / "xgboost-model.json")
    (tmp_path / "preprocessing.json").write_text(json.dumps({"format_version": 1, **model.schema.to_dict()}))
    assert not inference.model_fn(str(tmp_path)).inplace
    with pytest.raises(ValueError, match="feature_names mismatch"):
        inference.predict_fn(request, strange)

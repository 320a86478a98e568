"""The header rule (``shared.column_names``) and every reader of user data applying it alike:
the config's schema, Preprocess, Glue ingest, serving and the drift job's capture reader.

What this proves: real scikit-learn headers map to the documented names; two headers with one
name fail in one sentence naming both, wherever they are read; and a reader given the
original headers (a CSV, JSON keys, a CSV header row) sees the same features as one given the
rule's names. The functional proof on the whole pipeline is
``tests/functional/test_original_headers.py``.
"""

from __future__ import annotations

import importlib
import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

from shared.column_names import HeaderClashError, UnnamedHeaderError, column_name, column_names
from shared.config import ConfigError, DataSchema, load_config

REPO = Path(__file__).resolve().parents[2]
CODE = REPO / "inner_pipeline" / "code"

# feature_names of scikit-learn's breast_cancer, wine, iris and diabetes datasets, as written.
SKLEARN_HEADERS = [
    ("mean radius", "mean_radius"),
    ("mean concave points", "mean_concave_points"),
    ("mean fractal dimension", "mean_fractal_dimension"),
    ("radius error", "radius_error"),
    ("concave points error", "concave_points_error"),
    ("worst fractal dimension", "worst_fractal_dimension"),
    ("malic_acid", "malic_acid"),
    ("alcalinity_of_ash", "alcalinity_of_ash"),
    ("od280/od315_of_diluted_wines", "od280_od315_of_diluted_wines"),
    ("proline", "proline"),
    ("sepal length (cm)", "sepal_length_cm"),
    ("petal width (cm)", "petal_width_cm"),
    ("bmi", "bmi"),
    ("s1", "s1"),
    ("target", "target"),
]
# Capitals, camelCase, acronyms, accents and stray punctuation.
OTHER_HEADERS = [
    ("Petal Length (cm)", "petal_length_cm"),
    (" Transaction ID ", "transaction_id"),
    ("amountToAvgRatio", "amount_to_avg_ratio"),
    ("HTTPStatus", "http_status"),
    ("Café--Visits", "cafe_visits"),
    ("__private__", "private"),
]


def _code_module(name: str) -> ModuleType:
    # The container scripts import their siblings by name, as they do in the container.
    if str(CODE) not in sys.path:
        sys.path.insert(0, str(CODE))
    return importlib.import_module(name)


@pytest.mark.parametrize(("header", "expected"), SKLEARN_HEADERS + OTHER_HEADERS)
def test_the_rule_on_real_headers(header: str, expected: str) -> None:
    assert column_name(header) == expected
    # A name the rule has made stays as it is (the config may give either).
    assert column_name(expected) == expected


def test_two_headers_with_one_name_fail_in_one_sentence_naming_both() -> None:
    # GIVEN a header row where "Mean Radius" and "mean_radius" both become mean_radius
    # WHEN it is named THEN the error names both headers and the name they share
    with pytest.raises(HeaderClashError) as caught:
        column_names(["id", "Mean Radius", "texture", "mean_radius"])
    message = str(caught.value)
    assert "'Mean Radius'" in message and "'mean_radius'" in message
    assert message.count(".") <= 1 and "\n" not in message


def test_a_blank_header_is_named_by_its_position() -> None:
    # GIVEN the header DataFrame.to_csv writes above an index (blank) WHEN named THEN column_1
    assert column_names(["", "mean radius"]) == ["column_1", "mean_radius"]
    with pytest.raises(UnnamedHeaderError, match="no letter or digit"):
        column_name(" ?! ")


def test_the_container_code_and_the_glue_job_use_this_very_rule() -> None:
    # The code directory holds a link to the one module, not a copy that could drift apart.
    link = CODE / "column_names.py"
    assert link.is_symlink() and link.resolve() == (REPO / "shared" / "column_names.py").resolve()
    from outer_orchestrator.glue.transforms import snake_case

    assert all(snake_case(h) == e for h, e in SKLEARN_HEADERS + OTHER_HEADERS)


# ---- config -------------------------------------------------------------------------------


def test_the_config_accepts_original_headers_and_stores_the_rules_names(tmp_path: Path) -> None:
    # GIVEN a config naming columns as the CSV's header does
    path = tmp_path / "config.json"
    path.write_text(
        json.dumps(
            {
                "dataset": {
                    "id_column": "Sample ID",
                    "target_column": "Target",
                    "features": [{"name": "mean radius"}, {"name": "od280/od315_of_diluted_wines"}],
                }
            }
        )
    )
    # WHEN it is loaded THEN every column carries the rule's name
    schema = load_config(path).dataset
    assert (schema.id_column, schema.target_column) == ("sample_id", "target")
    assert schema.feature_names == ["mean_radius", "od280_od315_of_diluted_wines"]


def test_a_config_name_the_rule_cannot_use_fails_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"dataset": {"features": [{"name": "(%)"}]}}))
    with pytest.raises(ConfigError, match=r"'\(%\)' has no letter or digit"):
        load_config(path)


# ---- Preprocess ------------------------------------------------------------------------------


def _schema_json() -> str:
    return DataSchema(
        id_column="Sample ID",
        target_column="target",
        features=({"name": "mean radius"}, {"name": "Petal Length (cm)"}),  # type: ignore[arg-type]
    ).model_dump_json()


def test_preprocess_reads_original_headers_as_the_rules_names(tmp_path: Path) -> None:
    # GIVEN a CSV with original headers, a blank index header and an unused column
    preprocess, common = _code_module("preprocess"), _code_module("common")
    (tmp_path / "data.csv").write_text(
        ",Sample ID,mean radius,Petal Length (cm),Notes,target\n0,a,1.5,2.5,x,1\n1,b,3.5,,y,0\n"
    )
    # WHEN Preprocess reads it
    frame = preprocess._read_file(tmp_path / "data.csv", tmp_path, common.parse_schema(_schema_json()))
    # THEN the schema's columns are there under the rule's names, with their values
    assert list(frame["sample_id"]) == ["a", "b"]
    assert frame["mean_radius"].tolist() == [1.5, 3.5]
    assert frame["petal_length_cm"].iloc[0] == 2.5 and np.isnan(frame["petal_length_cm"].iloc[1])


def test_preprocess_fails_on_colliding_headers_naming_both(tmp_path: Path) -> None:
    preprocess, common = _code_module("preprocess"), _code_module("common")
    (tmp_path / "data.csv").write_text(
        "Sample ID,mean radius,Mean Radius,petal_length_cm,target\na,1,2,3,1\n"
    )
    with pytest.raises(
        common.DataError, match=r"data\.csv: columns 'mean radius' and 'Mean Radius' both become"
    ):
        preprocess._read_file(tmp_path / "data.csv", tmp_path, common.parse_schema(_schema_json()))


# ---- serving ---------------------------------------------------------------------------------


def _serving_schema() -> object:
    common = _code_module("common")
    return common.Schema(
        id_column="sample_id",
        target_column="target",
        features=(
            common.FeatureSpec("mean_radius", "numeric"),
            common.FeatureSpec("petal_length_cm", "numeric"),
        ),
    )


def test_serving_maps_json_keys_and_a_csv_header_by_the_rule() -> None:
    inference = _code_module("inference")
    schema = _serving_schema()
    encoder = inference.FastEncoder.of(schema)
    canonical = inference.input_fn(
        json.dumps([{"mean_radius": 1.5, "petal_length_cm": 2}]), "application/json"
    )
    original = inference.input_fn(
        json.dumps({"instances": [{"Sample ID": "a", "mean radius": 1.5, "Petal Length (cm)": 2}]}),
        "application/json",
    )
    with_header = inference.input_fn("mean radius,Petal Length (cm)\n1.5,2\n", "text/csv")
    expected = inference._to_frame(canonical, schema)
    for request in (original, with_header):
        # Both paths: the reference reads the same values; the fast one agrees or defers to it.
        assert inference._to_frame(request, schema).equals(expected)
        fast = encoder.encode(request)
        assert fast is None or np.array_equal(fast, encoder.encode(canonical))


def test_serving_rejects_a_record_with_two_keys_for_one_feature() -> None:
    inference = _code_module("inference")
    schema = _serving_schema()
    request = inference.input_fn(
        json.dumps([{"mean_radius": 1.5, "Mean Radius": 9, "petal_length_cm": 2}]), "application/json"
    )
    # The fast path must not pick one of the two: it leaves the request to the reference.
    assert inference.FastEncoder.of(schema).encode(request) is None
    with pytest.raises(inference.InvalidInput, match=r"row 1: columns 'mean_radius' and 'Mean Radius' both"):
        inference._to_frame(request, schema)


# ---- drift -----------------------------------------------------------------------------------


def _capture_line(data: str, content_type: str) -> str:
    encoding = "JSON" if content_type == "application/json" else "CSV"
    return json.dumps(
        {
            "captureData": {
                "endpointInput": {
                    "observedContentType": content_type,
                    "mode": "INPUT",
                    "data": data,
                    "encoding": encoding,
                }
            },
            "eventMetadata": {"eventId": "e", "inferenceTime": "2026-01-01T00:30:00Z"},
            "eventVersion": "0",
        }
    )


def test_drift_reads_captured_original_keys_and_headers_as_serving_does() -> None:
    from outer_orchestrator.drift.capture import _Reader

    schema = DataSchema(
        id_column="Sample ID",
        target_column="target",
        features=({"name": "mean radius"}, {"name": "Petal Length (cm)"}),  # type: ignore[arg-type]
    )
    reader = _Reader(schema, datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 1, 1, 1, tzinfo=UTC))
    lines = [
        _capture_line(json.dumps([{"mean radius": 1.5, "Petal Length (cm)": 2}]), "application/json"),
        _capture_line("mean radius,Petal Length (cm)\n3.5,4\n", "text/csv"),
        _capture_line(
            json.dumps([{"mean radius": 1, "mean_radius": 2, "petal_length_cm": 3}]), "application/json"
        ),
    ]
    reader.read("k", "\n".join(lines))
    assert reader.columns == [[1.5, 3.5], [2.0, 4.0]]
    assert reader.malformed == 1
    assert "columns 'mean radius' and 'mean_radius' both become 'mean_radius'" in reader.examples[0]

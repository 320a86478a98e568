"""The baseline format in ``shared/feature_baseline.py``: what Preprocess writes is what the drift
job reads, one file serves both sides, and it needs nothing but the standard library."""

from __future__ import annotations

import ast
import inspect
import json
import sys
from pathlib import Path

import numpy as np
import pytest
from container_code import CODE, container_common

from inner_pipeline.packaging import collect_files
from shared import feature_baseline
from shared.config import DataSchema
from shared.demo_data import generate_transactions

SHARED = Path(feature_baseline.__file__).resolve()


def _written(rows: int, seed: int, host: str = "algo-1") -> dict:
    """A baseline as Preprocess writes it: compute_baseline, then JSON to S3."""
    common = container_common()
    schema = common.parse_schema(DataSchema().model_dump(mode="json"))
    baseline = common.compute_baseline(generate_transactions(rows, seed=seed), schema, host=host)
    return json.loads(json.dumps(baseline))


def test_what_preprocess_writes_is_what_the_drift_job_reads():
    # GIVEN a baseline written by the container code
    written = _written(3000, seed=0)
    # WHEN the shared contract reads it
    read = feature_baseline.check_baseline(written)
    # THEN it is accepted as it is, in the shared format's version, and binned the shared way
    assert read == written
    assert read["format_version"] == feature_baseline.FORMAT_VERSION
    amount = read["features"]["amount"]
    edges = amount["histogram"]["edges"]
    values = generate_transactions(3000, seed=0)["amount"].dropna().to_numpy()
    counts = np.bincount([feature_baseline.bin_index(edges, v) for v in values], minlength=len(edges) + 1)
    assert counts.tolist() == amount["histogram"]["counts"]
    # AND a single file needs no merge: merging it gives it back unchanged
    assert feature_baseline.merge_baselines([read]) == written


def test_the_container_code_ships_the_shared_file_itself():
    # GIVEN the code directory Preprocess runs from
    link = CODE / "feature_baseline.py"
    # THEN its feature_baseline.py is the shared file (a link), and the packaged code carries its bytes
    assert link.is_symlink() and link.resolve() == SHARED
    shipped = dict(collect_files())
    assert shipped["feature_baseline.py"] == SHARED.read_bytes()
    # AND the container code summarises and merges through it, not a copy of its own
    common = container_common()
    for function in (common.merge_baselines, common.numeric_summary, common.categorical_summary):
        assert Path(inspect.getsourcefile(function) or "").resolve() == SHARED


def test_the_format_needs_only_the_standard_library():
    # A container, the drift Lambda and a workstation all import it: no numpy, no dualloop package.
    tree = ast.parse(SHARED.read_text())
    imported = {
        (node.module or "").split(".")[0] if isinstance(node, ast.ImportFrom) else alias.name.split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.Import | ast.ImportFrom)
        for alias in node.names
    }
    assert imported - {"__future__"} <= set(sys.stdlib_module_names), imported


def test_distinct_points_with_counts_summarise_like_the_raw_rows():
    # GIVEN raw values (weight 1 each) and the same values as distinct points with their counts
    rng = np.random.default_rng(4)
    raw = np.sort(np.concatenate([rng.integers(0, 40, 3000), rng.lognormal(3, 1, 2000).round(2)]))
    distinct, counts = np.unique(raw, return_counts=True)
    # WHEN both are summarised (more distinct values than SKETCH_SIZE: the chunked sketch)
    assert distinct.size > feature_baseline.SKETCH_SIZE
    by_row = feature_baseline.numeric_summary(raw.tolist(), [1.0] * raw.size, 0, 10)
    by_point = feature_baseline.numeric_summary(distinct.tolist(), counts.tolist(), 0, 10)
    # THEN they agree exactly, and the histogram is numpy's right-closed binning of the rows
    assert by_row == by_point
    edges = np.asarray(by_row["histogram"]["edges"])
    expected = np.bincount(np.searchsorted(edges, raw, side="left"), minlength=edges.size + 1)
    assert by_row["histogram"]["counts"] == expected.tolist()
    assert sum(by_row["sketch"]["weights"]) == raw.size


def test_per_host_baselines_merge_like_one_host_over_all_rows():
    # GIVEN two hosts' baselines of one dataset, and one host's over all of it
    common = container_common()
    schema = common.parse_schema(DataSchema().model_dump(mode="json"))
    frame = generate_transactions(4000, seed=3)
    parts = [
        common.compute_baseline(p, schema, host=h) for h, p in (("a", frame[:1500]), ("b", frame[1500:]))
    ]
    single = common.compute_baseline(frame, schema, host="a")
    # WHEN the shared contract merges them
    merged = feature_baseline.merge_baselines(parts)
    # THEN features with few distinct values match exactly; counts everywhere
    assert merged["row_count"] == single["row_count"] and merged["hosts"] == ["a", "b"]
    assert merged["features"]["merchant_category"] == single["features"]["merchant_category"]
    for name in ("is_online", "hour", "tx_count_1h"):
        assert merged["features"][name]["histogram"] == single["features"][name]["histogram"]
    assert merged["features"]["amount"]["count"] == single["features"]["amount"]["count"]
    assert merged["features"]["amount"]["mean"] == pytest.approx(
        single["features"]["amount"]["mean"], rel=1e-12
    )


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ([], "JSON object"),
        ({"format_version": 2, "features": {}}, "format_version 2"),
        ({"format_version": 1}, "no features"),
        ({"format_version": 1, "features": {"x": {"type": "text"}}}, "type 'text'"),
        (
            {"format_version": 1, "features": {"x": {"type": "numeric", "count": 1}}},
            "lacks missing, histogram",
        ),
        (
            {
                "format_version": 1,
                "features": {
                    "x": {
                        "type": "numeric",
                        "count": 1,
                        "missing": 0,
                        "sketch": {},
                        "histogram": {"edges": [1.0], "counts": [1]},
                    }
                },
            },
            "one count more than edges",
        ),
    ],
)
def test_a_document_that_is_not_a_baseline_is_refused_saying_why(document, message):
    with pytest.raises(feature_baseline.BaselineFormatError, match=message):
        feature_baseline.check_baseline(document)

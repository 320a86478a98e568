"""The SageMaker container scripts, run for real as subprocesses with remapped /opt/ml paths.

What this proves: on demo data the scripts chain (preprocess -> train -> evaluate -> serve),
preprocess reads its schema from the file the pipeline uploads (``--schema-file``) exactly as
from inline ``--schema`` and names both options when the choice or the file is wrong,
splits are a deterministic partition by id, sharded preprocessing on two instances writes
non-colliding outputs whose baselines merge to the single-instance baseline, every bad input
fails with a named reason in SageMaker's failure file, and the inference handlers reject
malformed requests with InvalidInput. What it cannot prove: S3 sharding, the real
containers' Python/library versions, a model server's HTTP mapping (the local cloud's job).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tarfile
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pandas as pd
import pytest
from container_code import container_module, run_script, train

from shared.config import DataSchema
from shared.demo_data import CATEGORIES, generate_transactions, write_dataset

SCHEMA = DataSchema()
SCHEMA_JSON = SCHEMA.model_dump_json()
ROWS = 3000


def _with_categories(schema_json: str, categories: list[str] | None) -> str:
    data = json.loads(schema_json)
    for feature in data["features"]:
        if feature["type"] == "categorical":
            feature["categories"] = categories
    return json.dumps(data)


SCHEMA_WITH_CATEGORIES = _with_categories(SCHEMA_JSON, list(CATEGORIES))
# Without a listed vocabulary each instance would learn its own from its shard.
SCHEMA_WITHOUT_CATEGORIES = _with_categories(SCHEMA_JSON, None)


def preprocess(
    input_dir: Path,
    output_dir: Path,
    *extra: Any,
    schema: str = SCHEMA_JSON,
    hosts: tuple[str, ...] = (),
    schema_args: tuple[Any, ...] | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run preprocess.py; ``schema_args`` replaces the default ``("--schema", schema)``."""
    resource_config = output_dir.parent / f"{output_dir.name}-resourceconfig.json"
    if hosts:
        resource_config.write_text(json.dumps({"current_host": hosts[0], "hosts": sorted(hosts)}))
    return run_script(
        "preprocess.py",
        *(("--schema", schema) if schema_args is None else schema_args),
        "--input-dir",
        input_dir,
        "--output-dir",
        output_dir,
        "--resource-config",
        resource_config,
        "--failure-file",
        output_dir.parent / f"{output_dir.name}-failure",
        *extra,
    )


def split_rows(output_dir: Path) -> dict[str, set[tuple[str, ...]]]:
    """Every encoded row of every split, as text tuples (rows are unique in demo data)."""
    rows: dict[str, set[tuple[str, ...]]] = {}
    for split in ("train", "validation", "test"):
        lines = [
            line
            for part in sorted((output_dir / split).glob("part-*.csv"))
            for line in part.read_text().splitlines()
        ]
        rows[split] = {tuple(line.split(",")) for line in lines}
        assert len(rows[split]) == len(lines)
    return rows


def failure_reason(output_dir: Path) -> str:
    return (output_dir.parent / f"{output_dir.name}-failure").read_text()


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("scripts")


@pytest.fixture(scope="module")
def data() -> pd.DataFrame:
    return generate_transactions(ROWS, seed=7)


@pytest.fixture(scope="module")
def raw_input(work: Path, data: pd.DataFrame) -> Path:
    """A multi-file prefix: two CSV parts in a nested folder and one Parquet part."""
    root = work / "raw"
    write_dataset(data.iloc[:2000], root / "day=1", fmt="csv", files=2)
    write_dataset(data.iloc[2000:], root / "day=2", fmt="parquet", files=1)
    return root


@pytest.fixture(scope="module")
def prepared(work: Path, raw_input: Path) -> Path:
    out = work / "prepared"
    result = preprocess(raw_input, out)
    assert result.returncode == 0, result.stderr
    return out


@pytest.fixture(scope="module")
def model_dir(work: Path, prepared: Path) -> Path:
    model = work / "model"
    # As SageMaker writes them: JSON-encoded strings, the schema encoded twice, a framework key;
    # one CLI argument overrides the file.
    hyperparameters = {
        "max_depth": "4",
        "eta": "0.2",
        "num_round": "40",
        "subsample": "0.9",
        "scale_pos_weight": "10.0",
        "seed": "3",
        "schema": json.dumps(SCHEMA_JSON),
        "sagemaker_program": '"train.py"',
    }
    train(prepared, model, "--num_round", "60", hyperparameters=hyperparameters)
    return model


# ---- preprocess ---------------------------------------------------------------------------


def test_preprocess_reads_csv_and_parquet_parts_into_disjoint_splits(prepared: Path) -> None:
    rows = split_rows(prepared)
    sizes = {split: len(r) for split, r in rows.items()}
    assert sum(sizes.values()) == ROWS  # every input file was read, every row went somewhere
    assert rows["train"].isdisjoint(rows["validation"])
    assert rows["train"].isdisjoint(rows["test"])
    assert rows["validation"].isdisjoint(rows["test"])
    assert abs(sizes["train"] / ROWS - 0.70) < 0.04
    assert abs(sizes["validation"] / ROWS - 0.15) < 0.03
    assert sorted(p.name for p in (prepared / "train").iterdir()) == ["part-algo-1.csv", "preprocessing.json"]


def test_encoded_rows_follow_the_xgboost_csv_convention(prepared: Path) -> None:
    contract = json.loads((prepared / "train" / "preprocessing.json").read_text())
    assert contract["format_version"] == 1
    assert [f["name"] for f in contract["features"]] == SCHEMA.feature_names
    assert contract["features"][1]["categories"] == sorted(CATEGORIES)
    first = (prepared / "train" / "part-algo-1.csv").read_text().splitlines()[0].split(",")
    assert first[0] in ("0", "1")  # label first, no header
    assert len(first) == 1 + len(SCHEMA.feature_names)
    assert 0 <= int(first[2]) < len(CATEGORIES)  # merchant_category as its vocabulary index


def test_split_depends_on_the_id_not_on_file_layout_or_order(
    work: Path, data: pd.DataFrame, prepared: Path
) -> None:
    shuffled = work / "shuffled"
    write_dataset(data.sample(frac=1.0, random_state=1), shuffled, fmt="parquet", files=3)
    out = work / "prepared-shuffled"
    assert preprocess(shuffled, out).returncode == 0
    assert split_rows(out) == split_rows(prepared)


def test_baseline_describes_the_raw_features(prepared: Path, data: pd.DataFrame) -> None:
    baseline = json.loads((prepared / "baseline" / "baseline-algo-1.json").read_text())
    assert baseline["format_version"] == 1
    assert baseline["row_count"] == ROWS
    assert baseline["target"]["counts"] == {
        "0": int((data.is_fraud == 0).sum()),
        "1": int(data.is_fraud.sum()),
    }
    amount = baseline["features"]["amount"]
    assert amount["count"] == ROWS and amount["missing"] == 0
    assert amount["mean"] == pytest.approx(data["amount"].astype(float).mean())
    assert amount["min"] == pytest.approx(float(data["amount"].min()))
    assert len(amount["histogram"]["edges"]) == 9  # deciles
    assert sum(amount["histogram"]["counts"]) == ROWS
    assert max(amount["histogram"]["counts"]) <= ROWS * 0.11  # quantile bins are balanced
    online = baseline["features"]["is_online"]["histogram"]
    assert online["edges"] == [0.0, 1.0]
    assert online["counts"] == [int((data.is_online == 0).sum()), int(data.is_online.sum()), 0]
    frequencies = baseline["features"]["merchant_category"]["frequencies"]
    assert frequencies == {k: int(v) for k, v in data["merchant_category"].value_counts().items()}


# ---- preprocess on two instances ----------------------------------------------------------


@pytest.fixture(scope="module")
def sharded(work: Path, data: pd.DataFrame) -> dict[str, Path]:
    """ShardedByS3Key: four files, two per instance; each instance writes its own local dir."""
    parts = write_dataset(data, work / "all", fmt="csv", files=4)
    outputs = {}
    for host, shard in (("algo-1", parts[:2]), ("algo-2", parts[2:])):
        shard_dir = work / f"shard-{host}"
        shard_dir.mkdir()
        for part in shard:
            shutil.copy(part, shard_dir)
        out = work / f"out-{host}"
        hosts = (host, *({"algo-1", "algo-2"} - {host}))
        result = preprocess(shard_dir, out, schema=SCHEMA_WITH_CATEGORIES, hosts=hosts)
        assert result.returncode == 0, result.stderr
        outputs[host] = out
    single = work / "out-single"
    assert preprocess(work / "all", single, schema=SCHEMA_WITH_CATEGORIES).returncode == 0
    outputs["single"] = single
    return outputs


def _files(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()}


def test_instances_write_non_colliding_outputs_that_add_up(sharded: dict[str, Path]) -> None:
    one, two = _files(sharded["algo-1"]), _files(sharded["algo-2"])
    assert one.isdisjoint(two)  # uploaded to the same S3 prefixes, nothing is overwritten
    assert "baseline/baseline-algo-2.json" in two
    assert "train/part-algo-2.csv" in two
    assert "train/preprocessing.json" in one  # the contract is written once, by the first host
    combined = split_rows(sharded["algo-1"])
    for split, rows in split_rows(sharded["algo-2"]).items():
        combined[split] |= rows
    assert combined == split_rows(sharded["single"])


def test_sharded_baselines_merge_into_the_single_instance_baseline(
    sharded: dict[str, Path], data: pd.DataFrame
) -> None:
    common = container_module("common")
    per_host = [
        json.loads(p.read_text())
        for h in ("algo-1", "algo-2")
        for p in (sharded[h] / "baseline").glob("*.json")
    ]
    single = json.loads((sharded["single"] / "baseline" / "baseline-algo-1.json").read_text())
    before = json.dumps(per_host)
    merged = common.merge_baselines(per_host)
    assert json.dumps(per_host) == before  # pure
    assert merged["hosts"] == ["algo-1", "algo-2"]
    assert merged["row_count"] == single["row_count"] == ROWS
    assert merged["target"] == single["target"]
    for name, expected in single["features"].items():
        got = merged["features"][name]
        if expected["type"] == "categorical":
            assert got == expected
            continue
        for stat in ("count", "missing", "min", "max"):
            assert got[stat] == expected[stat], (name, stat)
        assert got["mean"] == pytest.approx(expected["mean"], rel=1e-9)
        assert got["std"] == pytest.approx(expected["std"], rel=1e-9)
        if data[name].nunique() <= common.SKETCH_SIZE:  # few distinct values: the sketch is exact
            assert got["histogram"] == expected["histogram"], name
            assert got["sketch"] == expected["sketch"], name
        else:  # continuous: each bin within a few sketch chunks of the exact one
            assert sum(got["histogram"]["counts"]) == ROWS
            tolerance = 2 * ROWS / common.SKETCH_SIZE + 1  # each edge may move a chunk per host
            assert len(got["histogram"]["counts"]) == len(expected["histogram"]["counts"])
            for g, e in zip(got["histogram"]["counts"], expected["histogram"]["counts"], strict=True):
                assert abs(g - e) <= tolerance, (name, got["histogram"], expected["histogram"])
    assert common.merge_baselines([single]) == single
    with pytest.raises(ValueError, match="different features"):
        broken = json.loads(json.dumps(single))
        broken["features"].pop("amount")
        common.merge_baselines([single, broken])


def test_two_instances_need_listed_categories(work: Path, raw_input: Path) -> None:
    out = work / "two-hosts-no-categories"
    result = preprocess(raw_input, out, schema=SCHEMA_WITHOUT_CATEGORIES, hosts=("algo-1", "algo-2"))
    assert result.returncode != 0
    assert "must list 'categories'" in failure_reason(out)
    assert "merchant_category" in failure_reason(out)


# ---- preprocess failures ------------------------------------------------------------------


def _bad(df: pd.DataFrame, case: str) -> pd.DataFrame:
    df = df.copy()
    if case == "no_target":
        return df.drop(columns=["is_fraud"])
    if case == "no_feature":
        return df.drop(columns=["hour"])
    if case == "no_id":
        return df.drop(columns=["transaction_id"])
    if case == "non_numeric":
        df["amount"] = df["amount"].astype(str)  # a text column, in CSV and in Parquet alike
        df.loc[4, "amount"] = "12,50 EUR"
        return df
    if case == "target_not_binary":
        df.loc[7, "is_fraud"] = 2
        return df
    if case == "target_missing":
        df["is_fraud"] = df["is_fraud"].astype(float)
        df.loc[3, "is_fraud"] = np.nan
        return df
    if case == "header_only":
        return df.iloc[:0]
    raise AssertionError(case)


@pytest.mark.bad_input("data")
@pytest.mark.parametrize(
    ("case", "reason"),
    [
        ("no_target", "part-00000.csv: missing target column 'is_fraud'"),
        ("no_feature", "part-00000.csv: missing feature column(s) 'hour'"),
        ("no_id", "part-00000.csv: missing id column 'transaction_id'"),
        ("non_numeric", "numeric feature 'amount' has non-numeric value '12,50 EUR' at line 6"),
        ("target_not_binary", "target column 'is_fraud' must be 0 or 1, found '2' at line 9"),
        ("target_missing", "target column 'is_fraud' must be 0 or 1, found an empty value at line 5"),
        ("header_only", "empty input: the 1 file(s)"),
    ],
)
def test_bad_input_fails_with_a_named_reason(work: Path, case: str, reason: str) -> None:
    source = work / f"bad-{case}"
    write_dataset(_bad(generate_transactions(40, seed=1), case), source, fmt="csv")
    out = work / f"bad-{case}-out"
    result = preprocess(source, out)
    assert result.returncode == 1
    written = failure_reason(out)
    assert reason in written
    assert written.count("\n") == 1  # one line, for FailureReason
    assert reason in result.stderr
    assert not (out / "train").exists()
    # Nothing lost: the job's input is as the user gave it (read, never moved or rewritten).
    assert sorted(p.name for p in source.iterdir()) == ["part-00000.csv"]


@pytest.mark.bad_input("data")
def test_bad_parquet_value_is_reported_by_row(work: Path) -> None:
    source = work / "bad-parquet"
    write_dataset(_bad(generate_transactions(40, seed=1), "non_numeric"), source, fmt="parquet")
    out = work / "bad-parquet-out"
    assert preprocess(source, out).returncode == 1
    assert "part-00000.parquet: numeric feature 'amount' has non-numeric value '12,50 EUR' at row 5" in (
        failure_reason(out)
    )
    assert not (out / "train").exists()  # no partial split a later step could take for the data


@pytest.mark.bad_input("data")
@pytest.mark.parametrize(
    ("extra", "schema", "reason"),
    [
        ((), "{not json", "schema is not valid JSON"),
        (("--train-ratio", "0.9", "--validation-ratio", "0.2"), SCHEMA_JSON, "leave a share for test"),
    ],
)
def test_bad_arguments_fail_with_a_named_reason(
    work: Path, raw_input: Path, extra: tuple[str, ...], schema: str, reason: str
) -> None:
    out = work / f"bad-args-{len(extra)}"
    assert preprocess(raw_input, out, *extra, schema=schema).returncode == 1
    assert reason in failure_reason(out)
    assert failure_reason(out).count("\n") == 1
    assert not (out / "train").exists()


# ---- preprocess --schema-file -------------------------------------------------------------


def _outputs(directory: Path) -> dict[str, bytes]:
    return {p.relative_to(directory).as_posix(): p.read_bytes() for p in directory.rglob("*") if p.is_file()}


def test_schema_file_gives_the_same_outputs_as_inline_schema(
    work: Path, raw_input: Path, prepared: Path
) -> None:
    from inner_pipeline.pipeline import schema_json
    from shared.config import DualloopConfig

    # GIVEN the very bytes the pipeline uploads, as the schema input delivers them
    schema_file = work / "schema-input" / "schema.json"
    schema_file.parent.mkdir()
    schema_file.write_text(schema_json(DualloopConfig(dataset=SCHEMA)))
    # WHEN preprocess reads them with --schema-file
    out = work / "prepared-from-file"
    result = preprocess(raw_input, out, schema_args=("--schema-file", schema_file))
    # THEN it writes what it writes when given the same schema inline
    assert result.returncode == 0, result.stderr
    assert _outputs(out) == _outputs(prepared)


@pytest.mark.bad_input("data")
@pytest.mark.parametrize(
    ("case", "reason"),
    [
        ("neither", "one of the arguments --schema-file --schema is required"),
        ("both", "argument --schema-file: not allowed with argument --schema"),
        ("missing", "--schema-file {path} does not exist"),
        ("directory", "--schema-file {path} cannot be read"),
        ("not_json", "--schema-file {path}: schema is not valid JSON"),
        ("not_a_schema", "--schema-file {path}: schema is missing or has a malformed field"),
    ],
)
def test_schema_file_errors_name_the_options(work: Path, raw_input: Path, case: str, reason: str) -> None:
    # GIVEN a wrong choice of schema options, or a schema file that is absent or not a schema
    path = work / f"schema-{case}" / "schema.json"
    path.parent.mkdir()
    if case == "directory":
        path.mkdir()
    elif case == "not_json":
        path.write_text("{not json")
    elif case == "not_a_schema":
        path.write_text('{"features": []}')
    schema_args = {
        "neither": (),
        "both": ("--schema", SCHEMA_JSON, "--schema-file", path),
    }.get(case, ("--schema-file", path))
    out = work / f"schema-{case}-out"
    # WHEN preprocess runs
    result = preprocess(raw_input, out, schema_args=schema_args)
    # THEN it fails with a one-line reason that says which option is wrong, and writes nothing
    assert result.returncode == 1
    written = failure_reason(out)
    assert reason.format(path=path) in written, written
    assert written.count("\n") == 1
    assert not (out / "train").exists()


@pytest.mark.bad_input("data")
def test_no_input_files_is_empty_input(work: Path) -> None:
    (work / "nothing").mkdir()
    out = work / "nothing-out"
    assert preprocess(work / "nothing", out).returncode == 1
    assert "empty input: no CSV or Parquet files" in failure_reason(out)
    assert failure_reason(out).count("\n") == 1
    assert not (out / "train").exists()


# ---- train --------------------------------------------------------------------------------


def test_model_artifact_is_self_contained(model_dir: Path, prepared: Path) -> None:
    assert sorted(p.name for p in model_dir.iterdir()) == ["preprocessing.json", "xgboost-model.json"]
    assert (model_dir / "preprocessing.json").read_text() == (
        prepared / "train" / "preprocessing.json"
    ).read_text()
    model = json.loads((model_dir / "xgboost-model.json").read_text())
    assert model["learner"]["objective"]["name"] == "binary:logistic"
    assert model["learner"]["gradient_booster"]["model"]["gbtree_model_param"]["num_trees"] == "60"  # CLI won
    assert model["learner"]["feature_names"] == SCHEMA.feature_names


def test_training_is_deterministic_for_a_seed(work: Path, prepared: Path, model_dir: Path) -> None:
    again = work / "model-again"
    train(prepared, again, "--max_depth", "4", "--num_round", "60", "--seed", "3", "--schema", SCHEMA_JSON)
    assert (again / "xgboost-model.json").read_bytes() == (model_dir / "xgboost-model.json").read_bytes()


def test_training_reads_every_part_file_of_a_channel(work: Path, sharded: dict[str, Path]) -> None:
    channel = work / "channel"
    for host in ("algo-1", "algo-2"):  # what the sharded job leaves under one S3 prefix
        shutil.copytree(sharded[host], channel, dirs_exist_ok=True)
    model = work / "model-sharded"
    train(channel, model, "--num_round", "5", "--early_stopping_rounds", "3")
    assert (model / "xgboost-model.json").is_file()


def test_train_prints_the_gate_metrics_on_validation_for_the_tuning_regex(work: Path, prepared: Path) -> None:
    # GIVEN the pipeline's tuning metric definition for each binary gate metric
    from inner_pipeline.pipeline import metric_definition
    from shared.config import GATE_METRICS, ProblemType, load_config

    # WHEN train.py trains
    model = work / "model-printed"
    result = train(prepared, model, "--num_round", "20")

    # THEN each gate metric's regex finds exactly one value in its log, and it is evaluate.py's
    # value of that metric on the validation split for the trained model
    import xgboost as xgb

    evaluate, common = container_module("evaluate"), container_module("common")
    booster = xgb.Booster(model_file=str(model / "xgboost-model.json"))
    labels, features = common.read_split(prepared / "validation", len(SCHEMA.features))
    scores = booster.predict(xgb.DMatrix(features, feature_names=SCHEMA.feature_names))
    expected = evaluate.evaluation_report(labels.astype(np.int64), scores, 0.5, 2, 0)
    for metric in GATE_METRICS[ProblemType.BINARY]:
        definition = metric_definition(load_config(quality={"metric": metric, "threshold": 0.5}))
        (value,) = re.findall(definition["Regex"], result.stdout)
        assert float(value) == pytest.approx(expected[metric], abs=1e-6), metric


def test_train_rejects_unknown_and_bad_hyperparameters(work: Path, prepared: Path) -> None:
    train_module = container_module("train")
    common = container_module("common")
    with pytest.raises(common.DataError, match="unknown hyperparameter"):
        train_module.parse_args(["--max_dpth", "3"])
    args = train_module.parse_args(["--eta", "0"])
    with pytest.raises(common.DataError, match="eta must be in"):
        train_module.main(args)


def test_hyperparameters_json_decodes_every_sagemaker_encoding(tmp_path: Path) -> None:
    train_module = container_module("train")
    path = tmp_path / "hyperparameters.json"
    raw_schema = '{"id_column": "a"}'
    path.write_text(
        json.dumps({"eta": "0.3", "schema": json.dumps(raw_schema), "seed": 4, "sagemaker_region": '"x"'})
    )
    assert train_module.hyperparameter_argv(path) == ["--eta", "0.3", "--schema", raw_schema, "--seed", "4"]
    path.write_text(json.dumps({"schema": raw_schema}))
    assert train_module.hyperparameter_argv(path) == ["--schema", raw_schema]


# ---- evaluate -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def evaluation(work: Path, model_dir: Path, prepared: Path) -> dict[str, Any]:
    delivered = work / "delivered-model"  # as a processing input receives the training artifact
    delivered.mkdir()
    with tarfile.open(delivered / "model.tar.gz", "w:gz") as tar:
        for path in model_dir.iterdir():
            tar.add(path, arcname=path.name)
    out = work / "evaluation"
    result = run_script(
        "evaluate.py",
        "--model-dir",
        delivered,
        "--test-dir",
        prepared / "test",
        "--output-dir",
        out,
        "--failure-file",
        work / "evaluate-failure",
    )
    assert result.returncode == 0, result.stderr
    report: dict[str, Any] = json.loads((out / "evaluation.json").read_text())
    return report


def test_model_separates_fraud_on_demo_data(evaluation: dict[str, Any]) -> None:
    assert evaluation["binary_classification_metrics"]["auc"]["value"] > 0.8
    assert evaluation["auc"] == evaluation["binary_classification_metrics"]["auc"]["value"]


def test_evaluation_report_has_the_model_quality_layout(evaluation: dict[str, Any], prepared: Path) -> None:
    metrics = evaluation["binary_classification_metrics"]
    for name in ("accuracy", "auc", "precision", "recall", "f1"):
        assert set(metrics[name]) == {"value", "standard_deviation"}
        assert 0.0 <= metrics[name]["value"] <= 1.0
        assert metrics[name]["standard_deviation"] >= 0.0
    assert metrics["auc"]["standard_deviation"] > 0.0
    matrix = metrics["confusion_matrix"]
    test_rows = len(split_rows(prepared)["test"])
    assert sum(matrix[a][p] for a in "01" for p in "01") == test_rows == evaluation["test_rows"]
    tp, fp = matrix["1"]["1"], matrix["0"]["1"]
    assert metrics["precision"]["value"] == pytest.approx(tp / (tp + fp))
    # JsonGet resolves dotted paths on the property file
    value: Any = evaluation
    for key in ("binary_classification_metrics", "auc", "value"):
        value = value[key]
    assert isinstance(value, float)


def test_evaluate_refuses_a_single_class_test_split(tmp_path: Path, model_dir: Path) -> None:
    evaluate = container_module("evaluate")
    common = container_module("common")
    (tmp_path / "test").mkdir()
    (tmp_path / "test" / "part-algo-1.csv").write_text("0,1,2,3,4,5,6,7,8\n0,1,2,3,4,5,6,7,8\n")
    args = evaluate.parse_args(["--model-dir", str(model_dir), "--test-dir", str(tmp_path / "test")])
    with pytest.raises(common.DataError, match="holds only label 0"):
        evaluate.main(args)


# ---- inference ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def inference() -> ModuleType:
    return container_module("inference")


@pytest.fixture(scope="module")
def served(inference: ModuleType, model_dir: Path) -> Any:
    return inference.model_fn(str(model_dir))


def _csv(df: pd.DataFrame, header: bool = False) -> str:
    return df[SCHEMA.feature_names].to_csv(index=False, header=header)


def test_inference_scores_raw_rows_in_every_format_alike(
    inference: ModuleType, served: Any, data: pd.DataFrame
) -> None:
    rows = data.iloc[:25]

    def scores(body: str | bytes, content_type: str) -> list[float]:
        answer = inference.output_fn(
            inference.predict_fn(inference.input_fn(body, content_type), served), "*/*"
        )
        return [p["score"] for p in json.loads(answer)["predictions"]]

    records = json.loads(rows.to_json(orient="records"))  # includes the id and the label: ignored
    expected = scores(_csv(rows), "text/csv")
    assert scores(_csv(rows, header=True).encode(), "text/csv; charset=utf-8") == expected
    assert scores(json.dumps({"instances": records}), "application/json") == expected
    assert scores(json.dumps(records), "application/json") == expected
    assert len(expected) == 25


def test_inference_ranks_fraud_above_legitimate(
    inference: ModuleType, served: Any, data: pd.DataFrame
) -> None:
    from sklearn.metrics import roc_auc_score

    prediction = inference.predict_fn(inference.input_fn(_csv(data), "text/csv"), served)
    assert roc_auc_score(data["is_fraud"], prediction) > 0.9
    answer = json.loads(inference.output_fn(prediction[:3], "application/json"))
    assert [set(p) for p in answer["predictions"]] == [{"score", "label"}] * 3
    assert all(p["label"] == int(p["score"] >= 0.5) for p in answer["predictions"])
    lines = inference.output_fn(prediction[:3], "text/csv").splitlines()
    assert [float(x) for x in lines] == [p["score"] for p in answer["predictions"]]


def test_unknown_category_is_scored_like_a_missing_one(inference: ModuleType, served: Any) -> None:
    base = "120.5,{},2,80,3,9,4.2,1\n"
    unknown = inference.predict_fn(inference.input_fn(base.format("spaceship"), "text/csv"), served)
    missing = inference.predict_fn(inference.input_fn(base.format(""), "text/csv"), served)
    assert unknown.tolist() == missing.tolist()


GOOD = "12.5,grocery,14,3.0,1,3,1.0,0"


@pytest.mark.bad_input("endpoint")
@pytest.mark.parametrize(
    ("body", "content_type", "message"),
    [
        ("", "text/csv", "empty request body"),
        ("  \n", "application/json", "empty request body"),
        (GOOD, "text/plain", "unsupported content type 'text/plain'"),
        (f"{GOOD}\n12.5,grocery,14", "text/csv", "row 2 has 3 values; expected 8"),
        (f"{GOOD},99", "text/csv", "row 1 has 9 values; expected 8"),
        ("12.5,grocery,noon,3.0,1,3,1.0,0", "text/csv", "row 1, column 'hour': 'noon' is not a number"),
        ("{oops", "application/json", "not valid JSON"),
        ('{"rows": []}', "application/json", '{"instances": [...]}'),
        ('{"instances": []}', "application/json", "no rows"),
        ('[{"amount": 1}]', "application/json", "row 1 lacks feature(s) merchant_category"),
        (
            '[{"amount": "x1", "merchant_category": "gas", "hour": 1, "distance_from_home_km": 1, '
            '"tx_count_1h": 1, "tx_count_24h": 1, "amount_to_avg_ratio": 1, "is_online": 0}]',
            "application/json",
            "row 1, column 'amount': 'x1' is not a number",
        ),
        ("[7]", "application/json", "row 1 is neither a record"),
        (b"\xff\xfe", "text/csv", "not UTF-8"),
        ("x" * 200_000, "text/csv", "not valid CSV"),
        # Beyond float32 (what the model computes with): XGBoost would refuse "inf" with a 5XX.
        ("1e39,grocery,14,3.0,1,3,1.0,0", "text/csv", "row 1, column 'amount': '1e39' is beyond"),
        ("12.5,grocery,14,-3.5e38,1,3,1.0,0", "text/csv", "column 'distance_from_home_km': '-3.5e38'"),
        ('[[1e39, "gas", 1, 1, 1, 1, 1, 0]]', "application/json", "row 1, column 'amount': 1e+39 is beyond"),
        (f'[[{"9" * 50}, "gas", 1, 1, 1, 1, 1, 0]]', "application/json", "is beyond the model's float32"),
        ("inf,grocery,14,3.0,1,3,1.0,0", "text/csv", "'inf' is not a number"),
        ("nan,grocery,14,3.0,1,3,1.0,0", "text/csv", "'nan' is not a number"),
        ('[[-Infinity, "gas", 1, 1, 1, 1, 1, 0]]', "application/json", "-inf is not a number"),
        # The JSON parser's own limits: recursion depth, and Python's 4,300-digit integers.
        ("[" * 100_000 + "]" * 100_000, "application/json", "nested too deeply"),
        ('{"instances": ' + "[" * 100_000 + "]" * 100_000 + "}", "application/json", "nested too deeply"),
        (f'[[{"9" * 5000}, "gas", 1, 1, 1, 1, 1, 0]]', "application/json", "number too long"),
        # What clients get wrong besides the values: the type, the shape, the encoding.
        (f"{','.join(SCHEMA.feature_names)}\n", "text/csv", "no rows"),
        (GOOD, "application/octet-stream", "unsupported content type 'application/octet-stream'"),
        (GOOD, None, "unsupported content type None"),
        ('{"instances": "x"}', "application/json", '"instances" must be a list of records'),
        ("null", "application/json", '"instances" must be a list of records'),
        (b"12.5,caf\xe9,14,3.0,1,3,1.0,0", "text/csv", "request body is not UTF-8"),
        ('{"instances": [[1, 2]]}', "application/json", "row 1 has 2 values; expected 8"),
        (
            '[["12.5", "grocery", 14, 3.0, 1, 3, 1.0, 0, 9]]',
            "application/json",
            "row 1 has 9 values; expected 8",
        ),
        (
            '[{"amount": [1], "merchant_category": "gas", "hour": 1, "distance_from_home_km": 1, '
            '"tx_count_1h": 1, "tx_count_24h": 1, "amount_to_avg_ratio": 1, "is_online": 0}]',
            "application/json",
            "row 1, column 'amount': a list is not a value",
        ),
    ],
)
def test_malformed_requests_raise_invalid_input(
    inference: ModuleType, served: Any, body: str | bytes, content_type: str, message: str
) -> None:
    with pytest.raises(inference.InvalidInput) as caught:
        inference.predict_fn(inference.input_fn(body, content_type), served)
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)  # one line: the 4XX's message
    assert isinstance(caught.value, ValueError)
    # Nothing lost: the same loaded model still scores the next, good request.
    assert inference.predict_fn(inference.input_fn(GOOD, "text/csv"), served).shape == (1,)


@pytest.mark.bad_input("endpoint")
def test_unsupported_accept_is_invalid_input(inference: ModuleType) -> None:
    with pytest.raises(inference.InvalidInput, match="unsupported accept 'application/x-protobuf'; ask for"):
        inference.output_fn(np.array([0.1]), "application/x-protobuf")
    assert inference.output_fn(np.array([0.1]), "text/csv").strip() == "0.1"  # the next answer is served
    assert inference.response_content_type("text/html, text/csv;q=0.9") == "text/csv"


def test_a_broken_model_dir_is_not_the_clients_fault(inference: ModuleType, tmp_path: Path) -> None:
    with pytest.raises(Exception) as caught:
        inference.model_fn(str(tmp_path))
    assert not isinstance(caught.value, inference.InvalidInput)

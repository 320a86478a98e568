"""``dualloop init`` and ``dualloop quality suggest`` without a cloud or Spark: the schema and
problem type inferred from scikit-learn's datasets as CSV with their original headers, the
files written, the rules suggested, and one sentence for each bad input. (That the rules pass
on the data and fail on corrupted copies, evaluated as the DataQuality step does, is
tests/functional/test_quality_suggest_rules.py; the whole dual loop on them, tests/e2e/test_your_data.py.)
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import yaml
from sklearn.datasets import load_breast_cancer, load_diabetes, load_wine
from typer.testing import CliRunner, Result

from outer_orchestrator.quality.dqdl import ColumnValues, IsComplete, IsUnique, RowCount, parse
from shared.config import ConfigError, FeatureType, ProblemType, load_config


def invoke(*args: str) -> Result:
    from shared.cli import app

    return CliRunner().invoke(app, list(args), catch_exceptions=False)


def _csv(tmp_path: Path, name: str, frame: pd.DataFrame) -> Path:
    path = tmp_path / f"{name}.csv"
    frame.to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def sklearn_csvs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The three datasets as CSV files with their original headers ("mean radius", ...)."""
    root = tmp_path_factory.mktemp("sklearn")
    return {
        "breast-cancer": _csv(root, "breast-cancer", load_breast_cancer(as_frame=True).frame),
        "wine": _csv(root, "wine", load_wine(as_frame=True).frame),
        "diabetes": _csv(root, "diabetes", load_diabetes(as_frame=True, scaled=False).frame),
    }


@pytest.mark.parametrize(
    ("name", "kind", "features"),
    [
        ("breast-cancer", ProblemType.BINARY, 30),
        ("wine", ProblemType.MULTICLASS, 13),
        ("diabetes", ProblemType.REGRESSION, 10),
    ],
)
def test_init_infers_the_problem_and_writes_a_config_and_ruleset_that_load(
    sklearn_csvs: dict[str, Path], tmp_path: Path, name: str, kind: ProblemType, features: int
) -> None:
    # GIVEN a dataset as CSV with its original headers and no id column
    data = sklearn_csvs[name]
    # WHEN dualloop init runs on it
    result = invoke("init", "--data", str(data), "--target", "target", "--out", str(tmp_path / "proj"))
    # THEN it names the problem type and prints the command that runs the dual loop on it
    assert result.exit_code == 0, result.output
    assert f"{kind.value} problem" in result.output
    assert f"dualloop run --config {tmp_path / 'proj' / 'dualloop.yaml'} --data {data}" in result.output
    # AND the config loads: the schema by the header rule, the id added at ingest, the ruleset
    # resolved next to the config file (not inside the installed package)
    cfg = load_config(tmp_path / "proj" / "dualloop.yaml")
    assert cfg.project == name
    assert cfg.dataset.problem_type is kind
    assert cfg.dataset.generate_id and cfg.dataset.id_column == "row_id"
    assert len(cfg.dataset.features) == features
    assert all(f.type is FeatureType.NUMERIC for f in cfg.dataset.features)
    assert Path(cfg.ruleset) == (tmp_path / "proj" / f"{name}.dqdl").resolve()
    if name == "breast-cancer":
        assert cfg.dataset.features[0].name == "mean_radius"
        # 212 malignant (0) per 357 benign (1): the positive class's weight, not the fraud demo's 10
        assert cfg.hyperparameters.scale_pos_weight == pytest.approx(212 / 357, abs=1e-3)
    # AND the ruleset parses, with the rules Glue's recommendations make
    rules = parse(Path(cfg.ruleset).read_text()).rules
    assert isinstance(rules[0], RowCount)
    assert IsUnique(column="row_id") in rules and IsComplete(column="row_id") in rules
    label = next(r for r in rules if isinstance(r, ColumnValues) and r.column == "target")
    if kind is ProblemType.REGRESSION:
        assert label.condition.op == "between"
    else:
        assert label.condition.op == "in"
        assert len(label.condition.operands) == (2 if kind is ProblemType.BINARY else 3)


def test_categorical_features_get_their_vocabulary_and_nulls_a_completeness_budget(tmp_path: Path) -> None:
    # GIVEN a table with an id, a text feature (messy case and spaces) and a feature with nulls
    rows = 200
    frame = pd.DataFrame(
        {
            "Customer ID": [f"c{i}" for i in range(rows)],
            "Plan": [[" Gold", "silver", "BRONZE "][i % 3] for i in range(rows)],
            "Monthly Spend": [None if i % 20 == 0 else float(i) for i in range(rows)],
            "Churned": [i % 2 for i in range(rows)],
        }
    )
    data = _csv(tmp_path, "churn", frame)
    # WHEN init runs with --id
    result = invoke(
        "init", "--data", str(data), "--target", "Churned", "--id", "Customer ID", "--out", str(tmp_path)
    )
    assert result.exit_code == 0, result.output
    cfg = load_config(tmp_path / "dualloop.yaml")
    # THEN the id is the data's, the text column categorical, the numbers numeric
    assert cfg.dataset.id_column == "customer_id" and not cfg.dataset.generate_id
    assert {f.name: f.type for f in cfg.dataset.features} == {
        "plan": FeatureType.CATEGORICAL,
        "monthly_spend": FeatureType.NUMERIC,
    }
    text = Path(cfg.ruleset).read_text()
    # AND the vocabulary is as ingest writes it (trimmed, lower case), and the nulls are budgeted
    assert 'ColumnValues "plan" in ["bronze", "gold", "silver"]' in text
    assert 'Completeness "monthly_spend" >= 0.93' in text
    assert 'ColumnValues "monthly_spend" between 0 and 219 where "`monthly_spend` is not null"' in text


@pytest.mark.parametrize(
    ("frame", "args", "sentence"),
    [
        (
            pd.DataFrame({"mean radius": range(150), "progression": range(150)}),
            ["--target", "progresion"],
            "the target 'progresion' is not a column of {data} (the closest is 'progression')",
        ),
        (
            pd.DataFrame({"x": range(150), "y": [str(i) if i != 7 else "n/a" for i in range(150)]}),
            ["--target", "y", "--problem-type", "regression"],
            "a regression target must be numbers, and column 'y' holds text, e.g. 'n/a'",
        ),
        (
            pd.DataFrame({"x": range(150), "y": [2] * 150}),
            ["--target", "y", "--problem-type", "multiclass"],
            "the target 'y' has a single class (2): a classifier needs at least 2",
        ),
        (
            pd.DataFrame({"x": range(40), "y": [0, 1] * 20}),
            ["--target", "y"],
            "has 40 rows, fewer than the 100 the suggested ruleset allows (RowCount)",
        ),
    ],
    ids=["no-such-target", "regression-text", "single-class", "too-few-rows"],
)
def test_bad_input_is_one_sentence(
    tmp_path: Path, frame: pd.DataFrame, args: list[str], sentence: str
) -> None:
    # GIVEN a table with a problem
    data = _csv(tmp_path, "data", frame)
    # WHEN init runs on it
    result = invoke("init", "--data", str(data), *args, "--out", str(tmp_path / "out"))
    # THEN it stops with exit code 2, one sentence that says what, and writes nothing
    assert result.exit_code == 2
    message = " ".join(result.output.split())
    assert sentence.format(data=data) in message, message
    assert "Traceback" not in result.output
    assert not (tmp_path / "out" / "dualloop.yaml").exists()


def test_quality_suggest_uses_the_configured_schema(sklearn_csvs: dict[str, Path], tmp_path: Path) -> None:
    # GIVEN a config for the wine data (written by init) and the data with one more row
    invoke("init", "--data", str(sklearn_csvs["wine"]), "--target", "target", "--out", str(tmp_path))
    # WHEN quality suggest writes a ruleset from it
    out = tmp_path / "again.dqdl"
    result = invoke(
        "quality", "suggest", "--data", str(sklearn_csvs["wine"]), "--out", str(out),
        "--config", str(tmp_path / "dualloop.yaml"),
    )  # fmt: skip
    # THEN it is the ruleset init wrote (the same data, the same schema)
    assert result.exit_code == 0, result.output
    assert out.read_text() == (tmp_path / "wine.dqdl").read_text()


def test_ruleset_is_relative_to_the_config_file_an_s3_uri_or_a_packaged_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a config file in a folder that is not the working directory, naming rules beside it
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "mine.dqdl").write_text("Rules = [ RowCount > 0 ]")
    config = tmp_path / "dualloop.yaml"
    monkeypatch.chdir(tmp_path.parent)
    for value, expected in (
        ("rules/mine.dqdl", str((tmp_path / "rules" / "mine.dqdl").resolve())),
        ("s3://my-bucket/rules/mine.dqdl", "s3://my-bucket/rules/mine.dqdl"),
        ("transactions.dqdl", "transactions.dqdl"),  # packaged with dualloop
    ):
        config.write_text(yaml.safe_dump({"ruleset": value}))
        # WHEN it is loaded THEN the ruleset is found where the user meant
        assert load_config(config).ruleset == expected
    # AND a path that is nowhere, or an S3 URI with no key, is one sentence naming it
    for value, words in (
        ("rules/missing.dqdl", "no file rules/missing.dqdl relative to the config file's folder"),
        ("s3://my-bucket/", "is not an S3 object URI"),
    ):
        config.write_text(yaml.safe_dump({"ruleset": value}))
        with pytest.raises(ConfigError, match=words):
            load_config(config)


def test_inner_run_alone_names_the_id_that_only_ingest_adds(
    sklearn_csvs: dict[str, Path], tmp_path: Path
) -> None:
    # GIVEN a project for data without an id column (ingest adds it)
    invoke("init", "--data", str(sklearn_csvs["wine"]), "--target", "target", "--out", str(tmp_path))
    # WHEN the inner loop alone is run on the file, which Preprocess reads as it is
    result = invoke(
        "inner", "run", "--config", str(tmp_path / "dualloop.yaml"), "--input", str(sklearn_csvs["wine"])
    )
    # THEN it stops before any cloud starts, saying where the id comes from and what to do
    assert result.exit_code == 2
    message = " ".join(result.output.split())
    assert "has no id column row_id (dataset.generate_id): ingest adds it" in message, message
    assert "dualloop run --data" in message


def test_text_labels_are_listed_classes(tmp_path: Path) -> None:
    # GIVEN a table whose target is text labels
    rows = 150
    frame = pd.DataFrame(
        {
            "petal": [i / 10 for i in range(rows)],
            "Species": [["setosa", "virginica", " versicolor"][i % 3] for i in range(rows)],
        }
    )
    data = _csv(tmp_path, "iris", frame)
    # WHEN init runs on it
    result = invoke("init", "--data", str(data), "--target", "Species", "--out", str(tmp_path))
    # THEN it is multiclass with the labels (trimmed, sorted) listed, and the ruleset checks them as text
    assert result.exit_code == 0, result.output
    cfg = load_config(tmp_path / "dualloop.yaml")
    assert cfg.dataset.problem_type is ProblemType.MULTICLASS
    assert cfg.dataset.classes == ("setosa", "versicolor", "virginica") and cfg.dataset.text_labels
    assert 'ColumnValues "species" in ["setosa", "versicolor", "virginica"]' in Path(cfg.ruleset).read_text()

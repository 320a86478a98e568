"""``dualloop inner ...`` and ``dualloop data generate`` against the local cloud.

What this proves: ``inner run`` provisions, upserts, stages content-addressed demo data and
runs the real pipeline definition (real XGBoost, few rows) to a registered model with its
metrics; ``inner cache-plan`` then predicts what the next run would do, from the very store
the executor consults (all three job steps hit; MaxDepth=7 makes Train miss on exactly that
hyperparameter and Evaluate wait for it), and the store rebuilt from the execution history
through the API plans the same; a data scientist's SDK code (``upsert/start/wait/list_steps``)
runs unchanged and hits the cache the plan predicted; bad options fail with a clear message.
What it cannot prove: SageMaker's own cache keys on AWS (the executor's model of them is
what is planned).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pytest
import typer
from typer.testing import CliRunner, Result

from inner_pipeline import cli as inner_cli
from inner_pipeline.cache_plan import Outcome, StoreHistory, plan_cache, store_from_history
from shared.config import DualloopConfig, load_config
from shared.local_cloud import LocalCloud
from shared.naming import Names

ROWS = 2000
JOB_STEPS = ["Preprocess", "Train", "Evaluate"]


def _app() -> typer.Typer:
    """``shared.cli.app`` once the inner commands are wired into it; until then, a local app."""
    from shared.cli import app

    if any(group.name == "inner" for group in app.registered_groups):
        return app
    local = typer.Typer()
    inner_cli.register(local)
    return local


def invoke(*args: str) -> Result:
    return CliRunner().invoke(_app(), list(args), catch_exceptions=False)


@dataclass(frozen=True)
class Project:
    cfg: DualloopConfig
    first_run: dict[str, Any]


@pytest.fixture(scope="module")
def project(local_cloud: LocalCloud) -> Iterator[Project]:
    """Its own project (so no other test's runs are in its cache), and one `inner run`."""
    with pytest.MonkeyPatch.context() as patch:
        name = f"inner-{uuid.uuid4().hex[:6]}"
        patch.setenv("DUALLOOP_PROJECT", name)
        patch.delenv("DUALLOOP_TARGET", raising=False)
        result = invoke("inner", "run", "--rows", str(ROWS), "--json")
        assert result.exit_code == 0, result.output
        yield Project(load_config(project=name), json.loads(result.stdout))


def plan(*args: str) -> dict[str, Any]:
    result = invoke("inner", "cache-plan", "--json", *args)
    assert result.exit_code == 0, result.output
    document: dict[str, Any] = json.loads(result.stdout)
    return document


def steps(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {s["name"]: s for s in document["steps"]}


# ---- inner run --------------------------------------------------------------------------------------


def test_inner_run_trains_registers_and_reports_each_step(project: Project) -> None:
    run = project.first_run
    assert run["status"] == "Succeeded", run["failure_reason"]
    by_name = {s["name"]: s for s in run["steps"]}
    assert set(by_name) == {*JOB_STEPS, "CheckQuality", "RegisterModel"}
    assert all(s["status"] == "Succeeded" and s["seconds"] is not None for s in by_name.values())
    assert not any(s["cache_hit"] for s in by_name.values())  # a new project: nothing to reuse
    assert run["model_package_arn"].startswith("arn:aws:sagemaker:")
    assert 0.5 < run["metrics"]["auc"] <= 1.0
    # Demo data is content-addressed: the same rows, the same InputDataUri.
    assert run["input_uri"].startswith(f"s3://{Names(project.cfg).curated_bucket}/manual/inner-")
    assert run["parameters"] == {"InputDataUri": run["input_uri"]}


def test_a_bad_param_fails_clearly_before_anything_runs(project: Project) -> None:
    unknown = invoke("inner", "run", "--input", project.first_run["input_uri"], "--param", "MaxDeep=7")
    assert unknown.exit_code == 2
    assert "unknown pipeline parameter MaxDeep" in unknown.output
    assert "MaxDepth (Integer)" in unknown.output  # the valid names are listed

    typed = invoke("inner", "cache-plan", "--param", "MaxDepth=deep")
    assert typed.exit_code == 2
    assert "parameter 'MaxDepth' of type Integer cannot take the value 'deep'" in typed.output

    malformed = invoke("inner", "run", "--param", "MaxDepth")
    assert malformed.exit_code == 2
    assert "'MaxDepth' is not NAME=VALUE" in malformed.output


# ---- inner cache-plan -------------------------------------------------------------------------------


def test_after_a_run_the_plan_says_every_job_step_will_hit(project: Project) -> None:
    # --rows with the same count names the same content-addressed input as the run did
    document = plan("--rows", str(ROWS))
    assert document["store"] == "the local cloud's step cache"
    assert document["parameters"]["InputDataUri"] == project.first_run["input_uri"]
    assert document["hits"] == JOB_STEPS
    by_name = steps(document)
    assert {by_name[s]["source_execution_arn"] for s in JOB_STEPS} == {project.first_run["execution_arn"]}
    assert by_name["CheckQuality"]["outcome"] == Outcome.RUNS.value
    assert by_name["RegisterModel"]["branch"] == "CheckQuality=true"


def test_a_new_max_depth_makes_train_miss_on_that_hyperparameter_and_evaluate_wait(project: Project) -> None:
    uri = project.first_run["input_uri"]
    by_name = steps(plan("--input", uri, "--param", "MaxDepth=7"))
    assert by_name["Preprocess"]["outcome"] == "hit"
    assert by_name["Train"]["outcome"] == "miss"
    assert by_name["Train"]["reason"] == "arguments differ: HyperParameters.max_depth 5 → 7"
    assert (
        by_name["Evaluate"]["reason"] == "upstream step Train will run, so its outputs are unknown until then"
    )

    text = invoke("inner", "cache-plan", "--input", uri, "--param", "MaxDepth=7")
    assert text.exit_code == 0, text.output
    lines = {line.split()[0]: line for line in text.stdout.splitlines()[2:-1]}
    assert "hit" in lines["Preprocess"]
    assert "miss  arguments differ: HyperParameters.max_depth 5 → 7" in lines["Train"]
    assert text.stdout.splitlines()[-1] == "1 of 3 cacheable step(s) will hit"


def test_new_data_makes_preprocess_miss_on_its_input(project: Project, tmp_path: Path) -> None:
    by_name = steps(plan("--rows", str(ROWS + 1)))
    reason = by_name["Preprocess"]["reason"]
    assert reason.startswith("input changed: ProcessingInputs[data].S3Input.S3Uri s3://")
    assert by_name["Train"]["upstream"] == ["Preprocess"]


def test_the_store_rebuilt_from_the_execution_history_plans_the_same(project: Project) -> None:
    # GIVEN the live store and one rebuilt through the API (what a second process or AWS gets)
    from inner_pipeline.pipeline import pipeline_definition
    from shared.local_cloud.cloud import running
    from shared.local_cloud.sagemaker import worker

    cloud = running()
    assert cloud is not None
    names = Names(project.cfg)
    live = StoreHistory(worker.step_cache(cloud))
    rebuilt = store_from_history(boto3.client("sagemaker"), names.pipeline, max_executions=10)
    assert rebuilt.entries >= 3
    # THEN every rebuilt entry has the key the executor recorded
    for step in JOB_STEPS:
        assert {e.key for e in StoreHistory(rebuilt.store).entries(names.pipeline, step)} <= {
            e.key for e in live.entries(names.pipeline, step)
        }
    # AND the plans agree
    definition = pipeline_definition(project.cfg)
    parameters = {"InputDataUri": project.first_run["input_uri"], "MaxDepth": "7"}
    plans = [
        plan_cache(definition, parameters, store, now, pipeline_name=names.pipeline)
        for store, now in ((live, cloud.now()), (StoreHistory(rebuilt.store), datetime.now(UTC)))
    ]
    assert [(s.name, s.outcome, s.reason.split(" (")[0]) for s in plans[0].steps] == [
        (s.name, s.outcome, s.reason.split(" (")[0]) for s in plans[1].steps
    ]


# ---- the data scientist's SDK flow ------------------------------------------------------------------


def test_the_sdk_flow_runs_unchanged_and_hits_the_cache_the_plan_predicted(project: Project) -> None:
    from inner_pipeline.pipeline import build_pipeline, pipeline_session

    cfg = project.cfg
    pipeline = build_pipeline(cfg, pipeline_session(cfg))
    pipeline.upsert(role_arn=Names(cfg).sagemaker_role_arn)
    execution = pipeline.start(parameters={"InputDataUri": project.first_run["input_uri"]})
    execution.wait(delay=1, max_attempts=120)
    listed = {s["StepName"]: s for s in execution.list_steps()}
    assert {name: s["StepStatus"] for name, s in listed.items()} == {
        **dict.fromkeys(JOB_STEPS, "Succeeded"),
        "CheckQuality": "Succeeded",
        "RegisterModel": "Succeeded",
    }
    for name in JOB_STEPS:
        assert (
            listed[name]["CacheHitResult"]["SourcePipelineExecutionArn"] == project.first_run["execution_arn"]
        )


# ---- inner definition / upsert ----------------------------------------------------------------------


def test_definition_prints_what_is_upserted(project: Project, tmp_path: Path) -> None:
    target = tmp_path / "definition.json"
    result = invoke("inner", "definition", "--out", str(target))
    assert result.exit_code == 0, result.output
    deployed = boto3.client("sagemaker").describe_pipeline(PipelineName=Names(project.cfg).pipeline)
    assert target.read_text() == deployed["PipelineDefinition"]
    printed = invoke("inner", "definition")
    assert printed.stdout.strip() == target.read_text()


def test_upsert_goes_to_the_named_endpoint_and_refuses_to_guess(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    result = invoke("inner", "upsert")
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == Names(project.cfg).pipeline_arn

    monkeypatch.delenv("AWS_ENDPOINT_URL")
    monkeypatch.delenv("DUALLOOP_TARGET", raising=False)
    refused = invoke("inner", "upsert")
    assert refused.exit_code == 2
    assert "AWS_ENDPOINT_URL is not set" in refused.output
    assert "DUALLOOP_TARGET=aws" in refused.output


# ---- data generate ----------------------------------------------------------------------------------


def test_data_generate_writes_the_requested_files(tmp_path: Path) -> None:
    result = invoke(
        "data",
        "generate",
        "--rows",
        "300",
        "--out",
        str(tmp_path / "d"),
        "--files",
        "3",
        "--format",
        "parquet",
        "--drift",
        "0.5",
        "--seed",
        "4",
    )
    assert result.exit_code == 0, result.output
    assert result.stdout.split() == [str(tmp_path / "d" / f"part-0000{i}.parquet") for i in range(3)]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--rows", "0"], "Invalid value for '--rows': Input should be greater than or equal to 1"),
        (["--rows", "5", "--files", "6"], "Invalid value for '--files': 6 files cannot split 5 rows"),
        (["--rows", "5", "--format", "xml"], "'xml' is not one of 'csv', 'parquet'"),
        (
            ["--rows", "5", "--drift", "-1"],
            "Invalid value for '--drift': Input should be greater than or equal to 0",
        ),
        (["--rows", "5", "--drift", "inf"], "drift must be a finite number >= 0, got inf"),
    ],
)
def test_data_generate_refuses_bad_values(tmp_path: Path, args: list[str], message: str) -> None:
    result = invoke("data", "generate", "--out", str(tmp_path / "d"), *args)
    assert result.exit_code == 2
    assert message in " ".join(result.output.replace("│", " ").split())  # unwrap typer's error box
    assert not (tmp_path / "d").exists()

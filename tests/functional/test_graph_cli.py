"""``dualloop graph`` against the local cloud: statuses of a real execution, overlaid.

What this proves: the command reads a Step Functions execution's history and the steps of
the pipeline execution named after it from the local cloud's APIs, and colours the boxes by
what happened (a visited Choice succeeded, the Fail state it chose failed, the states after
it were not visited; the pipeline's job steps succeeded); it finds the latest execution by
itself, builds the inner definition from this checkout, and writes SVG, Mermaid and PNG.
What it cannot prove: that the outer loop itself names its pipeline execution after its own
execution (the ASL passes ``$$.Execution.Name``; tests/e2e runs that path). Here the
pipeline execution is started by hand with that display name, to keep the test short.
"""

from __future__ import annotations

import uuid
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import boto3
import pytest
import typer
from home_support import fresh_home
from typer.testing import CliRunner, Result
from wait_support import execution_ended, pipeline_ended

from inner_pipeline.inputs import stage_input
from inner_pipeline.upsert import upsert_pipeline
from outer_orchestrator import graph_cli
from outer_orchestrator.local_stack import LocalStack
from shared.config import DualloopConfig, load_config
from shared.demo_data import generate_transactions, write_dataset
from shared.graph import NEUTRAL, STATUS_STYLES, Status
from shared.local_cloud import LocalCloud
from shared.naming import Names

ROWS = 2000
SVG = "{http://www.w3.org/2000/svg}"


def _app() -> typer.Typer:
    """``shared.cli.app`` once ``graph`` is wired into it; until then, a local app."""
    from shared.cli import app

    if any(command.name == "graph" for command in app.registered_commands):
        return app
    local = typer.Typer()
    local.command("graph")(graph_cli.graph)
    local.command("help")(lambda: None)  # two commands: typer keeps "graph" as a subcommand
    return local


def invoke(*args: str) -> Result:
    return CliRunner().invoke(_app(), ["graph", *args], catch_exceptions=False)


@dataclass(frozen=True)
class Run:
    cfg: DualloopConfig
    execution_arn: str
    pipeline_execution_arn: str
    definition: Path


@pytest.fixture(scope="module")
def run(local_cloud: LocalCloud, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Run]:
    """An outer execution refused at ValidateInput, and a pipeline execution named after it."""
    with pytest.MonkeyPatch.context() as patch:
        name = f"graph-{uuid.uuid4().hex[:6]}"
        patch.setenv("DUALLOOP_PROJECT", name)
        patch.delenv("DUALLOOP_TARGET", raising=False)
        cfg = load_config(project=name)
        names = Names(cfg)
        LocalStack(cfg).provision()
        upsert_pipeline(cfg)
        sfn, sagemaker = boto3.client("stepfunctions"), boto3.client("sagemaker")
        execution = sfn.start_execution(
            stateMachineArn=names.state_machine_arn, name=f"run-{name}", input="{}"
        )
        arn = execution["executionArn"]
        execution_ended(arn, timeout=300)

        tmp = tmp_path_factory.mktemp("graph")
        write_dataset(generate_transactions(ROWS, seed=3), tmp / "data.csv")
        uri = stage_input(cfg, tmp / "data.csv", name)
        pipeline_arn = sagemaker.start_pipeline_execution(
            PipelineName=names.pipeline,
            PipelineExecutionDisplayName=f"run-{name}",  # as RunInnerPipeline names it
            PipelineParameters=[{"Name": "InputDataUri", "Value": uri}],
            ClientRequestToken=uuid.uuid4().hex,
        )["PipelineExecutionArn"]
        pipeline_ended(pipeline_arn, timeout=300)
        definition = tmp / "definition.json"
        definition.write_text(sagemaker.describe_pipeline(PipelineName=names.pipeline)["PipelineDefinition"])
        yield Run(cfg, arn, pipeline_arn, definition)


def _fills(svg: str) -> dict[str, str]:
    root = ET.fromstring(svg)
    return {
        g.get("data-id", ""): g.find(f"{SVG}rect").get("fill", "")  # type: ignore[union-attr]
        for g in root.iter(f"{SVG}g")
        if g.get("class") == "node"
    }


def _fill(status: Status) -> str:
    return STATUS_STYLES[status].fill


def test_the_statuses_of_an_execution_are_overlaid(run: Run, tmp_path: Path) -> None:
    # WHEN the graph of that execution is drawn
    out = tmp_path / "graph.svg"
    result = invoke("--execution", run.execution_arn, "--definition", str(run.definition), "--out", str(out))
    assert result.exit_code == 0, result.output
    svg = out.read_text()
    fills = _fills(svg)
    # THEN the outer states are coloured by the history ...
    assert fills["ValidateInput"] == _fill(Status.SUCCEEDED)
    assert fills["InvalidInput"] == _fill(Status.FAILED)
    assert fills["Ingest"] == _fill(Status.NOT_VISITED)
    # ... and the inner steps by the pipeline execution named after it
    for step in ("Preprocess", "Train", "Evaluate", "CheckQuality", "RegisterModel"):
        assert fills[step] in (_fill(Status.SUCCEEDED), _fill(Status.CACHED)), step
    assert fills["QualityGateFailed"] == _fill(Status.NOT_VISITED)
    assert run.pipeline_execution_arn.rsplit("/", 1)[-1] in svg
    assert f"run-{run.cfg.project}: FAILED" in svg


def test_the_latest_execution_is_found_and_the_definition_built(run: Run) -> None:
    # GIVEN no --execution and no --definition: the latest run, the pipeline from this checkout
    result = invoke("--format", "mermaid")
    assert result.exit_code == 0, result.output
    text = result.stdout
    assert text.startswith("flowchart TD\n")
    assert "class " in text and "outer_ValidateInput" in text
    succeeded = " ".join(line for line in text.splitlines() if line.strip().endswith(" succeeded"))
    assert "outer_ValidateInput" in succeeded and "inner_Train" in succeeded


def test_a_png_and_one_loop_only(run: Run, tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    out = tmp_path / "inner.png"
    result = invoke("--loop", "inner", "--definition", str(run.definition), "--out", str(out))
    assert result.exit_code == 0, result.output
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_an_unknown_execution_is_a_clear_error(run: Run) -> None:
    arn = run.execution_arn.rsplit(":", 1)[0] + ":no-such-run"
    result = invoke("--execution", arn, "--loop", "outer")
    assert result.exit_code == 2
    assert "no-such-run" in result.output


def test_without_statuses_nothing_is_coloured(run: Run) -> None:
    result = invoke("--no-statuses", "--loop", "outer", "--format", "svg")
    assert result.exit_code == 0, result.output
    assert set(_fills(result.stdout).values()) == {NEUTRAL.fill}


@pytest.mark.parametrize("picture", ["dual-loop.md", "dual-loop.svg"])
def test_the_pictures_in_docs_are_current(picture: str, tmp_path: Path) -> None:
    """docs/ shows the loops as they are: regenerate them (docs/README.md) when the ASL or the
    pipeline's steps change."""
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if not k.startswith(("DUALLOOP_", "AWS_ENDPOINT_URL"))}
    env["DUALLOOP_HOME"] = str(fresh_home(tmp_path / "home"))
    out = tmp_path / picture
    subprocess.run(
        [sys.executable, "-m", "shared.cli", "graph", "--no-statuses", "--out", str(out)],
        env=env,
        check=True,
        capture_output=True,
        timeout=300,
    )
    committed = Path(__file__).resolve().parents[2] / "docs" / picture
    assert out.read_text() == committed.read_text(), (
        f"docs/{picture} is stale: regenerate it with "
        f"`.venv/bin/dualloop graph --no-statuses --out docs/{picture}`"
    )

"""``dualloop demo``: the whole dual loop on a local cloud started for it, then sample predictions.

Data → Glue ingest → DQDL quality gate → the inner pipeline → approval by the demo's explicit
policy (approve what passed the pipeline's quality gate) → blue/green deployment → a few
held-out transactions scored by the deployed endpoint. The summary says where the time went,
so a slow machine shows which phase to blame.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from typing import Any

import boto3
import typer
from rich.console import Console
from rich.table import Table

from outer_orchestrator import cli as outer_cli
from outer_orchestrator.runner import Retrain, RunResult
from shared.cli_support import local_cloud_for_command
from shared.config import DualloopConfig
from shared.demo_data import generate_transactions
from shared.naming import Names

# The retrain's states, grouped the way a reader thinks of the loop.
_STAGES: dict[str, frozenset[str]] = {
    "ingest (Glue; includes Spark's start)": frozenset({"Ingest"}),
    "data quality (Glue, DQDL)": frozenset({"DataQuality", "ReadQualityReport", "QualityPassed"}),
    "inner pipeline (SageMaker Pipeline)": frozenset({"RunInnerPipeline"}),
    "approval": frozenset({"AwaitApproval"}),
    "deployment (blue/green)": frozenset(
        {"CreateModel", "NameEndpointConfig", "CreateEndpointConfig", "FindEndpoint", "MarkDeployed"}
    )
    | Retrain.DEPLOYING_STATES,
}
SAMPLE_ROWS = 5


@dataclass
class Timings:
    phases: dict[str, float] = field(default_factory=dict)

    @contextmanager
    def phase(self, name: str) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:
            self.phases[name] = round(time.perf_counter() - started, 2)


def run_demo(cfg: DualloopConfig, rows: int, as_json: bool, console: Console) -> bool:
    """Run the demo; True if the retrain succeeded and the endpoint answered."""
    timings = Timings()
    started = time.perf_counter()
    with ExitStack() as stack:
        with timings.phase("local cloud start"):
            local_cloud_for_command(stack, warm=True)
        with timings.phase("provision (state machine, Lambdas, Glue jobs, pipeline)"):
            outer_cli.provision_local(cfg)
        with timings.phase(f"demo data ({rows} rows)"):
            raw_uri = outer_cli.stage_data(cfg, None, rows, run_id := uuid.uuid4().hex[:12])
        with timings.phase("retrain (the outer loop)"):
            result = outer_cli.start_and_follow(cfg, raw_uri, run_id, "auto", as_json)
        predictions: list[dict[str, Any]] = []
        if result.status == "SUCCEEDED":
            with timings.phase("sample predictions"):
                predictions = sample_predictions(cfg)
        stop_started = time.perf_counter()
    timings.phases["local cloud stop"] = round(time.perf_counter() - stop_started, 2)
    total = round(time.perf_counter() - started, 2)
    ok = result.status == "SUCCEEDED" and bool(predictions)
    if as_json:
        document = {
            "retrain": result.as_dict(),
            "predictions": predictions,
            "seconds": {"total": total, "phases": timings.phases, "retrain_stages": stages(result)},
        }
        typer.echo(json.dumps(document, default=str, indent=2))
        return ok
    outer_cli.summarise(result, as_json=False)
    if predictions:
        console.print(predictions_table(predictions))
    console.print(timings_table(timings, result, total))
    if ok:
        console.print(
            "\nNext: keep a cloud up with `dualloop local up`, then `dualloop status`, "
            "`dualloop invoke --body ...`, `dualloop drift simulate 1.0`, "
            "`dualloop graph --out loops.svg` (see the README)."
        )
    return ok


def sample_predictions(cfg: DualloopConfig, rows: int = SAMPLE_ROWS) -> list[dict[str, Any]]:
    """Score a few fresh transactions (a seed the training data never used) on the endpoint."""
    sample = generate_transactions(rows, seed=20_251_124)
    features = cfg.dataset.feature_names
    body = sample[features].to_csv(header=False, index=False)
    runtime = boto3.client("sagemaker-runtime", region_name=cfg.region)
    response = runtime.invoke_endpoint(
        EndpointName=Names(cfg).endpoint,
        Body=body.encode(),
        ContentType="text/csv",
        Accept="application/json",
    )
    scored = json.loads(response["Body"].read())["predictions"]
    return [
        {
            "transaction_id": row[cfg.dataset.id_column],
            "amount": float(row["amount"]),
            "merchant_category": row["merchant_category"],
            "is_fraud": int(row[cfg.dataset.target_column]),
            "score": round(float(p["score"]), 4),
            "label": int(p["label"]),
            "variant": response.get("InvokedProductionVariant"),
        }
        for (_, row), p in zip(sample.iterrows(), scored, strict=True)
    ]


def stages(result: RunResult) -> dict[str, float]:
    """Seconds the retrain spent per stage (state durations summed)."""
    totals = dict.fromkeys(_STAGES, 0.0)
    for state in result.states:
        for stage, names in _STAGES.items():
            if state["name"] in names:
                totals[stage] += state["seconds"]
    return {stage: round(seconds, 2) for stage, seconds in totals.items()}


def predictions_table(predictions: list[dict[str, Any]]) -> Table:
    table = Table("transaction", "amount", "merchant", "actual", "fraud score", title="sample predictions")
    for p in predictions:
        table.add_row(
            str(p["transaction_id"]),
            f"{p['amount']:.2f}",
            p["merchant_category"],
            "fraud" if p["is_fraud"] else "ok",
            f"{p['score']:.4f}" + (" (fraud)" if p["label"] else ""),
        )
    return table


def timings_table(timings: Timings, result: RunResult, total: float) -> Table:
    table = Table("phase", "seconds", title=f"where the {total:.1f} s went")
    for name, seconds in timings.phases.items():
        table.add_row(name, f"{seconds:.2f}")
        if name.startswith("retrain"):
            for stage, stage_seconds in stages(result).items():
                table.add_row(f"  {stage}", f"{stage_seconds:.2f}")
    return table

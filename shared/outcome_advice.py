"""What to do after a failed retrain: the error a failed outer-loop execution ends with (the
names the ASL's Fail states and task integrations raise) turned into the next thing to do.

Pure (no AWS calls, no printing); the CLI prints it after a retrain's summary.
"""

from __future__ import annotations

import json
import re
from typing import Any

from shared.user_errors import RULESET, capitalised

# How the local Glue runner words a run whose Spark driver died (outer_orchestrator/glue/local_worker.py).
SPARK_DRIVER_STOPPED = "the local Spark driver (JVM) stopped"

_OUTCOMES = {
    "DataQualityFailed": (
        "The data failed the quality gate and no pipeline ran: fix the data, or the ruleset "
        f"{RULESET} if a rule is wrong, and run again."
    ),
    "ModelNotApproved": (
        "Nothing was deployed because the model was rejected or nobody approved it within "
        "approval_timeout_seconds: `dualloop status` shows the reason, and `dualloop run` retrains."
    ),
    "ModelRejected": (
        "Nothing was deployed because the model was rejected: `dualloop status` shows the reason, "
        "and `dualloop run` retrains."
    ),
    "DeploymentRolledBack": (
        "An endpoint alarm fired during the blue/green bake, so the previous model still serves: "
        "`dualloop status` shows which (the endpoint's FailureReason); the 5XX alarm means the new model failed "
        "on requests (its log names the exception; clients' malformed requests are 4XX and never fire it), "
        "the latency alarm that it answered too slowly: fix that in the model and retrain."
    ),
    "DeploymentFailed": (
        "The endpoint did not reach InService on the new model (the previous one, if any, still serves): "
        "read its FailureReason with `dualloop status`, fix the model or its instance settings and run again."
    ),
    "InvalidInput": (
        "The retrain was started with an input that is not a RetrainInput: start retrains with "
        "`dualloop run` or the deployed EventBridge rules."
    ),
    "NoModelRegistered": (
        "The pipeline succeeded but registered no model package: check the RegisterModel step in "
        "inner_pipeline/pipeline.py (`dualloop inner run` shows each step) and run again."
    ),
}

_SERVICES = {
    "Glue": "a Glue job of the stack could not run",
    "Lambda": "a Lambda function of the stack failed",
    "SageMaker": "a SageMaker call of the retrain failed",
    "DynamoDB": "the retrain lock table could not be used",
    "SNS": "a notification could not be sent",
    "S3": "an S3 object of the retrain could not be read",
}


def explain_outcome(error: str | None, cause: str | None) -> str | None:
    """The next step after a failed retrain, in one sentence; None when there is no error."""
    if not error:
        return None
    cause = (cause or "").strip()
    if error in _OUTCOMES:
        return _OUTCOMES[error]
    if error == "InnerPipelineFailed":
        return _inner_failure(cause)
    if error == "RetrainFailed":  # a States.* error, renamed by ClassifyFailure: "States.X: cause"
        states_error, _, states_cause = cause.partition(": ")
        return _states_failure(states_error, states_cause)
    if error.startswith("States."):
        return _states_failure(error, cause)
    service = error.split(".", 1)[0]
    if service in _SERVICES:
        return (
            f"{capitalised(_SERVICES[service])} ({error}): check that the stack is deployed and its roles "
            "allow the call (`make deploy`), read the state's error in `dualloop status`, and run again."
        )
    return (
        f"The retrain failed with {error}: `dualloop status` and the execution's history show where; "
        "fix that and run again."
    )


def _inner_failure(cause: str) -> str:
    match = re.match(r"step (\w+) failed: ", cause)
    step = match.group(1) if match else ""
    if step in ("CheckQuality", "QualityGateFailed"):  # the condition, or the Fail step it leads to
        return (
            "The model missed the quality gate, so nothing was registered: improve the data or the "
            "hyperparameters (try them with `dualloop inner run --param ...`), or change quality.threshold "
            "if it is too strict, and run again."
        )
    if step == "Preprocess" and re.search(
        r"target column '[^']*' must be|binary target|multiclass target", cause
    ):
        return (
            "The target does not fit dataset.problem_type (binary, multiclass or regression): set the "
            "problem type your target has in config, or fix the value the reason names, and run again."
        )
    if step == "Preprocess":
        return "The pipeline rejected the training data: fix what the reason names in the data and run again."
    if step:
        return (
            f"Pipeline step {step} failed: fix what the reason says in inner_pipeline/ (iterate with "
            "`dualloop inner run`) and run again."
        )
    return "The inner pipeline failed: `dualloop inner run` reproduces it step by step; fix it and run again."


def _states_failure(error: str, cause: str) -> str:
    if error == "States.Timeout":
        return (
            "A step ran past its timeout (the pipeline's is pipeline_timeout_seconds): `dualloop status` "
            "shows which, so find what hung or raise the timeout, and run again."
        )
    job = _glue_job_run(cause)
    if job is not None:
        name, message = str(job.get("JobName", "")), str(job.get("ErrorMessage", "")).strip()
        if SPARK_DRIVER_STOPPED in message:  # the runtime failed, not the data or the ruleset
            return (
                f"Glue job {name} failed because {SPARK_DRIVER_STOPPED} (killed, or out of memory): run again, "
                "a new Spark driver starts; if it keeps stopping, free memory or use fewer rows (--rows)."
            )
        if name.endswith("-ingest"):
            return (
                f"Ingest failed on the raw data ({message or 'the Glue job failed'}): check that the raw data "
                "(--data, or the raw bucket's watched prefix for scheduled and drift retrains) holds CSV, JSON "
                "or Parquet files with the dataset's columns, and run again."
            )
        if name.endswith("-data-quality"):
            return (
                f"The data-quality job failed ({message or 'the job failed'}): check the ruleset {RULESET} "
                "and the curated data, and run again."
            )
        return f"Glue job {name} failed ({message}): fix what it names and run again."
    if error in ("States.TaskFailed", "States.ALL", "States.Runtime"):
        return (
            "A task of the retrain failed (the cause names it, and `dualloop status` shows the failed "
            "state): fix that and run again."
        )
    return (
        f"The retrain failed with {error}: `dualloop status` and the execution's history show where; "
        "fix that and run again."
    )


def _glue_job_run(cause: str) -> dict[str, Any] | None:
    """A Glue job run, as a failed ``glue:startJobRun.sync`` task reports it."""
    if not cause.startswith("{"):
        return None
    try:
        data = json.loads(cause)
    except ValueError:
        return None
    return data if isinstance(data, dict) and "JobName" in data else None

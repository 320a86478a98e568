"""The pipeline role with ``tuning.enabled``: the tuning statements, scoped by tags, as the
local cloud's IAM evaluator (the one that authorizes the pipeline's jobs) decides them.

What this proves: a tuned stack's role may create, follow and stop only tuning jobs tagged with
its project and stage (cdk-nag passes with the wildcard acknowledged); an untuned stack's role
may not create one at all, so the local cloud refuses a tuning step there as AWS would. What it
cannot prove: AWS's own evaluation of the tag conditions (the local evaluator follows AWS's
policy evaluation logic; a deploy is the final judge).
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

import pytest
from synth_support import Resolver, Synth, role_statements

from shared.local_cloud.iam.policy import Decision, Policy, Request, evaluate

if TYPE_CHECKING:
    from shared.config import DualloopConfig


@pytest.fixture(scope="module")
def tuned_cfg() -> DualloopConfig:
    from shared.config import load_config

    saved = {k: os.environ.pop(k) for k in list(os.environ) if k.startswith("DUALLOOP_")}
    try:
        return load_config(stage="dev", project="tunedstack", tuning={"enabled": True})
    finally:
        os.environ.update(saved)


@pytest.fixture(scope="module")
def tuned_synth(tuned_cfg: DualloopConfig, tmp_path_factory: pytest.TempPathFactory) -> Synth:
    """Synthesized with cdk-nag on: an unacknowledged finding fails the synthesis."""
    from infra.app import create_app

    outdir = tmp_path_factory.mktemp("cdk.out.tuned")
    app, stack = create_app(cfg=tuned_cfg, outdir=str(outdir), nag=True, validation=False, pipeline=None)
    template = app.synth().get_stack_by_name(stack.stack_name).template
    return Synth(template=template, outdir=outdir, stack=stack)


def _role_policy(synth: Synth, cfg: DualloopConfig) -> tuple[Policy, list[dict[str, Any]]]:
    from shared.naming import Names

    stmts = role_statements(
        synth, Resolver(synth.template, cfg.account_id, cfg.region), Names(cfg).sagemaker_role
    )
    return Policy.parse({"Version": "2012-10-17", "Statement": stmts}), stmts


def _create(cfg: DualloopConfig, tags: dict[str, str]) -> Request:
    """CreateHyperParameterTuningJob as the local cloud describes a pipeline's (see worker.py)."""
    arn = f"arn:aws:sagemaker:{cfg.region}:{cfg.account_id}:hyper-parameter-tuning-job/abc123-train-x1y2"
    context = {f"aws:RequestTag/{k}": [v] for k, v in tags.items()}
    return Request("sagemaker:CreateHyperParameterTuningJob", (arn,), {**context, "aws:TagKeys": list(tags)})


def test_a_tuned_stacks_role_may_create_and_follow_its_own_tuning_jobs_only(
    tuned_synth: Synth, tuned_cfg: DualloopConfig
) -> None:
    policy, stmts = _role_policy(tuned_synth, tuned_cfg)
    jobs = f"arn:aws:sagemaker:{tuned_cfg.region}:{tuned_cfg.account_id}:hyper-parameter-tuning-job/*"
    tuning = {s["Sid"]: s for s in stmts if s.get("Sid", "").startswith("PipelineTuning")}
    assert tuning == {
        "PipelineTuningCreate": {
            "Sid": "PipelineTuningCreate",
            "Effect": "Allow",
            "Action": ["sagemaker:AddTags", "sagemaker:CreateHyperParameterTuningJob"],
            "Resource": [jobs],
            "Condition": {
                "StringEquals": {
                    "aws:RequestTag/dualloop:project": "tunedstack",
                    "aws:RequestTag/dualloop:stage": "dev",
                }
            },
        },
        "PipelineTuningFollow": {
            "Sid": "PipelineTuningFollow",
            "Effect": "Allow",
            "Action": [
                "sagemaker:DescribeHyperParameterTuningJob",
                "sagemaker:ListTrainingJobsForHyperParameterTuningJob",
                "sagemaker:StopHyperParameterTuningJob",
            ],
            "Resource": [jobs],
            "Condition": {
                "StringEquals": {
                    "aws:ResourceTag/dualloop:project": "tunedstack",
                    "aws:ResourceTag/dualloop:stage": "dev",
                }
            },
        },
    }
    # The pipeline's own tuning job (tagged as the step tags it) is allowed ...
    own = {"dualloop:project": "tunedstack", "dualloop:stage": "dev"}
    assert evaluate([policy], _create(tuned_cfg, own)) is Decision.ALLOW
    # ... another project's, another stage's or an untagged one is not
    assert (
        evaluate([policy], _create(tuned_cfg, {**own, "dualloop:project": "other"})) is Decision.IMPLICIT_DENY
    )
    assert evaluate([policy], _create(tuned_cfg, {**own, "dualloop:stage": "prod"})) is Decision.IMPLICIT_DENY
    assert evaluate([policy], _create(tuned_cfg, {})) is Decision.IMPLICIT_DENY


def test_an_untuned_stacks_role_may_not_create_a_tuning_job(
    custom_synth: Synth, custom_cfg: DualloopConfig
) -> None:
    assert custom_cfg.tuning.enabled is False
    policy, stmts = _role_policy(custom_synth, custom_cfg)
    assert not [s for s in stmts if "HyperParameterTuningJob" in str(s["Action"])]
    tags = {"dualloop:project": custom_cfg.project, "dualloop:stage": custom_cfg.stage.value}
    assert evaluate([policy], _create(custom_cfg, tags)) is Decision.IMPLICIT_DENY

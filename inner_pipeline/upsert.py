"""Create or update the inner pipeline wherever ``AWS_ENDPOINT_URL`` points (local cloud or AWS).

This is the data scientist's ``pipeline.upsert(...)``, with the role and names the
platform team's stack uses, so the outer loop starts the very pipeline defined here.
"""

from __future__ import annotations

import boto3

from shared.config import DualloopConfig
from shared.naming import Names


def upsert_pipeline(cfg: DualloopConfig, boto_session: boto3.Session | None = None) -> str:
    """Upsert the pipeline; returns its ARN."""
    from inner_pipeline.pipeline import build_pipeline, pipeline_session

    names = Names(cfg)
    session = pipeline_session(cfg, boto_session or boto3.Session(region_name=cfg.region))
    response = build_pipeline(cfg, session).upsert(
        role_arn=names.sagemaker_role_arn,
        description=f"dualloop inner loop ({cfg.project}, {cfg.stage.value})",
    )
    arn: str = response["PipelineArn"]
    return arn

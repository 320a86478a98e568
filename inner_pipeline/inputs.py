"""The inner loop's input, staged from local files for a run without the outer loop."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import boto3

from shared.config import DualloopConfig
from shared.data_upload import upload
from shared.naming import Names


def stage_input(cfg: DualloopConfig, source: Path, run_id: str, s3: Any = None) -> str:
    """Copy a local file or folder of data to the curated bucket, ``manual/<run id>/``; its URI.

    The curated bucket, not the raw one: it is what the pipeline reads (Ingest writes there),
    and all its role may read (the SageMaker role has no access to raw data).
    """
    return upload(source, Names(cfg).curated_bucket, f"manual/{run_id}/", s3 or boto3.client("s3"))

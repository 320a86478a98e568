"""Local data files to S3, for the two loops' entry points (each names its own bucket)."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def check_data_path(source: Path) -> list[Path]:
    """The files of a local file or folder of data; FileNotFoundError if there are none."""
    if not source.exists():
        raise FileNotFoundError(f"no data at {source}")
    files = [source] if source.is_file() else sorted(p for p in source.rglob("*") if p.is_file())
    if not files:
        raise FileNotFoundError(f"{source} holds no files")
    return files


def upload(source: Path, bucket: str, prefix: str, s3: Any) -> str:
    """Copy a local file or folder under ``s3://bucket/prefix``; returns that URI."""
    for file in check_data_path(source):
        relative = file.name if source.is_file() else str(file.relative_to(source))
        s3.upload_file(str(file), bucket, prefix + relative)
    return f"s3://{bucket}/{prefix}"

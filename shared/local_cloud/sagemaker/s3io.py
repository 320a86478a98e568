"""S3 transfers with SageMaker's conventions (no business logic; the client is passed in)."""

from __future__ import annotations

import json
import os
import tarfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from shared.local_cloud.sagemaker.errors import StepFailure

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


def split_uri(uri: str) -> tuple[str, str]:
    if not isinstance(uri, str) or not uri.startswith("s3://"):
        raise StepFailure(f"ClientError: not an S3 URI: {uri!r}")
    bucket, _, key = uri[5:].partition("/")
    if not bucket:
        raise StepFailure(f"ClientError: not an S3 URI: {uri!r}")
    return bucket, key


def denied_download(exc: ClientError, uri: str, action: str) -> StepFailure:
    """A read the job's role may not make (or of nothing), as the job's FailureReason. A HEAD
    answers a bare status (botocore's code "403"), so the S3 error is named from it."""
    code = str(exc.response.get("Error", {}).get("Code", ""))
    code = {"403": "AccessDenied", "404": "NoSuchKey"}.get(code, code)
    why = f"the job's role may not {action} it" if code == "AccessDenied" else "it cannot be read"
    return StepFailure(f"ClientError: Failed to download data from {uri}: {code} ({why})")


def list_keys(s3: S3Client, uri: str) -> list[str]:
    bucket, prefix = split_uri(uri)
    keys: list[str] = []
    try:
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            keys.extend(obj["Key"] for obj in page.get("Contents", []) if not obj["Key"].endswith("/"))
    except ClientError as exc:
        raise denied_download(exc, uri, "s3:ListBucket") from None
    return sorted(keys)


def relative_name(key: str, prefix: str) -> str:
    """Where S3Prefix input ``key`` lands under the local path (SageMaker's layout): an exact
    object match keeps its file name; keys under a "directory" prefix keep the rest of the key."""
    if key == prefix:
        return key.rsplit("/", 1)[-1]
    if prefix.endswith("/") or key[len(prefix) : len(prefix) + 1] == "/":
        return key[len(prefix) :].lstrip("/")
    parent = prefix.rsplit("/", 1)[0] + "/" if "/" in prefix else ""
    return key[len(parent) :]


def download_prefix(
    s3: S3Client, uri: str, dest: Path, *, shard: tuple[int, int] | None = None
) -> list[Path]:
    """Download every object under ``uri`` into ``dest``; with ``shard=(i, n)`` only instance
    i's share of the sorted keys (ShardedByS3Key: key j goes to instance j mod n)."""
    bucket, prefix = split_uri(uri)
    keys = list_keys(s3, uri)
    if shard is not None:
        index, count = shard
        keys = keys[index::count]
    dest.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for key in keys:
        target = dest / relative_name(key, prefix)
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            s3.download_file(bucket, key, str(target))
        except ClientError as exc:
            raise denied_download(exc, f"s3://{bucket}/{key}", "s3:GetObject") from None
        written.append(target)
    return written


def upload_dir(s3: S3Client, src: Path, uri: str) -> int:
    """Upload every file under ``src`` to ``uri``/<relative path>; returns the file count."""
    bucket, prefix = split_uri(uri)
    prefix = prefix.rstrip("/")
    count = 0
    if not src.is_dir():
        return 0
    for path in sorted(p for p in src.rglob("*") if p.is_file()):
        key = "/".join(part for part in (prefix, path.relative_to(src).as_posix()) if part)
        s3.upload_file(str(path), bucket, key)
        count += 1
    return count


def upload_file(s3: S3Client, path: Path, uri: str) -> None:
    bucket, key = split_uri(uri)
    s3.upload_file(str(path), bucket, key)


def read_json(s3: S3Client, uri: str) -> Any:
    bucket, key = split_uri(uri)
    try:
        body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    except s3.exceptions.NoSuchKey:
        raise StepFailure(f"ClientError: {uri} does not exist") from None
    try:
        return json.loads(body)
    except json.JSONDecodeError as exc:
        raise StepFailure(f"ClientError: {uri} is not JSON: {exc}") from None


def tar_dir(src: Path, target: Path) -> Path:
    """``src``'s contents as a gzipped tarball with relative member names (as SageMaker packs
    /opt/ml/model into model.tar.gz)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(target, "w:gz") as archive:
        for path in sorted(src.rglob("*")):
            archive.add(path, arcname=path.relative_to(src).as_posix(), recursive=False)
    return target


def extract_tar(archive_path: Path, dest: Path) -> None:
    dest.mkdir(parents=True, exist_ok=True)
    with tarfile.open(archive_path) as archive:
        archive.extractall(dest, filter="data")  # refuses absolute paths and links out of dest


def has_files(path: Path) -> bool:
    return path.is_dir() and any(p.is_file() for p in path.rglob("*"))


def ensure_dir(path: Path) -> Path:
    os.makedirs(path, exist_ok=True)
    return path

"""Local paths and ``s3://`` URIs for the Glue job scripts, on AWS Glue and locally.

On Glue, Spark reads and writes ``s3://`` itself (EMRFS), so URIs pass straight through.
Locally there is no Hadoop S3 connector: :func:`spark_input` stages an S3 prefix into a
temporary directory and :func:`spark_output` uploads what Spark wrote there. Which case
applies is asked of Hadoop (is there a FileSystem for ``s3``?), not guessed from the
environment. Small objects (rulesets, reports, manifests) always go through boto3, whose
client honours ``AWS_ENDPOINT_URL``, so the same code talks to S3 or to the local cloud.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from pyspark.sql import SparkSession

__all__ = [
    "is_s3",
    "join_uri",
    "list_files",
    "read_text",
    "spark_input",
    "spark_output",
    "spark_reads_s3",
    "split_s3",
    "write_text",
]

_S3 = "s3://"


def is_s3(uri: str) -> bool:
    return uri.startswith(_S3)


def split_s3(uri: str) -> tuple[str, str]:
    """``s3://bucket/a/b`` -> ``("bucket", "a/b")``."""
    if not is_s3(uri):
        raise ValueError(f"not an s3:// URI: {uri!r}")
    bucket, _, key = uri[len(_S3) :].partition("/")
    if not bucket:
        raise ValueError(f"no bucket in {uri!r}")
    return bucket, key


def join_uri(base: str, *parts: str) -> str:
    return "/".join([base.rstrip("/"), *(p.strip("/") for p in parts)])


def _client(s3: S3Client | None) -> S3Client:
    if s3 is not None:
        return s3
    import boto3

    return boto3.client("s3")


def spark_reads_s3(spark: SparkSession) -> bool:
    """Whether this Spark's Hadoop has a FileSystem for ``s3://`` (true on Glue, false in pip pyspark)."""
    jvm: Any = spark.sparkContext._jvm
    conf = spark.sparkContext._jsc.hadoopConfiguration()  # type: ignore[union-attr]
    try:
        jvm.org.apache.hadoop.fs.FileSystem.getFileSystemClass("s3", conf)
    except Exception:  # py4j wraps Hadoop's UnsupportedFileSystemException
        return False
    return True


def _s3_objects(uri: str, s3: S3Client) -> tuple[str, list[str]]:
    """The keys ``uri`` names: the object itself, or every object under it as a prefix."""
    from botocore.exceptions import ClientError

    bucket, key = split_s3(uri)
    if key and not key.endswith("/"):
        try:
            s3.head_object(Bucket=bucket, Key=key)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") not in ("404", "NoSuchKey", "NotFound"):
                raise
        else:
            return key.rsplit("/", 1)[0] + "/" if "/" in key else "", [key]
    prefix = key if not key or key.endswith("/") else key + "/"
    keys: list[str] = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        keys.extend(obj["Key"] for obj in page.get("Contents", []) if not obj["Key"].endswith("/"))
    return prefix, sorted(keys)


def list_files(uri: str, *, s3: S3Client | None = None) -> list[str]:
    """Every file ``uri`` names (itself, or everything under it), as URIs/paths, sorted."""
    if is_s3(uri):
        bucket, _ = split_s3(uri)
        _, keys = _s3_objects(uri, _client(s3))
        return [f"{_S3}{bucket}/{k}" for k in keys]
    path = Path(uri)
    if path.is_file():
        return [str(path)]
    if not path.is_dir():
        return []
    return sorted(str(p) for p in path.rglob("*") if p.is_file())


@contextmanager
def spark_input(spark: SparkSession, uri: str, *, s3: S3Client | None = None) -> Iterator[str]:
    """A location Spark can read for ``uri``: ``uri`` itself, or a temporary local copy.

    Spark is lazy: finish every action on the data before leaving the block.
    """
    if not is_s3(uri) or spark_reads_s3(spark):
        yield uri
        return
    client = _client(s3)
    bucket, _ = split_s3(uri)
    prefix, keys = _s3_objects(uri, client)
    tmp = tempfile.mkdtemp(prefix="dualloop-s3-in-")
    try:
        for key in keys:
            target = Path(tmp, key[len(prefix) :])
            target.parent.mkdir(parents=True, exist_ok=True)
            client.download_file(bucket, key, str(target))
        single = len(keys) == 1 and keys[0] == split_s3(uri)[1]
        yield str(Path(tmp, keys[0][len(prefix) :])) if single else tmp
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


@contextmanager
def spark_output(spark: SparkSession, uri: str, *, s3: S3Client | None = None) -> Iterator[str]:
    """A directory Spark can write ``uri`` to; a local staging copy is uploaded on success.

    Like Spark's ``mode("overwrite")``, objects already under the prefix are replaced.
    """
    if not is_s3(uri) or spark_reads_s3(spark):
        if not is_s3(uri):
            Path(uri).parent.mkdir(parents=True, exist_ok=True)
        yield uri
        return
    bucket, key = split_s3(uri)
    if not key.strip("/"):
        raise ValueError(f"refusing to write a data set at the root of bucket {bucket!r}: {uri}")
    client = _client(s3)
    tmp = tempfile.mkdtemp(prefix="dualloop-s3-out-")
    out = os.path.join(tmp, "out")
    try:
        yield out
        prefix = key.rstrip("/") + "/"
        _, existing = _s3_objects(f"{_S3}{bucket}/{prefix}", client)
        for old in existing:
            client.delete_object(Bucket=bucket, Key=old)
        for file in sorted(Path(out).rglob("*")):
            # .crc files are Hadoop's local checksums; S3 has its own.
            if file.is_file() and not file.name.endswith(".crc"):
                client.upload_file(str(file), bucket, prefix + file.relative_to(out).as_posix())
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def read_text(uri: str, *, s3: S3Client | None = None) -> str:
    if is_s3(uri):
        bucket, key = split_s3(uri)
        body = _client(s3).get_object(Bucket=bucket, Key=key)["Body"].read()
        return bytes(body).decode("utf-8")
    return Path(uri).read_text(encoding="utf-8")


def write_text(
    uri: str, text: str, *, content_type: str = "application/json", s3: S3Client | None = None
) -> None:
    if is_s3(uri):
        bucket, key = split_s3(uri)
        _client(s3).put_object(Bucket=bucket, Key=key, Body=text.encode("utf-8"), ContentType=content_type)
        return
    path = Path(uri)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")

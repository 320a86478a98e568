"""Package the container scripts to a content-addressed S3 location.

SageMaker caches a step when its arguments are unchanged. The SDK's own code upload
(``ModelTrainer(source_code=...)``, ``FrameworkProcessor``) writes to a timestamped or
job-named prefix on every build, so the arguments, and with them the cache key, change
even when no script did. Here the code directory becomes one deterministic tar.gz whose
SHA-256 names its S3 prefix::

    s3://<artifact bucket>/<artifact prefix>code/<sha256>/sourcedir.tar.gz   training, serving
    s3://<artifact bucket>/<artifact prefix>code/<sha256>/<file>             processing (unpacked)

Same files, same key; change one byte of one script and every key moves.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import tarfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

CODE_DIR = Path(__file__).resolve().parent / "code"
ARCHIVE_NAME = "sourcedir.tar.gz"
_EXCLUDED_DIRS = frozenset({"__pycache__", "tests", ".pytest_cache", ".mypy_cache", ".ruff_cache"})
_EXCLUDED_SUFFIXES = frozenset({".pyc", ".pyo"})
_EXCLUDED_NAMES = frozenset({".DS_Store"})


@dataclass(frozen=True)
class CodePackage:
    """The code directory's files (sorted POSIX paths) and their deterministic archive."""

    files: tuple[tuple[str, bytes], ...]
    archive: bytes
    # Over the *uncompressed* tar stream, so the key does not depend on the zlib build.
    sha256: str


@dataclass(frozen=True)
class CodeLocation:
    """Where a ``CodePackage`` lives in S3."""

    bucket: str
    prefix: str  # "<artifact prefix>code/<sha256>/"
    sha256: str

    @property
    def uri(self) -> str:
        """The prefix as an S3 URI, with a trailing slash (a processing input mounts it whole)."""
        return f"s3://{self.bucket}/{self.prefix}"

    @property
    def source_dir_uri(self) -> str:
        return self.uri + ARCHIVE_NAME

    def file_uri(self, relative_path: str) -> str:
        return self.uri + relative_path


def _included(path: Path, root: Path) -> bool:
    rel = path.relative_to(root)
    return (
        path.is_file()
        and not any(part in _EXCLUDED_DIRS for part in rel.parts[:-1])
        and path.suffix not in _EXCLUDED_SUFFIXES
        and path.name not in _EXCLUDED_NAMES
    )


def collect_files(code_dir: Path = CODE_DIR) -> tuple[tuple[str, bytes], ...]:
    """Every file to ship, as (POSIX path relative to ``code_dir``, bytes), sorted by path."""
    if not code_dir.is_dir():
        raise FileNotFoundError(f"code directory {code_dir} does not exist")
    files = sorted(
        (p.relative_to(code_dir).as_posix(), p.read_bytes())
        for p in code_dir.rglob("*")
        if _included(p, code_dir)
    )
    if not files:
        raise ValueError(f"code directory {code_dir} holds no files to package")
    return tuple(files)


def _tar(files: Iterable[tuple[str, bytes]]) -> bytes:
    """An uncompressed tar whose bytes depend only on the files' paths and contents."""
    buf = io.BytesIO()
    # USTAR: no PAX headers, which would carry access times and the like.
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for name, data in files:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mtime = 0
            info.mode = 0o644
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def _gzip(data: bytes) -> bytes:
    buf = io.BytesIO()
    # filename="" and mtime=0 keep the gzip header free of the build's path and time.
    with gzip.GzipFile(filename="", mode="wb", fileobj=buf, mtime=0, compresslevel=9) as gz:
        gz.write(data)
    return buf.getvalue()


def package_code(code_dir: Path = CODE_DIR) -> CodePackage:
    """Package ``code_dir`` (no ``__pycache__``, ``*.pyc`` or ``tests``) deterministically."""
    files = collect_files(code_dir)
    tar = _tar(files)
    return CodePackage(files=files, archive=_gzip(tar), sha256=hashlib.sha256(tar).hexdigest())


def code_location(package: CodePackage, bucket: str, artifact_prefix: str) -> CodeLocation:
    """The content-addressed location of ``package``; nothing is uploaded."""
    prefix = (
        artifact_prefix if not artifact_prefix or artifact_prefix.endswith("/") else artifact_prefix + "/"
    )
    return CodeLocation(bucket=bucket, prefix=f"{prefix}code/{package.sha256}/", sha256=package.sha256)


def object_exists(s3: S3Client, bucket: str, key: str) -> bool:
    """Whether ``s3://bucket/key`` exists (a missing object is False; any other error raises)."""
    from botocore.exceptions import ClientError

    try:
        s3.head_object(Bucket=bucket, Key=key)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in {"404", "NoSuchKey", "NotFound"}:
            return False
        raise
    return True


def upload_code(package: CodePackage, s3: S3Client, bucket: str, artifact_prefix: str) -> CodeLocation:
    """Upload ``package`` to its content-addressed prefix unless it is already there.

    The archive is written last and is the marker: once it exists, every file before it
    does too, so a later build only asks S3 one HeadObject. An interrupted upload is simply
    repeated (the keys are content-addressed, so rewriting them changes nothing).
    """
    location = code_location(package, bucket, artifact_prefix)
    if object_exists(s3, bucket, location.prefix + ARCHIVE_NAME):
        return location
    for name, data in package.files:
        s3.put_object(Bucket=bucket, Key=location.prefix + name, Body=data)
    s3.put_object(
        Bucket=bucket,
        Key=location.prefix + ARCHIVE_NAME,
        Body=package.archive,
        ContentType="application/gzip",
    )
    return location

"""Where a SageMaker model's artifact and inference code come from, fetched to local folders.

A model names either a model package (``PrimaryContainer.ModelPackageName``, what the outer
loop creates) whose ``InferenceSpecification.Containers[0]`` holds ``ModelDataUrl`` and
``Environment``, or carries ``ModelDataUrl`` itself; the model's own ``Environment`` wins
over the package's. The artifact is a ``model.tar.gz`` (extracted, as SageMaker does into
``/opt/ml/model``). The code is ``SAGEMAKER_SUBMIT_DIRECTORY`` (an S3 ``sourcedir.tar.gz`` or
a local folder) running ``SAGEMAKER_PROGRAM``; a model without it is served with the repo's
``inner_pipeline/code`` (on AWS the code would be baked into the image).
"""

from __future__ import annotations

import hashlib
import tarfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3

from shared.local_cloud import accounts, backend_state
from shared.local_cloud.hosting.model_server import DEFAULT_PROGRAM
from shared.local_cloud.iam import sessions
from shared.local_cloud.patches import iam_enforcement
from shared.local_cloud.sagemaker.algorithms import BUILTIN_XGBOOST, is_builtin_xgboost

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_sagemaker import SageMakerClient

REPO_CODE_DIR = Path(__file__).resolve().parents[3] / "inner_pipeline" / "code"


class ArtifactError(RuntimeError):
    """The model cannot be served as described; the message is a FailureReason."""


@dataclass(frozen=True)
class LocalModel:
    name: str
    model_dir: Path
    code_dir: Path
    program: str
    environment: dict[str, str]


class ArtifactStore:
    """Fetches artifacts and code once per (S3 URI, ETag) into ``root``."""

    def __init__(self, sagemaker: SageMakerClient, s3: S3Client, root: Path) -> None:
        self._sagemaker = sagemaker
        self._s3 = s3
        self._root = root
        self._lock = threading.Lock()
        self._by_account: dict[str, SageMakerClient] = {}

    def _sagemaker_in(self, account_id: str | None) -> SageMakerClient:
        """SageMaker of the endpoint's account (several accounts share one local cloud)."""
        if account_id is None:
            return self._sagemaker
        with self._lock:
            if account_id not in self._by_account:
                self._by_account[account_id] = accounts.client_for(account_id, self._sagemaker)
            return self._by_account[account_id]

    def model(self, model_name: str, account_id: str | None = None) -> LocalModel:
        sagemaker = self._sagemaker_in(account_id)
        try:
            described: Any = sagemaker.describe_model(ModelName=model_name)
            container = described.get("PrimaryContainer") or (described.get("Containers") or [{}])[0]
            package: Any = (
                sagemaker.describe_model_package(ModelPackageName=container["ModelPackageName"])
                if container.get("ModelPackageName")
                else None
            )
        except Exception as exc:  # botocore's ClientError and friends: the model cannot be served
            raise ArtifactError(f"cannot describe model {model_name}: {exc}") from None
        environment: dict[str, str] = {}
        spec: Any = {}
        data_url = container.get("ModelDataUrl")
        if package is not None:
            spec = ((package.get("InferenceSpecification") or {}).get("Containers") or [{}])[0]
            data_url = data_url or spec.get("ModelDataUrl")
            environment.update(spec.get("Environment") or {})
        environment.update(container.get("Environment") or {})
        if not data_url:
            raise ArtifactError(f"model {model_name} has no ModelDataUrl (on itself or its model package)")
        reader = self._reader(data_url, account_id, described.get("ExecutionRoleArn"))
        submit = environment.get("SAGEMAKER_SUBMIT_DIRECTORY")
        program = environment.get("SAGEMAKER_PROGRAM")
        image = container.get("Image") or (spec.get("Image") if package is not None else None)
        if not program and is_builtin_xgboost(image):
            # The built-in algorithm's own serving (no inference script): see sagemaker/algorithms.
            return LocalModel(
                model_name, self._fetch(data_url, reader), REPO_CODE_DIR, BUILTIN_XGBOOST, environment
            )
        return LocalModel(
            name=model_name,
            model_dir=self._fetch(data_url, reader),
            code_dir=self._code_dir(submit),
            program=program or DEFAULT_PROGRAM,
            environment=environment,
        )

    def _code_dir(self, submit: str | None) -> Path:
        if not submit:
            return REPO_CODE_DIR
        if submit.startswith("s3://"):
            return self._fetch(submit)
        path = Path(submit.removeprefix("file://"))
        if not path.is_dir():
            raise ArtifactError(f"SAGEMAKER_SUBMIT_DIRECTORY {submit} is not a folder or an s3:// archive")
        return path

    def _reader(self, data_url: str, account_id: str | None, role_arn: str | None) -> S3Client:
        """Who reads the artifact: across accounts, the model's execution role, as SageMaker does,
        so the other account's bucket policy and the role's own policy both decide
        (``patches/iam_enforcement``); within one account, the local cloud itself as before."""
        bucket = data_url.removeprefix("s3://").partition("/")[0]
        owner = backend_state.bucket_account(bucket)
        if account_id is None or owner is None or owner == account_id or not iam_enforcement.enabled():
            return self._s3
        if not role_arn:
            raise ArtifactError(
                f"the model reads {data_url} in account {owner} but names no ExecutionRoleArn"
            )
        try:
            session = sessions.assume(role_arn, "sagemaker.amazonaws.com", self._s3.meta.region_name)
        except sessions.RoleNotAssumable as exc:
            raise ArtifactError(str(exc)) from None
        client: S3Client = boto3.client(
            "s3",
            endpoint_url=self._s3.meta.endpoint_url,
            region_name=self._s3.meta.region_name,
            aws_access_key_id=session.access_key_id,
            aws_secret_access_key=session.secret_access_key,
            aws_session_token=session.session_token,
        )
        return client

    def _fetch(self, uri: str, reader: S3Client | None = None) -> Path:
        """Download ``uri`` (as ``reader``) and extract it if it is a tar.gz; returns the folder."""
        if not uri.startswith("s3://"):
            raise ArtifactError(f"{uri} is not an s3:// URI")
        s3 = reader or self._s3
        bucket, _, key = uri.removeprefix("s3://").partition("/")
        try:
            etag = s3.head_object(Bucket=bucket, Key=key)["ETag"].strip('"')
        except Exception as exc:  # botocore's ClientError and friends: all mean "cannot fetch"
            raise ArtifactError(f"cannot read {uri}: {exc}") from None
        target = self._root / hashlib.sha256(f"{uri}#{etag}".encode()).hexdigest()[:24]
        with self._lock:
            if (target / ".complete").is_file():
                return target
            target.mkdir(parents=True, exist_ok=True)
            download = target.with_suffix(".download")
            try:
                s3.download_file(bucket, key, str(download))
            except Exception as exc:  # as above: a download that fails is a model that cannot be served
                raise ArtifactError(f"cannot download {uri}: {exc}") from None
            if key.endswith((".tar.gz", ".tgz", ".tar")):
                try:
                    with tarfile.open(download) as archive:
                        archive.extractall(target, filter="data")
                except (tarfile.TarError, OSError) as exc:
                    raise ArtifactError(f"{uri} is not a readable tar archive: {exc}") from None
                download.unlink()
            else:
                download.rename(target / Path(key).name)
            (target / ".complete").touch()
        return target

"""Where a SageMaker model's artifact and inference code come from, fetched to local folders.

A model names either a model package (``PrimaryContainer.ModelPackageName``, what the outer
loop creates) whose ``InferenceSpecification.Containers[0]`` holds ``ModelDataUrl`` and
``Environment``, or carries ``ModelDataUrl`` itself; the model's own ``Environment`` wins
over the package's. The artifact is a ``model.tar.gz`` (extracted, as SageMaker does into
``/opt/ml/model``), read as the model's ``ExecutionRoleArn``: a role that may not read it
fails the deployment with SageMaker's own FailureReason (``download_failed``). The code is ``SAGEMAKER_SUBMIT_DIRECTORY`` (an S3 ``sourcedir.tar.gz`` or
a local folder) running ``SAGEMAKER_PROGRAM``; a model without it is served with the repo's
``inner_pipeline/code`` (on AWS the code would be baked into the image).
"""

from __future__ import annotations

import hashlib
import logging
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
LOG = logging.getLogger(__name__)


class ArtifactError(RuntimeError):
    """The model cannot be served as described; the message is a FailureReason."""


def download_failed(uri: str, container: int = 1) -> str:
    """SageMaker's FailureReason for model data it cannot download, verbatim: an endpoint whose
    artifact is missing or unreadable by the model's role fails with it (quoted by users, e.g.
    aws-solutions-library-samples/fraud-detection-using-machine-learning#9,
    aws-samples/cvat-on-aws-china#3). The local cloud serves one container, the first."""
    return (
        f'Failed to download model data for container "container_{container}" from URL: "{uri}". '
        "Please ensure that there is an object located at the URL and that the role passed to "
        "CreateModel has permissions to download the object."
    )


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
        self._by_role: dict[str, S3Client] = {}  # an execution role's S3 client

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
        model_dir = self._fetch(data_url, reader, model_data=True)
        submit = environment.get("SAGEMAKER_SUBMIT_DIRECTORY")
        program = environment.get("SAGEMAKER_PROGRAM")
        image = container.get("Image") or (spec.get("Image") if package is not None else None)
        if not program and is_builtin_xgboost(image):
            # The built-in algorithm's own serving (no inference script): see sagemaker/algorithms.
            return LocalModel(model_name, model_dir, REPO_CODE_DIR, BUILTIN_XGBOOST, environment)
        return LocalModel(
            name=model_name,
            model_dir=model_dir,
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
        """Who reads the artifact: the model's execution role, as SageMaker does, so the role's
        own policy decides, and across accounts the bucket's policy as well
        (``patches/iam_enforcement``, ``iam/resource_policy``); the local cloud itself only when
        it enforces no IAM."""
        if not iam_enforcement.enabled():
            return self._s3
        if not role_arn:
            owner = backend_state.bucket_account(data_url.removeprefix("s3://").partition("/")[0])
            raise ArtifactError(
                f"model data {data_url} (account {owner or account_id or 'unknown'}) is read as the model's "
                "execution role, and the model names no ExecutionRoleArn"
            )
        with self._lock:
            if role_arn in self._by_role:
                return self._by_role[role_arn]
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
        with self._lock:
            return self._by_role.setdefault(role_arn, client)

    def _fetch(self, uri: str, reader: S3Client | None = None, *, model_data: bool = False) -> Path:
        """Download ``uri`` (as ``reader``) and extract it if it is a tar.gz; returns the folder.
        ``model_data``: the model's artifact, which SageMaker fails to download with its own
        FailureReason when the object is missing or the role may not read it."""
        if not uri.startswith("s3://"):
            raise ArtifactError(f"{uri} is not an s3:// URI")
        s3 = reader or self._s3
        bucket, _, key = uri.removeprefix("s3://").partition("/")
        try:
            etag = s3.head_object(Bucket=bucket, Key=key)["ETag"].strip('"')
        except Exception as exc:  # botocore's ClientError and friends: all mean "cannot fetch"
            if model_data:
                LOG.warning("model data %s cannot be read as the model's execution role: %s", uri, exc)
                raise ArtifactError(download_failed(uri)) from None
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
                if model_data:
                    LOG.warning("model data %s cannot be downloaded: %s", uri, exc)
                    raise ArtifactError(download_failed(uri)) from None
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

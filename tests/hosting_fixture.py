"""Real, small models for the hosting tests and benchmarks: trained XGBoost on demo data,
packaged as SageMaker packages them (model.tar.gz, sourcedir.tar.gz) and registered in the
model registry, so an endpoint is created from a model package ARN as the outer loop does."""

from __future__ import annotations

import io
import sys
import tarfile
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

CODE = Path(__file__).resolve().parents[1] / "inner_pipeline" / "code"
ROW = "61.42,online_retail,6,34.9,2,3,0.9736,1"
ROLE = "arn:aws:iam::123456789012:role/dualloop-test-sagemaker"

# Appended to a copy of inference.py: models that misbehave on purpose.
BROKEN = """
def predict_fn(data, model):
    raise RuntimeError("this model is broken on purpose")
"""
SLOW = """
import time as _time
_real_predict_fn = predict_fn
def predict_fn(data, model):
    _time.sleep(float(os.environ.get("SLOW_MODEL_SECONDS", "0.3")))
    return _real_predict_fn(data, model)
"""


def train_model(directory: Path, rows: int = 3000, rounds: int = 30) -> Path:
    """xgboost-model.json + preprocessing.json, encoded exactly as the container scripts do."""
    import json

    import xgboost as xgb

    from shared.config import DataSchema
    from shared.demo_data import generate_transactions

    if str(CODE) not in sys.path:
        sys.path.insert(0, str(CODE))
    import common

    schema = common.parse_schema(json.loads(DataSchema().model_dump_json()))
    frame = generate_transactions(rows, seed=7)
    features = common.encode_features(frame, schema)
    labels = frame[schema.target_column].to_numpy()
    booster = xgb.train(
        {"objective": "binary:logistic", "max_depth": 4, "eta": 0.3, "nthread": 1},
        xgb.DMatrix(features, label=labels, feature_names=schema.feature_names),
        rounds,
    )
    directory.mkdir(parents=True, exist_ok=True)
    booster.save_model(directory / common.MODEL_FILE)
    common.write_preprocessing(schema, directory / common.PREPROCESSING_FILE)
    return directory


def tarball(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, data in sorted(files.items()):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def model_tarball(model_dir: Path) -> bytes:
    return tarball({p.name: p.read_bytes() for p in model_dir.iterdir() if p.is_file()})


def sourcedir_tarball(inference_suffix: str = "") -> bytes:
    files = {p.name: p.read_bytes() for p in CODE.iterdir() if p.is_file() and p.suffix == ".py"}
    files["inference.py"] += inference_suffix.encode()
    return tarball(files)


@dataclass
class Registry:
    """Uploads artifacts to ``bucket`` and registers model packages in one group."""

    s3: Any
    sagemaker: Any
    bucket: str
    group: str

    @classmethod
    def create(cls, s3: Any, sagemaker: Any) -> Registry:
        bucket = f"hosting-{uuid.uuid4().hex[:10]}"
        group = f"hosting-models-{uuid.uuid4().hex[:6]}"
        s3.create_bucket(Bucket=bucket)
        sagemaker.create_model_package_group(ModelPackageGroupName=group)
        return cls(s3, sagemaker, bucket, group)

    def upload(self, key: str, data: bytes) -> str:
        self.s3.put_object(Bucket=self.bucket, Key=key, Body=data)
        return f"s3://{self.bucket}/{key}"

    def package(
        self, model_url: str, sourcedir_url: str | None = None, env: dict[str, str] | None = None
    ) -> str:
        environment = {"SAGEMAKER_PROGRAM": "inference.py", **(env or {})}
        if sourcedir_url:
            environment["SAGEMAKER_SUBMIT_DIRECTORY"] = sourcedir_url
        return str(
            self.sagemaker.create_model_package(
                ModelPackageGroupName=self.group,
                ModelApprovalStatus="Approved",
                InferenceSpecification={
                    "Containers": [
                        {
                            "Image": "local/dualloop-inference",
                            "ModelDataUrl": model_url,
                            "Environment": environment,
                        }
                    ],
                    "SupportedContentTypes": ["text/csv", "application/json"],
                    "SupportedResponseMIMETypes": ["application/json", "text/csv"],
                },
            )["ModelPackageArn"]
        )

    def endpoint_config(self, package_arn: str, *, capture: bool = True, instances: int = 1) -> str:
        """CreateModel + CreateEndpointConfig exactly as the outer loop's ASL does."""
        model = f"hosting-model-{uuid.uuid4().hex[:8]}"
        self.sagemaker.create_model(
            ModelName=model, ExecutionRoleArn=ROLE, PrimaryContainer={"ModelPackageName": package_arn}
        )
        config = f"hosting-config-{uuid.uuid4().hex[:8]}"
        extra: dict[str, Any] = {}
        if capture:
            extra["DataCaptureConfig"] = {
                "EnableCapture": True,
                "InitialSamplingPercentage": 100,
                "DestinationS3Uri": f"s3://{self.bucket}/datacapture",
                "CaptureOptions": [{"CaptureMode": "Input"}, {"CaptureMode": "Output"}],
                "CaptureContentTypeHeader": {
                    "CsvContentTypes": ["text/csv"],
                    "JsonContentTypes": ["application/json"],
                },
            }
        self.sagemaker.create_endpoint_config(
            EndpointConfigName=config,
            ProductionVariants=[
                {
                    "VariantName": "AllTraffic",
                    "ModelName": model,
                    "InstanceType": "ml.m5.large",
                    "InitialInstanceCount": instances,
                }
            ],
            **extra,
        )
        return config

"""Standalone SageMaker job requests as boto3 and the SDK send them, for the functional tests."""

from __future__ import annotations

import io
import tarfile
from typing import Any

import boto3

ROLE = "arn:aws:iam::123456789012:role/local-test"  # iam_support.TEST_ROLES: SageMaker may assume it

TRAIN_SCRIPT = """\
import argparse, os, sys
parser = argparse.ArgumentParser()
parser.add_argument("--rounds", type=int)
parser.add_argument("--sleep", type=float, default=0)
args = parser.parse_args()
if args.rounds < 1:
    sys.exit("rounds must be at least 1, got %d" % args.rounds)
import time
time.sleep(args.sleep)
rows = open(os.path.join(os.environ["SM_CHANNEL_TRAIN"], "data.csv")).read().splitlines()
with open(os.path.join(os.environ["SM_MODEL_DIR"], "model.txt"), "w") as out:
    out.write("rows=%d rounds=%d" % (len(rows), args.rounds))
print("validation:auc=0.875")
"""

PROCESS_SCRIPT = """\
import sys
source, target = sys.argv[1], sys.argv[2]
rows = open(source + "/data.csv").read().splitlines()
open(target + "/count.txt", "w").write(str(len(rows)))
print("counted", len(rows), "rows")
"""


def upload_code(bucket: str, *, process_script: str = PROCESS_SCRIPT) -> None:
    """The processing script and the training code (SDK v2 script mode's sourcedir.tar.gz)."""
    s3 = boto3.client("s3")
    s3.put_object(Bucket=bucket, Key="code/process.py", Body=process_script.encode())
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        info = tarfile.TarInfo("train.py")
        info.size = len(TRAIN_SCRIPT.encode())
        archive.addfile(info, io.BytesIO(TRAIN_SCRIPT.encode()))
    s3.put_object(Bucket=bucket, Key="code/sourcedir.tar.gz", Body=buffer.getvalue())


def training_request(bucket: str, name: str, *, rounds: int, sleep: float = 0) -> dict[str, Any]:
    """A script-mode training job as SDK v2's estimators create it (sagemaker_program)."""
    return {
        "TrainingJobName": name,
        "AlgorithmSpecification": {
            "TrainingImage": "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3",
            "TrainingInputMode": "File",
            "MetricDefinitions": [{"Name": "validation:auc", "Regex": r"validation:auc=([0-9.]+)"}],
        },
        "HyperParameters": {
            "rounds": str(rounds),
            "sleep": str(sleep),
            "sagemaker_program": '"train.py"',
            "sagemaker_submit_directory": f'"s3://{bucket}/code/sourcedir.tar.gz"',
        },
        "InputDataConfig": [
            {
                "ChannelName": "train",
                "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": f"s3://{bucket}/data/"}},
            }
        ],
        "OutputDataConfig": {"S3OutputPath": f"s3://{bucket}/models"},
        "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 10},
        "StoppingCondition": {"MaxRuntimeInSeconds": 300},
        "RoleArn": ROLE,
    }


def processing_request(bucket: str, name: str) -> dict[str, Any]:
    return {
        "ProcessingJobName": name,
        "AppSpecification": {
            "ImageUri": "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3",
            "ContainerEntrypoint": ["python3", "/opt/ml/processing/input/code/process.py"],
            "ContainerArguments": ["/opt/ml/processing/input/data", "/opt/ml/processing/output"],
        },
        "ProcessingInputs": [
            {
                "InputName": "data",
                "S3Input": {
                    "S3Uri": f"s3://{bucket}/data/",
                    "LocalPath": "/opt/ml/processing/input/data",
                    "S3DataType": "S3Prefix",
                    "S3InputMode": "File",
                },
            },
            {
                "InputName": "code",
                "S3Input": {
                    "S3Uri": f"s3://{bucket}/code/process.py",
                    "LocalPath": "/opt/ml/processing/input/code",
                    "S3DataType": "S3Prefix",
                    "S3InputMode": "File",
                },
            },
        ],
        "ProcessingOutputConfig": {
            "Outputs": [
                {
                    "OutputName": "counts",
                    "S3Output": {
                        "S3Uri": f"s3://{bucket}/processed/{name}",
                        "LocalPath": "/opt/ml/processing/output",
                        "S3UploadMode": "EndOfJob",
                    },
                }
            ]
        },
        "ProcessingResources": {
            "ClusterConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.large", "VolumeSizeInGB": 10}
        },
        "StoppingCondition": {"MaxRuntimeInSeconds": 300},
        "RoleArn": ROLE,
    }

"""What a Tuning step costs over the trainings it runs; ``make bench`` prints the figures.

A pipeline of one Tuning step (Random strategy, 4 training jobs, ``MaxParallelTrainingJobs``
2) trains XGBoost on 200,000 rows (scikit-learn's ``make_regression``, label first, no
header) on the local cloud. The baseline, run before and after (the faster counts), is the same script with the same four sets of
hyperparameters (the seeded strategy's proposals, checked against the trials afterwards), run
directly as subprocesses on a local copy of the data, two at a time. The tuning run must take at most 1.2x the baseline:
what the local SageMaker adds (S3 download per trial, the container layout, model upload,
metric parsing, the strategy) stays small next to the work. Then the same execution runs
again with nothing changed: the Tuning step must be a cache hit, in well under a second.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import boto3

from shared.local_cloud import LocalCloud
from shared.local_cloud.sagemaker.cache import InMemoryStepCache
from shared.local_cloud.sagemaker.executor import run_definition
from shared.local_cloud.sagemaker.steps.search_space import plan

ROWS = int(os.environ.get("BENCH_TUNING_ROWS", "200000"))
ROUNDS = int(os.environ.get("BENCH_TUNING_ROUNDS", "60"))
MAX_RATIO = 1.2

TRAIN = """
import argparse, os, pathlib
import numpy as np
import xgboost as xgb
p = argparse.ArgumentParser()
p.add_argument("--max_depth", type=int)
p.add_argument("--eta", type=float)
p.add_argument("--num_round", type=int)
p.add_argument("--nthread", type=int)
a = p.parse_args()
train = pathlib.Path(os.environ["SM_CHANNEL_TRAIN"])
data = np.loadtxt(next(train.glob("*.csv")), delimiter=",", dtype=np.float32)
split = int(len(data) * 0.8)
dtrain = xgb.DMatrix(data[:split, 1:], label=data[:split, 0])
dvalid = xgb.DMatrix(data[split:, 1:], label=data[split:, 0])
params = {"max_depth": a.max_depth, "eta": a.eta, "nthread": a.nthread, "objective": "reg:squarederror"}
booster = xgb.train(params, dtrain, a.num_round, evals=[(dvalid, "validation")], verbose_eval=False)
rmse = float(np.sqrt(np.mean((booster.predict(dvalid) - data[split:, 0]) ** 2)))
print(f"validation:rmse={rmse:.5f}")
booster.save_model(os.path.join(os.environ["SM_MODEL_DIR"], "xgboost-model"))
"""


def _definition(bucket: str) -> dict[str, Any]:
    return {
        "Version": "2020-12-01",
        "Parameters": [],
        "Steps": [
            {
                "Name": "Tune",
                "Type": "Tuning",
                "CacheConfig": {"Enabled": True, "ExpireAfter": "P1D"},
                "Arguments": {
                    "HyperParameterTuningJobConfig": {
                        "Strategy": "Random",
                        "RandomSeed": 7,
                        "ResourceLimits": {"MaxNumberOfTrainingJobs": 4, "MaxParallelTrainingJobs": 2},
                        "HyperParameterTuningJobObjective": {
                            "Type": "Minimize",
                            "MetricName": "validation:rmse",
                        },
                        "ParameterRanges": {
                            "IntegerParameterRanges": [
                                {
                                    "Name": "max_depth",
                                    "MinValue": "4",
                                    "MaxValue": "7",
                                    "ScalingType": "Linear",
                                }
                            ],
                            "ContinuousParameterRanges": [
                                {
                                    "Name": "eta",
                                    "MinValue": "0.05",
                                    "MaxValue": "0.5",
                                    "ScalingType": "Logarithmic",
                                }
                            ],
                        },
                        "TrainingJobEarlyStoppingType": "Off",
                    },
                    "TrainingJobDefinition": {
                        "AlgorithmSpecification": {
                            "TrainingImage": "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1",
                            "TrainingInputMode": "File",
                            "MetricDefinitions": [
                                {"Name": "validation:rmse", "Regex": "validation:rmse=([0-9.]+)"}
                            ],
                        },
                        "RoleArn": "arn:aws:iam::123456789012:role/bench",
                        "StaticHyperParameters": {
                            "sagemaker_program": "train.py",
                            "sagemaker_submit_directory": f"s3://{bucket}/code/sourcedir.tar.gz",
                            "num_round": str(ROUNDS),
                            "nthread": "1",
                        },
                        "InputDataConfig": [
                            {
                                "ChannelName": "train",
                                "DataSource": {
                                    "S3DataSource": {
                                        "S3DataType": "S3Prefix",
                                        "S3Uri": f"s3://{bucket}/data/",
                                        "S3DataDistributionType": "FullyReplicated",
                                    }
                                },
                            }
                        ],
                        "OutputDataConfig": {"S3OutputPath": f"s3://{bucket}/tune"},
                        "ResourceConfig": {
                            "InstanceType": "ml.m5.large",
                            "InstanceCount": 1,
                            "VolumeSizeInGB": 30,
                        },
                        "StoppingCondition": {"MaxRuntimeInSeconds": 3600},
                    },
                },
            }
        ],
    }


def _direct(script: Path, data_dir: Path, hyperparameters: dict[str, str], work: Path) -> float:
    work.mkdir(parents=True, exist_ok=True)
    args = [arg for k, v in hyperparameters.items() for arg in (f"--{k}", v)]
    env = {**os.environ, "SM_CHANNEL_TRAIN": str(data_dir), "SM_MODEL_DIR": str(work)}
    started = time.perf_counter()
    subprocess.run([sys.executable, str(script), *args], env=env, check=True, capture_output=True)
    return time.perf_counter() - started


def test_tuning_costs_at_most_1_2x_its_trainings_and_a_rerun_hits_the_cache(
    local_cloud: LocalCloud, tmp_path: Path
) -> None:
    from sklearn.datasets import make_regression

    # GIVEN 200k rows and the training script in S3
    x, y = make_regression(n_samples=ROWS, n_features=10, noise=5.0, random_state=0)
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    csv = data_dir / "train.csv"
    with csv.open("w") as f:
        for label, row in zip(y, x, strict=True):
            f.write(f"{label:.5f}," + ",".join(f"{v:.5f}" for v in row) + "\n")
    script = tmp_path / "train.py"
    script.write_text(TRAIN)
    with tarfile.open(tmp_path / "sourcedir.tar.gz", "w:gz") as archive:
        archive.add(script, arcname="train.py")
    bucket = f"bench-tuning-{uuid.uuid4().hex[:8]}"
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket=bucket)
    s3.upload_file(str(csv), bucket, "data/train.csv")
    s3.upload_file(str(tmp_path / "sourcedir.tar.gz"), bucket, "code/sourcedir.tar.gz")
    cache = InMemoryStepCache()

    def run() -> tuple[Any, float]:
        started = time.perf_counter()
        result = run_definition(
            _definition(bucket),
            s3=s3,
            sagemaker=boto3.client("sagemaker"),
            cache=cache,
            pipeline_name="bench-tuning",
        )
        return result, time.perf_counter() - started

    # WHEN the four trainings the seeded Random strategy will propose run directly, two at a time
    config = _definition(bucket)["Steps"][0]["Arguments"]["HyperParameterTuningJobConfig"]
    strategy, total = plan(config)
    static = {"num_round": str(ROUNDS), "nthread": "1"}
    trials = [{**static, **strategy.propose()[1]} for _ in range(total)]

    def direct() -> tuple[float, list[float]]:
        started = time.perf_counter()
        with ThreadPoolExecutor(2) as pool:
            each = list(
                pool.map(lambda i: _direct(script, data_dir, trials[i], tmp_path / f"direct-{i}"), range(4))
            )
        return time.perf_counter() - started, each

    before, singles = direct()
    # AND then the tuning pipeline runs
    result, tuning_seconds = run()
    assert result.status == "Succeeded", result.failure_reason
    summaries = result.properties["Tune"]["TrainingJobSummaries"]
    assert len(summaries) == 4 and all(s["TrainingJobStatus"] == "Completed" for s in summaries)
    # (the very same hyperparameters: the comparison is like for like)
    assert sorted(json.dumps(s["TunedHyperParameters"], sort_keys=True) for s in summaries) == sorted(
        json.dumps({k: v for k, v in t.items() if k not in static}, sort_keys=True) for t in trials
    )
    # AND the direct runs once more (the machine is shared: the faster of the two is the baseline)
    after, _ = direct()
    direct_seconds = min(before, after)
    # AND the same execution runs again, nothing changed
    again, rerun_seconds = run()

    ratio = tuning_seconds / direct_seconds
    print(
        f"\ntuning bench ({ROWS} rows, 4 jobs, MaxParallelTrainingJobs=2, {ROUNDS} rounds, load {os.getloadavg()[0]:.2f}):\n"
        f"  tuning step                 {tuning_seconds:6.2f} s\n"
        f"  same 4 trainings, 2 at once {direct_seconds:6.2f} s (best of {before:.2f} before, {after:.2f} after; "
        f"each {', '.join(f'{s:.2f}' for s in singles)} s before)\n"
        f"  ratio                       {ratio:6.2f} (at most {MAX_RATIO})\n"
        f"  re-run, nothing changed     {rerun_seconds:6.2f} s (cache hit: {again.steps[0].cache_source_execution_arn is not None})\n"
        f"  trials: {json.dumps([s['TunedHyperParameters'] for s in summaries])}"
    )
    # THEN the local SageMaker's overhead is small next to the work, and the rerun is a hit
    assert ratio <= MAX_RATIO
    assert again.status == "Succeeded"
    assert again.steps[0].cache_source_execution_arn == result.execution_arn
    assert rerun_seconds < 1.0

"""Train step: an XGBoost model on the splits Preprocess wrote.

The objective follows preprocessing.json's ``problem_type``: ``binary:logistic`` (binary),
``multi:softprob`` with ``num_class`` = len(classes) (multiclass: serving answers every
class's probability), ``reg:squarederror`` (regression). ``scale_pos_weight`` applies to
binary only.

Hyperparameters come, in rising priority, from the defaults below,
``$SM_INPUT_CONFIG_DIR/hyperparameters.json`` (values JSON-encoded strings, as SageMaker
writes them) and ``--name value`` arguments (as SageMaker also passes them)::

    max_depth 5, eta 0.2, num_round 100, subsample 0.9, scale_pos_weight 10.0, seed 0,
    early_stopping_rounds 0 (off), schema (optional DataSchema JSON, checked against
    preprocessing.json)

Channels: every ``*.csv`` part file under ``$SM_CHANNEL_TRAIN`` and ``$SM_CHANNEL_VALIDATION``
(default ``/opt/ml/input/data/<channel>``); the train channel must hold preprocessing.json.
Writes to ``$SM_MODEL_DIR`` (default ``/opt/ml/model``) ``xgboost-model.json`` and a copy of
``preprocessing.json``, so the artifact alone is enough for inference. Prints the evaluation
report's metrics on the validation split, one ``validation:<metric>=<value>`` line each (the
tuning objective's regex reads them). The same data,
hyperparameters and seed give the same model. A failure writes its reason to
``$SM_OUTPUT_DIR/failure`` (default ``/opt/ml/output/failure``).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from pathlib import Path

import numpy as np
import xgboost as xgb
from common import (
    BINARY,
    MODEL_FILE,
    MULTICLASS,
    PREPROCESSING_FILE,
    REGRESSION,
    ArgumentParser,
    DataError,
    Schema,
    parse_schema,
    read_preprocessing,
    read_split,
    run_job,
)


def _env_path(name: str, default: str) -> Path:
    return Path(os.environ.get(name, default))


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter, allow_abbrev=False
    )
    p.add_argument("--max_depth", type=int, default=5)
    p.add_argument("--eta", type=float, default=0.2)
    p.add_argument("--num_round", type=int, default=100)
    p.add_argument("--subsample", type=float, default=0.9)
    p.add_argument("--scale_pos_weight", type=float, default=10.0)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--early_stopping_rounds", type=int, default=0, help="0 disables early stopping")
    p.add_argument("--schema", default=None, help="DataSchema JSON; must agree with preprocessing.json")
    config_dir = _env_path("SM_INPUT_CONFIG_DIR", "/opt/ml/input/config")
    cli = sys.argv[1:] if argv is None else argv
    parsed: tuple[argparse.Namespace, list[str]] = p.parse_known_args(
        [*hyperparameter_argv(config_dir / "hyperparameters.json"), *cli]
    )
    args, unknown = parsed
    if unknown:
        raise DataError(f"unknown hyperparameter(s): {' '.join(unknown)}")
    return args


def hyperparameter_argv(path: Path) -> list[str]:
    """hyperparameters.json as ``--name value`` arguments (CLI arguments placed after them win).

    SageMaker writes every value as a string, JSON-encoded by the SDK that sent it
    ('5', '"{\\"id_column\\": ...}"') or not ('{"id_column": ...}'); both decode here.
    Keys starting with ``sagemaker_`` belong to the framework, not to this script.
    """
    if not path.is_file():
        return []
    argv: list[str] = []
    for name, raw in json.loads(path.read_text()).items():
        if name.startswith("sagemaker_"):
            continue
        value = str(raw)
        try:
            decoded = json.loads(value)
            if isinstance(decoded, str):
                value = decoded
        except json.JSONDecodeError:
            pass  # a plain, unencoded string
        argv += [f"--{name}", value]
    return argv


def main(args: argparse.Namespace) -> None:
    _check(args)
    train_dir = _env_path("SM_CHANNEL_TRAIN", "/opt/ml/input/data/train")
    validation_dir = _env_path("SM_CHANNEL_VALIDATION", "/opt/ml/input/data/validation")
    model_dir = _env_path("SM_MODEL_DIR", "/opt/ml/model")

    schema = read_preprocessing(train_dir / PREPROCESSING_FILE)
    if args.schema:
        expected = parse_schema(args.schema)
        declared = [(f.name, f.type) for f in expected.features]
        if declared != [(f.name, f.type) for f in schema.features]:
            raise DataError(
                f"the schema hyperparameter lists features {declared}, but the training data was "
                f"preprocessed with {[(f.name, f.type) for f in schema.features]}"
            )
    n_features = len(schema.features)
    y_train, x_train = read_split(train_dir, n_features)
    y_valid, x_valid = read_split(validation_dir, n_features)
    if schema.problem_type != REGRESSION and len(np.unique(y_train)) < 2:
        only = (schema.classes or ())[int(y_train[0])]
        raise DataError(f"the train split holds only class {only!r}; a classifier needs at least 2")

    names = schema.feature_names
    dtrain = xgb.DMatrix(x_train, label=y_train, feature_names=names)
    dvalid = xgb.DMatrix(x_valid, label=y_valid, feature_names=names)
    params: dict[str, object] = {
        **objective(schema),
        "tree_method": "hist",
        "max_depth": args.max_depth,
        "eta": args.eta,
        "subsample": args.subsample,
        "seed": args.seed,
    }
    if schema.problem_type == BINARY:
        params["scale_pos_weight"] = args.scale_pos_weight
    callbacks = []
    if args.early_stopping_rounds > 0:
        # save_best: otherwise the booster keeps the rounds after the best one.
        callbacks.append(xgb.callback.EarlyStopping(rounds=args.early_stopping_rounds, save_best=True))
    booster = xgb.train(
        params,
        dtrain,
        num_boost_round=args.num_round,
        evals=[(dtrain, "train"), (dvalid, "validation")],
        callbacks=callbacks,
        verbose_eval=10,  # "[n] train-auc:... validation-auc:..." lines for metric definitions
    )

    # One line per metric, "validation:<metric>=<value>": a tuning job's objective is the gate's
    # metric, read from this log by its MetricDefinitions regex.
    for name, value in validation_metrics(schema, y_valid, booster.predict(dvalid)).items():
        print(f"validation:{name}={value:.6f}")

    model_dir.mkdir(parents=True, exist_ok=True)
    booster.save_model(model_dir / MODEL_FILE)
    shutil.copyfile(train_dir / PREPROCESSING_FILE, model_dir / PREPROCESSING_FILE)
    print(f"trained a {schema.problem_type} model on {len(y_train)} rows; model in {model_dir}")


def validation_metrics(schema: Schema, labels: np.ndarray, scores: np.ndarray) -> dict[str, float]:
    """The evaluation report's metrics (evaluate.py's own definitions, so the tuning objective
    is the very metric the quality gate reads) on the validation split; none when the split
    cannot define them (empty, or a single class for a binary target's AUC)."""
    import evaluate

    if len(labels) == 0:
        return {}
    if schema.problem_type == REGRESSION:
        report = evaluate.regression_report(labels.astype(np.float64), scores, 2, 0)
    elif schema.problem_type == MULTICLASS:
        report = evaluate.multiclass_report(labels.astype(np.int64), scores, schema.classes or (), 2, 0)
    elif len(np.unique(labels)) < 2:
        print(f"validation metrics left out: the validation split holds a single class ({len(labels)} rows)")
        return {}
    else:
        report = evaluate.evaluation_report(labels.astype(np.int64), scores, 0.5, 2, 0)
    section = next(v for k, v in report.items() if k.endswith("_metrics"))
    return {m: float(v["value"]) for m, v in section.items() if isinstance(v, dict) and "value" in v}


def objective(schema: Schema) -> dict[str, object]:
    """XGBoost's objective and evaluation metrics for the problem type (the last metric
    drives early stopping)."""
    if schema.problem_type == REGRESSION:
        return {"objective": "reg:squarederror", "eval_metric": ["rmse"]}
    if schema.problem_type == MULTICLASS:
        classes = schema.classes or ()
        return {
            "objective": "multi:softprob",
            "num_class": len(classes),
            "eval_metric": ["merror", "mlogloss"],
        }
    return {"objective": "binary:logistic", "eval_metric": ["logloss", "auc"]}


def _check(args: argparse.Namespace) -> None:
    problems = []
    if args.max_depth < 1:
        problems.append(f"max_depth must be >= 1 (got {args.max_depth})")
    if not 0 < args.eta <= 1:
        problems.append(f"eta must be in (0, 1] (got {args.eta})")
    if args.num_round < 1:
        problems.append(f"num_round must be >= 1 (got {args.num_round})")
    if not 0 < args.subsample <= 1:
        problems.append(f"subsample must be in (0, 1] (got {args.subsample})")
    if args.scale_pos_weight <= 0:
        problems.append(f"scale_pos_weight must be > 0 (got {args.scale_pos_weight})")
    if args.early_stopping_rounds < 0:
        problems.append(f"early_stopping_rounds must be >= 0 (got {args.early_stopping_rounds})")
    if problems:
        raise DataError("invalid hyperparameters: " + "; ".join(problems))


if __name__ == "__main__":
    run_job(parse_args, main, _env_path("SM_OUTPUT_DIR", "/opt/ml/output") / "failure")

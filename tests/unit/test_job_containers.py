"""The job container's contracts that need no cloud and no process: the ``SM_*`` variables as the
sagemaker-training toolkit names them, and the built-in XGBoost algorithm's hyperparameter
validation and serving formats. What runs a job's process (the rewrite fallback's /opt/ml guard,
installing requirements) is tests/functional/test_job_container_processes.py."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import xgboost as xgb

from shared.local_cloud.sagemaker import algorithms
from shared.local_cloud.sagemaker.algorithms import xgboost_hyperparameters as hpv
from shared.local_cloud.sagemaker.algorithms import xgboost_serve
from shared.local_cloud.sagemaker.steps.training_env import training_environment


def test_sm_variables_follow_the_training_toolkit() -> None:
    env = training_environment(
        resource_config={
            "current_host": "algo-1",
            "hosts": ["algo-1"],
            "current_instance_type": "ml.m5.large",
        },
        input_data_config={"train": {"ContentType": "text/csv"}},
        hyperparameters={"max_depth": "3", "eta": "0.2", "sagemaker_program": '"train.py"'},
        job_name="job",
        module_dir="/opt/ml/code",
        paths={},
    )
    # mapping.to_env_vars: strings as is, others compact sorted JSON; names only upper-cased
    assert env["SM_MODEL_DIR"] == "/opt/ml/model"
    assert env["SM_CHANNEL_TRAIN"] == "/opt/ml/input/data/train"
    assert env["SM_CHANNELS"] == '["train"]'
    assert env["SM_HPS"] == '{"eta":0.2,"max_depth":3}'
    assert env["SM_HP_MAX_DEPTH"] == "3"
    assert env["SM_USER_ARGS"] == '["--eta","0.2","--max_depth","3"]'
    assert env["SM_USER_ENTRY_POINT"] == "train.py"
    assert env["SM_MODULE_NAME"] == "train"
    assert env["SM_FRAMEWORK_PARAMS"] == '{"sagemaker_program":"train.py"}'
    assert json.loads(env["SM_TRAINING_ENV"])["channel_input_dirs"] == {"train": "/opt/ml/input/data/train"}


@pytest.mark.parametrize(
    ("hyperparameters", "message"),
    [
        ({"eta": "0.1"}, "Missing required hyperparameter: num_round"),
        ({"num_round": "10", "depth": "3"}, "Extraneous hyperparameter found: depth"),
        ({"num_round": "ten"}, "Hyperparameter num_round: could not parse value"),
        ({"num_round": "10", "subsample": "0"}, "Hyperparameter subsample: 0.0 is not in (0, 1]"),
        ({"num_round": "10", "objective": "multi:softmax"},
         "Require input for parameter 'num_class' for multi-classification"),
        ({"num_round": "10", "objective": "reg:squarederror", "eval_metric": "auc"},
         "Metric 'auc' can only be applied for classification and ranking problems."),
    ],
)  # fmt: skip
def test_invalid_xgboost_hyperparameters_get_the_containers_message(
    hyperparameters: dict[str, str], message: str
) -> None:
    with pytest.raises(hpv.UserError) as error:
        hpv.validate(hyperparameters)
    assert str(error.value).startswith(message)


def test_aliases_and_defaults_of_the_xgboost_container() -> None:
    values = hpv.validate({"num_round": "5", "learning_rate": "0.3", "eval_metric": "rmse,mae"})
    assert values == {"num_round": 5, "eta": 0.3, "eval_metric": ["rmse", "mae"]}
    assert hpv.train_params(values)["objective"] == "reg:squarederror"


def test_images_are_recognised_by_repository_and_others_refused_by_name() -> None:
    assert algorithms.is_builtin_xgboost(
        "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1"
    )
    assert algorithms.is_builtin_xgboost(
        "246618743249.dkr.ecr.us-west-2.amazonaws.com/sagemaker-xgboost:1.5-1"
    )
    image = "382416733822.dkr.ecr.us-east-1.amazonaws.com/linear-learner:1"
    assert not algorithms.is_builtin_xgboost(image)
    assert "linear-learner:1" in str(algorithms.unsupported_image(image, "training"))


def test_serving_answers_csv_libsvm_and_json_like_the_container(tmp_path: Path) -> None:
    # GIVEN a model saved as the algorithm saves it
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 3))
    booster = xgb.train({"objective": "reg:squarederror"}, xgb.DMatrix(x, label=x[:, 0] * 2), 5)
    booster.save_model(str(tmp_path / "model.ubj"))
    (tmp_path / "model.ubj").rename(tmp_path / "xgboost-model")
    model = xgboost_serve.model_fn(str(tmp_path))

    def call(body: bytes, content_type: str, accept: str | None = None) -> bytes:
        return xgboost_serve.output_fn(
            xgboost_serve.predict_fn(xgboost_serve.input_fn(body, content_type), model), accept
        )

    csv = call(b"1,0,0\n-1,0,0", "text/csv").decode().splitlines()
    assert len(csv) == 2 and float(csv[0]) > float(csv[1])
    assert call(b"0:1\n0:-1", "text/libsvm").decode().splitlines() == csv  # absent features are missing
    as_json = json.loads(
        call(b'{"instances": [[1, 0, 0], {"features": [-1, 0, 0]}]}', "application/json", "application/json")
    )
    assert [p["score"] for p in as_json["predictions"]] == pytest.approx([float(v) for v in csv])
    with pytest.raises(xgboost_serve.InvalidInput, match="takes 3 features"):
        call(b"1,2", "text/csv")
    with pytest.raises(xgboost_serve.InvalidInput, match="Content-type text/plain not supported"):
        call(b"1,2,3", "text/plain")


def _opt_ml(tmp_path: Path, hyperparameters: dict[str, str], channels: dict[str, str]) -> Path:
    """A container /opt/ml as the runner lays it out, with CSV channels (label first, no header)."""
    opt_ml = tmp_path / "opt" / "ml"
    (opt_ml / "input" / "config").mkdir(parents=True)
    (opt_ml / "input" / "config" / "hyperparameters.json").write_text(json.dumps(hyperparameters))
    (opt_ml / "input" / "config" / "inputdataconfig.json").write_text(
        json.dumps({name: {"ContentType": kind} for name, kind in channels.items()})
    )
    rng = np.random.default_rng(1)
    for name in channels:
        x = rng.normal(size=(300, 4))
        rows = np.column_stack([x[:, 0] * 3 + x[:, 1], x])
        (opt_ml / "input" / "data" / name).mkdir(parents=True)
        np.savetxt(opt_ml / "input" / "data" / name / "part.csv", rows, delimiter=",")
    return opt_ml


def test_the_algorithm_prints_the_containers_round_lines_tuning_metric_last(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from shared.local_cloud.sagemaker.algorithms import xgboost_train

    # GIVEN a tuning job's hyperparameters (the objective metric is not in eval_metric)
    opt_ml = _opt_ml(
        tmp_path,
        {
            "num_round": "8",
            "max_depth": "2",
            "eval_metric": "rmse",
            "_tuning_objective_metric": "validation:mae",
        },
        {"train": "text/csv", "validation": "text/csv"},
    )

    # WHEN the algorithm trains
    xgboost_train.main(["--opt-ml", str(opt_ml)])

    # THEN every round prints train then validation, the objective's metric last (early stopping watches it)
    rounds = [line for line in capsys.readouterr().out.splitlines() if line.startswith("[")]
    assert len(rounds) == 8
    assert rounds[0].split("\t")[0] == "[0]"
    assert [field.split(":")[0] for field in rounds[0].split("\t")[1:]] == [
        "train-rmse", "train-mae", "validation-rmse", "validation-mae",
    ]  # fmt: skip
    assert (opt_ml / "model" / "xgboost-model").is_file()


def test_a_bad_channel_content_type_writes_the_failure_file(tmp_path: Path) -> None:
    from shared.local_cloud.sagemaker.algorithms import xgboost_train

    opt_ml = _opt_ml(tmp_path, {"num_round": "3"}, {"train": "application/x-recordio"})

    with pytest.raises(SystemExit):
        xgboost_train.main(["--opt-ml", str(opt_ml)])

    failure = (opt_ml / "output" / "failure").read_text()
    assert failure.startswith("ClientError: application/x-recordio is not an accepted ContentType")

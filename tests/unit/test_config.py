"""Configuration fails fast, naming the bad field, and layers file < env < overrides."""

from __future__ import annotations

from pathlib import Path

import pytest

from shared.config import ConfigError, DualloopConfig, Stage, TrafficType, load_config
from shared.naming import Names


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for key in list(os.environ):
        if key.startswith("DUALLOOP_"):
            monkeypatch.delenv(key)


def one_sentence(error: ConfigError, *parts: str) -> str:
    """What the user reads (``dualloop`` prints ``describe_config_error``): one line naming ``parts``."""
    from shared.user_errors import describe_config_error

    sentence = describe_config_error(error)
    assert "\n" not in sentence and sentence.endswith("run again."), sentence
    for part in parts:
        assert part in sentence, sentence
    return sentence


def nothing_kept() -> None:
    """Nothing lost or half-applied: the next load, without the bad input, gives the defaults."""
    assert load_config() == DualloopConfig()


def test_defaults_are_valid() -> None:
    cfg = load_config()
    assert cfg.stage is Stage.DEV
    assert cfg.deployment.traffic_type is TrafficType.CANARY
    # A canary must be a strict part of the fleet: the default fleet has room for one.
    assert cfg.instances.inference_instance_count == 2


@pytest.mark.bad_input("config")
@pytest.mark.parametrize("traffic_type", ["CANARY", "LINEAR"])
def test_a_canary_or_linear_policy_on_one_instance_is_refused_with_sagemakers_rule(traffic_type: str) -> None:
    # GIVEN one inference instance and a traffic-shifting policy WHEN loading THEN refused, naming both fields
    with pytest.raises(ConfigError) as refused:
        load_config(instances={"inference_instance_count": 1}, deployment={"traffic_type": traffic_type})
    message = str(refused.value)
    assert "instances.inference_instance_count" in message and traffic_type in message
    assert "less than or equal to 50% of the variant's total instance count" in message
    one_sentence(refused.value, "instances.inference_instance_count", traffic_type)
    # ALL_AT_ONCE on one instance is valid (baked, with auto-rollback)
    cfg = load_config(instances={"inference_instance_count": 1}, deployment={"traffic_type": "ALL_AT_ONCE"})
    assert cfg.instances.inference_instance_count == 1
    assert cfg.dataset.target_column == "is_fraud"


@pytest.mark.bad_input("config")
@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"stage": "qa"}, "stage"),
        ({"quality": {"threshold": -0.1}}, "quality.threshold"),
        ({"raw_bucket": "My_Bucket"}, "raw_bucket"),
        ({"deployment": {"canary_percent": 60}}, "deployment.canary_percent"),
        ({"deployment": {"wait_interval_seconds": 4000}}, "deployment.wait_interval_seconds"),
        ({"deployment": {"max_execution_timeout_seconds": 300}}, "deployment.max_execution_timeout_seconds"),
        ({"region": "moon-1"}, "region"),
        ({"unknown_setting": 1}, "unknown_setting"),
    ],
)
def test_bad_values_name_the_field(overrides: dict, field: str) -> None:
    with pytest.raises(ConfigError) as raised:
        load_config(**overrides)
    assert f"  {field}:" in str(raised.value)
    one_sentence(raised.value, f"{field}:")
    nothing_kept()


@pytest.mark.bad_input("config")
def test_every_bad_field_is_reported_at_once() -> None:
    with pytest.raises(ConfigError) as raised:
        load_config(stage="qa", quality={"threshold": 2})
    message = str(raised.value)
    assert "stage:" in message and "quality.threshold:" in message
    one_sentence(raised.value, "stage:", "quality.threshold:")
    nothing_kept()


def test_env_overrides_file_and_overrides_win(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    file = tmp_path / "dualloop.yaml"
    file.write_text(
        "stage: prod\nquality:\n  threshold: 0.7\n  metric: f1\ndeployment:\n  traffic_type: LINEAR\n"
    )
    monkeypatch.setenv("DUALLOOP_QUALITY__THRESHOLD", "0.75")
    cfg = load_config(file, project="fraud")
    assert cfg.stage is Stage.PROD
    assert cfg.quality.threshold == 0.75  # env beats the file
    assert cfg.quality.metric == "f1"  # the rest of the section stays from the file
    assert cfg.deployment.traffic_type is TrafficType.LINEAR
    assert cfg.project == "fraud"


def test_toml_file_through_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    file = tmp_path / "dualloop.toml"
    file.write_text('stage = "prod"\n[instances]\ntraining_instance_count = 2\n')
    monkeypatch.setenv("DUALLOOP_CONFIG_FILE", str(file))
    cfg = DualloopConfig()
    assert cfg.stage is Stage.PROD
    assert cfg.instances.training_instance_count == 2


@pytest.mark.bad_input("config")
@pytest.mark.parametrize(
    ("text", "message"),
    [("stage: [unclosed", "not valid YAML"), ("- a\n- b\n", "mapping of settings")],
)
def test_malformed_files_say_what_is_wrong(tmp_path: Path, text: str, message: str) -> None:
    file = tmp_path / "bad.yaml"
    file.write_text(text)
    with pytest.raises(ConfigError, match=message) as caught:
        load_config(file)
    one_sentence(caught.value, str(file), message)
    assert file.read_text() == text  # the user's file is left as written


@pytest.mark.bad_input("config")
def test_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist") as caught:
        load_config(tmp_path / "nope.yaml")
    one_sentence(caught.value, str(tmp_path / "nope.yaml"), "does not exist")
    assert not (tmp_path / "nope.yaml").exists()  # not created behind the user's back


@pytest.mark.bad_input("config")
def test_a_directory_or_binary_file_is_named_not_a_traceback(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="is a directory") as caught:
        load_config(tmp_path)
    one_sentence(caught.value, "is a directory")
    binary = tmp_path / "config.yaml"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n\xff\xfe")
    with pytest.raises(ConfigError, match=r"is not text \(UTF-8\)") as caught:
        load_config(binary)
    one_sentence(caught.value, str(binary))
    assert binary.read_bytes() == b"\x89PNG\r\n\x1a\n\xff\xfe"


@pytest.mark.bad_input("config")
def test_schema_rejects_duplicate_and_overlapping_columns() -> None:
    with pytest.raises(ConfigError, match="duplicate feature names"):
        load_config(dataset={"features": [{"name": "a"}, {"name": "a"}]})
    with pytest.raises(ConfigError, match="must not be listed as features") as caught:
        load_config(dataset={"features": [{"name": "is_fraud"}]})
    one_sentence(caught.value, "dataset")
    nothing_kept()


def test_names_are_derived_once_and_fit_aws_limits() -> None:
    names = Names(load_config(project="fraud-detection", stage="prod", account_id="210987654321"))
    assert names.state_machine == "fraud-detection-prod-retrain"
    assert (
        names.state_machine_arn
        == "arn:aws:states:us-east-1:210987654321:stateMachine:fraud-detection-prod-retrain"
    )
    assert names.raw_bucket == "fraud-detection-prod-raw-210987654321"
    assert (
        names.sagemaker_role_arn == "arn:aws:iam::210987654321:role/fraud-detection-prod-sagemaker-execution"
    )
    functions = [names.pipeline_relay_function, names.approval_relay_function, names.store_token_function]
    assert all(len(f) <= 64 for f in functions)
    assert len(names.pipeline) <= 63 and len(names.endpoint) <= 63
    for bucket in names.buckets:
        assert len(bucket) <= 63


def test_bucket_overrides_are_used() -> None:
    names = Names(load_config(raw_bucket="team-landing-zone"))
    assert names.raw_bucket == "team-landing-zone"
    assert names.asl_substitutions()["RawBucket"] == "team-landing-zone"


@pytest.mark.bad_input("config")
@pytest.mark.parametrize(
    ("variable", "closest"),
    [
        ("DUALLOOP_QUALITY_THRESHOLD", "DUALLOOP_QUALITY__THRESHOLD"),  # one underscore where two are needed
        ("DUALLOOP_DEPLOYMENT__TRAFIC_TYPE", "DUALLOOP_DEPLOYMENT__TRAFFIC_TYPE"),
        ("DUALLOOP_STAG", "DUALLOOP_STAGE"),
        ("DUALLOOP_QUALITY__THRESHOLD__X", "DUALLOOP_QUALITY__THRESHOLD"),  # a number has no fields
    ],
)
def test_an_unknown_variable_is_refused_naming_the_closest(
    monkeypatch: pytest.MonkeyPatch, variable: str, closest: str
) -> None:
    # GIVEN a DUALLOOP_* variable that is no setting, WHEN the config loads, THEN it is refused by name
    monkeypatch.setenv(variable, "0.99")
    with pytest.raises(ConfigError) as caught:
        load_config()
    assert f"environment variable {variable} is not a dualloop setting (the closest is {closest})" in str(
        caught.value
    )
    one_sentence(caught.value, variable, closest)
    monkeypatch.delenv(variable)
    nothing_kept()


@pytest.mark.bad_input("config")
def test_an_unknown_variable_with_nothing_close_points_to_the_table(monkeypatch: pytest.MonkeyPatch) -> None:
    from shared.user_errors import describe_config_error

    monkeypatch.setenv("DUALLOOP_ZZZZZZZZZZZZZZZZZZ", "1")
    with pytest.raises(ConfigError) as caught:
        load_config()
    sentence = describe_config_error(caught.value)
    assert sentence == (
        "Environment variable DUALLOOP_ZZZZZZZZZZZZZZZZZZ is not a dualloop setting (see the configuration "
        "table in README.md); rename or unset it, and run again."
    )
    monkeypatch.delenv("DUALLOOP_ZZZZZZZZZZZZZZZZZZ")
    nothing_kept()


def test_settings_and_the_variables_the_code_reads_are_accepted(monkeypatch: pytest.MonkeyPatch) -> None:
    from shared.config import OTHER_VARIABLES

    monkeypatch.setenv("DUALLOOP_QUALITY__THRESHOLD", "0.8")
    monkeypatch.setenv("dualloop_stage", "prod")  # pydantic-settings reads names case-insensitively
    monkeypatch.setenv("DUALLOOP_DRIFT", '{"window_hours": 2}')  # a whole section as JSON
    for name in OTHER_VARIABLES - {"DUALLOOP_CONFIG_FILE"}:
        monkeypatch.setenv(name, "x")
    cfg = load_config()
    assert cfg.quality.threshold == 0.8 and cfg.stage is Stage.PROD and cfg.drift.window_hours == 2


def test_every_dualloop_variable_the_code_reads_is_a_setting_or_listed() -> None:
    # The product code (not tests) names DUALLOOP_* variables as literals: each must pass the check,
    # or a user (or a Lambda's environment) setting it would be refused.
    import re

    from shared.config import unknown_variables

    root = Path(__file__).resolve().parents[2]
    names = {
        m
        for folder in ("shared", "outer_orchestrator", "inner_pipeline", "infra")
        for path in (root / folder).rglob("*.py")
        for m in re.findall(r"\bDUALLOOP_[A-Z0-9_]*[A-Z0-9]\b", path.read_text())
    }
    assert len(names) > 10
    assert unknown_variables(dict.fromkeys(names, "x")) == []


def test_a_stage_profile_variable_is_accepted_and_a_misspelt_one_refused() -> None:
    # GIVEN the per-stage AWS profile variables that approve/reject read (stage_sessions.py)
    from shared.config import unknown_variables

    # WHEN the environment names a stage's profile, and a stage that does not exist
    problems = unknown_variables({"DUALLOOP_PROFILE_PROD": "prod-approver", "DUALLOOP_PROFILE_QA": "x"})

    # THEN only the unknown stage's variable is refused
    assert len(problems) == 1 and "DUALLOOP_PROFILE_QA" in problems[0], problems

"""The outer loop in the template: the state machine runs the expanded ASL verbatim, its role grants
exactly what the ASL's tasks call, and the plumbing around it (Glue, relays, tables, topic,
rules) is wired to the names the ASL and the handlers expect."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from synth_support import Resolver, Synth, role_statements, statements

from infra.sources import GLUE_DIR, QUALITY_DIR
from outer_orchestrator.local_stack import substituted_asl
from outer_orchestrator.statemachine.definition import outer_loop_definition

if TYPE_CHECKING:
    from shared.config import DualloopConfig
    from shared.naming import Names

_PLACEHOLDER = re.compile(r"\$\{([A-Za-z0-9_]+)\}")


def _state_machine(synth: Synth, resolve: Resolver, names: Names) -> dict[str, Any]:
    _, sm = synth.one("AWS::StepFunctions::StateMachine", StateMachineName=names.state_machine)
    props: dict[str, Any] = resolve(sm["Properties"])
    return props


def _group(pattern: str, text: str) -> str:
    found = re.search(pattern, text)
    assert found, f"{pattern!r} not in {text!r}"
    return found[1]


def _substitute(text: str, substitutions: dict[str, str]) -> str:
    """What CloudFormation does with DefinitionSubstitutions: replace each ${Key} it names."""
    for key, value in substitutions.items():
        text = text.replace("${" + key + "}", value)
    return text


# ---- the definition ------------------------------------------------------------------------


def test_definition_is_the_expanded_asl_with_names_substituted(
    synth: Synth, resolve: Resolver, names: Names
) -> None:
    props = _state_machine(synth, resolve, names)
    asl = outer_loop_definition()
    snapshot = Path(__file__).parents[1] / "unit" / "snapshots" / "outer_loop.asl.json"

    # The template carries the expanded ASL verbatim (the reviewed snapshot, byte for byte) and
    # the very mapping the local cloud substitutes.
    assert props["DefinitionString"] == asl == snapshot.read_text()
    assert props["DefinitionSubstitutions"] == names.asl_substitutions()

    deployed = _substitute(props["DefinitionString"], props["DefinitionSubstitutions"])
    assert deployed == substituted_asl(names)  # what the local cloud creates
    assert not _PLACEHOLDER.findall(deployed), "placeholders without a substitution"
    assert set(_PLACEHOLDER.findall(asl)) <= set(names.asl_substitutions())
    json.loads(deployed)


def test_no_dollar_brace_is_left_in_the_deployed_definition(
    synth: Synth, resolve: Resolver, names: Names
) -> None:
    props = _state_machine(synth, resolve, names)
    deployed = json.loads(_substitute(props["DefinitionString"], props["DefinitionSubstitutions"]))
    # Not even in a Comment: CloudFormation would read any ${...} as a substitution variable.
    assert [path for path, text in _strings(deployed) if "${" in text] == []


ASL_VALIDATOR = Path(__file__).resolve().parents[2] / "node_modules" / ".bin" / "asl-validator"


def _asl_validator(definition: dict[str, Any], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    path = tmp_path / "definition.json"
    path.write_text(json.dumps(definition))
    return subprocess.run(
        [str(ASL_VALIDATOR), "--json-path", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_an_independent_asl_validator_finds_the_deployed_definition_valid(
    synth: Synth, resolve: Resolver, names: Names, tmp_path: Path
) -> None:
    # asl-validator (npm, from the repo's lock) checks the ASL against the States Language spec,
    # apart from moto's interpreter and cfn-lint's schema.
    props = _state_machine(synth, resolve, names)
    deployed = json.loads(_substitute(props["DefinitionString"], props["DefinitionSubstitutions"]))
    checked = _asl_validator(deployed, tmp_path)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    # ... and it is a check that can fail: a dangling Next is refused.
    broken = {**deployed, "States": {**deployed["States"]}}
    name = next(n for n, state in deployed["States"].items() if "Next" in state)
    broken["States"][name] = {**deployed["States"][name], "Next": "NoSuchState"}
    refused = _asl_validator(broken, tmp_path)
    assert refused.returncode != 0 and "NoSuchState" in refused.stdout + refused.stderr


def _strings(node: Any, path: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], str]]:
    if isinstance(node, dict):
        return [x for k, v in node.items() for x in _strings(v, (*path, str(k)))]
    if isinstance(node, list):
        return [x for i, v in enumerate(node) for x in _strings(v, (*path, str(i)))]
    return [(path, node)] if isinstance(node, str) else []


def test_state_machine_logs_transitions_encrypted_and_traces(
    synth: Synth, resolve: Resolver, names: Names
) -> None:
    props = _state_machine(synth, resolve, names)
    assert props["TracingConfiguration"] == {"Enabled": True}
    logging = props["LoggingConfiguration"]
    assert logging["Level"] == "ALL"
    assert logging["IncludeExecutionData"] is False  # task tokens: test_infra_green_on_aws.py
    (destination,) = logging["Destinations"]
    log_group_arn = destination["CloudWatchLogsLogGroup"]["LogGroupArn"]
    _, log_group = synth.one(
        "AWS::Logs::LogGroup", LogGroupName=f"/aws/vendedlogs/states/{names.state_machine}"
    )
    assert log_group_arn.startswith(f"arn:aws:logs:{names.region}:{names.account}:log-group:/aws/vendedlogs/")
    assert "KmsKeyId" in log_group["Properties"]
    assert props["RoleArn"] == names.state_machine_role_arn


# ---- the state machine's role: exactly the ASL's tasks ----------------------------------------

# CDK adds these for logging (CloudWatch Logs vended delivery) and X-Ray; none has resource-level permissions.
_CDK_LOGGING_AND_TRACING = {
    "logs:CreateLogDelivery",
    "logs:GetLogDelivery",
    "logs:UpdateLogDelivery",
    "logs:DeleteLogDelivery",
    "logs:ListLogDeliveries",
    "logs:PutResourcePolicy",
    "logs:DescribeResourcePolicies",
    "logs:DescribeLogGroups",
    "xray:PutTraceSegments",
    "xray:PutTelemetryRecords",
    "xray:GetSamplingRules",
    "xray:GetSamplingTargets",
}


def _expected_grants(asl: dict[str, Any], names: Names) -> set[tuple[str, str]]:
    """(action, resource) for every Task in the ASL, from its Resource and Parameters.

    Names the ASL builds at run time (UUID models and configs, per-execution report keys,
    registry-numbered packages) become the pattern their format string or Names implies.
    """
    sm = f"arn:aws:sagemaker:{names.region}:{names.account}"
    endpoint_configs = f"{sm}:endpoint-config/{names.model_name_prefix}-*"
    prepare = asl["States"]["PrepareRun"]["Parameters"]
    report_key = _group(r"'([^']+)'", prepare["quality_report_key.$"]).replace("{}", "*")
    grants: set[tuple[str, str]] = set()
    for state in asl["States"].values():
        if state["Type"] != "Task":
            continue
        integration = state["Resource"].removeprefix("arn:aws:states:::").removesuffix(".waitForTaskToken")
        p = state.get("Parameters", {})
        match integration:
            case "dynamodb:putItem" | "dynamodb:deleteItem":
                action = "dynamodb:" + integration.split(":")[1][0].upper() + integration.split(":")[1][1:]
                grants.add(
                    (action, f"arn:aws:dynamodb:{names.region}:{names.account}:table/{p['TableName']}")
                )
            case "glue:startJobRun.sync":
                job = f"arn:aws:glue:{names.region}:{names.account}:job/{p['JobName']}"
                for action in ("StartJobRun", "GetJobRun", "GetJobRuns", "BatchStopJobRun"):
                    grants.add((f"glue:{action}", job))
            case "aws-sdk:s3:getObject":
                grants.add(("s3:GetObject", f"arn:aws:s3:::{p['Bucket']}/{report_key}"))
            case "aws-sdk:sagemaker:startPipelineExecution":
                grants.add(("sagemaker:StartPipelineExecution", f"{sm}:pipeline/{p['PipelineName']}"))
            case "lambda:invoke":
                grants.add(("lambda:InvokeFunction", p["FunctionName"]))
            case "sns:publish":
                grants.add(("sns:Publish", p["TopicArn"]))
            case "aws-sdk:sagemaker:updateModelPackage":
                grants.add(
                    ("sagemaker:UpdateModelPackage", f"{sm}:model-package/{names.model_package_group}/*")
                )
            case "aws-sdk:sagemaker:describeModelPackage":
                grants.add(
                    ("sagemaker:DescribeModelPackage", f"{sm}:model-package/{names.model_package_group}/*")
                )
            case "aws-sdk:sagemaker:createModel":
                prefix = _group(r"'([^']+)\{\}'", p["ModelName.$"])
                grants.add(("sagemaker:CreateModel", f"{sm}:model/{prefix}*"))
                grants.add(("iam:PassRole", p["ExecutionRoleArn"]))
            case "aws-sdk:sagemaker:createEndpointConfig":
                grants.add(("sagemaker:CreateEndpointConfig", endpoint_configs))
            case "aws-sdk:sagemaker:createEndpoint" | "aws-sdk:sagemaker:updateEndpoint":
                action = "sagemaker:" + integration.split(":")[-1][0].upper() + integration.split(":")[-1][1:]
                grants.add((action, f"{sm}:endpoint/{p['EndpointName']}"))
                grants.add((action, endpoint_configs))  # authorised on the config it is given, too
                if "DeploymentConfig.$" in p:  # auto-rollback alarms: SageMaker describes them as the caller
                    for alarm in names.endpoint_alarms:
                        grants.add(("cloudwatch:DescribeAlarms", names.alarm_arn(alarm)))
            case "aws-sdk:sagemaker:describeEndpoint":
                grants.add(("sagemaker:DescribeEndpoint", f"{sm}:endpoint/{p['EndpointName']}"))
            case _:
                pytest.fail(f"the ASL calls {state['Resource']}, which this test does not know: extend it")
    return grants


def test_state_machine_role_grants_exactly_the_asl_tasks(
    synth: Synth, resolve: Resolver, names: Names
) -> None:
    # GIVEN the deployed ASL and what each of its tasks calls
    props = _state_machine(synth, resolve, names)
    asl = json.loads(_substitute(props["DefinitionString"], props["DefinitionSubstitutions"]))
    expected = _expected_grants(asl, names)

    # WHEN we list what the role's policies allow
    stmts = role_statements(synth, resolve, names.state_machine_role)
    granted: set[tuple[str, str]] = set()
    for s in stmts:
        assert s["Effect"] == "Allow"
        for action in s["Action"]:
            if action in _CDK_LOGGING_AND_TRACING:
                assert s["Resource"] == ["*"]
                continue
            if action.startswith("kms:"):
                # The topic, the lock table and the curated objects use the project key.
                assert [r.rsplit("/", 1)[0] for r in s["Resource"]] == [
                    f"arn:aws:kms:{names.region}:{names.account}:key"
                ]
                assert action in {"kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey", "kms:DescribeKey"}
                continue
            granted.update((action, r) for r in s["Resource"])

    # THEN it is exactly the ASL's tasks: nothing missing, nothing extra
    assert granted - expected == set(), "granted but no task needs it"
    assert expected - granted == set(), "a task needs it but it is not granted"
    (pass_role,) = [s for s in stmts if "iam:PassRole" in s["Action"]]
    assert pass_role["Condition"] == {"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}}


# ---- Glue ------------------------------------------------------------------------------------


def _asset_file(synth: Synth, s3_url: str) -> Path:
    """The cloud-assembly file behind an asset's s3:// URL (the key is the asset hash)."""
    key = s3_url.rsplit("/", 1)[1]
    asset_hash = key.split(".", 1)[0]
    (path,) = [p for p in synth.outdir.iterdir() if p.name.startswith(f"asset.{asset_hash}")]
    return path


@pytest.mark.parametrize(
    ("job_attr", "script"), [("ingest_job", "ingest.py"), ("data_quality_job", "data_quality.py")]
)
def test_glue_jobs_run_the_repo_scripts_on_glue_5_with_encryption(
    synth: Synth, resolve: Resolver, names: Names, cfg: DualloopConfig, job_attr: str, script: str
) -> None:
    _, job = synth.one("AWS::Glue::Job", Name=getattr(names, job_attr))
    props = resolve(job["Properties"])
    assert props["GlueVersion"] == "5.0"
    assert props["Command"]["Name"] == "glueetl"
    assert props["Command"]["PythonVersion"] == "3"
    assert props["Role"] == names.glue_role_arn
    assert (
        _asset_file(synth, props["Command"]["ScriptLocation"]).read_bytes()
        == (GLUE_DIR / script).read_bytes()
    )

    # The helpers zip carries what the scripts import, in package layout, without the scripts.
    # (CDK stages a directory asset as a directory; it is zipped when published.)
    args = props["DefaultArguments"]
    assert args["--extra-py-files"].endswith(".zip")
    helpers = _asset_file(synth, args["--extra-py-files"])
    shipped = {p.relative_to(helpers).as_posix() for p in helpers.rglob("*") if p.is_file()}
    for module in (
        "outer_orchestrator/glue/transforms.py",
        "outer_orchestrator/glue/io.py",
        "shared/config.py",
    ):
        assert module in shipped
    assert any(n.startswith("outer_orchestrator/quality/") for n in shipped)
    assert not {f"outer_orchestrator/glue/{s}" for s in ("ingest.py", "data_quality.py")} & shipped

    sec_id = props["SecurityConfiguration"]
    _, sec = synth.one("AWS::Glue::SecurityConfiguration", Name=sec_id)
    enc = sec["Properties"]["EncryptionConfiguration"]
    assert enc["S3Encryptions"][0]["S3EncryptionMode"] == "SSE-KMS"
    assert enc["CloudWatchEncryption"]["CloudWatchEncryptionMode"] == "SSE-KMS"
    assert enc["JobBookmarksEncryption"]["JobBookmarksEncryptionMode"] == "CSE-KMS"


def test_glue_job_arguments(synth: Synth, resolve: Resolver, names: Names, cfg: DualloopConfig) -> None:
    _, ingest = synth.one("AWS::Glue::Job", Name=names.ingest_job)
    from shared.config import DataSchema

    schema = ingest["Properties"]["DefaultArguments"]["--schema"]
    assert DataSchema.model_validate_json(schema) == cfg.dataset

    _, quality = synth.one("AWS::Glue::Job", Name=names.data_quality_job)
    args = resolve(quality["Properties"]["DefaultArguments"])
    assert _asset_file(synth, args["--ruleset_uri"]).read_bytes() == (QUALITY_DIR / cfg.ruleset).read_bytes()
    assert args["--ruleset_name"] == Path(cfg.ruleset).stem


def test_glue_role_reads_raw_writes_curated_and_reads_only_its_code(
    synth: Synth, resolve: Resolver, names: Names
) -> None:
    stmts = role_statements(synth, resolve, names.glue_role)
    by_sid = {s["Sid"]: s for s in stmts}
    assert set(by_sid["ReadRaw"]["Action"]) == {"s3:GetObject", "s3:ListBucket"}
    assert all(r.startswith(f"arn:aws:s3:::{names.raw_bucket}") for r in by_sid["ReadRaw"]["Resource"])
    assert all(
        r.startswith(f"arn:aws:s3:::{names.curated_bucket}") for r in by_sid["WriteCurated"]["Resource"]
    )
    assert by_sid["ReadCode"]["Action"] == ["s3:GetObject"]
    assert all("*" not in r for r in by_sid["ReadCode"]["Resource"])
    writes = {r for s in stmts if "s3:PutObject" in s["Action"] for r in s["Resource"]}
    assert writes == {
        f"arn:aws:s3:::{names.curated_bucket}",
        f"arn:aws:s3:::{names.curated_bucket}/curated/*",
    }


# ---- relays ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("function_attr", "module"),
    [
        ("pipeline_relay_function", "pipeline_relay"),
        ("approval_relay_function", "approval_relay"),
        ("store_token_function", "store_token"),
        ("pipeline_callback_function", "pipeline_callback"),
    ],
)
def test_relay_functions(
    synth: Synth, resolve: Resolver, names: Names, function_attr: str, module: str
) -> None:
    fn_name = getattr(names, function_attr)
    _, fn = synth.one("AWS::Lambda::Function", FunctionName=fn_name)
    props = resolve(fn["Properties"])
    assert props["Handler"] == f"outer_orchestrator.handlers.{module}.handler"
    assert props["Runtime"] in ("python3.11", "python3.12")
    # No reservation by default: it would fail to deploy in an account with a low concurrency quota.
    assert "ReservedConcurrentExecutions" not in props
    assert props["TracingConfig"] == {"Mode": "Active"}
    assert props["Role"] == names.relay_role_arn(module)
    assert props["Environment"]["Variables"] == {
        "DUALLOOP_TOKEN_TABLE": names.token_table,
        "DUALLOOP_PIPELINE_TOKEN_TABLE": names.pipeline_token_table,
        "DUALLOOP_TOPIC_ARN": names.topic_arn,
        "DUALLOOP_PIPELINE_NAME": names.pipeline,
        "DUALLOOP_MODEL_PACKAGE_GROUP": names.model_package_group,
        "POWERTOOLS_SERVICE_NAME": fn_name,
    }
    # Powertools: the AWS-published layer, resolved from AWS's public SSM parameter at deploy time.
    (layer,) = fn["Properties"]["Layers"]
    parameter = synth.template["Parameters"][layer["Ref"]]
    assert parameter["Type"] == "AWS::SSM::Parameter::Value<String>"
    assert parameter["Default"].startswith(f"/aws/service/powertools/python/x86_64/{props['Runtime']}/")

    # The code asset is the repo's handlers and shared package, without the workstation-only parts.
    code_dir = synth.outdir / f"asset.{props['Code']['S3Key'].removesuffix('.zip')}"
    assert (code_dir / "outer_orchestrator" / "handlers" / f"{module}.py").is_file()
    assert (code_dir / "shared" / "contracts.py").is_file()
    assert not (code_dir / "shared" / "local_cloud").exists()
    assert not list(code_dir.rglob("__pycache__"))


@pytest.mark.parametrize(
    "function_attr", ["pipeline_relay_function", "approval_relay_function", "store_token_function"]
)
def test_relay_reserved_concurrency_is_opt_in_from_the_context(
    custom_synth: Synth, custom_cfg: DualloopConfig, function_attr: str
) -> None:
    from shared.naming import Names

    # custom_synth sets `-c relay_reserved_concurrency=3`
    _, fn = custom_synth.one("AWS::Lambda::Function", FunctionName=getattr(Names(custom_cfg), function_attr))
    assert fn["Properties"]["ReservedConcurrentExecutions"] == 3


@pytest.mark.parametrize("value", ["0", "-1", "many", True])
def test_relay_reserved_concurrency_rejects_nonsense(cfg: DualloopConfig, tmp_path: Path, value: Any) -> None:
    from infra.app import create_app

    with pytest.raises(ValueError, match="relay"):
        create_app(
            cfg=cfg,
            outdir=str(tmp_path),
            nag=False,
            validation=False,
            pipeline=None,
            context={"relay_reserved_concurrency": value},
        )


def test_relay_roles(synth: Synth, resolve: Resolver, names: Names) -> None:
    # Which actions each relay role holds: tests/infra/test_infra_iam.py (allowlist); here, the resources.
    sm = f"arn:aws:sagemaker:{names.region}:{names.account}"
    relay = {s.get("Sid"): s for s in role_statements(synth, resolve, names.relay_role("pipeline_relay"))}
    assert relay["ReadPipelineExecutions"]["Resource"] == [f"{sm}:pipeline/{names.pipeline}/execution/*"]
    assert relay["ReadModelPackages"]["Resource"] == [f"{sm}:model-package/{names.model_package_group}/*"]
    store = {s.get("Sid"): s for s in role_statements(synth, resolve, names.relay_role("store_token"))}
    assert store["TaskTokens"]["Resource"] == [
        f"arn:aws:dynamodb:{names.region}:{names.account}:table/{names.token_table}"
    ]
    assert store["Notify"]["Resource"] == [names.topic_arn]
    assert set(store["AnswerTaskTokens"]["Action"]) == {"states:SendTaskSuccess", "states:SendTaskFailure"}
    callback = {
        s.get("Sid"): s for s in role_statements(synth, resolve, names.relay_role("pipeline_callback"))
    }
    assert callback["StartPipeline"]["Resource"] == [f"{sm}:pipeline/{names.pipeline}"]


@pytest.mark.parametrize(
    ("rule_attr", "function_attr", "pattern"),
    [
        (
            "pipeline_status_rule",
            "pipeline_relay_function",
            lambda n: {
                "source": ["aws.sagemaker"],
                "detail-type": ["SageMaker Model Building Pipeline Execution Status Change"],
                "detail": {"pipelineArn": [n.pipeline_arn]},
                "account": [n.account],
            },
        ),
        (
            "model_package_state_rule",
            "approval_relay_function",
            lambda n: {
                "source": ["aws.sagemaker"],
                "detail-type": ["SageMaker Model Package State Change"],
                "detail": {"ModelPackageGroupName": [n.model_package_group]},
                "account": [n.account],
            },
        ),
    ],
)
def test_sagemaker_events_reach_the_relays_with_retries(
    synth: Synth, resolve: Resolver, names: Names, rule_attr: str, function_attr: str, pattern: Any
) -> None:
    _, rule = synth.one("AWS::Events::Rule", Name=getattr(names, rule_attr))
    props = resolve(rule["Properties"])
    assert props["EventPattern"] == pattern(names)
    assert props["State"] == "ENABLED"
    (target,) = props["Targets"]
    assert target["Arn"] == names.function_arn(getattr(names, function_attr))
    assert target["RetryPolicy"]["MaximumRetryAttempts"] > 0
    queue_id, _ = synth.one("AWS::SQS::Queue", QueueName=names.dead_letter_queue)
    assert target["DeadLetterConfig"]["Arn"] == resolve({"Fn::GetAtt": [queue_id, "Arn"]})


# ---- state and notifications -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("table_attr", "key", "ttl"),
    [
        ("lock_table", "lock_id", None),
        ("token_table", "model_package_arn", "expires_at"),
        ("pipeline_token_table", "callback_key", "expires_at"),
    ],
)
def test_tables(synth: Synth, names: Names, table_attr: str, key: str, ttl: str | None) -> None:
    _, table = synth.one("AWS::DynamoDB::Table", TableName=getattr(names, table_attr))
    props = table["Properties"]
    assert props["KeySchema"] == [{"AttributeName": key, "KeyType": "HASH"}]
    assert props["BillingMode"] == "PAY_PER_REQUEST"
    assert props["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert props["SSESpecification"]["SSEEnabled"] is True
    assert props["SSESpecification"]["SSEType"] == "KMS"
    if ttl:
        assert props["TimeToLiveSpecification"] == {"AttributeName": ttl, "Enabled": True}
    else:
        assert "TimeToLiveSpecification" not in props


def test_topic_is_encrypted_and_tls_only(synth: Synth, names: Names) -> None:
    topic_id, topic = synth.one("AWS::SNS::Topic", TopicName=names.topic)
    assert "KmsMasterKeyId" in topic["Properties"]
    (policy,) = [
        p
        for p in synth.resources("AWS::SNS::TopicPolicy").values()
        if {"Ref": topic_id} in p["Properties"]["Topics"]
    ]
    deny = [s for s in statements(policy["Properties"]["PolicyDocument"]) if s["Effect"] == "Deny"]
    assert any(s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}} for s in deny)


# ---- what starts a retrain -------------------------------------------------------------------


def test_retrain_rules_start_the_state_machine_through_the_events_role(
    synth: Synth, resolve: Resolver, names: Names
) -> None:
    # The drift alarm rule targets the drift trigger (test_infra_drift_trigger.py).
    for rule_name in (names.schedule_rule, names.new_data_rule):
        _, rule = synth.one("AWS::Events::Rule", Name=rule_name)
        (target,) = resolve(rule["Properties"]["Targets"])
        assert target["Arn"] == names.state_machine_arn
        assert target["RoleArn"] == names.events_role_arn
        assert target["RetryPolicy"]["MaximumRetryAttempts"] > 0

    stmts = role_statements(synth, resolve, names.events_role)
    assert {(a, r) for s in stmts for a in s["Action"] for r in s["Resource"]} == {
        ("states:StartExecution", names.state_machine_arn)
    }


def test_retrain_rule_patterns(synth: Synth, resolve: Resolver, names: Names, cfg: DualloopConfig) -> None:
    _, drift = synth.one("AWS::Events::Rule", Name=names.drift_alarm_rule)
    assert drift["Properties"]["EventPattern"] == {
        "source": ["aws.cloudwatch"],
        "detail-type": ["CloudWatch Alarm State Change"],
        "resources": [names.alarm_arn(names.drift_alarm)],
        "detail": {"alarmName": [names.drift_alarm], "state": {"value": ["ALARM"]}},
    }
    _, new_data = synth.one("AWS::Events::Rule", Name=names.new_data_rule)
    assert new_data["Properties"]["EventPattern"] == {
        "source": ["aws.s3"],
        "detail-type": ["Object Created"],
        "detail": {"bucket": {"name": [names.raw_bucket]}, "object": {"key": [{"prefix": cfg.raw_prefix}]}},
    }
    _, schedule = synth.one("AWS::Events::Rule", Name=names.schedule_rule)
    assert schedule["Properties"]["ScheduleExpression"].startswith(("rate(", "cron("))
    assert schedule["Properties"]["State"] == "DISABLED", (
        "a dev stack must not retrain on a schedule by default"
    )

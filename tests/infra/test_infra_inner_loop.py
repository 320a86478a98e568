"""The inner loop in the template: the SageMaker role, the model registry group, the pipeline
and the code its definition points at."""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from synth_support import Resolver, Synth, role_statements

if TYPE_CHECKING:
    from infra.pipeline_build import PipelineBuild
    from shared.naming import Names


@pytest.fixture(scope="module")
def built(pipeline: PipelineBuild | None) -> PipelineBuild:
    if pipeline is None:
        pytest.skip("inner_pipeline/pipeline.py is not there yet: the stack has no AWS::SageMaker::Pipeline")
    return pipeline


def test_sagemaker_role_is_scoped_to_project_resources(synth: Synth, resolve: Resolver, names: Names) -> None:
    _, role = synth.one("AWS::IAM::Role", RoleName=names.sagemaker_role)
    principals = [s["Principal"] for s in role["Properties"]["AssumeRolePolicyDocument"]["Statement"]]
    assert principals == [{"Service": "sagemaker.amazonaws.com"}]

    stmts = role_statements(synth, resolve, names.sagemaker_role)
    s3_resources = {r for s in stmts for a in s["Action"] if a.startswith("s3:") for r in s["Resource"]}
    project_buckets = {f"arn:aws:s3:::{b}" for b in (names.curated_bucket, names.artifact_bucket)}
    assert {r.split("/", 1)[0] for r in s3_resources} == project_buckets
    # Raw data is the outer loop's input, never the pipeline's.
    assert not any(names.raw_bucket in r for r in s3_resources)

    pass_role = [s for s in stmts if "iam:PassRole" in s["Action"]]
    assert pass_role == [
        {
            "Sid": "PassSelfToJobs",
            "Effect": "Allow",
            "Action": ["iam:PassRole"],
            "Resource": [names.sagemaker_role_arn],
            "Condition": {"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}},
        }
    ]
    kms = {r for s in stmts for a in s["Action"] if a.startswith("kms:") for r in s["Resource"]}
    assert len(kms) == 1
    assert kms.pop().startswith(f"arn:aws:kms:{names.region}:{names.account}:key/")


def test_sagemaker_role_pulls_exactly_the_images_the_pipeline_runs(
    synth: Synth, resolve: Resolver, names: Names, built: PipelineBuild
) -> None:
    images = set(re.findall(r'"(\d{12}\.dkr\.ecr\.[a-z0-9-]+\.amazonaws\.com/[^":@]+)', built.definition))
    assert images, "the definition runs no ECR image?"
    expected = set()
    for image in images:
        account, _, _, region, *_ = image.split("/")[0].split(".")
        expected.add(f"arn:aws:ecr:{region}:{account}:repository/{image.split('/', 1)[1]}")

    stmts = role_statements(synth, resolve, names.sagemaker_role)
    (pull,) = [s for s in stmts if "ecr:BatchGetImage" in s["Action"]]
    assert set(pull["Resource"]) == expected


def test_model_package_group_is_named_by_names(synth: Synth, names: Names) -> None:
    synth.one("AWS::SageMaker::ModelPackageGroup", ModelPackageGroupName=names.model_package_group)


def test_pipeline_definition_in_the_template_is_the_built_definition(
    synth: Synth, resolve: Resolver, names: Names, built: PipelineBuild
) -> None:
    _, resource = synth.one("AWS::SageMaker::Pipeline", PipelineName=names.pipeline)
    props = resolve(resource["Properties"])
    # Byte for byte: what deploys is what the local executor and `dualloop inner upsert` build.
    assert props["PipelineDefinition"] == {"PipelineDefinitionBody": built.definition}
    assert props["RoleArn"] == names.sagemaker_role_arn


def test_code_the_definition_points_at_is_deployed_to_the_same_keys(
    synth: Synth, resolve: Resolver, names: Names, built: PipelineBuild
) -> None:
    # GIVEN every artifact-bucket object the definition reads its code from
    referenced = set(
        re.findall(rf"s3://{re.escape(names.artifact_bucket)}/([^\"]*code/[^\"]*)", built.definition)
    )
    assert referenced, "the definition references no packaged code"

    # WHEN the stack's BucketDeployment copies its source asset into the artifact bucket
    deployment_id, deployment = next(iter(synth.resources("Custom::CDKBucketDeployment").items()))
    props = resolve(deployment["Properties"])
    assert props["DestinationBucketName"] == names.artifact_bucket
    assert props["Prune"] is False  # the bucket also holds models and older code
    assert "DestinationBucketKeyPrefix" not in props  # keys are used as the build wrote them
    (source_key,) = props["SourceObjectKeys"]
    asset_dir = synth.outdir / f"asset.{source_key.removesuffix('.zip')}"
    deployed = {p.relative_to(asset_dir).as_posix() for p in asset_dir.rglob("*") if p.is_file()}

    # THEN each referenced object (or prefix, for processing inputs) is among the deployed ones
    for key in referenced:
        if key.endswith("/"):
            assert any(d.startswith(key) for d in deployed), f"nothing deployed under {key}"
        else:
            assert key in deployed, f"{key} is referenced but not deployed"
    # AND the bytes are the ones the build uploaded
    for rel in deployed:
        assert (asset_dir / rel).read_bytes() == (Path(built.uploads) / rel).read_bytes()

    # AND the pipeline is created only after its code is in place
    _, pipeline_resource = synth.one("AWS::SageMaker::Pipeline", PipelineName=names.pipeline)
    assert deployment_id in pipeline_resource.get("DependsOn", [])

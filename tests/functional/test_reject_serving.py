"""``dualloop reject`` of the package that serves says what it did and did not do (issue 17, item 3).

Rejecting records the decision in the Model Registry; it does not take the endpoint down or
roll it back. Before, it exited 0 and said only ``Rejected: <arn>``, so a user could believe
the model had been withdrawn. Now it exits 3 (documented in the README) and names the
command that rolls back to the previous deployment, read from the registry's records.
"""

from __future__ import annotations

import uuid
from dataclasses import replace
from pathlib import Path

import boto3
import pytest
from hosting_fixture import Registry, model_tarball, sourcedir_tarball, train_model
from typer.testing import CliRunner
from wait_support import endpoint_settled

from shared.local_cloud import LocalCloud


@pytest.mark.bad_input("approvals")
def test_rejecting_the_serving_package_says_it_still_serves_and_how_to_roll_back(
    local_cloud: LocalCloud, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from shared.cli import app

    # GIVEN two approved packages of the project's group recorded as deployed (as MarkDeployed
    # records them), the newer one serving on the endpoint now
    sm = boto3.client("sagemaker")
    project = f"rs-{uuid.uuid4().hex[:6]}"
    monkeypatch.setenv("DUALLOOP_PROJECT", project)
    monkeypatch.delenv("DUALLOOP_STAGE", raising=False)
    registry = replace(Registry.create(boto3.client("s3"), sm), group=f"{project}-dev-models")
    sm.create_model_package_group(ModelPackageGroupName=registry.group)
    model_url = registry.upload("models/m/model.tar.gz", model_tarball(train_model(tmp_path)))
    code_url = registry.upload("code/c/sourcedir.tar.gz", sourcedir_tarball())
    older, newer = registry.package(model_url, code_url), registry.package(model_url, code_url)
    older_config, newer_config = registry.endpoint_config(older), registry.endpoint_config(newer)
    endpoint = f"reject-ep-{uuid.uuid4().hex[:6]}"
    sm.create_endpoint(EndpointName=endpoint, EndpointConfigName=newer_config)
    assert endpoint_settled(endpoint, timeout=120)["EndpointStatus"] == "InService"
    for arn, config, at in (
        (older, older_config, "2026-12-01T10:00:00Z"),
        (newer, newer_config, "2026-12-02T10:00:00Z"),
    ):
        sm.update_model_package(
            ModelPackageArn=arn,
            ModelApprovalStatus="Approved",
            CustomerMetadataProperties={
                "dualloop:deployed-endpoint": endpoint,
                "dualloop:endpoint-config": config,
                "dualloop:deployed-at": at,
            },
        )

    # WHEN the serving package is rejected
    result = CliRunner().invoke(app, ["reject", newer, "--reason", "bad metrics"], catch_exceptions=False)

    # THEN it is Rejected in the registry, the exit code says "rejected, still serving", and the
    # message says what did not happen and gives the roll-back command with the older config
    assert result.exit_code == 3, result.output
    text = " ".join(result.output.split())
    assert f"still serves on endpoint {endpoint}" in text
    assert "does not take the endpoint down" in text
    assert f"--endpoint-name {endpoint} --endpoint-config-name {older_config}" in text
    assert sm.describe_model_package(ModelPackageName=newer)["ModelApprovalStatus"] == "Rejected"
    assert sm.describe_endpoint(EndpointName=endpoint)["EndpointConfigName"] == newer_config

    # AND rejecting a package that does not serve still exits 0
    other = registry.package(model_url, code_url)
    quiet = CliRunner().invoke(app, ["reject", other], catch_exceptions=False)
    assert quiet.exit_code == 0 and f"Rejected: {other}" in quiet.output

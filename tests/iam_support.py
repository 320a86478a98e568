"""Roles for tests that are not about IAM: the local cloud runs every workload as its role
(``shared/local_cloud/iam``), so a test's state machine, function, job or model needs a role
that exists and that its service may assume. These are unconfined (``*`` on ``*``), as an
administrator role on AWS would be; tests about IAM use the synthesized roles instead."""

from __future__ import annotations

import json
from typing import Any

SERVICES = [
    "lambda.amazonaws.com",
    "states.amazonaws.com",
    "glue.amazonaws.com",
    "sagemaker.amazonaws.com",
    "events.amazonaws.com",
]
TEST_ROLES = ("local-test", "dualloop-test-sagemaker", "bench")
_ALLOW_ALL = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}


def trust(services: list[str] | None = None) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": services or SERVICES},
                    "Action": "sts:AssumeRole",
                }
            ],
        }
    )


def unconfined_role(iam: Any, name: str) -> str:
    """Create (once) a role every workload service may assume, allowed everything; its ARN."""
    try:
        arn: str = iam.create_role(RoleName=name, AssumeRolePolicyDocument=trust())["Role"]["Arn"]
    except iam.exceptions.EntityAlreadyExistsException:
        arn = iam.get_role(RoleName=name)["Role"]["Arn"]
    iam.put_role_policy(RoleName=name, PolicyName="unconfined", PolicyDocument=json.dumps(_ALLOW_ALL))
    return arn

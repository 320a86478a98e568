"""Fix: the local cloud's own credentials are a role session, as a SageMaker Studio user's are.

moto 5.2.5's ``GetCallerIdentity`` answers ``arn:aws:sts::<account>:user/moto`` for credentials
it did not issue (an assumed role's) and no IAM user owns, such as the local cloud's own
(``AWS_ACCESS_KEY_ID=local``, which moto reads as ``AKIAEXAMPLE``). The SageMaker SDK's
``get_execution_role()`` then refuses ("The current AWS identity is not a role"), as it would
for an IAM user on AWS, so a notebook written for SageMaker cannot find its role locally.

Here those credentials are the session ``local`` of the role
``LOCAL_EXECUTION_ROLE`` (``arn:aws:sts::<account>:assumed-role/<role>/local``), the shape a
Studio or notebook user's identity has. The role is created in the local IAM when first
asked for, trusting ``sagemaker.amazonaws.com`` like a SageMaker execution role, so the SDK's
``iam:GetRole`` lookup finds it. It is allowed everything (the local cloud's own credentials
are its administrator's), so a job created with ``RoleArn=get_execution_role()``, which runs as
that role, can do what its creator can. Any other credentials keep moto's answer.
"""

from __future__ import annotations

import json
from typing import Any

from moto.iam.models import iam_backends
from moto.sts.models import STSBackend
from moto.utilities.utils import get_partition

from shared.local_cloud.patches import Patch, original

LOCAL_EXECUTION_ROLE = "dualloop-local-sagemaker-execution"
SESSION_NAME = "local"
# A SageMaker execution role's trust policy (SageMaker developer guide, "SageMaker roles").
TRUST_POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "sagemaker.amazonaws.com"}, "Action": "sts:AssumeRole"}
    ],
}

ADMINISTRATOR_POLICY = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
}


PATCH = Patch(__name__)


@PATCH.replaces(STSBackend, "get_caller_identity", "1f058458cb04477d")
def _get_caller_identity(self: STSBackend, access_key_id: str, region: str) -> tuple[str, str, str]:
    user_id, arn, account_id = original(STSBackend, "get_caller_identity")(self, access_key_id, region)
    if arn != f"arn:{get_partition(region)}:sts::{self.account_id}:user/moto":  # moto's fallback
        return user_id, arn, account_id
    partition = get_partition(region)
    role = _ensure_role(self.account_id, partition)
    arn = f"arn:{partition}:sts::{self.account_id}:assumed-role/{LOCAL_EXECUTION_ROLE}/{SESSION_NAME}"
    return f"{role.id}:{SESSION_NAME}", arn, self.account_id


def _ensure_role(account_id: str, partition: str) -> Any:
    iam = iam_backends[account_id][partition]
    try:
        return iam.get_role(LOCAL_EXECUTION_ROLE)
    except Exception:  # moto's IAMNotFoundException
        role = iam.create_role(
            role_name=LOCAL_EXECUTION_ROLE,
            assume_role_policy_document=json.dumps(TRUST_POLICY),
            path="/",
            permissions_boundary=None,
            description="The local cloud's developer session (what a SageMaker Studio user's role is on AWS)",
            tags=[],
            max_session_duration="3600",
            linked_service=None,
        )
        iam.put_role_policy(LOCAL_EXECUTION_ROLE, "local-administrator", json.dumps(ADMINISTRATOR_POLICY))
        return role

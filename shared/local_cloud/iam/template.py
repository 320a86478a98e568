"""The IAM roles of the synthesized CloudFormation template, as the local cloud creates them.

CloudFormation resolves the template's intrinsics (``Ref``, ``Fn::GetAtt``, ``Fn::Join``,
``Fn::Sub``) to physical names; every resource of the stack has one from
``shared.naming``, so the same rendering gives the local cloud's names. A reference this
module cannot render fails with the resource and attribute it met: a policy is never
created with a placeholder in it. Roles without a physical name belong to CDK's own
helpers (the bucket-deployment custom resource), which do not run on the local cloud.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

_Props = Mapping[str, Any]
_ARN_OF: dict[str, Callable[[_Props, str, str, str], str]] = {
    "AWS::S3::Bucket": lambda p, a, r, lid: f"arn:aws:s3:::{p['BucketName']}",
    "AWS::DynamoDB::Table": lambda p, a, r, lid: f"arn:aws:dynamodb:{r}:{a}:table/{p['TableName']}",
    "AWS::Lambda::Function": lambda p, a, r, lid: f"arn:aws:lambda:{r}:{a}:function:{p['FunctionName']}",
    "AWS::IAM::Role": lambda p, a, r, lid: f"arn:aws:iam::{a}:role/{p['RoleName']}",
    "AWS::Logs::LogGroup": lambda p, a, r, lid: f"arn:aws:logs:{r}:{a}:log-group:{p['LogGroupName']}:*",
    "AWS::SNS::Topic": lambda p, a, r, lid: f"arn:aws:sns:{r}:{a}:{p['TopicName']}",
    "AWS::SQS::Queue": lambda p, a, r, lid: f"arn:aws:sqs:{r}:{a}:{p['QueueName']}",
    "AWS::StepFunctions::StateMachine": lambda p, a, r, lid: (
        f"arn:aws:states:{r}:{a}:stateMachine:{p['StateMachineName']}"
    ),
    # The key's id is generated at deploy time; the local cloud does not emulate SSE-KMS.
    "AWS::KMS::Key": lambda p, a, r, lid: f"arn:aws:kms:{r}:{a}:key/{lid}",
}
_REF_IS_ARN = {"AWS::SNS::Topic", "AWS::StepFunctions::StateMachine"}
_REF_NAME = {
    "AWS::S3::Bucket": "BucketName",
    "AWS::DynamoDB::Table": "TableName",
    "AWS::Lambda::Function": "FunctionName",
    "AWS::IAM::Role": "RoleName",
    "AWS::Logs::LogGroup": "LogGroupName",
    "AWS::Glue::Job": "Name",
    "AWS::Glue::SecurityConfiguration": "Name",
}
# Attributes that are a physical name the template sets (CloudFormation's return values).
_ATTRIBUTE_IS_PROPERTY = {
    ("AWS::SQS::Queue", "QueueName"): "QueueName",
    ("AWS::SNS::Topic", "TopicName"): "TopicName",
}
_SUB = re.compile(r"\$\{([^}!][^}]*)\}")


class UnresolvableReference(ValueError):
    pass


@dataclass(frozen=True)
class RoleSpec:
    name: str
    trust_policy: dict[str, Any]
    policies: dict[str, dict[str, Any]]  # policy name -> document
    managed_policy_arns: tuple[str, ...]


class Renderer:
    """CloudFormation's rendering of intrinsics, for resources with physical names."""

    def __init__(self, template: Mapping[str, Any], account: str, region: str) -> None:
        self.resources: Mapping[str, Any] = template.get("Resources", {})
        self.account, self.region = account, region

    def __call__(self, node: Any) -> Any:
        if isinstance(node, list):
            return [self(n) for n in node]
        if not isinstance(node, dict):
            return node
        if len(node) == 1:
            ((fn, arg),) = node.items()
            if fn == "Ref":
                return self.ref(arg)
            if fn == "Fn::GetAtt":
                logical_id, attribute = arg if isinstance(arg, list) else arg.split(".", 1)
                return self.get_att(logical_id, attribute)
            if fn == "Fn::Join":
                separator, parts = arg
                return separator.join(str(self(p)) for p in parts)
            if fn == "Fn::Sub":
                text, values = (arg, {}) if isinstance(arg, str) else (arg[0], self(arg[1]))
                return _SUB.sub(lambda m: str(values.get(m[1]) or self._sub_name(m[1])), text)
            if fn.startswith("Fn::"):
                raise UnresolvableReference(
                    f"the local cloud does not render {fn} ({json.dumps(node)[:120]})"
                )
        return {k: self(v) for k, v in node.items()}

    def _sub_name(self, name: str) -> str:
        if "." in name:
            logical_id, attribute = name.split(".", 1)
            return self.get_att(logical_id, attribute)
        return self.ref(name)

    def ref(self, logical_id: str) -> str:
        pseudo = {
            "AWS::Partition": "aws",
            "AWS::AccountId": self.account,
            "AWS::Region": self.region,
            "AWS::URLSuffix": "amazonaws.com",
        }
        if logical_id in pseudo:
            return pseudo[logical_id]
        resource = self._resource(logical_id)
        kind, props = resource["Type"], resource.get("Properties", {})
        try:
            if kind in _REF_IS_ARN:
                return _ARN_OF[kind](props, self.account, self.region, logical_id)
            if kind in _REF_NAME:
                return str(props[_REF_NAME[kind]])
        except KeyError:
            pass
        raise UnresolvableReference(
            f"the local cloud cannot render Ref {logical_id} ({kind} without a physical name)"
        )

    def get_att(self, logical_id: str, attribute: str) -> str:
        resource = self._resource(logical_id)
        kind = resource["Type"]
        if (kind, attribute) in _ATTRIBUTE_IS_PROPERTY:
            props = resource.get("Properties", {})
            if _ATTRIBUTE_IS_PROPERTY[kind, attribute] in props:
                return str(props[_ATTRIBUTE_IS_PROPERTY[kind, attribute]])
        if attribute == "Arn" and kind in _ARN_OF:
            try:
                return _ARN_OF[kind](resource.get("Properties", {}), self.account, self.region, logical_id)
            except KeyError:
                pass
        raise UnresolvableReference(
            f"the local cloud cannot render Fn::GetAtt {logical_id}.{attribute} ({kind})"
        )

    def _resource(self, logical_id: str) -> Mapping[str, Any]:
        resource = self.resources.get(logical_id)
        if resource is None:
            raise UnresolvableReference(f"the template has no resource {logical_id}")
        return resource  # type: ignore[no-any-return]


def roles(template: Mapping[str, Any], account: str, region: str) -> list[RoleSpec]:
    """Every named role with its inline policies and the AWS::IAM::Policy resources attached to it."""
    render = Renderer(template, account, region)
    resources = template.get("Resources", {})
    specs: dict[str, RoleSpec] = {}
    for logical_id, resource in resources.items():
        if resource["Type"] != "AWS::IAM::Role" or "RoleName" not in resource.get("Properties", {}):
            continue
        props = resource["Properties"]
        specs[logical_id] = RoleSpec(
            name=str(render(props["RoleName"])),
            trust_policy=render(props["AssumeRolePolicyDocument"]),
            policies={str(p["PolicyName"]): render(p["PolicyDocument"]) for p in props.get("Policies", [])},
            managed_policy_arns=tuple(str(render(a)) for a in props.get("ManagedPolicyArns", [])),
        )
    for logical_id, resource in resources.items():
        if resource["Type"] != "AWS::IAM::Policy":
            continue
        props = resource["Properties"]
        for role_ref in props.get("Roles", []):
            role_id = role_ref.get("Ref") if isinstance(role_ref, dict) else None
            if role_id in specs:
                specs[role_id].policies[logical_id] = render(props["PolicyDocument"])
    return list(specs.values())


def function_roles(template: Mapping[str, Any], account: str, region: str) -> dict[str, str]:
    """Function name -> its execution role's ARN, for every named Lambda function."""
    render = Renderer(template, account, region)
    found: dict[str, str] = {}
    for resource in template.get("Resources", {}).values():
        props = resource.get("Properties", {})
        if resource["Type"] == "AWS::Lambda::Function" and "FunctionName" in props:
            found[str(render(props["FunctionName"]))] = str(render(props["Role"]))
    return found


def create_roles(iam: Any, specs: list[RoleSpec]) -> None:
    """Create (or bring up to date) each role and its policies, with an administrator's IAM client."""
    for spec in specs:
        trust = json.dumps(spec.trust_policy)
        try:
            iam.create_role(RoleName=spec.name, AssumeRolePolicyDocument=trust)
        except iam.exceptions.EntityAlreadyExistsException:
            iam.update_assume_role_policy(RoleName=spec.name, PolicyDocument=trust)
        existing = set(iam.list_role_policies(RoleName=spec.name)["PolicyNames"])
        for stale in existing - set(spec.policies):
            iam.delete_role_policy(RoleName=spec.name, PolicyName=stale)
        for name, document in spec.policies.items():
            iam.put_role_policy(RoleName=spec.name, PolicyName=name, PolicyDocument=json.dumps(document))
        for arn in spec.managed_policy_arns:
            iam.attach_role_policy(RoleName=spec.name, PolicyArn=arn)

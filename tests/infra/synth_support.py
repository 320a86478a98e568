"""What the infra tests share: the synthesized template, and a renderer for the intrinsics in it."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Synth:
    template: dict[str, Any]
    outdir: Path
    stack: Any  # infra.stack.DualloopStack

    def resources(self, cfn_type: str) -> dict[str, dict[str, Any]]:
        return {k: v for k, v in self.template["Resources"].items() if v["Type"] == cfn_type}

    def one(self, cfn_type: str, **props: Any) -> tuple[str, dict[str, Any]]:
        """The single resource of ``cfn_type`` whose properties include ``props``."""
        found = [
            (k, v)
            for k, v in self.resources(cfn_type).items()
            if all(v.get("Properties", {}).get(p) == want for p, want in props.items())
        ]
        assert len(found) == 1, f"expected one {cfn_type} with {props}, found {[k for k, _ in found]}"
        return found[0]


class Resolver:
    """Renders the CloudFormation intrinsics CDK emits into the strings CloudFormation would
    produce, for resources with physical names (all of ours have one). Unknown references
    render as ``<Ref:LogicalId>``, so a comparison against a literal fails loudly."""

    _ARN_OF = {
        "AWS::S3::Bucket": lambda p, a, r: f"arn:aws:s3:::{p['BucketName']}",
        "AWS::DynamoDB::Table": lambda p, a, r: f"arn:aws:dynamodb:{r}:{a}:table/{p['TableName']}",
        "AWS::Lambda::Function": lambda p, a, r: f"arn:aws:lambda:{r}:{a}:function:{p['FunctionName']}",
        "AWS::IAM::Role": lambda p, a, r: f"arn:aws:iam::{a}:role/{p['RoleName']}",
        "AWS::Logs::LogGroup": lambda p, a, r: f"arn:aws:logs:{r}:{a}:log-group:{p['LogGroupName']}:*",
        "AWS::SNS::Topic": lambda p, a, r: f"arn:aws:sns:{r}:{a}:{p['TopicName']}",
        "AWS::StepFunctions::StateMachine": lambda p, a, r: (
            f"arn:aws:states:{r}:{a}:stateMachine:{p['StateMachineName']}"
        ),
        "AWS::KMS::Key": lambda p, a, r: f"arn:aws:kms:{r}:{a}:key/<generated>",
    }
    _REF_IS_ARN = {"AWS::SNS::Topic", "AWS::StepFunctions::StateMachine"}
    _NAME_PROP = {
        "AWS::S3::Bucket": "BucketName",
        "AWS::DynamoDB::Table": "TableName",
        "AWS::Lambda::Function": "FunctionName",
        "AWS::IAM::Role": "RoleName",
        "AWS::Glue::SecurityConfiguration": "Name",
        "AWS::Logs::LogGroup": "LogGroupName",
    }

    def __init__(self, template: dict[str, Any], account: str, region: str) -> None:
        self.resources = template["Resources"]
        self.account = account
        self.region = region

    def __call__(self, node: Any) -> Any:
        if isinstance(node, list):
            return [self(n) for n in node]
        if not isinstance(node, dict):
            return node
        if len(node) == 1:
            ((fn, arg),) = node.items()
            if fn == "Ref":
                return self._ref(arg)
            if fn == "Fn::GetAtt":
                return self._get_att(*arg)
            if fn == "Fn::Join":
                sep, parts = arg
                return sep.join(str(self(p)) for p in parts)
        return {k: self(v) for k, v in node.items()}

    def _ref(self, logical_id: str) -> str:
        pseudo = {"AWS::Partition": "aws", "AWS::AccountId": self.account, "AWS::Region": self.region}
        if logical_id in pseudo:
            return pseudo[logical_id]
        res = self.resources.get(logical_id)
        if res is None:
            return f"<Ref:{logical_id}>"
        props = res.get("Properties", {})
        if res["Type"] in self._REF_IS_ARN:
            return str(self._ARN_OF[res["Type"]](props, self.account, self.region))
        if res["Type"] in self._NAME_PROP:
            return str(props[self._NAME_PROP[res["Type"]]])
        return f"<Ref:{logical_id}>"

    def _get_att(self, logical_id: str, attribute: str) -> str:
        res = self.resources.get(logical_id)
        if res is None or attribute != "Arn" or res["Type"] not in self._ARN_OF:
            return f"<GetAtt:{logical_id}.{attribute}>"
        try:
            return str(self._ARN_OF[res["Type"]](res.get("Properties", {}), self.account, self.region))
        except KeyError:  # no physical name (CDK's own helper resources)
            return f"<GetAtt:{logical_id}.{attribute}>"


def statements(policy_document: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        {**s, "Action": listify(s.get("Action")), "Resource": listify(s.get("Resource"))}
        for s in policy_document["Statement"]
    ]


def listify(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def role_statements(synth: Synth, resolve: Resolver, role_name: str) -> list[dict[str, Any]]:
    """Every Allow statement attached to the role named ``role_name`` (inline and AWS::IAM::Policy)."""
    role_id = next(
        k
        for k, v in synth.resources("AWS::IAM::Role").items()
        if v["Properties"].get("RoleName") == role_name
    )
    docs = [
        p["PolicyDocument"] for p in synth.template["Resources"][role_id]["Properties"].get("Policies", [])
    ]
    for policy in synth.resources("AWS::IAM::Policy").values():
        if {"Ref": role_id} in policy["Properties"].get("Roles", []):
            docs.append(policy["Properties"]["PolicyDocument"])
    return [resolve(s) for d in docs for s in statements(d)]


def load_json(path: Path) -> Any:
    return json.loads(path.read_text())

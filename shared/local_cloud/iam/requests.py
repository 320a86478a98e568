"""What an AWS request asks IAM for: its action, the resource ARNs it touches, its condition keys.

The action is the signing service's IAM prefix and the API operation (Service Authorization
Reference: https://docs.aws.amazon.com/service-authorization/latest/reference/); the resource
ARNs follow each service's ARN formats there. Only the operations the project's workloads
call are mapped: for any other, ``resources`` is ``None`` and the evaluator allows it only
through a statement on ``*`` (and otherwise says it cannot decide).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any
from urllib.parse import unquote

from shared.local_cloud.iam.policy import Request

# Signing name -> IAM service prefix, where they differ.
_PREFIX = {"monitoring": "cloudwatch", "execute-api": "execute-api"}
# S3's API operations -> the IAM action they need
# (https://docs.aws.amazon.com/AmazonS3/latest/userguide/using-with-s3-policy-actions.html).
_S3_ACTIONS = {
    "HeadObject": "GetObject",
    "ListObjects": "ListBucket",
    "ListObjectsV2": "ListBucket",
    "HeadBucket": "ListBucket",
    "ListBuckets": "ListAllMyBuckets",
    "ListAllMyBuckets": "ListAllMyBuckets",
    "CreateMultipartUpload": "PutObject",
    "UploadPart": "PutObject",
    "CompleteMultipartUpload": "PutObject",
    "CopyObject": "PutObject",
    "DeleteObjects": "DeleteObject",
    "ListMultipartUploads": "ListBucketMultipartUploads",
    "ListParts": "ListMultipartUploadParts",
    "ListObjectVersions": "ListBucketVersions",
}
_Params = Mapping[str, Any]
_Resolver = Callable[[_Params, str, str, str], tuple[str, ...]]


def _one(value: Any) -> str:
    if isinstance(value, list):
        value = value[0] if value else ""
    return str(value or "")


def _sm(kind: str, member: str) -> _Resolver:
    """A SageMaker ARN from a name member (SageMaker lower-cases names in its ARNs)."""

    def resolve(p: _Params, region: str, account: str, path: str) -> tuple[str, ...]:
        value = _one(p.get(member))
        if value.startswith("arn:"):
            return (value,)
        return (f"arn:aws:sagemaker:{region}:{account}:{kind}/{value.lower()}",)

    return resolve


def _member_arn(member: str) -> _Resolver:
    return lambda p, region, account, path: (_one(p.get(member)),)


def _both(*resolvers: _Resolver) -> _Resolver:
    return lambda p, region, account, path: tuple(r for f in resolvers for r in f(p, region, account, path))


def _no_resource_type(p: _Params, region: str, account: str, path: str) -> tuple[str, ...]:
    return ("*",)


def _table(p: _Params, region: str, account: str, path: str) -> tuple[str, ...]:
    return (f"arn:aws:dynamodb:{region}:{account}:table/{_one(p.get('TableName'))}",)


def _glue_job(p: _Params, region: str, account: str, path: str) -> tuple[str, ...]:
    names = p.get("JobName")
    return (f"arn:aws:glue:{region}:{account}:job/{_one(names)}",)


def _lambda_function(p: _Params, region: str, account: str, path: str) -> tuple[str, ...]:
    # /2015-03-31/functions/<name or ARN>/invocations
    parts = path.split("?", maxsplit=1)[0].split("/")
    name = unquote(parts[3]) if len(parts) > 3 else ""
    if name.startswith("arn:"):
        return (name,)
    return (f"arn:aws:lambda:{region}:{account}:function:{name}",)


def _alarms(p: _Params, region: str, account: str, path: str) -> tuple[str, ...]:
    names = p.get("AlarmNames") or []
    if not names:
        return (f"arn:aws:cloudwatch:{region}:{account}:alarm:*",)
    return tuple(f"arn:aws:cloudwatch:{region}:{account}:alarm:{n}" for n in names)


_RESOURCES: dict[str, _Resolver] = {
    # SageMaker
    "sagemaker:StartPipelineExecution": _sm("pipeline", "PipelineName"),
    "sagemaker:DescribePipeline": _sm("pipeline", "PipelineName"),
    "sagemaker:ListPipelineExecutions": _sm("pipeline", "PipelineName"),
    "sagemaker:DescribePipelineExecution": _member_arn("PipelineExecutionArn"),
    "sagemaker:ListPipelineExecutionSteps": _member_arn("PipelineExecutionArn"),
    "sagemaker:ListPipelineParametersForExecution": _member_arn("PipelineExecutionArn"),
    "sagemaker:StopPipelineExecution": _member_arn("PipelineExecutionArn"),
    "sagemaker:DescribeModelPackage": _sm("model-package", "ModelPackageName"),
    "sagemaker:UpdateModelPackage": _member_arn("ModelPackageArn"),
    # CreateModelPackage acts on the group's packages; the version is not known yet.
    "sagemaker:CreateModelPackage": _sm("model-package-group", "ModelPackageGroupName"),
    "sagemaker:DescribeModelPackageGroup": _sm("model-package-group", "ModelPackageGroupName"),
    "sagemaker:ListModelPackages": lambda p, r, a, path: (f"arn:aws:sagemaker:{r}:{a}:model-package/*",),
    "sagemaker:CreateModel": _sm("model", "ModelName"),
    "sagemaker:DescribeModel": _sm("model", "ModelName"),
    "sagemaker:CreateEndpointConfig": _sm("endpoint-config", "EndpointConfigName"),
    "sagemaker:DescribeEndpointConfig": _sm("endpoint-config", "EndpointConfigName"),
    # Create/UpdateEndpoint authorize the endpoint and the config it deploys.
    "sagemaker:CreateEndpoint": _both(
        _sm("endpoint", "EndpointName"), _sm("endpoint-config", "EndpointConfigName")
    ),
    "sagemaker:UpdateEndpoint": _both(
        _sm("endpoint", "EndpointName"), _sm("endpoint-config", "EndpointConfigName")
    ),
    "sagemaker:DescribeEndpoint": _sm("endpoint", "EndpointName"),
    "sagemaker:InvokeEndpoint": _sm("endpoint", "EndpointName"),
    "sagemaker:CreateProcessingJob": _sm("processing-job", "ProcessingJobName"),
    "sagemaker:DescribeProcessingJob": _sm("processing-job", "ProcessingJobName"),
    "sagemaker:StopProcessingJob": _sm("processing-job", "ProcessingJobName"),
    "sagemaker:CreateTrainingJob": _sm("training-job", "TrainingJobName"),
    "sagemaker:DescribeTrainingJob": _sm("training-job", "TrainingJobName"),
    "sagemaker:StopTrainingJob": _sm("training-job", "TrainingJobName"),
    "sagemaker:AddTags": _member_arn("ResourceArn"),
    **{
        f"sagemaker:{op}HyperParameterTuningJob": _sm(
            "hyper-parameter-tuning-job", "HyperParameterTuningJobName"
        )
        for op in ("Create", "Describe", "Stop")
    },
    "sagemaker:ListTrainingJobsForHyperParameterTuningJob": _sm(
        "hyper-parameter-tuning-job", "HyperParameterTuningJobName"
    ),
    # Step Functions (task tokens have no resource type)
    "states:SendTaskSuccess": _no_resource_type,
    "states:SendTaskFailure": _no_resource_type,
    "states:SendTaskHeartbeat": _no_resource_type,
    "states:StartExecution": _member_arn("stateMachineArn"),
    "states:DescribeExecution": _member_arn("executionArn"),
    "states:StopExecution": _member_arn("executionArn"),
    # DynamoDB
    **{
        f"dynamodb:{op}": _table for op in ("GetItem", "PutItem", "DeleteItem", "UpdateItem", "Query", "Scan")
    },
    # Glue
    **{
        f"glue:{op}": _glue_job
        for op in ("StartJobRun", "GetJobRun", "GetJobRuns", "BatchStopJobRun", "GetJob")
    },
    # SNS, Lambda, CloudWatch, EventBridge, STS
    "sns:Publish": lambda p, r, a, path: (_one(p.get("TopicArn") or p.get("TargetArn")),),
    "lambda:InvokeFunction": _lambda_function,
    "cloudwatch:PutMetricData": _no_resource_type,
    "cloudwatch:DescribeAlarms": _alarms,
    "events:PutEvents": lambda p, r, a, path: (f"arn:aws:events:{r}:{a}:event-bus/default",),
    "sts:GetCallerIdentity": _no_resource_type,
}


def _context(action: str, params: _Params) -> dict[str, Sequence[str]]:
    """The service-specific condition keys the local cloud knows for ``action``."""
    if action == "s3:ListBucket":
        prefix = _one(params.get("prefix")) if params.get("prefix") is not None else None
        return {"s3:prefix": [prefix] if prefix is not None else []}
    if action == "cloudwatch:PutMetricData":
        return {"cloudwatch:namespace": [_one(params.get("Namespace"))]}
    if action == "sagemaker:CreateHyperParameterTuningJob":
        return dict(request_tags(params))
    return {}


def request_tags(params: _Params) -> dict[str, list[str]]:
    """A Create* request's tag condition keys: ``aws:RequestTag/<key>`` and ``aws:TagKeys``."""
    tags = [t for t in params.get("Tags") or [] if isinstance(t, Mapping) and "Key" in t]
    return {
        **{f"aws:RequestTag/{t['Key']}": [str(t.get("Value", ""))] for t in tags},
        "aws:TagKeys": [str(t["Key"]) for t in tags],
    }


def iam_action(signing_name: str, operation: str) -> str:
    prefix = _PREFIX.get(signing_name, signing_name)
    if prefix == "s3":
        operation = _S3_ACTIONS.get(operation, operation)
    if prefix == "lambda" and operation == "Invoke":
        operation = "InvokeFunction"
    return f"{prefix}:{operation}"


def describe(
    signing_name: str,
    operation: str,
    params: _Params,
    region: str,
    account: str,
    path: str = "",
    s3_resource: str | None = None,
) -> Request:
    """The IAM request for one API call (``s3_resource``: the ARN moto's S3 computed)."""
    action = iam_action(signing_name, operation)
    resources: tuple[str, ...] | None
    if s3_resource is not None:
        resources = (s3_resource,) if s3_resource != "arn:aws:s3:::*" else ("*",)
    else:
        resolver = _RESOURCES.get(action)
        resources = resolver(params, region, account, path) if resolver else None
    return Request(action=action, resources=resources, context=_context(action, params))

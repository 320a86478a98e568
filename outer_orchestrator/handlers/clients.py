"""The AWS clients a handler calls: each made on first use (never at import, never one the
invocation does not need), or given by the caller (a test's fake, the local cloud's client)."""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING, Any

import boto3

if TYPE_CHECKING:
    from mypy_boto3_cloudwatch import CloudWatchClient
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_sagemaker import SageMakerClient
    from mypy_boto3_sns import SNSClient
    from mypy_boto3_stepfunctions import SFNClient

_SERVICES = frozenset({"cloudwatch", "dynamodb", "s3", "sagemaker", "sfn", "sns"})


class Clients:
    """``Clients(region, sfn=fake)``: ``clients.sfn`` is the fake, ``clients.s3`` a boto3 client
    made when first read, in ``region`` (None: the Lambda's own, from the environment)."""

    def __init__(self, region: str | None = None, **given: Any) -> None:
        unknown = set(given) - _SERVICES
        if unknown:
            raise TypeError(f"Clients takes {', '.join(sorted(_SERVICES))}, not {', '.join(sorted(unknown))}")
        self.region = region
        # cached_property reads the instance's __dict__ first: a given client is never replaced.
        self.__dict__.update({name: client for name, client in given.items() if client is not None})

    @cached_property
    def cloudwatch(self) -> CloudWatchClient:
        return boto3.client("cloudwatch", region_name=self.region)

    @cached_property
    def dynamodb(self) -> DynamoDBClient:
        return boto3.client("dynamodb", region_name=self.region)

    @cached_property
    def s3(self) -> S3Client:
        return boto3.client("s3", region_name=self.region)

    @cached_property
    def sagemaker(self) -> SageMakerClient:
        return boto3.client("sagemaker", region_name=self.region)

    @cached_property
    def sfn(self) -> SFNClient:
        return boto3.client("stepfunctions", region_name=self.region)

    @cached_property
    def sns(self) -> SNSClient:
        return boto3.client("sns", region_name=self.region)

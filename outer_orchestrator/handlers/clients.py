"""The AWS clients a handler calls: each made on first use (never at import, never one the
invocation does not need), or given by the caller (a test's fake, the local cloud's client)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Generic, TypeVar

import boto3

if TYPE_CHECKING:
    from mypy_boto3_cloudwatch import CloudWatchClient
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_sagemaker import SageMakerClient
    from mypy_boto3_sns import SNSClient
    from mypy_boto3_stepfunctions import SFNClient

C = TypeVar("C")


class _Client(Generic[C]):
    """A boto3 client of ``service``, made on first read and kept in the instance's ``__dict__``
    (read before a non-data descriptor: a given or already made client is never replaced)."""

    def __init__(self, service: str) -> None:
        self.service = service

    def __set_name__(self, owner: type[Clients], name: str) -> None:
        self.name = name

    def __get__(self, clients: Clients, owner: type[Clients] | None = None) -> C:
        client: C = boto3.client(self.service, region_name=clients.region)  # type: ignore[call-overload]
        clients.__dict__[self.name] = client
        return client


class Clients:
    """``Clients(region, sfn=fake)``: ``clients.sfn`` is the fake, ``clients.s3`` a boto3 client
    made when first read, in ``region`` (None: the Lambda's own, from the environment)."""

    cloudwatch: _Client[CloudWatchClient] = _Client("cloudwatch")
    dynamodb: _Client[DynamoDBClient] = _Client("dynamodb")
    s3: _Client[S3Client] = _Client("s3")
    sagemaker: _Client[SageMakerClient] = _Client("sagemaker")
    sfn: _Client[SFNClient] = _Client("stepfunctions")
    sns: _Client[SNSClient] = _Client("sns")

    def __init__(self, region: str | None = None, **given: Any) -> None:
        known = {name for name, value in vars(Clients).items() if isinstance(value, _Client)}
        if unknown := set(given) - known:
            raise TypeError(f"Clients takes {', '.join(sorted(known))}, not {', '.join(sorted(unknown))}")
        self.region = region
        self.__dict__.update({name: client for name, client in given.items() if client is not None})

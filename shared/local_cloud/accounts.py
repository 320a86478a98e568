"""Several AWS accounts on one local cloud.

moto keeps a backend per account id and picks it per request: the ``x-moto-account-id`` header,
else the account whose IAM issued the access key (so an assumed role's session lands in the
role's account), else 123456789012. ``session(account_id)`` is the local cloud's administrator
in that account (what ``cdk deploy`` with that account's admin credentials is on AWS): every
client it makes sends the header. Workloads never use it: they run as role sessions, which
carry their account in their keys and stay confined to their roles' policies
(``patches/iam_enforcement``).
"""

from __future__ import annotations

from typing import Any

import boto3

ACCOUNT_HEADER = "x-moto-account-id"
DEFAULT_ACCOUNT = "123456789012"  # moto's, and the default config's account_id


def _add_header(account_id: str) -> Any:
    def add(request: Any, **_: Any) -> None:
        request.headers[ACCOUNT_HEADER] = account_id

    return add


def session(account_id: str, region: str, base: boto3.Session | None = None) -> boto3.Session:
    """A boto3 session whose every request acts in ``account_id`` as its administrator."""
    base = base or boto3.Session(region_name=region)
    credentials = base.get_credentials()
    if credentials is None:
        raise RuntimeError('no credentials for the local cloud: eval "$(dualloop local env)" first')
    frozen = credentials.get_frozen_credentials()
    out = boto3.Session(
        aws_access_key_id=frozen.access_key,
        aws_secret_access_key=frozen.secret_key,
        aws_session_token=frozen.token,
        region_name=region,
    )
    out.events.register("before-sign", _add_header(account_id))
    return out


def client_for(account_id: str, base_client: Any) -> Any:
    """A client like ``base_client`` (same endpoint, credentials, region) acting in ``account_id``."""
    meta = base_client.meta
    credentials = base_client._request_signer._credentials
    frozen = credentials.get_frozen_credentials()
    client = boto3.client(
        meta.service_model.service_name,
        region_name=meta.region_name,
        endpoint_url=meta.endpoint_url,
        aws_access_key_id=frozen.access_key,
        aws_secret_access_key=frozen.secret_key,
        aws_session_token=frozen.token,
    )
    client.meta.events.register("before-sign", _add_header(account_id))
    return client

"""The handlers' clients: a given client is used as given, the others are made on first read only.

What this proves: ``Clients`` keeps a caller's client (a test's fake), makes a boto3 client only
for a service the invocation reads, once, in the region asked for, and refuses a name it does
not know (a typo would otherwise make a real client silently). What it does not: the handlers'
behaviour with real clients (tests/functional/test_relays.py).
"""

from __future__ import annotations

from typing import Any

import boto3
import pytest

from outer_orchestrator.handlers.clients import Clients


def test_a_given_client_is_kept_and_the_others_are_made_once_when_read(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    made: list[tuple[str, str | None]] = []

    def client(service: str, region_name: str | None = None) -> Any:
        made.append((service, region_name))
        return object()

    monkeypatch.setattr(boto3, "client", client)
    fake = object()
    # GIVEN clients with a fake Step Functions client, in eu-west-1
    clients = Clients("eu-west-1", sfn=fake)
    # THEN nothing is made until read, the fake is the one read, and a read client is made once
    assert made == []
    assert clients.sfn is fake
    assert clients.s3 is clients.s3
    assert made == [("s3", "eu-west-1")]


def test_an_unknown_client_name_is_refused() -> None:
    with pytest.raises(
        TypeError, match="Clients takes cloudwatch, dynamodb, s3, sagemaker, sfn, sns, not stepfunctions"
    ):
        Clients(stepfunctions=object())

"""Fixtures for the runtime tests (event builders live in ``runtime_events``)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from runtime_events import REGION, FakeContext, create_stream


@pytest.fixture
def kinesis(aws: str) -> Any:
    """A Kinesis client on the clean moto server."""
    return boto3.client("kinesis", region_name=REGION)


@pytest.fixture
def stream(kinesis: Any) -> str:
    """A one-shard stream named ``events``."""
    return create_stream(kinesis)


@pytest.fixture
def context() -> FakeContext:
    return FakeContext()


@pytest.fixture
def idempotency_table(aws: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The idempotency table as the construct makes it: pk ``id`` (S), TTL on ``expiration``."""
    client = boto3.client("dynamodb", region_name=REGION)
    name = "idempotency"
    client.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    client.update_time_to_live(
        TableName=name, TimeToLiveSpecification={"Enabled": True, "AttributeName": "expiration"}
    )
    monkeypatch.setenv("IDEMPOTENCY_TABLE_NAME", name)
    yield name

"""Fixtures for the event-pipeline tools: clients on the moto server, stream / DLQ helpers,
an in-process recording handler, and a runner for ``main()``."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest

from cdk_event_pipeline.cli import main

HANDLER_SOURCE = '''
"""A Lambda handler that records what it is given (written by the tools' tests)."""
RECEIVED = []        # every event record, in call order
CALLS = []           # batch sizes
FAIL_SEQUENCES = set()  # sequence numbers to report as batchItemFailures
RAISE = []           # non-empty: raise instead


def handler(event, context):
    assert context.get_remaining_time_in_millis() > 0
    if RAISE:
        raise RuntimeError(RAISE[0])
    CALLS.append(len(event["Records"]))
    failures = []
    for record in event["Records"]:
        seq = (record.get("kinesis") or record.get("dynamodb"))["sequenceNumber" if "kinesis" in record else "SequenceNumber"]
        if seq in FAIL_SEQUENCES:
            failures.append({"itemIdentifier": seq})
        else:
            RECEIVED.append(record)
    return {"batchItemFailures": failures}
'''


@dataclass
class Result:
    """What one ``event-pipeline`` run did."""

    code: int
    out: str
    err: str

    @property
    def lines(self) -> list[dict[str, Any]]:
        """stdout parsed as JSON lines (for runs with --json)."""
        return [json.loads(line) for line in self.out.splitlines() if line.strip()]

    def of_type(self, kind: str) -> list[dict[str, Any]]:
        """The JSON lines of one ``type``."""
        return [line for line in self.lines if line["type"] == kind]


@pytest.fixture
def run(aws: str, capsys: pytest.CaptureFixture[str]) -> Callable[..., Result]:
    """Run ``event-pipeline`` in-process against the moto server."""

    def _run(*argv: str) -> Result:
        capsys.readouterr()
        code = main(list(argv))
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)

    return _run


@pytest.fixture
def kinesis(aws: str) -> Any:
    """A Kinesis client."""
    return boto3.client("kinesis")


@pytest.fixture
def sqs(aws: str) -> Any:
    """An SQS client."""
    return boto3.client("sqs")


@dataclass(frozen=True)
class Put:
    """A record as put: where it landed."""

    shard_id: str
    sequence_number: str
    partition_key: str
    data: bytes


@pytest.fixture
def make_stream(kinesis: Any) -> Callable[[str, int], str]:
    """Create a provisioned stream; returns its ARN."""

    def _make(name: str, shards: int = 1) -> str:
        kinesis.create_stream(StreamName=name, ShardCount=shards)
        return kinesis.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"][
            "StreamARN"
        ]

    return _make


@pytest.fixture
def put(kinesis: Any) -> Callable[..., list[Put]]:
    """Put records one by one (one writer: moto loses records under concurrent puts)."""

    def _put(stream: str, items: list[tuple[str, bytes]]) -> list[Put]:
        done = []
        for key, data in items:
            response = kinesis.put_record(StreamName=stream, PartitionKey=key, Data=data)
            done.append(Put(response["ShardId"], response["SequenceNumber"], key, data))
        return done

    return _put


@pytest.fixture
def dlq(sqs: Any) -> str:
    """An empty SQS queue (the on-failure destination); returns its URL."""
    return str(sqs.create_queue(QueueName=f"dlq-{uuid.uuid4().hex[:8]}")["QueueUrl"])


@pytest.fixture
def recording_handler(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[str, Path]:
    """A fresh handler module in tmp_path; returns (MODULE:FUNC, directory)."""
    name = f"recording_handler_{uuid.uuid4().hex[:8]}"
    (tmp_path / f"{name}.py").write_text(HANDLER_SOURCE)
    monkeypatch.syspath_prepend(str(tmp_path))
    return f"{name}:handler", tmp_path


@pytest.fixture
def tool_hooks(monkeypatch: pytest.MonkeyPatch) -> Callable[[str, Callable[..., Any]], None]:
    """Register botocore event handlers on every session the tools create.

    For fault injection (moto never throttles nor trims a stream) and for observing what the
    tools do (which calls they made, and when). Returns ``register(event_name, handler)``.
    """
    from cdk_event_pipeline.tools import _aws

    registered: list[tuple[str, Callable[..., Any]]] = []

    def session(region: str | None) -> boto3.session.Session:
        new = boto3.session.Session(region_name=region)
        for name, handler in registered:
            new.events.register(name, handler)
        return new

    monkeypatch.setattr(_aws, "make_session", session)

    def register(name: str, handler: Callable[..., Any]) -> None:
        registered.append((name, handler))

    return register

"""Fixtures for the local runner's fidelity scenarios: build an assembly, deploy it on moto."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import boto3
import pytest

from cdk_event_pipeline.local import LocalRunner, VirtualClock

from .assembly_builder import TemplateBuilder


ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def reference_assembly(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The reference app (app.py) synthesized once per session, as `make demo` does."""
    from cdk_event_pipeline.local.assembly import synthesize

    return synthesize(ROOT, tmp_path_factory.mktemp("cdk.out"))


@pytest.fixture
def deploy(aws: str, tmp_path: Path) -> Callable[[TemplateBuilder], LocalRunner]:
    """Write a builder's assembly and deploy it on the (reset) moto server with a virtual clock."""

    def make(builder: TemplateBuilder, **kwargs: object) -> LocalRunner:
        outdir = builder.write(tmp_path / "cdk.out")
        kwargs.setdefault("clock", VirtualClock())
        return LocalRunner.from_assembly(outdir, endpoint_url=aws, **kwargs).deploy()  # type: ignore[arg-type]

    return make


def put_records(runner: LocalRunner, payloads: list[dict], stream: str = "Stream", key: str = "k") -> list[str]:
    """PutRecords (one writer, 500 per call); return the sequence numbers in order."""
    client = runner.client("kinesis")
    name = runner.resource(stream).ref
    sequences: list[str] = []
    for start in range(0, len(payloads), 500):
        chunk = payloads[start : start + 500]
        response = client.put_records(StreamName=name, Records=[
            {"Data": json.dumps(p).encode(), "PartitionKey": p.get("key", key)} for p in chunk])
        assert response["FailedRecordCount"] == 0
        sequences += [r["SequenceNumber"] for r in response["Records"]]
    return sequences


def drain(runner: LocalRunner, queue: str) -> list[dict]:
    """Receive and delete every message of a queue; return the bodies parsed."""
    client = runner.client("sqs")
    url = runner.resource(queue).ref
    bodies = []
    while True:
        messages = client.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get("Messages", [])
        if not messages:
            return bodies
        for message in messages:
            bodies.append(json.loads(message["Body"]))
            client.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])


def queue_messages(endpoint: str, url: str, *, release: bool = False) -> list[dict]:
    """Peek at every message of a queue (received, not deleted; ``release``: visible again after)."""
    client = boto3.client("sqs", endpoint_url=endpoint, region_name="us-east-1")
    out, seen = [], set()
    while True:
        messages = client.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=30,
                                          AttributeNames=["All"]).get("Messages", [])
        fresh = [m for m in messages if m["MessageId"] not in seen]
        if not fresh:
            for message in out if release else []:
                client.change_message_visibility(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"],
                                                 VisibilityTimeout=0)
            return out
        for message in fresh:
            seen.add(message["MessageId"])
            out.append(message)

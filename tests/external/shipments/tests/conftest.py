"""Fixtures of the Shipments project's tests.

* ``context``: cdk.json's feature flags, so a test synthesizes what ``cdk synth`` would.
* ``aws``: a moto server on 127.0.0.1 (started once per session) with a labels bucket, and
  boto3 pointed at it; handler tests never reach AWS.
* ``lambda_context``: the attributes of Lambda's context object that Powertools reads.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest

ROOT = Path(__file__).resolve().parent.parent
CONTEXT: dict[str, Any] = json.loads((ROOT / "cdk.json").read_text())["context"]

for _key, _value in {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "eu-west-1",
    "AWS_EC2_METADATA_DISABLED": "true",
    "POWERTOOLS_SERVICE_NAME": "shipments-tests",
    "POWERTOOLS_METRICS_NAMESPACE": "ShipmentsTests",
    "POWERTOOLS_TRACE_DISABLED": "true",
}.items():
    os.environ[_key] = _value
os.environ.pop("AWS_PROFILE", None)

# The way Lambda puts /var/task on sys.path: each handler directory is importable.
for _directory in ("label_printer", "tracker", "dispatcher"):
    sys.path.insert(0, str(ROOT / "lambdas" / _directory))


@pytest.fixture(scope="session")
def context() -> dict[str, Any]:
    return CONTEXT


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


@pytest.fixture
def aws(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """An S3 client on the moto server, with an empty labels bucket named in LABEL_BUCKET."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_endpoint)
    bucket = f"labels-{os.urandom(4).hex()}"
    monkeypatch.setenv("LABEL_BUCKET", bucket)
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    yield s3


@dataclass
class LambdaContext:
    function_name: str = "label-printer"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = "arn:aws:lambda:eu-west-1:123456789012:function:label-printer"
    aws_request_id: str = "00000000-0000-0000-0000-000000000000"


@pytest.fixture
def lambda_context() -> LambdaContext:
    return LambdaContext()

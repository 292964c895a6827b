"""The one reader of a partial batch response (event_pipeline_runtime.batch_response), and the
contract module's promise: importing it loads neither the producer, the consumer nor boto3."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from event_pipeline_runtime.batch_response import BatchResponse, read_batch_response, read_batch_response_payload

IDS = ["1", "2", "3"]

OK: list[Any] = [None, {}, {"batchItemFailures": None}, {"batchItemFailures": []}, {"other": 1}]
WHOLE_BATCH: list[Any] = [
    "OK", 1, [], ["1"], True,  # not a JSON object
    {"batchItemFailures": "1"}, {"batchItemFailures": {"itemIdentifier": "1"}}, {"batchItemFailures": 0},
    {"batchItemFailures": [{"itemIdentifier": ""}]},  # empty string itemIdentifier
    {"batchItemFailures": [{"itemIdentifier": None}]},  # null itemIdentifier
    {"batchItemFailures": [{"itemIdentifer": "1"}]},  # wrong key name
    {"batchItemFailures": [{"itemIdentifier": "9"}]},  # not in the batch
    {"batchItemFailures": [{"itemIdentifier": 2}]},  # not a string
    {"batchItemFailures": ["2"]},  # an item that is not an object
    {"batchItemFailures": [{"itemIdentifier": "2"}, {"itemIdentifier": "9"}]},
]


@pytest.mark.parametrize("response", OK, ids=repr)
def test_documented_successes(response: Any) -> None:
    verdict = read_batch_response(response, IDS)
    assert verdict == BatchResponse("ok")
    assert verdict.ok and verdict.first_failed_index is None


@pytest.mark.parametrize("response", WHOLE_BATCH, ids=repr)
def test_whole_batch_failures_say_why(response: Any) -> None:
    verdict = read_batch_response(response, IDS)
    assert verdict.status == "failed"
    assert verdict.first_failed_index == 0 and verdict.failed_ids == ()
    assert verdict.reason and "the whole batch failed" in verdict.reason


def test_a_non_object_response_names_its_type() -> None:
    assert "the response is a str, not a JSON object" in str(read_batch_response("OK", IDS).reason)


def test_partial_failure_names_the_records_and_the_earliest() -> None:
    verdict = read_batch_response({"batchItemFailures": [{"itemIdentifier": "3"}, {"itemIdentifier": "2"}]}, IDS)
    assert verdict == BatchResponse("partial", ("3", "2"), 1)
    assert not verdict.ok


@pytest.mark.parametrize("response", [*OK, *WHOLE_BATCH], ids=repr)
def test_without_report_batch_item_failures_lambda_ignores_the_response(response: Any) -> None:
    assert read_batch_response(response, IDS, report_failures=False).ok


def test_an_invoke_payload_is_read_the_same_and_invalid_json_fails_the_batch() -> None:
    assert read_batch_response_payload(b"", IDS).ok
    assert read_batch_response_payload(b"null", IDS).ok
    payload = json.dumps({"batchItemFailures": [{"itemIdentifier": "2"}]}).encode()
    assert read_batch_response_payload(payload, IDS) == BatchResponse("partial", ("2",), 1)
    for junk in (b"{not json", b"\xff\xfe"):
        verdict = read_batch_response_payload(junk, IDS)
        assert verdict.status == "failed" and "not valid JSON" in str(verdict.reason)
        assert read_batch_response_payload(junk, IDS, report_failures=False).ok


def test_importing_the_contract_imports_almost_nothing() -> None:
    """The constructs import event_pipeline_runtime.contract at synth time: the package __init__ is
    lazy, so neither boto3/botocore nor the producer, codec or consumer come with it."""
    runtime = Path(__file__).resolve().parents[2] / "lambdas" / "runtime" / "python"
    code = (
        "import sys\n"
        "from event_pipeline_runtime.contract import MAX_PARTITION_KEY_CHARS\n"
        "import cdk_event_pipeline._defaults\n"
        "print(sorted(m for m in sys.modules if m.startswith(('event_pipeline_runtime', 'boto', 'aws_lambda'))))\n"
    )
    result = subprocess.run(  # noqa: S603 - fixed arguments
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": f"{runtime}:{runtime.parents[2] / 'constructs'}",
             "JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION": "1"},
    )
    loaded = result.stdout.strip().splitlines()[-1]
    assert loaded == "['event_pipeline_runtime', 'event_pipeline_runtime.contract', 'event_pipeline_runtime.snapstart']"


def test_the_lazy_package_still_exposes_every_name() -> None:
    import event_pipeline_runtime

    for name in event_pipeline_runtime.__all__:
        assert getattr(event_pipeline_runtime, name) is not None, name
    assert event_pipeline_runtime.codec.GZIP_MAGIC == b"\x1f\x8b"  # submodules as attributes, as before
    with pytest.raises(AttributeError):
        _ = event_pipeline_runtime.no_such_name  # type: ignore[attr-defined]

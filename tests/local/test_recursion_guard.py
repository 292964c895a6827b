"""The recursion guard end to end (issue 12): a consumer that writes back to its own stream.

The app (tests/local/apps/platform, built from the library's constructs) has two streams whose
consumer re-emits every ``echo.loop`` event it consumes onto the stream it reads: one with the
default hop limit (10), one with ``max_hops=3``. At synth the library warns about both loops
(``cdk-event-pipeline:RecursiveLoop``). At run time the runtime producer writes each re-emitted
event with the consumed record's hop count + 1, and the consumer refuses a record over its limit
before ``process`` runs (``HopLimitExceededError``): after the mapping's retries that record goes
to the consumer's dead-letter queue and the loop stops. The test is written the way the app's
author would write it, with the ``local_pipeline`` fixture.
"""

from __future__ import annotations

import inspect
import json
from pathlib import Path

import boto3
import pytest

NORMAL = 5


@pytest.fixture(scope="module")
def local_pipeline_assembly(platform_app_assembly: Path) -> Path:
    """The app the ``local_pipeline`` fixture deploys (overrides the plugin's fixture)."""
    return platform_app_assembly


def _warnings(assembly: Path) -> dict[str, list[str]]:
    """The synth-time warnings of the Platform stack, by construct path."""
    artifact = json.loads((assembly / "manifest.json").read_text())["artifacts"]["Platform"]
    extra = artifact.get("additionalMetadataFile")  # newer CDK versions write the metadata apart
    metadata = json.loads((assembly / extra).read_text()) if extra else artifact["metadata"]
    return {path: [entry["data"] for entry in entries if entry["type"] == "aws:cdk:warning"]
            for path, entries in metadata.items()}


def test_the_loops_are_flagged_at_synth(local_pipeline_assembly) -> None:
    warnings = _warnings(local_pipeline_assembly)
    flagged = sorted(path for path, messages in warnings.items() if any("RecursiveLoop" in m for m in messages))
    assert flagged == ["/Platform/Echo/Repeater", "/Platform/ShortEcho/Repeater"]  # not the SnapStart ones
    for stream, limit in (("Echo", "the default 10"), ("ShortEcho", "max_hops 3")):
        (message,) = [m for m in warnings.get(f"/Platform/{stream}/Repeater", []) if "RecursiveLoop" in m]
        assert f"reads Platform/{stream} and what it writes comes back to it" in message
        assert message.endswith("[ack: cdk-event-pipeline:RecursiveLoop]")
        assert f"more hops than {limit}" in message


@pytest.mark.parametrize(("stream", "max_hops"), [("Echo", 10), ("ShortEcho", 3)])
def test_a_loop_stops_at_the_hop_limit_in_the_dlq_and_nothing_else_is_lost(local_pipeline, stream, max_hops) -> None:
    consumer = f"{stream}/Repeater"
    events = [{"type": "echo.loop", "version": 1, "id": "loop-0", "at": "2026-01-01T00:00:00Z",
               "data": {"name": "looping"}}]
    events += [{"type": "echo.once", "version": 1, "id": f"once-{n}", "at": "2026-01-01T00:00:00Z",
                "data": {"name": f"normal-{n}"}} for n in range(NORMAL)]
    local_pipeline.put_records(stream, events, partition_key=lambda e: e["data"]["name"])

    local_pipeline.run_until_idle()

    # the looping event was handled by `process` exactly max_hops + 1 times (hops 0 .. max_hops),
    # every normal event exactly once
    seen = {item["id"]: item["seen"] for item in local_pipeline.table_items("Seen")}
    assert seen == {"looping": max_hops + 1, **{f"normal-{n}": 1 for n in range(NORMAL)}}

    # the copy past the limit is alone in the consumer's dead-letter queue, and nothing else is
    (failure,) = local_pipeline.failures(consumer)
    info = failure["KinesisBatchInfo"]
    assert info["batchSize"] == 1 and info["startSequenceNumber"] == info["endSequenceNumber"]
    assert failure["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert failure["requestContext"]["approximateInvokeCount"] == 3  # 1 + retry_attempts
    # read it back from the stream, as a redrive would: the copy that took one hop too many
    kinesis = boto3.client("kinesis")
    iterator = kinesis.get_shard_iterator(StreamName=info["streamArn"].rsplit("/", 1)[-1], ShardId=info["shardId"],
                                          ShardIteratorType="AT_SEQUENCE_NUMBER",
                                          StartingSequenceNumber=info["startSequenceNumber"])["ShardIterator"]
    (record,) = kinesis.get_records(ShardIterator=iterator, Limit=1)["Records"]
    looped = json.loads(record["Data"])
    assert looped["type"] == "echo.loop" and looped["data"] == {"name": "looping"}
    assert looped["hops"] == max_hops + 1
    # every failed invocation of that record names the hop limit (the handler's partial response)
    refused = [inv for inv in local_pipeline.invocations(consumer) if inv.failed == [info["startSequenceNumber"]]]
    assert len(refused) == 3 and all(inv.records == [looped] for inv in refused)
    # the stream holds the originals and one copy per hop, no more
    assert len(local_pipeline.invocations(consumer)) > 0
    copies = [r for inv in local_pipeline.invocations(consumer) for r in inv.records if r["type"] == "echo.loop"]
    assert sorted({r.get("hops", 0) for r in copies}) == list(range(max_hops + 2))


# The README's example ("Run your pipeline locally"), verbatim (checked below).
def test_a_loop_stops_at_the_hop_limit(local_pipeline):            # Echo/Repeater re-emits echo.loop events
    local_pipeline.put_records("Echo", [{"type": "echo.loop", "version": 1, "id": "loop-0",
                                         "at": "2026-01-01T00:00:00Z", "data": {"name": "looping"}}])
    local_pipeline.run_until_idle()                                  # NotIdleError if it never stopped
    (failure,) = local_pipeline.failures("Echo/Repeater")           # the copy with hops == max_hops + 1
    assert failure["KinesisBatchInfo"]["batchSize"] == 1


def test_the_readme_shows_the_example_above_verbatim() -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    start = readme.index("\n## Run your pipeline locally\n")
    section = readme[start:readme.index("\n## ", start + 1)]
    assert inspect.getsource(test_a_loop_stops_at_the_hop_limit) in section

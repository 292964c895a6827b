"""The recursion guard on moto: the envelope's hop count, the producer stamping it inside a consumer
invocation, and pipeline_handler refusing a record past the limit (issue 12).

The loop test drives the real handler over what the moto stream holds, the way an event source
mapping with bisect-on-error does: batches from the checkpoint; after a failure the records before
it are done, the failed record is retried alone, and if it fails again it goes to the dead-letter
list and the checkpoint moves past it.
"""

from __future__ import annotations

import json
import logging
import random
import sys
import types
from collections import deque
from collections.abc import Callable
from typing import Any

import boto3
import pytest
from runtime_events import REGION, create_stream

from event_pipeline_runtime import (
    DEFAULT_MAX_HOPS,
    ConsumerRecord,
    EventProducer,
    HopLimitExceededError,
    current_hops,
    encode_payload,
    envelope_error,
    make_envelope,
    next_hops,
    parse_envelope,
    pipeline_handler,
    snapstart,
)
from event_pipeline_runtime.hops import consuming
from tests.lambda_events import kinesis_event

SHARD = "shardId-000000000000"


class Failed:
    """What the handler logged for each failed record: ``{sequence number: (error type, reason)}``."""

    def __init__(self) -> None:
        self.reasons: dict[str, tuple[str, str]] = {}

    def handler(self) -> logging.Handler:
        failed = self

        class Capture(logging.Handler):
            def emit(self, record: logging.LogRecord) -> None:
                sequence = getattr(record, "item_identifier", None)
                if sequence is not None:
                    reason = (getattr(record, "error_type", ""), getattr(record, "failure_reason", ""))
                    failed.reasons[str(sequence)] = reason

        return Capture()


@pytest.fixture
def failed() -> Failed:
    return Failed()


@pytest.fixture
def log(failed: Failed) -> logging.Logger:
    logger = logging.getLogger("tests.runtime.hops")
    logger.setLevel(logging.INFO)
    logger.handlers = [failed.handler()]
    logger.propagate = False
    return logger


def drain(kinesis: Any, stream: str, handler: Callable[..., dict[str, Any]], *, batch_size: int = 10,
          max_invocations: int = 500) -> list[dict[str, Any]]:
    """Feed every record of the one-shard stream to ``handler`` until the stream has no new record;
    return the records given up on (the dead-letter list). Records the handler writes meanwhile are
    read too, so a loop keeps going until something stops it (or ``max_invocations``)."""
    iterator = kinesis.get_shard_iterator(StreamName=stream, ShardId=SHARD, ShardIteratorType="TRIM_HORIZON")[
        "ShardIterator"]
    pending: deque[dict[str, Any]] = deque()
    dead: list[dict[str, Any]] = []
    for _ in range(max_invocations):
        if not pending:
            response = kinesis.get_records(ShardIterator=iterator, Limit=batch_size)
            iterator = response["NextShardIterator"]
            pending.extend(response["Records"])
            if not pending:
                return dead
        batch = list(pending)[:batch_size]
        failures = {f["itemIdentifier"] for f in handler(kinesis_event([(SHARD, r) for r in batch], stream))[
            "batchItemFailures"]}
        for record in batch:
            if record["SequenceNumber"] in failures:
                break
            pending.popleft()  # done: the checkpoint moves past it
        if not failures:
            continue
        first = pending[0]  # the lowest failure, retried alone (bisect down to one record)
        again = handler(kinesis_event([(SHARD, first)], stream))["batchItemFailures"]
        if again:
            dead.append(pending.popleft())
    raise AssertionError(f"the stream was still producing records after {max_invocations} invocations")


# --- the envelope field ------------------------------------------------------------------------


def test_hops_is_left_out_at_zero_and_written_above() -> None:
    assert "hops" not in make_envelope("t", 1, id="e")
    assert make_envelope("t", 1, id="e", hops=3)["hops"] == 3
    envelope = parse_envelope(make_envelope("t", 1, id="e", hops=3))
    assert envelope is not None and envelope.hops == 3
    absent = parse_envelope(make_envelope("t", 1, id="e"))
    assert absent is not None and absent.hops == 0


@pytest.mark.parametrize(("hops", "shown"), [
    (-1, "-1 (int)"), (True, "True (bool)"), (1.0, "1.0 (float)"), ("1", "'1' (str)"), (None, "None (NoneType)"),
    (1_000_001, "1000001 (int)"),
])
def test_a_malformed_hop_count_is_not_an_envelope_and_says_why(hops: Any, shown: str) -> None:
    body = {**make_envelope("t", 1, id="e"), "hops": hops}
    assert parse_envelope(body) is None
    assert envelope_error(body) == f"envelope hops must be absent or an integer from 0 to 1000000 (given {shown})"


@pytest.mark.parametrize("hops", [-1, True, 2.0, "2"])
def test_make_envelope_refuses_a_malformed_hop_count(hops: Any) -> None:
    with pytest.raises(ValueError, match="envelope hops must be an int between 0 and 1000000"):
        make_envelope("t", 1, id="e", hops=hops)


def test_a_consumer_fails_a_record_whose_hop_count_is_malformed_when_it_requires_envelopes(
    context: Any, log: logging.Logger, failed: Failed,
) -> None:
    from runtime_events import synthetic_kinesis_event

    body = {**make_envelope("order.placed", {"n": 1}, id="e1"), "hops": "3"}

    def process(record: ConsumerRecord) -> None:
        record.require_envelope()

    handler = pipeline_handler(process, source="kinesis", logger=log, idempotent=False)
    response = handler(synthetic_kinesis_event([json.dumps(body).encode()]), context)
    assert [f["itemIdentifier"] for f in response["batchItemFailures"]] == ["49000000000"]
    assert failed.reasons["49000000000"] == (
        "EnvelopeError", "Kinesis record 49000000000: envelope hops must be absent or an integer from 0 to 1000000 "
        "(given '3' (str))")


# --- the producer stamps the hop count inside a consumer invocation ------------------------------


class Recording:
    """A Kinesis client that records PutRecords entries and accepts them all."""

    def __init__(self) -> None:
        self.entries: list[dict[str, Any]] = []

    def put_records(self, *, Records: list[dict[str, Any]], **_: Any) -> dict[str, Any]:  # noqa: N803
        self.entries.extend(Records)
        return {"FailedRecordCount": 0, "Records": [{"SequenceNumber": "1", "ShardId": SHARD} for _ in Records]}

    def bodies(self) -> list[Any]:
        return [json.loads(e["Data"]) for e in self.entries]


def test_outside_a_consumer_envelopes_carry_no_hops() -> None:
    client = Recording()
    producer = EventProducer("events", client=client)
    assert current_hops() is None and next_hops() == 0
    producer.put_event("t", {"a": 1}, partition_key="k", id="e1")
    producer.put(make_envelope("t", 2, id="e2", hops=4), "k")
    producer.flush()
    assert [b.get("hops") for b in client.bodies()] == [None, 4]


def test_inside_a_consumer_every_envelope_gets_the_processed_count_plus_one() -> None:
    client = Recording()
    producer = EventProducer("events", client=client)
    consumed = make_envelope("t", {"a": 1}, id="in", hops=2)
    with consuming(2):
        assert current_hops() == 2 and next_hops() == 3
        producer.put_event("t", {"new": 1}, partition_key="k", id="made")
        producer.put(consumed, "k")  # forwarded as it came: still one more hop
        producer.put(make_envelope("t", 3, id="ahead", hops=9), "k")  # already further: kept
        producer.put({"not": "an envelope"}, "k")  # carries no count
        producer.put(b'{"raw": true}', "k")  # bytes are sent as given
    producer.flush()
    assert [b.get("hops") for b in client.bodies()] == [3, 3, 9, None, None]
    assert consumed["hops"] == 2  # the caller's dict is not changed
    assert current_hops() is None


def test_the_handler_sets_the_count_for_each_record_it_processes(context: Any, log: logging.Logger) -> None:
    from runtime_events import synthetic_kinesis_event

    seen: list[int | None] = []
    payloads = [encode_payload(make_envelope("t", n, id=f"e{n}", hops=n)) for n in range(3)]
    payloads.append(b'{"plain": "json"}')
    handler = pipeline_handler(lambda r: seen.append(current_hops()), source="kinesis", logger=log, idempotent=False)
    assert handler(synthetic_kinesis_event(payloads), context) == {"batchItemFailures": []}
    assert seen == [0, 1, 2, 0]
    assert current_hops() is None


# --- the limit -----------------------------------------------------------------------------------


def test_the_limit_comes_from_the_argument_then_the_environment(monkeypatch: pytest.MonkeyPatch, log: Any) -> None:
    assert pipeline_handler(print, source="sqs", logger=log).max_hops == DEFAULT_MAX_HOPS == 10
    monkeypatch.setenv("EVENT_PIPELINE_MAX_HOPS", "3")
    assert pipeline_handler(print, source="sqs", logger=log).max_hops == 3
    assert pipeline_handler(print, source="sqs", logger=log, max_hops=5).max_hops == 5


@pytest.mark.parametrize("value", ["ten", "-1", "1.5", "1000001"])
def test_an_invalid_limit_in_the_environment_is_refused_naming_it(
    monkeypatch: pytest.MonkeyPatch, log: Any, value: str,
) -> None:
    monkeypatch.setenv("EVENT_PIPELINE_MAX_HOPS", value)
    with pytest.raises(ValueError, match="environment variable EVENT_PIPELINE_MAX_HOPS must be an integer between 0 "
                                         "and 1000000"):
        pipeline_handler(print, source="kinesis", logger=log)


@pytest.mark.parametrize("value", [-1, True, 2.5])
def test_an_invalid_limit_argument_is_refused(log: Any, value: Any) -> None:
    with pytest.raises(ValueError, match="max_hops must be an integer between 0 and 1000000"):
        pipeline_handler(print, source="kinesis", logger=log, max_hops=value)


def test_a_record_past_the_limit_fails_before_process_runs(context: Any, log: logging.Logger, failed: Failed) -> None:
    from runtime_events import synthetic_kinesis_event

    payloads = [encode_payload(make_envelope("loop", {}, id="e", hops=h)) for h in (2, 3, 4)]
    seen: list[int] = []
    handler = pipeline_handler(lambda r: seen.append(r.envelope.hops), source="kinesis", logger=log,
                               idempotent=False, max_hops=3)
    response = handler(synthetic_kinesis_event(payloads, partition_key="k"), context)
    assert seen == [2, 3]
    assert response == {"batchItemFailures": [{"itemIdentifier": "49000000002"}]}
    assert failed.reasons["49000000002"] == (
        "HopLimitExceededError",
        "Kinesis record 49000000002: event 'e' of type 'loop' has taken 4 hops, over the limit of 3 (set by max_hops "
        "or EVENT_PIPELINE_MAX_HOPS): a consumer keeps producing it back into its own source, a recursive loop; "
        "not processed")


def test_an_sqs_message_past_the_limit_fails_too(context: Any, log: logging.Logger, failed: Failed) -> None:
    from tests.lambda_events import sqs_event_from_messages

    messages = [{"MessageId": f"m{h}", "ReceiptHandle": "r", "Body": json.dumps(make_envelope("t", 1, id="e", hops=h)),
                 "MD5OfBody": "x"} for h in (0, 11)]
    seen: list[str] = []
    handler = pipeline_handler(lambda r: seen.append(r.message_id), source="sqs", logger=log, idempotent=False)
    response = handler(sqs_event_from_messages("arn:aws:sqs:us-east-1:123456789012:q", messages), context)
    assert seen == ["m0"]
    assert response == {"batchItemFailures": [{"itemIdentifier": "m11"}]}
    assert failed.reasons["m11"][0] == "HopLimitExceededError"


# --- a consumer that writes back to its own stream, on moto -------------------------------------


def _loop_consumer(kinesis: Any, stream: str, log: logging.Logger, **handler_kwargs: Any) -> tuple[
        Callable[..., dict[str, Any]], list[tuple[str, int]]]:
    producer = EventProducer(stream, client=kinesis)  # at module level in a real handler
    applied: list[tuple[str, int]] = []

    def process(record: ConsumerRecord) -> None:
        envelope = record.require_envelope()
        applied.append((envelope.id, envelope.hops))
        if envelope.type == "echo":  # the bug: the consumer writes the event back to its own source
            producer.put_event("echo", envelope.data, partition_key=record.partition_key or "k", id=envelope.id)
            producer.flush()

    return pipeline_handler(process, source="kinesis", logger=log, idempotent=False, **handler_kwargs), applied


def _seed(kinesis: Any, stream: str) -> list[str]:
    producer = EventProducer(stream, client=kinesis)
    ids = []
    for n in range(30):
        if n == 7:
            producer.put_event("echo", {"n": n}, partition_key="echo", id="loop")
        ids.append(f"order-{n}")
        producer.put_event("order.placed", {"n": n}, partition_key=f"o{n % 4}", id=f"order-{n}")
    producer.flush()
    return ids


def test_a_consumer_writing_back_to_its_own_stream_stops_at_the_limit(
    kinesis: Any, stream: str, log: logging.Logger, failed: Failed,
) -> None:
    orders = _seed(kinesis, stream)
    handler, applied = _loop_consumer(kinesis, stream, log)

    dead = drain(kinesis, stream, handler)

    # The looping event was applied with hops 0..10, then its 11th copy was refused.
    assert [hops for event_id, hops in applied if event_id == "loop"] == list(range(DEFAULT_MAX_HOPS + 1))
    assert len(dead) == 1
    dead_body = json.loads(dead[0]["Data"])
    assert (dead_body["id"], dead_body["hops"]) == ("loop", DEFAULT_MAX_HOPS + 1)
    error_type, reason = failed.reasons[dead[0]["SequenceNumber"]]
    assert error_type == "HopLimitExceededError"
    assert "has taken 11 hops, over the limit of 10" in reason
    # Nothing else is lost or applied twice; the stream holds the 31 seeded records + 11 copies.
    assert sorted(event_id for event_id, _ in applied if event_id != "loop") == sorted(orders)
    stored = kinesis.get_records(ShardIterator=kinesis.get_shard_iterator(
        StreamName=stream, ShardId=SHARD, ShardIteratorType="TRIM_HORIZON")["ShardIterator"], Limit=1000)["Records"]
    assert len(stored) == 31 + DEFAULT_MAX_HOPS + 1


def test_a_lower_limit_from_the_environment_stops_the_loop_sooner(
    kinesis: Any, log: logging.Logger, failed: Failed, monkeypatch: pytest.MonkeyPatch,
) -> None:
    stream = create_stream(kinesis, "echoes")
    monkeypatch.setenv("EVENT_PIPELINE_MAX_HOPS", "2")
    orders = _seed(kinesis, stream)
    handler, applied = _loop_consumer(kinesis, stream, log)
    dead = drain(kinesis, stream, handler)
    assert [hops for event_id, hops in applied if event_id == "loop"] == [0, 1, 2]
    assert [json.loads(d["Data"])["hops"] for d in dead] == [3]
    assert sorted(event_id for event_id, _ in applied if event_id != "loop") == sorted(orders)


# --- SnapStart: what the runtime redoes after a restore ------------------------------------------


def test_after_restore_reseeds_random_and_makes_new_clients(monkeypatch: pytest.MonkeyPatch, aws: str) -> None:
    registered: list[Callable[[], Any]] = []
    fake = types.ModuleType("snapshot_restore_py")
    fake.register_after_restore = registered.append  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "snapshot_restore_py", fake)
    monkeypatch.setattr(snapstart, "_installed", False)
    monkeypatch.setattr(snapstart, "_hooks", [])

    assert snapstart.install() is False  # not a SnapStart init: nothing registered
    monkeypatch.setenv("AWS_LAMBDA_INITIALIZATION_TYPE", "snap-start")
    assert snapstart.install() is True and snapstart.install() is True
    assert registered == [snapstart.after_restore]

    own = EventProducer("events")
    before = own.client  # made at init, in the snapshot
    injected_client = boto3.client("kinesis", region_name=REGION)
    injected = EventProducer("events", client=injected_client)
    mine: list[str] = []
    snapstart.on_restore(lambda: mine.append("hook"))
    random.seed(1234)
    state = random.getstate()

    registered[0]()  # Lambda resumes the snapshot and runs the hook

    assert random.getstate() != state
    assert own.client is not before
    assert injected.client is injected_client
    assert mine == ["hook"]


def test_the_idempotency_client_is_made_again_after_restore(
    monkeypatch: pytest.MonkeyPatch, idempotency_table: str, log: Any,
) -> None:
    monkeypatch.setattr(snapstart, "_hooks", [])
    handler = pipeline_handler(print, source="sqs", logger=log)
    injected = boto3.client("dynamodb", region_name=REGION)
    with_injected = pipeline_handler(print, source="sqs", logger=log, dynamodb_client=injected)
    before = handler.idempotency_store.client

    snapstart.after_restore()

    assert handler.idempotency_store.client is not before
    assert with_injected.idempotency_store.client is injected  # an injected client is the caller's to refresh


def test_hop_limit_error_is_exported() -> None:
    assert issubclass(HopLimitExceededError, ValueError)

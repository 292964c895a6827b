"""Producer tests against the moto server: round trip, injected failures, limits, errors."""

from __future__ import annotations

import json
from collections import defaultdict
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from runtime_events import FlakyKinesis, create_stream, read_stream

from event_pipeline_runtime import (
    DeliveryRejectedError,
    EventProducer,
    RecordTooLargeError,
    RetriesExhaustedError,
    UndeliveredRecordsError,
    decode_record_data,
    put_events,
)


def _stream_bodies(client: Any, name: str) -> list[tuple[str, Any]]:
    """(partition key, body) of every user record in the stream, shard by shard, in order."""
    out = []
    for records in read_stream(client, name).values():
        for record in records:
            for user in decode_record_data(record["Data"], record["PartitionKey"]):
                out.append((user.partition_key, user.body))
    return out


def _assert_complete_and_ordered(bodies: list[tuple[str, Any]], keys: int, per_key: int) -> None:
    seen: dict[str, list[int]] = defaultdict(list)
    for key, body in bodies:
        assert body["k"] == key
        seen[key].append(body["n"])
    assert len(seen) == keys
    for key, numbers in seen.items():
        assert numbers == list(range(per_key)), f"key {key} out of order or incomplete"


def _records(keys: int, per_key: int) -> list[tuple[str, dict[str, Any]]]:
    # Interleaved: n-th record of every key, then the (n+1)-th ...
    return [(f"key-{k}", {"k": f"key-{k}", "n": n, "pad": "x" * 120}) for n in range(per_key) for k in range(keys)]


def test_round_trip_10000_records(kinesis: Any, stream: str) -> None:
    result = put_events(stream, _records(1000, 10), client=kinesis)
    assert (result.records, result.api_calls, result.retried) == (10_000, 20, 0)
    bodies = _stream_bodies(kinesis, stream)
    assert len(bodies) == 10_000
    _assert_complete_and_ordered(bodies, 1000, 10)


def test_30_percent_injected_failures_lose_nothing_and_keep_key_order(kinesis: Any) -> None:
    name = create_stream(kinesis, "events", shards=2)
    flaky = FlakyKinesis(kinesis, failure_rate=0.3, seed=11)
    delays: list[float] = []
    result = put_events(name, _records(200, 25), client=flaky, sleep=delays.append)
    assert result.records == 5000
    assert result.retried > 1000  # ~30% of ~7,100 sends
    bodies = _stream_bodies(kinesis, name)
    assert len(bodies) == 5000  # none lost, none duplicated
    _assert_complete_and_ordered(bodies, 200, 25)
    # Never two entries of one key in one request: a later record cannot overtake a retried one.
    for request in flaky.requests:
        keys = [key for key, _ in request]
        assert len(keys) == len(set(keys))
    assert delays and all(0 <= d <= 2.0 for d in delays)


def test_aggregated_with_failures_keeps_order_in_few_calls(kinesis: Any, stream: str) -> None:
    flaky = FlakyKinesis(kinesis, failure_rate=0.3, seed=3)
    result = put_events(stream, _records(10, 300), client=flaky, aggregate=True, sleep=lambda _: None)
    assert result.records == 3000
    assert result.kinesis_records < 100
    bodies = _stream_bodies(kinesis, stream)
    _assert_complete_and_ordered(bodies, 10, 300)


# --- limits: property tests against an in-memory client ---------------------------------------


class RecordingClient:
    """An in-memory PutRecords that checks every Kinesis limit and fails entries at random."""

    def __init__(self, *, failure_rate: float = 0.0, seed: int = 0, max_record: int, max_request: int) -> None:
        import random

        self.rng = random.Random(seed)
        self.failure_rate = failure_rate
        self.max_record = max_record
        self.max_request = max_request
        self.requests: list[list[dict[str, Any]]] = []
        self.written: list[tuple[str, bytes]] = []

    def put_records(self, *, Records: list[dict[str, Any]], StreamName: str) -> dict[str, Any]:  # noqa: N803
        assert 1 <= len(Records) <= 500
        sizes = [len(r["Data"]) + len(r["PartitionKey"].encode()) for r in Records]
        assert all(size <= self.max_record for size in sizes)
        assert sum(sizes) <= self.max_request
        assert all(1 <= len(r["PartitionKey"]) <= 256 for r in Records)
        self.requests.append(Records)
        results = []
        for r in Records:
            if self.rng.random() < self.failure_rate:
                results.append({"ErrorCode": "ProvisionedThroughputExceededException", "ErrorMessage": "slow down"})
            else:
                self.written.append((r["PartitionKey"], r["Data"]))
                results.append({"SequenceNumber": str(len(self.written)), "ShardId": "shardId-000000000000"})
        return {"FailedRecordCount": sum(1 for r in results if "ErrorCode" in r), "Records": results}


_keys = st.sampled_from(["a", "b", "c", "d", "é", "k" * 256, "z" * 40])


@settings(max_examples=60, deadline=None)
@given(
    records=st.lists(st.tuples(_keys, st.integers(min_value=0, max_value=1500)), min_size=1, max_size=120),
    max_records=st.integers(min_value=1, max_value=10),
    failure_rate=st.sampled_from([0.0, 0.3, 0.6]),
    aggregate=st.booleans(),
    seed=st.integers(min_value=0, max_value=1000),
)
def test_requests_stay_within_every_limit(
    records: list[tuple[str, int]], max_records: int, failure_rate: float, aggregate: bool, seed: int
) -> None:
    max_record, max_request = 2048, 4096
    client = RecordingClient(failure_rate=failure_rate, seed=seed, max_record=max_record, max_request=max_request)
    items = [(key, {"k": key, "n": n, "pad": "x" * size}) for n, (key, size) in enumerate(records)]
    fitting = [(k, d) for k, d in items if len(json.dumps(d, separators=(",", ":"))) + len(k.encode()) <= max_record]
    result = put_events(
        "s", fitting, client=client, aggregate=aggregate, max_attempts=200, sleep=lambda _: None,
        max_record_bytes=max_record, max_request_bytes=max_request, max_records_per_request=max_records,
    ) if fitting else None
    if result is None:
        return
    assert result.records == len(fitting)
    assert result.api_calls == len(client.requests)
    for request in client.requests:
        assert len(request) <= max_records
        keys = [r["PartitionKey"] for r in request]
        assert len(keys) == len(set(keys))  # one entry per key per request
    delivered = [
        (user.partition_key, user.body) for key, data in client.written for user in decode_record_data(data, key)
    ]
    assert sorted(json.dumps(b, sort_keys=True) for _, b in delivered) == sorted(
        json.dumps(d, sort_keys=True) for _, d in fitting
    )
    per_key: dict[str, list[int]] = defaultdict(list)
    for key, body in delivered:
        per_key[key].append(body["n"])
    for numbers in per_key.values():
        assert numbers == sorted(numbers)


def test_large_records_fill_requests_up_to_5_mib() -> None:
    client = RecordingClient(max_record=1024 * 1024, max_request=5 * 1024 * 1024)
    payloads = [(f"k{i}", b"x" * (900 * 1024)) for i in range(12)]
    result = put_events("s", payloads, client=client)
    assert result.records == 12
    assert [len(r) for r in client.requests] == [5, 5, 2]


def test_ten_mib_stream_limits_are_configurable() -> None:
    client = RecordingClient(max_record=10 * 1024 * 1024, max_request=10 * 1024 * 1024)
    result = put_events(
        "s", [("k", b"x" * (3 * 1024 * 1024))] * 2, client=client,
        max_record_bytes=10 * 1024 * 1024, max_request_bytes=10 * 1024 * 1024,
    )
    assert result.records == 2
    with pytest.raises(ValueError, match="max_record_bytes must be between 1 and 10485760"):
        EventProducer("s", client=client, max_record_bytes=11 * 1024 * 1024)
    with pytest.raises(ValueError, match="max_records_per_request must be between 1 and 500"):
        EventProducer("s", client=client, max_records_per_request=501)


class ExplodingClient:
    def put_records(self, **kwargs: Any) -> dict[str, Any]:
        raise AssertionError("no call may be made")


def test_too_large_record_raises_before_any_call() -> None:
    records = [("a", {"n": 1}), ("b", {"n": 2}), ("c", {"n": 3}), ("big", b"x" * (1024 * 1024))]
    with pytest.raises(RecordTooLargeError) as info:
        put_events("s", records, client=ExplodingClient())
    error = info.value
    assert (error.index, error.partition_key, error.size, error.limit) == (3, "big", 1024 * 1024 + 3, 1024 * 1024)
    assert "record 3 (partition key 'big')" in str(error)


def test_record_size_counts_utf8_partition_key_bytes() -> None:
    key = "é" * 256  # 256 characters (allowed), 512 bytes
    producer = EventProducer("s", client=ExplodingClient(), max_record_bytes=1000)
    producer.put(b"x" * 488, key)
    with pytest.raises(RecordTooLargeError):
        producer.put(b"x" * 489, key)


@pytest.mark.parametrize("key", ["", "k" * 257, None, 5])
def test_partition_key_must_be_1_to_256_characters(key: Any) -> None:
    with pytest.raises(ValueError, match="partition key must be a string of 1 to 256"):
        EventProducer("s", client=ExplodingClient()).put({"x": 1}, key)


def test_stream_name_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STREAM_NAME", "from-env")
    assert EventProducer(client=ExplodingClient()).stream_name == "from-env"
    monkeypatch.delenv("STREAM_NAME")
    with pytest.raises(ValueError, match="STREAM_NAME"):
        EventProducer(client=ExplodingClient())


# --- giving up: nothing dropped silently ------------------------------------------------------


def test_exhausted_attempts_raise_with_every_undelivered_record(kinesis: Any, stream: str) -> None:
    flaky = FlakyKinesis(kinesis, failure_rate=1.0, fail_keys={"bad"})
    delays: list[float] = []
    producer = EventProducer(stream, client=flaky, max_attempts=4, sleep=delays.append, random=lambda: 1.0)
    for n in range(5):
        producer.put({"k": "bad", "n": n}, "bad")
        producer.put({"k": "good", "n": n}, "good")
    with pytest.raises(RetriesExhaustedError) as info:
        producer.flush()
    error = info.value
    assert isinstance(error, UndeliveredRecordsError) and error.retryable
    assert [json.loads(data)["n"] for _, data in error.records] == [0, 1, 2, 3, 4]
    assert {key for key, _ in error.records} == {"bad"}
    assert error.error_codes == {"bad": "ProvisionedThroughputExceededException"} or error.error_codes == {
        "bad": "InternalFailure"
    }
    assert error.delivered == 5
    assert producer.pending == 0
    # The good key got through, in order; the bad key was tried exactly 4 times.
    assert [body["n"] for key, body in _stream_bodies(kinesis, stream)] == [0, 1, 2, 3, 4]
    assert sum(1 for request in flaky.requests for key, _ in request if key == "bad") == 4
    assert delays == [0.05, 0.1, 0.2]  # full jitter with random() == 1.0: base * 2**(attempt-1)


def test_non_retryable_error_stops_at_once(kinesis: Any) -> None:
    with pytest.raises(DeliveryRejectedError) as info:
        put_events("no-such-stream", [("a", {"n": 1}), ("b", {"n": 2})], client=kinesis, sleep=lambda _: None)
    assert isinstance(info.value, UndeliveredRecordsError) and not info.value.retryable
    assert len(info.value.records) == 2
    assert set(info.value.error_codes.values()) == {"ResourceNotFoundException"}
    assert info.value.__cause__ is not None


def test_whole_call_throttling_is_retried() -> None:
    from botocore.exceptions import ClientError

    class ThrottledOnce(RecordingClient):
        calls = 0

        def put_records(self, **kwargs: Any) -> dict[str, Any]:
            self.calls += 1
            if self.calls == 1:
                raise ClientError({"Error": {"Code": "ProvisionedThroughputExceededException"}}, "PutRecords")
            return super().put_records(**kwargs)

    client = ThrottledOnce(max_record=1024 * 1024, max_request=5 * 1024 * 1024)
    result = put_events("s", [("a", {"n": 1}), ("b", {"n": 2})], client=client, sleep=lambda _: None)
    assert (result.records, result.api_calls, result.retried) == (2, 2, 2)


def test_put_event_wraps_in_an_envelope_and_compresses(kinesis: Any, stream: str) -> None:
    with EventProducer(stream, client=kinesis, compress=True) as producer:
        envelope = producer.put_event("order.created", {"order": 7}, partition_key="o-7", id="evt-1")
    assert envelope["id"] == "evt-1" and envelope["version"] == 1
    (record,) = read_stream(kinesis, stream)["shardId-000000000000"]
    assert record["Data"][:2] == b"\x1f\x8b"
    (user,) = decode_record_data(record["Data"], record["PartitionKey"])
    assert user.envelope is not None and user.envelope.data == {"order": 7} and user.body == envelope


# --- connection errors and throttling on a real client (botocore event hooks, moto server) -----


class _Canned:
    """A raw HTTP body for botocore's ``AWSResponse``."""

    def __init__(self, body: bytes) -> None:
        self.body = body

    def stream(self, **_: Any) -> Any:
        yield self.body


def _error_response(request: Any, status: int, code: str) -> Any:
    from botocore.awsrequest import AWSResponse

    body = json.dumps({"__type": code, "message": "injected"}).encode()
    return AWSResponse(request.url, status, {"Content-Type": "application/x-amz-json-1.1"}, _Canned(body))


def _connection_error(name: str, request: Any) -> Exception:
    import botocore.exceptions as errors

    if name == "ConnectionClosedError":
        return errors.ConnectionClosedError(endpoint_url=request.url)
    return getattr(errors, name)(endpoint_url=request.url)


class FaultInjector:
    """Makes the first ``times`` PutRecords calls of a real boto3 client fail before they are
    sent (a ``before-send`` hook), then lets calls through to the moto server.

    ``fault`` is a botocore exception name, or ``"<status> <ErrorCode>"`` for an error answer.
    """

    def __init__(self, client: Any, fault: str, times: int) -> None:
        self.fault, self.times, self.calls = fault, times, 0
        client.meta.events.register("before-send.kinesis.PutRecords", self._before_send)

    def _before_send(self, request: Any, **_: Any) -> Any:
        self.calls += 1
        if self.calls > self.times:
            return None
        if " " in self.fault:
            status, code = self.fault.split(" ")
            return _error_response(request, int(status), code)
        raise _connection_error(self.fault, request)


def _single_try_client(endpoint: str) -> Any:
    """A Kinesis client without botocore's own retries, so every fault reaches the producer."""
    import boto3
    from botocore.config import Config

    return boto3.client(
        "kinesis", endpoint_url=endpoint, region_name="us-east-1",
        config=Config(retries={"mode": "standard", "total_max_attempts": 1}),
    )


RETRYABLE_FAULTS = [
    "ConnectTimeoutError",
    "EndpointConnectionError",
    "ReadTimeoutError",
    "ConnectionClosedError",
    "400 ProvisionedThroughputExceededException",
    "400 ThrottlingException",
    "500 InternalFailure",
    "503 ServiceUnavailable",
    "502 UnknownGatewayError",  # an unknown code: retried for its 5xx status
]


@pytest.mark.parametrize("fault", RETRYABLE_FAULTS)
def test_connection_errors_and_throttling_are_retried_until_delivered(aws: str, stream: str, fault: str) -> None:
    """Finding 6: a connect timeout (and the other transient faults) is retried with backoff
    within the bounded attempts; 400 records are then all delivered, in order."""
    client = _single_try_client(aws)
    faults = FaultInjector(client, fault, times=3)
    delays: list[float] = []
    records = [(f"key-{n % 100}", {"k": f"key-{n % 100}", "n": n // 100}) for n in range(400)]

    result = put_events(stream, records, client=client, sleep=delays.append, random=lambda: 1.0)

    assert result.records == 400
    assert faults.calls == 3 + 4  # three failed calls, then 100 keys x 4 records
    assert delays == [0.05, 0.1, 0.2]  # backoff after each failed call
    _assert_complete_and_ordered(_stream_bodies(client, stream), keys=100, per_key=4)


@pytest.mark.parametrize("fault", ["ConnectTimeoutError", "400 ProvisionedThroughputExceededException"])
def test_a_stream_that_stays_unreachable_raises_retries_exhausted_with_every_record(
    aws: str, stream: str, fault: str
) -> None:
    client = _single_try_client(aws)
    faults = FaultInjector(client, fault, times=10_000)
    records = [(f"key-{n}", {"n": n}) for n in range(400)]

    with pytest.raises(RetriesExhaustedError) as info:
        put_events(stream, records, client=client, max_attempts=5, sleep=lambda _: None)

    error = info.value
    assert error.retryable and isinstance(error, UndeliveredRecordsError)
    assert faults.calls == 5  # bounded: max_attempts calls, no more
    assert [json.loads(data)["n"] for _, data in error.records] == list(range(400))
    assert set(error.error_codes.values()) == {fault.split(" ")[-1]}
    assert error.delivered == 0
    assert _stream_bodies(client, stream) == []


@pytest.mark.parametrize("fault", ["400 AccessDeniedException", "400 ValidationException", "400 KMSAccessDeniedException"])
def test_a_non_retryable_answer_raises_delivery_rejected_after_one_call(aws: str, stream: str, fault: str) -> None:
    client = _single_try_client(aws)
    faults = FaultInjector(client, fault, times=1)
    with pytest.raises(DeliveryRejectedError) as info:
        put_events(stream, [(f"k{n}", {"n": n}) for n in range(10)], client=client, sleep=lambda _: None)
    assert faults.calls == 1
    assert not info.value.retryable and len(info.value.records) == 10
    assert set(info.value.error_codes.values()) == {fault.split(" ")[1]}


def test_a_response_with_the_wrong_number_of_results_reports_every_record() -> None:
    class Short:
        def put_records(self, **kwargs: Any) -> dict[str, Any]:
            return {"FailedRecordCount": 0, "Records": [{"SequenceNumber": "1", "ShardId": "s"}]}

    with pytest.raises(DeliveryRejectedError, match="answered 1 results for 3 records") as info:
        put_events("s", [("a", {"n": 1}), ("b", {"n": 2}), ("c", {"n": 3})], client=Short())
    assert len(info.value.records) == 3


def test_nan_data_raises_before_any_call() -> None:
    with pytest.raises(ValueError, match="Out of range float values"):
        put_events("s", [("a", {"n": 1}), ("b", {"amount": float("nan")})], client=ExplodingClient())


# --- encodings from the environment (the construct's connect_producer sets them) ------------


@pytest.mark.parametrize(
    ("compress_env", "aggregate_env", "expected"),
    [(None, None, (False, False)), ("true", "false", (True, False)), ("FALSE", "True", (False, True)), ("", "", (False, False))],
)
def test_compress_and_aggregate_defaults_come_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, compress_env: str | None, aggregate_env: str | None, expected: tuple[bool, bool]
) -> None:
    for name, value in (("EVENT_PIPELINE_COMPRESS", compress_env), ("EVENT_PIPELINE_AGGREGATE", aggregate_env)):
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, value)
    producer = EventProducer("s", client=ExplodingClient())
    assert (producer.compress, producer.aggregate) == expected
    explicit = EventProducer("s", client=ExplodingClient(), compress=not expected[0], aggregate=not expected[1])
    assert (explicit.compress, explicit.aggregate) == (not expected[0], not expected[1])  # arguments win


@pytest.mark.parametrize("name", ["EVENT_PIPELINE_COMPRESS", "EVENT_PIPELINE_AGGREGATE"])
def test_an_invalid_encoding_variable_is_refused_naming_it(monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    monkeypatch.setenv(name, "yes")
    with pytest.raises(ValueError, match=f"environment variable {name} must be 'true' or 'false' \\(given 'yes'\\)"):
        EventProducer("s", client=ExplodingClient())
    with pytest.raises(ValueError, match=name):
        put_events("s", [("a", {"n": 1})], client=ExplodingClient())
    EventProducer("s", client=ExplodingClient(), compress=False, aggregate=False)  # explicit: not read


def test_the_environment_encodings_reach_the_stream(kinesis: Any, stream: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EVENT_PIPELINE_COMPRESS", "true")
    monkeypatch.setenv("EVENT_PIPELINE_AGGREGATE", "true")
    put_events(stream, [("k", {"n": n}) for n in range(5)], client=kinesis)
    (record,) = read_stream(kinesis, stream)["shardId-000000000000"]
    assert record["Data"][:4] == b"\xf3\x89\x9a\xc2"  # one KPL aggregate ...
    users = decode_record_data(record["Data"], record["PartitionKey"])
    assert [u.body["n"] for u in users] == list(range(5))
    from event_pipeline_runtime.aggregation import deaggregate

    assert all(data[:2] == b"\x1f\x8b" for _, data in deaggregate(record["Data"], "k"))  # ... of gzip records

"""Large records (issue 12): the producer's record limit from ``EVENT_PIPELINE_MAX_RECORD_BYTES``, the
variable ``EventStream(max_record_size=...)`` sets on the functions connected with ``connect_producer``."""

from __future__ import annotations

from typing import Any

import pytest

from event_pipeline_runtime import EventProducer, RecordTooLargeError, put_events
from event_pipeline_runtime.producer import MAX_RECORD_BYTES_ENV

MIB = 1024 * 1024


class Exploding:
    """A client that fails the test if any call is made."""

    def put_records(self, **_: Any) -> dict[str, Any]:
        raise AssertionError("no call may be made")


class Accepting:
    """A client that checks a 4 MiB stream's limits and accepts everything."""

    def __init__(self, max_record: int) -> None:
        self.max_record = max_record
        self.requests: list[list[int]] = []

    def put_records(self, *, Records: list[dict[str, Any]], **_: Any) -> dict[str, Any]:  # noqa: N803
        sizes = [len(r["Data"]) + len(r["PartitionKey"].encode()) for r in Records]
        assert all(size <= self.max_record for size in sizes)
        assert sum(sizes) <= 10 * MIB
        self.requests.append(sizes)
        return {"FailedRecordCount": 0, "Records": [{"SequenceNumber": "1", "ShardId": "s"} for _ in Records]}


def test_the_record_limit_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(MAX_RECORD_BYTES_ENV, str(4 * MIB))
    producer = EventProducer("s", client=Exploding())
    assert producer.max_record_bytes == 4 * MIB
    assert producer.max_request_bytes == 5 * MIB  # the 5 MiB default still holds a 4 MiB record
    producer.put(b"x" * (4 * MIB - 1), "k")  # data + the 1-byte key: exactly the limit
    with pytest.raises(RecordTooLargeError) as error:
        producer.put(b"x" * (4 * MIB), "k")
    assert (error.value.size, error.value.limit) == (4 * MIB + 1, 4 * MIB)
    assert producer.pending == 1  # the refused record was never buffered


def test_a_limit_above_5_mib_raises_the_request_budget_with_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(MAX_RECORD_BYTES_ENV, str(8 * MIB))
    client = Accepting(8 * MIB)
    result = put_events("s", [("a", b"x" * (7 * MIB)), ("b", b"y" * (2 * MIB))], client=client)
    assert result.records == 2
    assert EventProducer("s", client=client).max_request_bytes == 8 * MIB


def test_an_explicit_argument_wins_over_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(MAX_RECORD_BYTES_ENV, str(10 * MIB))
    producer = EventProducer("s", client=Exploding(), max_record_bytes=MIB)
    with pytest.raises(RecordTooLargeError):
        producer.put(b"x" * MIB, "k")


def test_without_the_variable_the_limit_is_1_mib(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(MAX_RECORD_BYTES_ENV, raising=False)
    assert EventProducer("s", client=Exploding()).max_record_bytes == MIB
    monkeypatch.setenv(MAX_RECORD_BYTES_ENV, " ")
    assert EventProducer("s", client=Exploding()).max_record_bytes == MIB


@pytest.mark.parametrize("value", ["4MiB", "-5", "0", str(10 * MIB + 1), "1e6"])
def test_an_invalid_limit_is_refused_naming_the_variable(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv(MAX_RECORD_BYTES_ENV, value)
    with pytest.raises(ValueError, match=f"environment variable {MAX_RECORD_BYTES_ENV} must be an integer from 1 "
                                         f"to {10 * MIB}"):
        EventProducer("s", client=Exploding())
    with pytest.raises(ValueError, match=MAX_RECORD_BYTES_ENV):
        put_events("s", [("a", {"n": 1})], client=Exploding())
    EventProducer("s", client=Exploding(), max_record_bytes=MIB)  # an explicit argument: not read

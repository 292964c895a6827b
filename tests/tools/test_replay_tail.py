"""replay and tail end to end against the moto server, and the CLI's error handling."""

from __future__ import annotations

import base64
import gzip
import importlib
import json
import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from tools_test_helpers import arrivals, read_stream

from cdk_event_pipeline.tools.kinesis import ShardInfo, parent_first
from cdk_event_pipeline.tools.records import SourceRecord, parse_time
from cdk_event_pipeline.tools.targets import first_failed_index, function_error_detail
from event_pipeline_runtime import aggregate_records, encode_payload, make_envelope


def _before() -> str:
    return (datetime.now(UTC) - timedelta(seconds=5)).isoformat()


def test_replay_across_a_split_keeps_per_shard_and_per_key_order(
    run, make_stream, put, kinesis, recording_handler
):
    make_stream("source", 1)
    start = _before()
    before = put("source", [(f"k{i % 4}", f"a{i}".encode()) for i in range(20)])
    kinesis.update_shard_count(StreamName="source", TargetShardCount=2,
                               ScalingType="UNIFORM_SCALING")
    after = put("source", [(f"k{i % 4}", f"b{i}".encode()) for i in range(20)])
    shards = kinesis.list_shards(StreamName="source")["Shards"]
    assert len(shards) == 3 and sum("ParentShardId" in s for s in shards) == 2
    spec, _ = recording_handler

    result = run("replay", "--stream", "source", "--from", start, "--to-handler", spec,
                 "--batch-size", "7", "--json")

    assert result.code == 0, result.out + result.err
    received = importlib.import_module(spec.split(":")[0]).RECEIVED
    datas = [base64.b64decode(r["kinesis"]["data"]) for r in received]
    assert sorted(datas) == sorted(p.data for p in before + after)  # each exactly once
    for key in {p.partition_key for p in before}:
        got = [d for r, d in zip(received, datas, strict=True)
               if r["kinesis"]["partitionKey"] == key]
        assert got == [p.data for p in before + after if p.partition_key == key]
    by_shard: dict[str, list[int]] = {}
    for r in received:
        shard, seq = r["eventID"].rsplit(":", 1)
        by_shard.setdefault(shard, []).append(int(seq))
    assert all(seqs == sorted(seqs) for seqs in by_shard.values())
    assert result.of_type("summary")[0]["records"] == 40


def test_replay_reads_parents_before_the_merged_child(run, make_stream, put, kinesis):
    make_stream("source", 2)
    start = _before()
    put("source", [(f"k{i}", f"a{i}".encode()) for i in range(10)])
    kinesis.update_shard_count(StreamName="source", TargetShardCount=1,
                               ScalingType="UNIFORM_SCALING")
    put("source", [(f"k{i}", f"b{i}".encode()) for i in range(10)])
    shards = kinesis.list_shards(StreamName="source")["Shards"]
    child = next(s["ShardId"] for s in shards if "AdjacentParentShardId" in s)

    result = run("replay", "--stream", "source", "--from", start, "--print", "--json")

    assert result.code == 0, result.err
    order = [line["shardId"] for line in result.of_type("record")]
    assert child in order
    first_child = order.index(child)
    assert all(shard == child for shard in order[first_child:])
    assert set(order[:first_child]) == {s["ShardId"] for s in shards} - {child}


def test_replay_window_and_target_stream(run, make_stream, put, kinesis):
    """The window is chosen from the records' own ApproximateArrivalTimestamp (milliseconds),
    not from sleeps: every record that arrived in the millisecond of the early one, or of the
    late one, is outside it; everything between is inside."""
    make_stream("source", 2)
    make_stream("target", 1)
    early = put("source", [("early", b"too early")])
    window: list[Any] = []
    deadline = time.monotonic() + 60
    while True:  # until the window spans 3 milliseconds after the early record's
        window += put("source", [(f"k{len(window) % 3}", f"w{len(window)}".encode())])
        arrived = arrivals(kinesis, "source")
        after = {arrived[(p.shard_id, p.sequence_number)] for p in window} - {
            arrived[(early[0].shard_id, early[0].sequence_number)]}
        if len(window) >= 12 and len(after) >= 3:
            break
        assert time.monotonic() < deadline, "arrival times never moved on"
    late = put("source", [("late", b"too late")])
    arrived = arrivals(kinesis, "source")
    at = {p: arrived[(p.shard_id, p.sequence_number)] for p in early + window + late}
    inside = [p for p in window if at[early[0]] < at[p] < at[late[0]]]
    start, end = min(at[p] for p in inside), max(at[p] for p in inside)
    assert len(inside) >= 2 and start < end

    result = run("replay", "--stream", "source", "--from", start.isoformat(),
                 "--to", end.isoformat(), "--to-stream", "target")

    assert result.code == 0, result.err
    delivered = read_stream(kinesis, "target")
    assert [(k, d) for _, k, d in delivered] == [
        (p.partition_key, p.data)
        for p in sorted(inside, key=lambda p: (p.shard_id, int(p.sequence_number)))]


def test_replay_stops_at_the_first_refused_batch(run, make_stream, put, recording_handler):
    make_stream("source", 1)
    start = _before()
    put("source", [("k", f"e{i}".encode()) for i in range(6)])
    spec, _ = recording_handler
    importlib.import_module(spec.split(":")[0]).FAIL_SEQUENCES.add("4")

    result = run("replay", "--stream", "source", "--from", start, "--to-handler", spec,
                 "--batch-size", "2", "--json")

    assert result.code == 1
    summary = result.of_type("summary")[0]
    assert summary["status"] == "stopped"
    assert summary["records"] == 3
    assert summary["stoppedAt"]["sequenceNumber"] == "4"


def test_tail_prints_records_decoded(run, make_stream, put):
    make_stream("events", 2)
    envelope = make_envelope("order.created", {"id": 1})
    put("events", [
        ("a", encode_payload(envelope)),
        ("b", gzip.compress(json.dumps({"plain": True}).encode())),
        ("c", aggregate_records([("c", encode_payload({"n": 1})), ("c", encode_payload({"n": 2}))])),
        ("d", b"\xff\xfe not json"),
    ])

    result = run("tail", "--stream", "events", "--from-start", "--max-records", "5",
                 "--timeout", "10", "--json")

    assert result.code == 0, result.err
    records = result.of_type("record")
    by_key: dict[str, list[dict[str, Any]]] = {}
    for record in records:
        by_key.setdefault(record["partitionKey"], []).append(record)
    assert by_key["a"][0]["envelope"]["type"] == "order.created"
    assert by_key["a"][0]["body"]["data"] == {"id": 1}
    assert by_key["b"][0]["body"] == {"plain": True}
    assert [r["body"] for r in by_key["c"]] == [{"n": 1}, {"n": 2}]
    assert [r["subSequenceNumber"] for r in by_key["c"]] == [0, 1]
    assert base64.b64decode(by_key["d"][0]["data"]) == b"\xff\xfe not json"
    assert "decodeError" in by_key["d"][0]

    human = run("tail", "--stream", "events", "--from-start", "--max-records", "5",
                "--timeout", "10")
    assert "order.created" in human.out and "base64=" in human.out


def test_tail_follows_new_records_until_max_records(run, make_stream, kinesis, tool_hooks):
    """Issue 9, finding 9: the producer used to sleep 0.6 s and hope the tail held its LATEST
    iterators by then; on a busy machine it did not, and the records were never seen. Now the
    producer writes only once the tail has got an iterator for each shard, observed through a
    botocore event hook on the tail's own session."""
    make_stream("events", 2)
    kinesis.put_record(StreamName="events", PartitionKey="old", Data=b'{"old": true}')
    iterators: list[str] = []  # iterator types asked for, then one "ready" per answer
    ready = threading.Event()

    def asked(params: dict[str, Any], **_: Any) -> None:
        iterators.append(params["ShardIteratorType"])

    def answered(**_: Any) -> None:
        iterators.append("ready")
        if iterators.count("ready") == 2:
            ready.set()

    tool_hooks("provide-client-params.kinesis.GetShardIterator", asked)
    tool_hooks("after-call.kinesis.GetShardIterator", answered)
    problems: list[str] = []

    def produce() -> None:
        if not ready.wait(timeout=120):
            problems.append("the tail never got its shard iterators")
            return
        client = boto3.client("kinesis")
        for i in range(3):
            client.put_record(StreamName="events", PartitionKey=f"k{i}", Data=json.dumps({"i": i}))

    producer = threading.Thread(target=produce)
    producer.start()
    try:
        result = run("tail", "--stream", "events", "--max-records", "3", "--timeout", "120",
                     "--poll-interval", "0.1", "--json")
    finally:
        ready.set()  # never leave the producer waiting if the tail failed early
        producer.join()

    assert problems == []
    assert iterators[:4] == ["LATEST", "ready", "LATEST", "ready"]
    assert result.code == 0, result.err
    assert sorted(r["body"]["i"] for r in result.of_type("record")) == [0, 1, 2]


def test_tail_prints_hostile_records_one_line_each(run, make_stream, put):
    """JSON data holding a lone surrogate, line breaks in keys and data, junk bytes: one line
    per record, in both modes, never an encoding error."""
    make_stream("events", 1)
    put("events", [
        ("surrogate", b'{"text": "\\udcff"}'),
        ("line\nbreak", b'{"text": "a\\nb\\u2028c"}'),
        ("junk", b"\x00\xff\n\r"),
    ])

    for mode in (["--json"], []):
        result = run("tail", "--stream", "events", "--from-start", "--max-records", "3",
                     "--timeout", "60", *mode)
        assert result.code == 0, result.err
        assert len(result.out.split("\n")) == 4, result.out  # 3 lines and the final newline
        result.out.encode("utf-8")  # printable as UTF-8
    records = run("tail", "--stream", "events", "--from-start", "--max-records", "3",
                  "--timeout", "60", "--json").of_type("record")
    assert records[0]["body"] == {"text": "\udcff"}
    assert records[1]["partitionKey"] == "line\nbreak"
    assert "decodeError" in records[2]


def test_tail_timeout_with_nothing_new(run, make_stream):
    make_stream("quiet", 1)
    began = time.monotonic()
    result = run("tail", "--stream", "quiet", "--timeout", "0.5", "--poll-interval", "0.1")
    assert result.code == 0
    assert result.out == ""
    assert time.monotonic() - began < 60  # a safety net against "never stops", not a timing


@pytest.mark.parametrize(
    ("argv", "code", "text"),
    [
        (["replay", "--stream", "missing", "--from", "1h", "--print"], 4, "stream 'missing'"),
        (["tail", "--stream", "missing", "--timeout", "1"], 4, "stream 'missing'"),
        (["replay", "--stream", "s", "--from", "yesterday", "--print"], 2, "not a time"),
        (["replay", "--stream", "s", "--from", "1h", "--to", "2h", "--print"], 2, "before"),
        (["replay", "--stream", "s", "--from", "1h"], 2, "one of the arguments"),
        (["replay", "--stream", "s", "--from", "1h", "--to-stream", "missing"], 4, "missing"),
        (["replay", "--stream", "s", "--from", "1h", "--print", "--batch-size", "0"], 2,
         "--batch-size"),
    ],
)
def test_cli_errors_have_distinct_exit_codes(run, make_stream, argv, code, text):
    make_stream("s", 1)
    result = run(*argv)
    assert result.code == code
    assert text in result.err
    assert "Traceback" not in result.err


def test_no_credentials_exit_5(run, make_stream, monkeypatch, tmp_path):
    make_stream("s", 1)
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    result = run("tail", "--stream", "s", "--timeout", "1", "--json")
    assert result.code == 5
    assert "credentials" in result.err
    assert result.of_type("error")[0]["exitCode"] == 5


def test_unreachable_endpoint_exit_6(run, monkeypatch):
    monkeypatch.setattr("cdk_event_pipeline.tools._aws.CLIENT_CONFIG",
                        boto3.session.Config(retries={"max_attempts": 1}, connect_timeout=1))
    result = run("tail", "--stream", "s", "--timeout", "1", "--endpoint-url",
                 "http://127.0.0.1:9")
    assert result.code == 6
    assert "cannot reach" in result.err


def test_help_documents_exit_codes(run):
    result = run("--help")
    assert result.code == 0
    assert "exit codes" in result.out and "past retention" in result.out


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-05-01T12:00:00Z", datetime(2024, 5, 1, 12, tzinfo=UTC)),
        ("2024-05-01T14:00:00+02:00", datetime(2024, 5, 1, 12, tzinfo=UTC)),
        ("2024-05-01T12:00:00", datetime(2024, 5, 1, 12, tzinfo=UTC)),
        ("1714564800", datetime(2024, 5, 1, 12, tzinfo=UTC)),
        ("2h", datetime(2024, 5, 1, 10, tzinfo=UTC)),
        ("-90s", datetime(2024, 5, 1, 11, 58, 30, tzinfo=UTC)),
    ],
)
def test_parse_time(text, expected):
    assert parse_time(text, now=datetime(2024, 5, 1, 12, tzinfo=UTC)) == expected


def test_parent_first_orders_splits_and_merges():
    shards = [
        ShardInfo("c", ("a", "b")),
        ShardInfo("a", ("gone",), ending_sequence=5),
        ShardInfo("d", ("c",)),
        ShardInfo("b", (), ending_sequence=3),
    ]
    assert [s.shard_id for s in parent_first(shards)] == ["a", "b", "c", "d"]


def test_first_failed_index_follows_lambda_rules():
    records = [SourceRecord("kinesis", "arn", "s", str(n), "k", b"") for n in (1, 2, 3)]
    assert first_failed_index({"batchItemFailures": []}, records) is None
    assert first_failed_index(None, records) is None
    assert first_failed_index({"batchItemFailures": [{"itemIdentifier": "3"},
                                                     {"itemIdentifier": "2"}]}, records) == 1
    assert first_failed_index({"batchItemFailures": [{"itemIdentifier": ""}]}, records) == 0
    assert first_failed_index({"batchItemFailures": [{"itemIdentifier": "9"}]}, records) == 0


def test_a_function_error_is_reported_as_text():
    """A failed Invoke's detail is its errorMessage, or its payload as text (never b'...')."""
    assert function_error_detail({"errorMessage": "boom", "errorType": "ValueError"}, b"{}") == "boom"
    assert function_error_detail(None, b"Task timed out\xff" + b"x" * 300) == "Task timed out\ufffd" + "x" * 185
    assert function_error_detail({"errorType": "Runtime.ExitError"}, b'{"errorType": "Runtime.ExitError"}') == (
        '{"errorType": "Runtime.ExitError"}'
    )


def test_progress_bars_only_on_a_terminal_and_never_with_json():
    import io

    from cdk_event_pipeline.tools.output import Output

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    for json_mode, tty, shown in [(False, True, True), (True, True, False), (False, False, False)]:
        err = Terminal() if tty else io.StringIO()
        output = Output(json_mode=json_mode, stdout=io.StringIO(), stderr=err)
        with output.bar("replay", "rec") as bar:
            bar.update(5)
        assert ("replay:" in err.getvalue()) is shown, err.getvalue()

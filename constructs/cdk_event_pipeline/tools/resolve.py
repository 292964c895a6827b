"""Resolve a failed batch to its source records, and check they are exactly the batch.

A ``payload`` (S3 destinations) is compared with its batch info; a metadata-only message has
its records read back from the stream (AT_SEQUENCE_NUMBER from ``startSequenceNumber`` up to
``endSequenceNumber``, compared as integers within the shard), Kinesis or DynamoDB Streams.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Literal

from botocore.exceptions import BotoCoreError, ClientError

from ._aws import Aws, aws_errors, error_code
from .errors import ExitCode, ToolError
from .kinesis import GET_RECORDS_LIMIT, ShardCursor, ShardInfo
from .onfailure import KINESIS_ARN, FailedBatch
from .records import SourceRecord, short

#: Records per DynamoDB Streams GetRecords call (the API maximum):
#: https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_streams_GetRecords.html (Limit).
DDB_GET_RECORDS_LIMIT = 1000
#: Consecutive empty DynamoDB Streams pages after which the range is taken as exhausted.
DDB_EMPTY_PAGES = 3
#: Pages read from TRIM_HORIZON, at most, to find a shard's oldest record (Kinesis may return
#: empty pages before the first record).
TRIM_HORIZON_MAX_PAGES = 50


@dataclass
class Fetched:
    """The records to deliver for a failed batch, and whether they are exactly the batch.

    Attributes:
        records: The records, in shard order.
        status: None when they are exactly the batch; ``expired`` when (some of) the batch is
            gone from the stream; ``incomplete`` when they are not the batch named.
        missing: Records of the batch not found (``expired``).
        reason: Why, for the report.
        trimmed: The missing records are proven trimmed (the oldest ones, before the shard's
            trim horizon), so ``--allow-partial`` may deliver the rest.
    """

    records: list[SourceRecord]
    status: Literal["expired", "incomplete"] | None = None
    missing: int = 0
    reason: str | None = None
    trimmed: bool = False


def _order_problem(records: list[SourceRecord], batch: FailedBatch, origin: str) -> str | None:
    """Why records are not a run of the batch's stream and shard in increasing order."""
    previous = -1
    for index, record in enumerate(records):
        arn_ok = record.stream_arn == batch.stream_arn or record.stream_arn.startswith(
            batch.stream_arn + "/consumer/")
        if not arn_ok:
            return f"{origin} record {index} is from {short(record.stream_arn)}, not the batch's stream"
        if record.shard_id != batch.shard_id:
            return f"{origin} record {index} is from shard {short(record.shard_id)}, not {batch.shard_id}"
        if record.seq <= previous:
            return f"{origin} records are not in increasing sequence order at record {index}"
        if not batch.start <= record.seq <= batch.end:
            return f"{origin} record {index} ({record.seq}) is outside [{batch.start}..{batch.end}]"
        previous = record.seq
    return None


def check_payload(batch: FailedBatch) -> Fetched:
    """Compare a message's ``payload`` with its batch info: anything but an exact match is
    ``incomplete`` (never deletable, not even with ``--allow-partial``)."""
    assert batch.has_payload
    if batch.payload_error is not None or batch.records is None:
        return Fetched([], "incomplete", reason=batch.payload_error)
    records = batch.records
    problem = _order_problem(records, batch, "payload")
    if problem is None and len(records) != batch.batch_size:
        problem = f"the payload holds {len(records)} of the batch's {batch.batch_size} records"
    if problem is None and (records[0].seq != batch.start or records[-1].seq != batch.end):
        problem = (f"the payload runs [{records[0].seq}..{records[-1].seq}], the batch "
                   f"[{batch.start}..{batch.end}]")
    if problem:
        return Fetched(records, "incomplete", reason=problem)
    return Fetched(records)


def _nothing_found(batch: FailedBatch, oldest: Callable[[], int | None] | None) -> Fetched:
    """No record of the range is in the shard: trimmed, unless the shard still starts before
    the range's end (then the range never held these records: the metadata is wrong)."""
    gone = "no records left in the sequence range"
    if oldest is None:
        return Fetched([], "expired", batch.batch_size, f"{gone} (past the stream's retention?)")
    try:
        horizon = oldest()
    except (ToolError, ClientError, BotoCoreError) as exc:
        return Fetched([], "expired", batch.batch_size, f"{gone}; the shard's oldest record "
                       f"could not be read: {exc}")
    if horizon is None or horizon > batch.end:
        return Fetched([], "expired", batch.batch_size, f"{gone}: trimmed (past the stream's "
                       "retention)", trimmed=True)
    return Fetched([], "incomplete", reason=f"no record in [{batch.start}..{batch.end}] although "
                   f"the shard still starts at {horizon}")


def check_range(records: list[SourceRecord], batch: FailedBatch,
                oldest: Callable[[], int | None] | None = None) -> Fetched:
    """Classify the records read back from the stream for a batch.

    Args:
        records: What was read in ``[start, end]`` of the shard, in order.
        batch: The batch.
        oldest: Returns the shard's oldest sequence number (None when the shard holds no
            record), to prove that missing leading records were trimmed; None: never proven.

    Returns:
        Exact, ``expired`` (nothing left, or the oldest records trimmed) or ``incomplete``.
    """
    if not records:
        return _nothing_found(batch, oldest)
    problem = _order_problem(records, batch, "stream")
    if problem:
        return Fetched(records, "incomplete", reason=problem)
    first, last, count = records[0].seq, records[-1].seq, len(records)
    if last != batch.end:
        return Fetched(records, "incomplete", reason=f"the batch's last record {batch.end} is "
                       f"not in the shard (read up to {last})")
    if first == batch.start:
        if count != batch.batch_size:
            return Fetched(records, "incomplete", reason=f"the shard holds {count} records in "
                           f"[{batch.start}..{batch.end}], the batch names {batch.batch_size}")
        return Fetched(records)
    if count >= batch.batch_size:
        return Fetched(records, "incomplete", reason=f"the batch's first record {batch.start} "
                       f"is missing but {count} records were found for a batch of "
                       f"{batch.batch_size}")
    missing = batch.batch_size - count
    if oldest is None:
        return Fetched(records, "expired", missing, f"the batch's first {missing} record(s) "
                       "are missing")
    try:
        horizon = oldest()
    except (ToolError, ClientError, BotoCoreError) as exc:
        return Fetched(records, "expired", missing, f"the batch's first {missing} record(s) "
                       f"are missing; the shard's oldest record could not be read: {exc}")
    if horizon is None or horizon >= first:
        return Fetched(records, "expired", missing, f"the batch's first {missing} record(s) "
                       "were trimmed (past the stream's retention)", trimmed=True)
    return Fetched(records, "incomplete", reason=f"records {batch.start}..{first - 1} are "
                   f"missing although the shard still starts at {horizon}")


def _kinesis_cursor(aws: Aws, batch: FailedBatch, kind: str, sequence: str | None = None,
                    limit: int | None = None) -> ShardCursor:
    match = KINESIS_ARN.fullmatch(batch.stream_arn)
    assert match is not None  # checked when the message was parsed
    name, region = match.group(1), batch.stream_arn.split(":")[3]
    cursor = ShardCursor(aws.client("kinesis", region or None), name, batch.stream_arn,
                         ShardInfo(batch.shard_id), kind, sequence_number=sequence)
    if limit is not None:
        cursor.limit = limit
    return cursor


def _kinesis_oldest(aws: Aws, batch: FailedBatch) -> int | None:
    """The shard's oldest sequence number (TRIM_HORIZON), None when it holds no record."""
    cursor = _kinesis_cursor(aws, batch, "TRIM_HORIZON", limit=1)
    for _ in range(TRIM_HORIZON_MAX_PAGES):
        page, caught_up = cursor.poll()
        if page:
            return page[0].seq
        if caught_up or cursor.finished:
            return None
    raise ToolError("no record within the first pages from TRIM_HORIZON",
                    ExitCode.NOT_DELIVERED)


def fetch_kinesis(aws: Aws, batch: FailedBatch) -> Fetched:
    """Read a Kinesis batch back from its stream and check it against the batch info.

    Args:
        aws: Clients.
        batch: The failed batch.

    Returns:
        The records in ``[startSequenceNumber, endSequenceNumber]`` of the shard, classified.
    """
    start, end = batch.start, batch.end
    records: list[SourceRecord] = []
    try:
        # One page normally holds the whole batch and the record after it (which ends the read):
        # a page of GetRecords' maximum for a batch of 1 would cost the shard's read throughput.
        limit = min(GET_RECORDS_LIMIT, max(1, batch.batch_size + 1))
        cursor = _kinesis_cursor(aws, batch, "AT_SEQUENCE_NUMBER", str(start), limit=limit)
        try:
            page, caught_up = cursor.poll()
        except ClientError as exc:  # a sequence number before the trim horizon may be refused
            if error_code(exc) != "InvalidArgumentException":
                raise
            cursor = _kinesis_cursor(aws, batch, "TRIM_HORIZON")
            page, caught_up = cursor.poll()
        while True:
            past_end = False
            for record in page:
                if record.seq > end:
                    past_end = True
                    break
                if record.seq >= start:
                    records.append(record)
            if past_end or caught_up or cursor.finished:
                break
            page, caught_up = cursor.poll()
    except ToolError as exc:
        if exc.exit_code != ExitCode.NOT_FOUND:
            raise
        return Fetched([], "expired", batch.batch_size, exc.message)
    return check_range(records, batch, lambda: _kinesis_oldest(aws, batch))


def _ddb_pages(client: Any, batch: FailedBatch, iterator_type: str, limit: int) -> Iterator[list[dict[str, Any]]]:
    kwargs: dict[str, Any] = {"StreamArn": batch.stream_arn, "ShardId": batch.shard_id,
                              "ShardIteratorType": iterator_type}
    if iterator_type == "AT_SEQUENCE_NUMBER":
        kwargs["SequenceNumber"] = str(batch.start)
    iterator = client.get_shard_iterator(**kwargs).get("ShardIterator")
    empty = 0
    while iterator and empty < DDB_EMPTY_PAGES:
        page = client.get_records(ShardIterator=iterator, Limit=limit)
        raw = page.get("Records", [])
        empty = 0 if raw else empty + 1
        iterator = page.get("NextShardIterator")
        yield raw


def _ddb_record(item: dict[str, Any], batch: FailedBatch) -> SourceRecord:
    created = item["dynamodb"].get("ApproximateCreationDateTime")
    return SourceRecord(source="dynamodb", stream_arn=batch.stream_arn, shard_id=batch.shard_id,
                        sequence_number=str(item["dynamodb"]["SequenceNumber"]), arrival=created,
                        dynamodb=item)


def _dynamodb_oldest(client: Any, batch: FailedBatch) -> int | None:
    for raw in _ddb_pages(client, batch, "TRIM_HORIZON", 1):
        if raw:
            return int(raw[0]["dynamodb"]["SequenceNumber"])
    return None


def fetch_dynamodb(aws: Aws, batch: FailedBatch) -> Fetched:
    """Read a DynamoDB Streams batch back from its stream and check it against the batch info.

    Args:
        aws: Clients.
        batch: The failed batch.

    Returns:
        The records in ``[startSequenceNumber, endSequenceNumber]`` of the shard, classified.
    """
    arn = batch.stream_arn
    client = aws.client("dynamodbstreams", arn.split(":")[3] or None)
    records: list[SourceRecord] = []
    what = f"DynamoDB stream {arn}"

    def oldest() -> int | None:
        with aws_errors(what):
            return _dynamodb_oldest(client, batch)

    try:
        with aws_errors(what):
            for raw in _ddb_pages(client, batch, "AT_SEQUENCE_NUMBER", DDB_GET_RECORDS_LIMIT):
                past_end = False
                for item in raw:
                    record = _ddb_record(item, batch)
                    if record.seq > batch.end:
                        past_end = True
                        break
                    if record.seq >= batch.start:
                        records.append(record)
                if past_end:
                    break
    except ToolError as exc:
        if exc.exit_code != ExitCode.NOT_FOUND:
            raise
        return Fetched([], "expired", batch.batch_size, exc.message)
    except ClientError as exc:
        if error_code(exc) not in {"TrimmedDataAccessException", "ValidationException"}:
            raise
        return Fetched([], "expired", batch.batch_size, f"records unavailable: {exc}")
    return check_range(records, batch, oldest)


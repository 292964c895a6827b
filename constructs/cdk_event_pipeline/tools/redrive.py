"""``redrive``: re-deliver the records behind Lambda on-failure destination messages.

Lambda's on-failure record for a Kinesis or DynamoDB Streams event source mapping holds only
metadata when it goes to SQS or SNS (``KinesisBatchInfo`` / ``DDBStreamBatchInfo``: stream ARN,
shard id, first and last sequence number, batch size). An S3 destination object also holds the
original event as an escaped JSON string in ``payload``
(https://docs.aws.amazon.com/lambda/latest/dg/kinesis-on-failure-destination.html). For
metadata-only messages the records are read back from the stream (AT_SEQUENCE_NUMBER from
``startSequenceNumber`` up to ``endSequenceNumber``, compared as integers within the shard).

A message (or S3 object) is deleted only when the records delivered are exactly the batch its
metadata names: ``batchSize`` records, the first one ``startSequenceNumber``, the last one
``endSequenceNumber``, all from its stream and shard, in increasing order. Every message is
checked on its own and ends in one reported outcome:

* ``redriven``: delivered exactly, then deleted (``would-redrive`` with ``--dry-run``);
* ``expired``: the stream no longer holds (some of) the batch; kept (exit code 3);
* ``incomplete``: the records found, or the ``payload`` carried, are not exactly the batch
  named; kept (exit code 7);
* ``malformed``: an on-failure record whose batch info is invalid; kept (exit code 7);
* ``unrecognised``: not an on-failure record at all; kept (exit code 7);
* ``failed``: the target did not take every record, or the source stream could not be read;
  kept (exit code 1).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from botocore.exceptions import BotoCoreError, ClientError

from ._aws import Aws, aws_errors, error_code, translate
from .errors import ExitCode, ToolError
from .kinesis import GET_RECORDS_LIMIT, ShardCursor, ShardInfo
from .output import Output
from .records import SEQUENCE_NUMBER, SourceRecord, record_from_lambda_event, short
from .targets import Target, batches

#: Records per DynamoDB Streams GetRecords call (the API maximum).
DDB_GET_RECORDS_LIMIT = 1000
#: Consecutive empty DynamoDB Streams pages after which the range is taken as exhausted.
DDB_EMPTY_PAGES = 3
#: Pages read from TRIM_HORIZON, at most, to find a shard's oldest record (Kinesis may return
#: empty pages before the first record).
TRIM_HORIZON_MAX_PAGES = 50
#: The largest batch an event source mapping invokes with (Kinesis and DynamoDB Streams).
MAX_BATCH_SIZE = 10_000
#: S3 on-failure objects larger than this are not read (a payload is at most Lambda's 6 MB
#: invocation payload, escaped once more inside the document).
MAX_S3_OBJECT_BYTES = 32 * 1024 * 1024

Status = Literal["redriven", "would-redrive", "expired", "incomplete", "failed", "malformed",
                 "unrecognised"]

_KINESIS_ARN = re.compile(
    r"arn:aws[a-zA-Z-]*:kinesis:[a-z0-9-]{1,32}:[0-9]{12}:stream/([a-zA-Z0-9_.-]{1,128})",
    re.ASCII)
_DYNAMODB_ARN = re.compile(
    r"arn:aws[a-zA-Z-]*:dynamodb:[a-z0-9-]{1,32}:[0-9]{12}:table/[a-zA-Z0-9_.-]{3,255}"
    r"/stream/[a-zA-Z0-9_.:-]{1,64}", re.ASCII)
_SHARD_ID = re.compile(r"[a-zA-Z0-9_.-]{1,128}", re.ASCII)


class MessageError(ValueError):
    """A message that is not a usable on-failure record.

    Args:
        status: ``unrecognised`` (not an on-failure record) or ``malformed`` (its batch info
            is invalid).
        reason: Why, in one line.
    """

    def __init__(self, status: Literal["unrecognised", "malformed"], reason: str) -> None:
        super().__init__(reason)
        self.status: Literal["unrecognised", "malformed"] = status
        self.reason = reason


@dataclass(frozen=True)
class FailedBatch:
    """One on-failure invocation record, its batch info checked.

    Attributes:
        kind: ``kinesis`` or ``dynamodb``.
        info: ``KinesisBatchInfo`` / ``DDBStreamBatchInfo`` as received (for reports).
        stream_arn: The stream's ARN.
        shard_id: The shard.
        start: ``startSequenceNumber``.
        end: ``endSequenceNumber``.
        batch_size: ``batchSize``.
        records: The records from ``payload`` (S3 destinations), else None.
        payload_error: Why a ``payload`` that is present cannot be used, else None.
    """

    kind: Literal["kinesis", "dynamodb"]
    info: dict[str, Any]
    stream_arn: str
    shard_id: str
    start: int
    end: int
    batch_size: int
    records: list[SourceRecord] | None = None
    payload_error: str | None = None

    @property
    def has_payload(self) -> bool:
        """True when the message carried a ``payload`` (usable or not)."""
        return self.records is not None or self.payload_error is not None

    @property
    def sort_key(self) -> tuple[str, str, int]:
        """(stream, shard, first sequence number): the order to redrive in."""
        return (self.stream_arn, self.shard_id, self.start)

    def describe(self) -> str:
        """``kinesis orders shardId-...0 [start..end] (n records)`` for reports."""
        where = self.stream_arn.rsplit("/", 1)[-1] if self.kind == "kinesis" else self.stream_arn
        return (f"{self.kind} {where} {self.shard_id} [{self.start}..{self.end}] "
                f"({self.batch_size} records)")


def _load_json(text: str, what: str) -> Any:
    try:
        return json.loads(text)
    except RecursionError:
        raise ValueError(f"{what} is nested too deeply") from None
    except ValueError as exc:  # JSONDecodeError, or an integer with too many digits
        raise ValueError(f"{what} is not JSON ({exc})") from None


def _batch_info(info: dict[str, Any], kind: Literal["kinesis", "dynamodb"]) -> tuple[str, str, int, int, int]:
    arn = info.get("streamArn")
    pattern = _KINESIS_ARN if kind == "kinesis" else _DYNAMODB_ARN
    if not isinstance(arn, str) or not pattern.fullmatch(arn):
        raise MessageError("malformed", f"streamArn is not a {kind} stream ARN: {short(arn)}")
    shard = info.get("shardId")
    if not isinstance(shard, str) or not _SHARD_ID.fullmatch(shard):
        raise MessageError("malformed", f"shardId is not a shard id: {short(shard)}")
    bounds = []
    for key in ("startSequenceNumber", "endSequenceNumber"):
        value = info.get(key)
        if not isinstance(value, str) or not SEQUENCE_NUMBER.fullmatch(value):
            raise MessageError("malformed", f"{key} is not a sequence number: {short(value)}")
        bounds.append(int(value))
    start, end = bounds
    if start > end:
        raise MessageError("malformed", f"startSequenceNumber {start} is after "
                           f"endSequenceNumber {end}")
    size = info.get("batchSize")
    if isinstance(size, bool) or not isinstance(size, int) or not 1 <= size <= MAX_BATCH_SIZE:
        raise MessageError("malformed", f"batchSize is not an integer between 1 and "
                           f"{MAX_BATCH_SIZE}: {short(size)}")
    if size > end - start + 1:
        raise MessageError("malformed", f"batchSize {size} records cannot fit between "
                           f"sequence numbers {start} and {end}")
    return arn, shard, start, end, size


def _payload_records(payload: Any, kind: str, shard_id: str) -> list[SourceRecord]:
    """The records of a ``payload``; ValueError says why there are none to trust."""
    event = _load_json(payload, "payload") if isinstance(payload, str) else payload
    if not isinstance(event, dict):
        raise ValueError(f"payload is a JSON {type(event).__name__}, not a Lambda event object")
    raw = event.get("Records")
    if not isinstance(raw, list):
        raise ValueError("payload has no Records list")
    records = []
    for index, item in enumerate(raw):
        try:
            record = record_from_lambda_event(item)
        except ValueError as exc:
            raise ValueError(f"payload record {index}: {exc}") from None
        if record.source != kind:
            raise ValueError(f"payload record {index} is a {record.source} record in a {kind} batch")
        if record.source == "dynamodb":  # DynamoDB event records carry no shard id
            record = replace(record, shard_id=shard_id)
        records.append(record)
    return records


def parse_invocation_record(body: str) -> FailedBatch:
    """Parse an on-failure destination document (SQS body, SNS message or S3 object).

    SNS notifications delivered to SQS without raw message delivery are unwrapped. The batch
    info is checked field by field; a ``payload`` that cannot be used is recorded in
    :attr:`FailedBatch.payload_error` (the message is then reported ``incomplete``).

    Args:
        body: The JSON text.

    Returns:
        The failed batch.

    Raises:
        MessageError: Not an on-failure record (``unrecognised``), or one whose batch info is
            invalid (``malformed``).
    """
    try:
        document = _load_json(body, "the message")
        if isinstance(document, dict) and document.get("Type") == "Notification":
            message = document.get("Message")
            if not isinstance(message, str):
                raise ValueError("the SNS notification has no Message string")
            document = _load_json(message, "the SNS Message")
    except ValueError as exc:
        raise MessageError("unrecognised", str(exc)) from None
    if not isinstance(document, dict):
        raise MessageError("unrecognised", f"a JSON {type(document).__name__}, not an object")
    kind: Literal["kinesis", "dynamodb"]
    if "KinesisBatchInfo" in document:
        kind, info = "kinesis", document["KinesisBatchInfo"]
    elif "DDBStreamBatchInfo" in document:
        kind, info = "dynamodb", document["DDBStreamBatchInfo"]
    else:
        raise MessageError("unrecognised", "neither KinesisBatchInfo nor DDBStreamBatchInfo "
                           "in the message")
    if not isinstance(info, dict):
        raise MessageError("malformed", f"the batch info is a JSON {type(info).__name__}, "
                           "not an object")
    arn, shard, start, end, size = _batch_info(info, kind)
    records, payload_error = None, None
    payload = document.get("payload")
    if payload is not None:
        try:
            records = _payload_records(payload, kind, shard)
        except ValueError as exc:
            payload_error = str(exc)
    return FailedBatch(kind=kind, info=info, stream_arn=arn, shard_id=shard, start=start,
                       end=end, batch_size=size, records=records, payload_error=payload_error)


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
    match = _KINESIS_ARN.fullmatch(batch.stream_arn)
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


@dataclass
class Item:
    """One DLQ message or S3 object being redriven."""

    ident: str
    body: str | None
    handle: Any
    batch: FailedBatch | None = None
    error: MessageError | None = None


@dataclass
class Redrive:
    """A redrive run.

    Args:
        aws: Clients.
        output: Printer.
        target: Where records go.
        dry_run: Read and check everything; deliver and delete nothing.
        allow_partial: When the oldest records of a batch are proven trimmed from the stream
            (before the shard's trim horizon), deliver the rest and delete the message (the
            missing records are still reported and the exit code is still 3). Never applies to
            a ``payload`` that disagrees with its batch info, nor to a batch none of whose
            records is left.
    """

    aws: Aws
    output: Output
    target: Target
    dry_run: bool = False
    allow_partial: bool = False
    counts: dict[str, int] = field(default_factory=dict)
    records_delivered: int = 0
    records_missing: int = 0

    def _report(self, item: Item, status: Status, text: str, **fields: Any) -> None:
        self.counts[status] = self.counts.get(status, 0) + 1
        batch = item.batch
        self.output.report(
            "message",
            f"{status:<13} {item.ident} {batch.describe() if batch else ''} {text}".rstrip(),
            id=item.ident,
            status=status,
            kind=batch.kind if batch else None,
            batchInfo=batch.info if batch else None,
            **fields,
        )

    def _fetch(self, batch: FailedBatch) -> Fetched:
        if batch.has_payload:
            return check_payload(batch)
        if batch.kind == "kinesis":
            return fetch_kinesis(self.aws, batch)
        return fetch_dynamodb(self.aws, batch)

    def process(self, item: Item) -> bool:
        """Redrive one item; True when it may be deleted.

        Errors that concern only this item (its stream cannot be read, an unexpected value)
        are reported as its outcome and the run goes on; errors of the target, which every
        item needs, end the run.
        """
        batch = item.batch
        if batch is None:
            error = item.error or MessageError("unrecognised", "no message body")
            self._report(item, error.status, f"kept: {error.reason}", reason=error.reason)
            return False
        try:
            fetched = self._fetch(batch)
        except (ToolError, ClientError, BotoCoreError) as exc:
            tool_error = translate(exc, f"stream {batch.stream_arn}")
            reason = f"cannot read the source stream: {tool_error.message if tool_error else exc}"
            self._report(item, "failed", f"kept: {reason}", reason=reason)
            return False
        return self._deliver(item, batch, fetched)

    def _deliver(self, item: Item, batch: FailedBatch, fetched: Fetched) -> bool:
        records = fetched.records
        if fetched.status == "incomplete":
            self._report(item, "incomplete", f"kept: {fetched.reason}", reason=fetched.reason,
                         found=len(records))
            return False
        if fetched.status == "expired":
            self.records_missing += fetched.missing
            if not (self.allow_partial and fetched.trimmed and records):
                self._report(item, "expired", f"kept: {fetched.missing} record(s) missing: "
                             f"{fetched.reason}", missing=fetched.missing, found=len(records),
                             reason=fetched.reason)
                return False
        reason = self.target.unsupported(records[0]) if records else None
        if reason:
            self._report(item, "failed", f"kept: {reason}", reason=reason)
            return False
        if self.dry_run:
            self._report(item, "would-redrive", f"{len(records)} records to {self.target.name} "
                         "(dry run: nothing delivered or deleted)", records=len(records),
                         missing=fetched.missing)
            return False
        delivered = 0
        for chunk in batches(records, self.target.max_count, self.target.max_bytes):
            outcome = self.target.deliver(chunk)
            delivered += outcome.delivered
            self.records_delivered += outcome.delivered
            if outcome.delivered < len(chunk):
                self._report(item, "failed", f"kept: {delivered} of {len(records)} records "
                             f"delivered: {outcome.error}", records=len(records),
                             delivered=delivered, reason=outcome.error)
                return False
        note = f" ({fetched.missing} missing: {fetched.reason})" if fetched.missing else ""
        self._report(item, "redriven", f"{len(records)} records to {self.target.name}{note}",
                     records=len(records), missing=fetched.missing)
        return True

    def exit_code(self) -> ExitCode:
        """3 when records are gone, else 7 when a message was kept unproven (unrecognised,
        malformed, incomplete), else 1 when anything was not delivered, else 0."""
        if self.records_missing or self.counts.get("expired"):
            return ExitCode.EXPIRED
        if any(self.counts.get(s) for s in ("incomplete", "malformed", "unrecognised")):
            return ExitCode.UNPROVEN
        if self.counts.get("failed"):
            return ExitCode.NOT_DELIVERED
        return ExitCode.OK

    def summary(self, source: str) -> None:
        """Print the totals."""
        parts = ", ".join(f"{n} {status}" for status, n in sorted(self.counts.items()))
        self.output.report(
            "summary",
            f"redrive from {source} to {self.target.name}: {parts or 'no messages'}; "
            f"{self.records_delivered} records delivered, {self.records_missing} missing",
            command="redrive",
            source=source,
            target=self.target.name,
            dryRun=self.dry_run,
            messages=self.counts,
            recordsDelivered=self.records_delivered,
            recordsMissing=self.records_missing,
        )


def _parse_items(items: list[Item]) -> list[Item]:
    for item in items:
        if item.body is None:
            continue
        try:
            item.batch = parse_invocation_record(item.body)
        except MessageError as exc:
            item.error = exc
    # Oldest first within each shard, so per-key order holds across messages.
    return sorted(items, key=lambda i: i.batch.sort_key if i.batch else ("", "", -1))


def _process_all(run: Redrive, items: list[Item], bar: Any, delete: Any) -> set[str]:
    """Process every item on its own; returns the idents deleted."""
    deleted: set[str] = set()
    for item in _parse_items(items):
        if run.process(item):
            delete(item)
            deleted.add(item.ident)
        bar.update(1)
    return deleted


def redrive_sqs(
    run: Redrive,
    *,
    queue_url: str,
    max_messages: int,
    wait_seconds: int,
    visibility_timeout: int,
) -> ExitCode:
    """Redrive the on-failure messages of an SQS queue.

    All messages (up to ``max_messages``) are received first and kept invisible for
    ``visibility_timeout`` seconds, then redriven oldest-first per shard. Redriven messages
    are deleted; the others are made visible again at the end.

    Args:
        run: The run.
        queue_url: The DLQ.
        max_messages: Receive at most this many messages.
        wait_seconds: Long-poll wait per ReceiveMessage; the queue counts as empty after one
            empty receive.
        visibility_timeout: Seconds the received messages stay hidden from other consumers.

    Returns:
        The exit code.
    """
    sqs = run.aws.client("sqs")
    what = f"queue {queue_url}"
    with aws_errors(what):
        attributes = sqs.get_queue_attributes(
            QueueUrl=queue_url, AttributeNames=["ApproximateNumberOfMessages"]
        )["Attributes"]
    run.target.check()
    items: list[Item] = []
    seen: set[str] = set()
    with run.output.bar("receive", "msg", int(attributes.get("ApproximateNumberOfMessages", 0))) as bar:
        while len(items) < max_messages:
            with aws_errors(what):
                messages = sqs.receive_message(
                    QueueUrl=queue_url,
                    MaxNumberOfMessages=min(10, max_messages - len(items)),
                    WaitTimeSeconds=wait_seconds,
                    VisibilityTimeout=visibility_timeout,
                ).get("Messages", [])
            fresh = [m for m in messages if m["MessageId"] not in seen]
            if not fresh:
                break
            for message in fresh:
                seen.add(message["MessageId"])
                items.append(Item(message["MessageId"], message.get("Body"),
                                  message["ReceiptHandle"]))
            bar.update(len(fresh))

    def delete(item: Item) -> None:
        with aws_errors(what):
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=item.handle)

    deleted: set[str] = set()
    try:
        with run.output.bar("redrive", "msg", len(items)) as bar:
            deleted = _process_all(run, items, bar, delete)
    finally:
        # Kept (and, after an error, unprocessed) messages become visible again right away.
        _release(sqs, queue_url, [i for i in items if i.ident not in deleted])
    run.summary(queue_url)
    return run.exit_code()


def _release(sqs: Any, queue_url: str, items: list[Item]) -> None:
    """Make kept messages visible again now (best effort)."""
    for start in range(0, len(items), 10):
        entries = [
            {"Id": str(n), "ReceiptHandle": item.handle, "VisibilityTimeout": 0}
            for n, item in enumerate(items[start : start + 10])
        ]
        try:
            sqs.change_message_visibility_batch(QueueUrl=queue_url, Entries=entries)
        except (ClientError, BotoCoreError):
            pass  # they reappear when the visibility timeout ends anyway


def _s3_objects(s3: Any, bucket: str, prefix: str) -> Iterator[tuple[str, int]]:
    paginator = s3.get_paginator("list_objects_v2")
    for page in paginator.paginate(Bucket=bucket, Prefix=prefix):
        for obj in page.get("Contents", []):
            yield obj["Key"], int(obj.get("Size", 0))


def _read_object(s3: Any, bucket: str, key: str, size: int) -> Item:
    """One S3 object as an item; a problem with this object only becomes its outcome."""
    ident = f"s3://{bucket}/{key}"
    if size > MAX_S3_OBJECT_BYTES:
        return Item(ident, None, key, error=MessageError(
            "unrecognised", f"{size} bytes: larger than any on-failure object "
            f"({MAX_S3_OBJECT_BYTES} bytes at most)"))
    try:
        with aws_errors(f"object {ident}"):
            raw = s3.get_object(Bucket=bucket, Key=key)["Body"].read(MAX_S3_OBJECT_BYTES + 1)
    except ToolError as exc:
        if exc.exit_code != ExitCode.NOT_FOUND:
            raise
        return Item(ident, None, key, error=MessageError("unrecognised", exc.message))
    if len(raw) > MAX_S3_OBJECT_BYTES:
        return Item(ident, None, key, error=MessageError(
            "unrecognised", f"larger than any on-failure object ({MAX_S3_OBJECT_BYTES} bytes)"))
    try:
        return Item(ident, raw.decode("utf-8"), key)
    except UnicodeDecodeError as exc:
        return Item(ident, None, key, error=MessageError("unrecognised", f"not UTF-8 text ({exc})"))


def redrive_s3(run: Redrive, *, uri: str, max_messages: int) -> ExitCode:
    """Redrive the on-failure objects under an S3 prefix (``s3://bucket/prefix``).

    Each object's ``payload`` holds the original records and must match its batch info
    exactly; the stream is read only when there is no payload. Redriven objects are deleted.

    Args:
        run: The run.
        uri: ``s3://bucket`` or ``s3://bucket/aws/lambda/<ESM-UUID>/``.
        max_messages: Process at most this many objects.

    Returns:
        The exit code.
    """
    if not uri.startswith("s3://"):
        raise ToolError(f"--s3-uri must look like s3://bucket/prefix (given {short(uri)})",
                        ExitCode.USAGE)
    bucket, _, prefix = uri[len("s3://"):].partition("/")
    s3 = run.aws.client("s3")
    what = f"bucket '{bucket}'"
    with aws_errors(what):
        keys = []
        for key, size in _s3_objects(s3, bucket, prefix):
            keys.append((key, size))
            if len(keys) >= max_messages:
                break
    run.target.check()
    items = [_read_object(s3, bucket, key, size) for key, size in keys]

    def delete(item: Item) -> None:
        with aws_errors(what):
            s3.delete_object(Bucket=bucket, Key=item.handle)

    with run.output.bar("redrive", "obj", len(items)) as bar:
        _process_all(run, items, bar, delete)
    run.summary(uri)
    return run.exit_code()

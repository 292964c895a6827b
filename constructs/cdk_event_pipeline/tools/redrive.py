"""``redrive``: re-deliver the records behind Lambda on-failure destination messages.

Lambda's on-failure record for a Kinesis or DynamoDB Streams event source mapping holds only
metadata when it goes to SQS or SNS (``KinesisBatchInfo`` / ``DDBStreamBatchInfo``: stream ARN,
shard id, first and last sequence number, batch size). An S3 destination object also holds the
original event as an escaped JSON string in ``payload``. For metadata-only messages the
records are read back from the stream (AT_SEQUENCE_NUMBER from ``startSequenceNumber`` up to
``endSequenceNumber``, compared as integers within the shard).

A message (or S3 object) is deleted only after every one of its records was delivered. One
whose records are no longer in the stream is kept and reported as expired.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

from botocore.exceptions import ClientError

from ._aws import Aws, aws_errors, error_code, parse_arn
from .errors import ExitCode, ToolError
from .kinesis import ShardCursor, ShardInfo
from .output import Output
from .records import SourceRecord, record_from_lambda_event
from .targets import Target, batches

#: Records per DynamoDB Streams GetRecords call (the API maximum).
DDB_GET_RECORDS_LIMIT = 1000
#: Consecutive empty DynamoDB Streams pages after which the range is taken as exhausted.
DDB_EMPTY_PAGES = 3

Status = Literal["redriven", "would-redrive", "expired", "failed", "unrecognised"]


@dataclass(frozen=True)
class FailedBatch:
    """One on-failure invocation record.

    Attributes:
        kind: ``kinesis`` or ``dynamodb``.
        info: ``KinesisBatchInfo`` / ``DDBStreamBatchInfo``.
        records: The records from ``payload`` (S3 destinations), else None.
    """

    kind: Literal["kinesis", "dynamodb"]
    info: dict[str, Any]
    records: list[SourceRecord] | None = None

    @property
    def sort_key(self) -> tuple[str, str, int]:
        """(stream, shard, first sequence number): the order to redrive in."""
        try:
            start = int(self.info.get("startSequenceNumber", 0))
        except (TypeError, ValueError):
            start = 0
        return (str(self.info.get("streamArn", "")), str(self.info.get("shardId", "")), start)

    def describe(self) -> str:
        """``kinesis orders shardId-...0 [start..end] (n records)`` for reports."""
        arn = str(self.info.get("streamArn", "?"))
        return (
            f"{self.kind} {arn.rsplit('/', 1)[-1] if self.kind == 'kinesis' else arn} "
            f"{self.info.get('shardId')} [{self.info.get('startSequenceNumber')}.."
            f"{self.info.get('endSequenceNumber')}] ({self.info.get('batchSize')} records)"
        )


def parse_invocation_record(body: str) -> FailedBatch:
    """Parse an on-failure destination document (SQS body, SNS message or S3 object).

    SNS notifications delivered to SQS without raw message delivery are unwrapped.

    Args:
        body: The JSON text.

    Returns:
        The failed batch.

    Raises:
        ValueError: Not a Kinesis or DynamoDB Streams on-failure record.
    """
    document = json.loads(body)
    if isinstance(document, dict) and document.get("Type") == "Notification":
        document = json.loads(document.get("Message", ""))
    if not isinstance(document, dict):
        raise ValueError("not a JSON object")
    kind: Literal["kinesis", "dynamodb"]
    if isinstance(document.get("KinesisBatchInfo"), dict):
        kind, info = "kinesis", document["KinesisBatchInfo"]
    elif isinstance(document.get("DDBStreamBatchInfo"), dict):
        kind, info = "dynamodb", document["DDBStreamBatchInfo"]
    else:
        raise ValueError("neither KinesisBatchInfo nor DDBStreamBatchInfo in the message")
    for key in ("streamArn", "shardId", "startSequenceNumber", "endSequenceNumber"):
        if not info.get(key):
            raise ValueError(f"{key} missing from the batch info")
    records = None
    payload = document.get("payload")
    if payload:
        event = json.loads(payload) if isinstance(payload, str) else payload
        records = [record_from_lambda_event(r) for r in event.get("Records", [])]
        for index, record in enumerate(records):
            if record.source == "dynamodb" or not record.shard_id:
                records[index] = dataclasses.replace(
                    record, shard_id=info["shardId"],
                    stream_arn=record.stream_arn or info["streamArn"],
                )
    return FailedBatch(kind=kind, info=info, records=records)


@dataclass
class Fetched:
    """Records read back for a failed batch, and what is missing."""

    records: list[SourceRecord]
    missing: int = 0
    reason: str | None = None


def _check_range(records: list[SourceRecord], info: dict[str, Any]) -> Fetched:
    start, end = int(info["startSequenceNumber"]), int(info["endSequenceNumber"])
    expected = int(info.get("batchSize") or 0)
    if not records:
        return Fetched([], max(expected, 1), "no records left in the sequence range "
                       "(past the stream's retention?)")
    if records[0].seq != start:
        return Fetched(records, max(expected - len(records), 1),
                       f"the range's first record {start} is gone (trimmed: past retention?)")
    if records[-1].seq != end:
        return Fetched(records, max(expected - len(records), 1),
                       f"the range's last record {end} was not found")
    if expected and len(records) < expected:
        return Fetched(records, expected - len(records),
                       f"only {len(records)} of {expected} records found in the range")
    return Fetched(records)


def fetch_kinesis(aws: Aws, info: dict[str, Any]) -> Fetched:
    """Read a Kinesis batch back from its stream.

    Args:
        aws: Clients.
        info: ``KinesisBatchInfo``.

    Returns:
        The records in ``[startSequenceNumber, endSequenceNumber]`` of the shard.
    """
    arn = str(info["streamArn"])
    parts = parse_arn(arn)
    name = parts["resource"].split("/", 1)[1]
    client = aws.client("kinesis", parts["region"] or None)
    start, end = int(info["startSequenceNumber"]), int(info["endSequenceNumber"])
    cursor = ShardCursor(
        client, name, arn, ShardInfo(str(info["shardId"])), "AT_SEQUENCE_NUMBER",
        sequence_number=str(info["startSequenceNumber"]),
    )
    records: list[SourceRecord] = []
    try:
        while True:
            page, caught_up = cursor.poll()
            past_end = False
            for record in page:
                if record.seq > end:
                    past_end = True
                    break
                if record.seq >= start:
                    records.append(record)
            if past_end or caught_up or cursor.finished:
                break
    except ToolError as exc:
        if exc.exit_code != ExitCode.NOT_FOUND:
            raise
        return Fetched([], int(info.get("batchSize") or 1), exc.message)
    except ClientError as exc:
        if error_code(exc) != "InvalidArgumentException":
            raise
        return Fetched([], int(info.get("batchSize") or 1), f"records unavailable: {exc}")
    return _check_range(records, info)


def fetch_dynamodb(aws: Aws, info: dict[str, Any]) -> Fetched:
    """Read a DynamoDB Streams batch back from its stream.

    Args:
        aws: Clients.
        info: ``DDBStreamBatchInfo``.

    Returns:
        The records in ``[startSequenceNumber, endSequenceNumber]`` of the shard.
    """
    arn = str(info["streamArn"])
    client = aws.client("dynamodbstreams", parse_arn(arn)["region"] or None)
    start, end = int(info["startSequenceNumber"]), int(info["endSequenceNumber"])
    records: list[SourceRecord] = []
    try:
        with aws_errors(f"DynamoDB stream {arn}"):
            iterator = client.get_shard_iterator(
                StreamArn=arn, ShardId=info["shardId"],
                ShardIteratorType="AT_SEQUENCE_NUMBER", SequenceNumber=str(start),
            ).get("ShardIterator")
            empty = 0
            while iterator and empty < DDB_EMPTY_PAGES:
                page = client.get_records(ShardIterator=iterator, Limit=DDB_GET_RECORDS_LIMIT)
                raw = page.get("Records", [])
                empty = 0 if raw else empty + 1
                iterator = page.get("NextShardIterator")
                past_end = False
                for item in raw:
                    seq = int(item["dynamodb"]["SequenceNumber"])
                    if seq > end:
                        past_end = True
                        break
                    if seq >= start:
                        created = item["dynamodb"].get("ApproximateCreationDateTime")
                        records.append(SourceRecord(
                            source="dynamodb", stream_arn=arn, shard_id=str(info["shardId"]),
                            sequence_number=str(seq), arrival=created, dynamodb=item,
                        ))
                if past_end:
                    break
    except ToolError as exc:
        if exc.exit_code != ExitCode.NOT_FOUND:
            raise
        return Fetched([], int(info.get("batchSize") or 1), exc.message)
    except ClientError as exc:
        if error_code(exc) not in {"TrimmedDataAccessException", "ValidationException"}:
            raise
        return Fetched([], int(info.get("batchSize") or 1), f"records unavailable: {exc}")
    return _check_range(records, info)


@dataclass
class Item:
    """One DLQ message or S3 object being redriven."""

    ident: str
    body: str
    handle: Any
    batch: FailedBatch | None = None
    parse_error: str | None = None


@dataclass
class Redrive:
    """A redrive run.

    Args:
        aws: Clients.
        output: Printer.
        target: Where records go.
        dry_run: Read and check everything; deliver and delete nothing.
        allow_partial: Deliver what is left of a partly expired batch and delete its message
            (the missing records are still reported and the exit code is still 3).
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

    def process(self, item: Item) -> bool:
        """Redrive one item; True when it may be deleted."""
        batch = item.batch
        if batch is None:
            self._report(item, "unrecognised", f"kept: {item.parse_error}", reason=item.parse_error)
            return False
        if batch.records is not None:
            fetched = Fetched(batch.records)
        elif batch.kind == "kinesis":
            fetched = fetch_kinesis(self.aws, batch.info)
        else:
            fetched = fetch_dynamodb(self.aws, batch.info)
        self.records_missing += fetched.missing
        records = fetched.records
        if fetched.missing and not (self.allow_partial and records):
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
        """3 when records are gone, else 1 when anything was not redriven, else 0."""
        if self.records_missing or self.counts.get("expired"):
            return ExitCode.EXPIRED
        if self.counts.get("failed") or self.counts.get("unrecognised"):
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
        try:
            item.batch = parse_invocation_record(item.body)
        except (ValueError, KeyError, TypeError) as exc:
            item.parse_error = f"not a Lambda on-failure record: {exc}"
    # Oldest first within each shard, so per-key order holds across messages.
    return sorted(items, key=lambda i: i.batch.sort_key if i.batch else ("", "", -1))


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
                items.append(Item(message["MessageId"], message["Body"], message["ReceiptHandle"]))
            bar.update(len(fresh))
    deleted: set[str] = set()
    try:
        with run.output.bar("redrive", "msg", len(items)) as bar:
            for item in _parse_items(items):
                if run.process(item):
                    with aws_errors(what):
                        sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=item.handle)
                    deleted.add(item.ident)
                bar.update(1)
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
        except ClientError:
            pass  # they reappear when the visibility timeout ends anyway


def _s3_objects(s3: Any, bucket: str, prefix: str) -> Iterator[str]:
    paginator = s3.get_paginator("list_objects_v2")
    for page in paginator.paginate(Bucket=bucket, Prefix=prefix):
        for obj in page.get("Contents", []):
            yield obj["Key"]


def redrive_s3(run: Redrive, *, uri: str, max_messages: int) -> ExitCode:
    """Redrive the on-failure objects under an S3 prefix (``s3://bucket/prefix``).

    Each object's ``payload`` holds the original records, so the stream is not read unless the
    payload is missing. Redriven objects are deleted.

    Args:
        run: The run.
        uri: ``s3://bucket`` or ``s3://bucket/aws/lambda/<ESM-UUID>/``.
        max_messages: Process at most this many objects.

    Returns:
        The exit code.
    """
    if not uri.startswith("s3://"):
        raise ToolError(f"--s3-uri must look like s3://bucket/prefix (given {uri!r})",
                        ExitCode.USAGE)
    bucket, _, prefix = uri[len("s3://"):].partition("/")
    s3 = run.aws.client("s3")
    what = f"bucket '{bucket}'"
    with aws_errors(what):
        keys = []
        for key in _s3_objects(s3, bucket, prefix):
            keys.append(key)
            if len(keys) >= max_messages:
                break
    run.target.check()
    items = []
    with aws_errors(what):
        for key in keys:
            body = s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode("utf-8")
            items.append(Item(f"s3://{bucket}/{key}", body, key))
    with run.output.bar("redrive", "obj", len(items)) as bar:
        for item in _parse_items(items):
            if run.process(item):
                with aws_errors(what):
                    s3.delete_object(Bucket=bucket, Key=item.handle)
            bar.update(1)
    run.summary(uri)
    return run.exit_code()

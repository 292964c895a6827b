"""Read the on-failure destination (an SQS queue or S3 objects), redrive, delete what was redriven."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from ._aws import aws_errors
from .errors import ExitCode, ToolError
from .onfailure import MessageError, parse_invocation_record
from .records import short
from .redrive_run import Item, Redrive

#: S3 on-failure objects larger than this are not read (a payload is at most Lambda's 6 MB
#: invocation payload, escaped once more inside the document:
#: https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html).
MAX_S3_OBJECT_BYTES = 32 * 1024 * 1024


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

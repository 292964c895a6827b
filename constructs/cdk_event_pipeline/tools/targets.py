"""Where re-delivered records go: a Kinesis stream, a Lambda function, an in-process
handler, or the terminal."""

from __future__ import annotations

import importlib
import json
import os
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from event_pipeline_runtime.batch_response import BatchResponse, read_batch_response, read_batch_response_payload
from event_pipeline_runtime.contract import MAX_RECORDS_PER_REQUEST, MAX_REQUEST_BYTES

from ._aws import Aws, aws_errors
from .errors import NotFoundError, ToolError
from .output import Output
from .records import SourceRecord, lambda_event

#: PutRecords limits (Kinesis API, defined once in ``event_pipeline_runtime.contract`` with their doc
#: pages): 500 records and 5 MiB per request.
PUT_RECORDS_MAX_COUNT = MAX_RECORDS_PER_REQUEST
PUT_RECORDS_MAX_BYTES = MAX_REQUEST_BYTES
#: Attempts per PutRecords entry before giving up (failed entries are retried with backoff).
PUT_RECORDS_MAX_ATTEMPTS = 10
PUT_RECORDS_BACKOFF_SECONDS = 0.1
PUT_RECORDS_BACKOFF_MAX_SECONDS = 5.0
#: Lambda's synchronous payload limit is 6 MB; data is base64 in the event (x4/3) plus
#: ~400 bytes of fields per record, so batches stay under 4 MiB of raw data.
INVOKE_MAX_RAW_BYTES = 4 * 1024 * 1024
#: Records per Lambda invocation by default (the Kinesis event source mapping's default).
DEFAULT_FUNCTION_BATCH_SIZE = 100


@dataclass(frozen=True)
class Outcome:
    """What happened to a batch.

    Attributes:
        delivered: How many records, from the start of the batch, were delivered. Records
            from this index on count as not delivered.
        error: Why the rest was not delivered.
    """

    delivered: int
    error: str | None = None


def record_size(record: SourceRecord) -> int:
    """Approximate size of a record in a request (data + key, or the DynamoDB map)."""
    if record.data is not None:
        return len(record.data) + len(record.partition_key or "")
    return len(json.dumps(record.dynamodb, default=str))


def batches(
    records: Sequence[SourceRecord], max_count: int, max_bytes: int
) -> Iterator[list[SourceRecord]]:
    """Split records, in order, into batches under a count and a size limit.

    Args:
        records: The records.
        max_count: Records per batch.
        max_bytes: Bytes per batch (a single bigger record gets a batch of its own).

    Yields:
        The batches.
    """
    batch: list[SourceRecord] = []
    size = 0
    for record in records:
        rsize = record_size(record)
        if batch and (len(batch) >= max_count or size + rsize > max_bytes):
            yield batch
            batch, size = [], 0
        batch.append(record)
        size += rsize
    if batch:
        yield batch


def function_error_detail(payload: Any, body: bytes, limit: int = 200) -> str:
    """What a failed synchronous Invoke says went wrong, as text.

    Args:
        payload: The response payload parsed as JSON (None when it is not JSON).
        body: The raw response payload.
        limit: Most bytes of a raw payload to show.

    Returns:
        The ``errorMessage`` of a JSON error payload, else the start of the payload decoded as
        UTF-8 (undecodable bytes replaced): never a ``b'...'`` literal.
    """
    if isinstance(payload, dict) and payload.get("errorMessage") is not None:
        return str(payload["errorMessage"])
    return body[:limit].decode("utf-8", errors="replace")


def first_failed_index(response: Any, records: Sequence[SourceRecord]) -> int | None:
    """Read a handler response's ``batchItemFailures`` the way Lambda does.

    Lambda checkpoints at the lowest failed sequence number and retries from there, so that
    record and every later one in the batch count as not delivered. The response is read by the
    runtime's one reader (:func:`event_pipeline_runtime.batch_response.read_batch_response`, the
    one the local runner uses too): a response that fails the whole batch (not a JSON object, an
    item without a valid ``itemIdentifier``, one not in the batch) gives 0.

    Args:
        response: The handler's return value.
        records: The batch it was given.

    Returns:
        The index of the first undelivered record, or None when all were delivered.
    """
    return _first_failed(read_batch_response(response, [r.sequence_number for r in records]))


def _first_failed(verdict: BatchResponse) -> int | None:
    return None if verdict.ok else verdict.first_failed_index


class Target:
    """A destination for re-delivered records (subclasses implement :meth:`deliver`)."""

    name = "target"
    max_count = DEFAULT_FUNCTION_BATCH_SIZE
    max_bytes = INVOKE_MAX_RAW_BYTES

    def check(self) -> None:
        """Fail early when the target does not exist (raises :class:`NotFoundError`)."""

    def unsupported(self, record: SourceRecord) -> str | None:
        """Why this target cannot take such a record, or None."""
        return None

    def deliver(self, records: list[SourceRecord]) -> Outcome:
        """Deliver one batch, in order.

        Args:
            records: At most :attr:`max_count` records from one shard.

        Returns:
            The outcome.
        """
        raise NotImplementedError


class PrintTarget(Target):
    """``--print``: write the records decoded to stdout."""

    name = "stdout"

    def __init__(self, output: Output) -> None:
        self.output = output

    def deliver(self, records: list[SourceRecord]) -> Outcome:
        """Print every record; always delivered."""
        for record in records:
            self.output.record(record)
        return Outcome(len(records))


class StreamTarget(Target):
    """``--to-stream``: PutRecords with the original partition keys.

    Per-key order is kept even when entries fail: a request never holds two records with the
    same partition key, and failed entries are retried (with backoff) before the next request
    is sent.
    """

    max_count = PUT_RECORDS_MAX_COUNT
    max_bytes = PUT_RECORDS_MAX_BYTES

    def __init__(self, aws: Aws, stream_name: str, sleep: Callable[[float], None] = time.sleep):
        self.client = aws.client("kinesis")
        self.stream_name = stream_name
        self.name = f"stream '{stream_name}'"
        self._sleep = sleep
        self.retried_entries = 0

    def check(self) -> None:
        """Check that the stream exists."""
        with aws_errors(self.name):
            self.client.describe_stream_summary(StreamName=self.stream_name)

    def unsupported(self, record: SourceRecord) -> str | None:
        """DynamoDB stream records have no partition key or data blob to put."""
        if record.source != "kinesis":
            return "DynamoDB stream records cannot be put to a Kinesis stream"
        return None

    def _requests(self, records: list[SourceRecord]) -> Iterator[tuple[int, list[SourceRecord]]]:
        start, size = 0, 0
        current: list[SourceRecord] = []
        keys: set[str | None] = set()
        for index, record in enumerate(records):
            rsize = record_size(record)
            if current and (
                record.partition_key in keys
                or len(current) >= PUT_RECORDS_MAX_COUNT
                or size + rsize > PUT_RECORDS_MAX_BYTES
            ):
                yield start, current
                start, current, keys, size = index, [], set(), 0
            current.append(record)
            keys.add(record.partition_key)
            size += rsize
        if current:
            yield start, current

    def _put(self, records: list[SourceRecord]) -> tuple[int | None, str | None]:
        """Put one request's records, retrying failed entries; first failed index or None."""
        pending = list(range(len(records)))
        delay = PUT_RECORDS_BACKOFF_SECONDS
        last_error = None
        for attempt in range(PUT_RECORDS_MAX_ATTEMPTS):
            if attempt:
                self._sleep(delay)
                delay = min(delay * 2, PUT_RECORDS_BACKOFF_MAX_SECONDS)
            entries = [
                {"Data": records[i].data, "PartitionKey": records[i].partition_key}
                for i in pending
            ]
            with aws_errors(self.name):
                response = self.client.put_records(StreamName=self.stream_name, Records=entries)
            failed = []
            for i, result in zip(pending, response["Records"], strict=True):
                if result.get("ErrorCode"):
                    failed.append(i)
                    last_error = f"{result['ErrorCode']}: {result.get('ErrorMessage', '')}"
            if not failed:
                return None, None
            self.retried_entries += len(failed)
            pending = failed
        return pending[0], f"PutRecords failed after {PUT_RECORDS_MAX_ATTEMPTS} attempts: {last_error}"

    def deliver(self, records: list[SourceRecord]) -> Outcome:
        """Put the batch; stop at the first entry that keeps failing."""
        for start, request in self._requests(records):
            failed, error = self._put(request)
            if failed is not None:
                return Outcome(start + failed, error)
        return Outcome(len(records))


class FunctionTarget(Target):
    """``--to-function``: synchronous Invoke with a Lambda-shaped stream event."""

    def __init__(self, aws: Aws, function_name: str, batch_size: int) -> None:
        self.client = aws.client("lambda")
        self.function_name = function_name
        self.name = f"function '{function_name}'"
        self.max_count = batch_size

    def check(self) -> None:
        """Check that the function exists."""
        with aws_errors(self.name):
            self.client.get_function(FunctionName=self.function_name)

    def deliver(self, records: list[SourceRecord]) -> Outcome:
        """Invoke once; a function error fails the batch, batchItemFailures part of it."""
        event = lambda_event(records)
        with aws_errors(self.name):
            response = self.client.invoke(
                FunctionName=self.function_name,
                InvocationType="RequestResponse",
                Payload=json.dumps(event).encode(),
            )
        body = response["Payload"].read() if response.get("Payload") is not None else b""
        if response.get("FunctionError"):
            try:
                payload = json.loads(body) if body else None
            except ValueError:
                payload = None
            detail = function_error_detail(payload, body)
            return Outcome(0, f"{self.name} failed ({response['FunctionError']}): {detail}")
        verdict = read_batch_response_payload(body, [r.sequence_number for r in records])
        return _outcome(self.name, verdict, len(records))


def _outcome(name: str, verdict: BatchResponse, count: int) -> Outcome:
    """What a target reports for a handler's verdict on a batch of ``count`` records."""
    failed = _first_failed(verdict)
    if failed is None:
        return Outcome(count)
    if verdict.status == "failed":
        return Outcome(failed, f"{name}: {verdict.reason}")
    return Outcome(failed, f"{name} reported batchItemFailures")


@dataclass
class LambdaContext:
    """A minimal Lambda context for in-process handlers."""

    function_name: str
    function_version: str = "$LATEST"
    memory_limit_in_mb: int = 128
    timeout_seconds: float = 900.0

    def __post_init__(self) -> None:
        self.aws_request_id = str(uuid.uuid4())
        self.invoked_function_arn = (
            f"arn:aws:lambda:{os.environ.get('AWS_REGION', 'us-east-1')}:000000000000:"
            f"function:{self.function_name}"
        )
        self.log_group_name = f"/aws/lambda/{self.function_name}"
        self.log_stream_name = "event-pipeline/local"
        self._deadline = time.monotonic() + self.timeout_seconds

    def get_remaining_time_in_millis(self) -> int:
        """Milliseconds left before the (notional) timeout."""
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def load_handler(spec: str, paths: Sequence[str] = ()) -> Callable[[Any, Any], Any]:
    """Import ``module:function`` (``module.function`` also works).

    Args:
        spec: The handler, e.g. ``consumer:handler`` or ``pkg.mod:handler``.
        paths: Directories to put first on ``sys.path`` (like ``/var/task``); the current
            directory is always searched too.

    Returns:
        The handler function.

    Raises:
        NotFoundError: The module or function cannot be found.
    """
    module_name, sep, attr = spec.partition(":")
    if not sep:
        module_name, _, attr = spec.rpartition(".")
    if not module_name or not attr:
        raise NotFoundError(f"handler {spec!r} is not MODULE:FUNCTION")
    for path in [os.getcwd(), *reversed(paths)]:
        path = os.path.abspath(path)
        if path not in sys.path:
            sys.path.insert(0, path)
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        raise NotFoundError(f"handler module {module_name!r} not found: {exc}") from exc
    handler = getattr(module, attr, None)
    if not callable(handler):
        raise NotFoundError(f"handler {attr!r} not found in module {module_name!r}")
    return handler


class HandlerTarget(Target):
    """``--to-handler``: call a Python Lambda handler in this process."""

    def __init__(self, spec: str, paths: Sequence[str], batch_size: int) -> None:
        self.spec = spec
        self.paths = list(paths)
        self.name = f"handler '{spec}'"
        self.max_count = batch_size
        self._handler: Callable[[Any, Any], Any] | None = None

    def check(self) -> None:
        """Import the handler now so a typo fails before anything is read."""
        self._handler = load_handler(self.spec, self.paths)

    def deliver(self, records: list[SourceRecord]) -> Outcome:
        """Call the handler; an exception fails the batch, batchItemFailures part of it."""
        if self._handler is None:
            self.check()
        assert self._handler is not None
        context = LambdaContext(function_name=self.spec.replace(":", "-").replace(".", "-"))
        try:
            response = self._handler(lambda_event(records), context)
        except ToolError:
            raise
        except Exception as exc:  # the handler failed: the batch is not delivered
            return Outcome(0, f"{self.name} raised {type(exc).__name__}: {exc}")
        return _outcome(self.name, read_batch_response(response, [r.sequence_number for r in records]), len(records))

"""Validation of every ``event-pipeline`` option value (argparse ``type=`` functions).

Each function takes the text given on the command line and returns the parsed value, or
raises :class:`argparse.ArgumentTypeError` with a one-line message that names the value (cut
to a readable length) and the accepted range; argparse turns it into exit code 2. Nothing
here may raise anything else: argparse only catches ``ArgumentTypeError``, ``TypeError`` and
``ValueError``, and anything else would be a traceback.

Ranges, with the AWS limit each comes from:

* times (``--from``, ``--to``): not in the future, and at most 365 days ago (8,760 hours is
  the longest a Kinesis stream keeps records;
  https://docs.aws.amazon.com/streams/latest/dev/kinesis-extended-retention.html);
* ``--batch-size`` 1-10,000 (a Kinesis event source mapping's largest batch);
* ``--wait-seconds`` 0-20 and ``--visibility-timeout`` 1-43,200 (SQS ReceiveMessage limits;
  https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_ReceiveMessage.html);
* names and URLs follow the patterns of the AWS APIs that receive them.
"""

from __future__ import annotations

import argparse
import math
import os
import re
import urllib.parse
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from .records import parse_time, short

#: The oldest time ``--from`` / ``--to`` may name: Kinesis's longest retention (8,760 hours).
MAX_LOOKBACK = timedelta(days=365)
#: Records per invocation: a Kinesis / DynamoDB Streams event source mapping takes 1-10,000.
BATCH_SIZE_RANGE = (1, 10_000)
#: ``redrive --max-messages``: messages / objects held in memory at once.
MAX_MESSAGES_RANGE = (1, 10_000)
#: SQS long-poll wait (ReceiveMessage ``WaitTimeSeconds``).
WAIT_SECONDS_RANGE = (0, 20)
#: SQS visibility timeout (12 hours at most). 0 would let another consumer take a message
#: while this run is redriving it.
VISIBILITY_TIMEOUT_RANGE = (1, 43_200)
#: ``tail --max-records``.
MAX_RECORDS_RANGE = (1, 1_000_000_000)
#: ``tail --timeout`` in seconds (up to 365 days).
TIMEOUT_RANGE = (0.001, 365 * 86400.0)
#: ``tail --poll-interval`` in seconds (Kinesis allows 5 GetRecords calls per second per shard).
POLL_INTERVAL_RANGE = (0.1, 3600.0)

_STREAM_NAME = re.compile(r"[a-zA-Z0-9_.-]{1,128}", re.ASCII)
# Lambda's FunctionName pattern (Invoke API): a name, a partial ARN or an ARN, with a qualifier.
_FUNCTION = re.compile(
    r"(arn:(aws[a-zA-Z-]*)?:lambda:)?([a-z]{2}((-gov)|(-iso[a-z]?))?-[a-z]+-\d{1}:)?(\d{12}:)?"
    r"(function:)?([a-zA-Z0-9_-]+)(:(\$LATEST|[a-zA-Z0-9_-]+))?",
    re.ASCII,
)
_FUNCTION_MAX_CHARS = 170
_REGION = re.compile(r"[a-z]{2,4}(-[a-z]+)+-[0-9]{1,2}", re.ASCII)
_QUEUE_PATH = re.compile(r"/[0-9]{12}/[a-zA-Z0-9_-]{1,80}(\.fifo)?", re.ASCII)
_BUCKET = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]", re.ASCII)
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*", re.ASCII)
_S3_MAX_KEY_BYTES = 1024


def invalid(text: str, expected: str) -> argparse.ArgumentTypeError:
    """argparse's one-line error for an option value: ``<value, shortened> is not <expected>``."""
    return argparse.ArgumentTypeError(f"{short(text)} is not {expected}")


def _printable(text: str) -> bool:
    return text.isprintable() and not any(0xD800 <= ord(c) <= 0xDFFF for c in text)


def int_range(low: int, high: int) -> Callable[[str], int]:
    """An integer type between ``low`` and ``high`` inclusive (ASCII digits, optional sign)."""

    def parse(text: str) -> int:
        stripped = text.strip()
        if not re.fullmatch(r"[+-]?[0-9]{1,19}", stripped, re.ASCII):
            raise invalid(text, f"an integer between {low} and {high}")
        value = int(stripped)
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(
                f"must be between {low} and {high} inclusive (given {value})")
        return value

    parse.__name__ = "integer"
    return parse


def float_range(low: float, high: float, unit: str = "seconds") -> Callable[[str], float]:
    """A finite number between ``low`` and ``high`` inclusive (no ``nan``, no ``inf``)."""

    def parse(text: str) -> float:
        stripped = text.strip()
        if not re.fullmatch(r"[+-]?([0-9]{1,15}(\.[0-9]{0,9})?|\.[0-9]{1,9})", stripped, re.ASCII):
            raise invalid(text, f"a number of {unit} between {low:g} and {high:g}")
        value = float(stripped)
        if not math.isfinite(value) or not low <= value <= high:
            raise argparse.ArgumentTypeError(
                f"must be between {low:g} and {high:g} {unit} inclusive (given {stripped})")
        return value

    parse.__name__ = "number"
    return parse


def time_value(text: str) -> datetime:
    """``--from`` / ``--to``: a time within the last 365 days and not in the future.

    Relative times (``2h``) count back from the moment the option is read.
    """
    now = datetime.now(UTC)
    try:
        value = parse_time(text, now)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    if value > now:
        raise argparse.ArgumentTypeError(
            f"{value.isoformat()} is in the future (now is {now.isoformat(timespec='seconds')})")
    if value < now - MAX_LOOKBACK:
        raise argparse.ArgumentTypeError(
            f"{value.isoformat()} is more than 365 days ago (the longest a Kinesis stream keeps "
            f"records); give a time after {(now - MAX_LOOKBACK).isoformat(timespec='seconds')}")
    return value


def stream_name(text: str) -> str:
    """A Kinesis stream name: 1-128 of ``a-z A-Z 0-9 _ . -``."""
    if not _STREAM_NAME.fullmatch(text):
        raise invalid(text, "a Kinesis stream name (1-128 characters: a-z A-Z 0-9 _ . -)")
    return text


def function_name(text: str) -> str:
    """A Lambda function name, partial ARN or ARN, optionally with a version or alias."""
    if len(text) > _FUNCTION_MAX_CHARS or not _FUNCTION.fullmatch(text):
        raise invalid(text, "a Lambda function name or ARN")
    return text


def handler_spec(text: str) -> str:
    """``MODULE:FUNCTION`` (or Lambda's own ``MODULE.FUNCTION``); MODULE may be dotted."""
    module, sep, attr = text.partition(":")
    if not sep:
        module, sep, attr = text.rpartition(".")
    parts = module.split(".") if module else []
    if not sep or not parts or not all(_IDENTIFIER.fullmatch(p) for p in [*parts, attr]):
        raise invalid(text, "a handler MODULE:FUNCTION (Python identifiers, e.g. consumer:handler)")
    return text


def existing_path(text: str, exists: Callable[[str], bool], expected: str) -> str:
    """``text`` when it is a printable path for which ``exists`` holds (``os.path.isdir``, ...)."""
    try:
        found = _printable(text) and bool(text) and exists(text)
    except (OSError, ValueError):
        found = False
    if not found:
        raise invalid(text, expected)
    return text


def directory(text: str) -> str:
    """An existing directory (``--handler-path``)."""
    return existing_path(text, os.path.isdir, "an existing directory")


def region(text: str) -> str:
    """An AWS region name (``us-east-1``, ``us-gov-west-1``, ``eu-central-2``...)."""
    if not _REGION.fullmatch(text):
        raise invalid(text, "an AWS region name like us-east-1")
    return text


def endpoint_url(text: str) -> str:
    """``http(s)://host[:port][/path]``: no credentials, query or fragment."""
    expected = "an http(s)://host[:port] endpoint URL"
    if not _printable(text) or any(c.isspace() for c in text) or not text.isascii():
        raise invalid(text, expected)
    try:
        url = urllib.parse.urlsplit(text)
        port = url.port  # raises ValueError when out of range
    except ValueError:
        raise invalid(text, expected) from None
    if (url.scheme not in {"http", "https"} or not url.hostname or url.username is not None
            or url.query or url.fragment or port == 0):
        raise invalid(text, expected)
    return text


def queue_url(text: str) -> str:
    """An SQS queue URL: ``https://sqs.<region>.amazonaws.com/<account>/<queue>``."""
    expected = "an SQS queue URL (https://sqs.REGION.amazonaws.com/ACCOUNT/QUEUE)"
    try:
        endpoint_url(text)
        url = urllib.parse.urlsplit(text)
    except (argparse.ArgumentTypeError, ValueError):
        raise invalid(text, expected) from None
    if not _QUEUE_PATH.fullmatch(url.path):
        raise invalid(text, expected)
    return text


def s3_uri(text: str) -> str:
    """``s3://bucket`` or ``s3://bucket/prefix`` (a valid bucket name, a key prefix)."""
    expected = "an S3 URI s3://BUCKET[/PREFIX]"
    if not text.startswith("s3://") or not _printable(text):
        raise invalid(text, expected)
    bucket, _, prefix = text[len("s3://"):].partition("/")
    if not _BUCKET.fullmatch(bucket) or ".." in bucket:
        raise invalid(text, expected + " (bucket: 3-63 of a-z 0-9 . -)")
    if len(prefix.encode("utf-8")) > _S3_MAX_KEY_BYTES:
        raise invalid(text, expected + " (prefix: at most 1024 bytes)")
    return text

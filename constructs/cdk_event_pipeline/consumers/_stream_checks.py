"""Checks of stream consumers' props that need more than a range: data filters, starting
positions, Unix times, the record-age bound, and where a consumer of a source is made."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from aws_cdk import Stack, Token
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sqs as sqs
from constructs import Construct, IConstruct

from .. import _defaults as d
from .._accounts import account_of, crosses_accounts
from .._validation import PipelineValidationError, check_duration, seconds_of


def data_filter_patterns(filters: Sequence[Mapping[str, Any]] | None) -> list[str]:
    """The filter patterns (JSON text) that test a record's ``data``: at the top level, or in a
    top-level ``$or`` branch (that branch can then never match a non-JSON record).

    Lambda applies a filter on ``data`` only to records whose data is JSON; any other record
    (gzip-compressed, KPL-aggregated, binary) fails that filter and is dropped without an
    invocation (AWS Lambda developer guide, "Control which events Lambda sends to your
    function": filtering Kinesis and DynamoDB events, "properly formatted JSON").
    """
    found: list[str] = []
    for criterion in filters or []:
        pattern = criterion.get("pattern") if isinstance(criterion, Mapping) else None
        if not isinstance(pattern, str) or ("${Token[" in pattern and Token.is_unresolved(pattern)):
            continue
        try:
            parsed = json.loads(pattern)
        except ValueError:
            continue
        if _tests_data(parsed):
            found.append(pattern)
    return found


def _tests_data(pattern: Any) -> bool:
    if not isinstance(pattern, dict):
        return False
    if "data" in pattern:
        return True
    branches = pattern.get("$or")
    return isinstance(branches, list) and any(_tests_data(branch) for branch in branches)


def consumer_scope(
    owner: Construct, function: lambda_.IFunction | None, source: IConstruct, method: str
) -> Construct:
    """Where ``add_consumer`` / ``add_change_consumer`` make a consumer: under ``owner``, or in the
    stack of a given function of another stack (a mapping in the source's stack would make the two
    stacks depend on each other, and across accounts it must be in the function's account).

    Raises:
        PipelineValidationError: an imported function of another account than the source's.
    """
    if function is None:
        return owner
    if not isinstance(function, lambda_.Function):
        if crosses_accounts(account_of(function), account_of(source)):
            raise PipelineValidationError(
                f"{method} needs a function of this app to read a stream of another account (given the imported "
                f"function {function.node.path} of account {account_of(function)}): an event source mapping is "
                "created in the function's account; define the consumer in that account's app"
            )
        return owner
    stack = Stack.of(function)
    return stack if stack.node.path != Stack.of(owner).node.path else owner


def check_max_record_age(max_record_age: Any, retention_s: float | None) -> None:
    """``max_record_age`` within Lambda's range and not longer than the source's retention."""
    age_max = (
        d.MAX_RECORD_AGE_MAX_SECONDS if retention_s is None else min(d.MAX_RECORD_AGE_MAX_SECONDS, retention_s)
    )
    if max_record_age is None:
        return
    age_s = seconds_of(max_record_age)
    if (age_s is not None and retention_s is not None
            and retention_s < age_s <= d.MAX_RECORD_AGE_MAX_SECONDS):
        raise PipelineValidationError(
            f"max_record_age must not exceed the source's retention of {int(retention_s)} seconds "
            f"(given {int(age_s)} seconds): records older than the retention are already gone"
        )
    check_duration("max_record_age", max_record_age, d.MAX_RECORD_AGE_MIN_SECONDS, age_max)


def check_starting_position(
    position: lambda_.StartingPosition,
    timestamp: float | None,
    allowed: Sequence[lambda_.StartingPosition],
) -> None:
    """One of the source's ``allowed`` positions; AT_TIMESTAMP exactly with a timestamp."""
    if position.name not in {p.name for p in allowed}:
        raise PipelineValidationError(
            f"starting_position must be one of {', '.join(p.name for p in allowed)} "
            f"(given {position.name})"
        )
    is_timestamp = position.name == "AT_TIMESTAMP"
    if is_timestamp and timestamp is None:
        raise PipelineValidationError(
            "starting_position AT_TIMESTAMP needs starting_position_timestamp: pass the Unix time "
            "(seconds) to start reading from"
        )
    if timestamp is not None and not is_timestamp:
        raise PipelineValidationError(
            f"starting_position_timestamp is only valid with starting_position AT_TIMESTAMP "
            f"(given starting_position {position.name})"
        )
    if timestamp is not None:
        check_unix_seconds("starting_position_timestamp", timestamp)


#: 3000-01-01T00:00:00Z: a later "Unix seconds" value is a mistake (often milliseconds).
_LATEST_UNIX_SECONDS = 32_503_680_000


def check_unix_seconds(prop: str, value: float) -> None:
    """A Unix time in seconds (token-aware); a millisecond value is named as such."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise PipelineValidationError(f"{prop} must be a Unix time in seconds (given {value!r})")
    if 0 <= value <= _LATEST_UNIX_SECONDS or Token.is_unresolved(value):
        return
    if 0 <= value / 1000 <= _LATEST_UNIX_SECONDS:
        raise PipelineValidationError(
            f"{prop} must be a Unix time in seconds; {value:.0f} looks like milliseconds: "
            f"pass {value / 1000:g} (seconds)"
        )
    raise PipelineValidationError(
        f"{prop} must be a Unix time in seconds between 0 and {_LATEST_UNIX_SECONDS} (year 3000) "
        f"(given {value:g})"
    )


def check_standard_on_failure_queue(queue: sqs.IQueue | None) -> None:
    """A stream consumer's on-failure queue is a standard queue: Lambda's on-failure destinations
    for Kinesis and DynamoDB Streams are "a standard SQS queue" ("Retaining discarded batches for
    a Kinesis Data Streams event source in Lambda",
    https://docs.aws.amazon.com/lambda/latest/dg/kinesis-on-failure-destination.html, and its
    DynamoDB twin, services-dynamodb-errors.html)."""
    if queue is None or queue.fifo is not True:
        return
    raise PipelineValidationError(
        f"dead_letter_queue must be a standard SQS queue (given the FIFO queue {queue.node.path}): "
        "Lambda sends a Kinesis or DynamoDB stream's failed-batch records only to a standard queue, "
        "an SNS topic or an S3 bucket; pass a standard queue, failure_bucket=, or leave it unset"
    )

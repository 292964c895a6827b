"""Rules for stream sources (Kinesis Data Streams and DynamoDB Streams).

AWS's defaults for a stream mapping retry a failing batch until its records expire, blocking the
shard all that time, and then drop them without a trace. Sources:

- Lambda, "How Lambda handles errors from Kinesis":
  https://docs.aws.amazon.com/lambda/latest/dg/kinesis-on-failure-destination.html
  (and for DynamoDB: https://docs.aws.amazon.com/lambda/latest/dg/services-dynamodb-errors.html)
- Lambda, "Configuring partial batch response with Kinesis":
  https://docs.aws.amazon.com/lambda/latest/dg/services-kinesis-batchfailurereporting.html
- Kinesis, "Change the data retention period":
  https://docs.aws.amazon.com/streams/latest/dev/kinesis-extended-retention.html
- DynamoDB, "Change data capture for DynamoDB Streams" (records are kept 24 hours):
  https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Streams.html
"""

from __future__ import annotations

from cdk_nag import NagMessageLevel

from ._mapping import Mapping, SourceKind
from ._rule import Check, NagRule
from ._template import known_int

KINESIS_ERRORS_DOC = "https://docs.aws.amazon.com/lambda/latest/dg/kinesis-on-failure-destination.html"
DYNAMODB_ERRORS_DOC = "https://docs.aws.amazon.com/lambda/latest/dg/services-dynamodb-errors.html"
PARTIAL_BATCH_DOC = "https://docs.aws.amazon.com/lambda/latest/dg/services-kinesis-batchfailurereporting.html"
KINESIS_RETENTION_DOC = "https://docs.aws.amazon.com/streams/latest/dev/kinesis-extended-retention.html"
DYNAMODB_STREAMS_DOC = "https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Streams.html"

#: ``-1`` means "infinite" for MaximumRetryAttempts and MaximumRecordAgeInSeconds, and is the
#: default of both (Lambda, "Lambda parameters for Amazon Kinesis Data Streams event source mappings":
#: https://docs.aws.amazon.com/lambda/latest/dg/services-kinesis-parameters.html).
INFINITE = -1
#: Kinesis' default retention: 24 hours [KINESIS_RETENTION_DOC].
KINESIS_DEFAULT_RETENTION_HOURS = 24
#: DynamoDB Streams keeps stream records 24 hours, not configurable [DYNAMODB_STREAMS_DOC].
DYNAMODB_STREAM_RETENTION_HOURS = 24
_HOUR = 3600


def _bisect(mapping: Mapping) -> bool | None:
    if not mapping.is_stream:
        return None
    value = mapping.props.get("BisectBatchOnFunctionError")
    if isinstance(value, dict):
        return None
    return value is True


def _finite(key: str) -> Check:
    """A check that ``key`` is set and not -1 (infinite)."""
    def check(mapping: Mapping) -> bool | None:
        if not mapping.is_stream:
            return None
        known, value = known_int(mapping.props, key, INFINITE)
        return None if not known else value != INFINITE

    return check


def retention_seconds(mapping: Mapping) -> int | None:
    """The source's retention, when known: a Kinesis stream of this template or DynamoDB Streams."""
    if mapping.kind is SourceKind.DYNAMODB:
        return DYNAMODB_STREAM_RETENTION_HOURS * _HOUR
    stream = mapping.source_props
    if mapping.kind is not SourceKind.KINESIS or stream is None:
        return None
    known, hours = known_int(stream, "RetentionPeriodHours", KINESIS_DEFAULT_RETENTION_HOURS)
    return hours * _HOUR if known and hours is not None else None


def _age_within_retention(mapping: Mapping) -> bool | None:
    if not mapping.is_stream:
        return None
    known, age = known_int(mapping.props, "MaximumRecordAgeInSeconds", None)
    retention = retention_seconds(mapping)
    if not known or age is None or age == INFINITE or retention is None:
        return None
    return age <= retention


def _on_failure(mapping: Mapping) -> bool | None:
    if not mapping.is_stream:
        return None
    on_failure = (mapping.props.get("DestinationConfig") or {}).get("OnFailure") or {}
    return bool(on_failure.get("Destination")) if isinstance(on_failure, dict) else None


def _partial_batch(mapping: Mapping) -> bool | None:
    if not mapping.is_stream:
        return None
    types = mapping.props.get("FunctionResponseTypes")
    if types is not None and not isinstance(types, list):
        return None
    return "ReportBatchItemFailures" in (types or [])


_DOCS = f"({KINESIS_ERRORS_DOC}; DynamoDB Streams: {DYNAMODB_ERRORS_DOC})"

STREAM_RULES = (
    NagRule(
        suffix="StreamBisectOnError",
        level=NagMessageLevel.ERROR,
        info="The stream event source mapping does not split a failing batch. Fix: set "
        "bisect_batch_on_error=True (BisectBatchOnFunctionError: true).",
        explanation="Without bisecting, one poison record fails its whole batch on every retry and, once the "
        f"retries or the record age run out, every good record of the batch is discarded with it {_DOCS}.",
        check=_bisect,
    ),
    NagRule(
        suffix="StreamFiniteRetries",
        level=NagMessageLevel.ERROR,
        info="The stream event source mapping retries a failing batch forever (MaximumRetryAttempts missing "
        "or -1). Fix: set retry_attempts (MaximumRetryAttempts 0-10000), e.g. 3-10.",
        explanation="Lambda's default retries a failing batch until its records expire: the shard is blocked "
        f"behind it for up to the stream's whole retention and the records are then lost {_DOCS}.",
        check=_finite("MaximumRetryAttempts"),
    ),
    NagRule(
        suffix="StreamFiniteRecordAge",
        level=NagMessageLevel.ERROR,
        info="The stream event source mapping has no maximum record age (MaximumRecordAgeInSeconds missing or "
        "-1). Fix: set max_record_age (MaximumRecordAgeInSeconds 60-604800) below the stream's retention.",
        explanation="With an infinite record age a failing batch keeps its shard blocked until the records "
        f"expire from the stream, and expired records never reach the on-failure destination {_DOCS}.",
        check=_finite("MaximumRecordAgeInSeconds"),
    ),
    NagRule(
        suffix="StreamRecordAgeWithinRetention",
        level=NagMessageLevel.ERROR,
        info="The mapping's MaximumRecordAgeInSeconds is longer than the source's retention (Kinesis "
        "RetentionPeriodHours, default 24 h; DynamoDB Streams 24 h). Fix: lower max_record_age or raise the "
        "stream's retention_period.",
        explanation="A record older than the stream's retention is trimmed before the mapping gives up on it, "
        "so it is lost instead of being sent to the on-failure destination "
        f"({KINESIS_RETENTION_DOC}; {DYNAMODB_STREAMS_DOC}).",
        check=_age_within_retention,
    ),
    NagRule(
        suffix="StreamOnFailureDestination",
        level=NagMessageLevel.ERROR,
        info="The stream event source mapping has no on-failure destination (DestinationConfig.OnFailure). "
        "Fix: set on_failure (an SqsDlq, SnsDlq or S3OnFailureDestination).",
        explanation="When retries or the record age run out, Lambda discards the batch; only an on-failure "
        f"destination keeps a record of what was discarded, to inspect and replay {_DOCS}.",
        check=_on_failure,
    ),
    NagRule(
        suffix="StreamReportBatchItemFailures",
        level=NagMessageLevel.WARN,
        info="The stream event source mapping does not use partial batch responses. Fix: set "
        "report_batch_item_failures=True (FunctionResponseTypes: [ReportBatchItemFailures]) and return "
        "batchItemFailures from the handler.",
        explanation="Without partial batch responses a failure retries the whole batch, so records that "
        "succeeded are processed again. A warning: with bisect, finite retries and a destination nothing is "
        f"lost or blocked for good, it costs duplicates and time ({PARTIAL_BATCH_DOC}).",
        check=_partial_batch,
    ),
)

"""Audit consumer on the Kinesis stream: logs every record as ``[<partitionKey>] <payload>``.

For each user record (KPL aggregates are split by the runtime, each with its own partition
key) it logs one INFO line whose message is exactly ``[<partitionKey>] <payload>``, where
``payload`` is the record's JSON re-serialised compactly (``,``/``:`` separators, UTF-8, key
order kept) by the runtime's codec: for a record produced by the runtime, e.g. the API's
``item.put`` audit records, that is byte for byte the JSON written to the stream (after gzip,
when used, is undone). Any JSON value is logged, envelope or not; every envelope version the
runtime accepts (version 1) is logged.

A record that cannot be decoded (base64 that is not strictly valid, broken or truncated gzip,
data decoding beyond the runtime's limit, not UTF-8, not JSON, JSON nested too deeply, an
empty KPL aggregate, or an unsupported envelope version) is not logged in that form: the runtime logs an ERROR line
``Record cannot be consumed; reported as failed (it goes to the DLQ after retries)`` with
``item_identifier`` (the sequence number), ``event_source``, ``error_type``
(``DecodeError`` / ``UnsupportedVersionError``) and ``failure_reason``, and reports the record
in ``batchItemFailures``. It is never dropped: the mapping retries and bisects it and, after
its retries, sends its shard and sequence range to the on-failure destination (the data stays
in the stream, and in the archive). Later records of the same shard in the batch are held
back and come back in order.

CloudWatch Logs caps one log event at 256 KiB; a longer line is cut by the service (the API
keeps its content at most 100 KiB, so its records fit).

No AWS calls: the function needs only the stream read actions its event source mapping uses.

Metrics: ``RecordsAudited`` (Count of user records logged, one value per batch).
"""

from __future__ import annotations

import warnings
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from event_pipeline_runtime import ConsumerRecord, encode_payload, pipeline_handler

# A batch in which every record fails emits no metric; Powertools would warn every time.
warnings.filterwarnings("ignore", message="No application metrics to publish", category=UserWarning)

logger = Logger()
metrics = Metrics()
tracer = Tracer()
_audited = [0]  # user records logged by the current invocation


def audit_line(record: ConsumerRecord) -> str:
    """Format one record as ``[<partitionKey>] <payload>``.

    Args:
        record: The decoded Kinesis user record.

    Returns:
        The log message.
    """
    return f"[{record.partition_key}] {encode_payload(record.body).decode('utf-8')}"


def process(record: ConsumerRecord) -> None:
    """Log one record.

    Args:
        record: The decoded Kinesis user record.
    """
    logger.info(audit_line(record))
    _audited[0] += 1


_process_batch = pipeline_handler(process, source="kinesis", idempotent=False, logger=logger, metrics=metrics)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Lambda entry point for the Kinesis event source.

    Args:
        event: Kinesis event.
        context: Lambda context.

    Returns:
        ``{"batchItemFailures": [{"itemIdentifier": <sequenceNumber>}, ...]}``.
    """
    _audited[0] = 0
    try:
        return _process_batch(event, context)
    finally:
        if _audited[0]:
            metrics.add_metric(name="RecordsAudited", unit=MetricUnit.Count, value=_audited[0])

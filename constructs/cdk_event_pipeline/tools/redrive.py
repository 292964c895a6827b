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

The work is split along its seams, and every name is re-exported here:
:mod:`.onfailure` parses the messages, :mod:`.resolve` finds their records (``payload`` or
the stream) and checks them, :mod:`.redrive_run` delivers and reports, and :mod:`.dlq` reads
the queue or bucket and deletes what was redriven.
"""

from __future__ import annotations

from .dlq import MAX_S3_OBJECT_BYTES, redrive_s3, redrive_sqs
from .onfailure import MAX_BATCH_SIZE, FailedBatch, MessageError, parse_invocation_record
from .redrive_run import Item, Redrive, Status
from .resolve import (
    DDB_EMPTY_PAGES,
    DDB_GET_RECORDS_LIMIT,
    TRIM_HORIZON_MAX_PAGES,
    Fetched,
    check_payload,
    check_range,
    fetch_dynamodb,
    fetch_kinesis,
)

__all__ = [
    "DDB_EMPTY_PAGES",
    "DDB_GET_RECORDS_LIMIT",
    "MAX_BATCH_SIZE",
    "MAX_S3_OBJECT_BYTES",
    "TRIM_HORIZON_MAX_PAGES",
    "FailedBatch",
    "Fetched",
    "Item",
    "MessageError",
    "Redrive",
    "Status",
    "check_payload",
    "check_range",
    "fetch_dynamodb",
    "fetch_kinesis",
    "parse_invocation_record",
    "redrive_s3",
    "redrive_sqs",
]

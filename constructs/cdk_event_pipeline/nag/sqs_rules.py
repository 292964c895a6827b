"""Rules for SQS sources: the queue's redrive policy, its visibility timeout and its dead-letter queue.

An SQS mapping takes no on-failure destination: the queue's redrive policy is where failed
messages go. Sources:

- Lambda, "Configuring a queue to use with Lambda" (visibility timeout at least 6 x the function
  timeout plus MaximumBatchingWindowInSeconds; a redrive policy with maxReceiveCount of at least 5):
  https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-configure.html
- SQS, "Setting-up dead-letter queue retention" (a standard queue's messages keep their original
  enqueue timestamp in the DLQ):
  https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/setting-up-dead-letter-queue-retention.html
- SQS, "Using dead-letter queues" (a FIFO queue's DLQ must be FIFO, a standard queue's standard):
  https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-dead-letter-queues.html
"""

from __future__ import annotations

from cdk_nag import NagMessageLevel

from .._defaults import VISIBILITY_TIMEOUT_WORKER_FACTOR
from ._mapping import SQS_QUEUE, Mapping, SourceKind, redrive_policy
from ._rule import NagRule
from ._template import Json, known_int, target

SQS_LAMBDA_DOC = "https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-configure.html"
SQS_DLQ_RETENTION_DOC = (
    "https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/setting-up-dead-letter-queue-retention.html"
)
SQS_DLQ_DOC = "https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-dead-letter-queues.html"

#: SQS's default visibility timeout: 30 s (SQS API reference, ``CreateQueue``).
SQS_DEFAULT_VISIBILITY_TIMEOUT_S = 30
#: SQS's default message retention: 345,600 s = 4 days (SQS API reference, ``CreateQueue``).
SQS_DEFAULT_RETENTION_S = 345_600
#: Lambda's default function timeout: 3 s (Lambda API reference, ``CreateFunction``).
LAMBDA_DEFAULT_TIMEOUT_S = 3


def _queue(mapping: Mapping) -> Json | None:
    """The source queue's properties when the source is a queue of this template."""
    return mapping.source_props if mapping.kind is SourceKind.SQS else None


def _dead_letter_queue(queue: Json, mapping: Mapping) -> Json | None:
    """The properties of the queue's DLQ when it is a queue of this template."""
    policy = redrive_policy(queue)
    ref = target(policy.get("deadLetterTargetArn")) if policy is not None else None
    if ref is None or mapping.template.type_of(ref[0]) != SQS_QUEUE:
        return None
    return mapping.template.props(ref[0])


def _has_redrive_policy(mapping: Mapping) -> bool | None:
    queue = _queue(mapping)
    return None if queue is None else "RedrivePolicy" in queue


def _visibility_timeout(mapping: Mapping) -> bool | None:
    queue = _queue(mapping)
    function_id = mapping.function_id()
    if queue is None or function_id is None:
        return None
    known_v, visibility = known_int(queue, "VisibilityTimeout", SQS_DEFAULT_VISIBILITY_TIMEOUT_S)
    known_t, timeout = known_int(mapping.template.props(function_id), "Timeout", LAMBDA_DEFAULT_TIMEOUT_S)
    known_w, window = known_int(mapping.props, "MaximumBatchingWindowInSeconds", 0)
    if not (known_v and known_t and known_w) or visibility is None or timeout is None or window is None:
        return None
    # The factor the constructs apply too: 6 x the function timeout + the window [SQS_LAMBDA_DOC].
    return visibility >= VISIBILITY_TIMEOUT_WORKER_FACTOR * timeout + window


def _is_fifo(queue: Json) -> bool | None:
    value = queue.get("FifoQueue", False)
    return value if isinstance(value, bool) else (value == "true" if isinstance(value, str) else None)


def _dlq_retention(mapping: Mapping) -> bool | None:
    queue = _queue(mapping)
    dlq = _dead_letter_queue(queue, mapping) if queue is not None else None
    if queue is None or dlq is None or _is_fifo(queue) is not False:
        return None  # a FIFO queue's messages get a new enqueue timestamp in the DLQ [SQS_DLQ_RETENTION_DOC]
    known_s, source = known_int(queue, "MessageRetentionPeriod", SQS_DEFAULT_RETENTION_S)
    known_d, kept = known_int(dlq, "MessageRetentionPeriod", SQS_DEFAULT_RETENTION_S)
    if not (known_s and known_d) or source is None or kept is None:
        return None
    return kept >= source


def _dlq_type(mapping: Mapping) -> bool | None:
    queue = _queue(mapping)
    dlq = _dead_letter_queue(queue, mapping) if queue is not None else None
    if queue is None or dlq is None:
        return None
    source_fifo, dlq_fifo = _is_fifo(queue), _is_fifo(dlq)
    if source_fifo is None or dlq_fifo is None:
        return None
    return source_fifo == dlq_fifo


SQS_RULES = (
    NagRule(
        suffix="SqsRedrivePolicy",
        level=NagMessageLevel.ERROR,
        info="The SQS queue of this event source mapping has no redrive policy. Fix: give the queue a "
        "dead_letter_queue (DeadLetterQueue(queue=..., max_receive_count=5 or more)).",
        explanation="An SQS mapping takes no on-failure destination: without a redrive policy a message the "
        "function cannot process is received again until the queue's retention deletes it, costing an "
        f"invocation each time, and is then lost ({SQS_LAMBDA_DOC}).",
        check=_has_redrive_policy,
    ),
    NagRule(
        suffix="SqsVisibilityTimeout",
        level=NagMessageLevel.ERROR,
        info="The SQS queue's visibility timeout (default 30 s) is below 6 x the function's timeout "
        "(default 3 s) + the mapping's MaximumBatchingWindowInSeconds. Fix: raise the queue's "
        "visibility_timeout or lower the function's timeout or the batching window.",
        explanation="A message whose visibility timeout ends while a batch is still being processed or "
        "retried is received again: it is processed twice and its receive count runs up, so the redrive "
        f"policy can move it to the dead-letter queue without a real failure ({SQS_LAMBDA_DOC}).",
        check=_visibility_timeout,
    ),
    NagRule(
        suffix="SqsDlqRetention",
        level=NagMessageLevel.ERROR,
        info="The dead-letter queue keeps messages for a shorter time than the source queue (default 4 days). "
        "Fix: set the DLQ's retention_period to at least the source's, e.g. Duration.days(14).",
        explanation="A standard queue's message keeps its original enqueue timestamp in the DLQ, so with a "
        "shorter DLQ retention it can be deleted as soon as it arrives there, before anyone sees it "
        f"({SQS_DLQ_RETENTION_DOC}).",
        check=_dlq_retention,
    ),
    NagRule(
        suffix="SqsDlqType",
        level=NagMessageLevel.ERROR,
        info="The source queue and its dead-letter queue are not of the same type (one FIFO, one standard). "
        "Fix: make the DLQ fifo=True for a FIFO queue and standard for a standard queue.",
        explanation="SQS requires a FIFO queue's dead-letter queue to be FIFO and a standard queue's to be "
        f"standard: the redrive policy is rejected and no failed message can be kept ({SQS_DLQ_DOC}).",
        check=_dlq_type,
    ),
)

"""Runtime library for pipeline Lambda functions (shipped as a layer, also installed by the wheel).

Producer side (stdlib + boto3): :class:`EventProducer`, :func:`put_events`, the envelope, the
codec and KPL aggregation. Consumer side (needs Powertools): :func:`pipeline_handler`.

The consumer names are imported lazily (PEP 562), so ``import event_pipeline_runtime`` works
without Powertools installed (the command-line tools) and costs little at cold start.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from event_pipeline_runtime import snapstart
from event_pipeline_runtime.aggregation import aggregate_records, deaggregate
from event_pipeline_runtime.codec import (
    DecodedRecord,
    DecodeError,
    DecodeLimitError,
    decode_payload,
    decode_record_data,
    default_max_decompressed_bytes,
    encode_payload,
)
from event_pipeline_runtime.envelope import (
    ENVELOPE_VERSION,
    Envelope,
    EnvelopeError,
    envelope_error,
    make_envelope,
    parse_envelope,
    read_envelope,
)
from event_pipeline_runtime.hops import (
    DEFAULT_MAX_HOPS,
    MAX_HOPS_ENV,
    HopLimitExceededError,
    current_hops,
    next_hops,
)
from event_pipeline_runtime.producer import (
    DeliveryRejectedError,
    EventProducer,
    PutResult,
    RecordTooLargeError,
    RetriesExhaustedError,
    UndeliveredRecordsError,
    put_events,
)

snapstart.install()  # registers the after-restore hook only in a SnapStart init

if TYPE_CHECKING:
    from event_pipeline_runtime.consumer import (
        ConsumerRecord,
        SkippedAfterFailureError,
        UnsupportedVersionError,
        pipeline_handler,
    )

__all__ = [
    "DEFAULT_MAX_HOPS",
    "ENVELOPE_VERSION",
    "MAX_HOPS_ENV",
    "ConsumerRecord",
    "DecodeError",
    "DecodeLimitError",
    "DecodedRecord",
    "DeliveryRejectedError",
    "Envelope",
    "EnvelopeError",
    "EventProducer",
    "HopLimitExceededError",
    "PutResult",
    "RecordTooLargeError",
    "RetriesExhaustedError",
    "SkippedAfterFailureError",
    "UndeliveredRecordsError",
    "UnsupportedVersionError",
    "aggregate_records",
    "current_hops",
    "deaggregate",
    "decode_payload",
    "decode_record_data",
    "default_max_decompressed_bytes",
    "encode_payload",
    "envelope_error",
    "make_envelope",
    "next_hops",
    "parse_envelope",
    "pipeline_handler",
    "put_events",
    "read_envelope",
]

_CONSUMER_NAMES = frozenset(
    {"ConsumerRecord", "SkippedAfterFailureError", "UnsupportedVersionError", "pipeline_handler"}
)


def __getattr__(name: str) -> Any:
    if name in _CONSUMER_NAMES:
        from event_pipeline_runtime import consumer  # noqa: PLC0415 - lazy: needs Powertools

        return getattr(consumer, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})

"""Runtime library for pipeline Lambda functions (shipped as a layer, also installed by the wheel).

Producer side (stdlib + boto3): :class:`EventProducer`, :func:`put_events`, the envelope, the
codec and KPL aggregation. Consumer side (needs Powertools): :func:`pipeline_handler`.

The consumer names are imported lazily (PEP 562), so ``import event_pipeline_runtime`` works
without Powertools installed (the command-line tools) and costs little at cold start.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from event_pipeline_runtime.aggregation import aggregate_records, deaggregate
from event_pipeline_runtime.codec import (
    DecodedRecord,
    DecodeError,
    decode_payload,
    decode_record_data,
    encode_payload,
)
from event_pipeline_runtime.envelope import ENVELOPE_VERSION, Envelope, make_envelope, parse_envelope
from event_pipeline_runtime.producer import (
    EventProducer,
    PutResult,
    RecordTooLargeError,
    UndeliveredRecordsError,
    put_events,
)

if TYPE_CHECKING:
    from event_pipeline_runtime.consumer import (
        ConsumerRecord,
        SkippedAfterFailureError,
        UnsupportedVersionError,
        pipeline_handler,
    )

__all__ = [
    "ENVELOPE_VERSION",
    "ConsumerRecord",
    "DecodeError",
    "DecodedRecord",
    "Envelope",
    "EventProducer",
    "PutResult",
    "RecordTooLargeError",
    "SkippedAfterFailureError",
    "UndeliveredRecordsError",
    "UnsupportedVersionError",
    "aggregate_records",
    "deaggregate",
    "decode_payload",
    "decode_record_data",
    "encode_payload",
    "make_envelope",
    "parse_envelope",
    "pipeline_handler",
    "put_events",
]

_CONSUMER_NAMES = frozenset({"ConsumerRecord", "SkippedAfterFailureError", "UnsupportedVersionError", "pipeline_handler"})


def __getattr__(name: str) -> Any:
    if name in _CONSUMER_NAMES:
        from event_pipeline_runtime import consumer  # noqa: PLC0415 - lazy: needs Powertools

        return getattr(consumer, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})

"""Runtime library for pipeline Lambda functions (shipped as a layer, also installed by the wheel).

Producer side (stdlib + boto3): :class:`EventProducer`, :func:`put_events`, :class:`QueueProducer`
(SQS, with fair-queue tenant keys), the envelope, the codec and KPL aggregation. Consumer side
(needs Powertools): :func:`pipeline_handler`, and :func:`window_handler` for tumbling windows.

Every name is imported lazily (PEP 562): ``import event_pipeline_runtime`` works without
Powertools installed (the command-line tools), costs little at cold start, and importing one light
module (``event_pipeline_runtime.contract``, which the constructs import at synth time) loads
neither the producer, the consumer nor boto3.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from event_pipeline_runtime import snapstart

snapstart.install()  # registers the after-restore hook only in a SnapStart init (stdlib only, cheap)

if TYPE_CHECKING:
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
    from event_pipeline_runtime.consumer import (
        ConsumerRecord,
        SkippedAfterFailureError,
        UnsupportedVersionError,
        pipeline_handler,
    )
    from event_pipeline_runtime.contract import DEFAULT_MAX_HOPS, MAX_HOPS_ENV
    from event_pipeline_runtime.envelope import (
        ENVELOPE_VERSION,
        Envelope,
        EnvelopeError,
        envelope_error,
        make_envelope,
        parse_envelope,
        read_envelope,
    )
    from event_pipeline_runtime.hops import HopLimitExceededError, current_hops, next_hops
    from event_pipeline_runtime.producer import (
        DeliveryRejectedError,
        EventProducer,
        PutResult,
        RecordTooLargeError,
        RetriesExhaustedError,
        UndeliveredRecordsError,
        put_events,
    )
    from event_pipeline_runtime.queue_producer import QueueProducer, QueueSendError
    from event_pipeline_runtime.windows import (
        WindowEventError,
        WindowIncompleteError,
        WindowInfo,
        WindowStateError,
        window_handler,
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
    "QueueProducer",
    "QueueSendError",
    "RecordTooLargeError",
    "RetriesExhaustedError",
    "SkippedAfterFailureError",
    "UndeliveredRecordsError",
    "UnsupportedVersionError",
    "WindowEventError",
    "WindowIncompleteError",
    "WindowInfo",
    "WindowStateError",
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
    "window_handler",
]

#: Where each public name lives: imported on first use (PEP 562), so importing one light module
#: (``event_pipeline_runtime.contract`` at synth time) does not load the producer, the codec or boto3.
_HOMES: dict[str, str] = {
    "aggregate_records": "aggregation",
    "deaggregate": "aggregation",
    **dict.fromkeys(
        ["DecodedRecord", "DecodeError", "DecodeLimitError", "decode_payload", "decode_record_data",
         "default_max_decompressed_bytes", "encode_payload"],
        "codec",
    ),
    **dict.fromkeys(["ConsumerRecord", "SkippedAfterFailureError", "UnsupportedVersionError", "pipeline_handler"],
                    "consumer"),  # needs Powertools
    "DEFAULT_MAX_HOPS": "contract",
    "MAX_HOPS_ENV": "contract",
    **dict.fromkeys(
        ["ENVELOPE_VERSION", "Envelope", "EnvelopeError", "envelope_error", "make_envelope", "parse_envelope",
         "read_envelope"],
        "envelope",
    ),
    **dict.fromkeys(["HopLimitExceededError", "current_hops", "next_hops"], "hops"),
    **dict.fromkeys(
        ["DeliveryRejectedError", "EventProducer", "PutResult", "RecordTooLargeError", "RetriesExhaustedError",
         "UndeliveredRecordsError", "put_events"],
        "producer",
    ),
    **dict.fromkeys(["QueueProducer", "QueueSendError"], "queue_producer"),
    **dict.fromkeys(["WindowEventError", "WindowIncompleteError", "WindowInfo", "WindowStateError", "window_handler"],
                    "windows"),  # needs Powertools
}
#: The submodules, reachable as attributes (``event_pipeline_runtime.codec``) as when they were imported eagerly.
_SUBMODULES = frozenset(
    {"aggregation", "batch", "batch_response", "codec", "consumer", "contract", "delivery", "envelope", "hops",
     "idempotency", "lambda_events", "producer", "queue_producer", "snapstart", "sources", "windows"}
)


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is not None:
        value = getattr(importlib.import_module(f"{__name__}.{home}"), name)
        globals()[name] = value  # later lookups skip this function
        return value
    if name in _SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})

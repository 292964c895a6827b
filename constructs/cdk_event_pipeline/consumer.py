"""Deprecated module: the stream consumers moved to :mod:`cdk_event_pipeline.consumers`
(``consumers.kinesis``, ``consumers.stream``, ``consumers.dynamodb``, ``consumers.sqs``).

Every name this module had still resolves, with a ``DeprecationWarning``; import them from
``cdk_event_pipeline`` or ``cdk_event_pipeline.consumers`` instead. Nothing inside the package
imports this module.
"""

from __future__ import annotations

import importlib
import warnings

_MOVED: dict[str, str] = {
    "StreamConsumer": "kinesis",
    "KINESIS_READ_ACTIONS": "kinesis",
    "KINESIS_FAN_OUT_ACTIONS": "kinesis",
    "RECORD_TOO_LARGE_FOR_LAMBDA_WARNING": "kinesis",
    "BATCH_LARGER_THAN_LAMBDA_PAYLOAD_WARNING": "kinesis",
    "lambda_payload_of_record": "kinesis",
    "records_per_lambda_payload": "kinesis",
    "largest_record_for_lambda_kib": "kinesis",
    "event_stream_of": "kinesis",
    "StreamConsumerBase": "stream",
    "IDEMPOTENCY_ACTIONS": "stream",
    "IDEMPOTENCY_TABLE_ENV": "cdk_event_pipeline._defaults",
    "data_filter_patterns": "_stream_checks",
    "consumer_scope": "_stream_checks",
}


def __getattr__(name: str) -> object:
    module = _MOVED.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    target = module if "." in module else f"cdk_event_pipeline.consumers.{module}"
    warnings.warn(
        f"cdk_event_pipeline.consumer is deprecated: import {name} from {target}",
        DeprecationWarning,
        stacklevel=2,
    )
    return getattr(importlib.import_module(target), name)


def __dir__() -> list[str]:
    return sorted(_MOVED)

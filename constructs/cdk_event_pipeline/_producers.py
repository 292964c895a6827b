"""How producers connected to a stream write their records, and the checks that depend on it: a
consumer's filter on the record ``data`` against compressed or aggregated producers, the stream's
``max_record_size`` and the record limit each producer function gets."""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import Size
from aws_cdk import aws_lambda as lambda_

from . import _defaults as d
from ._validation import PipelineValidationError

#: Attribute of a producer function: the record limits (bytes) of every stream it is connected to.
_RECORD_LIMITS_ATTRIBUTE = "_cdk_event_pipeline_record_limits"


@dataclass(frozen=True)
class ProducerEncoding:
    """How one producer connected with :meth:`EventStream.connect_producer` writes records.

    Attributes:
        path: Construct path of the producer function.
        compress: Records are gzip-compressed.
        aggregate: Records are KPL-aggregated.
    """

    path: str
    compress: bool
    aggregate: bool

    @property
    def is_json(self) -> bool:
        """Whether the records' data can be JSON (neither compressed nor aggregated)."""
        return not (self.compress or self.aggregate)

    def describe(self) -> str:
        """``compress=True``, ``aggregate=True`` or both."""
        flags = (("compress", self.compress), ("aggregate", self.aggregate))
        return ", ".join(name + "=True" for name, on in flags if on)


_FILTER_CONFLICT_WHY_AND_FIX = (
    ": Lambda applies a data filter only to JSON data, so every record of that producer would be "
    "filtered out unprocessed. Fix: filter on another key (e.g. partitionKey) or in the handler, or "
    "connect the producer with compress=False, aggregate=False"
)


def consumer_side_conflict(pattern: str, producer: ProducerEncoding, stream_path: str) -> str:
    return (
        f"filter {pattern} on the record data can never match the records producer {producer.path} "
        f"writes to {stream_path} ({producer.describe()})" + _FILTER_CONFLICT_WHY_AND_FIX
    )


def producer_side_conflict(consumer_path: str, pattern: str, producer: ProducerEncoding) -> str:
    return (
        f"producer {producer.path} ({producer.describe()}) writes records that the filter {pattern} "
        f"of consumer {consumer_path} on the record data can never match" + _FILTER_CONFLICT_WHY_AND_FIX
    )


def check_max_record_size(size: Size | None) -> int | None:
    """Validate ``max_record_size``: a whole number of KiB from 1024 to 10240; its bytes, or
    ``None`` when absent or a token (left to CloudFormation)."""
    if size is None:
        return None
    if not isinstance(size, Size):
        raise PipelineValidationError(
            f"max_record_size must be a Size, e.g. Size.mebibytes(4) (given {size!r})"
        )
    if size.is_unresolved():
        return None
    try:
        kib = size.to_kibibytes()
    except RuntimeError:
        raise PipelineValidationError(
            f"max_record_size must be a whole number of KiB (given {size.to_bytes()} bytes): Kinesis sets it in KiB"
        ) from None
    if not d.STREAM_MAX_RECORD_SIZE_MIN_KIB <= kib <= d.STREAM_MAX_RECORD_SIZE_MAX_KIB:
        raise PipelineValidationError(
            f"max_record_size must be between {d.STREAM_MAX_RECORD_SIZE_MIN_KIB} KiB (1 MiB) and "
            f"{d.STREAM_MAX_RECORD_SIZE_MAX_KIB} KiB (10 MiB) inclusive (given {kib:g} KiB)"
        )
    return int(kib) * 1024


def set_record_limit(fn: lambda_.Function, max_record_size_bytes: int | None) -> None:
    """Give ``fn`` the smallest record limit of the streams it produces to, once one has
    ``max_record_size`` (an unknown or default limit counts as 1 MiB)."""
    limits: list[int] = getattr(fn, _RECORD_LIMITS_ATTRIBUTE, [])
    default = d.STREAM_DEFAULT_MAX_RECORD_SIZE_KIB * 1024
    limits = [*limits, max_record_size_bytes if max_record_size_bytes is not None else default]
    setattr(fn, _RECORD_LIMITS_ATTRIBUTE, limits)
    if any(limit != default for limit in limits):
        fn.add_environment(d.PRODUCER_MAX_RECORD_BYTES_ENV, str(min(limits)))

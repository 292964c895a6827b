"""SQS, Kinesis and moto's random ids: two complexity fixes (sent upstream, docs/moto-upstream.md),
one faster draw, and the two reads of moto's state the runner makes (a queue's messages, reset)."""

from __future__ import annotations

import random
import string
import struct
from dataclasses import dataclass
from typing import Any

from ._patcher import Patcher, Unavailable

SQS = "moto.sqs.models"
KINESIS = "moto.kinesis.models"


def sqs_retention(p: Patcher) -> None:
    """SQS: a message's retention check reads the queue's retention period, not all its attributes.

    For every message it hands out, moto's ``ReceiveMessage`` checks the retention period with
    ``get_queue_attributes(queue, ["MessageRetentionPeriod"])``, which builds the queue's whole
    attribute dict, counting the queue's messages (visible, delayed, in flight): receiving the
    messages of a queue of n messages cost O(n²). That attribute is the queue's
    ``message_retention_period`` and the other attributes are computed without side effects, so
    it is read directly; the queue lookup (and its error) and the comparison are moto's.
    """
    backend = p.need(SQS, "SQSBackend", kind=type)
    original = p.need(SQS, "SQSBackend.is_message_valid_based_on_retention_period",
                      params=("self", "queue_name", "message"),
                      names=("get_queue_attributes", "sent_timestamp", "unix_time"))
    p.need(SQS, "SQSBackend.get_queue", params=("self", "queue_name"))
    models = p.need(SQS)
    p.need(SQS, "unix_time")

    def is_message_valid_based_on_retention_period(self: Any, queue_name: str, message: Any) -> bool:
        queue = self.get_queue(queue_name)
        retention_period = getattr(queue, "message_retention_period", None)
        if retention_period is None or isinstance(retention_period, bool):
            # moto would find no such attribute (None) or a string ("true"/"false"): its own way
            return bool(original(self, queue_name, message))
        retain_until = retention_period + message.sent_timestamp / 1000
        return not retain_until <= models.unix_time()

    p.set(backend, "is_message_valid_based_on_retention_period", is_message_valid_based_on_retention_period)


def kinesis_shard(p: Patcher) -> None:
    """A Kinesis shard's first and last sequence numbers without copying its keys into a list.

    moto reads them on every PutRecord (``list(self.records.keys())[-1]``, so putting N records
    costs O(N²)); the first and last keys of the (insertion-ordered) dict are read directly.
    """
    shard = p.need(KINESIS, "Shard", kind=type)
    for name in ("get_min_sequence_number", "get_max_sequence_number"):
        p.need(KINESIS, f"Shard.{name}", params=("self",), names=("keys", "list", "records"))

    def get_min_sequence_number(self: Any) -> int:
        return next(iter(self.records)) if self.records else 0

    def get_max_sequence_number(self: Any) -> int:
        return next(reversed(self.records)) if self.records else 0

    p.set(shard, "get_min_sequence_number", get_min_sequence_number)
    p.set(shard, "get_max_sequence_number", get_max_sequence_number)


def random_string(p: Patcher) -> None:
    """``MotoRandom.get_random_string`` without a method call per character: the same draws, so a
    seeded moto makes the same ids.

    ``choice(seq)`` is ``seq[self._randbelow(len(seq))]``, and ``_randbelow(n)`` (CPython's
    ``_randbelow_with_getrandbits``) draws ``getrandbits(k)`` (one 32-bit word, its top ``k``
    bits) until the value is below ``n``. ``getrandbits(32 * m)`` is the next ``m`` words, the
    first one in the lowest bits. So the characters are read from the words of one draw per
    round, skipping the rejected values in order: the same words consumed, the same characters.
    For a generator whose ``_randbelow`` / ``getrandbits`` are not CPython's own, one
    ``_randbelow`` per character as before.
    """
    random_class = p.need("moto.moto_api._internal.moto_random", "MotoRandom", kind=type)
    p.need("moto.moto_api._internal.moto_random", "MotoRandom.get_random_string",
           params=("self", "length", "include_digits", "lower_case"),
           names=("ascii_letters", "choice", "digits", "join", "lower", "range", "string"))
    own_below = getattr(random.Random, "_randbelow_with_getrandbits", None)
    batched = (own_below is not None and random_class._randbelow is own_below  # noqa: SLF001
               and random_class.getrandbits is random.Random.getrandbits and struct.calcsize("<I") == 4)
    pools = {True: string.ascii_letters + string.digits, False: string.ascii_letters}

    def get_random_string(self: Any, length: int = 20, include_digits: bool = True, lower_case: bool = False) -> str:
        pool = pools[bool(include_digits)]
        size = len(pool)
        if not batched or type(self) is not random_class:
            below = self._randbelow  # noqa: SLF001
            text = "".join([pool[below(size)] for _ in range(length)])
        else:
            shift = 32 - size.bit_length()
            chars: list[str] = []
            while len(chars) < length:
                missing = length - len(chars)
                words = struct.unpack(f"<{missing}I", self.getrandbits(32 * missing).to_bytes(4 * missing, "little"))
                chars += [pool[value] for value in [word >> shift for word in words] if value < size]
            text = "".join(chars)
        return text.lower() if lower_case else text

    p.set(random_class, "get_random_string", get_random_string)


@dataclass(frozen=True)
class QueuedMessage:
    """A message in a moto queue, as sent (moto's own object is not handed out).

    Attributes:
        id: Its message id.
        body: The body as sent (moto before 5.2 keeps an XML-escaped ``body`` and the sent text
            in ``original_body``).
        receive_count: ``ApproximateReceiveCount``.
        attributes: Message attributes, moto's dicts (``string_value``, ...), by name.
        group_id: ``MessageGroupId`` (FIFO queues), or None.
    """

    id: str
    body: str
    receive_count: int
    attributes: dict[str, Any]
    group_id: str | None


def queue_messages(region: str, queue_name: str) -> list[QueuedMessage]:
    """The messages in a moto SQS queue of this process, oldest first, without receiving them.

    Raises :class:`Unavailable` when moto keeps its queues another way (the caller receives them).
    """
    from moto.core import DEFAULT_ACCOUNT_ID  # noqa: PLC0415
    from moto.sqs.models import sqs_backends  # noqa: PLC0415

    queue = sqs_backends[DEFAULT_ACCOUNT_ID][region].get_queue(queue_name)
    messages = getattr(queue, "_messages", None)
    if messages is None:
        raise Unavailable(f"{SQS}.Queue has no _messages")
    return [QueuedMessage(m.id, m.original_body if hasattr(type(m), "original_body") else m.body,
                          int(m.approximate_receive_count), dict(m.message_attributes or {}),
                          getattr(m, "group_id", None))
            for m in list(messages)]


def reset() -> None:
    """Drop every resource of moto's backends in this process (what ``POST /moto-api/reset`` does)."""
    from moto.moto_api._internal.models import moto_api_backend  # noqa: PLC0415

    moto_api_backend.reset()

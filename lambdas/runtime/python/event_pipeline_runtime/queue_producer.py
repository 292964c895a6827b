"""Send messages to an SQS queue, with a tenant key for SQS fair queues.

:class:`QueueProducer` sends one message (:meth:`QueueProducer.send`, :meth:`QueueProducer.send_event`)
or many (:meth:`QueueProducer.send_batch`, ``SendMessageBatch`` in requests of up to 10).

**Fair queues.** A standard queue takes a ``MessageGroupId`` on each message and uses it as the
message's tenant: when one tenant builds a backlog, SQS delivers the other tenants' messages first,
and messages of one tenant are still delivered in parallel and in no order ("Amazon SQS fair
queues", https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-fair-queues.html).
``send(..., tenant="customer-42")`` sends the tenant as the ``MessageGroupId``. With ``fair=True``
(default: env ``EVENT_PIPELINE_QUEUE_FAIR``, which ``WorkQueue.connect_producer(fn, fair=True)``
sets) every message must have a tenant: a message without one raises ``ValueError`` before
anything is sent, so no tenant's messages slip into the queue unattributed. A tenant is checked
against SendMessage's ``MessageGroupId`` rules (1-128 ASCII letters, digits and punctuation;
:func:`event_pipeline_runtime.contract.message_group_id_error`) before the call. On a FIFO queue
the same key is the message group (ordering); FIFO's deduplication rules are the caller's.

**Nothing is dropped silently.** ``send`` raises whatever boto3 raises (after botocore's
``standard`` retries). ``send_batch`` validates every message before the first request, sends
every request, and then raises :class:`QueueSendError` naming each entry SQS refused (``Failed``
in the answer): those messages were not enqueued, the others were.

Bodies: a ``str`` is sent as given; anything else is JSON (:func:`encode_payload`). An envelope
``dict`` sent inside a consumer invocation gets the next hop count, as with :class:`EventProducer`.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Any

from event_pipeline_runtime.codec import encode_payload
from event_pipeline_runtime.contract import (
    MAX_MESSAGES_PER_SEND_BATCH,
    QUEUE_FAIR_ENV,
    QUEUE_URL_ENV,
    message_group_id_error,
)
from event_pipeline_runtime.envelope import make_envelope
from event_pipeline_runtime.hops import next_hops
from event_pipeline_runtime.producer import _env_flag, _with_hops, own_client

__all__ = ["QueueProducer", "QueueSendError"]


class QueueSendError(RuntimeError):
    """Some messages of a :meth:`QueueProducer.send_batch` were refused by SQS (not enqueued).

    Attributes:
        failed: ``(index, code, message, sender_fault)`` per refused message, ``index`` being its
            position in the iterable given to ``send_batch``.
        message_ids: The ``MessageId`` of every message that was enqueued, by index.
    """

    def __init__(self, failed: list[tuple[int, str, str, bool]], message_ids: dict[int, str]) -> None:
        self.failed = failed
        self.message_ids = message_ids
        shown = "; ".join(f"message {i}: {code} {text}" for i, code, text, _ in failed[:5])
        more = f" (and {len(failed) - 5} more)" if len(failed) > 5 else ""
        super().__init__(f"{len(failed)} message(s) were not enqueued: {shown}{more}")


class QueueProducer:
    """Send messages to one SQS queue (see the module docstring).

    Args:
        queue_url: The queue URL. Default: env ``QUEUE_URL``.
        client: A boto3 SQS client. Default: a new one with botocore's ``standard`` retry mode.
        fair: Every message needs a ``tenant`` (sent as its ``MessageGroupId``). Default: env
            ``EVENT_PIPELINE_QUEUE_FAIR`` (``"true"`` or ``"false"``), else False.

    Raises:
        ValueError: When no queue URL is given (argument or ``QUEUE_URL``), or
            ``EVENT_PIPELINE_QUEUE_FAIR`` is neither ``"true"`` nor ``"false"`` (only when ``fair``
            is not given).
    """

    def __init__(self, queue_url: str | None = None, *, client: Any = None, fair: bool | None = None) -> None:
        url = queue_url if queue_url is not None else os.environ.get(QUEUE_URL_ENV)
        if not url:
            raise ValueError(f"queue_url is required (argument or environment variable {QUEUE_URL_ENV})")
        self.queue_url = url
        self.fair = fair if fair is not None else _env_flag(QUEUE_FAIR_ENV)
        self._client = client

    @property
    def client(self) -> Any:
        """The boto3 SQS client (created on first use; a new one after a SnapStart restore)."""
        if self._client is None:
            self._client = own_client(self, "sqs")
        return self._client

    def _drop_own_client(self) -> None:
        self._client = None

    def send(self, data: Any, *, tenant: str | None = None) -> str:
        """Send one message; return its ``MessageId``.

        Args:
            data: The body: a ``str`` as given, anything else as JSON.
            tenant: The tenant key, sent as ``MessageGroupId``. Required when ``fair``.

        Raises:
            ValueError: No tenant while ``fair``, or a tenant that is not a valid ``MessageGroupId``
                (nothing sent).
            TypeError: ``data`` is not JSON-serialisable.
        """
        entry = self._entry(0, data, tenant)
        return str(self.client.send_message(QueueUrl=self.queue_url, **entry)["MessageId"])

    def send_event(
        self,
        type: str,  # noqa: A002 - the envelope field is called "type"
        data: Any,
        *,
        tenant: str | None = None,
        id: str | None = None,  # noqa: A002 - the envelope field is called "id"
    ) -> dict[str, Any]:
        """Wrap ``data`` in an envelope (with the current hop count) and :meth:`send` it; return the envelope."""
        envelope = make_envelope(type, data, id=id, hops=next_hops())
        self.send(envelope, tenant=tenant)
        return envelope

    def send_batch(self, messages: Iterable[tuple[Any, str | None]]) -> list[str]:
        """Send ``(data, tenant)`` pairs, up to 10 per ``SendMessageBatch``; return the message ids in order.

        Every message is checked before the first request (a bad one raises, nothing sent).

        Raises:
            ValueError: As for :meth:`send`, naming the message's index.
            QueueSendError: SQS refused some entries; they carry their index, code and message.
        """
        entries = [self._entry(i, data, tenant) for i, (data, tenant) in enumerate(messages)]
        ids: dict[int, str] = {}
        failed: list[tuple[int, str, str, bool]] = []
        for start in range(0, len(entries), MAX_MESSAGES_PER_SEND_BATCH):
            chunk = entries[start : start + MAX_MESSAGES_PER_SEND_BATCH]
            answer = self.client.send_message_batch(
                QueueUrl=self.queue_url,
                Entries=[{"Id": str(start + k), **entry} for k, entry in enumerate(chunk)],
            )
            for ok in answer.get("Successful", []):
                ids[int(ok["Id"])] = ok["MessageId"]
            for bad in answer.get("Failed", []):
                code, text = bad.get("Code", ""), bad.get("Message", "")
                failed.append((int(bad["Id"]), code, text, bool(bad.get("SenderFault"))))
        if failed:
            raise QueueSendError(sorted(failed), ids)
        return [ids[i] for i in range(len(entries))]

    def _entry(self, index: int, data: Any, tenant: str | None) -> dict[str, str]:
        if tenant is None:
            if self.fair:
                raise ValueError(
                    f"message {index}: tenant is required: the queue is fair ({QUEUE_FAIR_ENV}=true, set by "
                    "WorkQueue.connect_producer(fn, fair=True)); pass tenant=... (sent as MessageGroupId)"
                )
        else:
            error = message_group_id_error(tenant)
            if error is not None:
                raise ValueError(f"message {index}: tenant (the SQS MessageGroupId) {error}")
        if isinstance(data, str):
            body = data
        else:
            if type(data) is dict:
                data = _with_hops(data)
            body = encode_payload(data).decode("utf-8")
        entry = {"MessageBody": body}
        if tenant is not None:
            entry["MessageGroupId"] = tenant
        return entry

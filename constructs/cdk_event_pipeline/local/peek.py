"""A queue's messages read without consuming them (a look at moto's state, else receive and release)."""

from __future__ import annotations

import contextlib
from typing import Any

from . import _moto
from .reports import Message
from .values import json_or_text


def peek(client: Any, url: str, *, region: str, in_process: bool) -> list[Message]:
    """The messages in the queue at ``url``, oldest first; none is consumed.

    In process (``in_process``): read from moto's state (:func:`._moto.queue_messages`). Else (or
    when moto keeps its queues another way) each message is received with a long visibility
    timeout until no new one comes, then made visible again.
    """
    if in_process:
        with contextlib.suppress(Exception):
            return [Message(m.id, m.body, json_or_text(m.body), m.receive_count,
                            {k: v.get("string_value") for k, v in m.attributes.items()}, m.group_id)
                    for m in _moto.queue_messages(region, url.rstrip("/").rsplit("/", 1)[-1])]
    out: list[Message] = []
    seen: set[str] = set()
    handles = []
    while True:
        page = client.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=60,
                                      AttributeNames=["All"], MessageAttributeNames=["All"]).get("Messages", [])
        fresh = [m for m in page if m["MessageId"] not in seen]
        if not fresh:
            break
        for m in fresh:
            seen.add(m["MessageId"])
            handles.append(m["ReceiptHandle"])
            out.append(Message(m["MessageId"], m["Body"], json_or_text(m["Body"]),
                               int(m.get("Attributes", {}).get("ApproximateReceiveCount", 0)),
                               {k: v.get("StringValue") for k, v in (m.get("MessageAttributes") or {}).items()},
                               m.get("Attributes", {}).get("MessageGroupId")))
    for handle in handles:
        client.change_message_visibility(QueueUrl=url, ReceiptHandle=handle, VisibilityTimeout=0)
    return out

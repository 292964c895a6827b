"""Where moto's answers differ from what AWS documents and the runner relies on them: three corrections.

Unlike the speed-ups, these change what moto answers, to what AWS does (each is in
docs/moto-upstream.md / docs/moto-upstream.patch for moto itself, and each has the test that shows
the AWS behaviour, listed in docs/local-runner.md). They are features like the speed-ups: detected
on moto's objects, applied and undone with them.

* ``dynamodb.stream-records``: one DynamoDB Streams record per item change. moto writes two
  INSERT records for an item an ``UpdateItem`` creates (one with the key attributes only, from
  the empty item it puts first, then one with the updated item), also inside
  ``TransactWriteItems``; it writes a MODIFY record for a ``PutItem`` / ``UpdateItem`` that
  changes nothing; and every record's ``awsRegion`` is ``us-east-1``.
* ``kinesis.hash-key-range``: a record whose hash key (explicit, or the partition key's MD5) is a
  shard's ``EndingHashKey`` goes to that shard. moto treats the (inclusive) ending key as
  exclusive, finds no shard and fails the put.
* ``sqs.fifo-deduplication``: a FIFO queue's deduplication interval (5 minutes) holds for a
  deduplication id whether or not the first message is still in the queue. moto compares a new
  message only with the messages still in the queue, so a duplicate sent after the first one
  was received and deleted is delivered again.
"""

from __future__ import annotations

import hashlib
import threading
import weakref
from collections import OrderedDict
from typing import Any

from ._patcher import Patcher, Unavailable

DYNAMODB = "moto.dynamodb.models"
DYNAMODB_TABLE = "moto.dynamodb.models.table"
KINESIS = "moto.kinesis.models"
SQS = "moto.sqs.models"


def dynamodb_stream_records(p: Patcher) -> None:
    """One stream record per item change, none for a write that changes nothing, the table's region.

    AWS: "DynamoDB Streams helps ensure ... each stream record appears exactly once in the
    stream" and "for each item that is modified ..., the stream records appear in the same
    sequence as the actual modifications" (DynamoDB Developer Guide, "Change data capture for
    DynamoDB Streams", https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Streams.html);
    a write that leaves the item as it was is no modification and writes no record (same page).
    ``awsRegion``: "The region in which the GetRecords request was received" (DynamoDB Streams
    API reference, ``Record``).

    moto's ``UpdateItem`` puts an item with only the key attributes when the item does not exist
    (one ``StreamShard.add``), then updates it and adds again: two INSERTs. Here the changes an
    ``UpdateItem`` call makes are collected and written as one record (its first old image,
    the item as the call left it); an ``add`` whose old and new items are equal writes nothing;
    the record's ``awsRegion`` is the table's.
    """
    shard_class = p.need(DYNAMODB_TABLE, "StreamShard", kind=type)
    add = p.need(DYNAMODB_TABLE, "StreamShard.add", params=("self", "old", "new"),
                 uses=("StreamRecord", "items", "append"))
    p.need(DYNAMODB_TABLE, "StreamRecord.__init__", params=("self", "table", "stream_type", "event_name", "old",
                                                            "new", "seq"))
    p.need(DYNAMODB_TABLE, "Table.put_item", uses=("stream_shard", "add"))
    p.need(DYNAMODB_TABLE, "Table.delete_item", uses=("stream_shard", "add"))
    backend = p.need(DYNAMODB, "DynamoDBBackend", kind=type)
    update_item = p.need(DYNAMODB, "DynamoDBBackend.update_item", uses=("put_item", "stream_shard", "add"))
    p.need(DYNAMODB, "DynamoDBBackend.transact_write_items", uses=("update_item", "put_item", "delete_item"))
    collecting = threading.local()

    def write(shard: Any, old: Any, new: Any) -> None:
        if old is not None and new is not None and old.to_json() == new.to_json():
            return  # the item is as it was: no modification, no record
        before = len(shard.items)
        add(shard, old, new)
        region = getattr(shard.table, "region_name", None)
        if len(shard.items) > before and isinstance(region, str):
            shard.items[-1].record["awsRegion"] = region

    def stream_add(self: Any, old: Any, new: Any) -> None:
        changes = getattr(collecting, "changes", None)
        if changes is not None:
            changes.append((self, old, new))
            return
        write(self, old, new)

    def one_record_per_update(self: Any, *args: Any, **kwargs: Any) -> Any:
        if getattr(collecting, "changes", None) is not None:
            return update_item(self, *args, **kwargs)
        collecting.changes = []
        try:
            return update_item(self, *args, **kwargs)
        finally:
            changes, collecting.changes = collecting.changes, None
            merged: dict[int, list[Any]] = {}
            for shard, old, new in changes:  # one item per call: one shard, its first old, its last new
                merged.setdefault(id(shard), [shard, old, new])[2] = new
            for shard, old, new in merged.values():
                write(shard, old, new)

    p.set(shard_class, "add", stream_add)
    p.set(backend, "update_item", one_record_per_update)


def kinesis_hash_key_range(p: Patcher) -> None:
    """A hash key equal to a shard's ``EndingHashKey`` belongs to that shard.

    AWS: a shard's ``HashKeyRange`` is "the starting hash key of the hash key range" and "the
    ending hash key of the hash key range" (Kinesis API reference, ``HashKeyRange``), both in the
    range; ``ExplicitHashKey`` may be any value from 0 to 2^128 - 1 (``PutRecord``), and moto's
    own shards end at 2^128 - 1. moto assigns with ``start <= key < end``: a key equal to an
    ending key (the highest allowed one, or a boundary between shards) finds no shard and the put
    fails. When moto finds no shard, the one whose inclusive range holds the key is used.
    """
    stream = p.need(KINESIS, "Stream", kind=type)
    original = p.need(KINESIS, "Stream.get_shard_for_key", params=("self", "partition_key", "explicit_hash_key"),
                      uses=("starting_hash", "ending_hash", "md5_hash"))

    def get_shard_for_key(self: Any, partition_key: str, explicit_hash_key: str) -> Any:
        shard = original(self, partition_key, explicit_hash_key)  # moto's checks and errors first
        if shard is not None:
            return shard
        key = (int(explicit_hash_key) if explicit_hash_key
               else int(hashlib.md5(partition_key.encode("utf-8"), usedforsecurity=False).hexdigest(), 16))
        return next((s for s in self.shards.values() if s.starting_hash <= key <= s.ending_hash), None)

    p.set(stream, "get_shard_for_key", get_shard_for_key)


def sqs_fifo_deduplication(p: Patcher) -> None:
    """A FIFO queue remembers each deduplication id for 5 minutes, deleted messages included.

    AWS: "If a message with a particular message deduplication ID is sent successfully, any
    messages sent with the same message deduplication ID are accepted successfully but aren't
    delivered during the 5-minute deduplication interval" (SQS Developer Guide, "Using the
    message deduplication ID in Amazon SQS"). moto compares a new message with the messages
    still in the queue only. Here each FIFO queue keeps the ids it accepted in the last
    5 minutes (moto's ``DEDUPLICATION_TIME_IN_SECONDS``, on moto's clock: the message's
    ``sent_timestamp``) and drops a message whose id is among them; moto's own check follows.
    The queue's ``DeduplicationScope`` is not modelled (moto ignores it; the library's queues use
    the default scope, the queue).
    """
    queue_class = p.need(SQS, "Queue", kind=type)
    original = p.need(SQS, "Queue.add_message", params=("self", "message"),
                      uses=("fifo_queue", "deduplication_id", "sent_timestamp", "DEDUPLICATION_TIME_IN_SECONDS"))
    window_seconds = p.need(SQS, "DEDUPLICATION_TIME_IN_SECONDS")
    if not isinstance(window_seconds, int | float) or isinstance(window_seconds, bool):
        raise Unavailable(f"{SQS}.DEDUPLICATION_TIME_IN_SECONDS is not a number")
    window_ms = window_seconds * 1000
    accepted: weakref.WeakKeyDictionary[Any, OrderedDict[str, int]] = weakref.WeakKeyDictionary()
    lock = threading.Lock()

    def add_message(self: Any, message: Any) -> None:
        dedup_id, sent = getattr(message, "deduplication_id", None), getattr(message, "sent_timestamp", None)
        if getattr(self, "fifo_queue", False) and dedup_id and isinstance(sent, int):
            with lock:
                ids = accepted.setdefault(self, OrderedDict())
                while ids and sent - next(iter(ids.values())) >= window_ms:
                    ids.popitem(last=False)  # accepted in send order: the oldest first
                if dedup_id in ids:
                    return  # accepted, not delivered (as moto does for a duplicate still queued)
                ids[dedup_id] = sent
        original(self, message)

    p.set(queue_class, "add_message", add_message)

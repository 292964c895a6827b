#!/usr/bin/env python3
"""A small app exercising the library's platform features on the local runner.

* A recursive loop: each of two consumers writes back to the stream it reads
  (``connect_producer`` on its own stream), which the library flags at synth time
  (``cdk-event-pipeline:RecursiveLoop``) and stops at run time with the envelope's hop count.
  ``Echo/Repeater`` re-emits every ``echo.loop`` event it consumes (a new event, one hop further)
  with the default hop limit (10); ``ShortEcho/Repeater`` does the same with ``max_hops=3``.
* SnapStart: ``Snap/Counter`` (a stream consumer) and ``Jobs/Counter`` (a queue worker) are built
  with ``snap_start=True``, so their mappings invoke the alias ``live`` of a published version.

Every consumer counts the events it processes in the ``Seen`` table (one item per event name).
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from cdk_event_pipeline import EntityTable, EventStream, WorkQueue, code_from_dir

HANDLERS = code_from_dir("handlers")


class PlatformStack(cdk.Stack):
    """Two streams whose consumers feed themselves, and two SnapStart functions."""

    def __init__(self, scope: Construct, id: str, **kwargs: object) -> None:
        super().__init__(scope, id, **kwargs)
        seen = EntityTable(self, "Seen")
        for name, max_hops in (("Echo", None), ("ShortEcho", 3)):
            stream = EventStream(self, name, shard_count=1)
            repeater = stream.add_consumer(
                "Repeater", code=HANDLERS, handler="repeater.handler", batch_size=10, retry_attempts=2,
                starting_position=lambda_.StartingPosition.TRIM_HORIZON, max_hops=max_hops,
            )
            stream.connect_producer(repeater.function)  # the loop: it writes to the stream it reads
            seen.connect_writer(repeater.function)
        snap = EventStream(self, "Snap", shard_count=1)
        counter = snap.add_consumer("Counter", code=HANDLERS, handler="counter.stream_handler", snap_start=True,
                                    starting_position=lambda_.StartingPosition.TRIM_HORIZON)
        seen.connect_writer(counter.function)
        jobs = WorkQueue(self, "Jobs")
        worker = jobs.add_worker("Counter", code=HANDLERS, handler="counter.queue_handler", snap_start=True)
        seen.connect_writer(worker.function)


app = cdk.App()
PlatformStack(app, "Platform")
app.synth()

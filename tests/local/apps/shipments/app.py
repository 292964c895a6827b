#!/usr/bin/env python3
"""A small shipping app built from the library's constructs, unlike the reference system: the
app a user of the ``local_pipeline`` fixture would have.

* ``Shipments``: a one-shard Kinesis stream with two consumers of different settings:
  ``Labels`` (batch 10, bisect, 2 retries, partial batch responses, writes the ``Labels``
  table) and ``Tracking`` (enhanced fan-out, batch 25, parallelization 2, no bisect, no
  retries, no partial responses: a failing batch is given up on at once).
* ``Notifications``: a FIFO work queue (content-based deduplication, 3 receives before the
  DLQ) and its ``Sender`` worker (one message per invocation).
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from cdk_event_pipeline import EntityTable, EventStream, WorkQueue, code_from_dir

HANDLERS = code_from_dir("handlers")


class ShipmentsStack(cdk.Stack):
    """Shipments in, labels and tracking out, customer notifications in order per shipment."""

    def __init__(self, scope: Construct, id: str, **kwargs: object) -> None:
        super().__init__(scope, id, **kwargs)
        labels_table = EntityTable(self, "Labels")
        shipments = EventStream(self, "Shipments", shard_count=1)
        labels = shipments.add_consumer(
            "Labels", code=HANDLERS, handler="labels.handler", batch_size=10, retry_attempts=2,
            starting_position=lambda_.StartingPosition.TRIM_HORIZON,
        )
        labels_table.connect_writer(labels.function)
        shipments.add_consumer(
            "Tracking", code=HANDLERS, handler="tracking.handler", batch_size=25, enhanced_fan_out=True,
            parallelization_factor=2, retry_attempts=0, bisect_batch_on_error=False,
            report_batch_item_failures=False, starting_position=lambda_.StartingPosition.TRIM_HORIZON,
        )
        notifications = WorkQueue(self, "Notifications", fifo=True, content_based_deduplication=True,
                                  max_receive_count=3)
        notifications.add_worker("Sender", code=HANDLERS, handler="sender.handler", batch_size=1)


app = cdk.App()
ShipmentsStack(app, "Shipments")
app.synth()

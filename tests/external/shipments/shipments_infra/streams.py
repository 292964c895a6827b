"""Shipments' event stream: every consumer gives up on a record after six hours.

The library's consumers give up on a record at half the stream's retention (so that a record
they gave up on is still in the stream for ``event-pipeline redrive``). A label printed a day
late is useless to the Shipments team, so their consumers give up after six hours and the
record goes to the consumer's dead-letter queue sooner. One decision changes; everything else
(bisect, retries, partial batch responses, the DLQ, the exact grants, the alarms) stays.
"""

from __future__ import annotations

from aws_cdk import Duration
from cdk_event_pipeline import EventStream, StreamConsumer

#: How long a shipment event stays worth processing.
SHIPMENT_RECORD_AGE = Duration.hours(6)


class ShipmentConsumer(StreamConsumer):
    """A stream consumer that gives up on a record after :data:`SHIPMENT_RECORD_AGE`.

    An explicit ``max_record_age=`` on a consumer still wins over this default.
    """

    def default_max_record_age(self) -> Duration:
        return SHIPMENT_RECORD_AGE


class ShipmentStream(EventStream):
    """An :class:`EventStream` whose ``add_consumer`` builds :class:`ShipmentConsumer`."""

    def consumer_class(self) -> type[StreamConsumer]:
        return ShipmentConsumer

#!/usr/bin/env python3
"""The reference system: an item API, its work queue and an ordered audit/order stream.

``cdk synth`` runs this file (see cdk.json). It makes no AWS call: no lookups, no STS, and the
stack is environment-agnostic, so the template is the same on every machine.
"""

from __future__ import annotations

import aws_cdk as cdk
from cdk_nag import AwsSolutionsChecks
from constructs import Construct

from cdk_event_pipeline import EventStream, PipelineFunction, bundled_code


class ReferenceStack(cdk.Stack):
    """Items API + Kinesis stream with the Audit consumer and the order pipeline."""

    def __init__(self, scope: Construct, id: str, **kwargs) -> None:
        super().__init__(scope, id, **kwargs)

        self.events = EventStream(self, "Events")

        self.api = PipelineFunction(
            self, "Api", code=bundled_code("api"), handler="api_handler.handler", service_name="items-api"
        )
        self.events.connect_producer(self.api.function)

        self.audit = self.events.add_consumer(
            "Audit", code=bundled_code("audit"), handler="audit_handler.handler"
        )
        # Order pipeline: independent consumers of the same stream, each with its own pace.
        self.inventory = self.events.add_consumer(
            "InventoryUpdater", code=bundled_code("inventory"), handler="inventory_handler.handler", batch_size=100
        )
        self.fraud = self.events.add_consumer(
            "FraudDetector", code=bundled_code("fraud"), handler="fraud_handler.handler", batch_size=50
        )


def build_app(app: cdk.App | None = None) -> cdk.App:
    """Create the reference app (tests call this with an App that carries cdk.json's context).

    cdk-nag's AwsSolutions pack runs on every synth: an unacknowledged error fails it.
    """
    app = app if app is not None else cdk.App()
    ReferenceStack(app, "EventPipelineReference", description="cdk-event-pipeline reference system")
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    return app


if __name__ == "__main__":
    build_app().synth()

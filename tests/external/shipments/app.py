#!/usr/bin/env python3
"""The Shipments team's CDK app (``cdk synth`` runs this; so can ``python app.py``)."""

from __future__ import annotations

import aws_cdk as cdk

from shipments_infra.stack import ShipmentsStack

app = cdk.App()
ShipmentsStack(app, "Shipments")
app.synth()

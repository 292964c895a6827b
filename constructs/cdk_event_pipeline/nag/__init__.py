"""``EventPipelineChecks``: a cdk-nag rule pack for every Lambda event source mapping of an app.

It checks the mappings the library builds and the ones it does not (aws-cdk-lib's
``KinesisEventSource``/``DynamoEventSource``/``SqsEventSource``, ``lambda_.EventSourceMapping`` and
``CfnEventSourceMapping``), on the synthesized template, so escape hatches count too::

    from aws_cdk import Validations
    from cdk_event_pipeline.nag import EventPipelineChecks

    Validations.of(app).add_plugins(EventPipelineChecks(app))

A finding is acknowledged like any cdk-nag finding, with the pack prefix:
``Validations.of(x).acknowledge(Acknowledgment(id="EventPipeline::EventPipeline-StreamBisectOnError", reason=...))``.

cdk-nag is an optional dependency: importing this package without it fails with one line that says
how to install it.
"""

from __future__ import annotations

try:
    import cdk_nag as _cdk_nag  # noqa: F401
except ImportError:  # pragma: no cover - exercised by a test that hides cdk_nag
    raise ImportError(
        "cdk_event_pipeline.nag needs cdk-nag 3: pip install cdk-nag (e.g. pip install 'cdk-nag==3.0.2')"
    ) from None

from ._rule import PACK_NAME, NagRule
from .pack import ALL_RULES, EventPipelineChecks

__all__ = ["ALL_RULES", "PACK_NAME", "EventPipelineChecks", "NagRule"]

"""Operational tools for event pipelines: the ``event-pipeline`` console script.

``replay`` re-delivers a time window of a Kinesis stream, ``redrive`` re-delivers the records
named by Lambda on-failure destination messages (SQS, or S3 objects), and ``tail`` follows a
stream and prints its records decoded.

Nothing in this package imports ``aws_cdk``: the tools start in a fraction of a second and
only need boto3, tqdm and the pipeline's runtime library (``event_pipeline_runtime``).
"""

from __future__ import annotations

__all__: list[str] = []

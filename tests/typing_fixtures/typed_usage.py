"""Correct use of the typed props: the type checker must accept it as it is.

Never imported or run; ``tests/test_static.py`` type-checks it together with the package.
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_dynamodb as dynamodb

from cdk_event_pipeline import EntityTable, EventStream, StreamConsumerProps, WorkQueue, code_from_dir

stack = cdk.Stack(cdk.App(), "Typing")
code = code_from_dir("lambdas/audit")
events = EventStream(stack, "Events")
props: StreamConsumerProps = {"code": code, "handler": "audit_handler.handler", "batch_size": 50}
audit = events.add_consumer("Audit", **props)
items = EntityTable(stack, "Items", stream=dynamodb.StreamViewType.NEW_AND_OLD_IMAGES)
items.add_change_consumer("Changes", code=code, handler="changes_handler.handler", batch_size=10)
jobs = WorkQueue(stack, "Jobs")
worker = jobs.add_worker("Worker", code=code, handler="worker_handler.handler", environment={"A": "b"})
items.connect_writer(worker)
events.connect_producer(audit, compress=True)
events.add_archive("Archive", prefix="archive/")

"""Fixture for tests/test_typing.py: every prop below is misspelled or misplaced; the type
checker must flag exactly the lines marked ``expect-error``. Never imported by the test suite."""

from __future__ import annotations

import aws_cdk as cdk

from cdk_event_pipeline import EntityTable, EventStream, WorkQueue, code_from_dir

stack = cdk.Stack(cdk.App(), "Typing")
code = code_from_dir("lambdas/audit")
events = EventStream(stack, "Events")
events.add_consumer("Audit", code=code, handler="audit_handler.handler", batchsize=10)  # expect-error
events.add_consumer("Fast", code=code, handler="audit_handler.handler", batch_size="10")  # expect-error: str
EntityTable(stack, "Items").add_change_consumer(  # expect-error: enhanced fan-out is Kinesis-only
    "Changes", code=code, handler="changes_handler.handler", enhanced_fan_out=True)
WorkQueue(stack, "Jobs").add_worker("Worker", code=code, handler="worker_handler.handler", paralelization=2)  # expect-error
events.add_archive("Archive", prefx="archive/")  # expect-error

"""A user's typos in props: the type checker must reject exactly the marked lines.

Never imported or run; ``tests/test_static.py`` type-checks it together with the package. A line
ending in ``# expect: <error code> <name>`` must get an error of that code naming ``"<name>"``;
every other line must get none (so the correct calls prove that the errors come from the typos
alone).
"""

from __future__ import annotations

import aws_cdk as cdk

from cdk_event_pipeline import EntityTable, EventStream, WorkQueue, code_from_dir

stack = cdk.Stack(cdk.App(), "Typos")
code = code_from_dir("lambdas/audit")

events = EventStream(stack, "Events")
events.add_consumer("Right", code=code, handler="audit_handler.handler", batch_size=10)
events.add_consumer("Typo", code=code, handler="audit_handler.handler", batchsize=10)  # expect: call-arg batchsize
events.add_consumer("Text", code=code, handler="audit_handler.handler", batch_size="10")  # expect: arg-type batch_size
events.add_archive("Archive", prefix="archive/")
events.add_archive("Typo", prefx="archive/")  # expect: call-arg prefx

table = EntityTable(stack, "Items")
table.add_change_consumer("Changes", code=code, handler="changes_handler.handler", batch_size=10)
table.add_change_consumer(  # expect: call-arg enhanced_fan_out
    "FanOut", code=code, handler="changes_handler.handler", enhanced_fan_out=True  # Kinesis-only
)

jobs = WorkQueue(stack, "Jobs")
jobs.add_worker("Worker", code=code, handler="worker_handler.handler", batch_size=5)
jobs.add_worker("Typo", code=code, handler="worker_handler.handler", batchsize=5)  # expect: call-arg batchsize

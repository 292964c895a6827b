"""A user's typos in consumer props: the type checker must reject exactly the marked lines.

Never run; ``tests/test_static.py`` type-checks it. A line ending in ``# expect: <name>`` must
get an error naming ``<name>``; every other line must get none (so the correct calls prove
that the errors come from the typos alone).
"""

from __future__ import annotations

import aws_cdk as cdk

from cdk_event_pipeline import EntityTable, EventStream, code_from_dir

stack = cdk.Stack(cdk.App(), "Typos")
code = code_from_dir("lambdas/audit")

stream = EventStream(stack, "Events")
stream.add_consumer("Right", code=code, handler="audit_handler.handler", batch_size=10)
stream.add_consumer("Typo", code=code, handler="audit_handler.handler", batchsize=10)  # expect: batchsize

table = EntityTable(stack, "Items")
table.add_change_consumer("Changes", code=code, handler="audit_handler.handler", batch_size=10)
table.add_change_consumer("FanOut", code=code, handler="a.handler", enhanced_fan_out=True)  # expect: enhanced_fan_out

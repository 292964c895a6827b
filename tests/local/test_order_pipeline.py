"""The order pipeline at volume: 10,000 orders, 1% malformed, two idempotent consumers.

Handlers: ``tests/local/handlers/orders_handlers.py`` (the runtime's ``pipeline_handler`` with
Powertools idempotency on a moto DynamoDB table). The reference app's ``inventory`` and ``fraud``
handlers are placeholders that only log (nothing in them can fail or is idempotent yet), so
this scenario uses these stand-ins with the same wiring as ``app.py`` (one stream, two
consumers with batch sizes 100 and 50, bisect, ReportBatchItemFailures, SQS on-failure DLQs).
"""

from __future__ import annotations

import io
import json
import os
import time

from cdk_event_pipeline.local.redrive import redrive_queue_to_function
from cdk_event_pipeline.tools.output import Output

from .assembly_builder import TemplateBuilder
from .conftest import put_records, queue_messages

ORDERS = int(os.environ.get("LOCAL_RUNNER_ORDERS", "1000"))  # 10,000 for the benchmark run
POISON_EVERY = 100  # 1%
CONSUMERS = {"InventoryUpdater": 100, "FraudDetector": 50}


def _order_pipeline() -> TemplateBuilder:
    builder = TemplateBuilder("OrderPipeline")
    stream = builder.stream("Events", shards=1)
    table = builder.table("IdempotencyTable")
    for name, batch_size in CONSUMERS.items():
        dlq = builder.queue(f"{name}DeadLetterQueue")
        function = builder.function(f"{name}Function", "orders_handlers.handler",
                                    {"IDEMPOTENCY_TABLE_NAME": table}, runtime_layer=True)
        builder.mapping(f"{name}Mapping", function, stream, BatchSize=batch_size, StartingPosition="TRIM_HORIZON",
                        BisectBatchOnFunctionError=True, MaximumRetryAttempts=2, MaximumRecordAgeInSeconds=43200,
                        FunctionResponseTypes=["ReportBatchItemFailures"],
                        DestinationConfig={"OnFailure": {"Destination": dlq}})
    return builder


def test_ten_thousand_orders_one_percent_poison_exactly_once_and_redriven(deploy, aws, record_property) -> None:
    started = time.perf_counter()
    runner = deploy(_order_pipeline())
    orders = [
        {"order_id": f"o-{i:05d}", "quantity": "three" if i % POISON_EVERY == 37 else 3, "key": f"c-{i % 97}"}
        for i in range(ORDERS)
    ]
    poison = {o["order_id"] for o in orders if not isinstance(o["quantity"], int)}
    sequences = put_records(runner, orders, stream="Events")
    by_sequence = dict(zip(sequences, orders, strict=True))

    stats = runner.run()
    consumed = time.perf_counter()

    assert stats.idle
    for name in CONSUMERS:
        module = runner.function(f"{name}Function").module
        good = {o["order_id"] for o in orders} - poison
        assert set(module.APPLIED) == good, name
        assert set(module.APPLIED.values()) == {1}, f"{name}: a good record was applied more than once"
        dead = queue_messages(aws, runner.resource(f"{name}DeadLetterQueue").ref, release=True)
        named = []
        for message in dead:
            info = json.loads(message["Body"])["KinesisBatchInfo"]
            assert info["startSequenceNumber"] == info["endSequenceNumber"], "bisect isolates each poison record"
            named.append(by_sequence[info["startSequenceNumber"]]["order_id"])
        assert sorted(named) == sorted(poison), name

    for name in CONSUMERS:
        function = runner.function(f"{name}Function")
        function.module.set_fixed(True)
        queue = runner.resource(f"{name}DeadLetterQueue").ref
        report = io.StringIO()
        code, run = redrive_queue_to_function(endpoint_url=aws, region="us-east-1", queue_url=queue,
                                              function=function, output=Output(json_mode=True, progress=False,
                                                                               stdout=report))
        assert code == 0, report.getvalue()[:2000]
        assert run.records_delivered == len(poison) and run.records_missing == 0
        assert set(function.module.APPLIED) == {o["order_id"] for o in orders}, "0 lost"
        assert set(function.module.APPLIED.values()) == {1}
        assert queue_messages(aws, queue) == []
    finished = time.perf_counter()
    record_property("consume_seconds", round(consumed - started, 2))
    record_property("total_seconds", round(finished - started, 2))
    print(f"\norder pipeline: {ORDERS} orders x {len(CONSUMERS)} consumers consumed in {consumed - started:.1f} s, "
          f"redriven in {finished - consumed:.1f} s, {stats.invocations} invocations")


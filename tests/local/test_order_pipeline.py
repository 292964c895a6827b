"""The order pipeline at volume, on the real reference app: 1% poison, two idempotent consumers.

The reference app (app.py) is synthesized and deployed on moto; its real inventory updater and
fraud detector run from their assets with the template's mapping settings (batch 100 / 50,
bisect, 10 retries, partial batch responses, the ``order.placed`` filter, SQS DLQs,
idempotency tables). Orders go on the stream through the runtime's producer; every ``POISON_EVERY``-th
has ``quantity: "three"``. Exactly once is measured by effects: each good order decrements its
SKU's stock by exactly its quantity (the inventory updater) and is flagged exactly once (the
fraud detector flags every order: amount 6000 >= 5000). After the fix, the redrive tool
recovers every poison order, applied once too: 0 lost.

``LOCAL_RUNNER_ORDERS`` sets the volume (1,000 in the suite; 10,000 for the benchmark run).
"""

from __future__ import annotations

import io
import json
import os
import time
from collections import Counter

from cdk_event_pipeline.local import LocalRunner, VirtualClock
from cdk_event_pipeline.local.demo import _patched
from cdk_event_pipeline.local.redrive import redrive_queue_to_function
from cdk_event_pipeline.tools.output import Output

from .conftest import queue_messages

ORDERS = int(os.environ.get("LOCAL_RUNNER_ORDERS", "1000"))
POISON_EVERY = 100  # 1%
SKUS = 97
INITIAL_STOCK = 1_000_000
CONSUMERS = ("EventsInventoryUpdater", "EventsFraudDetector")


def _flagged(text: str) -> Counter[str]:
    """How many times the fraud detector flagged each order id (its fraud.suspected lines)."""
    counts: Counter[str] = Counter()
    for line in text.splitlines():
        if line.startswith("{") and '"fraud.suspected"' in line:
            counts[json.loads(line)["order_id"]] += 1
    return counts


def _stock(runner: LocalRunner, table: str) -> dict[str, int]:
    client = runner.client("dynamodb")
    return {f"sku-{i}": int(client.get_item(TableName=table, Key={"sku": {"S": f"sku-{i}"}})["Item"]["stock"]["N"])
            for i in range(SKUS)}


def _expected_stock(orders: list[dict]) -> dict[str, int]:
    stock = {f"sku-{i}": INITIAL_STOCK for i in range(SKUS)}
    for order in orders:
        stock[order["sku"]] -= 3
    return stock


def test_order_pipeline_one_percent_poison_exactly_once_and_redriven(reference_assembly, aws, capsys,
                                                                      record_property) -> None:
    # The fraud detector's log lines are its effect. Powertools loggers are process-wide per
    # service name (the logging module's): an earlier test may have configured them, so give
    # them our own stream and level rather than reading capsys.
    from event_pipeline_runtime import EventProducer

    started = time.perf_counter()
    runner = LocalRunner.from_assembly(
        reference_assembly, endpoint_url=aws, clock=VirtualClock(),
        extra_environment={"POWERTOOLS_LOG_LEVEL": "WARNING", "POWERTOOLS_METRICS_DISABLED": "true"},
    ).deploy()
    logs = {name: io.StringIO() for name in CONSUMERS}
    for name, stream in logs.items():
        logger = runner.function(name).module.logger
        logger.registered_handler.stream = stream  # assigned: setStream() flushes a stream pytest closed
        logger.setLevel("WARNING")  # a logger configured earlier in the process keeps its first level
    fraud_log = logs["EventsFraudDetector"]
    table = runner.resource("InventoryTable").ref
    for i in range(SKUS):
        runner.client("dynamodb").put_item(TableName=table, Item={"sku": {"S": f"sku-{i}"}, "stock": {"N": str(INITIAL_STOCK)}})

    orders = [
        {"order_id": f"o-{i:05d}", "sku": f"sku-{i % SKUS}", "quantity": "three" if i % POISON_EVERY == 37 else 3,
         "amount": 6000, "customer_id": f"c-{i % 13}"}
        for i in range(ORDERS)
    ]
    poison = [o for o in orders if not isinstance(o["quantity"], int)]
    good = [o for o in orders if isinstance(o["quantity"], int)]
    producer = EventProducer(runner.resource("EventsStream", "AWS::Kinesis::Stream").ref,
                             client=runner.client("kinesis"))
    for order in orders:
        producer.put_event("order.placed", order, partition_key=order["sku"], id=order["order_id"])
    producer.flush()

    stats = runner.run()
    consumed = time.perf_counter()
    assert stats.idle

    # every good order applied exactly once, no poison order applied
    assert _stock(runner, table) == _expected_stock(good)
    assert _flagged(fraud_log.getvalue()) == Counter({o["order_id"]: 1 for o in good})
    seen = len(fraud_log.getvalue())
    # every poison order alone in each consumer's DLQ (bisect + partial responses isolate it)
    for name in CONSUMERS:
        dead = queue_messages(aws, runner.resource(f"{name}DeadLetterQueue", "AWS::SQS::Queue").ref, release=True)
        assert len(dead) == len(poison), name
        for message in dead:
            info = json.loads(message["Body"])["KinesisBatchInfo"]
            assert info["startSequenceNumber"] == info["endSequenceNumber"] and info["batchSize"] == 1

    # the fix, then the redrive tool: every poison order recovered, applied once, DLQs empty
    for name in CONSUMERS:
        function = runner.function(name)
        function.wrappers.append(_patched)
        queue = runner.resource(f"{name}DeadLetterQueue", "AWS::SQS::Queue").ref
        report = io.StringIO()
        code, run = redrive_queue_to_function(endpoint_url=aws, region="us-east-1", queue_url=queue, function=function,
                                              output=Output(json_mode=True, progress=False, stdout=report))
        assert code == 0, report.getvalue()[:2000]
        assert run.records_delivered == len(poison) and run.records_missing == 0
        assert queue_messages(aws, queue) == []
    assert _stock(runner, table) == _expected_stock(orders)
    assert _flagged(fraud_log.getvalue()[seen:]) == Counter({o["order_id"]: 1 for o in poison})
    finished = time.perf_counter()
    record_property("consume_seconds", round(consumed - started, 2))
    record_property("total_seconds", round(finished - started, 2))
    with capsys.disabled():
        print(f"\norder pipeline (reference app): {ORDERS} orders, {len(poison)} poison; consumed in "
              f"{consumed - started:.1f} s, redriven in {finished - consumed:.1f} s, {stats.invocations} invocations")

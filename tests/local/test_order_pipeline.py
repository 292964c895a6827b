"""The order pipeline at volume, on the real reference app: 1% poison, two idempotent consumers.

The reference app (app.py) is deployed by the project's own ``local_pipeline`` fixture (the
pytest plugin users get with the ``[local]`` extra); its real inventory updater and fraud
detector run from their assets with the template's mapping settings (batch 100 / 50, bisect, 10
retries, partial batch responses, the ``order.placed`` filter, SQS DLQs, idempotency tables).
Orders go on the stream through the runtime's producer; every ``POISON_EVERY``-th has
``quantity: "three"``. Exactly once is measured by effects: each good order decrements its SKU's
stock by exactly its quantity (the inventory updater) and is flagged exactly once (the fraud
detector flags every order: amount 6000 >= 5000). After the fix, the redrive tool recovers
every poison order, applied once too: 0 lost.

``LOCAL_RUNNER_ORDERS`` sets the volume (1,000 in the suite; 10,000 for the benchmark,
``benchmarks/local_orders.py``).
"""

from __future__ import annotations

import io
import json
import os
import time
from collections import Counter

from cdk_event_pipeline.local import LocalPipeline
from cdk_event_pipeline.local.demo import _patched
from cdk_event_pipeline.local.redrive import redrive_queue_to_function
from cdk_event_pipeline.tools.output import Output

ORDERS = int(os.environ.get("LOCAL_RUNNER_ORDERS", "1000"))
POISON_EVERY = 100  # 1%
SKUS = 97
INITIAL_STOCK = 1_000_000
CONSUMERS = ("Events/InventoryUpdater", "Events/FraudDetector")


def _flagged(text: str) -> Counter[str]:
    """How many times the fraud detector flagged each order id (its fraud.suspected lines)."""
    counts: Counter[str] = Counter()
    for line in text.splitlines():
        if line.startswith("{") and '"fraud.suspected"' in line:
            counts[json.loads(line)["order_id"]] += 1
    return counts


def _stock(pipeline: LocalPipeline) -> dict[str, int]:
    return {item["sku"]: item["stock"] for item in pipeline.table_items("Inventory")}


def _expected_stock(orders: list[dict]) -> dict[str, int]:
    stock = {f"sku-{i}": INITIAL_STOCK for i in range(SKUS)}
    for order in orders:
        stock[order["sku"]] -= 3
    return stock


def orders() -> list[dict]:
    """The scenario's orders (``quantity: "three"`` is the poison)."""
    return [
        {"order_id": f"o-{i:05d}", "sku": f"sku-{i % SKUS}", "quantity": "three" if i % POISON_EVERY == 37 else 3,
         "amount": 6000, "customer_id": f"c-{i % 13}"}
        for i in range(ORDERS)
    ]


def run_scenario(pipeline: LocalPipeline, endpoint_url: str) -> dict[str, float]:
    """Put the orders, run until idle, check exactly-once, redrive after the fix; return timings."""
    from event_pipeline_runtime import EventProducer

    started = time.perf_counter()
    # The fraud detector's log lines are its effect. Powertools loggers are process-wide per
    # service name: give them our own stream and level rather than reading capsys.
    logs = {name: io.StringIO() for name in CONSUMERS}
    for name, stream in logs.items():
        logger = pipeline.function(name).module.logger
        logger.registered_handler.stream = stream  # assigned: setStream() flushes a stream pytest closed
        logger.setLevel("WARNING")  # a logger configured earlier in the process keeps its first level
    fraud_log = logs["Events/FraudDetector"]
    pipeline.write_items("Inventory", [{"sku": f"sku-{i}", "stock": INITIAL_STOCK} for i in range(SKUS)])
    every = orders()
    poison = [o for o in every if not isinstance(o["quantity"], int)]
    good = [o for o in every if isinstance(o["quantity"], int)]
    producer = EventProducer(pipeline.resource("Events", "stream").ref, client=pipeline.client("kinesis"))
    for order in every:
        producer.put_event("order.placed", order, partition_key=order["sku"], id=order["order_id"])
    producer.flush()
    fed = time.perf_counter()

    report = pipeline.run_until_idle(max_invocations=100_000)
    consumed = time.perf_counter()

    # every good order applied exactly once, no poison order applied
    assert _stock(pipeline) == _expected_stock(good)
    assert _flagged(fraud_log.getvalue()) == Counter({o["order_id"]: 1 for o in good})
    seen = len(fraud_log.getvalue())
    # every poison order alone in each consumer's DLQ (bisect + partial responses isolate it)
    for name in CONSUMERS:
        failures = pipeline.failures(name)
        assert len(failures) == len(poison), name
        for document in failures:
            info = document["KinesisBatchInfo"]
            assert info["startSequenceNumber"] == info["endSequenceNumber"] and info["batchSize"] == 1

    # the fix, then the redrive tool: every poison order recovered, applied once, DLQs empty
    for name in CONSUMERS:
        function = pipeline.function(name)
        function.wrappers.append(_patched)
        queue = pipeline.runner.mapping(pipeline.find(name, "mapping")).destination.queue_url
        out = io.StringIO()
        output = Output(json_mode=True, progress=False, stdout=out)
        code, run = redrive_queue_to_function(endpoint_url=endpoint_url, region="us-east-1", queue_url=queue,
                                              function=function, output=output)
        assert code == 0, out.getvalue()[:2000]
        assert run.records_delivered == len(poison) and run.records_missing == 0
        assert pipeline.failures(name) == []
    assert _stock(pipeline) == _expected_stock(every)
    assert _flagged(fraud_log.getvalue()[seen:]) == Counter({o["order_id"]: 1 for o in poison})
    finished = time.perf_counter()
    return {"feed_seconds": fed - started, "consume_seconds": consumed - fed, "redrive_seconds": finished - consumed,
            "invocations": report.stats.invocations, "poison": len(poison)}


def test_order_pipeline_one_percent_poison_exactly_once_and_redriven(local_pipeline, local_pipeline_endpoint, capsys,
                                                                      record_property) -> None:
    timings = run_scenario(local_pipeline, local_pipeline_endpoint.url)
    for key, value in timings.items():
        record_property(key, round(value, 2))
    with capsys.disabled():
        print(f"\norder pipeline (reference app): {ORDERS} orders, {timings['poison']} poison; consumed in "
              f"{timings['consume_seconds']:.1f} s, redriven in {timings['redrive_seconds']:.1f} s, "
              f"{timings['invocations']} invocations")

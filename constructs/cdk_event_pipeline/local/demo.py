"""``make demo``: the reference system on a local endpoint, told as a story.

1. The synthesized app is deployed on a local moto server: resources by API, each function's
   handler loaded from its asset directory with its layers, the environment resolved.
2. Items go in through the API handler as function URL requests (``PUT /items/{id}``): body to
   S3, item to DynamoDB, ``job.created`` to the work queue, an audit record on the stream.
3. Orders go on the same stream as ``order.placed`` envelopes, written by the runtime's
   producer. One is malformed (``quantity: "three"``), one would oversell.
4. Every event source mapping polls with its template settings. The malformed order fails the
   inventory updater and the fraud detector: each mapping bisects the batch, isolates the
   record, sends its on-failure message to the consumer's DLQ, and the rest of the shard flows.
   The overselling order is rejected by the conditional write (stock never below zero).
5. A redrive without a fix fails again: the DLQ message stays, nothing is lost.
6. The handlers are "fixed" (a patch that reads ``"three"`` as 3, standing in for a deployed
   fix) and the redrive tool re-delivers the record from the stream; the DLQs are empty.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3

from .events import RunnerEvent
from .redrive import redrive_queue_to_function
from .runner import LocalRunner

ITEMS = {"item-1": "a kettle, please", "item-2": "two teapots", "item-3": "mugs"}
STOCK = {"kettle": 5, "teapot": 1, "mug": 10}
ORDERS: list[dict[str, Any]] = [
    {"order_id": "o-1", "sku": "kettle", "quantity": 2, "amount": 60, "customer_id": "c-1"},
    {"order_id": "o-2", "sku": "teapot", "quantity": 2, "amount": 80, "customer_id": "c-2"},  # oversells
    {"order_id": "o-3", "sku": "mug", "quantity": "three", "amount": 30, "customer_id": "c-3"},  # malformed
    {"order_id": "o-4", "sku": "mug", "quantity": 3, "amount": 9000, "customer_id": "c-4"},  # suspicious
]
ORDER_CONSUMERS = ("EventsInventoryUpdater", "EventsFraudDetector")
NUMBER_WORDS = {"one": 1, "two": 2, "three": 3}


def function_url_event(method: str, path: str, body: str | None = None) -> dict[str, Any]:
    """A Lambda function URL request (payload format 2.0)."""
    event: dict[str, Any] = {
        "version": "2.0", "routeKey": "$default", "rawPath": path, "rawQueryString": "",
        "headers": {"content-type": "text/plain", "host": "local.lambda-url.on.aws"},
        "requestContext": {
            "accountId": "anonymous", "apiId": "local", "domainName": "local.lambda-url.on.aws",
            "http": {"method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1",
                     "userAgent": "make-demo"},
            "requestId": "demo", "routeKey": "$default", "stage": "$default", "timeEpoch": 0,
        },
        "isBase64Encoded": False,
    }
    if body is not None:
        event["body"] = body
    return event


def _patched(event: dict[str, Any], call: Callable[[dict[str, Any]], Any]) -> Any:
    """The "fix": read a quantity written as a word (standing in for a deployed code fix).

    A record whose data is not valid base64, or not JSON, is left as it is (the handler judges
    it), as Lambda's filters treat data that is not JSON: it is not an order to fix.
    """
    for record in event["Records"]:
        try:
            body = json.loads(base64.b64decode(record["kinesis"]["data"], validate=True))
        except (binascii.Error, ValueError, UnicodeDecodeError):
            continue
        data = body.get("data") if isinstance(body, dict) else None
        if isinstance(data, dict) and data.get("quantity") in NUMBER_WORDS:
            data["quantity"] = NUMBER_WORDS[data["quantity"]]
            record["kinesis"]["data"] = base64.b64encode(json.dumps(body).encode()).decode()
    return call(event)


def _who(logical_id: str) -> str:
    return logical_id.split("Handler")[0].removeprefix("Events").removeprefix("Items").removeprefix("Jobs")


def _say(event: RunnerEvent) -> None:
    d = event.detail
    who = _who(event.function)
    if event.kind == "invoke" and not d.get("direct"):
        verdicts = {"ok": "ok", "partial": f"partial failure {d['failed']}", "error": f"FAILED ({d['error']})"}
        verdict = verdicts[d["outcome"]]
        if "first" in d:  # a stream batch
            span = d["first"] if d["first"] == d["last"] else f"{d['first']}..{d['last']}"
            print(f"   {who:<17} batch [{span}] ({d['count']} records, attempt {d['attempt']}): {verdict}")
        else:  # an SQS batch
            print(f"   {who:<17} {d['count']} message(s) from the queue: {verdict}, {len(d['deleted'])} deleted")
    elif event.kind == "on-failure":
        print(f"   {who:<17} gave up on [{d['first']}..{d['last']}] ({d['condition']}) "
              "-> on-failure message to its DLQ")
    elif event.kind == "discarded":
        print(f"   {who:<17} discarded [{d['first']}..{d['last']}] ({d['condition']}; no destination)")


def _deploy(outdir: Path, endpoint: str, region: str, stack: str | None, dynamodb: Any) -> LocalRunner:
    """Step 1: the app's resources and functions on the endpoint; the inventory stocked."""
    print(f"1. Deploy {outdir} on {endpoint} (resources by API, handlers loaded from the assets)")
    quiet = {"POWERTOOLS_LOG_LEVEL": "CRITICAL", "POWERTOOLS_METRICS_DISABLED": "true"}
    runner = LocalRunner.from_assembly(outdir, stack, endpoint_url=endpoint, region=region,
                                       extra_environment=quiet).deploy()
    print(f"   {len(runner.functions)} functions: {', '.join(sorted(_who(f) for f in runner.functions))}")
    inventory_table = runner.resource("InventoryTable").ref
    for sku, stock in STOCK.items():
        dynamodb.put_item(TableName=inventory_table, Item={"sku": {"S": sku}, "stock": {"N": str(stock)}})
    print(f"   stock: {STOCK}")
    return runner


def _feed(runner: LocalRunner, aws: dict[str, Any]) -> None:
    """Steps 2 and 3: items through the API handler, orders on the stream."""
    print("2. PUT /items/{id} through the API handler (function URL requests)")
    for item_id, body in ITEMS.items():
        response = runner.invoke("Api", function_url_event("PUT", f"/items/{item_id}", body))
        print(f"   PUT /items/{item_id} {body!r} -> {response.get('statusCode')}")

    print("3. Orders on the same stream (runtime producer); o-2 oversells, o-3 is malformed, o-4 is large")
    from event_pipeline_runtime import EventProducer  # noqa: PLC0415 - the layer's own producer

    stream = runner.resource("EventsStream", "AWS::Kinesis::Stream").ref
    producer = EventProducer(stream, client=boto3.client("kinesis", **aws))
    for order in ORDERS:
        order_id = str(order["order_id"])
        producer.put_event("order.placed", order, partition_key=order_id, id=order_id)
    producer.flush()


def _stock(dynamodb: Any, table: str, sku: str) -> int:
    return int(dynamodb.get_item(TableName=table, Key={"sku": {"S": sku}})["Item"]["stock"]["N"])


def _poll(runner: LocalRunner, dynamodb: Any) -> list[RunnerEvent]:
    """Step 4: the mappings poll until idle; return the give-ups (on-failure events)."""
    print("4. The event source mappings poll (template settings: batch sizes, bisect, retries, filters)")
    runner.log.listeners.append(_say)
    runner.run(max_invocations=2000)
    runner.log.listeners.remove(_say)
    inventory_table = runner.resource("InventoryTable").ref
    stock_now = {sku: _stock(dynamodb, inventory_table, sku) for sku in STOCK}
    print(f"   stock now: {stock_now}  (o-2 rejected: never below zero; o-3 not applied)")
    items_table = runner.resource("ItemsTable").ref
    statuses = {i: dynamodb.get_item(TableName=items_table, Key={"id": {"S": i}}).get("Item", {})
                .get("status", {}).get("S")
                for i in ITEMS}
    print(f"   items after the worker: {statuses}")
    return list(runner.log.of("on-failure"))


def _redrive(runner: LocalRunner, endpoint: str, region: str) -> int:
    """Steps 5 and 6, per order consumer: redrive before the fix (kept), deploy the fix, redrive (recovered)."""
    code = 0
    for name in ORDER_CONSUMERS:
        consumer = runner.function(name)
        dlq = runner.resource(f"{name}DeadLetterQueue", "AWS::SQS::Queue").ref
        print(f"5. {_who(consumer.logical_id)}: redrive its DLQ before any fix")
        first, run = redrive_queue_to_function(endpoint_url=endpoint, region=region, queue_url=dlq, function=consumer)
        print(f"   redrive: {run.counts or 'no messages'} (exit {first}): the message stays in the DLQ")
        print(f"6. {_who(consumer.logical_id)}: deploy the fix, redrive again")
        consumer.wrappers.append(_patched)
        code, run = redrive_queue_to_function(endpoint_url=endpoint, region=region, queue_url=dlq, function=consumer)
        print(f"   redrive: {run.counts or 'no messages'}; {run.records_delivered} record(s) delivered, "
              f"{run.records_missing} missing (exit {code})")
        if first == 0 or code != 0:
            return code or 1
    return code


def run_demo(outdir: Path, endpoint: str, *, region: str = "us-east-1", stack: str | None = None) -> int:
    """Run the story; return 0 when the poison order was isolated, kept, and recovered after the fix."""
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "local")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "local")
    aws = {"endpoint_url": endpoint, "region_name": region}
    dynamodb = boto3.client("dynamodb", **aws)
    runner = _deploy(outdir, endpoint, region, stack, dynamodb)
    _feed(runner, aws)
    isolated = _poll(runner, dynamodb)
    code = _redrive(runner, endpoint, region)
    mug = _stock(dynamodb, runner.resource("InventoryTable").ref, "mug")
    print(f"   mug stock after the redrive: {mug}")
    ok = len(isolated) == len(ORDER_CONSUMERS) and code == 0 and mug == STOCK["mug"] - 3 - 3
    print("Done: the poison order was isolated, kept in the DLQs, and recovered after the fix; every other "
          "record flowed." if ok else "Done, but the story did not go as expected (see above).")
    return 0 if ok else 1

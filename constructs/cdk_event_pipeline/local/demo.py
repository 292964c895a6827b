"""``make demo``: the reference system on a local endpoint, told as a story.

Items go in through the API handler; each stream consumer's mapping polls with the
template's settings. One order is malformed. Today's reference inventory handler only logs
(it cannot fail), so the demo injects the validation the real handler will have as a fault
wrapper around it; the mapping then bisects the batch, isolates the poison record, sends its
on-failure message to the DLQ while the rest of the shard flows, and after the "fix" (the
wrapper removed) the redrive tool re-delivers it.
"""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path
from typing import Any

from .events import RunnerEvent
from .redrive import redrive_queue_to_function
from .runner import LocalRunner

ITEMS = [
    {"id": "item-1", "content": {"sku": "kettle", "quantity": 2}},
    {"id": "item-2", "content": {"sku": "teapot", "quantity": 1}},
    {"id": "item-3", "content": {"sku": "mug", "quantity": "three"}},  # malformed
    {"id": "item-4", "content": {"sku": "spoon", "quantity": 6}},
]


def _malformed(record: dict[str, Any]) -> bool:
    body = json.loads(base64.b64decode(record["kinesis"]["data"]))
    content = body.get("content") if isinstance(body, dict) else None
    data = body.get("data") if isinstance(body, dict) else None
    for candidate in (content, data, (data or {}).get("content") if isinstance(data, dict) else None):
        if isinstance(candidate, dict) and "quantity" in candidate:
            return not isinstance(candidate["quantity"], int)
    return False


def _strict_inventory(event: dict[str, Any], call: Any) -> Any:
    for record in event["Records"]:
        if _malformed(record):
            raise ValueError(f"record {record['kinesis']['sequenceNumber']}: quantity is not an integer")
    return call(event)


def _say(event: RunnerEvent) -> None:
    d = event.detail
    who = event.function.split("HandlerFunction")[0].removeprefix("Events")
    if event.kind == "invoke" and not d.get("direct"):
        span = d["first"] if d["first"] == d["last"] else f"{d['first']}..{d['last']}"
        verdict = {"ok": "ok", "partial": f"partial failure {d['failed']}", "error": f"FAILED ({d['error']})"}[d["outcome"]]
        print(f"  {who:<18} batch [{span}] ({d['count']} records, attempt {d['attempt']}): {verdict}")
    elif event.kind == "on-failure":
        print(f"  {who:<18} gave up on [{d['first']}..{d['last']}] ({d['condition']}) -> on-failure message to the DLQ")
    elif event.kind == "discarded":
        print(f"  {who:<18} discarded [{d['first']}..{d['last']}] ({d['condition']}; no destination)")


def run_demo(outdir: Path, endpoint: str, *, region: str = "us-east-1", stack: str | None = None) -> int:
    """Run the story; return 0 when the poison record was isolated and redriven."""
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "local")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "local")
    print(f"1. Deploying {outdir} on {endpoint} (resources by API, handlers loaded from the assets)")
    runner = LocalRunner.from_assembly(outdir, stack, endpoint_url=endpoint, region=region,
                                       extra_environment={"POWERTOOLS_LOG_LEVEL": "CRITICAL"}).deploy()
    for note in runner.notes:
        print(f"   note: {note}")
    print(f"   functions: {', '.join(sorted(runner.functions))}")
    inventory = runner.function("EventsInventoryUpdater")
    if inventory.wrappers == []:
        print("   the reference inventory handler only logs today: injecting the order validation it will have")
        inventory.wrappers.append(_strict_inventory)
    print("2. PUT items through the API handler (item-3 has quantity \"three\")")
    for item in ITEMS:
        runner.invoke("Api", item)
        print(f"   PUT {item['id']} {json.dumps(item['content'])}")
    print("3. The event source mappings poll the stream")
    runner.log.listeners.append(_say)
    runner.run(max_rounds=2000)
    runner.log.listeners.remove(_say)
    dlq = runner.resource("EventsInventoryUpdaterDeadLetterQueue", "AWS::SQS::Queue").ref
    print("4. Fix the handler (the validation accepts it now) and redrive the DLQ with the redrive tool")
    inventory.wrappers.clear()
    code, run = redrive_queue_to_function(endpoint_url=endpoint, region=region, queue_url=dlq, function=inventory)
    print(f"   redrive: {run.counts or 'no messages'}; {run.records_delivered} record(s) delivered, "
          f"{run.records_missing} missing (exit {code})")
    isolated = len(runner.log.of("on-failure")) == 1
    print("Done: the poison record was isolated and recovered; every other record flowed." if isolated and code == 0
          else "Done, but the story did not go as expected (see above).")
    return 0 if isolated and code == 0 else 1

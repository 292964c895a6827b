"""Runtime benchmark: prints ratios measured in one run (not a test; no time limits).

Run from the repository root:

    .venv/bin/python benchmarks/bench_runtime.py [--consumer-only] [--runtime DIR]

``--runtime DIR`` measures the ``event_pipeline_runtime`` package in ``DIR`` instead of this
checkout's (e.g. an older one extracted with ``git archive``); ``--consumer-only`` runs part 1.

Measures:

1. consumer cost per record for one 10,000-record Kinesis batch: a raw
   ``json.loads(b64decode(...))`` loop, a plain Powertools ``BatchProcessor`` handler, and a
   ``pipeline_handler`` handler (best of several rounds each, same process);
2. producer ``PutRecords`` calls for 10,000 records against a local moto server: clean,
   under 30% injected per-entry throttling, and with KPL aggregation;
3. cold import of a handler module that uses the runtime vs ``import boto3`` (fresh
   interpreters, median of several runs).
"""

from __future__ import annotations

import base64
import json
import logging
import os
import random
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RUNTIME = ROOT / "lambdas" / "runtime" / "python"
if "--runtime" in sys.argv:  # read before the runtime is imported below
    RUNTIME = Path(sys.argv[sys.argv.index("--runtime") + 1]).resolve()
sys.path.insert(0, str(RUNTIME))

for _key, _value in {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_EC2_METADATA_DISABLED": "true",
    "POWERTOOLS_SERVICE_NAME": "bench",
    "POWERTOOLS_TRACE_DISABLED": "true",
}.items():
    os.environ.setdefault(_key, _value)

from event_pipeline_runtime import encode_payload, make_envelope  # noqa: E402

RECORDS = 10_000
ROUNDS = 7


def kinesis_event(n: int = RECORDS) -> dict[str, Any]:
    """A 10,000-record Kinesis event of ~200-byte enveloped JSON records (one shard)."""
    records = []
    for i in range(n):
        body = make_envelope("order.created", {"order": f"o-{i}", "sku": f"SKU-{i % 97}", "qty": i % 7 + 1})
        records.append(
            {
                "kinesis": {
                    "kinesisSchemaVersion": "1.0",
                    "partitionKey": f"o-{i % 500}",
                    "sequenceNumber": str(49_650_000_000_000_000_000 + i),
                    "data": base64.b64encode(encode_payload(body)).decode("ascii"),
                    "approximateArrivalTimestamp": 1_700_000_000.0 + i / 1000,
                },
                "eventSource": "aws:kinesis",
                "eventVersion": "1.0",
                "eventID": f"shardId-000000000000:{49_650_000_000_000_000_000 + i}",
                "eventName": "aws:kinesis:record",
                "invokeIdentityArn": "arn:aws:iam::123456789012:role/consumer",
                "awsRegion": "us-east-1",
                "eventSourceARN": "arn:aws:kinesis:us-east-1:123456789012:stream/events",
            }
        )
    return {"Records": records}


def best_of(fn: Any, rounds: int = ROUNDS) -> float:
    """Best wall time of ``rounds`` calls, in seconds."""
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def bench_consumer() -> dict[str, float]:
    from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response

    from event_pipeline_runtime import pipeline_handler

    event = kinesis_event()
    sink: list[Any] = []

    def raw() -> None:
        loads, b64decode = json.loads, base64.b64decode
        for record in event["Records"]:
            sink.append(loads(b64decode(record["kinesis"]["data"])))
        sink.clear()

    processor = BatchProcessor(event_type=EventType.KinesisDataStreams)

    def powertools_record_handler(record: Any) -> None:
        sink.append(record.kinesis.data_as_json())

    def powertools() -> None:
        response = process_partial_response(event=event, record_handler=powertools_record_handler, processor=processor)
        assert not response["batchItemFailures"]
        sink.clear()

    runtime_handler = pipeline_handler(lambda r: sink.append(r.data), source="kinesis", idempotent=False)

    def runtime() -> None:
        response = runtime_handler(event, None)
        assert not response["batchItemFailures"]
        sink.clear()

    # Rounds are interleaved (raw, powertools, runtime, raw, ...) so that a change in machine
    # load hits the three alike; each figure is the best round.
    handlers = (("raw", raw), ("powertools", powertools), ("runtime", runtime))
    for _, fn in handlers:
        fn()  # warm up
    best = {name: float("inf") for name, _ in handlers}
    for _ in range(ROUNDS):
        for name, fn in handlers:
            best[name] = min(best[name], best_of(fn, 1))
    return {name: seconds / RECORDS * 1e6 for name, seconds in best.items()}  # microseconds per record


class Throttling:
    """Wraps a Kinesis client; fails ``rate`` of the entries of every PutRecords without sending them.

    With ``whole_calls=True`` it instead fails ``rate`` of the calls as a whole
    (``ProvisionedThroughputExceededException`` raised, nothing written).
    """

    def __init__(self, client: Any, rate: float, seed: int, *, whole_calls: bool = False) -> None:
        self.client, self.rate, self.rng, self.whole_calls = client, rate, random.Random(seed), whole_calls

    def put_records(self, *, Records: list[dict[str, Any]], **kwargs: Any) -> dict[str, Any]:  # noqa: N803
        if self.whole_calls:
            if self.rng.random() < self.rate:
                from botocore.exceptions import ClientError

                raise ClientError({"Error": {"Code": "ProvisionedThroughputExceededException"}}, "PutRecords")
            return self.client.put_records(Records=Records, **kwargs)
        failed = {i for i in range(len(Records)) if self.rng.random() < self.rate}
        sent = [r for i, r in enumerate(Records) if i not in failed]
        real = iter(self.client.put_records(Records=sent, **kwargs)["Records"] if sent else [])
        throttled = {"ErrorCode": "ProvisionedThroughputExceededException", "ErrorMessage": "injected"}
        out = [dict(throttled) if i in failed else next(real) for i in range(len(Records))]
        return {"FailedRecordCount": len(failed), "Records": out}


def bench_producer() -> dict[str, Any]:
    import boto3
    from moto.server import ThreadedMotoServer

    from event_pipeline_runtime import put_events

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        client = boto3.client("kinesis", endpoint_url=f"http://{host}:{port}", region_name="us-east-1")
        keys = 1000
        records = [(f"key-{i % keys}", {"k": i % keys, "n": i, "pad": "x" * 120}) for i in range(RECORDS)]
        out: dict[str, Any] = {}
        counter = iter(range(1000))

        def fresh_stream() -> str:
            name = f"bench-{next(counter)}"
            client.create_stream(StreamName=name, ShardCount=4)
            return name

        start = time.perf_counter()
        out["clean"] = put_events(fresh_stream(), records, client=client).api_calls
        out["clean_seconds"] = time.perf_counter() - start
        throttled = [
            put_events(fresh_stream(), records, client=Throttling(client, 0.3, seed), sleep=lambda _: None).api_calls
            for seed in range(5)
        ]
        out["throttled"] = throttled
        out["throttled_calls"] = [
            put_events(
                fresh_stream(), records, client=Throttling(client, 0.3, seed, whole_calls=True), sleep=lambda _: None
            ).api_calls
            for seed in range(5)
        ]
        out["aggregated"] = put_events(fresh_stream(), records, client=client, aggregate=True).api_calls
        out["aggregated_throttled"] = [
            put_events(
                fresh_stream(), records, client=Throttling(client, 0.3, seed), aggregate=True, sleep=lambda _: None
            ).api_calls
            for seed in range(5)
        ]
        return out
    finally:
        server.stop()


HANDLER_MODULE = textwrap.dedent(
    """
    from event_pipeline_runtime import ConsumerRecord, pipeline_handler

    def process(record: ConsumerRecord) -> None:
        pass

    handler = pipeline_handler(process, source="kinesis")
    """
)


def _cold(code: str, env: dict[str, str], runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True, env=env)
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def bench_cold_import(runs: int = 9) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as folder:
        Path(folder, "bench_handler.py").write_text(HANDLER_MODULE)
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([folder, str(RUNTIME)]), "PYTHONDONTWRITEBYTECODE": "1"}
        env.pop("IDEMPOTENCY_TABLE_NAME", None)
        # Warm the OS file cache and the bytecode caches once.
        for code in ("import bench_handler", "import boto3"):
            subprocess.run([sys.executable, "-c", code], check=True, env={**env, "PYTHONDONTWRITEBYTECODE": ""})
        return {
            "python": _cold("pass", env, runs),
            "boto3": _cold("import boto3", env, runs),
            "boto3_dynamodb_client": _cold("import boto3; boto3.client('dynamodb')", env, runs),
            "handler": _cold("import bench_handler", env, runs),
            "handler_idempotent": _cold(
                "import bench_handler", {**env, "IDEMPOTENCY_TABLE_NAME": "idempotency"}, runs
            ),
        }


def main() -> None:
    print(f"python {sys.version.split()[0]} on {os.cpu_count()} cpu(s); runtime from {RUNTIME}")
    consumer = bench_consumer()
    raw = consumer["raw"]
    print(f"\nconsumer, {RECORDS:,}-record Kinesis batch (best of {ROUNDS}), microseconds per record:")
    for name, value in consumer.items():
        print(f"  {name:<11} {value:6.2f} us/record  {value / raw:4.2f}x raw")
    print(f"  runtime vs plain Powertools: {consumer['runtime'] / consumer['powertools']:.2f}x")
    if "--consumer-only" in sys.argv:
        return

    producer = bench_producer()
    print(f"\nproducer, {RECORDS:,} records, 1,000 partition keys, 4-shard moto stream, PutRecords calls:")
    print(f"  clean:                  {producer['clean']}  ({producer['clean_seconds']:.2f} s)")
    print(f"  30% entries throttled:  {producer['throttled']}  (5 seeds)")
    print(f"  30% calls throttled:    {producer['throttled_calls']}  (5 seeds)")
    print(f"  aggregated:             {producer['aggregated']}")
    print(f"  aggregated, 30% thr.:   {producer['aggregated_throttled']}  (5 seeds)")

    cold = bench_cold_import()
    print("\ncold start, median wall time of a fresh interpreter (ms):")
    for name, value in cold.items():
        print(f"  {name:<22} {value:7.1f} ms   (+{value - cold['python']:.1f} ms over bare python)")
    print(
        f"  handler import cost / boto3 import cost: "
        f"{(cold['handler'] - cold['python']) / (cold['boto3'] - cold['python']):.2f}x, "
        f"idempotent handler: {(cold['handler_idempotent'] - cold['python']) / (cold['boto3'] - cold['python']):.2f}x "
        f"(it builds its DynamoDB client at import; vs boto3 + a DynamoDB client: "
        f"{(cold['handler_idempotent'] - cold['python']) / (cold['boto3_dynamodb_client'] - cold['python']):.2f}x)"
    )


if __name__ == "__main__":
    main()

"""Peak memory of a consumer decoding hostile records, measured in a fresh process.

Used by ``tests/runtime/test_runtime_memory.py`` (which asserts a bound) and by
``benchmarks/bench_decode_memory.py`` (which prints the figures of ``docs/benchmarks.md``).

Two halves:

* :func:`write_event` (run in the parent) writes a Lambda event holding hostile records
  between two good ones, each on its own shard (SQS: its own message), to a JSON file;
* ``python memory_probe.py EVENT.json SOURCE`` (the child) imports what a real handler imports
  (boto3 and a client, Powertools ``Logger``/``Metrics``/``Tracer``, the runtime), runs a
  ``pipeline_handler`` on the event and prints one JSON line: the peak resident set size
  (``VmHWM`` of ``/proc/self/status``, the high-water mark of this process image; not
  ``ru_maxrss``, which Linux carries over from the parent across ``fork``/``exec``: a child of
  a big pytest process would report the parent's size) before and after the handler ran, the
  failed item identifiers, the failure
  reasons logged and how many records ``process`` saw. The child caps its data segment
  (``RLIMIT_DATA``, env ``PROBE_DATA_CAP_MIB``, default 1024) so a runaway decode ends in a
  ``MemoryError`` instead of eating the machine.

The child reads the function's memory from ``AWS_LAMBDA_FUNCTION_MEMORY_SIZE`` like Lambda
code does, and the runtime from ``PYTHONPATH`` (so an older runtime can be measured too).
"""

from __future__ import annotations

import base64
import gzip
import json
import sys
import zlib
from pathlib import Path
from typing import Any

MIB = 1024 * 1024

# The costliest JSON per byte of text measured (Python 3.11): chains of single-element lists,
# ~48 bytes of objects per byte. Depth 100 stays far below the parser's recursion limit.
NESTED_UNIT = b"[" * 100 + b"]" * 100 + b","
EMPTY_LISTS_UNIT = b"[],"


def json_text(unit: bytes, size: int) -> bytes:
    """A JSON array of repeated ``unit`` elements, at most ``size`` bytes long."""
    count = max(0, (size - 3) // len(unit))
    return b"[" + unit * count + b"0]"


def gzip_members(unit: bytes, size: int, member_bytes: int = 4 * MIB) -> bytes:
    """Gzip of ``json_text(unit, size)`` as several members (cheap to build for big sizes)."""
    count = max(0, (size - 3) // len(unit))
    per_member = max(1, member_bytes // len(unit))
    body = gzip.compress(unit * per_member, compresslevel=9, mtime=0)
    full, rest = divmod(count, per_member)
    parts = [gzip.compress(b"[", mtime=0), body * full]
    if rest:
        parts.append(gzip.compress(unit * rest, compresslevel=9, mtime=0))
    parts.append(gzip.compress(b"0]", mtime=0))
    return b"".join(parts)


def zeros_bomb(compressed_size: int) -> bytes:
    """Gzip of zero bytes, about ``compressed_size`` long (~1,000x expansion): 1 MiB members."""
    member = zlib.compressobj(9, zlib.DEFLATED, 31)
    block = member.compress(b"\0" * MIB) + member.flush()
    return block * max(1, compressed_size // len(block))


def kinesis_event(payloads: list[bytes]) -> dict[str, Any]:
    """A Kinesis event, one record per payload, each on its own shard."""
    return {
        "Records": [
            {
                "kinesis": {
                    "kinesisSchemaVersion": "1.0",
                    "partitionKey": f"pk-{i}",
                    "sequenceNumber": str(49_000_000_000 + i),
                    "data": base64.b64encode(payload).decode("ascii"),
                    "approximateArrivalTimestamp": 1_795_312_800.0,
                },
                "eventSource": "aws:kinesis",
                "eventVersion": "1.0",
                "eventID": f"shardId-{i:012d}:{49_000_000_000 + i}",
                "eventName": "aws:kinesis:record",
                "invokeIdentityArn": "arn:aws:iam::123456789012:role/consumer",
                "awsRegion": "us-east-1",
                "eventSourceARN": "arn:aws:kinesis:us-east-1:123456789012:stream/events",
            }
            for i, payload in enumerate(payloads)
        ]
    }


def sqs_event(bodies: list[str]) -> dict[str, Any]:
    """An SQS event (standard queue), one message per body."""
    return {
        "Records": [
            {
                "messageId": f"m-{i}",
                "receiptHandle": f"r-{i}",
                "body": body,
                "attributes": {"ApproximateReceiveCount": "1"},
                "messageAttributes": {},
                "md5OfBody": "",
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:work",
                "awsRegion": "us-east-1",
            }
            for i, body in enumerate(bodies)
        ]
    }


GOOD = json.dumps({"type": "t", "version": 1, "id": "good", "data": {}}).encode()


def derived_limit(memory_mb: int) -> int:
    """The runtime's default limit for a function of ``memory_mb`` (see codec.py)."""
    return max(MIB, (memory_mb - 64) * MIB // 128)


def hostile_payload(case: str, memory_mb: int) -> bytes:
    """The hostile Kinesis record data of ``case`` for a function of ``memory_mb``."""
    limit = derived_limit(memory_mb)
    if case == "nested-just-under-limit":  # the costliest record the runtime accepts
        return gzip_members(NESTED_UNIT, limit - 64)
    if case == "empty-lists-just-under-limit":
        return gzip_members(EMPTY_LISTS_UNIT, limit - 64)
    if case == "nested-bomb-61k":  # ~61 KiB of gzip, 64 MiB of nested-list JSON
        return gzip_members(NESTED_UNIT, 64 * MIB - 64)
    if case == "zeros-bomb-1m":  # ~1 MiB of gzip, ~1 GiB of zero bytes
        return zeros_bomb(MIB)
    if case == "plain-nested-1m":  # no gzip: a 1 MiB record of nested lists
        return json_text(NESTED_UNIT, MIB - 64)
    if case == "deep-nesting":  # 100,000 levels: the parser's RecursionError
        return gzip.compress(b"[" * 100_000 + b"]" * 100_000, mtime=0)
    if case == "aggregate-of-bombs":  # KPL: 64 user records, each half the limit
        from event_pipeline_runtime.aggregation import aggregate_records

        return aggregate_records([("k", gzip_members(NESTED_UNIT, limit // 2))] * 64)
    raise ValueError(f"unknown case {case!r}")


KINESIS_CASES = (
    "nested-just-under-limit",
    "empty-lists-just-under-limit",
    "nested-bomb-61k",
    "zeros-bomb-1m",
    "plain-nested-1m",
    "deep-nesting",
    "aggregate-of-bombs",
)
"""Hostile Kinesis records."""
ACCEPTED = frozenset({"nested-just-under-limit", "empty-lists-just-under-limit", "plain-nested-1m"})
"""Cases within the limit at 256 MB (processed); the others fail."""


def write_event(path: Path, memory_mb: int, cases: tuple[str, ...] = KINESIS_CASES) -> str:
    """Write a Kinesis event ``[good, <case>..., good]`` (one shard per record); return "kinesis".

    The case ``sqs-failing-1m-x<N>`` writes instead an SQS event of N 1 MiB nested-list
    bodies that the probe's handler fails (a failed record must not stay in memory); it
    returns "sqs".
    """
    if len(cases) == 1 and cases[0].startswith("sqs-failing-1m-x"):
        text = json_text(NESTED_UNIT, MIB - 64).decode()
        path.write_text(json.dumps(sqs_event([text] * int(cases[0].rpartition("x")[2]))))
        return "sqs"
    payloads = [GOOD, *(hostile_payload(case, memory_mb) for case in cases), GOOD]
    path.write_text(json.dumps(kinesis_event(payloads)))
    return "kinesis"


RUNTIME = Path(__file__).resolve().parents[2] / "lambdas" / "runtime" / "python"


def run_probe(
    event_path: Path, source: str, memory_mb: int, *, runtime: Path = RUNTIME, cap_mib: int = 1024
) -> dict[str, Any]:
    """Run the child on ``event_path`` in a fresh interpreter; return what it printed.

    Args:
        event_path: The event written by :func:`write_event`.
        source: ``"kinesis"`` or ``"sqs"``.
        memory_mb: The function memory the child sees (``AWS_LAMBDA_FUNCTION_MEMORY_SIZE``).
        runtime: Directory holding the ``event_pipeline_runtime`` package to measure.
        cap_mib: The child's data segment cap.

    Returns:
        ``before_mib``, ``peak_mib``, ``failed``, ``processed``, ``reasons``, ``limit``.
    """
    import os
    import subprocess

    env = {
        **os.environ,
        "PYTHONPATH": str(runtime),
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(memory_mb),
        "PROBE_DATA_CAP_MIB": str(cap_mib),
        "POWERTOOLS_TRACE_DISABLED": "true",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    env.pop("EVENT_PIPELINE_MAX_DECOMPRESSED_BYTES", None)
    done = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), str(event_path), source],
        capture_output=True, text=True, env=env, check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"memory probe failed ({done.returncode}): {done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def peak_rss_kib() -> int:
    """This process image's peak resident set size in KiB (``VmHWM``; ``ru_maxrss`` off Linux)."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def _child(event_path: str, source: str) -> None:  # pragma: no cover - runs in a subprocess
    import logging
    import os
    import resource

    cap = int(os.environ.get("PROBE_DATA_CAP_MIB", "1024")) * MIB
    resource.setrlimit(resource.RLIMIT_DATA, (cap, cap))

    import boto3  # what a real handler imports and builds at init
    from aws_lambda_powertools import Logger, Metrics, Tracer

    boto3.client("dynamodb", region_name="us-east-1")
    Logger(service="probe")
    Metrics(namespace="Probe", service="probe")
    Tracer(disabled=True)
    from event_pipeline_runtime import pipeline_handler

    reasons: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            reasons.append(str(getattr(record, "failure_reason", record.getMessage()))[:300])

    log = logging.getLogger("probe")
    log.propagate = False
    log.addHandler(Collect())
    log.setLevel(logging.ERROR)
    seen = [0]

    def process(record: Any) -> None:
        seen[0] += 1
        if source == "sqs":
            raise ValueError("the handler refuses this message")

    event = json.loads(Path(event_path).read_text())
    handler = pipeline_handler(process, source=source, logger=log, idempotent=False)
    before = peak_rss_kib()
    response = handler(event, None)
    peak = peak_rss_kib()
    print(json.dumps({
        "before_mib": round(before / 1024, 1),
        "peak_mib": round(peak / 1024, 1),
        "failed": [item["itemIdentifier"] for item in response["batchItemFailures"]],
        "processed": seen[0],
        "reasons": reasons,
        "limit": getattr(handler, "max_decompressed_bytes", None),
    }))


if __name__ == "__main__":  # pragma: no cover
    _child(sys.argv[1], sys.argv[2])

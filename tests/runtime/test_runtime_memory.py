"""Finding 4: a small hostile record cannot run a consumer out of memory.

Peak resident memory (``VmHWM``) is measured in a fresh interpreter that imports what a real
handler imports (boto3 and a client, Powertools, the runtime) and sees the memory of a 256 MB
function (``AWS_LAMBDA_FUNCTION_MEMORY_SIZE``), see ``memory_probe.py``. Memory, unlike time,
does not depend on how busy the machine is, nor (``VmHWM``, not ``ru_maxrss``) on the size of
the pytest process that starts the child. Figures for other sizes and the runtime
before the fix: ``docs/benchmarks.md`` (``benchmarks/bench_decode_memory.py``).
"""

from __future__ import annotations

from pathlib import Path

from memory_probe import derived_limit, run_probe, write_event

MEMORY_MB = 256
CASES = ("nested-just-under-limit", "nested-bomb-61k", "zeros-bomb-1m", "deep-nesting", "aggregate-of-bombs")
"""The costliest record under the limit first, then four that must fail (the benchmark runs more)."""


def test_a_batch_of_hostile_records_stays_well_within_a_256_mb_function(tmp_path: Path) -> None:
    """Gzip bombs (61 KiB -> 64 MiB of nested lists, 1 MiB -> 1 GiB of zeros, a KPL aggregate of
    bombs), 100,000-deep nesting and the costliest records still under the limit, in one
    batch between two good records, each on its own shard."""
    event = tmp_path / "event.json"
    source = write_event(event, MEMORY_MB, CASES)
    result = run_probe(event, source, MEMORY_MB)

    # The worst case (a record just under the limit, ~48 bytes of objects per byte) peaks at
    # ~140 MiB (measured); before the fix, the 61 KiB bomb alone needed ~3 GiB.
    assert result["peak_mib"] <= 0.6 * MEMORY_MB, result
    # Every hostile record failed alone, with its reason; the good ones and the costliest
    # record within the limit were processed.
    hostile = {f"{49_000_000_000 + i + 1}": case for i, case in enumerate(CASES)}
    assert [hostile[item] for item in result["failed"]] == list(CASES[1:])
    assert result["processed"] == 3
    assert result["limit"] == derived_limit(MEMORY_MB) == 1536 * 1024
    reasons = " | ".join(result["reasons"])
    assert reasons.count("over the limit of 1572864 bytes") == 2  # the two gzip bombs
    assert "nested too deeply" in reasons and "left of the limit of 1572864 bytes" in reasons


def test_failed_records_do_not_stay_in_memory(tmp_path: Path) -> None:
    """Five 1 MiB SQS bodies of nested lists that the handler fails: Powertools keeps each
    failure's exception; its traceback must not keep the decoded body alive (measured: +34 MiB
    for five, ~+230 MiB before the fix)."""
    event = tmp_path / "event.json"
    source = write_event(event, MEMORY_MB, ("sqs-failing-1m-x5",))
    result = run_probe(event, source, MEMORY_MB)

    assert result["failed"] == [f"m-{i}" for i in range(5)] and result["processed"] == 5
    assert result["peak_mib"] - result["before_mib"] <= 80, result

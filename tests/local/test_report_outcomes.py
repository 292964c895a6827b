"""The run report counts records per outcome per mapping (issue 20), as docs/local-runner.md shows.

Before issue 20 ``filtered`` counted only the filtered-out records at the head of a lane; records
the filter dropped between two matching ones were checkpointed past without being counted (6
authorizations interleaved with 4 captures: ``filtered`` said 0).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from cdk_event_pipeline.local import LocalPipeline

from .assembly_builder import TemplateBuilder

DOC = Path(__file__).resolve().parents[2] / "docs" / "local-runner.md"
CAPTURES = (0, 3, 6, 9)  # the other 6 of 10 payments are authorizations, between them
POISON = 5


def _payments_app(deploy: Any) -> LocalPipeline:
    builder = TemplateBuilder()
    stream = builder.stream("Payments")
    dlq = builder.queue("ScorerFailures")
    notifier = builder.function("NotifierFunction", "scenario_handler.process_all")
    scorer = builder.function("ScorerFunction", "scenario_handler.raise_on_poison")
    builder.mapping("Notifier", notifier, stream, BatchSize=10, StartingPosition="TRIM_HORIZON",
                    FilterCriteria={"Filters": [{"Pattern": json.dumps({"data": {"kind": ["capture"]}})}]})
    builder.mapping("Scorer", scorer, stream, BatchSize=10, StartingPosition="TRIM_HORIZON",
                    BisectBatchOnFunctionError=True, MaximumRetryAttempts=1,
                    DestinationConfig={"OnFailure": {"Destination": dlq}})
    pipeline = deploy(builder)
    pipeline.put_records("Payments", [
        {"kind": "capture" if i in CAPTURES else "authorization", "n": i, "poison": i == POISON} for i in range(10)
    ], partition_key="customer-1")
    return pipeline


def _example() -> str:
    text = DOC.read_text(encoding="utf-8")
    match = re.search(r"<!-- outcomes-example -->\n```python\n(.*?)```", text, re.DOTALL)
    assert match, "docs/local-runner.md lost its outcomes example"
    return match.group(1)


def test_the_documented_outcome_assertions_hold(deploy) -> None:
    pipeline = _payments_app(deploy)
    exec(compile(_example(), str(DOC), "exec"), {"pipeline": pipeline})  # noqa: S102 - the doc's own example


def test_records_dropped_between_matching_ones_are_counted_as_filtered_out(deploy) -> None:
    pipeline = _payments_app(deploy)

    report = pipeline.run_until_idle()

    notifier = report.mappings["Notifier"]
    assert notifier.filtered == notifier.outcomes["filtered_out"] == 6
    (invocation,) = pipeline.invocations("Notifier")
    assert [r["n"] for r in invocation.records] == list(CAPTURES)
    scorer = report.mappings["Scorer"].outcomes
    assert scorer["failed"] > 0 and scorer["invoked"] == scorer["succeeded"] + scorer["failed"]
    assert list(scorer) == ["invoked", "succeeded", "failed", "filtered_out", "discarded_for_age",
                            "retries_exhausted", "delivered_to_on_failure"]

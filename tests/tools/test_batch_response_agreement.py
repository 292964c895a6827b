"""The redrive tool's targets and the local runner read a handler's response with one reader
(event_pipeline_runtime.batch_response): they judge every response alike.

Before, ``tools/targets.py`` took a response that is not a JSON object for "all delivered" and
``local/invoke.py`` for "the whole batch failed", so ``event-pipeline redrive`` into a handler
judged it differently from the runner that runs it."""

from __future__ import annotations

from typing import Any

import pytest

from cdk_event_pipeline.local.functions import Invocation
from cdk_event_pipeline.local.invoke import read_response
from cdk_event_pipeline.tools.records import SourceRecord
from cdk_event_pipeline.tools.targets import HandlerTarget, first_failed_index

RECORDS = [SourceRecord("kinesis", "arn:aws:kinesis:us-east-1:123456789012:stream/s", "shardId-0", str(n), "k", b"{}")
           for n in (1, 2, 3)]
IDS = [r.sequence_number for r in RECORDS]

RESPONSES: list[Any] = [
    None, {}, {"batchItemFailures": []}, {"batchItemFailures": None},
    "OK", 1, [], ["1"],
    {"batchItemFailures": [{"itemIdentifier": "2"}]},
    {"batchItemFailures": [{"itemIdentifier": "3"}, {"itemIdentifier": "2"}]},
    {"batchItemFailures": [{"itemIdentifier": ""}]},
    {"batchItemFailures": [{"itemIdentifier": None}]},
    {"batchItemFailures": [{"id": "2"}]},
    {"batchItemFailures": [{"itemIdentifier": "9"}]},
    {"batchItemFailures": [{"itemIdentifier": 2}]},
    {"batchItemFailures": "2"},
]


@pytest.mark.parametrize("response", RESPONSES, ids=repr)
def test_the_tools_and_the_runner_agree(response: Any) -> None:
    outcome = read_response(Invocation(response=response), IDS, report_failures=True)
    tools = first_failed_index(response, RECORDS)
    if outcome.status == "ok":
        assert tools is None
    elif outcome.status == "partial":
        assert tools == outcome.failed_index
    else:
        assert tools == 0


@pytest.mark.parametrize("response", ["OK", 1, ["1"], []], ids=repr)
def test_a_response_that_is_not_an_object_fails_the_whole_batch_in_the_tools(response: Any) -> None:
    """The case the two readers disagreed on (on main, the tools counted it as delivered)."""
    assert first_failed_index(response, RECORDS) == 0


def test_redrive_into_a_handler_that_answers_text_delivers_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    target = HandlerTarget("answers:handler", [], batch_size=10)
    target._handler = lambda event, context: "OK"
    outcome = target.deliver(list(RECORDS))
    assert outcome.delivered == 0
    assert outcome.error is not None and "not a JSON object" in outcome.error

"""Issue 19: values the library reads back through jsii are read once.

Each read is a round trip to jsii's Node process. Round trips are counted, not timed: the counts do
not depend on the machine's load (benchmarks/jsii_calls.py and synth_ratio.py measure the time).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import aws_cdk as cdk
import pytest
from jsii._kernel.providers import process

from cdk_event_pipeline import EventStream, PipelineFunction, PipelineMonitoring, bundled_code, pipeline_layers
from cdk_event_pipeline._accounts import account_of
from cdk_event_pipeline._validation import child_path, path_of
from tests._cdk import new_app


@contextmanager
def round_trips() -> Iterator[list[int]]:
    """Count the requests sent to jsii's Node process inside the block (``counted[0]``)."""
    counted = [0]
    send = process._NodeProcess.send

    def counting(self: Any, request: Any, response_type: Any) -> Any:
        counted[0] += 1
        return send(self, request, response_type)

    process._NodeProcess.send = counting  # type: ignore[method-assign]
    try:
        yield counted
    finally:
        process._NodeProcess.send = send  # type: ignore[method-assign]


@pytest.fixture(scope="module")
def built() -> dict[str, Any]:
    app = new_app()
    stack = cdk.Stack(app, "Speed", env=cdk.Environment(account="111111111111", region="eu-west-1"))
    events = EventStream(stack, "Events")
    function = PipelineFunction(stack, "Fn", code=bundled_code("runtime"), handler="index.handler")
    return {"stack": stack, "events": events, "function": function}


READS: dict[str, Callable[[dict[str, Any]], Any]] = {
    "path_of": lambda b: path_of(b["events"]),
    "child_path": lambda b: child_path(b["events"], "Child"),
    "role_path": lambda b: PipelineMonitoring.role_path(b["events"]),
    "account_of": lambda b: account_of(b["function"]),
    "PipelineMonitoring.of": lambda b: PipelineMonitoring.of(b["function"]),
    "pipeline_layers": lambda b: pipeline_layers(b["function"]),
}


@pytest.mark.parametrize("name", list(READS))
def test_a_second_read_makes_no_round_trip(built, name):
    read = READS[name]
    first = read(built)
    with round_trips() as counted:
        again = read(built)
    assert counted[0] == 0, f"{name} went to jsii {counted[0]} times on the second call"
    assert again == first


def test_the_cached_values_are_the_ones_jsii_gives(built):
    events, stack = built["events"], built["stack"]
    assert path_of(events) == events.node.path == "Speed/Events"
    assert PipelineMonitoring.role_path(events) == "Events"
    assert PipelineMonitoring.role_path(stack) == ""
    assert account_of(built["function"]) == "111111111111"
    assert PipelineMonitoring.of(events) is stack.node.find_child(PipelineMonitoring.CONSTRUCT_ID)
    layers = pipeline_layers(events)
    assert [layer.node.path for layer in layers] == ["Speed/PowertoolsLayer", "Speed/EventPipelineRuntimeLayer"]

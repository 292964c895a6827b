"""Filters vs encodings (issue 9, finding 3): a consumer's filter on the record ``data`` and a
producer that compresses or KPL-aggregates its records cannot meet on one stream silently.

Lambda applies a data filter only to JSON data, so such a consumer would never see that
producer's records. Whichever side is added first, the second raises, naming both sides and the
fix; filters on other keys and JSON producers stay allowed.
"""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import assertions
from aws_cdk import aws_lambda as lambda_

from cdk_event_pipeline import EventStream, PipelineFunction, PipelineValidationError, StreamConsumer, bundled_code
from tests._cdk import logical_id, new_app

ORDER_FILTER = lambda_.FilterCriteria.filter({"data": {"type": ["order.placed"]}})
KEY_FILTER = lambda_.FilterCriteria.filter({"partitionKey": [{"prefix": "order-"}]})
OR_FILTER = lambda_.FilterCriteria.filter({"$or": [{"partitionKey": ["a"]}, {"data": {"type": ["x"]}}]})
ORDER_PATTERN = '{"data":{"type":["order.placed"]}}'


def code() -> dict[str, Any]:
    return {"code": bundled_code("audit"), "handler": "audit_handler.handler"}


def producer(stack: cdk.Stack) -> PipelineFunction:
    return PipelineFunction(stack, "Producer", **code())


ENCODINGS = [{"compress": True}, {"aggregate": True}, {"compress": True, "aggregate": True}]


def _described(encoding: dict[str, bool]) -> str:
    return ", ".join(f"{k}=True" for k in ("compress", "aggregate") if encoding.get(k))


@pytest.mark.parametrize("encoding", ENCODINGS, ids=["compress", "aggregate", "both"])
def test_data_filter_first_then_encoding_producer_raises(stack, encoding):
    events = EventStream(stack, "Events")
    events.add_consumer("Orders", **code(), filters=[ORDER_FILTER])
    fn = producer(stack)
    with pytest.raises(PipelineValidationError) as error:
        events.connect_producer(fn, **encoding)
    path = stack.node.path
    assert str(error.value) == (
        f"{path}/Events: producer {path}/Producer ({_described(encoding)}) writes records that the "
        f"filter {ORDER_PATTERN} of consumer {path}/Events/Orders on the record data can never match: "
        "Lambda applies a data filter only to JSON data, so every record of that producer would be filtered "
        "out unprocessed. Fix: filter on another key (e.g. partitionKey) or in the handler, or connect the "
        "producer with compress=False, aggregate=False"
    )
    assert events.producers == []  # nothing recorded, nothing granted


@pytest.mark.parametrize("encoding", ENCODINGS, ids=["compress", "aggregate", "both"])
def test_encoding_producer_first_then_data_filter_raises(stack, encoding):
    events = EventStream(stack, "Events")
    events.connect_producer(producer(stack), **encoding)
    with pytest.raises(PipelineValidationError) as error:
        events.add_consumer("Orders", **code(), filters=[ORDER_FILTER])
    path = stack.node.path
    assert str(error.value) == (
        f"{path}/Events/Orders: filter {ORDER_PATTERN} on the record data can never match the records "
        f"producer {path}/Producer writes to {path}/Events ({_described(encoding)}): Lambda applies "
        "a data filter only to JSON data, so every record of that producer would be filtered out "
        "unprocessed. Fix: filter on another key (e.g. partitionKey) or in the handler, or connect the "
        "producer with compress=False, aggregate=False"
    )
    # raised before the consumer built anything
    assert events.node.try_find_child("Orders") is None or not events.node.find_child("Orders").node.children


def test_data_filter_in_an_or_branch_counts(stack):
    events = EventStream(stack, "Events")
    events.connect_producer(producer(stack), aggregate=True)
    with pytest.raises(PipelineValidationError, match="on the record data can never match"):
        events.add_consumer("Orders", **code(), filters=[KEY_FILTER, OR_FILTER])


def test_consumer_built_directly_on_the_event_streams_stream_is_checked(stack):
    events = EventStream(stack, "Events")
    events.connect_producer(producer(stack), compress=True)
    with pytest.raises(PipelineValidationError, match="producer .*/Producer writes to"):
        StreamConsumer(stack, "Direct", stream=events.stream, **code(), filters=[ORDER_FILTER])


def test_consumer_built_directly_is_checked_when_the_producer_comes_later(stack):
    events = EventStream(stack, "Events")
    StreamConsumer(stack, "Direct", stream=events.stream, **code(), filters=[ORDER_FILTER])
    with pytest.raises(PipelineValidationError, match="of consumer .*/Direct on the record data"):
        events.connect_producer(producer(stack), compress=True)


# --- allowed combinations, synthesized once ---------------------------------------------------------


@pytest.fixture(scope="module")
def allowed():
    stack = cdk.Stack(new_app(), "Allowed")
    events = EventStream(stack, "Events")
    keyed = events.add_consumer("ByKey", **code(), filters=[KEY_FILTER])        # not on data: fine
    compressing = PipelineFunction(stack, "Compressing", **code())
    events.connect_producer(compressing, compress=True, aggregate=True)
    json_stream = EventStream(stack, "Json")
    json_stream.add_consumer("Orders", **code(), filters=[ORDER_FILTER])
    plain = PipelineFunction(stack, "Plain", **code())
    json_stream.connect_producer(plain)                                # JSON: fine
    granted = PipelineFunction(stack, "Granted", **code())
    json_stream.grant_put(granted)                                    # no encoding known: no check
    return {"stack": stack, "events": events, "json": json_stream, "keyed": keyed,
            "compressing": compressing, "plain": plain, "template": assertions.Template.from_stack(stack)}


def test_filters_on_other_keys_and_json_producers_are_allowed(allowed):
    assert [(p.compress, p.aggregate) for p in allowed["events"].producers] == [(True, True)]
    assert [(p.compress, p.aggregate) for p in allowed["json"].producers] == [(False, False)]
    assert allowed["keyed"].data_filters == []
    assert allowed["json"].consumers[0].data_filters == [ORDER_PATTERN]


@pytest.mark.parametrize(("name", "stream", "compress", "aggregate"), [
    ("compressing", "events", "true", "true"),
    ("plain", "json", "false", "false"),
])
def test_connect_producer_sets_the_runtime_producers_defaults(allowed, name, stream, compress, aggregate):
    allowed["template"].has_resource_properties("AWS::Lambda::Function", {
        "Environment": {"Variables": assertions.Match.object_like({
            "STREAM_NAME": {"Ref": logical_id(allowed[stream].stream)},
            "EVENT_PIPELINE_COMPRESS": compress,
            "EVENT_PIPELINE_AGGREGATE": aggregate,
            "POWERTOOLS_SERVICE_NAME": name.capitalize(),
        })},
    })

"""Record data is decoded strictly (``base64.b64decode(..., validate=True)``) wherever the runner
reads it: data that is not valid base64 is never decoded by skipping characters; it is treated
as Lambda treats data that is not JSON for filters (no match), left alone by the demo's fix, and
shown as the text it is."""

from __future__ import annotations

import base64
import json

from cdk_event_pipeline.local import EventFilter
from cdk_event_pipeline.local.demo import _patched
from cdk_event_pipeline.local.values import decode_data as _decode_data

ORDER = {"type": "order.placed", "data": {"order_id": "o-1", "quantity": "three"}}
# base64 of the order with a character outside the alphabet inserted: a lenient decoder skips it
# and reads the order; a strict one refuses it.
VALID = base64.b64encode(json.dumps(ORDER).encode()).decode()
TAMPERED = VALID[:8] + "!" + VALID[8:]


def _record(data: str) -> dict:
    return {"kinesis": {"data": data, "sequenceNumber": "1", "partitionKey": "k"}, "eventSource": "aws:kinesis"}


def test_the_tampered_data_is_what_a_lenient_decoder_would_accept() -> None:
    assert json.loads(base64.b64decode(TAMPERED)) == ORDER  # the lenient reading this guards against


def test_a_filter_does_not_match_data_that_is_not_valid_base64() -> None:
    orders = EventFilter({"Filters": [{"Pattern": json.dumps({"data": {"type": ["order.placed"]}})}]}, "kinesis")
    assert orders.matches_record(_record(VALID))
    for data in (TAMPERED, VALID.rstrip("="), "not base64 at all", ""):
        assert not orders.matches_record(_record(data)), data


def test_the_demo_fix_leaves_data_it_cannot_read_to_the_handler() -> None:
    seen: list[dict] = []
    event = {"Records": [_record(TAMPERED), _record(VALID)]}

    _patched(event, lambda e: seen.append(e))

    (delivered,) = seen
    assert delivered["Records"][0]["kinesis"]["data"] == TAMPERED  # untouched: the handler judges it
    fixed = json.loads(base64.b64decode(delivered["Records"][1]["kinesis"]["data"], validate=True))
    assert fixed["data"]["quantity"] == 3


def test_invocation_records_show_data_that_is_not_valid_base64_as_its_text() -> None:
    assert _decode_data(VALID) == ORDER
    assert _decode_data(TAMPERED) == TAMPERED
    assert _decode_data(base64.b64encode(b"\xff\xfe").decode()) == base64.b64encode(b"\xff\xfe").decode()

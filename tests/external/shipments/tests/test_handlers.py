"""The team's handlers, run as Lambda runs them, against a local moto server."""

from __future__ import annotations

import base64
import json
import os
from typing import Any

import label_handler
import pytest
import tracker_handler
from event_pipeline_runtime import encode_payload, make_envelope

SHARD = "shardId-000000000000"


def raw(payload: Any) -> bytes:
    """Bytes as they are, anything else encoded the way the runtime's producer writes it."""
    return payload if isinstance(payload, bytes) else encode_payload(payload)


def kinesis_event(*payloads: Any) -> dict[str, Any]:
    """A Kinesis event of one shard with these payloads, sequence numbers 1, 2, ..."""
    return {
        "Records": [
            {
                "kinesis": {
                    "kinesisSchemaVersion": "1.0",
                    "partitionKey": f"key-{n}",
                    "sequenceNumber": str(n),
                    "data": base64.b64encode(raw(payload)).decode(),
                    "approximateArrivalTimestamp": 1_700_000_000.0 + n,
                },
                "eventSource": "aws:kinesis",
                "eventVersion": "1.0",
                "eventID": f"{SHARD}:{n}",
                "eventName": "aws:kinesis:record",
                "awsRegion": "eu-west-1",
                "eventSourceARN": "arn:aws:kinesis:eu-west-1:123456789012:stream/shipments",
            }
            for n, payload in enumerate(payloads, start=1)
        ]
    }


def dispatched(shipment_id: str, carrier: str | None = "dhl", postcode: str | None = "10115") -> dict[str, Any]:
    return make_envelope("shipment.dispatched", {"shipment_id": shipment_id, "carrier": carrier, "postcode": postcode})


def labels(s3: Any, bucket: str) -> dict[str, str]:
    listing = s3.list_objects_v2(Bucket=bucket).get("Contents", [])
    return {o["Key"]: s3.get_object(Bucket=bucket, Key=o["Key"])["Body"].read().decode() for o in listing}


@pytest.fixture
def printer(aws: Any) -> Any:
    label_handler._clients.clear()  # a cold start: the client is made against the moto server
    return label_handler


def test_prints_one_label_per_dispatched_shipment(printer: Any, aws: Any, lambda_context: Any) -> None:
    response = printer.handler(kinesis_event(dispatched("S-1"), dispatched("S-2", carrier="ups")), lambda_context)

    assert response == {"batchItemFailures": []}
    assert labels(aws, os.environ["LABEL_BUCKET"]) == {
        "labels/S-1.txt": "DHL 10115 S-1",
        "labels/S-2.txt": "UPS 10115 S-2",
    }


def test_an_invalid_shipment_fails_and_holds_back_the_rest_of_its_shard(
    printer: Any, aws: Any, lambda_context: Any
) -> None:
    event = kinesis_event(dispatched("S-1"), dispatched("S-2", postcode=None), dispatched("S-3"))
    response = printer.handler(event, lambda_context)

    # S-2 fails; S-3 comes after it in the shard, so it comes back from the checkpoint too.
    assert response == {"batchItemFailures": [{"itemIdentifier": "2"}, {"itemIdentifier": "3"}]}
    assert set(labels(aws, os.environ["LABEL_BUCKET"])) == {"labels/S-1.txt"}


def test_undecodable_data_and_other_event_types(printer: Any, aws: Any, lambda_context: Any) -> None:
    event = kinesis_event(make_envelope("shipment.delivered", {"shipment_id": "S-9"}), b"\x00not json")
    response = printer.handler(event, lambda_context)

    assert response == {"batchItemFailures": [{"itemIdentifier": "2"}]}  # the delivered event is not ours
    assert labels(aws, os.environ["LABEL_BUCKET"]) == {}


def test_label_text_names_what_is_missing() -> None:
    with pytest.raises(label_handler.InvalidShipmentError, match="lacks carrier, postcode"):
        label_handler.label_text({"shipment_id": "S-4"})


def test_tracker_counts_per_carrier_and_reports_undecodable_records(capsys: pytest.CaptureFixture[str]) -> None:
    event = kinesis_event(dispatched("S-1"), dispatched("S-2", carrier="ups"), dispatched("S-3"), b"{broken")

    response = tracker_handler.handler(event, None)

    assert response == {"batchItemFailures": [{"itemIdentifier": "4"}]}
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1]) == {"per_carrier": {"dhl": 2, "ups": 1}}

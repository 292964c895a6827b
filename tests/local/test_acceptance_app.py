"""Acceptance: a user's app unlike the reference one (tests/local/apps/shipments: two stream
consumers with different settings, one with enhanced fan-out, an SQS FIFO worker), synthesized
with ``cdk.json`` like any CDK project and tested the way its author would, with the
``local_pipeline_factory`` fixture: put a poison record, run until idle, and check what AWS's
documentation says happens (Lambda Developer Guide: Kinesis error handling and partial batch
responses, Amazon SQS FIFO queues and dead-letter queues)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from cdk_event_pipeline.local import synthesize

APP = Path(__file__).resolve().parent / "apps" / "shipments"
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def local_pipeline_assembly(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The app synthesized once for the module, with a cdk.json as `cdk init` would write it.

    This overrides the plugin's fixture of the same name (which synthesizes the rootdir's app),
    the documented way to point ``local_pipeline`` at another app.
    """
    app = tmp_path_factory.mktemp("shipments-app")
    shutil.copytree(APP, app, dirs_exist_ok=True, ignore=shutil.ignore_patterns("__pycache__"))
    context = json.loads((ROOT / "cdk.json").read_text())["context"]
    (app / "cdk.json").write_text(json.dumps({"app": "python3 app.py", "context": context}))
    return synthesize(app, app / "cdk.out")


@pytest.fixture
def shipments(local_pipeline):
    return local_pipeline


# The README's example ("Run your pipeline locally"), verbatim.
def test_a_bad_weight_is_isolated_and_every_other_shipment_gets_a_label(local_pipeline):
    shipments = [{"shipment_id": f"s-{n:02d}", "weight_kg": 1.5, "to": "Oslo"} for n in range(30)]
    shipments[12]["weight_kg"] = "heavy"                          # the consumer fails this record
    sequences = local_pipeline.put_records("Shipments", shipments, partition_key=lambda s: s["shipment_id"])

    local_pipeline.run_until_idle()

    # Lambda bisects the failing batch until the record is alone, retries it twice, then gives
    # up on it and sends the batch's metadata to the consumer's on-failure destination.
    (failure,) = local_pipeline.failures("Shipments/Labels")
    assert failure["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert failure["requestContext"]["approximateInvokeCount"] == 3   # 1 + retry_attempts
    assert failure["KinesisBatchInfo"]["startSequenceNumber"] == sequences[12]
    assert failure["KinesisBatchInfo"]["batchSize"] == 1
    labelled = {item["id"] for item in local_pipeline.table_items("Labels")}
    assert labelled == {s["shipment_id"] for s in shipments} - {"s-12"}


def _shipment(n: int, **changes: object) -> dict:
    return {"shipment_id": f"s-{n:02d}", "weight_kg": 1.5, "to": "Oslo", "carrier": "post", **changes}


def test_a_poison_shipment_is_isolated_by_one_consumer_and_gives_up_a_batch_in_the_other(shipments) -> None:
    good = [_shipment(n) for n in range(30)]
    poison = _shipment(99, weight_kg="heavy", carrier=None)
    records = [*good[:12], poison, *good[12:]]
    sequences = shipments.put_records("Shipments", records, partition_key=lambda s: s["shipment_id"])
    poison_seq = sequences[12]

    shipments.run_until_idle()

    # Labels (bisect, 2 retries, partial batch responses): the poison alone is given up on after
    # 1 + 2 attempts; its on-failure message names exactly it; every good shipment got a label.
    (failure,) = shipments.failures("Shipments/Labels")
    assert failure["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert failure["requestContext"]["approximateInvokeCount"] == 3
    info = failure["KinesisBatchInfo"]
    assert (info["startSequenceNumber"], info["endSequenceNumber"], info["batchSize"]) == (poison_seq, poison_seq, 1)
    assert sorted(item["id"] for item in shipments.table_items("Labels")) == sorted(s["shipment_id"] for s in good)
    assert {item["grams"] for item in shipments.table_items("Labels")} == {1500}

    # Tracking (enhanced fan-out, no bisect, no retries): the batch holding the poison fails once and
    # is given up on whole; the other records are tracked, each once.
    (given_up,) = shipments.failures("Shipments/Tracking")
    assert given_up["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert given_up["requestContext"]["approximateInvokeCount"] == 1
    failed = [inv for inv in shipments.invocations("Shipments/Tracking") if inv.outcome == "error"]
    assert len(failed) == 1 and poison in failed[0].records
    assert given_up["KinesisBatchInfo"]["batchSize"] == len(failed[0].records)
    assert (given_up["KinesisBatchInfo"]["startSequenceNumber"], given_up["KinesisBatchInfo"]["endSequenceNumber"]) == (
        failed[0].ids[0], failed[0].ids[-1])
    tracked = shipments.function("Shipments/Tracking").module.TRACKED
    lost_with_poison = {s["shipment_id"] for s in failed[0].records} - {"s-99"}
    assert sorted(tracked) == sorted({s["shipment_id"] for s in good} - lost_with_poison)
    # the mapping's source is the enhanced fan-out consumer, whose ARN resolved locally
    mapping = shipments.runner.stack.resources[shipments.find("Shipments/Tracking", "mapping")]
    assert "/consumer/" in shipments.runner.resolve(mapping["Properties"]["EventSourceArn"])
    assert any("enhanced fan-out" in note for note in shipments.notes())


def test_a_poison_notification_blocks_only_its_message_group_until_it_reaches_the_dlq(shipments) -> None:
    sends = [("s-01", {"email": "not an address", "text": "s-01 shipped"}),
             ("s-02", {"email": "b@example.com", "text": "s-02 shipped"}),
             ("s-01", {"email": "a@example.com", "text": "s-01 out for delivery"}),
             ("s-02", {"email": "b@example.com", "text": "s-02 delivered"}),
             ("s-01", {"email": "a@example.com", "text": "s-01 delivered"})]
    ids = [shipments.send_message("Notifications", body, group_id=group) for group, body in sends]

    shipments.run_until_idle()

    # The poison message is received maxReceiveCount (3) times, then the queue moves it to the DLQ.
    (dead,) = shipments.dead_letters("Notifications")
    assert dead.message_id == ids[0] and dead.json["text"] == "s-01 shipped" and dead.receive_count == 3
    attempts = [inv for inv in shipments.invocations("Notifications/Sender") if inv.ids == [ids[0]]]
    assert [(inv.outcome, inv.failed) for inv in attempts] == [("partial", [ids[0]])] * 3
    # FIFO: its group waited for it, in order; the other group was not held up.
    sent = shipments.function("Notifications/Sender").module.SENT
    assert [text for group, text in sent if group == "s-01"] == ["s-01 out for delivery", "s-01 delivered"]
    assert [text for group, text in sent if group == "s-02"] == ["s-02 shipped", "s-02 delivered"]
    assert sent.index(("s-02", "s-02 shipped")) < sent.index(("s-01", "s-01 out for delivery"))
    assert shipments.queue_messages("Notifications") == []


def test_the_command_runs_the_app_with_its_enhanced_fan_out_consumer(local_pipeline_assembly, capsys) -> None:
    from cdk_event_pipeline.cli import main

    shipment = json.dumps(_shipment(1))
    code = main(["local", "--cdk-out", str(local_pipeline_assembly), "--put", f"Shipments={shipment}",
                 "--partition-key", "s-01", "--items"])

    out = capsys.readouterr().out
    assert code == 0, out
    assert "mapping   Shipments/Tracking" in out and "mapping   Shipments/Labels" in out
    assert "table     Labels/Table: 1 item(s)" in out and '"grams": 1500' in out

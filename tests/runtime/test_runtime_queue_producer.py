"""QueueProducer: SQS sends with a tenant key (``MessageGroupId``) for fair queues.

Against the moto server: moto 5.2.5 accepts ``MessageGroupId`` on a standard queue and returns it
as a message attribute, but does not validate it (a 129-character or a space-containing id is
accepted), and has no fair scheduling. So what a moto test proves is that the id is sent and
arrives; the validation is the runtime's own (tested without any call: the botocore Stubber with
no queued answer fails on any request), and fairness itself is SQS's, not testable here.
"""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from runtime_events import REGION, sqs_event

from event_pipeline_runtime import QueueProducer, QueueSendError, contract, make_envelope


@pytest.fixture
def sqs(aws: str) -> Any:
    return boto3.client("sqs", region_name=REGION)


@pytest.fixture
def queue_url(sqs: Any) -> str:
    return str(sqs.create_queue(QueueName="jobs")["QueueUrl"])


def _received(sqs: Any, url: str) -> dict[str, str | None]:
    records = sqs_event(sqs, url, max_messages=20)["Records"]
    return {r["body"]: r["attributes"].get("MessageGroupId") for r in records}


def test_send_sets_the_tenant_as_message_group_id_on_a_standard_queue(sqs: Any, queue_url: str) -> None:
    producer = QueueProducer(queue_url, client=sqs)
    producer.send({"job": 1}, tenant="customer-42")
    producer.send("plain", tenant="customer-7")
    producer.send({"job": 3})
    assert _received(sqs, queue_url) == {'{"job":1}': "customer-42", "plain": "customer-7", '{"job":3}': None}


def test_send_batch_sets_it_per_entry_in_requests_of_ten(sqs: Any, queue_url: str) -> None:
    calls: list[int] = []
    sqs.meta.events.register(
        "provide-client-params.sqs.SendMessageBatch", lambda params, **_: calls.append(len(params["Entries"]))
    )
    producer = QueueProducer(queue_url, client=sqs, fair=True)
    ids = producer.send_batch([({"n": n}, f"tenant-{n % 3}") for n in range(12)])
    assert calls == [10, 2] and len(set(ids)) == 12
    received = _received(sqs, queue_url)
    assert received == {json.dumps({"n": n}, separators=(",", ":")): f"tenant-{n % 3}" for n in range(12)}


def test_the_fair_variable_makes_a_tenant_required(monkeypatch: pytest.MonkeyPatch, sqs: Any, queue_url: str) -> None:
    monkeypatch.setenv(contract.QUEUE_URL_ENV, queue_url)
    monkeypatch.setenv(contract.QUEUE_FAIR_ENV, "true")
    producer = QueueProducer(client=sqs)
    assert producer.fair and producer.queue_url == queue_url
    with pytest.raises(ValueError, match=r"^message 0: tenant is required: the queue is fair \(EVENT_PIPELINE_QUEUE_FAIR"):
        producer.send({"job": 1})
    with pytest.raises(ValueError, match="^message 1: tenant is required"):
        producer.send_batch([({"n": 0}, "a"), ({"n": 1}, None)])
    assert _received(sqs, queue_url) == {}  # nothing was sent, not even the batch's valid first message


def test_a_bad_fair_variable_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(contract.QUEUE_FAIR_ENV, "yes")
    with pytest.raises(ValueError, match="EVENT_PIPELINE_QUEUE_FAIR must be 'true' or 'false'"):
        QueueProducer("https://sqs.eu-west-1.amazonaws.com/111111111111/jobs")


@pytest.mark.parametrize(
    ("tenant", "reason"),
    [
        ("", "must be 1-128 characters long (given 0)"),
        ("x" * 129, "must be 1-128 characters long (given 129)"),
        ("tenant 42", "with ' '"),
        ("kunde-ä", "with 'ä'"),
        (42, "must be a string (given int)"),
    ],
)
def test_an_invalid_message_group_id_is_refused_before_any_call(tenant: Any, reason: str) -> None:
    client = boto3.client("sqs", region_name=REGION, endpoint_url="http://127.0.0.1:9")
    with Stubber(client):  # no answer queued: any request would raise
        producer = QueueProducer("https://sqs.eu-west-1.amazonaws.com/111111111111/jobs", client=client)
        with pytest.raises(ValueError, match="^message 0: tenant \\(the SQS MessageGroupId\\) ") as info:
            producer.send({"job": 1}, tenant=tenant)
        assert reason in str(info.value)


def test_the_longest_id_and_every_punctuation_character_are_accepted() -> None:
    punctuation = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"
    assert contract.message_group_id_error("a" * 128) is None
    assert contract.message_group_id_error("Az09" + punctuation) is None


def test_entries_sqs_refuses_raise_with_their_index() -> None:
    url = "https://sqs.eu-west-1.amazonaws.com/111111111111/jobs"
    client = boto3.client("sqs", region_name=REGION, endpoint_url="http://127.0.0.1:9")
    with Stubber(client) as stub:
        stub.add_response(
            "send_message_batch",
            {"Successful": [{"Id": "0", "MessageId": "m0", "MD5OfMessageBody": "x"}],
             "Failed": [{"Id": "1", "SenderFault": False, "Code": "InternalError", "Message": "try again"}]},
            {"QueueUrl": url, "Entries": [
                {"Id": "0", "MessageBody": '{"n":0}', "MessageGroupId": "a"},
                {"Id": "1", "MessageBody": '{"n":1}', "MessageGroupId": "b"},
            ]},
        )
        with pytest.raises(QueueSendError) as info:
            QueueProducer(url, client=client).send_batch([({"n": 0}, "a"), ({"n": 1}, "b")])
    assert info.value.failed == [(1, "InternalError", "try again", False)]
    assert info.value.message_ids == {0: "m0"}
    assert str(info.value) == "1 message(s) were not enqueued: message 1: InternalError try again"


def test_send_event_wraps_the_data_in_an_envelope(sqs: Any, queue_url: str) -> None:
    envelope = QueueProducer(queue_url, client=sqs).send_event("job.created", {"id": 7}, tenant="t1", id="e-1")
    assert {k: v for k, v in envelope.items() if k != "at"} == {
        k: v for k, v in make_envelope("job.created", {"id": 7}, id="e-1").items() if k != "at"
    }
    (body, group), = _received(sqs, queue_url).items()
    assert json.loads(body) == envelope and group == "t1"


def test_its_own_client_is_made_anew_after_a_snapstart_restore(aws: str, queue_url: str) -> None:
    from event_pipeline_runtime.producer import refresh_after_restore

    own = QueueProducer(queue_url)
    injected_client = boto3.client("sqs", region_name=REGION)
    injected = QueueProducer(queue_url, client=injected_client)
    before = own.client
    refresh_after_restore()
    assert own.client is not before and injected.client is injected_client

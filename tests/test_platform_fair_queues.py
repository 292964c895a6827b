"""SQS fair queues (issue 17, item 11), the construct side: ``WorkQueue.connect_producer(fn, fair=True)``.

A fair queue is a standard queue whose messages carry a tenant key as ``MessageGroupId`` ("Amazon
SQS fair queues", SQS Developer Guide). The construct only tells the runtime to send one (env
``EVENT_PIPELINE_QUEUE_FAIR``); the grant stays exactly ``sqs:SendMessage`` (MessageGroupId is a
SendMessage parameter, no other action is involved). The runtime side is in
tests/runtime/test_runtime_queue_producer.py and tests/runtime/test_runtime_consumer.py.
"""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import assertions

from cdk_event_pipeline import PipelineFunction, PipelineValidationError, WorkQueue, bundled_code
from event_pipeline_runtime import contract
from tests._cdk import get_att_arn, logical_id, new_app, role_statements


def code() -> dict[str, Any]:
    return {"code": bundled_code("audit"), "handler": "audit_handler.handler"}


@pytest.fixture(scope="module")
def fair() -> dict[str, Any]:
    app = new_app()
    stack = cdk.Stack(app, "Fair")
    queue = WorkQueue(stack, "Jobs")
    fair_producer = PipelineFunction(stack, "FairProducer", **code())
    plain_producer = PipelineFunction(stack, "PlainProducer", **code())
    queue.connect_producer(fair_producer, fair=True)
    queue.connect_producer(plain_producer)
    return {"template": assertions.Template.from_stack(stack), "queue": queue,
            "fair": fair_producer, "plain": plain_producer}


def _env(template: assertions.Template, fn: Any) -> dict[str, Any]:
    resource = template.to_json()["Resources"][logical_id(fn)]
    return resource["Properties"]["Environment"]["Variables"]


def test_fair_producer_gets_the_fair_variable_and_the_url(fair):
    env = _env(fair["template"], fair["fair"])
    assert contract.QUEUE_FAIR_ENV == "EVENT_PIPELINE_QUEUE_FAIR"
    assert env[contract.QUEUE_FAIR_ENV] == "true"
    assert env[contract.QUEUE_URL_ENV] == {"Ref": logical_id(fair["queue"].queue)}


def test_a_producer_without_fair_gets_no_fair_variable(fair):
    assert contract.QUEUE_FAIR_ENV not in _env(fair["template"], fair["plain"])


def test_fair_producer_still_gets_exactly_send_message(fair):
    statements = role_statements(fair["template"], fair["fair"].role)
    assert statements[-1] == {
        "Action": "sqs:SendMessage", "Effect": "Allow", "Resource": get_att_arn(fair["queue"].queue),
    }


def test_the_queue_stays_a_standard_queue(fair):
    props = fair["template"].to_json()["Resources"][logical_id(fair["queue"].queue)]["Properties"]
    assert "FifoQueue" not in props


def test_fair_on_a_fifo_queue_is_refused(stack):
    queue = WorkQueue(stack, "Ordered", fifo=True)
    fn = PipelineFunction(stack, "Producer", **code())
    with pytest.raises(PipelineValidationError) as info:
        queue.connect_producer(fn, fair=True)
    assert str(info.value) == (
        f"{queue.node.path}: fair must be False for a FIFO queue (given True): on a FIFO queue MessageGroupId is "
        "an ordering group, not a tenant (SQS fair queues are standard queues, "
        "https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-fair-queues.html). "
        "Fix: use a standard queue (fifo=False), or drop fair=True and send a message group id"
    )


def test_fair_on_a_wrapped_fifo_queue_is_refused(stack):
    from aws_cdk import aws_sqs as sqs

    existing = sqs.Queue.from_queue_arn(stack, "Existing", "arn:aws:sqs:eu-west-1:111111111111:orders.fifo")
    queue = WorkQueue(stack, "Wrapped", queue=existing)
    fn = PipelineFunction(stack, "Producer", **code())
    with pytest.raises(PipelineValidationError, match="fair must be False for a FIFO queue"):
        queue.connect_producer(fn, fair=True)


def test_one_function_with_and_without_fair_is_refused(stack):
    first = WorkQueue(stack, "First")
    second = WorkQueue(stack, "Second")
    fn = PipelineFunction(stack, "Producer", **code())
    first.connect_producer(fn, fair=True)
    with pytest.raises(PipelineValidationError) as info:
        second.connect_producer(fn, env_var="SECOND_URL")
    assert str(info.value) == (
        f"{second.node.path}: fair must be the same for every queue a function produces to (given False; "
        f"{first.node.path} was connected with fair=True): EVENT_PIPELINE_QUEUE_FAIR is one variable per "
        "function. Fix: connect every queue of this function with the same fair, or pass "
        "QueueProducer(fair=...) in the handler and leave fair unset"
    )


def test_two_fair_queues_on_one_function_are_accepted(stack):
    first = WorkQueue(stack, "First")
    second = WorkQueue(stack, "Second")
    fn = PipelineFunction(stack, "Producer", **code())
    first.connect_producer(fn, fair=True)
    second.connect_producer(fn, env_var="SECOND_URL", fair=True)

"""SQS fidelity scenarios (AWS Lambda Developer Guide: Using Lambda with Amazon SQS: visibility
timeout, redrive after maxReceiveCount, partial batch responses), through the local runner."""

from __future__ import annotations

import json

from .assembly_builder import TemplateBuilder
from .conftest import queue_messages


def _worker(handler: str, max_receive_count: int = 3, **mapping: object) -> TemplateBuilder:
    builder = TemplateBuilder()
    dlq = builder.queue("WorkDeadLetterQueue")
    queue = builder.queue("WorkQueue", VisibilityTimeout=30,
                          RedrivePolicy={"deadLetterTargetArn": dlq, "maxReceiveCount": max_receive_count})
    function = builder.function("Worker", handler)
    builder.mapping("Mapping", function, queue, **mapping)
    return builder


def _send(runner, bodies: list[dict]) -> list[str]:
    client = runner.client("sqs")
    url = runner.resource("WorkQueue").ref
    return [client.send_message(QueueUrl=url, MessageBody=json.dumps(b))["MessageId"] for b in bodies]


def test_message_failing_max_receive_count_times_lands_in_the_dlq(deploy, aws) -> None:
    runner = deploy(_worker("scenario_handler.raise_on_poison", max_receive_count=3, BatchSize=1))
    (poison,) = _send(runner, [{"n": 0, "poison": True}])
    good = _send(runner, [{"n": i} for i in range(1, 4)])

    runner.run(max_rounds=50)

    module = runner.function("Worker").module
    attempts = [batch for batch in module.INVOCATIONS if batch == [poison]]
    assert len(attempts) == 3  # received maxReceiveCount times, then the queue moved it
    assert sorted(module.PROCESSED) == sorted(good)
    dead = queue_messages(aws, runner.resource("WorkDeadLetterQueue").ref)
    assert [m["MessageId"] for m in dead] == [poison]
    assert json.loads(dead[0]["Body"]) == {"n": 0, "poison": True}
    assert queue_messages(aws, runner.resource("WorkQueue").ref) == []


def test_partial_batch_failure_deletes_only_the_successes(deploy, aws) -> None:
    runner = deploy(_worker("scenario_handler.report_poison", max_receive_count=5, BatchSize=10,
                            FunctionResponseTypes=["ReportBatchItemFailures"]))
    ids = _send(runner, [{"n": i, "poison": i in (2, 5)} for i in range(8)])

    runner.run(max_invocations=1)

    (first,) = runner.log.of("invoke", "Mapping")
    assert sorted(first.detail["failed"]) == sorted([ids[2], ids[5]])
    assert sorted(first.detail["deleted"]) == sorted(i for n, i in enumerate(ids) if n not in (2, 5))
    module = runner.function("Worker").module
    assert len(module.PROCESSED) == 6
    runner.run(max_invocations=1)  # after the visibility timeout only the two failures come back
    second = runner.log.of("invoke", "Mapping")[1]
    assert sorted(second.detail["receive_counts"]) == sorted([ids[2], ids[5]])
    assert set(second.detail["receive_counts"].values()) == {2}


def test_without_report_batch_item_failures_a_partial_response_deletes_everything(deploy, aws) -> None:
    runner = deploy(_worker("scenario_handler.report_poison", BatchSize=10))
    _send(runner, [{"n": i, "poison": i == 1} for i in range(3)])

    runner.run()

    (only,) = runner.log.of("invoke", "Mapping")
    assert only.detail["outcome"] == "ok" and len(only.detail["deleted"]) == 3  # the response is ignored
    assert queue_messages(aws, runner.resource("WorkDeadLetterQueue").ref) == []


def test_function_error_deletes_nothing_and_the_batch_comes_back(deploy, aws) -> None:
    runner = deploy(_worker("scenario_handler.raise_on_poison", max_receive_count=2, BatchSize=10))
    ids = _send(runner, [{"n": 0}, {"n": 1, "poison": True}])

    runner.run(max_rounds=20)

    module = runner.function("Worker").module
    assert module.PROCESSED == []  # the good message failed with its batch every time
    dead = {m["MessageId"] for m in queue_messages(aws, runner.resource("WorkDeadLetterQueue").ref)}
    assert dead == set(ids)

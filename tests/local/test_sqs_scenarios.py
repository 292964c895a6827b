"""SQS scenarios (AWS Lambda Developer Guide: Using Lambda with Amazon SQS: visibility timeout,
redrive after maxReceiveCount, partial batch responses), through the local runner."""

from __future__ import annotations

from .assembly_builder import TemplateBuilder


def _worker(handler: str, max_receive_count: int = 3, **mapping: object) -> TemplateBuilder:
    builder = TemplateBuilder()
    dlq = builder.queue("WorkDeadLetterQueue")
    queue = builder.queue("WorkQueue", VisibilityTimeout=30,
                          RedrivePolicy={"deadLetterTargetArn": dlq, "maxReceiveCount": max_receive_count})
    function = builder.function("Worker", handler)
    builder.mapping("Mapping", function, queue, **mapping)
    return builder


def test_message_failing_max_receive_count_times_lands_in_the_dlq(deploy) -> None:
    pipeline = deploy(_worker("scenario_handler.raise_on_poison", max_receive_count=3, BatchSize=1))
    (poison,) = pipeline.send_messages("WorkQueue", [{"n": 0, "poison": True}])
    good = pipeline.send_messages("WorkQueue", [{"n": i} for i in range(1, 4)])

    pipeline.run_until_idle()

    module = pipeline.function("Worker").module
    attempts = [batch for batch in module.INVOCATIONS if batch == [poison]]
    assert len(attempts) == 3  # received maxReceiveCount times, then the queue moved it
    assert sorted(module.PROCESSED) == sorted(good)
    (dead,) = pipeline.dead_letters("WorkQueue")
    assert dead.message_id == poison and dead.json == {"n": 0, "poison": True}
    assert pipeline.queue_messages("WorkQueue") == []


def test_partial_batch_failure_deletes_only_the_successes(deploy) -> None:
    pipeline = deploy(_worker("scenario_handler.report_poison", max_receive_count=5, BatchSize=10,
                              FunctionResponseTypes=["ReportBatchItemFailures"]))
    ids = pipeline.send_messages("WorkQueue", [{"n": i, "poison": i in (2, 5)} for i in range(8)])

    pipeline.run(max_invocations=1)

    (first,) = pipeline.invocations("Mapping")
    assert sorted(first.failed) == sorted([ids[2], ids[5]])
    assert sorted(first.detail["deleted"]) == sorted(i for n, i in enumerate(ids) if n not in (2, 5))
    assert len(pipeline.function("Worker").module.PROCESSED) == 6
    pipeline.run(max_invocations=1)  # after the visibility timeout only the two failures come back
    second = pipeline.invocations("Mapping")[1]
    assert sorted(second.ids) == sorted([ids[2], ids[5]])
    assert set(second.detail["receive_counts"].values()) == {2}
    assert second.detail["at"] - first.detail["at"] >= 30  # the visibility timeout, on the poller's clock


def test_without_report_batch_item_failures_a_partial_response_deletes_everything(deploy) -> None:
    pipeline = deploy(_worker("scenario_handler.report_poison", BatchSize=10))
    pipeline.send_messages("WorkQueue", [{"n": i, "poison": i == 1} for i in range(3)])

    pipeline.run_until_idle()

    (only,) = pipeline.invocations("Mapping")
    assert only.outcome == "ok" and len(only.detail["deleted"]) == 3  # the response is ignored
    assert pipeline.dead_letters("WorkQueue") == []


def test_function_error_deletes_nothing_and_the_batch_comes_back(deploy) -> None:
    pipeline = deploy(_worker("scenario_handler.raise_on_poison", max_receive_count=2, BatchSize=10))
    ids = pipeline.send_messages("WorkQueue", [{"n": 0}, {"n": 1, "poison": True}])

    pipeline.run_until_idle()

    assert pipeline.function("Worker").module.PROCESSED == []  # the good message failed with its batch every time
    assert {m.message_id for m in pipeline.dead_letters("WorkQueue")} == set(ids)


def test_a_fair_queue_tenant_is_not_an_ordering_group(deploy) -> None:
    # SQS fair queues: MessageGroupId on a standard queue names a tenant. moto (5.2.5) stores it and
    # returns it, and (checked) keeps no group in flight, like SQS; fair scheduling itself is SQS's and
    # not reproduced. The runtime must not hold back the tenant's later messages after a failure.
    pipeline = deploy(_worker("fair_handler.handler", BatchSize=10, FunctionResponseTypes=["ReportBatchItemFailures"]))
    ids = pipeline.send_messages("WorkQueue", [{"n": n, "poison": n == 1} for n in range(5)], group_id="tenant-a")

    pipeline.run(max_invocations=1)

    (first,) = pipeline.invocations("Mapping")
    assert sorted(first.ids) == sorted(ids) and first.failed == [ids[1]]
    processed = pipeline.function("Worker").module.PROCESSED
    assert sorted(processed) == [(0, "tenant-a"), (2, "tenant-a"), (3, "tenant-a"), (4, "tenant-a")]

"""Time in the local runner: ``advance`` (time passes for the whole pipeline), ``disable`` /
``enable`` (a consumer paused and back), ``run(let_time_pass=False)`` (only what is due now runs).

Each scenario would pass trivially without the time API: records put a moment ago are never old,
never past the stream's retention, and ``run_until_idle`` closes every window by itself.
"""

from __future__ import annotations

import pytest

from cdk_event_pipeline.local import RECORD_AGE_EXCEEDED

from .assembly_builder import TemplateBuilder, stream_consumer_app

HOUR = 3600



def test_records_that_waited_past_max_record_age_are_discarded_without_invoking(deploy) -> None:
    pipeline = deploy(stream_consumer_app("scenario_handler.process_all", MaximumRecordAgeInSeconds=HOUR,
                                          MaximumRetryAttempts=2, BisectBatchOnFunctionError=True))
    pipeline.disable("Mapping")
    backlog = pipeline.put_records("Stream", [{"n": i} for i in range(3)])
    pipeline.run_until_idle()
    assert pipeline.function("Consumer").module.INVOCATIONS == []  # disabled: nothing read

    pipeline.advance(2 * HOUR)  # the backlog waits two hours
    fresh = pipeline.put_record("Stream", {"n": 3})  # put after the wait: it arrives two hours later
    pipeline.enable("Mapping")
    report = pipeline.run_until_idle()

    assert pipeline.function("Consumer").module.INVOCATIONS == [[fresh]]  # the old ones never invoked
    (failure,) = pipeline.failures("Mapping")
    assert failure["requestContext"]["condition"] == RECORD_AGE_EXCEEDED
    assert failure["requestContext"]["approximateInvokeCount"] == 0
    info = failure["KinesisBatchInfo"]
    assert (info["startSequenceNumber"], info["endSequenceNumber"], info["batchSize"]) == (backlog[0], backlog[-1], 3)
    (mapping,) = report.mappings.values()
    assert mapping.discarded == {RECORD_AGE_EXCEEDED: 3} and mapping.invocations == 1
    assert f"3 {RECORD_AGE_EXCEEDED}" in str(report)


def test_a_backlog_within_max_record_age_is_processed(deploy) -> None:
    pipeline = deploy(stream_consumer_app("scenario_handler.process_all", MaximumRecordAgeInSeconds=HOUR))
    pipeline.disable("Mapping")
    backlog = pipeline.put_records("Stream", [{"n": i} for i in range(3)])
    pipeline.advance(HOUR - 60)
    pipeline.enable("Mapping")
    pipeline.run_until_idle()
    assert pipeline.function("Consumer").module.PROCESSED == backlog
    assert pipeline.failures("Mapping") == []


def test_records_past_the_streams_retention_are_gone_when_a_disabled_consumer_comes_back(deploy) -> None:
    pipeline = deploy(stream_consumer_app("scenario_handler.process_all", MaximumRecordAgeInSeconds=-1))
    pipeline.disable("Mapping")
    oldest = pipeline.put_records("Stream", [{"n": 0}, {"n": 1}])
    pipeline.advance(12 * HOUR)
    younger = pipeline.put_record("Stream", {"n": 2})
    pipeline.advance(13 * HOUR)  # the first two are 25 hours old, the third 13: retention is 24 hours
    pipeline.enable("Mapping")
    report = pipeline.run_until_idle()

    assert pipeline.function("Consumer").module.PROCESSED == [younger]
    assert pipeline.failures("Mapping") == []  # trimmed records reach no destination: Lambda never read them
    (trimmed,) = [e for e in pipeline.runner.log.events if e.kind == "trimmed"]
    assert (trimmed.detail["first"], trimmed.detail["last"], trimmed.detail["count"]) == (oldest[0], oldest[1], 2)
    (mapping,) = report.mappings.values()
    assert mapping.trimmed == 2 and "2 trimmed unread" in str(report)


def test_a_tumbling_window_closes_when_time_passes(deploy) -> None:
    pipeline = deploy(stream_consumer_app("scenario_handler.count_per_key", BatchSize=10, TumblingWindowInSeconds=900))
    pipeline.put_records("Stream", [{"n": i} for i in range(3)], partition_key="a")
    module = pipeline.function("Consumer").module

    first = pipeline.run(let_time_pass=False)
    again = pipeline.run(let_time_pass=False)  # no time passed: the window stays open
    assert [e["isFinalInvokeForWindow"] for e in module.WINDOW_EVENTS] == [False]
    assert not first.idle and not again.idle and again.stats.invocations == 0

    pipeline.advance(900)
    closed = pipeline.run(let_time_pass=False)

    assert closed.idle and closed.stats.invocations == 1
    final = module.WINDOW_EVENTS[-1]
    assert final["isFinalInvokeForWindow"] and final["state"] == {"a": 3} and final["count"] == 0


def test_a_failed_message_comes_back_after_its_visibility_timeout_passes(deploy) -> None:
    builder = TemplateBuilder()
    dlq = builder.queue("WorkDlq")
    queue = builder.queue("Work", VisibilityTimeout=60,
                          RedrivePolicy={"deadLetterTargetArn": dlq, "maxReceiveCount": 5})
    builder.mapping("Mapping", builder.function("Worker", "scenario_handler.raise_on_poison"), queue, BatchSize=1)
    pipeline = deploy(builder)
    pipeline.send_message("Work", {"poison": True})
    module = pipeline.function("Worker").module

    assert not pipeline.run(let_time_pass=False).idle
    pipeline.advance(59)
    pipeline.run(let_time_pass=False)
    assert len(module.INVOCATIONS) == 1  # still invisible
    pipeline.advance(1)
    pipeline.run(let_time_pass=False)
    assert len(module.INVOCATIONS) == 2


@pytest.mark.parametrize("seconds", [-1, "60", True])
def test_time_never_goes_back(deploy, seconds) -> None:
    pipeline = deploy(stream_consumer_app("scenario_handler.process_all"))
    with pytest.raises(ValueError, match=rf"advance: seconds must be a number >= 0 \(given {seconds!r}\)"):
        pipeline.advance(seconds)


def test_a_stamp_is_shifted_by_the_advances_made_before_it() -> None:
    from cdk_event_pipeline.local.clock import PipelineClock

    now = [1000.0004]
    clock = PipelineClock(real_time=lambda: now[0], sleep=lambda s: now.__setitem__(0, now[0] + s))
    assert clock.advance(60) == 1000.0004 and now[0] >= 1000.001  # waited for the next millisecond
    assert clock.shifted(1000.000) == 1000.000  # stamped before the advance (same millisecond included)
    assert clock.shifted(1000.001) == 1060.001  # stamped at or after it
    assert clock.now() == now[0] + 60


def test_the_retention_is_the_streams_own(deploy) -> None:
    builder = stream_consumer_app("scenario_handler.process_all", MaximumRecordAgeInSeconds=-1)
    builder.resources["Stream"]["Properties"]["RetentionPeriodHours"] = 48
    pipeline = deploy(builder)
    assert pipeline.runner.pollers["Mapping"].retention_seconds == 48 * HOUR
    pipeline.disable("Mapping")
    kept = pipeline.put_records("Stream", [{"n": 0}])
    pipeline.advance(25 * HOUR)  # past the default 24 hours, within this stream's 48
    pipeline.enable("Mapping")
    pipeline.run_until_idle()
    assert pipeline.function("Consumer").module.PROCESSED == kept

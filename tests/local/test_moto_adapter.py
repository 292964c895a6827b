"""The moto adapter (``cdk_event_pipeline.local._moto``): detected per feature, warned once, undone.

The snapshot below is taken when pytest imports this module, before any test runs: moto as
shipped (nothing is patched at import time). The tests then check that a closed pipeline, a
finished run and a finished ``local_pipeline`` fixture all leave every attribute the adapter
set as that snapshot has it, so a user's own moto tests later in the session see moto as shipped.
"""

from __future__ import annotations

import importlib
import warnings
from typing import Any

import boto3
import pytest

from cdk_event_pipeline.local import LocalEndpoint, LocalPipeline, _moto
from cdk_event_pipeline.local._moto import _botocore, _dispatch

from .assembly_builder import TemplateBuilder

#: Every module whose attributes (or whose classes' attributes) a speed-up may set.
MODULES = ("moto.core.responses", "moto.core.serialize", "moto.core.parse", "moto.dynamodb.comparisons",
           "moto.dynamodb.parsing.ast_nodes", "moto.dynamodb.parsing.validators",
           "moto.dynamodb.parsing.expressions", "moto.dynamodb.models", "moto.sqs.models", "moto.kinesis.models",
           "moto.dynamodb.models.table", "moto.moto_api._internal.moto_random", "botocore.handlers")
_ABSENT = object()


def _namespaces() -> dict[int, tuple[Any, dict[str, Any]]]:
    """``id(owner) -> (owner, a copy of its namespace)`` for the modules, their classes and the adapter's state."""
    owners: list[Any] = [_dispatch.state, _botocore.state]
    for name in MODULES:
        try:
            module = importlib.import_module(name)
        except ImportError:  # an older moto without it: no speed-up sets anything there
            continue
        owners.append(module)
        owners += [value for value in vars(module).values() if isinstance(value, type)]
    return {id(owner): (owner, dict(vars(owner))) for owner in owners}


SHIPPED = _namespaces()
SEEN_TARGETS: list[tuple[Any, str]] = []


def _assert_as_shipped(targets: list[tuple[Any, str]]) -> None:
    assert targets, "the speed-ups set nothing"
    for owner, name in targets:
        assert id(owner) in SHIPPED, f"{owner!r} is not among the owners the test snapshots"
        expected = SHIPPED[id(owner)][1].get(name, _ABSENT)
        assert vars(owner).get(name, _ABSENT) is expected, f"{owner!r}.{name} is still patched"
    assert _moto.applied() == [] and _moto.targets() == []


def _kinesis_pipeline() -> TemplateBuilder:
    builder = TemplateBuilder()
    stream = builder.stream()
    function = builder.function("Consumer", "scenario_handler.raise_on_poison")
    builder.mapping("Mapping", function, stream, StartingPosition="TRIM_HORIZON", BatchSize=10)
    return builder


def _user_moto_test() -> None:
    """A user's own moto test: ``mock_aws`` on moto as shipped."""
    from moto import mock_aws
    from moto.sqs.models import SQSBackend

    with mock_aws():
        assert _moto.applied() == []
        shipped = SHIPPED[id(SQSBackend)][1]["is_message_valid_based_on_retention_period"]
        assert vars(SQSBackend)["is_message_valid_based_on_retention_period"] is shipped
        sqs = boto3.client("sqs", region_name="us-east-1")
        url = sqs.create_queue(QueueName="users-own")["QueueUrl"]
        sqs.send_message(QueueUrl=url, MessageBody="hello")
        assert [m["Body"] for m in sqs.receive_message(QueueUrl=url)["Messages"]] == ["hello"]


def test_a_closed_pipeline_leaves_moto_as_shipped(tmp_path, monkeypatch) -> None:
    for key, value in {"AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local",
                       "AWS_DEFAULT_REGION": "us-east-1"}.items():
        monkeypatch.setenv(key, value)
    assert _moto.applied() == []
    handlers = importlib.import_module("botocore.handlers").BUILTIN_HANDLERS
    before = list(handlers)  # the session's endpoint, when an earlier test started it, has its hooks there
    endpoint = LocalEndpoint().start()
    endpoint.reset()  # moto's backends are process-wide: earlier tests' stacks are in them
    with LocalPipeline.from_assembly(_kinesis_pipeline().write(tmp_path / "cdk.out"), endpoint=endpoint) as pipeline:
        assert "kinesis.Shard" in _moto.applied()
        targets = _moto.targets()
        pipeline.put_records("Stream", [{"n": i} for i in range(20)])
        assert pipeline.run_until_idle().idle
        assert _moto.applied(), "a run inside an open pipeline keeps the pipeline's speed-ups"
    endpoint.stop()
    _assert_as_shipped(targets)
    assert handlers == before
    _user_moto_test()


def test_a_runner_run_holds_the_speed_ups_only_while_it_runs(deploy) -> None:
    pipeline = deploy(_kinesis_pipeline())
    runner = pipeline.runner
    pipeline._release_speedups()  # the pipeline lets go: only the run holds them now
    assert _moto.applied() == []
    seen: list[list[str]] = []
    runner.log.listeners.append(lambda event: seen.append(_moto.applied()))
    pipeline.put_records("Stream", [{"n": i} for i in range(5)])
    assert runner.run().idle
    assert seen and all(applied == seen[0] and applied for applied in seen)
    assert _moto.applied() == []


def test_a_fixture_pipeline_is_patched_while_the_test_runs(local_pipeline_factory, tmp_path) -> None:
    """The first half: the ``local_pipeline`` fixtures hold the speed-ups during the test..."""
    pipeline = local_pipeline_factory(_kinesis_pipeline().write(tmp_path / "cdk.out"))
    pipeline.put_records("Stream", [{"n": 1}])
    pipeline.run_until_idle()
    assert "sqs.retention" in _moto.applied()
    SEEN_TARGETS[:] = _moto.targets()


def test_after_the_fixture_a_user_s_moto_test_sees_moto_as_shipped() -> None:
    """...the second half (pytest runs it after the first): the fixture's teardown undid everything."""
    if not SEEN_TARGETS:
        pytest.skip("runs after test_a_fixture_pipeline_is_patched_while_the_test_runs")
    _assert_as_shipped(SEEN_TARGETS)
    _user_moto_test()


def _changed_max_sequence_number(monkeypatch: pytest.MonkeyPatch) -> None:
    """The Kinesis shard lookup rewritten (other names in its code): a moto the speed-up was not written for."""
    from moto.kinesis.models import Shard

    def get_max_sequence_number(self: Any) -> int:
        return max(self.records) if self.records else 0

    monkeypatch.setattr(Shard, "get_max_sequence_number", get_max_sequence_number)


def _removed_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    """The clock SQS's retention speed-up reads removed from moto's SQS models (a Kinesis run never needs it)."""
    monkeypatch.delattr("moto.sqs.models.unix_time")


@pytest.mark.parametrize(("change", "feature", "reason"), [
    (_changed_max_sequence_number, "kinesis.Shard", "changed"),
    (_removed_clock, "sqs.retention", "moto.sqs.models.unix_time not found"),
])
def test_a_missing_feature_is_warned_once_and_the_run_still_works(deploy, monkeypatch, change, feature,
                                                                   reason) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", _moto.MotoSpeedupUnavailable)  # what this moto lacks anyway
        with _moto.patched() as applied:
            usually_unavailable = _moto.unavailable()
    assert feature in applied
    change(monkeypatch)
    with pytest.warns(_moto.MotoSpeedupUnavailable) as caught:
        pipeline = deploy(_kinesis_pipeline())
    (warning,) = [w for w in caught if issubclass(w.category, _moto.MotoSpeedupUnavailable)]
    message = str(warning.message)
    assert feature in message and reason in message
    assert _moto.applied() == [name for name in applied if name != feature]
    assert _moto.unavailable().keys() == {*usually_unavailable, feature}
    pipeline._release_speedups()  # the run below installs them afresh: the same finding is not warned again
    sequences = pipeline.put_records("Stream", [{"n": i} for i in range(30)])
    with warnings.catch_warnings():
        warnings.simplefilter("error", _moto.MotoSpeedupUnavailable)
        assert pipeline.run_until_idle().idle
    assert sorted(pipeline.function("Consumer").module.PROCESSED, key=int) == sequences

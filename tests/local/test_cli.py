"""``event-pipeline local`` on any assembly: no credentials needed, one-line errors, feeding from
a JSON-lines file or arguments, and a report of what each mapping did, the DLQs and tables."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from cdk_event_pipeline.cli import main

from .assembly_builder import TemplateBuilder


@pytest.fixture
def assembly(tmp_path: Path) -> Path:
    """A stream consumer (bisect, 1 retry, SQS DLQ), a work queue with a DLQ and a table."""
    builder = TemplateBuilder()
    stream = builder.stream()
    dlq = builder.queue("DeadLetterQueue")
    consumer = builder.function("Consumer", "scenario_handler.raise_on_poison")
    builder.mapping("Mapping", consumer, stream, StartingPosition="TRIM_HORIZON", BatchSize=10,
                    BisectBatchOnFunctionError=True, MaximumRetryAttempts=1,
                    DestinationConfig={"OnFailure": {"Destination": dlq}})
    work_dlq = builder.queue("WorkDeadLetterQueue")
    queue = builder.queue("WorkQueue", VisibilityTimeout=30,
                          RedrivePolicy={"deadLetterTargetArn": work_dlq, "maxReceiveCount": 2})
    worker = builder.function("WorkerFunction", "scenario_handler.raise_on_poison")
    builder.mapping("Worker", worker, queue, BatchSize=1)
    builder.table("Items")
    return builder.write(tmp_path / "cdk.out")


@pytest.fixture
def no_credentials(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A machine with no AWS credentials or config at all."""
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE",
                "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))


def test_feeds_from_a_json_lines_file_and_arguments_and_reports_everything(assembly, tmp_path, no_credentials,
                                                                           capsys) -> None:
    records = tmp_path / "events.jsonl"
    records.write_text("\n".join(json.dumps(line) for line in [
        {"stream": "Stream", "data": {"n": 1}, "partition_key": "a"},
        {"stream": "Stream", "data": {"n": 2, "poison": True}, "partition_key": "a"},
        {"queue": "WorkQueue", "body": json.dumps({"poison": True})},
        {"table": "Items", "item": {"id": "i-1", "price": 9.5}},
    ]) + "\n")

    code = main(["local", "--cdk-out", str(assembly), "--records", str(records), "--put", 'Stream={"n": 3}',
                 "--send", "WorkQueue=hello", "--write", 'Items={"id": "i-2"}', "--items"])

    out = capsys.readouterr().out
    assert code == 0, out
    assert "mapping   Mapping" in out and "given up: 1 RetryAttemptsExhausted" in out
    assert "failures  Mapping: 1 on-failure document(s)" in out
    assert "RetryAttemptsExhausted: shard shardId-000000000000 2..2 (1 records)" in out
    assert "dead      WorkQueue: 1 message(s) in its DLQ" in out and '{"poison": true}' in out
    assert "table     Items: 2 item(s)" in out and '"price": 9.5' in out
    assert out.strip().splitlines()[-1].endswith("idle=True")


def test_json_output_is_one_object_per_line(assembly, no_credentials, capsys) -> None:
    code = main(["local", "--cdk-out", str(assembly), "--json", "--put", 'Stream={"n": 1}'])

    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert code == 0
    kinds = {line["type"] for line in lines}
    assert {"invoke", "mapping", "table", "summary"} <= kinds
    (summary,) = [line for line in lines if line["type"] == "summary"]
    assert summary == {"type": "summary", "invocations": 1, "idle": True}


def test_stopped_by_max_invocations_exits_1(assembly, no_credentials, capsys) -> None:
    code = main(["local", "--cdk-out", str(assembly), "--max-invocations", "1",
                 "--put", 'Stream={"n": 1}', "--put", 'Stream={"poison": true}'])

    assert code == 1
    assert capsys.readouterr().out.strip().endswith("idle=False")


def test_a_missing_moto_is_one_line_with_the_install_hint(assembly, monkeypatch, capsys) -> None:
    monkeypatch.setitem(sys.modules, "moto.server", None)

    code = main(["local", "--cdk-out", str(assembly)])

    err = capsys.readouterr().err
    assert code == 4
    assert err.strip() == err.strip().splitlines()[0]  # one line, no traceback
    assert "moto" in err and "pip install 'cdk-event-pipeline[local]'" in err


@pytest.mark.parametrize(("args", "message"), [
    (["--put", "Nope=1"], "'Nope' matches no stream"),
    (["--put", "no-equals-sign"], "'no-equals-sign' is not NAME=DATA"),
])
def test_bad_names_and_arguments_are_one_line(assembly, no_credentials, capsys, args, message) -> None:
    code = main(["local", "--cdk-out", str(assembly), *args])

    err = capsys.readouterr().err
    assert code in (2, 4)
    assert message in err and "Traceback" not in err


def test_no_assembly_and_a_failing_app_are_one_line(tmp_path, no_credentials, capsys) -> None:
    assert main(["local", "--cdk-out", str(tmp_path / "missing")]) == 2  # not a directory: a bad command line
    assert "is not an existing directory" in capsys.readouterr().err
    assert main(["local", "--cdk-out", str(tmp_path)]) == 4  # a directory without an assembly
    assert "no cloud assembly" in capsys.readouterr().err

    (tmp_path / "app.py").write_text("raise SystemExit('the app is broken')\n")
    assert main(["local", "--app-dir", str(tmp_path)]) == 4
    err = capsys.readouterr().err
    assert "the app is broken" in err and "failed (exit 1)" in err and "Traceback" not in err.splitlines()[-1]


def test_a_records_line_that_is_not_json_is_a_usage_error(assembly, tmp_path, no_credentials, capsys) -> None:
    records = tmp_path / "bad.jsonl"
    records.write_text('{"stream": "Stream", "data": 1}\n{not json\n')

    assert main(["local", "--cdk-out", str(assembly), "--records", str(records)]) == 2
    assert f"{records}:2: not JSON" in capsys.readouterr().err

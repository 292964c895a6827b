"""Every option of ``event-pipeline local`` is validated like the other subcommands': a bad value
is one line on stderr and exit code 2, never a traceback; a fuzzed value ends in a documented
exit code (the pattern of tests/tools/test_cli_arguments.py)."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cdk_event_pipeline.cli import main
from cdk_event_pipeline.tools.errors import ExitCode

DOCUMENTED_CODES = {int(code) for code in ExitCode}
#: Examples per fuzzed option (``TOOLS_FUZZ_EXAMPLES=1000`` for a deeper run).
EXAMPLES = int(os.environ.get("TOOLS_FUZZ_EXAMPLES", "30"))
#: An endpoint nothing listens on: the runs below fail on the (missing) assembly before any call.
NOWHERE = "http://127.0.0.1:9"

BAD = [
    (["--max-invocations", "0"], "--max-invocations: must be between 1 and 1000000 inclusive (given 0)"),
    (["--max-invocations", "1000001"], "--max-invocations"),
    (["--max-invocations", "1e3"], "--max-invocations"),
    (["--max-invocations", "nan"], "--max-invocations"),
    (["--max-rounds", "0"], "--max-rounds: must be between 1 and 10000000 inclusive (given 0)"),
    (["--max-rounds=-1"], "--max-rounds"),
    (["--max-rounds", "9" * 5000], "--max-rounds"),
    (["--cdk-out", "/no/such/dir"], "--cdk-out: '/no/such/dir' is not an existing directory"),
    (["--cdk-out", ""], "--cdk-out"),
    (["--app-dir", "/no/such/dir"], "--app-dir: '/no/such/dir' is not an existing directory"),
    (["--cdk-out", ".", "--app-dir", "."], "not allowed with"),
    (["--stack", "bad name"], "--stack"),
    (["--stack", ""], "--stack"),
    (["--stack", "a/"], "--stack"),
    (["--records", "/no/such/file"], "--records: '/no/such/file' is not an existing file (or - for stdin)"),
    (["--records", "."], "--records"),
    (["--put", "no-equals"], "--put: 'no-equals' is not NAME=DATA"),
    (["--put", "=data"], "--put"),
    (["--send", "q"], "--send"),
    (["--write", "T"], "--write"),
    (["--write", "T=[1, 2]"], "--write: the item '[1, 2]' is not a JSON object"),
    (["--write", "T=not json"], "--write"),
    (["--put", "S=1", "--partition-key", ""], "--partition-key"),
    (["--put", "S=1", "--partition-key", "k" * 257], "--partition-key"),
    (["--partition-key", "k"], "--partition-key only applies to --put"),
    (["--demo", "--put", "S=1"], "--put does not apply to --demo"),
    (["--demo", "--items", "--invocations"], "--items, --invocations do not apply to --demo"),
    (["--region", "moon-1"], "--region"),
    (["--endpoint-url", "ftp://x"], "--endpoint-url"),
    (["unexpected"], "unrecognized arguments"),
]


def _ours(err: str) -> list[str]:
    """The lines the tool printed (a failed synth forwards the app's own output before its line)."""
    return [line for line in err.splitlines() if line.startswith("event-pipeline")]


def _run(capsys: pytest.CaptureFixture[str], argv: list[str]) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(["local", *argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.mark.parametrize(("argv", "text"), BAD, ids=[" ".join(a)[:60] for a, _ in BAD])
def test_a_bad_value_is_one_line_and_exit_2(capsys, argv, text) -> None:
    code, out, err = _run(capsys, argv)
    assert code == ExitCode.USAGE
    assert "Traceback" not in err
    assert len(err.splitlines()) == 1, err
    assert text in err
    assert out == ""


def test_a_records_file_that_is_not_text_is_one_line_and_exit_2(capsys, tmp_path) -> None:
    binary = tmp_path / "events.jsonl"
    binary.write_bytes(b"\xff\xfe\x00 not utf-8")
    code, out, err = _run(capsys, ["--cdk-out", str(tmp_path), "--endpoint-url", NOWHERE, "--records", str(binary)])
    assert code == ExitCode.USAGE and "cannot read it" in err and len(err.splitlines()) == 1


@pytest.mark.parametrize(("line", "problem"), [
    ('{"stream": "S", "data": 1, "partition_key": ""}', "partition_key must be 1-256 characters"),
    ('{"stream": "S", "queue": "Q"}', "expected an object with exactly one of stream, queue, table or function"),
    ('{"table": "T", "item": [1]}', "item must be a JSON object"),
    ('{"function": "F", "event": "x"}', "event must be a JSON object"),
    ('{"queue": "Q", "body": "\\ud800"}', "not valid UTF-8"),
    ('{"stream": 5}', "stream must be a non-empty name"),
    ("[1, 2]", "expected a JSON object"),
])
def test_a_bad_records_line_names_the_file_and_line(capsys, tmp_path, line, problem) -> None:
    records = tmp_path / "events.jsonl"
    records.write_text('{"queue": "Q", "body": "fine"}\n' + line + "\n")
    code, out, err = _run(capsys, ["--cdk-out", str(tmp_path), "--endpoint-url", NOWHERE, "--records", str(records)])
    assert code == ExitCode.USAGE
    assert f"{records}:2: " in err and problem in err and len(err.splitlines()) == 1


def test_values_at_the_edges_are_accepted(capsys, tmp_path, monkeypatch) -> None:
    records = tmp_path / "events.jsonl"
    records.write_text("")
    monkeypatch.setattr("sys.stdin", io.StringIO('{"queue": "Q", "body": "from stdin"}\n'))
    code, out, err = _run(capsys, [
        "--cdk-out", str(tmp_path), "--endpoint-url", NOWHERE, "--stack", "Stage-1/My.Stack_2",
        "--records", str(records), "--records", "-", "--put", "S=x=y", "--partition-key", "k" * 256,
        "--send", "Q=", "--write", 'T={"id": "a=b"}', "--max-invocations", "1000000", "--max-rounds", "10000000",
        "--items", "--invocations", "--region", "us-gov-west-1"])
    assert code == ExitCode.NOT_FOUND, err  # past the command line: the directory holds no assembly
    assert "no cloud assembly" in err and "Traceback" not in err


# -- fuzzing every option ------------------------------------------------------------------------

EDGE = [
    "", " ", "-", "--", "-1", "0", "1", "+1", "1.5", "-0", "1e3", "1e400", "inf", "nan", "0x10", "1_000", "٣",
    "9" * 30, "9" * 5000, "=", "a=", "=b", "a=b", "a==b", 'T={"id": 1}', "T=[1]", "T={", "/", ".", "..",
    "/nonexistent", "a/b", "a//b", "\n", "a\nb", "\x00", "a\x00b", "\udcff", "S=\udcff", "é", "--help", "-h",
    "%s", "{}", "'", "http://", "http://127.0.0.1:0",
]
VALUES = st.one_of(
    st.sampled_from(EDGE),
    st.text(max_size=40),
    st.text(st.characters(categories=["Cs", "Cc", "Zs", "Nd"]), max_size=6),
    st.integers().map(str),
    st.floats().map(str),
)
OPTIONS = ["--cdk-out", "--app-dir", "--stack", "--records", "--put", "--partition-key", "--send", "--write",
           "--max-invocations", "--max-rounds", "--region", "--endpoint-url"]


def _argv(option: str, value: str, joined: bool, empty: Path) -> list[str]:
    options: dict[str, str | None] = {"--cdk-out": str(empty), "--endpoint-url": NOWHERE}
    if option in ("--cdk-out", "--app-dir", "--endpoint-url"):
        options.pop("--cdk-out")
        options.pop(option, None)
    if option == "--partition-key":
        options["--put"] = "S=1"
    argv: list[str] = []
    for name, default in options.items():
        argv += [name] if default is None else [name, default]
    return argv + ([f"{option}={value}"] if joined else [option, value])


@pytest.mark.parametrize("option", OPTIONS)
@settings(max_examples=EXAMPLES, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(value=VALUES, joined=st.booleans())
def test_fuzzed_option_values_end_in_a_documented_exit_code(capsys, tmp_path, monkeypatch, option, value,
                                                            joined) -> None:
    monkeypatch.chdir(tmp_path)  # '.' and relative paths name an empty directory: no app, no assembly
    code, out, err = _run(capsys, _argv(option, value, joined, tmp_path))
    assert code in DOCUMENTED_CODES
    assert "Traceback" not in err
    assert len(_ours(err)) <= 1, err
    if code == ExitCode.USAGE:
        assert out == ""


TOKENS = st.one_of(st.sampled_from(["--demo", "--items", "--invocations", "--json", "--no-progress", *OPTIONS]),
                   VALUES)


@settings(max_examples=3 * EXAMPLES, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(argv=st.lists(TOKENS, max_size=6))
def test_fuzzed_command_lines_end_in_a_documented_exit_code(capsys, tmp_path, monkeypatch, argv) -> None:
    monkeypatch.chdir(tmp_path)
    if "--cdk-out" not in argv and "--app-dir" not in argv:
        argv = [*argv, "--cdk-out", str(tmp_path)]  # never synthesize the repository's own app
    if "--endpoint-url" not in argv:
        argv = [*argv, "--endpoint-url", NOWHERE]
    code, out, err = _run(capsys, argv)
    assert code in DOCUMENTED_CODES
    assert "Traceback" not in err
    assert len(_ours(err)) <= 1, err

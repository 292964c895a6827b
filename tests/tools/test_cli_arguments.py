"""Every option of ``replay``, ``redrive`` and ``tail`` is validated: a bad value is one line
on stderr and exit code 2, never a traceback (issue 9, finding 5)."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta

import boto3
import pytest
from botocore.config import Config
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cdk_event_pipeline.tools.errors import ExitCode

DOCUMENTED_CODES = {int(code) for code in ExitCode}
#: Examples per fuzzed option (``TOOLS_FUZZ_EXAMPLES=1000`` for a deeper run).
EXAMPLES = int(os.environ.get("TOOLS_FUZZ_EXAMPLES", "40"))

QUEUE = "https://sqs.us-east-1.amazonaws.com/123456789012/q"
BAD = [
    # times
    (["replay", "--stream", "s", "--from", "inf", "--print"], "--from"),
    (["replay", "--stream", "s", "--from", "1e20", "--print"], "--from"),
    (["replay", "--stream", "s", "--from", "99999999d", "--print"], "--from"),
    (["replay", "--stream", "s", "--from=-5", "--print"], "--from"),
    (["replay", "--stream", "s", "--from", "nan", "--print"], "--from"),
    (["replay", "--stream", "s", "--from", "2099-01-01T00:00:00Z", "--print"], "in the future"),
    (["replay", "--stream", "s", "--from", "400d", "--print"], "more than 365 days ago"),
    (["replay", "--stream", "s", "--from", "0", "--print"], "more than 365 days ago"),
    (["replay", "--stream", "s", "--from", "9999-12-31T23:59:59-01:00", "--print"], "--from"),
    (["replay", "--stream", "s", "--from=--", "--print"], "--from"),  # argparse 3.11 drops it
    (["replay", "--stream", "s", "--from", "1h", "--to", "1w", "--print"], "is before --from"),
    (["replay", "--stream", "s", "--from", "1h", "--to", "+1h", "--print"], "--to"),
    (["replay", "--stream", "s", "--from", "1h", "--to", "99999999999", "--print"], "in the future"),
    # tail numbers
    (["tail", "--stream", "s", "--poll-interval=-1"], "--poll-interval"),
    (["tail", "--stream", "s", "--poll-interval", "0"], "--poll-interval"),
    (["tail", "--stream", "s", "--poll-interval", "nan"], "--poll-interval"),
    (["tail", "--stream", "s", "--poll-interval", "inf"], "--poll-interval"),
    (["tail", "--stream", "s", "--max-records", "0"], "--max-records"),
    (["tail", "--stream", "s", "--max-records=-3"], "--max-records"),
    (["tail", "--stream", "s", "--max-records", "9" * 5000], "--max-records"),
    (["tail", "--stream", "s", "--timeout", "0"], "--timeout"),
    (["tail", "--stream", "s", "--timeout", "inf"], "--timeout"),
    (["tail", "--stream", "s", "--timeout", "1e400"], "--timeout"),
    # redrive numbers
    (["redrive", "--dlq", QUEUE, "--print",
      "--max-messages", "0"], "--max-messages"),
    (["redrive", "--dlq", QUEUE, "--print",
      "--wait-seconds", "21"], "--wait-seconds"),
    (["redrive", "--dlq", QUEUE, "--print",
      "--visibility-timeout", "0"], "--visibility-timeout"),
    (["replay", "--stream", "s", "--from", "1h", "--to-handler", "m:f", "--batch-size", "0"],
     "--batch-size"),
    (["replay", "--stream", "s", "--from", "1h", "--to-handler", "m:f", "--batch-size", "10001"],
     "--batch-size"),
    # names, URLs, ARNs
    (["redrive", "--dlq", "not a url", "--print"], "--dlq"),
    (["redrive", "--dlq", "https://sqs.us-east-1.amazonaws.com/queue-only", "--print"], "--dlq"),
    (["redrive", "--dlq", "file:///123456789012/q", "--print"], "--dlq"),
    (["redrive", "--s3-uri", "s3://A_B", "--print"], "--s3-uri"),
    (["redrive", "--s3-uri", "https://bucket/x", "--print"], "--s3-uri"),
    (["tail", "--stream", "bad/name"], "--stream"),
    (["tail", "--stream", "s" * 129], "--stream"),
    (["tail", "--stream", ""], "--stream"),
    (["tail", "--stream", "s", "--endpoint-url", "ftp://host"], "--endpoint-url"),
    (["tail", "--stream", "s", "--endpoint-url", "http://127.0.0.1:99999"], "--endpoint-url"),
    (["tail", "--stream", "s", "--endpoint-url", "http://user:pw@host"], "--endpoint-url"),
    (["tail", "--stream", "s", "--region", "US_EAST_1"], "--region"),
    (["replay", "--stream", "s", "--from", "1h", "--to-function", "bad name!"], "--to-function"),
    (["replay", "--stream", "s", "--from", "1h", "--to-function",
      "arn:aws:sqs:us-east-1:123456789012:q"], "--to-function"),
    (["replay", "--stream", "s", "--from", "1h", "--to-stream", "arn:aws:kinesis:x"], "--to-stream"),
    # handlers
    (["replay", "--stream", "s", "--from", "1h", "--to-handler", "handler"], "--to-handler"),
    (["replay", "--stream", "s", "--from", "1h", "--to-handler", "a:b:c"], "--to-handler"),
    (["replay", "--stream", "s", "--from", "1h", "--to-handler", ":f"], "--to-handler"),
    (["replay", "--stream", "s", "--from", "1h", "--to-handler", "1mod:f"], "--to-handler"),
    (["replay", "--stream", "s", "--from", "1h", "--to-handler", "m:f",
      "--handler-path", "/no/such/dir"], "--handler-path"),
    (["replay", "--stream", "s", "--from", "1h", "--print", "--handler-path", "."],
     "--handler-path only applies to --to-handler"),
    # structure
    (["replay", "--stream", "s", "--from", "1h"], "one of the arguments"),
    (["redrive", "--dlq", QUEUE,
      "--s3-uri", "s3://bucket", "--print"], "not allowed with"),
    (["tail", "--stream", "s", "unexpected\nsecond line"], "unrecognized arguments"),
    (["nonsense"], "invalid choice"),
]


def _short_id(argv: list[str]) -> str:
    """The test id: the command and what the row varies (the filler options left out)."""
    filler = {("--stream", "s"), ("--from", "1h"), ("--to-handler", "m:f")}
    if "--s3-uri" not in argv:
        filler.add(("--dlq", QUEUE))
    kept, index = [argv[0]], 1
    while index < len(argv):
        if tuple(argv[index:index + 2]) in filler:
            index += 2
            continue
        if argv[index] != "--print":
            kept.append(argv[index])
        index += 1
    text = " ".join(kept) if len(kept) > 1 else " ".join(argv)
    return text.encode("unicode_escape").decode("ascii")[:90]


@pytest.mark.parametrize(("argv", "text"), BAD, ids=[_short_id(a) for a, _ in BAD])
def test_a_bad_value_is_one_line_and_exit_2(run, argv, text):
    result = run(*argv)
    assert result.code == 2
    assert "Traceback" not in result.err
    assert len(result.err.splitlines()) == 1, result.err
    assert text in result.err
    assert result.out == ""


@pytest.mark.parametrize(
    "argv",
    [
        ["replay", "--stream", "missing", "--from", "364d", "--to", "0s", "--print"],
        ["replay", "--stream", "missing", "--from", "1714564800.5", "--print"]
        if datetime.fromtimestamp(1714564800, UTC) > datetime.now(UTC) - timedelta(days=364)
        else ["replay", "--stream", "missing", "--from", "1d", "--print"],
        ["replay", "--stream", "missing", "--from", "2h", "--to-handler", "pkg.module:handler",
         "--batch-size", "10000", "--handler-path", "."],
        ["replay", "--stream", "missing", "--from", "2h", "--to-handler", "consumer.handler"],
        ["replay", "--stream", "missing", "--from", "2h", "--to-function",
         "arn:aws:lambda:us-east-1:123456789012:function:consumer:live"],
        ["tail", "--stream", "missing", "--poll-interval", "0.1", "--timeout", "0.5",
         "--max-records", "1", "--region", "us-gov-west-1"],
        ["redrive", "--dlq", "{endpoint}/123456789012/missing.fifo", "--print",
         "--wait-seconds", "0", "--visibility-timeout", "43200", "--max-messages", "10000"],
        ["redrive", "--s3-uri", "s3://no-such-bucket/aws/lambda/", "--to-stream", "target"],
    ],
)
def test_values_at_the_edges_of_the_ranges_are_accepted(run, aws, argv):
    result = run(*[a.format(endpoint=aws) for a in argv])
    assert result.code == ExitCode.NOT_FOUND, result.err  # got past the command line
    assert "Traceback" not in result.err


# -- fuzzing every option of every subcommand ------------------------------------------------

EDGE = [
    "", " ", "-", "--", "-1", "0", "1", "+1", "1.5", "-0", "1e3", "1e20", "1e400", "inf", "-inf",
    "nan", "NaN", "Infinity", "0x10", "1_000", "٣", "9" * 30, "9" * 5000, "99999999d", "-5", "400d",
    "2099-01-01", "1970-01-01", "0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00",
    "http://", "http://127.0.0.1:0", "http://127.0.0.1:99999", "http://[::1", "s3://", "s3://a",
    "s3://" + "a" * 64, "s3://bucket/" + "k" * 2000, "a:b", ":", "a:", ":b", "a.b", "a..b",
    "arn:aws:lambda:us-east-1:123456789012:function:f", "arn:", "/", ".", "/nonexistent",
    "\n", "a\nb", "\x00", "a\x00b", "\udcff", "é", "--help", "-h", "%s", "{}", "'",
]
VALUES = st.one_of(
    st.sampled_from(EDGE),
    st.text(max_size=40),
    st.text(st.characters(categories=["Cs", "Cc", "Zs", "Nd"]), max_size=6),
    st.integers().map(str),
    st.floats().map(str),
    st.tuples(st.integers(-10**12, 10**12), st.sampled_from("smhdw")).map(lambda t: f"{t[0]}{t[1]}"),
)

DLQ = "{endpoint}/123456789012/missing"
BASES = {
    "replay": {"--stream": "missing", "--from": "1h", "--print": None},
    "redrive": {"--dlq": DLQ, "--print": None, "--wait-seconds": "0"},
    "tail": {"--stream": "missing", "--timeout": "1"},
}
TARGETS = ("--to-function", "--to-stream", "--to-handler", "--print")
OPTIONS = [
    *(("replay", o) for o in ("--stream", "--from", "--to", "--to-function", "--to-stream",
                              "--to-handler", "--batch-size", "--handler-path")),
    *(("redrive", o) for o in ("--dlq", "--s3-uri", "--to-function", "--to-stream",
                               "--to-handler", "--batch-size", "--handler-path",
                               "--max-messages", "--wait-seconds", "--visibility-timeout")),
    *(("tail", o) for o in ("--stream", "--max-records", "--timeout", "--poll-interval")),
    *((command, o) for command in BASES for o in ("--region", "--endpoint-url")),
]


def _argv(command: str, option: str, value: str, joined: bool, endpoint: str) -> list[str]:
    options = dict(BASES[command])
    if option in TARGETS or option == "--handler-path":
        for target in TARGETS:
            options.pop(target, None)
        if option == "--handler-path":
            options["--to-handler"] = "no_such_module_xyz:handler"
    if option == "--s3-uri":
        del options["--dlq"]
    options.pop(option, None)
    argv = [command]
    for name, default in options.items():
        argv += [name] if default is None else [name, default.format(endpoint=endpoint)]
    return argv + ([f"{option}={value}"] if joined else [option, value])


@pytest.fixture
def fast_failing_clients(monkeypatch):
    """One attempt and short timeouts, so a fuzzed endpoint URL fails fast; and one boto3
    session for every run (a new session loads the service models again: ~0.1 s a run)."""
    monkeypatch.setattr("cdk_event_pipeline.tools._aws.CLIENT_CONFIG",
                        Config(retries={"max_attempts": 1}, connect_timeout=1, read_timeout=5))
    shared = boto3.session.Session()
    monkeypatch.setattr("cdk_event_pipeline.tools._aws.make_session", lambda region: shared)


@pytest.mark.parametrize(("command", "option"), OPTIONS, ids=[f"{c} {o}" for c, o in OPTIONS])
@settings(max_examples=EXAMPLES, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(value=VALUES, joined=st.booleans())
def test_fuzzed_option_values_end_in_a_documented_exit_code(
    run, aws, fast_failing_clients, command, option, value, joined
):
    result = run(*_argv(command, option, value, joined, aws))
    assert result.code in DOCUMENTED_CODES
    assert "Traceback" not in result.err
    assert len(result.err.splitlines()) <= 1, result.err
    if result.code == ExitCode.USAGE:
        assert result.out == ""


TOKENS = st.one_of(
    st.sampled_from(["replay", "redrive", "tail", "--help", "--json", "--no-progress",
                     "--dry-run", "--allow-partial", "--from-start", "--print",
                     *(o for _, o in OPTIONS)]),
    VALUES,
)


@settings(max_examples=5 * EXAMPLES, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(argv=st.lists(TOKENS, max_size=8))
def test_fuzzed_command_lines_end_in_a_documented_exit_code(run, aws, fast_failing_clients, argv):
    if "local" in argv:  # the local runner synthesizes an app: not a fast fuzz target
        return
    result = run(*argv)
    assert result.code in DOCUMENTED_CODES
    assert "Traceback" not in result.err
    assert len(result.err.splitlines()) <= 1, result.err


def test_the_readme_documents_every_exit_code_and_outcome():
    from pathlib import Path
    from typing import get_args

    from cdk_event_pipeline.tools.redrive import Status

    root = Path(__file__).resolve().parents[2]
    readme = (root / "README.md").read_text()
    start = readme.index("## Operating a pipeline")
    section = readme[start:readme.index("\n## ", start + 1)]
    for code in ExitCode:
        assert f"| {int(code)} |" in section, code
    for status in get_args(Status):
        assert f"| `{status}` |" in section, status
    tools_readme = root / "constructs" / "cdk_event_pipeline" / "tools" / "README.md"
    assert section.strip() == tools_readme.read_text().strip()

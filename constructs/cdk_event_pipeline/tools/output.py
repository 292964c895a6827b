"""Everything the tools print: records (decoded), reports, errors, progress bars.

* Human mode: records and reports go to stdout as text, errors to stderr.
* ``--json``: one JSON object per line on stdout, each with a ``type`` (``record``,
  ``message``, ``summary``, ``error``); errors are also written to stderr as text.
* Progress bars (tqdm) go to stderr, only when stderr is a terminal, never with ``--json`` or
  ``--no-progress``.
"""

from __future__ import annotations

import base64
import contextlib
import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, TextIO

from .records import SourceRecord, jsonable


def one_line(text: str) -> str:
    """The text with line breaks and other unprintable characters escaped (``\\n``).

    Keeps every report and error on one line whatever a message, key or AWS error holds.
    """
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


#: Characters ``str.splitlines`` breaks on that ``json.dumps(ensure_ascii=False)`` leaves raw.
_LINE_BREAKS = str.maketrans({"\x85": "\\u0085", "\u2028": "\\u2028", "\u2029": "\\u2029"})


def _dumps(value: Any) -> str:
    """JSON on one line; non-ASCII kept when it can be written as UTF-8 (lone surrogates,
    which JSON text such as ``"\\udcff"`` decodes to, are escaped instead, and so are the
    Unicode line separators)."""
    text = json.dumps(value, ensure_ascii=False)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return json.dumps(value, ensure_ascii=True)
    return text.translate(_LINE_BREAKS)


def decode(record: SourceRecord) -> list[dict[str, Any]]:
    """Decode one record for printing, never raising.

    Kinesis data goes through ``event_pipeline_runtime.decode_record_data`` (KPL
    de-aggregation, gzip, JSON, the versioned envelope). Undecodable data is shown as base64
    with the reason.

    Args:
        record: A Kinesis or DynamoDB stream record.

    Returns:
        One dict per user record (several for a KPL aggregate).
    """
    base: dict[str, Any] = {
        "stream": record.stream_arn,
        "shardId": record.shard_id,
        "sequenceNumber": record.sequence_number,
        "arrival": record.arrival.isoformat() if record.arrival is not None else None,
    }
    if record.source == "dynamodb":
        return [{**base, "dynamodb": jsonable(record.dynamodb)}]
    assert record.data is not None
    raw = {
        **base,
        "partitionKey": record.partition_key,
        "data": base64.b64encode(record.data).decode("ascii"),
    }
    try:
        from event_pipeline_runtime import decode_record_data
    except ImportError as exc:  # the runtime library is installed with the package
        return [{**raw, "decodeError": f"runtime library unavailable: {exc}"}]
    try:
        decoded = decode_record_data(record.data, record.partition_key or "")
    except Exception as exc:  # DecodeError, or anything else: print raw, never crash
        return [{**raw, "decodeError": f"{type(exc).__name__}: {exc}"}]
    return [
        {
            **base,
            "partitionKey": getattr(item, "partition_key", record.partition_key),
            "subSequenceNumber": getattr(item, "sub_sequence", None),
            "body": jsonable(getattr(item, "body", None)),
            "envelope": jsonable(getattr(item, "envelope", None)),
        }
        for item in decoded
    ]


def _human_record(item: dict[str, Any]) -> str:
    position = item["sequenceNumber"]
    if item.get("subSequenceNumber") is not None:
        position = f"{position}.{item['subSequenceNumber']}"
    head = f"{item.get('arrival') or '-'} {item['shardId']} {position}"
    if "dynamodb" in item:
        return f"{head} {json.dumps(item['dynamodb'], sort_keys=True)}"
    head = f"{head} key={one_line(str(item.get('partitionKey')))}"
    if "decodeError" in item:
        return f"{head} base64={item['data']} ({one_line(item['decodeError'])})"
    body = json.dumps(item.get("body"), ensure_ascii=False, sort_keys=True)
    return one_line(f"{head} {body}")


@dataclass
class Output:
    """The printer for one run.

    Args:
        json_mode: ``--json``.
        progress: Show progress bars (also requires stderr to be a terminal).
        stdout: Where data goes.
        stderr: Where errors and progress go.
    """

    json_mode: bool = False
    progress: bool = True
    stdout: TextIO = field(default_factory=lambda: sys.stdout)
    stderr: TextIO = field(default_factory=lambda: sys.stderr)

    def _line(self, text: str) -> None:
        try:
            self.stdout.write(text + "\n")
        except UnicodeEncodeError:  # a terminal that cannot show some character
            encoding = getattr(self.stdout, "encoding", None) or "ascii"
            self.stdout.write(text.encode(encoding, "backslashreplace").decode(encoding) + "\n")
        self.stdout.flush()

    def record(self, record: SourceRecord) -> int:
        """Print a record decoded; returns how many user records it held."""
        items = decode(record)
        for item in items:
            if self.json_mode:
                self._line(_dumps({"type": "record", **item}))
            else:
                self._line(_human_record(item))
        return len(items)

    def report(self, kind: str, text: str, /, **fields: Any) -> None:
        """Print a report line (a DLQ message's fate, a summary).

        Args:
            kind: The JSON ``type`` (``message``, ``summary``, ...).
            text: The human line.
            **fields: The JSON fields.
        """
        if self.json_mode:
            self._line(_dumps({"type": kind, **jsonable(fields)}))
        else:
            self._line(one_line(text))

    def error(self, message: str, exit_code: int) -> None:
        """Report an expected error (stderr; also a JSON line on stdout with ``--json``)."""
        self.stderr.write(f"event-pipeline: error: {one_line(message)}\n")
        self.stderr.flush()
        if self.json_mode:
            self._line(json.dumps({"type": "error", "message": message, "exitCode": exit_code}))

    def warn(self, message: str) -> None:
        """A warning on stderr."""
        self.stderr.write(f"event-pipeline: warning: {one_line(message)}\n")
        self.stderr.flush()

    @contextlib.contextmanager
    def bar(self, desc: str, unit: str, total: int | None = None) -> Iterator[Any]:
        """A progress bar on stderr, or a no-op when progress is off.

        Args:
            desc: Label.
            unit: Unit name.
            total: Expected total, if known.

        Yields:
            An object with ``update(n)``.
        """
        enabled = self.progress and not self.json_mode and self.stderr.isatty()
        if not enabled:
            yield _NoBar()
            return
        from tqdm import tqdm

        with tqdm(total=total, desc=desc, unit=unit, file=self.stderr, leave=False) as bar:
            yield bar


class _NoBar:
    def update(self, n: int = 1) -> None:
        """Do nothing."""

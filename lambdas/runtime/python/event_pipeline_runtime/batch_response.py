"""The one reader of a partial batch response (``{"batchItemFailures": [{"itemIdentifier": ...}]}``).

The local runner (``cdk_event_pipeline.local``) and the redrive tool's targets
(``cdk_event_pipeline.tools.targets``) both judge a handler's response with
:func:`read_batch_response`, so a handler is judged the same way by both, and the way Lambda does.

The rule, from the Lambda Developer Guide ("Success and failure conditions" in "Handling errors for
an SQS event source in Lambda", https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-errorhandling.html,
and "Configuring partial batch response with Kinesis Data Streams and Lambda",
https://docs.aws.amazon.com/lambda/latest/dg/services-kinesis-batchfailurereporting.html; the
DynamoDB Streams page says the same):

* Lambda reads the response only when the mapping has ``ReportBatchItemFailures`` on ("these
  responses will not be processed by Lambda unless the ReportBatchItemFailures feature is explicitly
  turned on"): without it, a function that returned is a complete success.
* Complete success: a null response, an empty response (``{}``), a null or empty
  ``batchItemFailures`` list.
* Complete failure: "an invalid JSON response", an empty-string or null ``itemIdentifier``, an item
  with a wrong key name (no ``itemIdentifier``), an ``itemIdentifier`` that names no record of the
  batch.
* Otherwise the named records failed (for a stream, Lambda checkpoints at the lowest of them and
  retries from there).

Tumbling windows (``TumblingWindowInSeconds`` on the mapping; "Implementing stateful Kinesis Data
Streams processing in Lambda", https://docs.aws.amazon.com/lambda/latest/dg/services-kinesis-windows.html,
and its DynamoDB Streams twin, services-ddb-windows.html): the response is a ``TimeWindowEventResponse``,
``{"state": {...}, "batchItemFailures": [...]}``. "When using tumbling windows, your Lambda function
response must contain a state property. If the response does not contain a state property, Lambda
considers this a failed invocation": with ``window=True`` a response that is not an object with a
``state`` is a complete failure, whatever ``ReportBatchItemFailures`` says; otherwise ``state`` is
carried in the verdict, next to the partial-failure reading above (the two are read together: the
state goes to the next invocation of the window, the failed records come back from the checkpoint).

Where the pages say nothing, the reader takes the safe side (the batch failed, so it is retried
and, in the end, reaches the on-failure destination instead of passing silently): a response that
is not a JSON object (a string, a number, a list) is not a valid response object; a
``batchItemFailures`` that is neither null nor a list; an item that is not an object, or whose
``itemIdentifier`` is not a string.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

__all__ = ["BatchResponse", "read_batch_response", "read_batch_response_payload"]


@dataclass(frozen=True, slots=True)
class BatchResponse:
    """How Lambda reads a batch handler's response.

    Attributes:
        status: ``"ok"`` (every record succeeded), ``"partial"`` (the records in ``failed_ids``
            failed) or ``"failed"`` (the whole batch failed; ``reason`` says why).
        failed_ids: For ``"partial"``: the identifiers the response named, in its order.
        first_failed_index: For ``"partial"``: the position in the batch of the earliest failed
            record (Lambda's checkpoint for a stream); ``0`` for ``"failed"``; ``None`` for ``"ok"``.
        reason: For ``"failed"``: why the response fails the whole batch (one line).
        state: For a tumbling-window invocation (``window=True``) that did not fail: the response's
            ``state``, which Lambda passes to the next invocation of the window; else None.
    """

    status: Literal["ok", "partial", "failed"]
    failed_ids: tuple[str, ...] = ()
    first_failed_index: int | None = None
    reason: str | None = None
    state: Any = None

    @property
    def ok(self) -> bool:
        """Every record succeeded."""
        return self.status == "ok"

    @classmethod
    def whole_batch_failed(cls, reason: str) -> BatchResponse:
        """The whole batch failed, for ``reason``."""
        return cls("failed", first_failed_index=0, reason=reason)


_OK = BatchResponse("ok")


def read_batch_response(
    response: Any, identifiers: Sequence[str], *, report_failures: bool = True, window: bool = False
) -> BatchResponse:
    """Read a handler's (returned, JSON-decoded) response as Lambda does (see the module docstring).

    Args:
        response: What the handler returned (an in-process call) or its JSON-decoded payload.
        identifiers: The batch's item identifiers in order: sequence numbers for Kinesis and
            DynamoDB Streams, message ids for SQS.
        report_failures: The mapping has ``ReportBatchItemFailures`` on. Default: True.
        window: The invocation was a tumbling-window invocation: the response must carry a
            ``state`` (the verdict's ``state``). Default: False.

    Returns:
        The verdict.
    """
    if not window:
        return _read_failures(response, identifiers, report_failures)
    if not isinstance(response, dict) or "state" not in response:
        return BatchResponse.whole_batch_failed(
            "tumbling window: the response has no 'state' property (Lambda treats it as a failed invocation)"
        )
    verdict = _read_failures(response, identifiers, report_failures)
    if verdict.status == "failed":
        return verdict
    return dataclasses.replace(verdict, state=response["state"])


def _read_failures(response: Any, identifiers: Sequence[str], report_failures: bool) -> BatchResponse:
    if not report_failures or response is None:
        return _OK
    if not isinstance(response, dict):
        return BatchResponse.whole_batch_failed(
            f"ReportBatchItemFailures: the response is a {type(response).__name__}, not a JSON object: "
            "the whole batch failed"
        )
    failures = response.get("batchItemFailures")
    if failures is None or (isinstance(failures, list) and not failures):
        return _OK
    if not isinstance(failures, list):
        return BatchResponse.whole_batch_failed("batchItemFailures is not a list: the whole batch failed")
    ids: list[str] = []
    for item in failures:
        ident = item.get("itemIdentifier") if isinstance(item, dict) else None
        if not ident or not isinstance(ident, str):
            return BatchResponse.whole_batch_failed(
                "batchItemFailures item without a valid itemIdentifier: the whole batch failed"
            )
        ids.append(ident)
    positions: dict[str, int] = {}
    for index, ident in enumerate(identifiers):
        positions.setdefault(ident, index)
    unknown = [i for i in ids if i not in positions]
    if unknown:
        return BatchResponse.whole_batch_failed(
            f"batchItemFailures names records not in the batch ({unknown[:3]}): the whole batch failed"
        )
    return BatchResponse("partial", tuple(ids), min(positions[i] for i in ids))


def read_batch_response_payload(
    payload: bytes, identifiers: Sequence[str], *, report_failures: bool = True, window: bool = False
) -> BatchResponse:
    """:func:`read_batch_response` for the raw payload of a synchronous ``Invoke``.

    An empty payload is a null response; a payload that is not JSON is "an invalid JSON response"
    (the whole batch failed) when ``report_failures`` is on.
    """
    if not payload:
        return read_batch_response(None, identifiers, report_failures=report_failures, window=window)
    try:
        response = json.loads(payload)
    except ValueError:  # JSONDecodeError and UnicodeDecodeError
        if not report_failures and not window:
            return _OK
        return BatchResponse.whole_batch_failed("the response is not valid JSON: the whole batch failed")
    return read_batch_response(response, identifiers, report_failures=report_failures, window=window)

"""The data-filter rule: a filter on the record ``data`` of a Kinesis stream whose producers write
gzip-compressed or KPL-aggregated records.

Lambda applies a Kinesis filter on ``data`` only to records whose data is valid JSON; other
records never match a data filter, so they are dropped unprocessed (Lambda, "Using event filtering
with a Kinesis event source", and its section on aggregated records:
https://docs.aws.amazon.com/lambda/latest/dg/with-kinesis-filtering.html).

The signal, read from the template: a function of the stack whose environment says it compresses
or aggregates (``EVENT_PIPELINE_COMPRESS`` / ``EVENT_PIPELINE_AGGREGATE`` = ``"true"``, set by
``EventStream.connect_producer`` and read by the runtime's producer) and whose role may put records
on the mapping's stream. A producer that sets neither variable (one the library does not know) is
not seen: the rule then stays silent.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from cdk_nag import NagMessageLevel

from .._defaults import PRODUCER_AGGREGATE_ENV, PRODUCER_COMPRESS_ENV
from ._mapping import LAMBDA_FUNCTION, Mapping, SourceKind
from ._rule import NagRule
from ._template import Json, StackTemplate, target

KINESIS_FILTERING_DOC = "https://docs.aws.amazon.com/lambda/latest/dg/with-kinesis-filtering.html"
#: Actions that let a role put records on a stream (Kinesis API reference).
PUT_ACTIONS = frozenset({"kinesis:PutRecord", "kinesis:PutRecords", "kinesis:*", "*"})


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _statements(template: StackTemplate, role_id: str) -> Iterator[Json]:
    """Every policy statement of the role: its inline policies and the IAM policies attached to it."""
    documents = [p.get("PolicyDocument") for p in template.props(role_id).get("Policies") or []]
    for policy in template.of_type("AWS::IAM::Policy").values():
        roles = policy.get("Properties", {}).get("Roles") or []
        if any(target(r) == (role_id, "Ref") for r in roles):
            documents.append(policy["Properties"].get("PolicyDocument"))
    for document in documents:
        statements = document.get("Statement") if isinstance(document, dict) else None
        yield from (s for s in _as_list(statements or []) if isinstance(s, dict))


def _may_put(template: StackTemplate, role_id: str, stream_id: str) -> bool:
    for statement in _statements(template, role_id):
        actions = {a for a in _as_list(statement.get("Action")) if isinstance(a, str)}
        resources = _as_list(statement.get("Resource"))
        if statement.get("Effect") == "Allow" and actions & PUT_ACTIONS:
            if any((ref := target(r)) is not None and ref[0] == stream_id for r in resources):
                return True
    return False


def encoding_producers(template: StackTemplate, stream_id: str) -> list[str]:
    """Logical ids of the functions of ``template`` that compress or aggregate and may put on the stream."""
    found = []
    for logical_id, function in template.of_type(LAMBDA_FUNCTION).items():
        props = function.get("Properties", {})
        variables = (props.get("Environment") or {}).get("Variables") or {}
        if "true" not in (variables.get(PRODUCER_COMPRESS_ENV), variables.get(PRODUCER_AGGREGATE_ENV)):
            continue
        role = target(props.get("Role"))
        if role is not None and _may_put(template, role[0], stream_id):
            found.append(logical_id)
    return found


def tests_data(pattern: Json) -> bool:
    """Whether a filter pattern tests the record ``data``, at its top level or in an ``$or`` branch."""
    branches = pattern.get("$or")
    return "data" in pattern or (
        isinstance(branches, list) and any(isinstance(b, dict) and tests_data(b) for b in branches)
    )


def _filter_matches_encoding(mapping: Mapping) -> bool | None:
    if mapping.kind is not SourceKind.KINESIS or mapping.source_id is None:
        return None
    if not any(tests_data(pattern) for pattern in mapping.filter_patterns()):
        return None
    return not encoding_producers(mapping.template, mapping.source_id)


FILTER_RULES = (
    NagRule(
        suffix="KinesisDataFilterOnEncodedRecords",
        level=NagMessageLevel.ERROR,
        info="The mapping filters on the record data of a stream that a producer writes compressed or "
        "KPL-aggregated (EVENT_PIPELINE_COMPRESS/EVENT_PIPELINE_AGGREGATE). Fix: filter on another key "
        "(e.g. partitionKey) or in the handler, or connect the producer with compress=False, aggregate=False.",
        explanation="Lambda applies a data filter only to JSON record data: every compressed or aggregated "
        f"record fails the filter and is dropped without being processed ({KINESIS_FILTERING_DOC}).",
        check=_filter_matches_encoding,
    ),
)

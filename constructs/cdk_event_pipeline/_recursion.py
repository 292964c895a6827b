"""The synth-time half of the recursion guard: loops in the graph of sources and the functions
that read and write them.

AWS Lambda's recursive loop detection stops loops through Amazon SQS, Amazon SNS and Amazon S3
after about 16 invocations; it does not see Kinesis Data Streams or DynamoDB Streams ("Use Lambda
recursive loop detection to prevent infinite loops",
https://docs.aws.amazon.com/lambda/latest/dg/invocation-recursion.html). A function that reads a
stream and writes to the same stream, or to a stream another consumer reads and writes back from,
loops until someone notices.

The library knows every edge it wires: a consumer's function reads its source (stream, table's
change stream, queue); ``connect_producer``, ``grant_put``/``grant_write``, a table's
``connect``/``grant_*`` with write actions and a queue's ``connect_producer``/``grant_send`` make a
function write to a sink. At synth (an aspect on the app, run once), every consumer whose source
can be reached again from its own function gets a warning, ``cdk-event-pipeline:RecursiveLoop``,
naming the path. Loops made only of queues are left to AWS's detection. Edges the library does not
wire (a function calling ``PutRecords`` with a hand-written grant) are not seen.

The run-time half is the envelope's hop count (``event_pipeline_runtime.hops``).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

import jsii
from aws_cdk import Annotations
from aws_cdk import aws_lambda as lambda_
from constructs import IConstruct, IValidation

from . import _defaults as d
from ._kinds import FunctionOwner, HasNode
from ._validation import path_of, remembered

RECURSIVE_LOOP_WARNING = "cdk-event-pipeline:RecursiveLoop"
_GRAPH_ATTRIBUTE = "_cdk_event_pipeline_recursion_graph"


@dataclass
class _Read:
    source: str
    function: str
    consumer: IConstruct


@dataclass
class RecursionGraph:
    """Sources (by construct path and kind) and the functions reading and writing them, per app."""

    kinds: dict[str, str] = field(default_factory=dict)
    reads: list[_Read] = field(default_factory=list)
    writes: dict[str, set[str]] = field(default_factory=dict)
    checked: bool = False

    @classmethod
    def of(cls, scope: IConstruct) -> RecursionGraph:
        """The graph of ``scope``'s app, made on first use."""
        root = remembered(scope, "_cep_root", lambda: scope.node.root)
        graph = getattr(root, _GRAPH_ATTRIBUTE, None)
        if not isinstance(graph, RecursionGraph):
            graph = cls()
            setattr(root, _GRAPH_ATTRIBUTE, graph)
        return graph

    def read(self, source: HasNode, kind: str, function: lambda_.IFunction, consumer: IConstruct) -> None:
        """``consumer``'s ``function`` reads ``source`` (a ``stream``, ``table`` or ``queue``)."""
        source_path = path_of(source)
        self.kinds[source_path] = kind
        self.reads.append(_Read(source_path, function_key(function), consumer))
        consumer.node.add_validation(_RecursionCheck(self))

    def write(self, sink: HasNode, kind: str, function: object) -> None:
        """``function`` writes to ``sink``; grantees that are not functions are ignored."""
        key = function_key_of_grantee(function)
        if key is None:
            return
        sink_path = path_of(sink)
        self.kinds[sink_path] = kind
        self.writes.setdefault(key, set()).add(sink_path)

    def loop_from(self, read: _Read) -> list[str] | None:
        """The shortest path ``function -> sink -> function -> ... -> read.source``, or ``None``."""
        readers: dict[str, set[str]] = {}
        for r in self.reads:
            readers.setdefault(r.source, set()).add(r.function)
        previous: dict[str, str | None] = {read.function: None}
        queue: deque[str] = deque([read.function])
        while queue:
            function = queue.popleft()
            for sink in sorted(self.writes.get(function, ())):
                if sink == read.source:
                    path = [sink, function]
                    node = previous[function]
                    while node is not None:
                        path.append(node)
                        node = previous[node]
                    return list(reversed(path))
                if sink in previous:
                    continue
                previous[sink] = function
                for reader in sorted(readers.get(sink, ())):
                    if reader not in previous:
                        previous[reader] = sink
                        queue.append(reader)
        return None

    def check(self) -> None:
        """Warn on every consumer whose source its own function can reach again."""
        for read in self.reads:
            path = self.loop_from(read)
            if path is None:
                continue
            if not any(self.kinds.get(node) in ("stream", "table") for node in path[1::2] + [read.source]):
                continue  # queues only: AWS's recursive loop detection covers them
            Annotations.of(read.consumer).add_warning_v2(RECURSIVE_LOOP_WARNING, _message(read, path, self.kinds))


def _message(read: _Read, path: list[str], kinds: dict[str, str]) -> str:
    steps = []
    for i in range(0, len(path) - 1, 2):
        step = f"{path[i]} writes to {path[i + 1]}"
        if i + 2 < len(path):
            step += f", which {path[i + 2]} reads"
        steps.append(step)
    route = "; ".join(steps)
    tables = any(kinds.get(node) == "table" for node in path[1::2])
    given = read.consumer.max_hops if isinstance(read.consumer, FunctionOwner) else None
    limit = f"max_hops {given}" if isinstance(given, int) else f"the default {d.MAX_HOPS}"
    guard = (
        f"At run time the consumer refuses a record that has taken more hops than {limit} "
        f"({d.MAX_HOPS_ENV}) and sends it to the on-failure destination, which ends a loop of envelopes"
    )
    if tables:
        guard += "; a DynamoDB change record carries no hop count, so a loop through a table goes on until the " \
                 "function stops writing"
    return (
        f"The function {read.function} reads {read.source} and what it writes comes back to it ({route}): a "
        "recursive loop. AWS Lambda's recursive loop detection covers SQS, SNS and S3, not Kinesis or DynamoDB "
        f"Streams. {guard}. Break the loop (write elsewhere, or filter out the records the function writes), or "
        "acknowledge this warning if the loop is intended and bounded."
    )


def function_key(function: lambda_.IFunction) -> str:
    """The construct path of the function behind a function, version or alias."""
    if isinstance(function, lambda_.Alias):
        return path_of(function.version.lambda_)
    if isinstance(function, lambda_.Version):
        return path_of(function.lambda_)
    return path_of(function)


def function_key_of_grantee(grantee: object) -> str | None:
    """The function a grantee stands for (a function, or a consumer or worker), else ``None``."""
    if isinstance(grantee, FunctionOwner):
        return function_key(grantee.function)
    if isinstance(grantee, lambda_.FunctionBase):
        return function_key(grantee)
    return None


@jsii.implements(IValidation)
class _RecursionCheck:
    """Runs :meth:`RecursionGraph.check` once, in the validation phase of the first synthesis
    that validates a reading consumer (every edge is wired by then); reports no errors: loops are
    warnings."""

    def __init__(self, graph: RecursionGraph) -> None:
        self.graph = graph

    def validate(self) -> list[str]:
        if not self.graph.checked:
            self.graph.checked = True
            self.graph.check()
        return []

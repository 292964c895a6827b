"""A synthesized app running locally, named the way its author named it: feed it, run it, look.

    from cdk_event_pipeline.local import LocalPipeline

    with LocalPipeline.from_app(".") as pipeline:            # or from_assembly("cdk.out")
        pipeline.put_records("Orders", [{"sku": "A1", "quantity": 2}], partition_key="o-1")
        report = pipeline.run_until_idle()
        print(report)                                        # what each mapping did
        pipeline.invocations("Orders/Billing")               # each invocation, its records, outcome
        pipeline.failures("Orders/Billing")                  # on-failure documents of the consumer
        pipeline.dead_letters("Jobs")                        # messages in a work queue's DLQ
        pipeline.table_items("Inventory")                    # a table's items, plain Python

**Time.** Waits cost no real time: each lane has its own clock (see :mod:`.streams`). A test makes
time pass with :meth:`LocalPipeline.advance` (records put before it have waited that long; a
tumbling window ends, a failed message's visibility timeout passes), pauses a mapping with
:meth:`LocalPipeline.disable` and resumes it with :meth:`LocalPipeline.enable`, and runs without
letting timers jump ahead with ``run(let_time_pass=False)`` (the README's "Testing your stack").

**Names.** Every method takes a resource by its construct path in the app (``Orders``,
``Orders/Billing``, the stack name left out), by a construct path prefix that selects one
resource of the kind the method needs (``Orders`` is the stream of the ``EventStream`` named
``Orders``; ``Jobs`` the work queue rather than its dead-letter queue), by logical id (or its
prefix), or by physical name. Paths come from the template's ``aws:cdk:path`` metadata (``cdk
synth`` writes it; :func:`~.assembly.synthesize` asks for it); without metadata the path's
parts joined (``OrdersBilling``) are matched against logical ids.

:class:`LocalPipeline` owns a :class:`~.runner.LocalRunner`, and the endpoint when it started one
(a :class:`~.endpoint.LocalEndpoint` in this process: the handlers' AWS calls are answered
without HTTP).
"""

from __future__ import annotations

import base64
import json
import os
import tempfile
import uuid
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from .assembly import synthesize
from .destinations import S3Destination, SqsDestination
from .endpoint import LocalEndpoint, hold_speedups, is_in_process
from .events import RunnerEvent
from .functions import LocalFunction
from .peek import peek
from .reports import Invocation, MappingReport, Message, NotIdleError, RunReport, mapping_reports
from .resources import LocalResource
from .runner import LocalRunner
from .sqs import SqsPoller
from .streams import StreamPoller
from .values import decode_data, dynamo, json_or_text, payload, plain

__all__ = ["DEFAULT_MAX_INVOCATIONS", "Invocation", "LocalPipeline", "MappingReport", "Message", "NotIdleError",
           "RunReport"]

#: Default bound of :meth:`LocalPipeline.run_until_idle`.
DEFAULT_MAX_INVOCATIONS = 10_000

_TYPES = {
    "stream": ("AWS::Kinesis::Stream",),
    "queue": ("AWS::SQS::Queue",),
    "table": ("AWS::DynamoDB::Table", "AWS::DynamoDB::GlobalTable"),
    "bucket": ("AWS::S3::Bucket",),
    "function": ("AWS::Lambda::Function",),
    "mapping": ("AWS::Lambda::EventSourceMapping",),
}


class LocalPipeline:
    """A deployed-locally stack, with the operations tests and the CLI need.

    Args:
        runner: A deployed runner.
        endpoint: The endpoint the pipeline owns (stopped by :meth:`close`), if any.
    """

    def __init__(self, runner: LocalRunner, endpoint: LocalEndpoint | None = None) -> None:
        self.runner = runner
        self.endpoint = endpoint
        self._paths = self._index()
        # the moto speed-ups while the pipeline is open (an in-process endpoint that wants them)
        self._release_speedups = hold_speedups(runner.endpoint_url)

    # --- construction -----------------------------------------------------------------------

    @classmethod
    def from_assembly(
        cls,
        cdk_out: str | os.PathLike[str],
        *,
        stack: str | None = None,
        endpoint: LocalEndpoint | str | None = None,
        region: str = "us-east-1",
        environment: dict[str, str] | None = None,
        on_demand_shards: int = 1,
    ) -> LocalPipeline:
        """Deploy one stack of a cloud assembly.

        Args:
            cdk_out: The cloud assembly directory.
            stack: The stack's name when the assembly has several.
            endpoint: A running :class:`LocalEndpoint`, an endpoint URL, or None to start one
                (owned by the pipeline).
            region: The region.
            environment: Added to every function's environment.
            on_demand_shards: Shards for ON_DEMAND streams.
        """
        owned = None
        if endpoint is None:
            owned = endpoint = LocalEndpoint().start()
        url = endpoint.url if isinstance(endpoint, LocalEndpoint) else endpoint
        try:
            runner = LocalRunner.from_assembly(cdk_out, stack, endpoint_url=url, region=region,
                                               extra_environment=environment, on_demand_shards=on_demand_shards)
            return cls(runner.deploy(), owned)
        except BaseException:
            if owned is not None:
                owned.stop()
            raise

    @classmethod
    def from_app(cls, app_dir: str | os.PathLike[str] = ".", *, outdir: str | os.PathLike[str] | None = None,
                 **kwargs: Any) -> LocalPipeline:
        """Synthesize the app in ``app_dir`` (into ``outdir``, default a temporary directory), then deploy."""
        target = Path(outdir) if outdir is not None else Path(tempfile.mkdtemp(prefix="cdk.out.local."))
        return cls.from_assembly(synthesize(app_dir, target), **kwargs)

    def close(self) -> None:
        """Stop the endpoint the pipeline owns, remove its scratch files, undo the moto speed-ups
        (unless something else still holds them)."""
        self._release_speedups()
        self.runner.close()
        if self.endpoint is not None:
            self.endpoint.stop()
            self.endpoint = None

    def __enter__(self) -> LocalPipeline:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # --- names ------------------------------------------------------------------------------

    def _index(self) -> dict[str, str]:
        stack = self.runner.stack
        paths: dict[str, str] = {}
        for logical_id, resource in stack.resources.items():
            path = (resource.get("Metadata") or {}).get("aws:cdk:path")
            if isinstance(path, str):
                parts = path.split("/")[1:]
                while parts and parts[-1] in {"Resource", "Default"}:
                    parts.pop()
                paths[logical_id] = "/".join(parts)
        return paths

    def path(self, logical_id: str) -> str:
        """A resource's construct path (its logical id when the template has no path metadata)."""
        return self._paths.get(logical_id) or logical_id

    def _dead_letter_targets(self) -> set[str]:
        """Queues that are some queue's DLQ or some mapping's on-failure destination (logical ids)."""
        by_arn = {r.attributes.get("Arn"): lid for lid, r in self.runner.resources.items()
                  if r.type == "AWS::SQS::Queue"}
        out: set[str] = set()
        for resource in self.runner.stack.resources.values():
            props = resource.get("Properties") or {}
            targets = [((props.get("RedrivePolicy") or {}).get("deadLetterTargetArn")),
                       (((props.get("DestinationConfig") or {}).get("OnFailure") or {}).get("Destination"))]
            for target in targets:
                if target:
                    arn = self.runner.resolve(target)
                    if arn in by_arn:
                        out.add(by_arn[arn])
        return out

    def find(self, name: str, kind: str) -> str:
        """The logical id of the ``kind`` resource (``stream``, ``queue``, ``table``, ``bucket``,
        ``function``, ``mapping``) that ``name`` denotes (see the module docstring).

        Raises:
            KeyError: No resource of that kind, or several, match (the message lists them).
        """
        types = _TYPES[kind]
        resources = self.runner.resources
        candidates = {lid: r for lid, r in resources.items() if r.type in types}
        if kind == "mapping":
            candidates = {lid: resources[lid] for lid in self.runner.pollers if lid in resources} or {
                lid: LocalResource(lid, types[0], lid) for lid in self.runner.pollers}
        if kind == "function":
            candidates = {lid: r for lid, r in candidates.items() if lid in self.runner.functions}
        exact = [lid for lid, r in candidates.items() if name in {lid, r.ref, self._paths.get(lid)}]
        if len(exact) == 1:
            return exact[0]
        squashed = name.replace("/", "")
        matches = exact or [
            lid for lid in candidates
            if (lid in self._paths and self._paths[lid].startswith(name + "/"))
            or (lid not in self._paths and lid.startswith(squashed))
        ]
        if len(matches) > 1 and kind == "queue":
            dlqs = self._dead_letter_targets()
            matches = [lid for lid in matches if lid not in dlqs] or matches
        if len(matches) > 1:
            shortest = min(len(self.path(lid)) for lid in matches)
            matches = [lid for lid in matches if len(self.path(lid)) == shortest]
        if len(matches) == 1:
            return matches[0]
        known = sorted(self.path(lid) for lid in candidates)
        what = f"{len(matches)} {kind}s ({sorted(self.path(m) for m in matches)})" if matches else f"no {kind}"
        raise KeyError(f"{name!r} matches {what}; the stack's {kind}s: {known}")

    def resource(self, name: str, kind: str) -> LocalResource:
        """The local resource ``name`` denotes (its ``ref`` is the physical name / URL)."""
        return self.runner.resources[self.find(name, kind)]

    def function(self, name: str) -> LocalFunction:
        """A loaded function (its ``module``, ``wrappers``, ``environment``)."""
        return self.runner.functions[self.find(name, "function")]

    def client(self, service: str) -> Any:
        """A boto3 client on the pipeline's endpoint."""
        return self.runner.client(service)

    # --- feeding ----------------------------------------------------------------------------

    def put_records(self, stream: str, records: Iterable[Any], *,
                    partition_key: str | Callable[[Any], str] = "local") -> list[str]:
        """Put records on a Kinesis stream, in order, one writer (PutRecords, 500 per call).

        Args:
            stream: The stream (construct path, logical id or name).
            records: dicts / lists (sent as JSON), str (UTF-8) or bytes.
            partition_key: A key for every record, or a function of the record. Default: ``local``.

        Returns:
            The sequence numbers, in order.
        """
        client = self.client("kinesis")
        name = self.resource(stream, "stream").ref
        items = list(records)
        sequences: list[str] = []
        for start in range(0, len(items), 500):
            chunk = items[start : start + 500]
            entries = [{"Data": payload(r),
                        "PartitionKey": partition_key(r) if callable(partition_key) else partition_key}
                       for r in chunk]
            response = client.put_records(StreamName=name, Records=entries)
            if response.get("FailedRecordCount"):
                raise RuntimeError(f"{stream}: {response['FailedRecordCount']} records were not put: {response}")
            sequences += [r["SequenceNumber"] for r in response["Records"]]
        return sequences

    def put_record(self, stream: str, record: Any, *, partition_key: str = "local") -> str:
        """Put one record; return its sequence number."""
        return self.put_records(stream, [record], partition_key=partition_key)[0]

    def send_messages(self, queue: str, bodies: Iterable[Any], *, group_id: str | None = None,
                      attributes: dict[str, str] | None = None) -> list[str]:
        """Send messages to a queue (in order); dicts / lists are sent as JSON.

        Args:
            queue: The queue.
            bodies: The message bodies.
            group_id: ``MessageGroupId``: a FIFO queue's message group, or a standard queue's
                tenant (SQS fair queues; moto stores and returns it, without fair scheduling).
                Default: ``local`` on a FIFO queue, none on a standard one.
            attributes: String message attributes for every message.

        Returns:
            The message ids.
        """
        client = self.client("sqs")
        resource = self.resource(queue, "queue")
        fifo = str(resource.attributes.get("QueueName", "")).endswith(".fifo")
        ids = []
        for body in bodies:
            kwargs: dict[str, Any] = {"QueueUrl": resource.ref,
                                      "MessageBody": body if isinstance(body, str) else json.dumps(body, default=str)}
            if attributes:
                kwargs["MessageAttributes"] = {k: {"DataType": "String", "StringValue": v}
                                               for k, v in attributes.items()}
            if fifo:
                kwargs["MessageGroupId"] = group_id or "local"
                kwargs["MessageDeduplicationId"] = str(uuid.uuid4())
            elif group_id is not None:
                kwargs["MessageGroupId"] = group_id
            ids.append(client.send_message(**kwargs)["MessageId"])
        return ids

    def send_message(self, queue: str, body: Any, **kwargs: Any) -> str:
        """Send one message; return its id."""
        return self.send_messages(queue, [body], **kwargs)[0]

    def write_items(self, table: str, items: Iterable[dict[str, Any]]) -> None:
        """Put items (plain Python values; floats are stored as numbers) into a table."""
        from boto3.dynamodb.types import TypeSerializer  # noqa: PLC0415

        serializer = TypeSerializer()
        client = self.client("dynamodb")
        name = self.resource(table, "table").ref
        for item in items:
            client.put_item(TableName=name, Item={k: serializer.serialize(dynamo(v)) for k, v in item.items()})

    def invoke(self, function: str, event: dict[str, Any]) -> Any:
        """Invoke a function directly; a function error raises :class:`~.functions.FunctionError`."""
        return self.runner.invoke(self.find(function, "function"), event)

    # --- running ----------------------------------------------------------------------------

    def run(self, *, max_invocations: int | None = None, max_steps: int | None = None,
            let_time_pass: bool = True) -> RunReport:
        """Run the mappings until idle or a bound; never raises for being stopped by a bound.

        Args:
            max_invocations: Stop after this many invocations.
            max_steps: Stop after this many scheduling steps.
            let_time_pass: When nothing else is due, let a lane's clock jump to its next timer (a
                tumbling window's end, a failed message becoming visible). False: only what is due
                now runs (time passes only by :meth:`advance`); the report is then not ``idle`` while
                timers are left.
        """
        stats = self.runner.run(max_invocations=max_invocations, max_steps=max_steps, let_time_pass=let_time_pass)
        return RunReport(stats, self.mappings())

    def advance(self, seconds: float) -> None:
        """Make time pass for the whole pipeline: every mapping's and lane's clock moves ``seconds``
        ahead of the present. Records and messages already there have waited that much longer (record
        age, the stream's retention); what is put afterwards arrives that much later. Nothing runs
        until the next :meth:`run`.

        Raises:
            ValueError: ``seconds`` is negative (time never goes back).
        """
        if isinstance(seconds, bool) or not isinstance(seconds, int | float) or seconds < 0:
            raise ValueError(f"advance: seconds must be a number >= 0 (given {seconds!r})")
        self.runner.advance(float(seconds))

    def disable(self, mapping: str) -> None:
        """Disable a mapping (``Enabled: false``): it reads and invokes nothing until :meth:`enable`;
        a stream mapping keeps its checkpoints, and the stream keeps records for its retention period.

        Args:
            mapping: The mapping, or its function (construct path, logical id, ...).
        """
        for poller in self._pollers(mapping):
            self.runner.set_enabled(poller.mapping_id, False)

    def enable(self, mapping: str) -> None:
        """Enable a mapping again (or one the template disabled): it resumes from its checkpoints."""
        for poller in self._pollers(mapping):
            self.runner.set_enabled(poller.mapping_id, True)

    def run_until_idle(self, *, max_invocations: int = DEFAULT_MAX_INVOCATIONS) -> RunReport:
        """Run until every mapping is idle (tumbling windows closed, failed messages redelivered).

        Raises:
            NotIdleError: ``max_invocations`` were made and work is left (a shard retrying
                forever, a handler that feeds itself).
        """
        report = self.run(max_invocations=max_invocations)
        if not report.idle:
            raise NotIdleError(f"not idle after {max_invocations} invocations:\n{report}")
        return report

    # --- inspection -------------------------------------------------------------------------

    def _events(self, kind: str) -> Iterator[RunnerEvent]:
        return (e for e in self.runner.log.events if e.kind == kind)

    def invocations(self, name: str | None = None) -> list[Invocation]:
        """Invocations, oldest first: all, or those of one mapping or function."""
        mapping_id = function_id = None
        if name is not None:
            try:
                mapping_id = self.find(name, "mapping")
            except KeyError:
                function_id = self.find(name, "function")
        out = []
        for event in self._events("invoke"):
            if (mapping_id and event.mapping != mapping_id) or (function_id and event.function != function_id):
                continue
            out.append(self._invocation(event))
        return out

    def _invocation(self, event: RunnerEvent) -> Invocation:
        d = event.detail
        poller = self.runner.pollers.get(event.mapping)
        ids: list[str]
        records: list[Any]
        if isinstance(poller, StreamPoller):
            ids = list(d.get("sequence_numbers") or [])
            records = [self._stream_record(poller, d.get("shard", ""), i) for i in ids]
        elif isinstance(poller, SqsPoller):
            ids = list(d.get("message_ids") or [])
            records = [json_or_text(b) for b in d.get("bodies") or []]
        else:
            ids, records = [], []
        return Invocation(
            mapping=self.path(event.mapping), function=self.path(event.function), outcome=str(d.get("outcome")),
            error=d.get("error"), records=records, ids=ids, failed=list(d.get("failed") or []),
            attempt=int(d.get("attempt") or 1), timed_out=bool(d.get("timed_out")), window=d.get("window"),
            final_window=bool(d.get("final_window")), detail=dict(d),
        )

    @staticmethod
    def _stream_record(poller: StreamPoller, shard: str, sequence_number: str) -> Any:
        record = poller.index.get((shard, sequence_number))
        if record is None:
            return None
        if record.source == "dynamodb":
            return (record.dynamodb or {}).get("dynamodb")
        data = base64.b64encode(record.data or b"").decode("ascii")
        return decode_data(data)

    def _peek(self, url: str) -> list[Message]:
        """A queue's messages without consuming them (in-process: moto's state; else receive + release)."""
        in_process = self.endpoint is not None or is_in_process(self.runner.endpoint_url)
        return peek(self.client("sqs"), url, region=self.runner.region, in_process=in_process)

    def queue_messages(self, queue: str) -> list[Message]:
        """The messages in a queue, read without consuming them."""
        return self._peek(self.resource(queue, "queue").ref)

    def dead_letters(self, queue: str) -> list[Message]:
        """The messages in the dead-letter queue of a queue (its ``RedrivePolicy`` target)."""
        lid = self.find(queue, "queue")
        policy = (self.runner.stack.resources[lid].get("Properties") or {}).get("RedrivePolicy")
        if not policy:
            raise KeyError(f"{queue!r} ({self.path(lid)}) has no redrive policy (no dead-letter queue)")
        arn = self.runner.resolve(policy)["deadLetterTargetArn"]
        dlq = next(r for r in self.runner.resources.values()
                   if r.type == "AWS::SQS::Queue" and r.attributes.get("Arn") == arn)
        return self._peek(dlq.ref)

    def failures(self, consumer: str) -> list[dict[str, Any]]:
        """The on-failure documents a stream mapping sent (its DLQ's messages or S3 objects), oldest first.

        Args:
            consumer: The mapping, or its function (construct path, logical id, ...).
        """
        pollers = self._pollers(consumer)
        out: list[dict[str, Any]] = []
        for poller in pollers:
            destination = getattr(poller, "destination", None)
            if isinstance(destination, SqsDestination):
                out += [m.json for m in self._peek(destination.queue_url)]
            elif isinstance(destination, S3Destination):
                s3 = self.client("s3")
                listing = s3.list_objects_v2(Bucket=destination.bucket, Prefix=f"aws/lambda/{poller.mapping_uuid}/")
                for item in sorted(listing.get("Contents", []), key=lambda o: o["Key"]):
                    out.append(json.loads(s3.get_object(Bucket=destination.bucket, Key=item["Key"])["Body"].read()))
            elif destination is None:
                out += [{"discarded": e.detail} for e in self._events("discarded") if e.mapping == poller.mapping_id]
        return out

    def _pollers(self, name: str) -> list[Any]:
        try:
            return [self.runner.pollers[self.find(name, "mapping")]]
        except KeyError:
            function = self.find(name, "function")
            pollers = [p for p in self.runner.pollers.values() if p.function.logical_id == function]
            if not pollers:
                raise KeyError(f"{name!r}: no event source mapping invokes {self.path(function)}") from None
            return pollers

    def table_items(self, table: str) -> list[dict[str, Any]]:
        """A table's items, plain Python (numbers as int / float), in scan order."""
        from boto3.dynamodb.types import TypeDeserializer  # noqa: PLC0415

        deserializer = TypeDeserializer()
        client = self.client("dynamodb")
        name = self.resource(table, "table").ref
        items: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {"TableName": name}
        while True:
            page = client.scan(**kwargs)
            items += [{k: plain(deserializer.deserialize(v)) for k, v in item.items()}
                      for item in page.get("Items", [])]
            if "LastEvaluatedKey" not in page:
                return items
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def mappings(self) -> dict[str, MappingReport]:
        """What each mapping did so far, by construct path."""
        mappings = [(lid, poller.function.logical_id, "sqs" if isinstance(poller, SqsPoller) else poller.reader.kind)
                    for lid, poller in self.runner.pollers.items()]
        return mapping_reports(mappings, self.runner.log.events, self.path)

    def notes(self) -> list[str]:
        """What the runner could not model for this app (skipped functions, placeholders, ...)."""
        return list(self.runner.notes)


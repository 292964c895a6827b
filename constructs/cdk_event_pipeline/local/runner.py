"""The local runner: a synthesized stack on a local endpoint, its mappings as pollers.

    runner = LocalRunner.from_assembly("cdk.out", endpoint_url=url)
    runner.deploy()                      # resources by API, handlers loaded, pollers built
    runner.invoke("ApiFunction...", {...})
    runner.run()                         # poll until every mapping is idle

Most users want :class:`~.pipeline.LocalPipeline` (names from the app, feeding, inspection) or
the ``local_pipeline`` pytest fixture, both built on this class.

**Scheduling.** Every mapping, shard and parallelization lane has its own clock (see
:mod:`.streams` and :mod:`.sqs`). :meth:`LocalRunner.run` always invokes the lane whose clock is
earliest among those with records to handle; when none has any, it reads the sources again
(new records, messages); when nothing new arrived it lets the earliest *timer* fire (a
tumbling window ending, a failed SQS message becoming visible again); when there is none, the
run is idle (``run(let_time_pass=False)`` fires only the timers already due on their lane's clock:
time then passes only by :meth:`LocalRunner.advance`). Only one function runs at a time:
concurrency between lanes is modelled by their independent clocks, not by threads.
"""

from __future__ import annotations

import contextlib
import dataclasses
import gc
import os
import shutil
import tempfile
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

from .assembly import AssemblyError, StackTemplate, load_assembly
from .clock import PipelineClock
from .destinations import Destination, S3Destination, SnsDestination, SqsDestination
from .endpoint import DUMMY_CREDENTIALS, hold_speedups, register
from .events import EventLog
from .filters import EventFilter
from .functions import KNOWN_EXTERNAL_LAYERS, FunctionError, LocalFunction
from .resources import LocalResource, ResourceFactory, function_name
from .sqs import SqsMappingConfig, SqsPoller
from .streams import (
    DynamoDBStreamReader,
    KinesisReader,
    StreamMappingConfig,
    StreamPoller,
)


@contextlib.contextmanager
def _heap_frozen() -> Iterator[None]:
    """Keep the objects that survive the garbage collector's full collections out of its later scans, during a run.

    A run allocates and drops many objects per invocation, and the objects that stay (moto's
    items, stream records and messages, besides the modules and models that exist before the
    run) grow with every record: each full collection scans all of them, and the collector
    runs one each time the long-lived objects have grown by a quarter, so a run of n records
    scanned its heap again and again (most of the collector's 4 s in a 10,000-order run). During
    the run, the objects alive when it starts and those that survive each full collection are
    moved to the permanent generation (``gc.freeze()``), so each full collection scans only what
    arrived since the last one; ``gc.unfreeze()`` when the run ends returns them all to the
    oldest generation, and the callback is removed: the process's collector is as before the
    run, and a cycle among frozen objects that became garbage meanwhile is collected by the
    next full collection after the run. When something else froze objects already (the host
    process's own ``gc.freeze()``) or the collector is disabled, nothing is changed.
    See https://docs.python.org/3/library/gc.html#gc.freeze
    """
    if gc.get_freeze_count() or not gc.isenabled():
        yield
        return

    def after_full_collection(phase: str, info: dict[str, int]) -> None:
        if phase == "stop" and info.get("generation") == 2:
            gc.freeze()

    gc.freeze()
    gc.callbacks.append(after_full_collection)
    try:
        yield
    finally:
        gc.callbacks.remove(after_full_collection)
        gc.unfreeze()


_CLIENT_CONFIG = Config(retries={"mode": "standard", "max_attempts": 3}, connect_timeout=5, read_timeout=60)

Poller = StreamPoller | SqsPoller

#: Retention of a Kinesis stream without ``RetentionPeriodHours`` and of every DynamoDB stream: 24 hours
#: (Kinesis: "Changing the data retention period"; DynamoDB: "Change data capture for DynamoDB Streams").
DEFAULT_STREAM_RETENTION_SECONDS = 24 * 3600


@dataclass
class RunStats:
    """What :meth:`LocalRunner.run` did.

    Attributes:
        steps: Scheduling steps (invocations, discards, timers).
        invocations: Invocations made by the mappings.
        idle: Every mapping ran out of work (False: a bound stopped the run).
    """

    steps: int
    invocations: int
    idle: bool

    @property
    def rounds(self) -> int:
        """Alias of :attr:`steps` (earlier name)."""
        return self.steps


class LocalRunner:
    """Runs one stack of a cloud assembly against a local AWS endpoint.

    Args:
        stack: The stack (see :func:`~.assembly.load_assembly`).
        endpoint_url: The endpoint (a moto server; see :class:`~.endpoint.LocalEndpoint`).
        region: Region for clients and ARNs. Default: ``us-east-1``.
        on_demand_shards: Shards for ON_DEMAND streams. Default: 1.
        extra_environment: Added to every function's environment (e.g. log levels).
        credentials: Credentials for the runner's clients and the functions' environment.
            Default: dummy ones (a local endpoint accepts any; real ones are never needed).
    """

    def __init__(
        self,
        stack: StackTemplate,
        *,
        endpoint_url: str,
        region: str = "us-east-1",
        on_demand_shards: int = 1,
        extra_environment: dict[str, str] | None = None,
        credentials: dict[str, str] | None = None,
    ) -> None:
        self.stack = stack
        self.endpoint_url = endpoint_url
        self.region = region
        self.on_demand_shards = on_demand_shards
        self.extra_environment = dict(extra_environment or {})
        self.credentials = dict(credentials or DUMMY_CREDENTIALS)
        self.log = EventLog()
        #: The pipeline's time: the real time plus what :meth:`advance` added.
        self.clock = PipelineClock()
        self.resources: dict[str, LocalResource] = {}
        self.functions: dict[str, LocalFunction] = {}
        self.pollers: dict[str, Poller] = {}
        self.notes: list[str] = []
        self._clients: dict[str, Any] = {}
        self._factory: ResourceFactory | None = None
        self._workdir: Path | None = None

    @classmethod
    def from_assembly(cls, outdir: str | os.PathLike[str], stack_name: str | None = None, **kwargs: Any) -> LocalRunner:
        """Build a runner for one stack of ``outdir`` (the only one, or ``stack_name``)."""
        stacks = load_assembly(outdir)
        if stack_name is None:
            if len(stacks) > 1:
                raise AssemblyError(f"the assembly has several stacks ({[s.name for s in stacks]}): name one")
            return cls(stacks[0], **kwargs)
        for stack in stacks:
            if stack.name == stack_name:
                return cls(stack, **kwargs)
        raise AssemblyError(f"no stack {stack_name!r} in the assembly ({[s.name for s in stacks]})")

    def client(self, service: str) -> Any:
        """A boto3 client on the endpoint (cached; answered in-process when the endpoint is)."""
        if service not in self._clients:
            self._clients[service] = register(boto3.client(
                service, endpoint_url=self.endpoint_url, region_name=self.region, config=_CLIENT_CONFIG,
                aws_access_key_id=self.credentials["aws_access_key_id"],
                aws_secret_access_key=self.credentials["aws_secret_access_key"],
            ))
        return self._clients[service]

    # --- deploy -----------------------------------------------------------------------------

    def deploy(self) -> LocalRunner:
        """Create the resources, load every function, build every mapping's poller."""
        factory = ResourceFactory(self.stack, self.client, self.region, on_demand_shards=self.on_demand_shards)
        self.resources = factory.create_all()
        self._factory = factory
        for logical_id, resource in self.stack.resources.items():
            if resource["Type"] == "AWS::Lambda::Function":
                function = self._function(logical_id, resource.get("Properties", {}))
                if function is not None:
                    self.functions[logical_id] = function
        started = self.clock.now()
        for logical_id, resource in self.stack.resources.items():
            if resource["Type"] == "AWS::Lambda::EventSourceMapping":
                poller = self._mapping(logical_id, resource.get("Properties", {}), started)
                if poller is not None:
                    self.pollers[logical_id] = poller
        for poller in self.pollers.values():
            if isinstance(poller, StreamPoller) and poller.config.enabled:
                poller.start()
        self.notes += [n for n in factory.notes if n not in self.notes]
        return self

    def resolve(self, value: Any) -> Any:
        """Resolve intrinsics in ``value`` against the local resources."""
        assert self._factory is not None, "deploy() first"
        return self._factory.resolver.resolve(value)

    def _layer_dirs(self, logical_id: str, layers: list[Any]) -> list[Path]:
        dirs: list[Path] = []
        by_ref = {r.ref: lid for lid, r in self.resources.items() if r.type == "AWS::Lambda::LayerVersion"}
        for layer in layers:
            arn = self.resolve(layer)
            if arn in by_ref:
                props = self.stack.resources[by_ref[arn]].get("Properties", {})
                directory = self.stack.asset_dir((props.get("Content") or {}).get("S3Key"))
                if directory is None:
                    self.notes.append(f"{logical_id}: layer {by_ref[arn]} has no asset directory in the assembly")
                    continue
                dirs.append(directory / "python" if (directory / "python").is_dir() else directory)
                continue
            known = next((pkg for marker, pkg in KNOWN_EXTERNAL_LAYERS.items() if marker in str(arn)), None)
            if known is None:
                self.notes.append(f"{logical_id}: external layer {arn} is not available locally")
            else:
                self.notes.append(f"{logical_id}: layer {str(arn).rsplit(':', 2)[-2]} -> installed {known}")
        return dirs

    def _code_dir(self, logical_id: str, code: dict[str, Any]) -> Path | None:
        directory = self.stack.asset_dir(code.get("S3Key"))
        if directory is not None:
            return directory
        if isinstance(code.get("ZipFile"), str):  # inline code: Lambda writes it to index.py
            if self._workdir is None:
                self._workdir = Path(tempfile.mkdtemp(prefix="event-pipeline-local."))
            inline = self._workdir / logical_id
            inline.mkdir(parents=True, exist_ok=True)
            (inline / "index.py").write_text(code["ZipFile"])
            return inline
        return None

    def _function(self, logical_id: str, props: dict[str, Any]) -> LocalFunction | None:
        runtime = str(props.get("Runtime", ""))
        if not runtime.startswith("python"):
            what = "a container image" if props.get("PackageType") == "Image" else f"runtime {runtime or '?'}"
            self.notes.append(f"{logical_id}: {what} cannot run in-process (Python functions only): not loaded")
            return None
        directory = self._code_dir(logical_id, props.get("Code", {}))
        if directory is None:
            self.notes.append(f"{logical_id}: no asset directory for its code in the assembly: not loaded")
            return None
        variables = {k: str(v) for k, v in self.resolve((props.get("Environment") or {}).get("Variables", {})).items()}
        variables.update(self.extra_environment)
        variables.setdefault("AWS_ENDPOINT_URL", self.endpoint_url)
        variables.setdefault("AWS_REGION", self.region)
        variables.setdefault("AWS_DEFAULT_REGION", self.region)
        # Lambda's reserved variable; SnapStart is not modelled: every init is an on-demand one.
        variables.setdefault("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand")
        # Lambda gives every function its role's credentials in these variables.
        variables["AWS_ACCESS_KEY_ID"] = self.credentials["aws_access_key_id"]
        variables["AWS_SECRET_ACCESS_KEY"] = self.credentials["aws_secret_access_key"]
        variables["AWS_SESSION_TOKEN"] = self.credentials.get("aws_session_token", "local")
        resource = self.resources[logical_id]
        function = LocalFunction(
            logical_id, resource.ref, resource.attributes["Arn"], str(props.get("Handler", "index.handler")),
            directory, self._layer_dirs(logical_id, props.get("Layers", [])), variables,
            timeout_seconds=float(props.get("Timeout", 3)), memory_mb=int(props.get("MemorySize", 128)),
        ).load()
        if function.import_error is not None:
            hint = (" (the Powertools layer: pip install 'cdk-event-pipeline[local]')"
                    if "aws_lambda_powertools" in function.import_error else "")
            self.notes.append(f"{logical_id}: {function.import_error}{hint}: every invocation fails "
                              "with Runtime.ImportModuleError")
        return function

    def _destination(self, props: dict[str, Any]) -> Destination | None:
        arn = ((props.get("DestinationConfig") or {}).get("OnFailure") or {}).get("Destination")
        if not arn:
            return None
        arn = str(self.resolve(arn))
        if arn.startswith("arn:aws:sqs:"):
            url = self.client("sqs").get_queue_url(QueueName=arn.rsplit(":", 1)[-1])["QueueUrl"]
            return SqsDestination(arn, url, self.client("sqs"))
        if arn.startswith("arn:aws:s3:::"):
            return S3Destination(arn, arn.removeprefix("arn:aws:s3:::"), self.client("s3"))
        if arn.startswith("arn:aws:sns:"):
            return SnsDestination(arn, self.client("sns"))
        self.notes.append(f"on-failure destination {arn}: only SQS, SNS and S3 are supported locally")
        return None

    def _function_for(self, props: dict[str, Any]) -> LocalFunction | None:
        """The function a mapping's ``FunctionName`` names: by name, ARN, or qualified by a version
        or alias (SnapStart's ``live``), which locally all run the function's one copy."""
        name = function_name(self.resolve(props["FunctionName"]))
        for function in self.functions.values():
            if name in {function.name, function.arn.rsplit(":", 1)[-1]}:
                return function
        return None

    def _mapping(self, logical_id: str, raw_props: dict[str, Any], started: float) -> Poller | None:
        props = self.resolve(raw_props)
        function = self._function_for(props)
        if function is None:
            self.notes.append(f"{logical_id}: its function is not loaded locally: mapping skipped")
            return None
        source_arn = str(props.get("EventSourceArn", ""))
        mapping_uuid = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{self.stack.name}/{logical_id}"))
        role_id = (self.stack.resources[function.logical_id].get("Properties", {}).get("Role") or {})
        identity = str(self.resolve(role_id)) if role_id else ""
        if source_arn.startswith("arn:aws:sqs:"):
            url = self.client("sqs").get_queue_url(QueueName=source_arn.rsplit(":", 1)[-1])["QueueUrl"]
            return SqsPoller(logical_id, self.client("sqs"), url, source_arn, function,
                             SqsMappingConfig.from_properties(props), self.log,
                             event_filter=EventFilter(props.get("FilterCriteria"), "sqs"), region=self.region,
                             started_at=started, clock=self.clock)
        if source_arn.startswith("arn:aws:kinesis:"):
            # A consumer ARN (enhanced fan-out) is .../stream/<name>/consumer/<consumer>:<time>.
            stream_arn = source_arn.split("/consumer/", 1)[0]
            reader: Any = KinesisReader(self.client("kinesis"), stream_arn.rsplit("/", 1)[-1], stream_arn)
            kind = "kinesis"
        elif source_arn.startswith("arn:aws:dynamodb:") and "/stream/" in source_arn:
            reader = DynamoDBStreamReader(self.client("dynamodbstreams"), source_arn)
            kind = "dynamodb"
        else:
            self.notes.append(
                f"{logical_id}: event source {source_arn or '?'} is not supported locally: mapping skipped")
            return None
        return StreamPoller(logical_id, reader, function, StreamMappingConfig.from_properties(props), self.log,
                            destination=self._destination(props),
                            event_filter=EventFilter(props.get("FilterCriteria"), kind),  # type: ignore[arg-type]
                            mapping_uuid=mapping_uuid, identity_arn=identity, started_at=started,
                            retention_seconds=self._retention_seconds(kind, stream_arn if kind == "kinesis" else ""),
                            clock=self.clock)

    def _retention_seconds(self, kind: str, stream_arn: str) -> float:
        """A Kinesis stream's ``RetentionPeriodHours`` (from the template), else 24 hours."""
        for logical_id, resource in self.stack.resources.items():
            local = self.resources.get(logical_id)
            if kind == "kinesis" and local is not None and local.attributes.get("Arn") == stream_arn:
                hours = self.resolve((resource.get("Properties") or {}).get("RetentionPeriodHours"))
                return float(hours) * 3600 if hours is not None else DEFAULT_STREAM_RETENTION_SECONDS
        return DEFAULT_STREAM_RETENTION_SECONDS

    # --- use --------------------------------------------------------------------------------

    def function(self, name: str) -> LocalFunction:
        """A function by logical id, logical id prefix (``Api`` finds ``ApiFunction6BF8...``) or name."""
        if name in self.functions:
            return self.functions[name]
        matches = [f for lid, f in self.functions.items() if lid.startswith(name) or f.name == name]
        if len(matches) != 1:
            raise KeyError(f"{name!r} matches {len(matches)} functions: {sorted(self.functions)}")
        return matches[0]

    def mapping(self, prefix: str) -> Poller:
        """An event source mapping's poller by logical id or prefix."""
        if prefix in self.pollers:
            return self.pollers[prefix]
        matches = [p for lid, p in self.pollers.items() if lid.startswith(prefix)]
        if len(matches) != 1:
            raise KeyError(f"{prefix!r} matches {len(matches)} mappings: {sorted(self.pollers)}")
        return matches[0]

    def resource(self, prefix: str, type_: str | None = None) -> LocalResource:
        """A local resource by logical id or prefix (optionally of one type)."""
        if prefix in self.resources and (type_ is None or self.resources[prefix].type == type_):
            return self.resources[prefix]
        matches = [r for lid, r in self.resources.items()
                   if lid.startswith(prefix) and (type_ is None or r.type == type_)]
        if len(matches) != 1:
            raise KeyError(f"{prefix!r} matches {len(matches)} resources")
        return matches[0]

    def invoke(self, function: str, event: dict[str, Any]) -> Any:
        """Invoke a function directly (synchronously); a function error raises :class:`FunctionError`."""
        target = self.function(function)
        invocation = target.run(event)
        self.log.emit("invoke", target.logical_id, target.logical_id, outcome="ok" if invocation.ok else "error",
                      error=invocation.error, direct=True, response=invocation.response,
                      duration=round(invocation.duration, 6), timed_out=invocation.timed_out)
        if invocation.error is not None:
            raise FunctionError(invocation)
        return invocation.response

    def advance(self, seconds: float) -> None:
        """Make ``seconds`` pass for the whole pipeline: every mapping's and lane's clock moves that
        far past the present, and records and messages that arrive later arrive that much later."""
        present = self.clock.advance(seconds)
        for poller in self.pollers.values():
            poller.advance(seconds, present)

    def set_enabled(self, mapping_id: str, enabled: bool) -> None:
        """Disable a mapping (it reads and invokes nothing; a stream mapping keeps its checkpoints)
        or enable it again (it resumes where it stopped)."""
        poller = self.pollers[mapping_id]
        if isinstance(poller, StreamPoller):
            poller.config = dataclasses.replace(poller.config, enabled=enabled)
        else:
            poller.config = dataclasses.replace(poller.config, enabled=enabled)

    def run(self, *, max_invocations: int | None = None, max_steps: int | None = None,
            until: Callable[[], bool] | None = None, max_rounds: int | None = None,
            let_time_pass: bool = True) -> RunStats:
        """Run the mappings until all are idle (or a bound is hit).

        Args:
            max_invocations: Stop once this many invocations were made in this run.
            max_steps: Stop after this many scheduling steps (``max_rounds`` is an alias).
            until: Stop as soon as this returns True (checked after every step).
            let_time_pass: When nothing is due, move a lane's clock to its next timer (a tumbling
                window's end, a failed message's visibility). False: fire only timers already due
                on their lane's clock, and stop (not idle) when only later ones are left.

        Returns:
            What was done; ``idle`` is True when every mapping ran out of work.

        The moto speed-ups are in place for the run when the endpoint is an in-process one that
        wants them (:func:`~.endpoint.hold_speedups`), and undone after it unless a pipeline or
        another run still holds them.
        """
        release = hold_speedups(self.endpoint_url)
        try:
            with _heap_frozen():
                return self._run(max_invocations, max_steps if max_steps is not None else max_rounds, until,
                                 let_time_pass)
        finally:
            release()

    def _run(self, max_invocations: int | None, max_steps: int | None, until: Callable[[], bool] | None,
             let_time_pass: bool = True) -> RunStats:
        steps = 0
        start = self._invocations()
        pollers = list(self.pollers.values())
        refreshed = False
        while True:
            done = self._invocations() - start
            if (max_steps is not None and steps >= max_steps) or (
                    max_invocations is not None and done >= max_invocations):
                return RunStats(steps, done, False)
            agenda = [(t, now, poller, lane) for poller in pollers for t, now, lane in poller.agenda()]
            waiting = bool(agenda)
            if not let_time_pass:  # a timer is due when its time is not after its lane's clock
                agenda = [item for item in agenda if item[1] or item[0] <= item[3].now]
            immediate = [item for item in agenda if item[1]]
            if not immediate and not refreshed:
                refreshed = True
                if sum(poller.refresh() for poller in pollers):
                    continue
            candidates = immediate or agenda
            if not candidates:
                return RunStats(steps, done, not waiting)
            _, _, poller, lane = min(candidates, key=lambda item: item[0])
            poller.step_lane(lane)
            steps += 1
            refreshed = False
            if until is not None and until():
                return RunStats(steps, self._invocations() - start, False)

    def _invocations(self) -> int:
        return sum(p.invocations for p in self.pollers.values())

    def close(self) -> None:
        """End the functions' threads and remove the runner's scratch files (inline code)."""
        for function in self.functions.values():
            function.close()
        if self._workdir is not None:
            shutil.rmtree(self._workdir, ignore_errors=True)
            self._workdir = None

"""The local runner: a synthesized stack on a local endpoint, its mappings as pollers.

    runner = LocalRunner.from_assembly("cdk.out", endpoint_url=url)
    runner.deploy()                      # resources by API, handlers loaded, pollers built
    runner.invoke("ApiFunction...", {...})
    runner.run()                         # poll until every mapping is idle
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

from .assembly import AssemblyError, StackTemplate, load_assembly
from .clock import Clock, VirtualClock
from .destinations import Destination, S3Destination, SqsDestination
from .events import EventLog
from .filters import EventFilter
from .functions import KNOWN_EXTERNAL_LAYERS, LocalFunction
from .resources import LocalResource, ResourceFactory
from .sqs import SqsMappingConfig, SqsPoller
from .streams import DynamoDBStreamReader, KinesisReader, StreamMappingConfig, StreamPoller

_CLIENT_CONFIG = Config(retries={"mode": "standard", "max_attempts": 3}, connect_timeout=5, read_timeout=60)

Poller = StreamPoller | SqsPoller


@dataclass
class RunStats:
    """What :meth:`LocalRunner.run` did."""

    rounds: int
    invocations: int
    idle: bool


class LocalRunner:
    """Runs one stack of a cloud assembly against a local AWS endpoint.

    Args:
        stack: The stack (see :func:`~.assembly.load_assembly`).
        endpoint_url: The endpoint (a moto server).
        region: Region for clients and ARNs. Default: ``us-east-1``.
        clock: Time for retries, record age and windows. Default: a :class:`VirtualClock`.
        on_demand_shards: Shards for ON_DEMAND streams. Default: 1.
        extra_environment: Added to every function's environment (e.g. log levels).
    """

    def __init__(
        self,
        stack: StackTemplate,
        *,
        endpoint_url: str,
        region: str = "us-east-1",
        clock: Clock | None = None,
        on_demand_shards: int = 1,
        extra_environment: dict[str, str] | None = None,
    ) -> None:
        self.stack = stack
        self.endpoint_url = endpoint_url
        self.region = region
        self.clock: Clock = clock if clock is not None else VirtualClock()
        self.on_demand_shards = on_demand_shards
        self.extra_environment = dict(extra_environment or {})
        self.log = EventLog()
        self.resources: dict[str, LocalResource] = {}
        self.functions: dict[str, LocalFunction] = {}
        self.pollers: dict[str, Poller] = {}
        self.notes: list[str] = []
        self._clients: dict[str, Any] = {}
        self._factory: ResourceFactory | None = None

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
        """A boto3 client on the endpoint (cached)."""
        if service not in self._clients:
            self._clients[service] = boto3.client(
                service, endpoint_url=self.endpoint_url, region_name=self.region, config=_CLIENT_CONFIG
            )
        return self._clients[service]

    # --- deploy -----------------------------------------------------------------------------

    def deploy(self) -> LocalRunner:
        """Create the resources, load every function, build every mapping's poller."""
        factory = ResourceFactory(self.stack, self.client, self.region, on_demand_shards=self.on_demand_shards)
        self.resources = factory.create_all()
        self._factory = factory
        self.notes += factory.notes
        for logical_id, resource in self.stack.resources.items():
            if resource["Type"] == "AWS::Lambda::Function":
                self.functions[logical_id] = self._function(logical_id, resource.get("Properties", {}))
        for logical_id, resource in self.stack.resources.items():
            if resource["Type"] == "AWS::Lambda::EventSourceMapping":
                self.pollers[logical_id] = self._mapping(logical_id, resource.get("Properties", {}))
        for poller in self.pollers.values():
            if isinstance(poller, StreamPoller):
                poller.start()
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
                    raise AssemblyError(f"{logical_id}: layer {by_ref[arn]} has no asset directory in the assembly")
                dirs.append(directory / "python" if (directory / "python").is_dir() else directory)
                continue
            known = next((pkg for marker, pkg in KNOWN_EXTERNAL_LAYERS.items() if marker in str(arn)), None)
            if known is None:
                self.notes.append(f"{logical_id}: external layer {arn} is not available locally")
            else:
                self.notes.append(f"{logical_id}: layer {str(arn).rsplit(':', 2)[-2]} -> installed {known}")
        return dirs

    def _function(self, logical_id: str, props: dict[str, Any]) -> LocalFunction:
        runtime = str(props.get("Runtime", ""))
        if not runtime.startswith("python"):
            raise AssemblyError(f"{logical_id}: runtime {runtime!r} cannot run in-process (Python only)")
        code = props.get("Code", {})
        directory = self.stack.asset_dir(code.get("S3Key"))
        if directory is None:
            raise AssemblyError(f"{logical_id}: no asset directory for its code in the assembly")
        variables = {k: str(v) for k, v in self.resolve((props.get("Environment") or {}).get("Variables", {})).items()}
        variables.update(self.extra_environment)
        variables.setdefault("AWS_ENDPOINT_URL", self.endpoint_url)
        variables.setdefault("AWS_REGION", self.region)
        variables.setdefault("AWS_DEFAULT_REGION", self.region)
        resource = self.resources[logical_id]
        function = LocalFunction(
            logical_id, resource.ref, resource.attributes["Arn"], str(props["Handler"]), directory,
            self._layer_dirs(logical_id, props.get("Layers", [])), variables,
            timeout_seconds=float(props.get("Timeout", 3)), memory_mb=int(props.get("MemorySize", 128)),
        )
        return function.load()

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
        self.notes.append(f"on-failure destination {arn}: only SQS and S3 are supported locally")
        return None

    def _function_for(self, props: dict[str, Any]) -> LocalFunction:
        name = str(self.resolve(props["FunctionName"])).rsplit(":", 1)[-1]
        for function in self.functions.values():
            if name in {function.name, function.arn.rsplit(":", 1)[-1]}:
                return function
        raise AssemblyError(f"event source mapping targets {name!r}, which is not a function of the stack")

    def _mapping(self, logical_id: str, raw_props: dict[str, Any]) -> Poller:
        props = self.resolve(raw_props)
        function = self._function_for(props)
        source_arn = str(props["EventSourceArn"])
        event_filter = EventFilter(props.get("FilterCriteria"))
        mapping_uuid = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{self.stack.name}/{logical_id}"))
        role_id = (self.stack.resources[function.logical_id].get("Properties", {}).get("Role") or {})
        identity = str(self.resolve(role_id)) if role_id else ""
        if source_arn.startswith("arn:aws:kinesis:"):
            reader: Any = KinesisReader(self.client("kinesis"), source_arn.rsplit("/", 1)[-1], source_arn)
        elif source_arn.startswith("arn:aws:dynamodb:") and "/stream/" in source_arn:
            reader = DynamoDBStreamReader(self.client("dynamodbstreams"), source_arn)
        elif source_arn.startswith("arn:aws:sqs:"):
            url = self.client("sqs").get_queue_url(QueueName=source_arn.rsplit(":", 1)[-1])["QueueUrl"]
            return SqsPoller(logical_id, self.client("sqs"), url, source_arn, function,
                             SqsMappingConfig.from_properties(props), self.clock, self.log,
                             event_filter=event_filter, region=self.region)
        else:
            raise AssemblyError(f"{logical_id}: event source {source_arn} is not supported locally")
        return StreamPoller(logical_id, reader, function, StreamMappingConfig.from_properties(props), self.clock,
                            self.log, destination=self._destination(props), event_filter=event_filter,
                            mapping_uuid=mapping_uuid, identity_arn=identity)

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
        matches = [p for lid, p in self.pollers.items() if lid.startswith(prefix)]
        if len(matches) != 1:
            raise KeyError(f"{prefix!r} matches {len(matches)} mappings: {sorted(self.pollers)}")
        return matches[0]

    def resource(self, prefix: str, type_: str | None = None) -> LocalResource:
        """A local resource by logical id or prefix (optionally of one type)."""
        matches = [r for lid, r in self.resources.items() if lid.startswith(prefix) and (type_ is None or r.type == type_)]
        if len(matches) != 1:
            raise KeyError(f"{prefix!r} matches {len(matches)} resources")
        return matches[0]

    def invoke(self, function: str, event: dict[str, Any]) -> Any:
        """Invoke a function directly (synchronously), recording an event."""
        target = self.function(function)
        try:
            response = target.invoke(event)
        except Exception as exc:
            self.log.emit("invoke", target.logical_id, target.logical_id, outcome="error", error=f"{type(exc).__name__}: {exc}",
                          direct=True)
            raise
        self.log.emit("invoke", target.logical_id, target.logical_id, outcome="ok", direct=True, response=response)
        return response

    def run(self, *, max_rounds: int | None = None, max_invocations: int | None = None,
            until: Callable[[], bool] | None = None) -> RunStats:
        """Poll every mapping, round-robin, until all are idle (or a bound is hit).

        Args:
            max_rounds: Stop after this many rounds.
            max_invocations: Stop once this many invocations were made in this run.
            until: Stop as soon as this returns True (checked after every round).

        Returns:
            What was done; ``idle`` is True when every mapping ran out of work.
        """
        rounds = 0
        start = sum(p.invocations for p in self.pollers.values())
        while True:
            if max_rounds is not None and rounds >= max_rounds:
                return RunStats(rounds, self._invocations() - start, False)
            rounds += 1
            did = False
            wait: float | None = None
            for poller in self.pollers.values():
                result = poller.step()
                if result is True:
                    did = True
                elif isinstance(result, float) and result is not False:
                    wait = result if wait is None else min(wait, result)
            done = self._invocations() - start
            if until is not None and until():
                return RunStats(rounds, done, False)
            if max_invocations is not None and done >= max_invocations:
                return RunStats(rounds, done, False)
            if not did:
                if wait is None:
                    return RunStats(rounds, done, True)
                self.clock.sleep(wait)

    def _invocations(self) -> int:
        return sum(p.invocations for p in self.pollers.values())

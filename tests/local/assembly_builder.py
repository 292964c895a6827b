"""Write small cloud assemblies (``cdk.out`` layout) for the runner's scenario tests.

The resources have the shapes CDK synthesizes (``Fn::GetAtt [X, Arn]``, ``Ref``, asset
``S3Key`` ``<hash>.zip`` with an ``asset.<hash>`` directory and an asset manifest), so the
runner reads them exactly as it reads a real ``cdk.out``, without paying a synth per test.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
HANDLERS = HERE / "handlers"
RUNTIME_LAYER = HERE.parent.parent / "lambdas" / "runtime"


class TemplateBuilder:
    """Accumulates resources, then writes the assembly."""

    def __init__(self, stack: str = "LocalScenario") -> None:
        self.stack = stack
        self.resources: dict[str, Any] = {}
        self.outputs: dict[str, Any] = {}
        self.assets: dict[str, Path] = {}

    def _asset(self, source: Path) -> str:
        digest = hashlib.sha256(str(source).encode()).hexdigest()
        self.assets[digest] = source
        return f"{digest}.zip"

    def stream(self, logical_id: str = "Stream", shards: int = 1) -> dict[str, Any]:
        self.resources[logical_id] = {"Type": "AWS::Kinesis::Stream", "Properties": {
            "ShardCount": shards, "RetentionPeriodHours": 24}}
        return {"Fn::GetAtt": [logical_id, "Arn"]}

    def stream_consumer(self, logical_id: str, stream: dict[str, Any]) -> dict[str, Any]:
        """An enhanced fan-out consumer (what ``enhanced_fan_out=True`` synthesizes)."""
        self.resources[logical_id] = {"Type": "AWS::Kinesis::StreamConsumer", "Properties": {
            "ConsumerName": logical_id, "StreamARN": stream}}
        return {"Fn::GetAtt": [logical_id, "ConsumerARN"]}

    def queue(self, logical_id: str, **props: Any) -> dict[str, Any]:
        self.resources[logical_id] = {"Type": "AWS::SQS::Queue", "Properties": props}
        return {"Fn::GetAtt": [logical_id, "Arn"]}

    def table(self, logical_id: str, *, stream: str | None = None) -> dict[str, Any]:
        props: dict[str, Any] = {
            "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}],
            "AttributeDefinitions": [{"AttributeName": "id", "AttributeType": "S"}],
            "BillingMode": "PAY_PER_REQUEST",
            "TimeToLiveSpecification": {"AttributeName": "expiration", "Enabled": True}}
        if stream is not None:
            props["StreamSpecification"] = {"StreamViewType": stream}
        self.resources[logical_id] = {"Type": "AWS::DynamoDB::Table", "Properties": props}
        return {"Ref": logical_id}

    def function(self, logical_id: str, handler: str, environment: dict[str, Any] | None = None,
                 runtime_layer: bool = False, timeout: int = 30) -> dict[str, Any]:
        layers: list[Any] = []
        if runtime_layer:
            if "RuntimeLayer" not in self.resources:
                self.resources["RuntimeLayer"] = {"Type": "AWS::Lambda::LayerVersion", "Properties": {
                    "Content": {"S3Bucket": "assets", "S3Key": self._asset(RUNTIME_LAYER)}}}
            layers = [{"Fn::Join": ["", ["arn:aws:lambda:", {"Ref": "AWS::Region"},
                                         ":017000801446:layer:AWSLambdaPowertoolsPythonV3-python314-arm64:27"]]},
                      {"Ref": "RuntimeLayer"}]
        props: dict[str, Any] = {
            "Code": {"S3Bucket": "assets", "S3Key": self._asset(HANDLERS)}, "Handler": handler,
            "Runtime": "python3.14", "Timeout": timeout, "Layers": layers,
            "Environment": {"Variables": {"POWERTOOLS_SERVICE_NAME": logical_id, "POWERTOOLS_LOG_LEVEL": "CRITICAL",
                                          **(environment or {})}},
        }
        self.resources[logical_id] = {"Type": "AWS::Lambda::Function", "Properties": props}
        return {"Ref": logical_id}

    def mapping(self, logical_id: str, function: dict[str, Any], source: dict[str, Any], **props: Any) -> None:
        self.resources[logical_id] = {"Type": "AWS::Lambda::EventSourceMapping", "Properties": {
            "FunctionName": function, "EventSourceArn": source, **props}}

    def write(self, outdir: Path) -> Path:
        outdir.mkdir(parents=True, exist_ok=True)
        files = {}
        for digest, source in self.assets.items():
            target = outdir / f"asset.{digest}"
            if not target.exists():
                shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
            files[digest] = {"source": {"path": f"asset.{digest}", "packaging": "zip"}, "destinations": {}}
        (outdir / f"{self.stack}.assets.json").write_text(json.dumps({"version": "55.0.0", "files": files}))
        template = {"Resources": self.resources, **({"Outputs": self.outputs} if self.outputs else {})}
        (outdir / f"{self.stack}.template.json").write_text(json.dumps(template))
        (outdir / "manifest.json").write_text(json.dumps({"version": "55.0.0", "artifacts": {
            f"{self.stack}.assets": {"type": "cdk:asset-manifest", "properties": {"file": f"{self.stack}.assets.json"}},
            self.stack: {"type": "aws:cloudformation:stack",
                         "properties": {"templateFile": f"{self.stack}.template.json"},
                         "dependencies": [f"{self.stack}.assets"], "displayName": self.stack},
        }}))
        return outdir


def stream_consumer_app(handler: str, *, timeout: int = 30, shards: int = 1, **mapping: object) -> TemplateBuilder:
    """The scenarios' usual app: a Kinesis stream (24 h retention) read by one function ``Consumer``
    through ``Mapping`` from TRIM_HORIZON, its on-failure destination an SQS queue; ``mapping``
    props override or add to those."""
    builder = TemplateBuilder()
    stream = builder.stream(shards=shards)
    dlq = builder.queue("DeadLetterQueue")
    function = builder.function("Consumer", handler, timeout=timeout)
    mapping.setdefault("DestinationConfig", {"OnFailure": {"Destination": dlq}})
    mapping.setdefault("StartingPosition", "TRIM_HORIZON")
    builder.mapping("Mapping", function, stream, **mapping)
    return builder

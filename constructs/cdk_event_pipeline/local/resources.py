"""Create a template's data resources on the local endpoint by API, and resolve intrinsics.

Streams, queues, tables and buckets are created with their own APIs (CreateStream, CreateQueue,
CreateTable, CreateBucket), not through moto's CloudFormation, which ignores stream mode,
encryption and TTL. Every resource gets a physical name (the template's, or
``<stack>-<LogicalId>`` shortened), and ``Ref`` / ``Fn::GetAtt`` / ``Fn::Join`` / ``Fn::Sub`` /
``Fn::Select`` / ``Fn::Split`` / ``Fn::If`` resolve to the local names, URLs and ARNs.

Local choices: an ``ON_DEMAND`` stream gets ``on_demand_shards`` shards (default 1: moto's
on-demand streams have 4 and GetRecords rescans each shard); encryption is left off (moto
does not enforce it); a queue's ``RedrivePolicy`` points at the local DLQ's ARN; an enhanced
fan-out consumer (``AWS::Kinesis::StreamConsumer``) is registered with RegisterStreamConsumer so
its ARN resolves (its mapping then reads the stream like a shared-throughput one: moto has no
SubscribeToShard); an SNS topic and its SQS subscriptions are created (moto delivers to them).

An intrinsic that cannot be resolved locally (``Fn::GetAtt`` of a resource the runner does not
create, ``Fn::ImportValue``) resolves to a placeholder ``<unresolved ...>`` and a note, so an
app with resources the runner does not model still runs; a mapping whose source is such a
placeholder is reported and skipped.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .assembly import StackTemplate

ACCOUNT_ID = "123456789012"  # moto's default account

_SUB_VAR = re.compile(r"\$\{([^}!]+)\}")


@dataclass
class LocalResource:
    """A template resource and what it is called locally.

    Attributes:
        logical_id: Template logical id.
        type: CloudFormation type.
        ref: What ``Ref`` returns.
        attributes: ``Fn::GetAtt`` values.
    """

    logical_id: str
    type: str
    ref: str
    attributes: dict[str, Any] = field(default_factory=dict)


_FUNCTION_NAME = re.compile(
    r"(?:arn:aws[a-zA-Z-]*:lambda:)?(?:[a-z]{2}(?:-gov)?-[a-z]+-\d:)?(?:\d{12}:)?(?:function:)?"
    r"(?P<name>[a-zA-Z0-9_-]+)(?::(?P<qualifier>\$LATEST|[a-zA-Z0-9_-]+))?"
)


def function_name(reference: Any) -> str:
    """The function name in a Lambda ``FunctionName`` (a name, ``name:qualifier``, a partial or a
    full ARN, qualified or not; Lambda API reference, ``FunctionName`` name formats)."""
    text = str(reference)
    match = _FUNCTION_NAME.fullmatch(text)
    return match.group("name") if match else text


def physical_name(stack: str, logical_id: str, *, lower: bool = False, max_length: int = 80) -> str:
    """A deterministic local name like CloudFormation's ``<stack>-<LogicalId>-<suffix>``."""
    suffix = hashlib.sha1(f"{stack}/{logical_id}".encode(), usedforsecurity=False).hexdigest()[:8].upper()
    base = f"{stack}-{re.sub(r'[0-9A-F]{8}$', '', logical_id)}"[: max_length - 9]
    name = f"{base}-{suffix}"
    return name.lower() if lower else name


class Resolver:
    """Resolves intrinsic functions against local resources and pseudo parameters."""

    def __init__(self, stack: StackTemplate, region: str, resources: dict[str, LocalResource]) -> None:
        self.stack = stack
        self.region = region
        self.resources = resources
        self.pseudo = {
            "AWS::Region": region, "AWS::AccountId": ACCOUNT_ID, "AWS::Partition": "aws",
            "AWS::StackName": stack.name, "AWS::URLSuffix": "amazonaws.com",
            "AWS::StackId": f"arn:aws:cloudformation:{region}:{ACCOUNT_ID}:stack/{stack.name}/local",
        }
        self.parameters = {
            name: spec.get("Default") for name, spec in stack.template.get("Parameters", {}).items()
        }
        self.notes: list[str] = []

    def ref(self, name: str) -> Any:
        """``Ref``."""
        if name in self.pseudo:
            return self.pseudo[name]
        if name in self.resources:
            return self.resources[name].ref
        if name in self.parameters:
            return self.parameters[name]
        return self._unresolved(f"Ref {name}")

    def get_att(self, logical_id: str, attribute: str) -> Any:
        """``Fn::GetAtt``."""
        resource = self.resources.get(logical_id)
        if resource is None or attribute not in resource.attributes:
            return self._unresolved(f"Fn::GetAtt {logical_id}.{attribute}")
        return resource.attributes[attribute]

    def _unresolved(self, what: str, why: str = "not available locally") -> str:
        note = f"{what}: {why} (resolved to a placeholder)"
        if note not in self.notes:
            self.notes.append(note)
        return f"<unresolved {what}>"

    def resolve(self, value: Any) -> Any:
        """Resolve every intrinsic in ``value`` (dicts and lists recursively)."""
        if isinstance(value, list):
            return [self.resolve(v) for v in value]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((key, arg),) = value.items()
            handler = self._functions().get(key)
            if handler is not None:
                return handler(arg)
        return {k: self.resolve(v) for k, v in value.items()}

    def _functions(self) -> dict[str, Callable[[Any], Any]]:
        return {
            "Ref": lambda a: self.ref(a),
            "Fn::GetAtt": lambda a: self.get_att(*(a.split(".", 1) if isinstance(a, str) else a)),
            "Fn::Join": lambda a: str(self.resolve(a[0])).join(str(self.resolve(x)) for x in self.resolve(a[1])),
            "Fn::Select": lambda a: self.resolve(a[1])[int(self.resolve(a[0]))],
            "Fn::Split": lambda a: str(self.resolve(a[1])).split(self.resolve(a[0])),
            "Fn::Sub": self._sub,
            "Fn::If": lambda a: self.resolve(a[1]),
            "Fn::ImportValue": lambda a: self._unresolved(f"Fn::ImportValue {a}"),
            "Fn::GetStackOutput": self._stack_output,
        }

    def _stack_output(self, arg: Any) -> Any:
        """``Fn::GetStackOutput``: an output of this stack resolves; another stack's (aws-cdk-lib's
        cross-account and cross-region references) is not available: the runner deploys one stack."""
        spec = self.resolve(arg) if isinstance(arg, dict) else {}
        stack, output = spec.get("StackName"), spec.get("OutputName")
        outputs = self.stack.template.get("Outputs", {})
        if stack == self.stack.name and output in outputs:
            return self.resolve(outputs[output].get("Value"))
        return self._unresolved(f"Fn::GetStackOutput {stack}.{output}", "another stack's output is not resolved "
                                "locally (the runner deploys one stack; cross-account references are not supported)")

    def _sub(self, arg: Any) -> str:
        text, variables = (arg, {}) if isinstance(arg, str) else (arg[0], self.resolve(arg[1]))

        def one(match: re.Match[str]) -> str:
            name = match.group(1)
            if name in variables:
                return str(variables[name])
            if "." in name and name.split(".", 1)[0] in self.resources:
                return str(self.get_att(*name.split(".", 1)))
            return str(self.ref(name))

        return _SUB_VAR.sub(one, text)


class ResourceFactory:
    """Creates one stack's data resources on the endpoint.

    Args:
        stack: The stack.
        clients: ``clients(service) -> boto3 client`` on the endpoint.
        region: The region.
        on_demand_shards: Shards for an ON_DEMAND stream. Default: 1.
    """

    def __init__(self, stack: StackTemplate, clients: Callable[[str], Any], region: str, *,
                 on_demand_shards: int = 1) -> None:
        self.stack = stack
        self.clients = clients
        self.region = region
        self.on_demand_shards = on_demand_shards
        self.resources: dict[str, LocalResource] = {}
        self.resolver = Resolver(stack, region, self.resources)
        self.notes: list[str] = self.resolver.notes

    def _arn(self, service: str, resource: str) -> str:
        return f"arn:aws:{service}:{self.region}:{ACCOUNT_ID}:{resource}"

    def create_all(self) -> dict[str, LocalResource]:
        """Create everything (queues without a redrive policy first), name the rest."""
        order = {"AWS::Kinesis::Stream": 0, "AWS::S3::Bucket": 0, "AWS::DynamoDB::Table": 0,
                 "AWS::DynamoDB::GlobalTable": 0, "AWS::IAM::Role": 0, "AWS::SNS::Topic": 0,
                 "AWS::Lambda::LayerVersion": 0, "AWS::Kinesis::StreamConsumer": 1, "AWS::SQS::Queue": 1,
                 "AWS::SNS::Subscription": 3, "AWS::Lambda::Function": 3, "AWS::Lambda::Version": 4,
                 "AWS::Lambda::Alias": 5}
        items = sorted(
            self.stack.resources.items(),
            key=lambda kv: (order.get(kv[1]["Type"], 6) + (1 if "RedrivePolicy" in kv[1].get("Properties", {}) else 0)),
        )
        for logical_id, resource in items:
            creator = getattr(self, "_" + resource["Type"].replace("::", "_").lower(), None)
            props = resource.get("Properties", {}) or {}
            if creator is not None:
                self.resources[logical_id] = creator(logical_id, props)
            elif resource["Type"] != "AWS::Lambda::EventSourceMapping":
                self.resources[logical_id] = LocalResource(logical_id, resource["Type"], logical_id)
        return self.resources

    def _aws_kinesis_stream(self, logical_id: str, props: dict[str, Any]) -> LocalResource:
        name = self.resolver.resolve(props.get("Name")) or physical_name(self.stack.name, logical_id)
        mode = (props.get("StreamModeDetails") or {}).get("StreamMode", "PROVISIONED")
        shards = int(props.get("ShardCount") or (self.on_demand_shards if mode == "ON_DEMAND" else 1))
        client = self.clients("kinesis")
        client.create_stream(StreamName=name, ShardCount=shards)
        arn = client.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]["StreamARN"]
        if mode == "ON_DEMAND":
            self.notes.append(f"stream {name}: ON_DEMAND in the template, {shards} shard(s) locally")
        return LocalResource(logical_id, "AWS::Kinesis::Stream", name, {"Arn": arn})

    def _aws_kinesis_streamconsumer(self, logical_id: str, props: dict[str, Any]) -> LocalResource:
        """Enhanced fan-out: RegisterStreamConsumer, so the consumer's ARN resolves locally."""
        stream_arn = str(self.resolver.resolve(props.get("StreamARN")))
        name = str(self.resolver.resolve(props.get("ConsumerName")) or physical_name(self.stack.name, logical_id))
        client = self.clients("kinesis")
        consumer = client.register_stream_consumer(StreamARN=stream_arn, ConsumerName=name)["Consumer"]
        arn = consumer["ConsumerARN"]
        created = consumer.get("ConsumerCreationTimestamp")
        self.notes.append(f"stream consumer {name}: enhanced fan-out is read like a shared-throughput consumer locally")
        return LocalResource(logical_id, "AWS::Kinesis::StreamConsumer", arn, {
            "ConsumerARN": arn, "ConsumerName": name, "ConsumerStatus": "ACTIVE", "StreamARN": stream_arn,
            "ConsumerCreationTimestamp": str(created.timestamp() if hasattr(created, "timestamp") else created or ""),
        })

    def _aws_sns_topic(self, logical_id: str, props: dict[str, Any]) -> LocalResource:
        props = self.resolver.resolve(props)
        name = props.get("TopicName") or physical_name(self.stack.name, logical_id, max_length=256 - 5)
        if props.get("FifoTopic") and not str(name).endswith(".fifo"):
            name = f"{name}.fifo"
        attributes = {"FifoTopic": "true"} if props.get("FifoTopic") else {}
        arn = self.clients("sns").create_topic(Name=name, Attributes=attributes)["TopicArn"]
        return LocalResource(logical_id, "AWS::SNS::Topic", arn, {"TopicArn": arn, "TopicName": name})

    def _aws_sns_subscription(self, logical_id: str, props: dict[str, Any]) -> LocalResource:
        props = self.resolver.resolve(props)
        topic, protocol, endpoint = props.get("TopicArn"), props.get("Protocol"), props.get("Endpoint")
        if protocol != "sqs" or not str(topic).startswith("arn:") or not str(endpoint).startswith("arn:"):
            self.notes.append(f"{logical_id}: only SNS -> SQS subscriptions are created locally")
            return LocalResource(logical_id, "AWS::SNS::Subscription", logical_id)
        attributes = ({"RawMessageDelivery": str(props["RawMessageDelivery"]).lower()}
                      if "RawMessageDelivery" in props else {})
        arn = self.clients("sns").subscribe(TopicArn=topic, Protocol="sqs", Endpoint=endpoint,
                                            Attributes=attributes)["SubscriptionArn"]
        return LocalResource(logical_id, "AWS::SNS::Subscription", arn)

    def _aws_sqs_queue(self, logical_id: str, props: dict[str, Any]) -> LocalResource:
        fifo = bool(props.get("FifoQueue"))
        name = self.resolver.resolve(props.get("QueueName")) or (
            physical_name(self.stack.name, logical_id, max_length=75) + (".fifo" if fifo else "")
        )
        attributes: dict[str, str] = {}
        for key in ("VisibilityTimeout", "MessageRetentionPeriod", "DelaySeconds", "ReceiveMessageWaitTimeSeconds",
                    "MaximumMessageSize", "FifoQueue", "ContentBasedDeduplication"):
            if key in props:
                value = self.resolver.resolve(props[key])
                attributes[key] = str(value).lower() if isinstance(value, bool) else str(value)
        if "RedrivePolicy" in props:
            attributes["RedrivePolicy"] = json.dumps(self.resolver.resolve(props["RedrivePolicy"]))
        client = self.clients("sqs")
        url = client.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
        arn = self._arn("sqs", name)
        return LocalResource(logical_id, "AWS::SQS::Queue", url, {"Arn": arn, "QueueName": name, "QueueUrl": url})

    def _aws_dynamodb_table(self, logical_id: str, props: dict[str, Any]) -> LocalResource:
        props = self.resolver.resolve(props)
        name = props.get("TableName") or physical_name(self.stack.name, logical_id)
        kwargs: dict[str, Any] = {
            "TableName": name, "KeySchema": props["KeySchema"], "AttributeDefinitions": props["AttributeDefinitions"],
        }
        if props.get("BillingMode") == "PAY_PER_REQUEST" or "ProvisionedThroughput" not in props:
            kwargs["BillingMode"] = "PAY_PER_REQUEST"
        else:
            kwargs["ProvisionedThroughput"] = props["ProvisionedThroughput"]
        for index_key in ("GlobalSecondaryIndexes", "LocalSecondaryIndexes"):
            if props.get(index_key):
                indexes = [dict(i) for i in props[index_key]]
                if kwargs.get("BillingMode") == "PAY_PER_REQUEST":
                    for index in indexes:
                        index.pop("ProvisionedThroughput", None)
                kwargs[index_key] = indexes
        stream = props.get("StreamSpecification")
        if stream:
            kwargs["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": stream["StreamViewType"]}
        client = self.clients("dynamodb")
        description = client.create_table(**kwargs)["TableDescription"]
        ttl = props.get("TimeToLiveSpecification")
        if ttl and ttl.get("Enabled"):
            client.update_time_to_live(TableName=name, TimeToLiveSpecification={
                "Enabled": True, "AttributeName": ttl["AttributeName"]})
        attributes = {"Arn": description["TableArn"]}
        if description.get("LatestStreamArn"):
            attributes["StreamArn"] = description["LatestStreamArn"]
        return LocalResource(logical_id, "AWS::DynamoDB::Table", name, attributes)

    def _aws_dynamodb_globaltable(self, logical_id: str, props: dict[str, Any]) -> LocalResource:
        """``TableV2`` synthesizes ``AWS::DynamoDB::GlobalTable``; locally it is one table in the
        one local region (replica settings and per-index throughput settings do not apply)."""
        props = {k: v for k, v in props.items() if k not in ("Replicas", "WriteProvisionedThroughputSettings",
                                                               "WriteOnDemandThroughputSettings")}
        for index_key in ("GlobalSecondaryIndexes", "LocalSecondaryIndexes"):
            if props.get(index_key):
                props[index_key] = [{k: i[k] for k in ("IndexName", "KeySchema", "Projection") if k in i}
                                    for i in props[index_key]]
        table = self._aws_dynamodb_table(logical_id, props)
        return LocalResource(logical_id, "AWS::DynamoDB::GlobalTable", table.ref, table.attributes)

    def _aws_s3_bucket(self, logical_id: str, props: dict[str, Any]) -> LocalResource:
        name = self.resolver.resolve(props.get("BucketName")) or physical_name(
            self.stack.name, logical_id, lower=True, max_length=63)
        client = self.clients("s3")
        if self.region == "us-east-1":
            client.create_bucket(Bucket=name)
        else:
            client.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": self.region})
        return LocalResource(logical_id, "AWS::S3::Bucket", name, {
            "Arn": f"arn:aws:s3:::{name}", "DomainName": f"{name}.s3.amazonaws.com"})

    def _aws_iam_role(self, logical_id: str, props: dict[str, Any]) -> LocalResource:
        name = props.get("RoleName") or physical_name(self.stack.name, logical_id, max_length=64)
        return LocalResource(logical_id, "AWS::IAM::Role", name, {"Arn": f"arn:aws:iam::{ACCOUNT_ID}:role/{name}"})

    def _aws_lambda_layerversion(self, logical_id: str, props: dict[str, Any]) -> LocalResource:
        name = props.get("LayerName") or physical_name(self.stack.name, logical_id, max_length=64)
        return LocalResource(logical_id, "AWS::Lambda::LayerVersion", self._arn("lambda", f"layer:{name}:1"))

    def _aws_lambda_function(self, logical_id: str, props: dict[str, Any]) -> LocalResource:
        name = self.resolver.resolve(props.get("FunctionName")) or physical_name(
            self.stack.name, logical_id, max_length=64)
        arn = self._arn("lambda", f"function:{name}")
        return LocalResource(logical_id, "AWS::Lambda::Function", name, {"Arn": arn})

    def _aws_lambda_version(self, logical_id: str, props: dict[str, Any]) -> LocalResource:
        """A published version (SnapStart publishes one): locally the function's current code.

        ``Ref`` is the version's ARN, ``Fn::GetAtt`` ``Version`` its number (always ``1``
        locally) and ``FunctionArn`` the function's ARN.
        """
        function = self._function_arn(props.get("FunctionName"))
        arn = f"{function}:1"
        return LocalResource(logical_id, "AWS::Lambda::Version", arn, {"Version": "1", "FunctionArn": function})

    def _aws_lambda_alias(self, logical_id: str, props: dict[str, Any]) -> LocalResource:
        """An alias (SnapStart's ``live``): ``Ref`` is its ARN, ``<function ARN>:<alias>``; it
        invokes the function's current code (the runner keeps one version of each function)."""
        function = self._function_arn(props.get("FunctionName"))
        name = str(self.resolver.resolve(props.get("Name")) or logical_id)
        arn = f"{function}:{name}"
        return LocalResource(logical_id, "AWS::Lambda::Alias", arn, {"AliasArn": arn, "Name": name})

    def _function_arn(self, reference: Any) -> str:
        """The unqualified ARN of the function a ``FunctionName`` property names."""
        name = function_name(self.resolver.resolve(reference))
        return self._arn("lambda", f"function:{name}")

    def _aws_logs_loggroup(self, logical_id: str, props: dict[str, Any]) -> LocalResource:
        name = self.resolver.resolve(props.get("LogGroupName")) or f"/local/{logical_id}"
        return LocalResource(logical_id, "AWS::Logs::LogGroup", name, {"Arn": self._arn("logs", f"log-group:{name}:*")})

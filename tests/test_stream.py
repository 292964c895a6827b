"""EventStream and StreamConsumer options: one app with one small stack per configuration."""

from __future__ import annotations

from typing import Any

import pytest
from aws_cdk import Duration, assertions
from aws_cdk import aws_kinesis as kinesis
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sqs as sqs

from cdk_event_pipeline import EventStream, PipelineFunction, bundled_code
from tests._cdk import Stacks, actions_of, get_att_arn, logical_id, role_statements


def audit() -> dict[str, Any]:
    """Code + handler of a small function (a Code instance belongs to one stack)."""
    return {"code": bundled_code("audit"), "handler": "audit_handler.handler"}


class Built(Stacks):
    """Stacks of one app, synthesized once; ``template(name)`` caches each Template."""

    def __init__(self) -> None:
        super().__init__(nag=False)
        self._templates: dict[str, assertions.Template] = {}

    def template(self, name: str) -> assertions.Template:
        if name not in self._templates:
            self._templates[name] = assertions.Template.from_stack(self.stacks[name])
        return self._templates[name]


@pytest.fixture(scope="module")
def built() -> Built:
    b = Built()

    s = b.stack("Defaults")
    b.things["defaults"] = stream = EventStream(s, "Events")
    b.things["defaults.consumer"] = stream.add_consumer("Consumer", **audit())
    b.things["defaults.producer"] = producer = PipelineFunction(s, "Producer", **audit())
    stream.connect_producer(producer)

    s = b.stack("Provisioned")
    b.things["prov.key"] = key = kms.Key(s, "Key", enable_key_rotation=True)
    b.things["prov"] = stream = EventStream(
        s, "Events", shard_count=4, retention=Duration.days(7), encryption_key=key,
        shard_level_metrics=[kinesis.ShardLevelMetrics.INCOMING_RECORDS], stream_name="orders",
    )
    b.things["prov.consumer"] = stream.add_consumer(
        "Consumer", **audit(), batch_size=500, max_batching_window=Duration.seconds(5),
        starting_position=lambda_.StartingPosition.TRIM_HORIZON, retry_attempts=3,
        max_record_age=Duration.hours(6), parallelization_factor=5, tumbling_window=Duration.seconds(60),
        filters=[lambda_.FilterCriteria.filter({"data": {"type": ["order.placed"]}})], enabled=False,
    )
    b.things["prov.producer"] = producer = PipelineFunction(s, "Producer", **audit())
    stream.connect_producer(producer, env_var="ORDERS_STREAM")

    s = b.stack("FanOut")
    b.things["efo"] = stream = EventStream(s, "Events")
    b.things["efo.consumer"] = stream.add_consumer("Fast", **audit(), enhanced_fan_out=True)

    s = b.stack("Destinations")
    stream = EventStream(s, "Events")
    b.things["dest.bucket"] = bucket = s3.Bucket(s, "Failures", enforce_ssl=True)
    b.things["dest.s3"] = stream.add_consumer("ToBucket", **audit(), failure_bucket=bucket)
    b.things["dest.queue"] = queue = sqs.Queue(s, "MyDlq")
    b.things["dest.own"] = stream.add_consumer("ToOwnQueue", **audit(), dead_letter_queue=queue)
    b.things["dest.ts"] = stream.add_consumer(
        "FromTimestamp", **audit(), starting_position=lambda_.StartingPosition.AT_TIMESTAMP,
        starting_position_timestamp=1_700_000_000,
    )

    s = b.stack("Idempotent")
    stream = EventStream(s, "Events")
    b.things["idem"] = stream.add_consumer("Orders", **audit(), idempotency=True)

    s = b.stack("Existing")
    imported = kinesis.Stream.from_stream_arn(s, "Imported", "arn:aws:kinesis:eu-west-1:111122223333:stream/legacy")
    b.things["existing"] = stream = EventStream(s, "Events", stream=imported, retention_of_existing=Duration.hours(48))
    b.things["existing.fn"] = fn = lambda_.Function(
        s, "Mine", runtime=lambda_.Runtime.PYTHON_3_14, handler="audit_handler.handler", code=bundled_code("audit"))
    b.things["existing.consumer"] = stream.add_consumer("Consumer", function=fn)
    return b


def test_defaults_on_demand_encrypted_24h(built):
    t = built.template("Defaults")
    t.has_resource_properties("AWS::Kinesis::Stream", {
        "StreamModeDetails": {"StreamMode": "ON_DEMAND"},
        "RetentionPeriodHours": 24,
        "StreamEncryption": {"EncryptionType": "KMS", "KeyId": "alias/aws/kinesis"},
    })
    t.resource_count_is("AWS::Kinesis::Stream", 1)
    assert "ShardCount" not in next(iter(t.find_resources("AWS::Kinesis::Stream").values()))["Properties"]


def test_default_consumer_mapping(built):
    t = built.template("Defaults")
    consumer = built.things["defaults.consumer"]
    t.has_resource_properties("AWS::Lambda::EventSourceMapping", {
        "EventSourceArn": get_att_arn(built.things["defaults"].stream),
        "FunctionName": {"Ref": logical_id(consumer.function)},
        "BatchSize": 100,
        "StartingPosition": "LATEST",
        "BisectBatchOnFunctionError": True,
        "MaximumRetryAttempts": 10,
        "MaximumRecordAgeInSeconds": 12 * 3600,
        "FunctionResponseTypes": ["ReportBatchItemFailures"],
        "ParallelizationFactor": 1,
        "DestinationConfig": {"OnFailure": {"Destination": get_att_arn(consumer.dead_letter_queue)}},
        "MaximumBatchingWindowInSeconds": assertions.Match.absent(),
        "TumblingWindowInSeconds": assertions.Match.absent(),
        "FilterCriteria": assertions.Match.absent(),
    })


def test_default_dead_letter_queue(built):
    t = built.template("Defaults")
    t.has_resource_properties("AWS::SQS::Queue", {
        "SqsManagedSseEnabled": True,
        "MessageRetentionPeriod": 14 * 24 * 3600,
    })
    t.has_resource_properties("AWS::SQS::QueuePolicy", {
        "PolicyDocument": {"Statement": [assertions.Match.object_like({
            "Action": "sqs:*", "Effect": "Deny",
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        })]},
    })


def test_default_function(built):
    t = built.template("Defaults")
    consumer = built.things["defaults.consumer"]
    t.has_resource_properties("AWS::Lambda::Function", {
        "Runtime": "python3.14",
        "Architectures": ["arm64"],
        "MemorySize": 256,
        "Timeout": 30,
        "LoggingConfig": {"LogGroup": {"Ref": logical_id(consumer.log_group)}},
        "Environment": {"Variables": assertions.Match.object_like({
            "POWERTOOLS_SERVICE_NAME": "Consumer", "POWERTOOLS_METRICS_NAMESPACE": "EventPipeline"})},
        "Layers": assertions.Match.array_with([{"Fn::Join": ["", [
            "arn:aws:lambda:", {"Ref": "AWS::Region"},
            ":017000801446:layer:AWSLambdaPowertoolsPythonV3-python314-arm64:27"]]}]),
        "TracingConfig": assertions.Match.absent(),
    })
    t.has_resource_properties("AWS::Logs::LogGroup", {"RetentionInDays": 30})
    t.resource_count_is("AWS::Lambda::LayerVersion", 1)  # one runtime layer per stack


def test_default_consumer_role_exact(built):
    t = built.template("Defaults")
    consumer = built.things["defaults.consumer"]
    assert role_statements(t, consumer.role) == [
        {"Action": ["logs:CreateLogStream", "logs:PutLogEvents"], "Effect": "Allow",
         "Resource": get_att_arn(consumer.log_group)},
        {"Action": ["kinesis:DescribeStream", "kinesis:DescribeStreamSummary", "kinesis:GetRecords",
                    "kinesis:GetShardIterator", "kinesis:ListShards"], "Effect": "Allow",
         "Resource": get_att_arn(built.things["defaults"].stream)},
        {"Action": "sqs:SendMessage", "Effect": "Allow", "Resource": get_att_arn(consumer.dead_letter_queue)},
    ]


def test_producer_gets_put_only(built):
    t = built.template("Defaults")
    producer = built.things["defaults.producer"]
    assert role_statements(t, producer.role) == [
        {"Action": ["logs:CreateLogStream", "logs:PutLogEvents"], "Effect": "Allow",
         "Resource": get_att_arn(producer.log_group)},
        {"Action": ["kinesis:PutRecord", "kinesis:PutRecords"], "Effect": "Allow",
         "Resource": get_att_arn(built.things["defaults"].stream)},
    ]
    t.has_resource_properties("AWS::Lambda::Function", {
        "Environment": {"Variables": assertions.Match.object_like(
            {"STREAM_NAME": {"Ref": logical_id(built.things["defaults"].stream)}})},
    })


def test_provisioned_stream_options(built):
    t = built.template("Provisioned")
    t.has_resource_properties("AWS::Kinesis::Stream", {
        "Name": "orders",
        "ShardCount": 4,
        "StreamModeDetails": {"StreamMode": "PROVISIONED"},
        "RetentionPeriodHours": 168,
        "StreamEncryption": {"EncryptionType": "KMS", "KeyId": get_att_arn(built.things["prov.key"])},
        "DesiredShardLevelMetrics": ["IncomingRecords"],
    })


def test_all_consumer_options(built):
    t = built.template("Provisioned")
    t.has_resource_properties("AWS::Lambda::EventSourceMapping", {
        "BatchSize": 500,
        "MaximumBatchingWindowInSeconds": 5,
        "StartingPosition": "TRIM_HORIZON",
        "MaximumRetryAttempts": 3,
        "MaximumRecordAgeInSeconds": 6 * 3600,
        "ParallelizationFactor": 5,
        "TumblingWindowInSeconds": 60,
        "Enabled": False,
        "FilterCriteria": {"Filters": [{"Pattern": '{"data":{"type":["order.placed"]}}'}]},
    })


def test_customer_key_grants(built):
    t = built.template("Provisioned")
    key_arn = get_att_arn(built.things["prov.key"])
    stream_arn = get_att_arn(built.things["prov"].stream)
    producer = built.things["prov.producer"]
    consumer = built.things["prov.consumer"]
    assert role_statements(t, producer.role)[1:] == [
        {"Action": ["kinesis:PutRecord", "kinesis:PutRecords"], "Effect": "Allow", "Resource": stream_arn},
        {"Action": "kms:GenerateDataKey", "Effect": "Allow", "Resource": key_arn},
    ]
    consumer_statements = role_statements(t, consumer.role)
    assert {"Action": "kms:Decrypt", "Effect": "Allow", "Resource": key_arn} in consumer_statements
    t.has_resource_properties("AWS::Lambda::Function", {
        "Environment": {"Variables": assertions.Match.object_like(
            {"ORDERS_STREAM": {"Ref": logical_id(built.things["prov"].stream)}})},
    })


def test_enhanced_fan_out(built):
    t = built.template("FanOut")
    consumer = built.things["efo.consumer"]
    t.resource_count_is("AWS::Kinesis::StreamConsumer", 1)
    efo_arn = {"Fn::GetAtt": [logical_id(consumer.fan_out_consumer), "ConsumerARN"]}
    t.has_resource_properties("AWS::Lambda::EventSourceMapping", {"EventSourceArn": efo_arn})
    statements = role_statements(t, consumer.role)
    assert {"Action": "kinesis:SubscribeToShard", "Effect": "Allow", "Resource": efo_arn} in statements
    # SubscribeToShard appears nowhere else, and never on the stream
    assert [s for s in statements if "kinesis:SubscribeToShard" in actions_of(s)] == [
        {"Action": "kinesis:SubscribeToShard", "Effect": "Allow", "Resource": efo_arn}]


def test_s3_failure_destination_grants_put_and_list_only(built):
    t = built.template("Destinations")
    consumer = built.things["dest.s3"]
    bucket = built.things["dest.bucket"]
    t.has_resource_properties("AWS::Lambda::EventSourceMapping", {
        "FunctionName": {"Ref": logical_id(consumer.function)},
        "DestinationConfig": {"OnFailure": {"Destination": get_att_arn(bucket)}},
    })
    statements = role_statements(t, consumer.role)
    assert statements[2:] == [
        {"Action": "s3:PutObject", "Effect": "Allow",
         "Resource": {"Fn::Join": ["", [get_att_arn(bucket), "/*"]]}},
        {"Action": "s3:ListBucket", "Effect": "Allow", "Resource": get_att_arn(bucket)},
    ]
    assert consumer.dead_letter_queue is None


def test_own_dead_letter_queue(built):
    t = built.template("Destinations")
    consumer = built.things["dest.own"]
    queue = built.things["dest.queue"]
    assert consumer.dead_letter_queue is queue
    t.has_resource_properties("AWS::Lambda::EventSourceMapping", {
        "FunctionName": {"Ref": logical_id(consumer.function)},
        "DestinationConfig": {"OnFailure": {"Destination": get_att_arn(queue)}},
    })
    assert role_statements(t, consumer.role)[-1] == {
        "Action": "sqs:SendMessage", "Effect": "Allow", "Resource": get_att_arn(queue)}


def test_at_timestamp(built):
    built.template("Destinations").has_resource_properties("AWS::Lambda::EventSourceMapping", {
        "StartingPosition": "AT_TIMESTAMP", "StartingPositionTimestamp": 1_700_000_000,
    })


def test_wrap_existing_stream_and_function(built):
    t = built.template("Existing")
    t.resource_count_is("AWS::Kinesis::Stream", 0)
    consumer = built.things["existing.consumer"]
    assert consumer.function is built.things["existing.fn"]
    t.has_resource_properties("AWS::Lambda::EventSourceMapping", {
        "EventSourceArn": "arn:aws:kinesis:eu-west-1:111122223333:stream/legacy",
        "MaximumRecordAgeInSeconds": 24 * 3600,  # half of the declared 48 h retention
    })
    statements = role_statements(t, consumer.role)
    assert {"Action": ["kinesis:DescribeStream", "kinesis:DescribeStreamSummary", "kinesis:GetRecords",
                       "kinesis:GetShardIterator", "kinesis:ListShards"], "Effect": "Allow",
            "Resource": "arn:aws:kinesis:eu-west-1:111122223333:stream/legacy"} in statements


def test_metrics_carry_the_stream_name_dimension(built):
    stream = built.things["defaults"]
    stack = built.stacks["Defaults"]
    for metric, name, statistic in [
        (stream.metric_iterator_age_max(), "GetRecords.IteratorAgeMilliseconds", "Maximum"),
        (stream.metric_write_throughput_exceeded_sum(), "WriteProvisionedThroughputExceeded", "Sum"),
        (stream.metric_read_throughput_exceeded_sum(), "ReadProvisionedThroughputExceeded", "Sum"),
        (stream.metric_incoming_records_sum(), "IncomingRecords", "Sum"),
        (stream.metric_incoming_bytes_sum(), "IncomingBytes", "Sum"),
        (stream.metric_put_records_failed_records_sum(), "PutRecords.FailedRecords", "Sum"),
    ]:
        assert metric.namespace == "AWS/Kinesis"
        assert metric.metric_name == name
        assert metric.statistic == statistic
        assert stack.resolve(metric.dimensions) == {"StreamName": {"Ref": logical_id(stream.stream)}}


def test_idempotency_table_and_exact_grants(built):
    t = built.template("Idempotent")
    consumer = built.things["idem"]
    table = consumer.idempotency_table
    t.has_resource_properties("AWS::DynamoDB::GlobalTable", {
        "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}],
        "AttributeDefinitions": [{"AttributeName": "id", "AttributeType": "S"}],
        "BillingMode": "PAY_PER_REQUEST",
        "TimeToLiveSpecification": {"AttributeName": "expiration", "Enabled": True},
    })
    t.has_resource("AWS::DynamoDB::GlobalTable", {"DeletionPolicy": "Delete"})
    t.has_resource_properties("AWS::Lambda::Function", {
        "Environment": {"Variables": assertions.Match.object_like(
            {"IDEMPOTENCY_TABLE_NAME": {"Ref": logical_id(table)}})},
    })
    assert {"Action": ["dynamodb:DeleteItem", "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"],
            "Effect": "Allow", "Resource": get_att_arn(table)} in [
        {**st, "Action": actions_of(st)} for st in role_statements(t, consumer.role)]

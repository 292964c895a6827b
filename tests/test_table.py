"""EntityTable and TableChangeConsumer: one app (cdk-nag registered), one stack per configuration."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import Duration, RemovalPolicy, assertions
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_

from cdk_event_pipeline import EntityTable, PipelineFunction, PipelineValidationError, TableChangeConsumer, bundled_code
from tests._cdk import Stacks, all_statements, cfn_lint, get_att_arn, logical_id, role_statements

STACKS = ("Defaults", "Options", "Changes", "Existing")
IMPORTED_TABLE_ARN = "arn:aws:dynamodb:eu-west-1:111122223333:table/legacy"
IMPORTED_STREAM_ARN = "arn:aws:dynamodb:eu-west-1:111122223333:table/legacy/stream/2026-01-01T00:00:00.000"
READER = ["dynamodb:BatchGetItem", "dynamodb:GetItem", "dynamodb:Query"]
WRITER = ["dynamodb:DeleteItem", "dynamodb:PutItem", "dynamodb:UpdateItem"]
STREAM_READ = ["dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator"]
#: ListStreams takes no resource: a change consumer gets it on "*", alone (docs/security.md)
LIST_STREAMS = {"Action": "dynamodb:ListStreams", "Effect": "Allow", "Resource": "*"}


def code() -> dict[str, Any]:
    return {"code": bundled_code("audit"), "handler": "audit_handler.handler"}


def stream_arn(table: EntityTable) -> dict[str, Any]:
    return {"Fn::GetAtt": [logical_id(table.table), "StreamArn"]}


class Built(Stacks):
    def __init__(self) -> None:
        super().__init__()
        self.templates: dict[str, assertions.Template] = {}
        self.outdir: Path | None = None


@pytest.fixture(scope="module")
def built() -> Built:
    b = Built()

    s = b.stack("Defaults")
    b.things["defaults"] = table = EntityTable(s, "Items")
    b.things["defaults.reader"] = reader = PipelineFunction(s, "Reader", **code())
    b.things["defaults.writer"] = writer = PipelineFunction(s, "Writer", **code())
    table.connect_reader(reader)
    table.connect_writer(writer)

    s = b.stack("Options", region="eu-west-1")  # a customer key needs an explicit region
    b.things["options.key"] = key = kms.Key(s, "Key", enable_key_rotation=True)
    b.things["options"] = table = EntityTable(
        s, "Orders", table_name="orders",
        partition_key=dynamodb.Attribute(name="pk", type=dynamodb.AttributeType.STRING),
        sort_key=dynamodb.Attribute(name="sk", type=dynamodb.AttributeType.NUMBER),
        time_to_live_attribute="expiresAt", stream=dynamodb.StreamViewType.NEW_IMAGE, encryption_key=key,
        removal_policy=RemovalPolicy.DESTROY,
    )
    table.add_index("byStatus", partition_key=dynamodb.Attribute(name="status", type=dynamodb.AttributeType.STRING))
    b.things["options.reader"] = reader = PipelineFunction(s, "Reader", **code())
    b.things["options.writer"] = writer = PipelineFunction(s, "Writer", **code())
    b.things["options.named"] = named = PipelineFunction(s, "Named", **code())
    table.connect_reader(reader, env_var="ORDERS")
    table.connect_writer(writer)
    table.connect(named, "dynamodb:PutItem", "dynamodb:GetItem")
    b.things["options.consumer"] = table.add_change_consumer(
        "OnChange", **code(), batch_size=500, starting_position=lambda_.StartingPosition.TRIM_HORIZON,
        retry_attempts=2, max_record_age=Duration.hours(1))

    s = b.stack("Changes")
    b.things["changes"] = table = EntityTable(s, "Items")
    b.things["changes.consumer"] = table.add_change_consumer("OnChange", **code())

    s = b.stack("Existing")
    imported = dynamodb.TableV2.from_table_attributes(
        s, "Imported", table_arn=IMPORTED_TABLE_ARN, table_stream_arn=IMPORTED_STREAM_ARN)
    b.things["existing"] = table = EntityTable(s, "Items", table=imported)
    b.things["existing.reader"] = reader = PipelineFunction(s, "Reader", **code())
    table.connect_reader(reader)
    b.things["existing.consumer"] = table.add_change_consumer("OnChange", **code())

    assembly = b.app.synth()  # raises ValidationFailed on any unacknowledged cdk-nag error
    b.outdir = Path(assembly.directory)
    for name, stack in b.stacks.items():
        b.templates[name] = assertions.Template.from_stack(stack)
    return b


@pytest.mark.parametrize("name", STACKS)
def test_snapshot(built, template_snapshot, name):
    assert built.templates[name] == template_snapshot


# --- defaults -------------------------------------------------------------------------------


def test_default_table(built):
    t = built.templates["Defaults"]
    t.resource_count_is("AWS::DynamoDB::GlobalTable", 1)
    t.has_resource("AWS::DynamoDB::GlobalTable", {
        "DeletionPolicy": "Retain",
        "UpdateReplacePolicy": "Retain",
        "Properties": {
            "BillingMode": "PAY_PER_REQUEST",
            "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}],
            "AttributeDefinitions": [{"AttributeName": "id", "AttributeType": "S"}],
            "Replicas": [{"Region": {"Ref": "AWS::Region"},
                          "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True}}],
            "SSESpecification": {"SSEEnabled": False},  # DynamoDB's AWS-owned key: encrypted at rest
            "StreamSpecification": assertions.Match.absent(),
            "TimeToLiveSpecification": assertions.Match.absent(),
            "TableName": assertions.Match.absent(),
        },
    })
    assert built.things["defaults"].table_stream_arn is None


def test_reader_and_writer_roles_exact(built):
    t = built.templates["Defaults"]
    table_arn = get_att_arn(built.things["defaults"].table)
    for fn, actions in (("defaults.reader", READER), ("defaults.writer", WRITER)):
        function = built.things[fn]
        assert role_statements(t, function.role) == [
            {"Action": ["logs:CreateLogStream", "logs:PutLogEvents"], "Effect": "Allow",
             "Resource": get_att_arn(function.log_group)},
            {"Action": actions, "Effect": "Allow", "Resource": table_arn},
        ]
        t.has_resource_properties("AWS::Lambda::Function", {
            "Role": get_att_arn(function.role),
            "Environment": {"Variables": assertions.Match.object_like(
                {"TABLE_NAME": {"Ref": logical_id(built.things["defaults"].table)}})},
        })


# --- every option -----------------------------------------------------------------------------


def test_table_options(built):
    t = built.templates["Options"]
    t.has_resource("AWS::DynamoDB::GlobalTable", {
        "DeletionPolicy": "Delete",
        "Properties": assertions.Match.object_like({
            "TableName": "orders",
            "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
            "TimeToLiveSpecification": {"AttributeName": "expiresAt", "Enabled": True},
            "StreamSpecification": {"StreamViewType": "NEW_IMAGE"},
            "SSESpecification": {"SSEEnabled": True, "SSEType": "KMS"},
            "Replicas": [assertions.Match.object_like({
                "Region": "eu-west-1",
                "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
                "SSESpecification": {"KMSMasterKeyId": get_att_arn(built.things["options.key"])},
            })],
        }),
    })


def test_grants_with_customer_key_and_index(built):
    t = built.templates["Options"]
    table = built.things["options"]
    key_arn = get_att_arn(built.things["options.key"])
    resources = [get_att_arn(table.table), {"Fn::Join": ["", [get_att_arn(table.table), "/index/byStatus"]]}]
    assert role_statements(t, built.things["options.reader"].role)[1:] == [
        {"Action": READER, "Effect": "Allow", "Resource": resources},
        {"Action": "kms:Decrypt", "Effect": "Allow", "Resource": key_arn},
    ]
    assert role_statements(t, built.things["options.writer"].role)[1:] == [
        {"Action": WRITER, "Effect": "Allow", "Resource": resources},
        {"Action": ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey"], "Effect": "Allow", "Resource": key_arn},
    ]
    assert role_statements(t, built.things["options.named"].role)[1:] == [
        {"Action": ["dynamodb:GetItem", "dynamodb:PutItem"], "Effect": "Allow", "Resource": resources},
        {"Action": ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey"], "Effect": "Allow", "Resource": key_arn},
    ]
    t.has_resource_properties("AWS::Lambda::Function", {
        "Role": get_att_arn(built.things["options.reader"].role),
        "Environment": {"Variables": assertions.Match.object_like({"ORDERS": {"Ref": logical_id(table.table)}})},
    })


def test_change_consumer_on_configured_stream(built):
    t = built.templates["Options"]
    table = built.things["options"]
    consumer = built.things["options.consumer"]
    assert isinstance(consumer, TableChangeConsumer)
    t.has_resource_properties("AWS::Lambda::EventSourceMapping", {
        "EventSourceArn": stream_arn(table),
        "FunctionName": {"Ref": logical_id(consumer.function)},
        "BatchSize": 500, "StartingPosition": "TRIM_HORIZON", "MaximumRetryAttempts": 2,
        "MaximumRecordAgeInSeconds": 3600,
    })
    assert role_statements(t, consumer.role)[1:] == [
        {"Action": STREAM_READ, "Effect": "Allow", "Resource": stream_arn(table)},
        LIST_STREAMS,
        {"Action": "kms:Decrypt", "Effect": "Allow", "Resource": get_att_arn(built.things["options.key"])},
        {"Action": "sqs:SendMessage", "Effect": "Allow", "Resource": get_att_arn(consumer.dead_letter_queue)},
    ]


def test_change_consumer_enables_new_and_old_images_with_safe_defaults(built):
    t = built.templates["Changes"]
    table = built.things["changes"]
    consumer = built.things["changes.consumer"]
    t.has_resource_properties("AWS::DynamoDB::GlobalTable", {
        "StreamSpecification": {"StreamViewType": "NEW_AND_OLD_IMAGES"}})
    t.has_resource_properties("AWS::Lambda::EventSourceMapping", {
        "EventSourceArn": stream_arn(table),
        "BatchSize": 100,
        # TRIM_HORIZON by default: a change made before the mapping is active is still read (issue 17 item 6)
        "StartingPosition": "TRIM_HORIZON",
        "BisectBatchOnFunctionError": True,
        "MaximumRetryAttempts": 10,
        "MaximumRecordAgeInSeconds": 12 * 3600,  # half of DynamoDB Streams' fixed 24 hours
        "FunctionResponseTypes": ["ReportBatchItemFailures"],
        "DestinationConfig": {"OnFailure": {"Destination": get_att_arn(consumer.dead_letter_queue)}},
    })
    assert role_statements(t, consumer.role) == [
        {"Action": ["logs:CreateLogStream", "logs:PutLogEvents"], "Effect": "Allow",
         "Resource": get_att_arn(consumer.log_group)},
        {"Action": STREAM_READ, "Effect": "Allow", "Resource": stream_arn(table)},
        LIST_STREAMS,
        {"Action": "sqs:SendMessage", "Effect": "Allow", "Resource": get_att_arn(consumer.dead_letter_queue)},
    ]
    t.has_resource_properties("AWS::SQS::Queue", {"SqsManagedSseEnabled": True, "MessageRetentionPeriod": 1209600})


def test_list_streams_is_granted_on_star_alone_and_acknowledged(built):
    # ListStreams takes no resource (Service Authorization Reference): on a stream ARN it grants
    # nothing, so a change consumer gets it on "*" in a statement of its own (issue 17 item 2)
    assert built.templates
    found = 0
    for template in built.templates.values():
        for statement in all_statements(template.to_json()):
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            if "dynamodb:ListStreams" in actions:
                assert statement == {"Action": "dynamodb:ListStreams", "Effect": "Allow", "Resource": "*"}
                found += 1
            elif statement.get("Resource") == "*":
                assert not any(a.startswith("dynamodb:") for a in actions), statement
    assert found >= 1


def test_wrap_existing_table(built):
    t = built.templates["Existing"]
    t.resource_count_is("AWS::DynamoDB::GlobalTable", 0)
    t.resource_count_is("AWS::DynamoDB::Table", 0)
    consumer = built.things["existing.consumer"]
    t.has_resource_properties("AWS::Lambda::EventSourceMapping", {"EventSourceArn": IMPORTED_STREAM_ARN})
    assert {"Action": STREAM_READ, "Effect": "Allow", "Resource": IMPORTED_STREAM_ARN} in role_statements(
        t, consumer.role)
    assert {"Action": READER, "Effect": "Allow", "Resource": IMPORTED_TABLE_ARN} in role_statements(
        t, built.things["existing.reader"].role)


# --- gates: cdk-nag, cfn-lint -------------------------------------------------------------------


def test_cdk_nag_clean_and_every_acknowledgment_scoped(built):
    report = json.loads((built.outdir / "validation-report.json").read_text())
    nag = [r for r in report["pluginReports"] if r["pluginName"] == "AwsSolutions"]
    assert nag and nag[0]["violations"] == []
    suppressed = nag[0]["suppressedViolations"]
    # only the consumers' on-failure queues (a DLQ of a DLQ would only move the same messages), each
    # acknowledged on its CfnQueue alone
    # and ListStreams on "*" (it takes no resource), acknowledged on each change consumer's own policy
    consumers = (("Options", "Orders"), ("Changes", "Items"), ("Existing", "Items"))
    assert {(s["acknowledgedId"], s["acknowledgedAt"]) for s in suppressed} == {
        ("AwsSolutions::AwsSolutions-SQS3", f"{name}/{table}/OnChange/DeadLetterQueue/Resource")
        for name, table in consumers
    } | {
        ("AwsSolutions::AwsSolutions-IAM5[Resource::*]", f"{name}/{table}/OnChange/HandlerRole/DefaultPolicy/Resource")
        for name, table in consumers
    }
    assert all(len(s["reason"]) > 40 for s in suppressed)


@pytest.mark.parametrize("name", STACKS)
def test_cfn_lint_no_errors(built, name):
    errors, warnings = cfn_lint(built.templates[name].to_json())
    assert errors == []
    assert warnings <= {"W3005"}


# --- validation: one test per error -------------------------------------------------------------


def test_existing_table_excludes_new_table_props(stack):
    imported = dynamodb.TableV2.from_table_arn(stack, "I", IMPORTED_TABLE_ARN)
    with pytest.raises(PipelineValidationError) as error:
        EntityTable(stack, "T", table=imported, time_to_live_attribute="ttl", stream=dynamodb.StreamViewType.KEYS_ONLY)
    assert str(error.value) == f"{stack.node.path}/T: " + (
        "table and time_to_live_attribute, stream are mutually exclusive: pass an existing table or the "
        "props of a new one, not both")


def test_add_index_needs_own_table(stack):
    table = EntityTable(stack, "T", table=dynamodb.TableV2.from_table_arn(stack, "I", IMPORTED_TABLE_ARN))
    with pytest.raises(PipelineValidationError) as error:
        table.add_index("x", partition_key=dynamodb.Attribute(name="x", type=dynamodb.AttributeType.STRING))
    assert str(error.value) == f"{stack.node.path}/T: " + "add_index needs a table made by this EntityTable (given an existing table)"


def test_customer_key_needs_a_region(stack):
    with pytest.raises(PipelineValidationError) as error:
        EntityTable(stack, "T", encryption_key=kms.Key(stack, "K", enable_key_rotation=True))
    assert str(error.value) == f"{stack.node.path}/T: " + (
        "encryption_key needs a stack with an explicit region (env=Environment(region=...)): TableV2 renders "
        "a customer key per replica region and cannot in a region-agnostic stack")


def test_snapshot_removal_policy_is_rejected(stack):
    with pytest.raises(PipelineValidationError) as error:
        EntityTable(stack, "T", removal_policy=RemovalPolicy.SNAPSHOT)
    assert str(error.value) == f"{stack.node.path}/T: " + (
        "removal_policy must be RETAIN or DESTROY (given SNAPSHOT): an AWS::DynamoDB::GlobalTable cannot be "
        "snapshotted on deletion; point-in-time recovery and backups cover that need")


@pytest.mark.parametrize(("actions", "message"), [
    ((), "grant_actions needs at least one action (given none)"),
    (("s3:GetObject",), "actions must be DynamoDB actions named in full, like 'dynamodb:GetItem' (given 's3:GetObject')"),
    (("dynamodb:*",), "actions must be DynamoDB actions named in full, like 'dynamodb:GetItem' (given 'dynamodb:*')"),
])
def test_grant_actions_validation(stack, actions, message):
    table = EntityTable(stack, "T")
    fn = PipelineFunction(stack, "F", **code())
    with pytest.raises(PipelineValidationError) as error:
        table.grant_actions(fn, *actions)
    assert str(error.value) == f"{stack.node.path}/T: " + message


def test_change_consumer_view_type_conflict(stack):
    table = EntityTable(stack, "T", stream=dynamodb.StreamViewType.KEYS_ONLY)
    with pytest.raises(PipelineValidationError) as error:
        table.add_change_consumer("C", stream_view_type=dynamodb.StreamViewType.NEW_AND_OLD_IMAGES, **code())
    assert str(error.value) == f"{stack.node.path}/T: " + (
        "stream_view_type NEW_AND_OLD_IMAGES conflicts with the table's stream (KEYS_ONLY): a table has one "
        "stream; configure its view type with the stream prop of EntityTable")


def test_change_consumer_on_existing_table_without_stream(stack):
    table = EntityTable(stack, "T", table=dynamodb.TableV2.from_table_arn(stack, "I", IMPORTED_TABLE_ARN))
    with pytest.raises(PipelineValidationError) as error:
        table.add_change_consumer("C", **code())
    assert str(error.value) == f"{stack.node.path}/T: " + (
        "the existing table has no known stream: import it with table_stream_arn "
        "(dynamodb.TableV2.from_table_attributes) to add a change consumer")


def test_change_consumer_latest_stays_a_choice(stack):
    table = EntityTable(stack, "T")
    consumer = table.add_change_consumer("C", starting_position=lambda_.StartingPosition.LATEST, **code())
    assert consumer.starting_position == lambda_.StartingPosition.LATEST
    cfn = consumer.event_source_mapping.node.default_child
    assert isinstance(cfn, lambda_.CfnEventSourceMapping) and cfn.starting_position == "LATEST"


def test_change_consumer_source_retention_is_fixed(stack):
    table = EntityTable(stack, "T")
    with pytest.raises(PipelineValidationError) as error:
        table.add_change_consumer("C", source_retention=Duration.hours(48), **code())
    assert str(error.value) == f"{stack.node.path}/T/C: " + (
        "source_retention cannot be set for a DynamoDB stream: DynamoDB Streams keep records for 24 hours")


def test_change_consumer_needs_a_stream(stack):
    table = EntityTable(stack, "T")
    with pytest.raises(PipelineValidationError) as error:
        TableChangeConsumer(stack, "C", table=table, **code())
    assert str(error.value) == f"{stack.node.path}/C: " + (
        "the table has no stream: add the consumer with EntityTable.add_change_consumer (it enables the "
        "stream), set the table's stream prop, or import the table with table_stream_arn")


@pytest.mark.parametrize(("props", "message"), [
    ({"batch_size": 10001}, "batch_size must be between 1 and 10000 inclusive (given 10001)"),
    ({"starting_position": lambda_.StartingPosition.AT_TIMESTAMP, "starting_position_timestamp": 1},
     "starting_position must be one of LATEST, TRIM_HORIZON (given AT_TIMESTAMP)"),
    ({"max_record_age": Duration.hours(25)},
     "max_record_age must not exceed the source's retention of 86400 seconds (given 90000 seconds): "
     "records older than the retention are already gone"),
])
def test_change_consumer_validation(stack, props, message):
    table = EntityTable(stack, "T")
    with pytest.raises(PipelineValidationError) as error:
        table.add_change_consumer("C", **{**code(), **props})
    assert str(error.value) == f"{stack.node.path}/T/C: " + message

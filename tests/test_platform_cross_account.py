"""Cross-account producers and consumers (issue 12): two stacks with explicit, different ``env``
accounts in one App, synthesized together (cdk-nag registered), and the resource policies written in
the stream owner's stack.

Account A (111111111111) owns the Kinesis stream and the DynamoDB table; account B (222222222222)
owns the functions: a producer, a consumer added with ``add_consumer(function=...)``, an enhanced
fan-out consumer built directly, and a change consumer of the table.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import cdk_nag
import pytest
from aws_cdk import assertions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kinesis as kinesis
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_

from cdk_event_pipeline import (
    DYNAMODB_STREAM_RESOURCE_POLICY_ACTIONS,
    KINESIS_READ_ACTIONS,
    EntityTable,
    EventStream,
    PipelineFunction,
    PipelineValidationError,
    StreamConsumer,
    acknowledge,
    bundled_code,
)
from tests._cdk import cfn_lint, logical_id, new_app, role_statements

OWNER, READER = "111111111111", "222222222222"
REGION = "eu-west-1"
READ = sorted(KINESIS_READ_ACTIONS)
STREAM_POLICY_ACTIONS = ["dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator"]
assert list(DYNAMODB_STREAM_RESOURCE_POLICY_ACTIONS) == STREAM_POLICY_ACTIONS


def code() -> dict[str, Any]:
    return {"code": bundled_code("audit"), "handler": "audit_handler.handler"}


def env(account: str) -> cdk.Environment:
    return cdk.Environment(account=account, region=REGION)


@pytest.fixture(scope="module")
def built() -> dict[str, Any]:
    app = new_app()
    cdk.Validations.of(app).add_plugins(cdk_nag.AwsSolutionsChecks(app))
    owner = cdk.Stack(app, "Owner", env=env(OWNER))
    reader = cdk.Stack(app, "Reader", env=env(READER))

    # a customer managed key: the AWS managed aws/kinesis key cannot be shared (issue 17 item 1)
    key = kms.Key(owner, "StreamKey", enable_key_rotation=True)
    events = EventStream(owner, "Events", encryption_key=key)
    acknowledge(events.stream, "AwsSolutions::AwsSolutions-KDS3", "a customer key: it can be shared")
    items = EntityTable(owner, "Items")
    producer = PipelineFunction(reader, "Producer", **code())
    events.connect_producer(producer)
    analytics_fn = PipelineFunction(reader, "AnalyticsFn", **code())
    analytics = events.add_consumer("Analytics", function=analytics_fn)
    fan_out = StreamConsumer(reader, "FanOut", stream=events, **code(), enhanced_fan_out=True)
    changes_fn = PipelineFunction(reader, "ChangesFn", **code())
    changes = items.add_change_consumer("Changes", function=changes_fn)
    local = events.add_consumer("Local", **code())  # same account: no resource policy entry

    assembly = app.synth()  # raises ValidationFailed on any unacknowledged cdk-nag error
    return {
        "app": app, "key": key, "owner": owner, "reader": reader, "events": events, "items": items, "producer": producer,
        "analytics": analytics, "fan_out": fan_out, "changes": changes, "local": local,
        "owner_t": assertions.Template.from_stack(owner).to_json(),
        "reader_t": assertions.Template.from_stack(reader).to_json(),
        "outdir": Path(assembly.directory),
    }


def resources(template: dict[str, Any], type_: str) -> list[dict[str, Any]]:
    return [v["Properties"] for v in template["Resources"].values() if v["Type"] == type_]


def role_arn_in_owner(built: dict[str, Any], function: PipelineFunction) -> str:
    """How the owner's template names a reader-account role: by its generated physical name."""
    name = built["reader_t"]["Resources"][logical_id(function.execution_role)]["Properties"]["RoleName"]
    return f"arn:aws:iam::{READER}:role/{name}"  # a stack with an explicit region knows its partition


def statements_for(policy: dict[str, Any], principal: str) -> list[dict[str, Any]]:
    """The statements naming ``principal`` (aws-cdk-lib merges principals with the same actions)."""
    def names(statement: dict[str, Any]) -> list[str]:
        aws = statement["Principal"]["AWS"]
        return aws if isinstance(aws, list) else [aws]

    return [s for s in policy["ResourcePolicy"]["Statement"] if principal in names(s)]


def actions(statement: dict[str, Any]) -> list[str]:
    action = statement["Action"]
    return sorted([action] if isinstance(action, str) else action)


def test_both_accounts_pass_cdk_nag_and_cfn_lint(built):
    report = json.loads((built["outdir"] / "validation-report.json").read_text())
    nag = [r for r in report["pluginReports"] if r["pluginName"] == "AwsSolutions"]
    assert nag and nag[0]["conclusion"] == "success" and nag[0]["violations"] == []
    for name in ("owner_t", "reader_t"):
        errors, warnings = cfn_lint(built[name], regions=[REGION])
        assert errors == []
        assert warnings <= {"W3005"}


def test_the_mappings_live_in_the_functions_account(built):
    reader_t, owner_t = built["reader_t"], built["owner_t"]
    assert len(resources(reader_t, "AWS::Lambda::EventSourceMapping")) == 3
    assert len(resources(owner_t, "AWS::Lambda::EventSourceMapping")) == 1  # Local
    assert built["analytics"].node.path == "Reader/Analytics"  # add_consumer made it in the function's stack
    assert built["changes"].node.path == "Reader/Changes"
    assert built["analytics"] in built["events"].consumers


def test_the_stream_policy_gives_each_role_exactly_its_actions(built):
    (policy,) = [p for p in resources(built["owner_t"], "AWS::Kinesis::ResourcePolicy")
                 if p["ResourceArn"] == {"Fn::GetAtt": [logical_id(built["events"].stream), "Arn"]}]
    producer = statements_for(policy, role_arn_in_owner(built, built["producer"]))
    assert [actions(s) for s in producer] == [["kinesis:PutRecord", "kinesis:PutRecords"]]
    analytics = statements_for(policy, role_arn_in_owner(built, built["analytics"].function))
    assert [actions(s) for s in analytics] == [READ]
    fan_out = statements_for(policy, role_arn_in_owner(built, built["fan_out"].function))
    assert [actions(s) for s in fan_out] == [READ]
    for statement in producer + analytics + fan_out:
        assert statement["Effect"] == "Allow"
        assert statement["Resource"] == {"Fn::GetAtt": [logical_id(built["events"].stream), "Arn"]}
    # two statements, the readers' merged; the same-account consumer Local needs none
    assert len(policy["ResourcePolicy"]["Statement"]) == 2
    assert "OwnerLocal" not in json.dumps(policy)


def test_the_fan_out_consumer_is_registered_in_the_streams_account_and_shared(built):
    fan_out = built["fan_out"]
    consumer = fan_out.fan_out_consumer
    assert consumer is not None and cdk.Stack.of(consumer) is built["owner"]
    registered = logical_id(consumer)
    (policy,) = [p for p in resources(built["owner_t"], "AWS::Kinesis::ResourcePolicy")
                 if p["ResourceArn"] == {"Fn::GetAtt": [registered, "ConsumerARN"]}]
    (statement,) = policy["ResourcePolicy"]["Statement"]
    assert statement["Principal"] == {"AWS": role_arn_in_owner(built, fan_out.function)}
    assert actions(statement) == ["kinesis:SubscribeToShard"]
    assert statement["Resource"] == {"Fn::GetAtt": [registered, "ConsumerARN"]}


def test_the_fan_out_mapping_reads_the_registered_consumers_exact_arn(built):
    mapping = built["reader_t"]["Resources"][logical_id(built["fan_out"].event_source_mapping)]["Properties"]
    reference = mapping["EventSourceArn"]["Fn::GetStackOutput"]
    assert reference["StackName"] == "Owner" and reference["Region"] == REGION
    assert reference["OutputName"] in built["owner_t"]["Outputs"]
    assert built["owner_t"]["Outputs"][reference["OutputName"]]["Value"] == {
        "Fn::GetAtt": [logical_id(built["fan_out"].fan_out_consumer), "ConsumerARN"]}


def test_the_producer_names_the_stream_by_arn(built):
    variables = built["reader_t"]["Resources"][logical_id(built["producer"])]["Properties"]["Environment"][
        "Variables"]
    stream_name = built["owner_t"]["Resources"][logical_id(built["events"].stream)]["Properties"]["Name"]
    assert variables["STREAM_NAME"] == f"arn:aws:kinesis:{REGION}:{OWNER}:stream/{stream_name}"


def test_roles_keep_their_exact_identity_statements(built):
    reader = assertions.Template.from_stack(built["reader"])
    producer = role_statements(reader, built["producer"].execution_role)
    assert [actions(s) for s in producer][1:] == [["kinesis:PutRecord", "kinesis:PutRecords"],
                                                  ["kms:GenerateDataKey"]]
    analytics = role_statements(reader, built["analytics"].function.execution_role)
    assert sorted(actions(s) for s in analytics[1:]) == sorted([READ, ["kms:Decrypt"], ["sqs:SendMessage"]])
    # the key statements name the owner's key (a cross-account stack output), never "*" (issue 17 item 8)
    for statement in producer + analytics:
        assert statement["Resource"] != "*", statement


def test_the_table_stream_policy_allows_the_change_consumers_role(built):
    (table,) = resources(built["owner_t"], "AWS::DynamoDB::GlobalTable")
    (replica,) = table["Replicas"]
    (statement,) = replica["ReplicaStreamSpecification"]["ResourcePolicy"]["PolicyDocument"]["Statement"]
    assert statement == {
        "Action": STREAM_POLICY_ACTIONS, "Effect": "Allow",
        "Principal": {"AWS": role_arn_in_owner(built, built["changes"].function)}, "Resource": "*",
    }
    mapping = built["reader_t"]["Resources"][logical_id(built["changes"].event_source_mapping)]["Properties"]
    assert "Fn::GetStackOutput" in mapping["EventSourceArn"]


def test_the_customer_key_is_shared_with_the_other_account(built):
    key = built["owner_t"]["Resources"][logical_id(built["key"])]["Properties"]
    principals = json.dumps([s["Principal"] for s in key["KeyPolicy"]["Statement"]])
    assert READER in principals


def test_the_aws_managed_key_cannot_be_shared():
    app = new_app()
    owner = cdk.Stack(app, "Owner", env=env(OWNER))
    reader = cdk.Stack(app, "Reader", env=env(READER))
    events = EventStream(owner, "Events")
    with pytest.raises(PipelineValidationError) as error:
        events.connect_producer(PipelineFunction(reader, "Producer", **code()))
    message = str(error.value)
    assert "Owner/Events/Stream is encrypted with the AWS managed key alias/aws/kinesis" in message
    assert f"cannot be shared with account {READER}" in message and "pass encryption_key=" in message
    with pytest.raises(PipelineValidationError, match="alias/aws/kinesis"):
        events.add_consumer("Analytics", function=PipelineFunction(reader, "AnalyticsFn", **code()))


def test_same_account_stacks_get_no_resource_policy():
    app = new_app()
    one = cdk.Stack(app, "One", env=env(OWNER))
    two = cdk.Stack(app, "Two", env=env(OWNER))
    events = EventStream(one, "Events")
    items = EntityTable(one, "Items")
    events.connect_producer(PipelineFunction(two, "Producer", **code()))
    StreamConsumer(two, "Reader", stream=events, **code(), enhanced_fan_out=True)
    changes = items.add_change_consumer("Changes", function=PipelineFunction(two, "ChangesFn", **code()))
    assert changes.node.path == "Two/Changes"  # with its function: no stack depends on the other both ways
    template = assertions.Template.from_stack(one)
    template.resource_count_is("AWS::Kinesis::ResourcePolicy", 0)
    assert "ResourcePolicy" not in json.dumps(template.find_resources("AWS::DynamoDB::GlobalTable"))


def test_a_grant_on_an_imported_stream_of_another_account_warns_with_the_statement():
    app = new_app()
    stack = cdk.Stack(app, "Mine", env=env(READER))
    imported = kinesis.Stream.from_stream_arn(stack, "Theirs", f"arn:aws:kinesis:{REGION}:{OWNER}:stream/theirs")
    events = EventStream(stack, "Events", stream=imported)
    producer = PipelineFunction(stack, "Producer", **code())
    events.grant_put(producer)
    found = assertions.Annotations.from_stack(stack).find_warning(
        "/Mine/Events", assertions.Match.string_like_regexp("cannot change its resource policy"))
    assert len(found) == 1
    text = str(found[0].entry.data)
    assert text.startswith(f"The stream belongs to account {OWNER} and is imported: this app cannot change its "
                           "resource policy. Its owner must add this statement to the stream's resource policy, or "
                           "the grant has no effect: {")
    assert '"Action": ["kinesis:PutRecord", "kinesis:PutRecords"]' in text
    assert f":kinesis:{REGION}:{OWNER}:stream/theirs" in text


def test_an_imported_function_of_another_account_cannot_get_a_consumer():
    app = new_app()
    owner = cdk.Stack(app, "Owner", env=env(OWNER))
    events = EventStream(owner, "Events")
    theirs = lambda_.Function.from_function_attributes(
        owner, "Theirs", function_arn=f"arn:aws:lambda:{REGION}:{READER}:function:theirs",
        role=iam.Role.from_role_arn(owner, "TheirRole", f"arn:aws:iam::{READER}:role/theirs"))
    with pytest.raises(PipelineValidationError) as error:
        events.add_consumer("C", function=theirs)
    assert str(error.value) == (
        f"Owner/Events: add_consumer needs a function of this app to read a stream of another account (given the "
        f"imported function Owner/Theirs of account {READER}): an event source mapping is created in the function's "
        "account; define the consumer in that account's app")


def test_enhanced_fan_out_on_an_imported_stream_of_another_account_is_refused():
    app = new_app()
    stack = cdk.Stack(app, "Mine", env=env(READER))
    imported = kinesis.Stream.from_stream_arn(stack, "Theirs", f"arn:aws:kinesis:{REGION}:{OWNER}:stream/theirs")
    with pytest.raises(PipelineValidationError) as error:
        StreamConsumer(stack, "C", stream=imported, **code(), enhanced_fan_out=True)
    assert error.value.reason == (
        f"enhanced_fan_out needs a consumer registered in the stream's account ({OWNER}), which this app cannot do "
        "for an imported stream: register it there, allow this function's role kinesis:SubscribeToShard in its "
        "resource policy, and read it with your own event source mapping; or read with enhanced_fan_out=False")


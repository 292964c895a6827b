"""Cross-account producers and consumers (issue 12): two stacks with explicit, different ``env``
accounts in one App, synthesized together (cdk-nag registered), and the resource policies written in
the stream owner's stack.

Account A (111111111111) owns the Kinesis stream and the DynamoDB table; account B (222222222222)
owns the functions: a producer, a consumer added with ``add_consumer(function=...)``, an enhanced
fan-out consumer built directly, and a change consumer of the table.
"""

from __future__ import annotations

import json
import re
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
    cdk.Validations.of(app).add_plugins(cdk_nag.AwsSolutionsChecks(app), cdk_nag.ServerlessChecks(app))
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
    # The Serverless pack runs for the waiter the owner's stack gets (issue 17 item 7); the app's own
    # functions above are the app's to acknowledge, as a user would.
    for fn in (producer, analytics_fn, changes_fn):
        acknowledge(fn.node.default_child, "Serverless::Serverless-LambdaDLQ", "test functions, invoked synchronously")

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
    # AWS's consumer-sharing example grants DescribeStreamConsumer with SubscribeToShard (issue 17 item 8)
    assert actions(statement) == ["kinesis:DescribeStreamConsumer", "kinesis:SubscribeToShard"]
    assert statement["Resource"] == {"Fn::GetAtt": [registered, "ConsumerARN"]}


def test_the_fan_out_role_may_describe_and_subscribe_to_the_registered_consumer_only(built):
    reader = assertions.Template.from_stack(built["reader"])
    fan_out = built["fan_out"]
    consumer_arn = built["reader_t"]["Resources"][logical_id(fan_out.event_source_mapping)]["Properties"][
        "EventSourceArn"]
    on_consumer = [s for s in role_statements(reader, fan_out.function.execution_role)
                   if s["Resource"] == consumer_arn]
    assert [actions(s) for s in on_consumer] == [["kinesis:DescribeStreamConsumer", "kinesis:SubscribeToShard"]]


# --- issue 17 item 7: the consumer's resource policy waits until the consumer is ACTIVE ---------------


def waiter_resources(built: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in built["owner_t"]["Resources"].items() if k.startswith("FanOutConsumerWaiter")}


def test_the_consumer_policy_depends_on_a_wait_for_the_consumers_exact_arn(built):
    registered = logical_id(built["fan_out"].fan_out_consumer)
    owner = built["owner_t"]["Resources"]
    (policy_id,) = [k for k, v in owner.items() if v["Type"] == "AWS::Kinesis::ResourcePolicy"
                    and v["Properties"]["ResourceArn"] == {"Fn::GetAtt": [registered, "ConsumerARN"]}]
    (wait_id,) = [k for k, v in owner.items() if v["Type"] == "Custom::FanOutConsumerActive"]
    assert wait_id in owner[policy_id]["DependsOn"]
    wait = owner[wait_id]
    assert wait["Properties"]["ConsumerArn"] == {"Fn::GetAtt": [registered, "ConsumerARN"]}
    (on_event,) = [k for k, v in waiter_resources(built).items()
                   if v["Type"] == "AWS::Lambda::Function" and "frameworkonEvent" in k]
    assert wait["Properties"]["ServiceToken"] == {"Fn::GetAtt": [on_event, "Arn"]}
    # the handler may describe the consumer before the first poll
    handler_role = logical_id(built["owner"].node.find_child("FanOutConsumerWaiter").handler_role)
    assert handler_role in wait["DependsOn"]
    # the stream's own policy does not wait: only a consumer is CREATING after CREATE_COMPLETE
    stream_policy = [v for v in owner.values() if v["Type"] == "AWS::Kinesis::ResourcePolicy"
                     and v["Properties"]["ResourceArn"] == {"Fn::GetAtt": [logical_id(built["events"].stream), "Arn"]}]
    assert [p.get("DependsOn") for p in stream_policy] == [None]


def test_the_waiter_polls_describe_stream_consumer_every_5_seconds_for_10_minutes(built):
    handlers = {v["Properties"]["Handler"]: v["Properties"] for v in waiter_resources(built).values()
                if v["Type"] == "AWS::Lambda::Function" and v["Properties"]["Handler"].startswith("fan_out_waiter")}
    assert sorted(handlers) == ["fan_out_waiter_handler.is_complete", "fan_out_waiter_handler.on_event"]
    for props in handlers.values():
        assert props["Runtime"] == "python3.14" and props["MemorySize"] == 128 and props["Timeout"] == 30
    (machine,) = [v["Properties"] for v in waiter_resources(built).values()
                  if v["Type"] == "AWS::StepFunctions::StateMachine"]
    definition = json.loads("".join(p if isinstance(p, str) else "X" for p in
                                    machine["DefinitionString"]["Fn::Join"][1]))
    task = definition["States"]["framework-isComplete-task"]
    # 120 polls 5 s apart, then the framework's onTimeout reports FAILED to CloudFormation
    assert task["Retry"] == [{"ErrorEquals": ["States.ALL"], "IntervalSeconds": 5, "MaxAttempts": 120,
                              "BackoffRate": 1}]
    assert task["Catch"] == [{"ErrorEquals": ["States.ALL"], "Next": "framework-onTimeout-task"}]
    assert machine["LoggingConfiguration"]["Level"] == "ALL"
    assert machine["LoggingConfiguration"]["IncludeExecutionData"] is False


def test_the_waiters_handlers_may_describe_the_consumer_and_write_their_logs_nothing_else(built):
    owner = assertions.Template.from_stack(built["owner"])
    waiter = built["owner"].node.find_child("FanOutConsumerWaiter")
    statements = role_statements(owner, waiter.handler_role)
    log_group = {"Fn::GetAtt": [logical_id(waiter.log_group), "Arn"]}
    assert statements == [
        {"Action": ["logs:CreateLogStream", "logs:PutLogEvents"], "Effect": "Allow", "Resource": log_group},
        {"Action": "kinesis:DescribeStreamConsumer", "Effect": "Allow",
         "Resource": {"Fn::GetAtt": [logical_id(built["fan_out"].fan_out_consumer), "ConsumerARN"]}},
    ]
    # the framework's roles: the waiter's own functions, its state machine and its log group, nothing else
    own = {logical_id(c) for c in waiter.node.find_all() if isinstance(c, (lambda_.Function, iam.Role))
           } | {k for k, v in waiter_resources(built).items() if v["Type"] == "AWS::StepFunctions::StateMachine"}
    for role in (waiter.node.find_child("FrameworkOnEventRole"), waiter.node.find_child("FrameworkCompleteRole")):
        for statement in role_statements(owner, role):
            assert statement["Resource"] != "*"
            named = set(re.findall(r'"(FanOutConsumerWaiter\w+?)"', json.dumps(statement["Resource"])))
            assert named and named <= own | {logical_id(waiter.log_group)}, statement
            assert set(actions(statement)) <= {"logs:CreateLogStream", "logs:PutLogEvents", "lambda:InvokeFunction",
                                               "lambda:GetFunction", "states:StartExecution"}
    roles = {k: v["Properties"] for k, v in waiter_resources(built).items() if v["Type"] == "AWS::IAM::Role"}
    assert all("ManagedPolicyArns" not in props for props in roles.values())
    (group,) = [v["Properties"] for v in waiter_resources(built).values() if v["Type"] == "AWS::Logs::LogGroup"]
    assert group == {"RetentionInDays": 30}
    # every function of the waiter (handlers and framework) logs to that one group
    functions = [v["Properties"] for v in waiter_resources(built).values() if v["Type"] == "AWS::Lambda::Function"]
    assert len(functions) == 5
    assert all(f["LoggingConfig"]["LogGroup"] == {"Ref": logical_id(waiter.log_group)} for f in functions)


def test_the_waiters_nag_acknowledgments_are_scoped_and_reasoned(built):
    report = json.loads((built["outdir"] / "validation-report.json").read_text())
    suppressed = [(v["ruleName"], c["constructPath"]) for r in report["pluginReports"]
                  for v in r.get("suppressedViolations", []) for c in v["violatingConstructs"]
                  if "FanOutConsumerWaiter" in c["constructPath"]]
    assert suppressed, "the waiter's acknowledged findings are in the report"
    for rule, path in suppressed:
        assert path.startswith("Owner/FanOutConsumerWaiter/"), (rule, path)
    iam5 = sorted({rule for rule, _ in suppressed if rule.startswith("AwsSolutions-IAM5")})
    # invoke on the framework's and handlers' own functions (<ARN>:*), log delivery on "*" (state machine)
    assert "AwsSolutions-IAM5[Resource::*]" in iam5
    assert all(r == "AwsSolutions-IAM5[Resource::*]" or r.endswith(".Arn>:*]") for r in iam5)
    star = {path for rule, path in suppressed if rule == "AwsSolutions-IAM5[Resource::*]"}
    assert star == {"Owner/FanOutConsumerWaiter/Provider/waiter-state-machine/Role/DefaultPolicy/Resource"}


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
    # no consumer policy, nothing to wait for (issue 17 item 7)
    template.resource_count_is("Custom::FanOutConsumerActive", 0)
    template.resource_count_is("AWS::StepFunctions::StateMachine", 0)
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
        "for an imported stream: register it there, allow this function's role kinesis:DescribeStreamConsumer and "
        "kinesis:SubscribeToShard in its resource policy once it is ACTIVE, and read it with your own event source "
        "mapping; or read with enhanced_fan_out=False")


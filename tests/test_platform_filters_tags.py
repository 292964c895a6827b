"""Issue 17 items 10 and 12: filter criteria encrypted with a customer key, and no ``Tags`` on the
library's event source mappings where the partition or region rejects them.

One app (cdk.json's context, cdk-nag's AwsSolutions pack registered) with one stack per
configuration, synthesized once for the module; the cross-account case has its own two-account app.
Validation tests use the ``stack`` fixture (never synthesized).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import cdk_nag
import pytest
from aws_cdk import assertions
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_

from cdk_event_pipeline import (
    EntityTable,
    EventStream,
    PipelineFunction,
    PipelineValidationError,
    StreamConsumer,
    WorkQueue,
    acknowledge,
    bundled_code,
)
from cdk_event_pipeline._defaults import ESM_TAGS_REJECTED_IN
from cdk_event_pipeline.consumers._mapping import FILTER_KEY_POLICY_WARNING, rejects_tags
from tests._cdk import Stacks, cfn_lint, get_att_arn, logical_id, new_app

ORDER_FILTER = lambda_.FilterCriteria.filter({"data": {"type": ["order.placed"]}})
BODY_FILTER = lambda_.FilterCriteria.filter({"body": {"kind": ["invoice"]}})
INSERT_FILTER = lambda_.FilterCriteria.filter({"eventName": ["INSERT"]})
IMPORTED_KEY = "arn:aws:kms:us-east-1:111111111111:key/1234abcd-12ab-34cd-56ef-1234567890ab"
#: region of each tags stack (None: environment-agnostic)
TAG_STACKS = {"TagsUsEast1": "us-east-1", "TagsCn": "cn-north-1", "TagsGov": "us-gov-west-1",
              "TagsLondon": "eu-west-2", "TagsAgnostic": None}
UNTAGGED = ("TagsCn", "TagsGov", "TagsLondon")
TAG = {"Key": "team", "Value": "payments"}
KDS3, CUSTOMER_KEY = "AwsSolutions::AwsSolutions-KDS3", "a customer key on purpose: it encrypts the filters too"


def code() -> dict[str, Any]:
    return {"code": bundled_code("audit"), "handler": "audit_handler.handler"}


class Built(Stacks):
    def __init__(self) -> None:
        super().__init__()
        self.templates: dict[str, dict[str, Any]] = {}
        self.warnings: dict[str, dict[str, list[str]]] = {}
        self.outdir = Path()

    def resources(self, stack: str, type_: str) -> dict[str, dict[str, Any]]:
        return {k: v for k, v in self.templates[stack]["Resources"].items() if v["Type"] == type_}

    def mapping(self, stack: str, consumer: Any) -> dict[str, Any]:
        props: dict[str, Any] = self.templates[stack]["Resources"][logical_id(consumer.event_source_mapping)][
            "Properties"]
        return props

    def key_statements(self, stack: str, key: Any) -> list[dict[str, Any]]:
        statements: list[dict[str, Any]] = self.templates[stack]["Resources"][logical_id(key)]["Properties"][
            "KeyPolicy"]["Statement"]
        return statements


def _filters(b: Built) -> None:
    s = b.stack("Filters", region="us-east-1")
    b.things["stream.key"] = key = kms.Key(s, "StreamKey", enable_key_rotation=True)
    events = EventStream(s, "Events", encryption_key=key)
    acknowledge(events.stream, KDS3, CUSTOMER_KEY)
    b.things["stream.filtered"] = events.add_consumer("Orders", **code(), filters=[ORDER_FILTER])
    b.things["stream.unfiltered"] = events.add_consumer("Audit", **code())
    b.things["stream.empty"] = events.add_consumer("Empty", **code(), filters=[])
    plain = EventStream(s, "Plain")                                    # the AWS-managed key
    b.things["plain.filtered"] = plain.add_consumer("Orders", **code(), filters=[ORDER_FILTER])
    b.things["own.key"] = own = kms.Key(s, "FilterKey", enable_key_rotation=True)
    b.things["plain.own"] = plain.add_consumer("Own", **code(), filters=[ORDER_FILTER], filter_encryption_key=own)
    b.things["table.key"] = table_key = kms.Key(s, "TableKey", enable_key_rotation=True)
    items = EntityTable(s, "Items", encryption_key=table_key)
    b.things["table.changes"] = items.add_change_consumer("Inserts", **code(), filters=[INSERT_FILTER])
    b.things["queue.key"] = queue_key = kms.Key(s, "QueueKey", enable_key_rotation=True)
    jobs = WorkQueue(s, "Jobs", encryption_key=queue_key)
    b.things["queue.worker"] = jobs.add_worker("Invoices", **code(), filters=[BODY_FILTER])
    b.things["quiet.key"] = quiet_key = kms.Key(s, "QuietKey", enable_key_rotation=True)
    quiet = EventStream(s, "Quiet", encryption_key=quiet_key)
    acknowledge(quiet.stream, KDS3, CUSTOMER_KEY)
    quiet.add_consumer("Audit", **code())                             # no filters: the key is left alone
    imported = kms.Key.from_key_arn(s, "Imported", IMPORTED_KEY)
    b.things["imported"] = plain.add_consumer("Imported", **code(), filters=[ORDER_FILTER],
                                              filter_encryption_key=imported)
    # a raw kinesis.Stream with a kms.Key of this app counts as a source key too
    b.things["agnostic.key"] = a_key = kms.Key(b.stack("FiltersAgnostic"), "StreamKey", enable_key_rotation=True)
    agnostic = EventStream(b.stacks["FiltersAgnostic"], "Events", encryption_key=a_key)
    acknowledge(agnostic.stream, KDS3, CUSTOMER_KEY)
    b.things["agnostic.consumer"] = agnostic.add_consumer("Orders", **code(), filters=[ORDER_FILTER])


def _tags(b: Built) -> None:
    for name, region in TAG_STACKS.items():
        s = b.stack(name, region=region)
        events = EventStream(s, "Events")
        b.things[f"{name}.consumer"] = events.add_consumer("Audit", **code())
        b.things[f"{name}.worker"] = WorkQueue(s, "Jobs").add_worker("Worker", **code())
        b.things[f"{name}.changes"] = EntityTable(s, "Items").add_change_consumer("Changes", **code())
        cdk.Tags.of(s).add(TAG["Key"], TAG["Value"])


@pytest.fixture(scope="module")
def built() -> Built:
    b = Built()
    _filters(b)
    _tags(b)
    assembly = b.app.synth()  # raises ValidationFailed on any unacknowledged cdk-nag error
    b.outdir = Path(assembly.directory)
    for name, stack in b.stacks.items():
        b.templates[name] = assertions.Template.from_stack(stack).to_json()
        found: dict[str, list[str]] = {}
        for warning in assertions.Annotations.from_stack(stack).find_warning("*", assertions.Match.any_value()):
            found.setdefault(warning.id, []).append(str(warning.entry.data))
        b.warnings[name] = found
    return b


# --- cdk-nag and cfn-lint ------------------------------------------------------------------------


def test_cdk_nag_reports_no_unacknowledged_finding(built):
    report = json.loads((built.outdir / "validation-report.json").read_text())
    nag = [r for r in report["pluginReports"] if r["pluginName"] == "AwsSolutions"]
    assert nag and nag[0]["conclusion"] == "success" and nag[0]["violations"] == []


@pytest.mark.parametrize("name", ["Filters", "FiltersAgnostic", *TAG_STACKS])
def test_cfn_lint_reports_no_error(built, name):
    region = {"Filters": "us-east-1", "FiltersAgnostic": None}.get(name, TAG_STACKS.get(name))
    errors, warnings = cfn_lint(built.templates[name], regions=[region or "us-east-1"])
    assert errors == []
    assert warnings <= {"W3005"}  # aws-cdk-lib's own redundant DependsOn on function roles


# --- item 10: filter criteria encryption ---------------------------------------------------------

URL_SUFFIX = {"Ref": "AWS::URLSuffix"}
LAMBDA_US_EAST_1 = {"Fn::Join": ["", ["lambda.us-east-1.", URL_SUFFIX]]}


def _filter_statements(mappings: Any, root: Any, service: Any) -> list[dict[str, Any]]:
    """The two statements of AWS's "Encryption of filter criteria" for one account and region."""
    return [
        {"Action": "kms:Decrypt", "Effect": "Allow", "Principal": {"Service": service}, "Resource": "*",
         "Condition": {"ArnLike": {"aws:SourceArn": mappings}}},
        {"Action": ["kms:Decrypt", "kms:DescribeKey", "kms:GenerateDataKey"], "Effect": "Allow",
         "Principal": {"AWS": root}, "Resource": "*", "Condition": {"StringEquals": {"kms:ViaService": service}}},
    ]


ACCOUNT = {"Ref": "AWS::AccountId"}
US_EAST_1_STATEMENTS = _filter_statements(
    {"Fn::Join": ["", ["arn:aws:lambda:us-east-1:", ACCOUNT, ":event-source-mapping:*"]]},
    {"Fn::Join": ["", ["arn:aws:iam::", ACCOUNT, ":root"]]},
    LAMBDA_US_EAST_1,
)


@pytest.mark.parametrize(("consumer", "key"), [
    ("stream.filtered", "stream.key"),      # default: the EventStream's customer key
    ("plain.own", "own.key"),               # filter_encryption_key= on an AWS-managed stream
    ("table.changes", "table.key"),         # default: the EntityTable's customer key
    ("queue.worker", "queue.key"),          # default: the WorkQueue's customer key
])
def test_filtered_mappings_name_the_key_and_its_policy_allows_lambda(built, consumer, key):
    assert built.mapping("Filters", built.things[consumer])["KmsKeyArn"] == get_att_arn(built.things[key])
    assert built.things[consumer].filter_encryption_key is built.things[key]
    statements = built.key_statements("Filters", built.things[key])
    for expected in US_EAST_1_STATEMENTS:
        assert statements.count(expected) == 1  # identical statements of several consumers: once


def test_every_lambda_statement_has_a_condition(built):
    # aws-cdk-lib's filter_encryption would add kms:Decrypt for lambda.amazonaws.com with no condition
    for key in ("stream.key", "own.key", "table.key", "queue.key"):
        for statement in built.key_statements("Filters", built.things[key]):
            if "lambda." in json.dumps(statement["Principal"].get("Service", "")):
                assert "Condition" in statement


@pytest.mark.parametrize("consumer", ["stream.unfiltered", "stream.empty", "plain.filtered"])
def test_no_filters_or_no_customer_key_means_no_kms_key_arn(built, consumer):
    assert "KmsKeyArn" not in built.mapping("Filters", built.things[consumer])
    assert built.things[consumer].filter_encryption_key is None


def test_the_key_of_a_source_without_filtered_consumers_gets_no_statement(built):
    statements = json.dumps(built.key_statements("Filters", built.things["quiet.key"]))
    assert "lambda." not in statements and "kms:ViaService" not in statements


def test_an_imported_key_is_used_and_the_statements_its_owner_must_add_are_given(built):
    assert built.mapping("Filters", built.things["imported"])["KmsKeyArn"] == IMPORTED_KEY
    (warning,) = built.warnings["Filters"]["/Filters/Plain/Imported"]
    assert warning.startswith(
        f"The key {IMPORTED_KEY} that encrypts this mapping's filter criteria is not a kms.Key of this app: its key "
        "policy cannot be changed from here, and without these statements the mapping cannot be created or polled. "
        "Its owner must add: "
    )
    assert '"kms:ViaService": {"Fn::Join": ["", ["lambda.us-east-1.", {"Ref": "AWS::URLSuffix"}]]}' in warning
    assert warning.endswith(f"[ack: {FILTER_KEY_POLICY_WARNING}]")


def test_an_environment_agnostic_stack_names_the_regional_principal_with_tokens(built):
    service = {"Fn::Join": ["", ["lambda.", {"Ref": "AWS::Region"}, ".", {"Ref": "AWS::URLSuffix"}]]}
    partition = {"Ref": "AWS::Partition"}
    expected = _filter_statements(
        {"Fn::Join": ["", ["arn:", partition, ":lambda:", {"Ref": "AWS::Region"}, ":", ACCOUNT,
                           ":event-source-mapping:*"]]},
        {"Fn::Join": ["", ["arn:", partition, ":iam::", ACCOUNT, ":root"]]},
        service,
    )
    statements = built.key_statements("FiltersAgnostic", built.things["agnostic.key"])
    for statement in expected:
        assert statement in statements
    assert built.mapping("FiltersAgnostic", built.things["agnostic.consumer"])["KmsKeyArn"] == get_att_arn(
        built.things["agnostic.key"])


@pytest.mark.parametrize("filters", [None, []])
@pytest.mark.parametrize("kind", ["stream", "table", "queue", "direct"])
def test_a_filter_key_without_filters_is_refused(stack, kind, filters):
    key = kms.Key(stack, "Key")
    props: dict[str, Any] = {**code(), "filter_encryption_key": key}
    if filters is not None:
        props["filters"] = filters
    given = "an empty filters list" if filters is not None else "no filters"
    message = (
        f"filter_encryption_key is only valid with filters (given the key {stack.node.path}/Key and {given}): "
        "Lambda uses the key to encrypt the mapping's filter criteria and nothing else; pass filters=, or drop "
        "filter_encryption_key"
    )
    make = {
        "stream": lambda: EventStream(stack, "Events").add_consumer("C", **props),
        "table": lambda: EntityTable(stack, "Items").add_change_consumer("C", **props),
        "queue": lambda: WorkQueue(stack, "Jobs").add_worker("C", **props),
        "direct": lambda: StreamConsumer(stack, "C", stream=EventStream(stack, "Events"), **props),
    }[kind]
    with pytest.raises(PipelineValidationError) as raised:
        make()
    assert raised.value.reason == message


def test_cross_account_the_key_policy_names_the_mapping_account():
    owner_account, reader_account, region = "111111111111", "222222222222", "eu-west-1"
    app = new_app()
    owner = cdk.Stack(app, "Owner", env=cdk.Environment(account=owner_account, region=region))
    reader = cdk.Stack(app, "Reader", env=cdk.Environment(account=reader_account, region=region))
    key = kms.Key(owner, "StreamKey", enable_key_rotation=True)
    events = EventStream(owner, "Events", encryption_key=key)
    fn = PipelineFunction(reader, "Reader", **code())
    consumer = events.add_consumer("Orders", function=fn, filters=[ORDER_FILTER])
    statements = assertions.Template.from_stack(owner).to_json()["Resources"][logical_id(key)]["Properties"][
        "KeyPolicy"]["Statement"]
    for expected in _filter_statements(
        f"arn:aws:lambda:{region}:{reader_account}:event-source-mapping:*", f"arn:aws:iam::{reader_account}:root",
        {"Fn::Join": ["", [f"lambda.{region}.", URL_SUFFIX]]},
    ):
        assert expected in statements  # the reader's account and region: the mapping is there
    mapping = assertions.Template.from_stack(reader).to_json()["Resources"][
        logical_id(consumer.event_source_mapping)]["Properties"]
    assert "KmsKeyArn" in mapping


# --- item 12: no Tags on mappings where they are rejected ----------------------------------------


def test_the_rejecting_set_is_the_issues_partitions_and_region():
    assert ESM_TAGS_REJECTED_IN == {"aws-cn", "aws-us-gov", "eu-west-2"}
    assert [r for r in ("cn-north-1", "cn-northwest-1", "us-gov-west-1", "us-gov-east-1", "eu-west-2")
            if rejects_tags(r)] == ["cn-north-1", "cn-northwest-1", "us-gov-west-1", "us-gov-east-1", "eu-west-2"]
    assert not any(rejects_tags(r) for r in ("us-east-1", "eu-west-1", "ap-southeast-2"))


@pytest.mark.parametrize("name", ["TagsUsEast1", "TagsAgnostic"])
def test_mappings_keep_their_tags_where_accepted_or_the_region_is_unknown(built, name):
    mappings = built.resources(name, "AWS::Lambda::EventSourceMapping")
    assert len(mappings) == 3
    for mapping in mappings.values():
        assert TAG in mapping["Properties"]["Tags"]


@pytest.mark.parametrize("name", UNTAGGED)
def test_no_mapping_has_tags_where_they_are_rejected(built, name):
    mappings = built.resources(name, "AWS::Lambda::EventSourceMapping")
    assert len(mappings) == 3  # the consumer's, the worker's, the change consumer's
    for mapping in mappings.values():
        assert "Tags" not in mapping["Properties"]


@pytest.mark.parametrize("name", UNTAGGED)
def test_other_resources_keep_their_tags(built, name):
    for type_ in ("AWS::Kinesis::Stream", "AWS::SQS::Queue", "AWS::Lambda::Function", "AWS::IAM::Role"):
        resources = built.resources(name, type_)
        assert resources
        for resource in resources.values():
            assert TAG in resource["Properties"]["Tags"], type_


def test_an_override_of_build_event_source_mapping_keeps_both(stack_in_cn):
    class Custom(StreamConsumer):
        def build_event_source_mapping(self, **kwargs: Any) -> lambda_.EventSourceMapping:
            return super().build_event_source_mapping(**kwargs)

    key = kms.Key(stack_in_cn, "Key", enable_key_rotation=True)
    events = EventStream(stack_in_cn, "Events", encryption_key=key)
    consumer = Custom(stack_in_cn, "Custom", stream=events, **code(), filters=[ORDER_FILTER])
    cdk.Tags.of(stack_in_cn).add("team", "payments")
    props = assertions.Template.from_stack(stack_in_cn).to_json()["Resources"][
        logical_id(consumer.event_source_mapping)]["Properties"]
    assert "Tags" not in props
    assert props["KmsKeyArn"] == get_att_arn(key)


@pytest.fixture
def stack_in_cn() -> cdk.Stack:
    app = new_app()
    cdk.Validations.of(app).add_plugins(cdk_nag.AwsSolutionsChecks(app))
    return cdk.Stack(app, "Cn", env=cdk.Environment(region="cn-north-1"))

"""The DynamoDB Streams source: :class:`TableChangeConsumer`, a Lambda consumer of a table's change
stream (made by :meth:`EntityTable.add_change_consumer <cdk_event_pipeline.EntityTable.add_change_consumer>`)."""

from __future__ import annotations

from typing import Unpack

from aws_cdk import Annotations
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from .. import _defaults as d
from .._accounts import account_of, crosses_accounts, principal_account
from .._kinds import HasNode, TableLike, TableSource, as_table
from .._nag import acknowledge_resource
from .._props import ConsumerProps
from .._validation import PipelineValidationError, init_reports_path
from .stream import StreamConsumerBase

#: What Lambda's DynamoDB Streams event source mapping reads, on this table's stream ARN only.
DYNAMODB_STREAM_READ_ACTIONS = (
    "dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator",
)
#: ``dynamodb:ListStreams`` is in every policy AWS gives Lambda's DynamoDB stream readers (the
#: DynamoDB developer guide's "IAM policy to allow an AWS Lambda function to access DynamoDB stream
#: records", the managed policy AWSLambdaDynamoDBExecutionRole), but the Service Authorization
#: Reference gives it no resource type
#: (https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazondynamodb.html):
#: scoped to a stream ARN it grants nothing (aws-cdk PR #34575). So it goes on ``"*"``, in a
#: statement of its own, the only wildcard besides X-Ray (docs/security.md); the cdk-nag finding
#: is acknowledged on that one policy with :data:`LIST_STREAMS_REASON`.
DYNAMODB_LIST_STREAMS_ACTION = "dynamodb:ListStreams"
LIST_STREAMS_REASON = (
    "dynamodb:ListStreams takes no resource type (Service Authorization Reference), so it can only be "
    "granted on '*'; Lambda's DynamoDB Streams mappings list it among the execution role's permissions. "
    "It lists stream ARNs only, no data."
)
#: KMS actions a reader needs on the table's customer key.
TABLE_READ_KEY_ACTIONS = ("kms:Decrypt",)


class TableChangeConsumer(StreamConsumerBase):
    """A Lambda consumer of a DynamoDB table's change stream.

    Same failure handling as the Kinesis consumer (bisect, finite retries and record age,
    partial batch responses, an on-failure destination); see
    :class:`~cdk_event_pipeline.StreamConsumerBase` for every prop. What differs: batches of up
    to 10000 records, starting positions LATEST or TRIM_HORIZON only (default TRIM_HORIZON:
    no change made before the mapping is active is lost), and a source retention
    fixed at 24 hours (the default record-age limit is therefore 12 hours).

    The role gets exactly ``dynamodb:DescribeStream``, ``dynamodb:GetRecords`` and
    ``dynamodb:GetShardIterator`` on the table's stream ARN (plus ``kms:Decrypt`` on a customer
    key), and ``dynamodb:ListStreams`` on ``"*"``, which takes no resource (see
    :data:`DYNAMODB_LIST_STREAMS_ACTION`).

    Args:
        table: The :class:`EntityTable` whose stream to read (its stream must be enabled:
            use :meth:`EntityTable.add_change_consumer`), or any ``dynamodb.ITable`` with a
            known ``table_stream_arn``.
        **props: See :class:`~cdk_event_pipeline.StreamConsumerBase` (typed as
            :class:`ConsumerProps`); ``source_retention`` cannot be set.

    Example::

        items = EntityTable(self, "Items")
        items.add_change_consumer("OnChange", code=code_from_dir("lambdas/changes"),
                                  handler="changes_handler.handler")
    """

    max_batch_size = d.DYNAMODB_BATCH_SIZE_MAX
    #: TRIM_HORIZON: a change written between the table's creation and the mapping becoming active
    #: is still read (the stream keeps 24 hours), where LATEST would skip it. AWS Solutions
    #: Constructs' aws-dynamodbstreams-lambda defaults to TRIM_HORIZON too
    #: (https://docs.aws.amazon.com/solutions/latest/constructs/aws-dynamodbstreams-lambda.html).
    #: LATEST stays a choice (``starting_position=``).
    _default_starting_position = lambda_.StartingPosition.TRIM_HORIZON
    allowed_starting_positions = (
        lambda_.StartingPosition.LATEST,
        lambda_.StartingPosition.TRIM_HORIZON,
    )

    @init_reports_path
    def __init__(self, scope: Construct, id: str, *, table: TableLike, **props: Unpack[ConsumerProps]) -> None:
        if "source_retention" in props:
            raise PipelineValidationError(
                "source_retention cannot be set for a DynamoDB stream: DynamoDB Streams keep records "
                "for 24 hours"
            )
        #: The EntityTable read, or ``None`` when given a plain ``dynamodb.ITable``.
        self.entity_table: TableSource | None = table if isinstance(table, TableSource) else None
        #: The table whose stream is read.
        self.table: dynamodb.ITable = as_table(table)
        stream_arn = table.table_stream_arn
        if stream_arn is None:
            raise PipelineValidationError(
                "the table has no stream: add the consumer with EntityTable.add_change_consumer "
                "(it enables the stream), set the table's stream prop, or import the table with "
                "table_stream_arn"
            )
        self.stream_arn: str = stream_arn
        self.encryption_key: kms.IKey | None = table.encryption_key
        super().__init__(scope, id, source_retention=d.DYNAMODB_STREAM_RETENTION, **props)

    def _event_source_arn(self) -> str:
        return self.stream_arn

    def _recursion_source(self) -> tuple[HasNode, str]:
        return (self.entity_table if self.entity_table is not None else self.table), "table"

    def grant_source_read(self, grantee: iam.IGrantable) -> None:
        """DescribeStream, GetRecords, GetShardIterator on the stream, ListStreams on ``"*"``;
        ``kms:Decrypt`` on a customer key. A function of another account is also allowed on the stream's
        resource-based policy (see :meth:`EntityTable.share_stream`)."""
        iam.Grant.add_to_principal(
            grantee=grantee, actions=list(DYNAMODB_STREAM_READ_ACTIONS), resource_arns=[self.stream_arn]
        )
        iam.Grant.add_to_principal(grantee=grantee, actions=[DYNAMODB_LIST_STREAMS_ACTION], resource_arns=["*"])
        role = grantee.grant_principal
        policy = role.node.try_find_child("DefaultPolicy") if isinstance(role, iam.Role) else None
        if policy is not None:
            acknowledge_resource(policy, "AwsSolutions::AwsSolutions-IAM5[Resource::*]", LIST_STREAMS_REASON)
        if self.entity_table is not None:
            self.entity_table.share_stream(grantee)
        elif crosses_accounts(account_of(self.table), principal_account(grantee)):
            Annotations.of(self).add_warning_v2(
                "cdk-event-pipeline:ForeignTableStreamResourcePolicy",
                f"The table belongs to account {account_of(self.table)}: this app cannot change its stream's "
                "resource policy. Its owner must allow this function's role dynamodb:DescribeStream, "
                "dynamodb:GetRecords and dynamodb:GetShardIterator on the stream, or the mapping cannot read it.",
            )
        if self.encryption_key is not None:
            self.encryption_key.grant(grantee, *TABLE_READ_KEY_ACTIONS)

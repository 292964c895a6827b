"""On-failure destinations for event source mappings that grant nothing by themselves.

CDK's ``SqsDlq`` grants ``SendMessage``, ``GetQueueAttributes`` and ``GetQueueUrl``; its
``S3OnFailureDestination`` grants full read-write including ``DeleteObject``. Lambda needs only
``sqs:SendMessage`` on the queue, or ``s3:PutObject`` on the objects plus ``s3:ListBucket`` on the
bucket (AWS Lambda developer guide, "Retaining records of asynchronous invocations / event
source mapping destinations"). These destinations return the ARN from ``bind`` and the consumer
adds exactly those grants itself.
"""

from __future__ import annotations

import jsii
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sqs as sqs

from ._kinds import QueueLike, as_queue


@jsii.implements(lambda_.IEventSourceDlq)
class ExactSqsDestination:
    """An SQS on-failure destination (an ``sqs.IQueue`` or a :class:`WorkQueue`); :meth:`grant`
    adds exactly ``sqs:SendMessage``."""

    def __init__(self, queue: QueueLike) -> None:
        self.queue: sqs.IQueue = as_queue(queue)

    def bind(
        self, _target: lambda_.IEventSourceMapping, _target_handler: lambda_.IFunction
    ) -> lambda_.DlqDestinationConfig:
        return lambda_.DlqDestinationConfig(destination=self.queue.queue_arn)

    def grant(self, grantee: iam.IGrantable) -> None:
        """``sqs:SendMessage`` on the queue (+ encrypt with its customer key, if any)."""
        iam.Grant.add_to_principal(
            grantee=grantee, actions=["sqs:SendMessage"], resource_arns=[self.queue.queue_arn]
        )
        key = self.queue.encryption_master_key
        if key is not None:
            key.grant(grantee, "kms:GenerateDataKey", "kms:Decrypt")


@jsii.implements(lambda_.IEventSourceDlq)
class ExactS3Destination:
    """An S3 on-failure destination (keeps whole records); grants PutObject + ListBucket only."""

    def __init__(self, bucket: s3.IBucket) -> None:
        self.bucket = bucket

    def bind(
        self, _target: lambda_.IEventSourceMapping, _target_handler: lambda_.IFunction
    ) -> lambda_.DlqDestinationConfig:
        return lambda_.DlqDestinationConfig(destination=self.bucket.bucket_arn)

    def grant(self, grantee: iam.IGrantable) -> None:
        """``s3:PutObject`` on the bucket's objects, ``s3:ListBucket`` on the bucket."""
        iam.Grant.add_to_principal(
            grantee=grantee, actions=["s3:PutObject"], resource_arns=[self.bucket.arn_for_objects("*")]
        )
        iam.Grant.add_to_principal(grantee=grantee, actions=["s3:ListBucket"], resource_arns=[self.bucket.bucket_arn])
        key = self.bucket.encryption_key
        if key is not None:
            key.grant(grantee, "kms:GenerateDataKey")

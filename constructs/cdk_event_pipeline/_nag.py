"""Acknowledgments of rule-pack findings (cdk-nag and others) on the library's own resources.

``Validations.of(...).acknowledge`` is aws-cdk-lib's own API, so the library needs no cdk-nag
import: a user who runs cdk-nag sees each acknowledgment, scoped to one resource and with its
reason, in ``validation-report.json``. Ids carry the pack prefix (``AwsSolutions::``,
``Serverless::``) so the finding stays in the report as acknowledged instead of vanishing.

Every acknowledgment the library makes is here, by the decision it stands for; each is made on the
one CloudFormation resource the rule checks (the L2's default child), never on a parent.
"""

from __future__ import annotations

from aws_cdk import Acknowledgment, Validations
from constructs import IConstruct

ON_FAILURE_QUEUE_HAS_NO_DLQ = (
    "This queue is the on-failure destination (the dead-letter store) of an event source mapping "
    "or a queue's redrive target: a DLQ of a DLQ would only move the same messages again. Messages "
    "stay 14 days (SQS's maximum) and are redriven with `event-pipeline redrive`."
)
#: Serverless-LambdaDLQ on a stream consumer's function.
STREAM_FUNCTION_HAS_NO_ASYNC_DLQ = (
    "Invoked synchronously by an event source mapping: a function's dead-letter queue receives only "
    "failed asynchronous invocations, so it would never receive anything. Failures go to the "
    "mapping's on-failure destination (the consumer's DeadLetterQueue)."
)
#: Serverless-LambdaDLQ on a queue worker's function.
QUEUE_FUNCTION_HAS_NO_ASYNC_DLQ = (
    "Invoked synchronously by an SQS event source mapping: a function's dead-letter queue receives "
    "only failed asynchronous invocations, so it would never receive anything. A failed message "
    "returns to the queue and moves to the queue's dead-letter queue after max_receive_count receives."
)
#: Serverless-LambdaEventSourceMappingDestination on an SQS mapping.
QUEUE_REDRIVE_IS_THE_DESTINATION = (
    "SQS event sources take no on-failure destination (DestinationConfig applies to stream and "
    "Kafka sources): the queue's redrive policy is the destination, and this queue has one."
)
#: Serverless-LambdaTracing on a function built without ``tracing=True``.
TRACING_IS_OPT_IN = (
    "X-Ray tracing is opt-in (tracing=True): it adds xray:PutTraceSegments/PutTelemetryRecords on "
    "'*' to the role (X-Ray accepts no other resource) and costs per trace recorded "
    "(https://aws.amazon.com/xray/pricing/). The library's metrics, logs and alarms cover the "
    "pipeline without it."
)

SQS_REDRIVE_POLICY = "Serverless::Serverless-SQSRedrivePolicy"
SQS3 = "AwsSolutions::AwsSolutions-SQS3"
LAMBDA_DLQ = "Serverless::Serverless-LambdaDLQ"
LAMBDA_TRACING = "Serverless::Serverless-LambdaTracing"
MAPPING_DESTINATION = "Serverless::Serverless-LambdaEventSourceMappingDestination"


def acknowledge(scope: IConstruct, rule_id: str, reason: str) -> None:
    """Acknowledge one rule-pack finding on ``scope`` and its children only.

    Public (``from cdk_event_pipeline import acknowledge``) for subclasses and apps that build on
    the library: the finding stays in ``validation-report.json`` as acknowledged, with its reason.

    Args:
        scope: The construct the finding is on (never the stack or the app).
        rule_id: The finding's id with its pack prefix, as the console prints it:
            ``"AwsSolutions::AwsSolutions-IAM5[Resource::<Bucket.Arn>/*]"``.
        reason: Why the finding is acceptable here.
    """
    Validations.of(scope).acknowledge(Acknowledgment(id=rule_id, reason=reason))


def acknowledge_resource(construct: IConstruct, rule_id: str, reason: str) -> None:
    """:func:`acknowledge` on the construct's CloudFormation resource (its default child, or the
    construct itself when it has none): the acknowledgment covers that one resource."""
    child = construct.node.default_child
    acknowledge(child if child is not None else construct, rule_id, reason)


def acknowledge_dead_letter_queue(queue: IConstruct, *, aws_solutions: bool = False) -> None:
    """A dead-letter queue needs no redrive policy of its own (Serverless-SQSRedrivePolicy) and,
    for an on-failure destination cdk-nag cannot see as a DLQ, no DLQ (``aws_solutions``: SQS3)."""
    acknowledge_resource(queue, SQS_REDRIVE_POLICY, ON_FAILURE_QUEUE_HAS_NO_DLQ)
    if aws_solutions:
        acknowledge_resource(queue, SQS3, ON_FAILURE_QUEUE_HAS_NO_DLQ)

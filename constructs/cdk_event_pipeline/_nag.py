"""Acknowledgments of rule-pack findings (cdk-nag and others) on the library's own resources.

``Validations.of(...).acknowledge`` is aws-cdk-lib's own API, so the library needs no cdk-nag
import: a user who runs cdk-nag sees each acknowledgment, scoped to one resource and with its
reason, in ``validation-report.json``. Ids carry the pack prefix (``AwsSolutions::``) so the
finding stays in the report as acknowledged instead of vanishing.
"""

from __future__ import annotations

from aws_cdk import Acknowledgment, Validations
from constructs import IConstruct

ON_FAILURE_QUEUE_HAS_NO_DLQ = (
    "This queue is the on-failure destination (the dead-letter store) of an event source mapping "
    "or a queue's redrive target: a DLQ of a DLQ would only move the same messages again. Messages "
    "stay 14 days (SQS's maximum) and are redriven with `event-pipeline redrive`."
)


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

"""Wait until a registered Kinesis stream consumer is ACTIVE: the two handlers of the custom
resource ``Custom::FanOutConsumerActive``, served by aws-cdk's ``custom_resources.Provider``.

Why it exists: ``AWS::Kinesis::StreamConsumer`` reports CREATE_COMPLETE while the consumer is still
CREATING, and an ``AWS::Kinesis::ResourcePolicy`` attached to it then fails with "Consumer ... is not
in ACTIVE status" (HandlerErrorCode AlreadyExists, which CloudFormation does not retry;
https://github.com/aws-cloudformation/cloudformation-coverage-roadmap/issues/2442). aws-cdk's own
integration test had a one-shot ``DescribeStreamConsumer`` call as a "waiter", which never waited
(https://github.com/aws/aws-cdk/pull/37108). Here the consumer's resource policy depends on this
resource, and this resource completes only when ``DescribeStreamConsumer`` reports
``ConsumerStatus: ACTIVE``.

How the Provider framework uses the two handlers:

* ``on_event`` runs once per CloudFormation request. Create/Update: the physical id is the
  consumer's ARN (a new consumer, a new ARN: CloudFormation then deletes the old resource).
  Delete: nothing to undo, the consumer is deleted by its own resource.
* ``is_complete`` runs every query interval until it returns ``IsComplete: True`` (the resource is
  then complete) or the framework's total timeout passes (it reports FAILED to CloudFormation, and
  the deployment rolls back). An exception fails the resource at once with its message: a consumer
  that is DELETING will never become ACTIVE, so waiting is pointless.

``ResourceNotFoundException`` right after registration (the consumer not yet visible to
``DescribeStreamConsumer``) and ``LimitExceededException`` (DescribeStreamConsumer allows 20 calls
per second per stream, "DescribeStreamConsumer", Kinesis API reference) mean "ask again".

The function needs ``kinesis:DescribeStreamConsumer`` on the consumer's ARN and nothing else.
"""

from __future__ import annotations

import logging
from typing import Any

import boto3
from botocore.exceptions import ClientError

log = logging.getLogger(__name__)
log.setLevel(logging.INFO)

#: The ResourceProperties key holding the registered consumer's ARN.
CONSUMER_ARN_PROPERTY = "ConsumerArn"
#: The only status a resource policy can be attached in ("ConsumerDescription", Kinesis API reference).
ACTIVE = "ACTIVE"
#: Still registering: ask again at the next query interval.
CREATING = "CREATING"
#: Errors that mean "not visible yet" or "asked too often": ask again at the next query interval.
RETRY_ERRORS = frozenset({"ResourceNotFoundException", "LimitExceededException"})

_client: Any = None


class ConsumerNotActivatingError(Exception):
    """The consumer is in a status from which it never becomes ACTIVE (DELETING)."""


def kinesis_client() -> Any:
    """The module's Kinesis client, made on first use (honours ``AWS_ENDPOINT_URL``)."""
    global _client
    if _client is None:
        _client = boto3.client("kinesis")
    return _client


def consumer_arn(event: dict[str, Any]) -> str:
    """The consumer ARN the custom resource waits for."""
    return str(event["ResourceProperties"][CONSUMER_ARN_PROPERTY])


def on_event(event: dict[str, Any], _context: Any) -> dict[str, Any]:
    """Create/Update: the consumer's ARN as the physical id. Delete: a no-op."""
    if event["RequestType"] == "Delete":
        return {"PhysicalResourceId": event["PhysicalResourceId"]}
    return {"PhysicalResourceId": consumer_arn(event)}


def consumer_status(client: Any, arn: str) -> str | None:
    """The consumer's ``ConsumerStatus``, or ``None`` when Kinesis says to ask again."""
    try:
        description = client.describe_stream_consumer(ConsumerARN=arn)["ConsumerDescription"]
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "")
        if code in RETRY_ERRORS:
            log.info("DescribeStreamConsumer %s: %s; asking again", arn, code)
            return None
        raise
    return str(description["ConsumerStatus"])


def is_complete(event: dict[str, Any], _context: Any, client: Any = None) -> dict[str, Any]:
    """``IsComplete: True`` once the consumer is ACTIVE (and at once for Delete); ``False`` while
    it is CREATING or not yet visible.

    Raises:
        ConsumerNotActivatingError: the consumer is in any other status (DELETING).
    """
    if event["RequestType"] == "Delete":
        return {"IsComplete": True}
    arn = consumer_arn(event)
    status = consumer_status(client if client is not None else kinesis_client(), arn)
    log.info("consumer %s is %s", arn, status)
    if status == ACTIVE:
        return {"IsComplete": True, "Data": {"ConsumerStatus": ACTIVE}}
    if status is None or status == CREATING:
        return {"IsComplete": False}
    raise ConsumerNotActivatingError(
        f"The stream consumer {arn} is {status}, not {CREATING}: it will never become {ACTIVE}, so its "
        "resource policy cannot be attached. Check who deregistered it, then deploy again."
    )

"""What the library sets on every event source mapping it builds, after ``build_event_source_mapping``
(so an override of that hook keeps it): the key that encrypts the mapping's filter criteria
(``KmsKeyArn``, with the key policy Lambda needs), and no ``Tags`` where the stack's partition or
region rejects them (:data:`~cdk_event_pipeline._defaults.ESM_TAGS_REJECTED_IN`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import cache
from typing import Any, TypeGuard

from aws_cdk import Annotations, ArnFormat, Stack, Token
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from .. import _defaults as d
from .._accounts import statement_json
from .._validation import PipelineValidationError

#: What Lambda itself does with a filter-criteria key, and what the principal that creates or updates
#: the mapping (here: the CloudFormation deployment) needs through Lambda (AWS Lambda developer guide,
#: "Control which events Lambda sends to your function", section "Encryption of filter criteria",
#: https://docs.aws.amazon.com/lambda/latest/dg/invocation-eventfiltering.html#filter-criteria-encryption):
#: ``kms:Decrypt`` "must be granted to the regional Lambda service principal"; the principal that uses
#: the key gets ``kms:Decrypt``, ``kms:DescribeKey`` and ``kms:GenerateDataKey`` (envelope encryption
#: of the filter criteria on its behalf), limited to requests from Lambda with ``kms:ViaService``.
FILTER_KEY_LAMBDA_ACTIONS = ("kms:Decrypt",)
FILTER_KEY_DEPLOYER_ACTIONS = ("kms:Decrypt", "kms:DescribeKey", "kms:GenerateDataKey")
#: The filter-criteria key is not a ``kms.Key`` of this app: its owner must add the statements.
FILTER_KEY_POLICY_WARNING = "cdk-event-pipeline:FilterKeyPolicyNotWritten"


def has_filters(filters: Sequence[Mapping[str, Any]] | None) -> TypeGuard[Sequence[Mapping[str, Any]]]:
    """The mapping has filter criteria (an empty list is none)."""
    return filters is not None and len(filters) > 0


def check_filter_encryption_key(filters: Sequence[Mapping[str, Any]] | None, key: kms.IKey | None) -> None:
    """``filter_encryption_key`` only together with filters: Lambda encrypts nothing else with it."""
    if key is None or has_filters(filters):
        return
    given = "an empty filters list" if filters is not None else "no filters"
    raise PipelineValidationError(
        f"filter_encryption_key is only valid with filters (given the key {key.node.path} and {given}): "
        "Lambda uses the key to encrypt the mapping's filter criteria and nothing else; pass filters=, "
        "or drop filter_encryption_key"
    )


def filter_key_of(
    filters: Sequence[Mapping[str, Any]] | None, given: kms.IKey | None, source_key: kms.IKey | None
) -> kms.IKey | None:
    """The key of a mapping's filter criteria: none without filters; the given key; else the source's
    customer key when it is a ``kms.Key`` of this app (its policy can be written); else none (Lambda's
    default: filter criteria encrypted with a key AWS owns,
    "Data encryption at rest for AWS Lambda", https://docs.aws.amazon.com/lambda/latest/dg/security-encryption-at-rest.html)."""
    if not has_filters(filters):
        return None
    if given is not None:
        return given
    return source_key if isinstance(source_key, kms.Key) else None


def lambda_service(stack: Stack) -> str:
    """The regional Lambda service principal of ``stack``'s region, ``lambda.<region>.<domain>``: the
    domain is ``AWS::URLSuffix`` (``amazonaws.com``; ``amazonaws.com.cn`` in China), the region a token
    in an environment-agnostic stack."""
    return f"lambda.{stack.region}.{stack.url_suffix}"


def filter_key_statements(mapping_scope: Construct) -> list[iam.PolicyStatement]:
    """The key-policy statements for the filter criteria of the mappings of ``mapping_scope``'s stack.

    AWS's example conditions Lambda's statement on the mapping's exact ARN (``aws:SourceArn``) and on
    the encryption context's ``aws:lambda:FunctionArn`` and ``aws:lambda:EventSourceArn``; the guide
    adds that the mapping's ARN can be added "only after you know its ARN". In one template each of the
    three would be a circular dependency (the mapping names the key; the source's key is the stream's
    or queue's own, and the function's role holds a grant on it), so Lambda's statement is bounded to
    the event source mappings of the consumer's account and region (``ArnLike`` on ``aws:SourceArn``,
    the confused-deputy guard the guide names). The deployer's statement names the mapping's account
    (its IAM decides which role deploys) through Lambda only (``kms:ViaService``)."""
    stack = Stack.of(mapping_scope)
    service = lambda_service(stack)
    mappings = stack.format_arn(
        service="lambda", resource="event-source-mapping", resource_name="*",
        arn_format=ArnFormat.COLON_RESOURCE_NAME,
    )
    return [
        iam.PolicyStatement(
            principals=[iam.ServicePrincipal(service)], actions=list(FILTER_KEY_LAMBDA_ACTIONS), resources=["*"],
            conditions={"ArnLike": {"aws:SourceArn": mappings}},
        ),
        iam.PolicyStatement(
            principals=[iam.AccountPrincipal(stack.account)], actions=list(FILTER_KEY_DEPLOYER_ACTIONS),
            resources=["*"], conditions={"StringEquals": {"kms:ViaService": service}},
        ),
    ]


def encrypt_filters(owner: Construct, mapping: lambda_.EventSourceMapping, key: kms.IKey) -> None:
    """``KmsKeyArn`` on the mapping's L1 and the key policy of :func:`filter_key_statements`.

    On the L1: aws-cdk-lib 2.275's ``filter_encryption`` prop grants ``kms:Decrypt`` to the global
    ``lambda.amazonaws.com`` with no condition, which lets Lambda decrypt with the key on behalf of any
    account's mapping (the cross-service confused deputy the guide guards against)."""
    cfn = mapping.node.default_child
    assert isinstance(cfn, lambda_.CfnEventSourceMapping)
    cfn.kms_key_arn = key.key_arn
    statements = filter_key_statements(mapping)
    missing = [s for s in statements if not key.add_to_resource_policy(s).statement_added]
    if missing:
        Annotations.of(owner).add_warning_v2(
            FILTER_KEY_POLICY_WARNING,
            f"The key {key.key_arn} that encrypts this mapping's filter criteria is not a kms.Key of this app: "
            "its key policy cannot be changed from here, and without these statements the mapping cannot be "
            "created or polled. Its owner must add: "
            + "; ".join(statement_json(s, owner) for s in missing),
        )


#: The partitions :data:`~cdk_event_pipeline._defaults.ESM_TAGS_REJECTED_IN` names, by the prefix of
#: their regions' names (AWS Regions: cn-north-1, cn-northwest-1; us-gov-west-1, us-gov-east-1).
_PARTITION_BY_REGION_PREFIX = {"cn-": "aws-cn", "us-gov-": "aws-us-gov"}


@cache
def rejects_tags(region: str) -> bool:
    """``region`` (or its partition) rejects Tags on an event source mapping."""
    partition = next((p for prefix, p in _PARTITION_BY_REGION_PREFIX.items() if region.startswith(prefix)), "aws")
    return region in d.ESM_TAGS_REJECTED_IN or partition in d.ESM_TAGS_REJECTED_IN


def untag_where_rejected(mapping: lambda_.EventSourceMapping) -> None:
    """Drop ``Tags`` from the mapping's template when its stack's region rejects them (a property
    deletion override: applied after every tag is rendered, costs nothing at synth, no aspect). An
    environment-agnostic stack (region unresolved) keeps them."""
    region = Stack.of(mapping).region
    if Token.is_unresolved(region) or not rejects_tags(region):
        return
    cfn = mapping.node.default_child
    assert isinstance(cfn, lambda_.CfnEventSourceMapping)
    cfn.add_property_deletion_override("Tags")

"""``EventPipelineChecks``: the pack, registered with ``Validations.of(app).add_plugins(...)``."""

from __future__ import annotations

from typing import cast

import aws_cdk as cdk
import cdk_nag
from constructs import IConstruct

from ._mapping import Mapping
from ._rule import PACK_NAME, AppliedRule, NagRule, outcome_of, reports_finding
from ._template import TemplateCache
from .filter_rules import FILTER_RULES
from .sqs_rules import SQS_RULES
from .stream_rules import STREAM_RULES

EVENT_SOURCE_MAPPING = "AWS::Lambda::EventSourceMapping"

#: Every rule of the pack, in the order they are applied to each mapping.
ALL_RULES: tuple[NagRule, ...] = (*STREAM_RULES, *SQS_RULES, *FILTER_RULES)


#: The resource type of each L1 class met, read once per class (``CFN_RESOURCE_TYPE_NAME``); None for
#: the generic ``CfnResource`` and any class without one, whose type is read from the resource.
_TYPE_OF_CLASS: dict[type, str | None] = {}


def resource_type(node: cdk.CfnResource) -> str:
    """The resource's CloudFormation type. A generated L1 class (``CfnEventSourceMapping``,
    ``CfnQueue``, ...) makes resources of one type only, so its type is read once per class; a
    plain ``CfnResource`` is asked each time."""
    cls = type(node)
    if cls not in _TYPE_OF_CLASS:
        known = None if cls is cdk.CfnResource else getattr(cls, "CFN_RESOURCE_TYPE_NAME", None)
        _TYPE_OF_CLASS[cls] = known if isinstance(known, str) else None
    known_type = _TYPE_OF_CLASS[cls]
    return known_type if known_type is not None else node.cfn_resource_type


class EventPipelineChecks(cdk_nag.NagPack):
    """Checks every ``AWS::Lambda::EventSourceMapping`` of the app for the settings that lose or block
    records (errors) or only cost duplicates (warnings). See :data:`ALL_RULES` for the rules.

    Values the template does not hold as literals (imported queues, parameters, references to other
    stacks) never make a finding: the rule is then not applicable.

    Args:
        scope: The app (as for cdk-nag's own packs).
        verbose: cdk-nag's extended messages. Default: False.
    """

    def __init__(self, scope: IConstruct | None = None, *, verbose: bool | None = None) -> None:
        super().__init__(scope, verbose=verbose)
        self._pack_name = PACK_NAME
        self._templates = TemplateCache()

    @property
    def name(self) -> str:
        return PACK_NAME

    def _check_resource(self, node: cdk.CfnResource) -> None:
        # cdk-nag calls this for every CfnResource of the app: keep the common case free of jsii
        # round trips, and hand cdk-nag only the rules that have something to report (issue 19).
        if resource_type(node) != EVENT_SOURCE_MAPPING:
            return
        mapping = self._mapping(node)
        for rule in ALL_RULES:
            outcome = outcome_of(rule, mapping)
            if reports_finding(outcome):
                # jsii's IApplyRule protocol declares settable fields; the pack only reads them.
                self._apply_rule(cast(cdk_nag.IApplyRule, AppliedRule(rule, node, outcome)))

    def _mapping(self, node: cdk.CfnResource) -> Mapping | None:
        """The mapping as it is in its stack's template, or None before synthesis wrote the template."""
        stack = cdk.Stack.of(node)
        template = self._templates.of(stack)
        resource = template.resource(stack.get_logical_id(node)) if template is not None else None
        if template is None or resource is None:
            return None
        return Mapping.of(resource.get("Properties", {}), template)

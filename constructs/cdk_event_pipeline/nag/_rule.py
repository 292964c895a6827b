"""A rule of the pack and the adapter that hands it to cdk-nag's ``applyRule``."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import aws_cdk as cdk
import cdk_nag
import jsii

from ._mapping import Mapping

#: The pack's name: rule ids are ``EventPipeline-<Suffix>``; acknowledgments carry the plugin
#: prefix too: ``EventPipeline::EventPipeline-<Suffix>``.
PACK_NAME = "EventPipeline"

#: A rule's check: True compliant, False non-compliant, None not applicable (or unknown).
Check = Callable[[Mapping], "bool | None"]


@dataclass(frozen=True)
class NagRule:
    """One rule: its id suffix, level, the fix (``info``), why, with the AWS page (``explanation``)."""

    suffix: str
    level: cdk_nag.NagMessageLevel
    info: str
    explanation: str
    check: Check

    @property
    def rule_id(self) -> str:
        return f"{PACK_NAME}-{self.suffix}"


def compliance(result: bool | None) -> cdk_nag.NagRuleCompliance:
    if result is None:
        return cdk_nag.NagRuleCompliance.NOT_APPLICABLE
    return cdk_nag.NagRuleCompliance.COMPLIANT if result else cdk_nag.NagRuleCompliance.NON_COMPLIANT


@jsii.implements(cdk_nag.IApplyRule)
class AppliedRule:
    """``IApplyRule`` for one rule on one mapping. jsii reads the fields through properties (plain
    instance attributes are invisible to it), and the rule id comes from ``ruleSuffixOverride``
    (the name of a Python callback is not the rule's name on the JavaScript side)."""

    def __init__(self, rule: NagRule, node: cdk.CfnResource, mapping: Mapping | None) -> None:
        self._rule = rule
        self._node = node
        self._mapping = mapping

    @property
    def rule_suffix_override(self) -> str:
        return self._rule.suffix

    @property
    def info(self) -> str:
        return self._rule.info

    @property
    def explanation(self) -> str:
        return self._rule.explanation

    @property
    def level(self) -> cdk_nag.NagMessageLevel:
        return self._rule.level

    @property
    def node(self) -> cdk.CfnResource:
        return self._node

    def rule(self, node: cdk.CfnResource) -> cdk_nag.NagRuleCompliance:
        if self._mapping is None:
            return cdk_nag.NagRuleCompliance.NOT_APPLICABLE
        return compliance(self._rule.check(self._mapping))

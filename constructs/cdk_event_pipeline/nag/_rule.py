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


#: What a rule's check gave on one mapping: its compliance, or the exception it raised.
Outcome = cdk_nag.NagRuleCompliance | Exception


def outcome_of(rule: NagRule, mapping: Mapping | None) -> Outcome:
    """The rule's outcome on ``mapping`` (not applicable before synthesis wrote the template)."""
    if mapping is None:
        return cdk_nag.NagRuleCompliance.NOT_APPLICABLE
    try:
        return compliance(rule.check(mapping))
    except Exception as error:  # noqa: BLE001 - cdk-nag reports a rule that raises as a finding
        return error


def reports_finding(outcome: Outcome) -> bool:
    """Whether cdk-nag's ``applyRule`` records anything for this outcome: only a non-compliant
    result or an exception (nag-pack.js of cdk-nag 3.0.2, ``applyRule``); a compliant or
    not-applicable rule leaves no trace in the report, so the pack need not hand it over."""
    return isinstance(outcome, Exception) or outcome == cdk_nag.NagRuleCompliance.NON_COMPLIANT


@jsii.implements(cdk_nag.IApplyRule)
class AppliedRule:
    """``IApplyRule`` for one rule on one mapping, its outcome computed in Python beforehand. jsii
    reads the fields through properties (plain instance attributes are invisible to it), and the
    rule id comes from ``ruleSuffixOverride`` (the name of a Python callback is not the rule's name
    on the JavaScript side)."""

    def __init__(self, rule: NagRule, node: cdk.CfnResource, outcome: Outcome) -> None:
        self._rule = rule
        self._node = node
        self._outcome = outcome

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
        if isinstance(self._outcome, Exception):
            raise self._outcome
        return self._outcome

"""What a template snapshot holds: the synthesized template less what differs between machines and runs.

Removed or replaced (each changes without any change to the deployed infrastructure):

* **asset hashes** (64 hex digits: a Lambda function's ``Code.S3Key``, a layer's ``Content.S3Key``, a
  nested stack's template URL, ...) change whenever a handler file changes. Each distinct hash becomes
  ``<asset:LOGICAL_ID>``, named after the first resource (by logical id) whose properties use it, so the
  snapshot still tells assets apart and shows which resources share one;
* **asset metadata** (``aws:asset:*`` keys of a resource's ``Metadata``: the asset's staging path) and the
  path metadata (``aws:cdk:path``, on only when the app sets ``aws:cdk:enable-path-metadata``, as the CLI
  does);
* **CDK metadata**: the ``AWS::CDK::Metadata`` resource (the CDK version and the constructs used,
  compressed) and its ``CDKMetadataAvailable`` condition;
* **the bootstrap-version check**: the ``BootstrapVersion`` parameter and the ``CheckBootstrapVersion``
  rule (the same in every stack, and a new CDK version may change them).

Everything else is kept, logical ids included (they derive from construct paths, not from content), and
keys are sorted, so a diff of two snapshots shows exactly the properties that changed.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Mapping
from typing import Any

#: How a 64-hex asset hash is shown: ``<asset:LOGICAL_ID>``.
ASSET_PLACEHOLDER = "<asset:{owner}>"
_ASSET_HASH = re.compile(r"(?<![0-9a-f])[0-9a-f]{64}(?![0-9a-f])")
_CDK_METADATA_TYPE = "AWS::CDK::Metadata"
_VOLATILE_METADATA_PREFIXES = ("aws:asset:", "aws:cdk:path")


def template_of(template: Any) -> dict[str, Any]:
    """The template dict of an ``aws_cdk.assertions.Template``, a ``cdk.Stack`` or a template dict.

    A stack is synthesized with ``Template.from_stack`` (so its app's validations run as they would in a
    user's test). The result is a deep copy: normalizing never changes the caller's object.
    """
    if isinstance(template, Mapping):
        return copy.deepcopy(dict(template))
    to_json = getattr(template, "to_json", None)
    if callable(to_json):  # aws_cdk.assertions.Template
        return copy.deepcopy(dict(to_json()))
    from aws_cdk import Stack, assertions  # noqa: PLC0415 - only a stack needs aws_cdk

    if isinstance(template, Stack):
        return copy.deepcopy(dict(assertions.Template.from_stack(template).to_json()))
    raise TypeError(
        "normalize_template takes an aws_cdk.assertions.Template, a cdk.Stack or a template dict "
        f"(given {type(template).__name__})"
    )


def normalize_template(template: Any) -> dict[str, Any]:
    """The stable, reviewable form of ``template`` (a Template, a Stack or a dict): see the module."""
    normalized = template_of(template)
    _drop_cdk_metadata(normalized)
    _drop_bootstrap_version(normalized)
    _drop_volatile_metadata(normalized)
    return _name_asset_hashes(normalized)


def _drop_cdk_metadata(template: dict[str, Any]) -> None:
    resources = template.get("Resources", {})
    for logical_id in [k for k, v in resources.items() if isinstance(v, dict) and v.get("Type") == _CDK_METADATA_TYPE]:
        del resources[logical_id]
    _drop_key(template, "Conditions", "CDKMetadataAvailable")


def _drop_bootstrap_version(template: dict[str, Any]) -> None:
    _drop_key(template, "Parameters", "BootstrapVersion")
    _drop_key(template, "Rules", "CheckBootstrapVersion")


def _drop_key(template: dict[str, Any], section: str, key: str) -> None:
    entries = template.get(section)
    if isinstance(entries, dict):
        entries.pop(key, None)
        if not entries:
            del template[section]


def _drop_volatile_metadata(template: dict[str, Any]) -> None:
    for resource in template.get("Resources", {}).values():
        metadata = resource.get("Metadata") if isinstance(resource, dict) else None
        if not isinstance(metadata, dict):
            continue
        for key in [k for k in metadata if k.startswith(_VOLATILE_METADATA_PREFIXES)]:
            del metadata[key]
        if not metadata:
            del resource["Metadata"]


def _name_asset_hashes(template: dict[str, Any]) -> dict[str, Any]:
    owners: dict[str, str] = {}
    for logical_id in sorted(template.get("Resources", {})):
        text = json.dumps(template["Resources"][logical_id], sort_keys=True)
        for digest in _ASSET_HASH.findall(text):
            owners.setdefault(digest, logical_id)
    text = json.dumps(template, sort_keys=True)
    text = _ASSET_HASH.sub(lambda m: ASSET_PLACEHOLDER.format(owner=owners.get(m.group(0), "unknown")), text)
    result: dict[str, Any] = json.loads(text)
    return result

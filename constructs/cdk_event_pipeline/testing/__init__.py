"""Testing kit for stacks built with (or without) the library: stable template snapshots.

* :func:`normalize_template` turns a synthesized template into what a snapshot should hold: the same
  on every machine, Python version and handler edit, different whenever a property changes.
* :class:`TemplateSnapshotExtension` (needs syrupy) is syrupy's JSON extension applied to a normalized
  template; the pytest fixture ``template_snapshot`` is ``snapshot.use_extension(TemplateSnapshotExtension)``
  and is registered automatically (entry point ``pytest11``) once syrupy is installed::

      def test_stack_snapshot(template_snapshot):
          app = cdk.App()
          stack = MyStack(app, "MyStack")
          assert stack == template_snapshot      # a Stack, an assertions.Template or a template dict

The names are imported lazily (PEP 562): importing this package imports neither aws_cdk nor syrupy.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_EXPORTS = {
    "normalize_template": ".normalize",
    "template_of": ".normalize",
    "ASSET_PLACEHOLDER": ".normalize",
    "TemplateSnapshotExtension": ".snapshot",
}

__all__ = sorted(_EXPORTS)

if TYPE_CHECKING:
    from .normalize import ASSET_PLACEHOLDER as ASSET_PLACEHOLDER
    from .normalize import normalize_template as normalize_template
    from .normalize import template_of as template_of
    from .snapshot import TemplateSnapshotExtension as TemplateSnapshotExtension


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'cdk_event_pipeline.testing' has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))

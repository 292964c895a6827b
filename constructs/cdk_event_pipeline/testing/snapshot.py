"""syrupy's JSON snapshot extension for CloudFormation templates (needs syrupy: ``pip install syrupy``)."""

from __future__ import annotations

from typing import Any

from syrupy.extensions.json import JSONSnapshotExtension

from .normalize import normalize_template


class TemplateSnapshotExtension(JSONSnapshotExtension):
    """Snapshots an ``assertions.Template``, a ``cdk.Stack`` or a template dict as its
    :func:`~cdk_event_pipeline.testing.normalize_template` form, one ``.json`` file per test.

    Example::

        def test_snapshot(snapshot):
            assert Template.from_stack(stack) == snapshot.use_extension(TemplateSnapshotExtension)

    or, with the ``template_snapshot`` fixture, ``assert stack == template_snapshot``.
    """

    def serialize(self, data: Any, **kwargs: Any) -> Any:
        """The normalized template, as syrupy's JSON extension writes it (keys sorted)."""
        return super().serialize(normalize_template(data), **kwargs)

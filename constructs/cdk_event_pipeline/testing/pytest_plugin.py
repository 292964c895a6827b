"""The ``template_snapshot`` pytest fixture, registered for every project with the package installed
(entry point ``pytest11``). It needs syrupy; without it the fixture fails with one line naming it.

This module imports neither syrupy nor aws_cdk: pytest loads it in every session.
"""

from __future__ import annotations

from typing import Any

import pytest


@pytest.fixture
def template_snapshot(request: pytest.FixtureRequest) -> Any:
    """syrupy's ``snapshot`` with :class:`~cdk_event_pipeline.testing.TemplateSnapshotExtension`:
    ``assert stack == template_snapshot`` (a Stack, an assertions.Template or a template dict)."""
    try:
        from .snapshot import TemplateSnapshotExtension  # noqa: PLC0415
    except ImportError:
        pytest.fail("template_snapshot needs syrupy: pip install syrupy", pytrace=False)
    return request.getfixturevalue("snapshot").use_extension(TemplateSnapshotExtension)

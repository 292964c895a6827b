"""``python -m cdk_event_pipeline.tools``: the ``event-pipeline`` console script.

The console script (:mod:`cdk_event_pipeline.cli`) sits above this package: importing it from here
is the one upward edge of a script module, named in pyproject's ``[tool.importlinter]``.
"""

from __future__ import annotations

import sys

from ..cli import main

sys.exit(main())

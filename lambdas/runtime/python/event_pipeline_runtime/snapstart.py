"""What the runtime redoes after a Lambda SnapStart restore.

With SnapStart (``snap_start=True`` on the constructs), Lambda runs the function's init code once,
when a version is published, snapshots the memory, and resumes every new execution environment from
that snapshot. Whatever init made is then shared by all of them and is as old as the snapshot
("Handling uniqueness with Lambda SnapStart",
https://docs.aws.amazon.com/lambda/latest/dg/snapstart-uniqueness.html):

* **pseudo-randomness**: the ``random`` module's state is identical in every restored
  environment, so the producer's backoff jitter (``random.random``) would make every environment
  retry at the same instants. The hook reseeds it from the OS (``random.seed()``). Event ids are
  ``uuid4`` values, drawn from ``os.urandom`` when the event is made, never at init.
* **network connections and credentials**: boto3 clients made at init (an
  :class:`~event_pipeline_runtime.EventProducer` at module level, the idempotency layer's
  DynamoDB client) hold connections and credentials from the snapshot. The hook makes them make
  new clients; clients you injected yourself are yours to refresh.

The hook is registered with the Snapshot Restore for Python library that Lambda's Python runtimes
include (``snapshot_restore_py.register_after_restore``, "Lambda SnapStart runtime hooks for
Python", https://docs.aws.amazon.com/lambda/latest/dg/snapstart-runtime-hooks-python.html), and
only when the function initializes for SnapStart (``AWS_LAMBDA_INITIALIZATION_TYPE`` is
``snap-start``). After-restore hooks run in registration order and must finish within Lambda's
10-second restore limit; these only reseed and drop references.

Your handler module can register its own hook the same way, or with :func:`on_restore`.
"""

from __future__ import annotations

import os
import random
from collections.abc import Callable
from typing import Any

__all__ = ["INITIALIZATION_TYPE_ENV", "SNAP_START", "after_restore", "install", "on_restore"]

INITIALIZATION_TYPE_ENV = "AWS_LAMBDA_INITIALIZATION_TYPE"
"""Set by Lambda during init: ``on-demand``, ``provisioned-concurrency`` or ``snap-start``."""
SNAP_START = "snap-start"

_hooks: list[Callable[[], Any]] = []
_installed = False


def on_restore(hook: Callable[[], Any]) -> Callable[[], Any]:
    """Run ``hook`` after a SnapStart restore, after the runtime's own refresh (usable as a decorator)."""
    _hooks.append(hook)
    return hook


def after_restore() -> None:
    """The runtime's after-restore hook: reseed ``random``, drop boto3 clients made at init, then
    run the hooks registered with :func:`on_restore`."""
    random.seed()
    from event_pipeline_runtime.producer import refresh_after_restore  # noqa: PLC0415 - avoids an import cycle

    refresh_after_restore()
    for hook in list(_hooks):
        hook()


def install(*, force: bool = False) -> bool:
    """Register :func:`after_restore` with Lambda's runtime hooks, once.

    Args:
        force: Register even outside a SnapStart init (tests). Default: False.

    Returns:
        Whether the hook is registered (False outside SnapStart or without ``snapshot_restore_py``).
    """
    global _installed  # noqa: PLW0603 - one registration per process
    if _installed:
        return True
    if not force and os.environ.get(INITIALIZATION_TYPE_ENV) != SNAP_START:
        return False
    try:
        from snapshot_restore_py import register_after_restore  # noqa: PLC0415
    except ImportError:
        return False
    register_after_restore(after_restore)
    _installed = True
    return True

"""Load a Lambda function's handler in this process from its asset directory and layers.

Each function gets its own module namespace: the top-level modules found in its code
directory and its layers' ``python/`` directories are imported with those directories first on
``sys.path`` (like ``/var/task`` and ``/opt/python``), then moved out of ``sys.modules`` into
the function's own table, so two functions may ship different modules of the same name (or
different versions of the runtime layer). While a function runs, its modules and paths are put
back, and its environment variables (template values resolved to local names, plus
``AWS_LAMBDA_FUNCTION_NAME`` and the endpoint) are set. Calls are serialized by a lock.

Layers AWS publishes (Powertools) are not in the assembly: the installed
``aws_lambda_powertools`` stands in for them. Any other external layer is reported missing.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import sys
import threading
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

_LOCK = threading.RLock()
#: External layers the installed packages stand in for (substring of the layer ARN).
KNOWN_EXTERNAL_LAYERS = {"AWSLambdaPowertoolsPython": "aws_lambda_powertools"}


@dataclass
class LocalContext:
    """The Lambda context object handed to handlers."""

    function_name: str
    invoked_function_arn: str
    memory_limit_in_mb: int = 128
    timeout_seconds: float = 3.0
    function_version: str = "$LATEST"
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))

    def __post_init__(self) -> None:
        self.log_group_name = f"/aws/lambda/{self.function_name}"
        self.log_stream_name = "event-pipeline-local"
        self._deadline = time.monotonic() + self.timeout_seconds

    def get_remaining_time_in_millis(self) -> int:
        """Milliseconds before the function's timeout."""
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def _top_level_names(directory: Path) -> set[str]:
    names: set[str] = set()
    if not directory.is_dir():
        return names
    for child in directory.iterdir():
        if child.suffix == ".py":
            names.add(child.stem)
        elif child.is_dir() and child.name.isidentifier():
            names.add(child.name)
    return names


@contextlib.contextmanager
def _environment(values: Mapping[str, str]) -> Iterator[None]:
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, old in saved.items():
            if old is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = old


class LocalFunction:
    """A handler loaded from a code directory and layer directories.

    Args:
        logical_id: Template logical id.
        name: Local function name.
        arn: Local function ARN.
        handler: ``module.function`` (module may be dotted).
        code_dir: The function's code (asset) directory.
        layer_dirs: Directories to put on ``sys.path`` after the code (layers' ``python/``).
        environment: Environment variables while the handler is imported and runs.
        timeout_seconds: The function's timeout (for the context only).
        memory_mb: The function's memory (for the context only).
    """

    def __init__(
        self,
        logical_id: str,
        name: str,
        arn: str,
        handler: str,
        code_dir: Path,
        layer_dirs: Sequence[Path] = (),
        environment: Mapping[str, str] | None = None,
        *,
        timeout_seconds: float = 3.0,
        memory_mb: int = 128,
    ) -> None:
        self.logical_id = logical_id
        self.name = name
        self.arn = arn
        self.handler_spec = handler
        self.paths = [str(code_dir), *(str(p) for p in layer_dirs)]
        self.environment = dict(environment or {})
        self.environment.setdefault("AWS_LAMBDA_FUNCTION_NAME", name)
        self.environment.setdefault("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", str(memory_mb))
        self.timeout_seconds = timeout_seconds
        self.memory_mb = memory_mb
        self._names: set[str] = set()
        for path in self.paths:
            self._names |= _top_level_names(Path(path))
        self.modules: dict[str, ModuleType] = {}
        self._handler: Any = None
        self.wrappers: list[Any] = []

    def _owned(self, name: str) -> bool:
        return name.split(".", 1)[0] in self._names

    @contextlib.contextmanager
    def activated(self) -> Iterator[None]:
        """The function's modules, paths and environment in place (nothing else may run)."""
        with _LOCK:
            saved = {k: sys.modules.pop(k) for k in list(sys.modules) if self._owned(k)}
            sys.modules.update(self.modules)
            old_path = list(sys.path)
            sys.path[:0] = self.paths
            try:
                with _environment(self.environment):
                    yield
            finally:
                self.modules = {k: sys.modules.pop(k) for k in list(sys.modules) if self._owned(k)}
                sys.modules.update(saved)
                sys.path[:] = old_path

    def load(self) -> LocalFunction:
        """Import the handler (once)."""
        if self._handler is not None:
            return self
        module_name, _, attr = self.handler_spec.rpartition(".")
        module_name = module_name.replace("/", ".")
        with self.activated():
            module = importlib.import_module(module_name)
            handler = getattr(module, attr, None)
        if not callable(handler):
            raise AttributeError(f"{self.logical_id}: handler {attr!r} not found in {module_name}")
        self._handler = handler
        return self

    @property
    def module(self) -> ModuleType:
        """The handler's module (its own copy)."""
        self.load()
        return self.modules[self.handler_spec.rpartition(".")[0].replace("/", ".")]

    def invoke(self, event: dict[str, Any]) -> Any:
        """Call the handler like Lambda would (exceptions propagate: a function error).

        Functions registered in :attr:`wrappers` (``wrapper(event, call) -> response``) run
        around the handler: the runner's fault injection uses them.
        """
        self.load()
        context = LocalContext(self.name, self.arn, self.memory_mb, self.timeout_seconds)

        def base(evt: dict[str, Any]) -> Any:
            with self.activated():
                return self._handler(evt, context)

        call = base
        for wrapper in self.wrappers:
            call = (lambda w, inner: (lambda evt: w(evt, inner)))(wrapper, call)
        return call(event)

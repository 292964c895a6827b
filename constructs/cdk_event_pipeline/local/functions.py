"""Load a Lambda function's handler in this process and invoke it the way Lambda does.

Each function gets its own module namespace: the top-level modules found in its code
directory and its layers' ``python/`` directories are imported with those directories first on
``sys.path`` (like ``/var/task`` and ``/opt/python``), then moved out of ``sys.modules`` into
the function's own table, so two functions may ship different modules of the same name (or
different versions of the runtime layer). While a function runs, its modules and paths are put
back, and its environment variables (template values resolved to local names, the endpoint,
the credentials Lambda would provide) are set. One function runs at a time.

**Invocation** (:meth:`LocalFunction.run`). The handler runs in the function's own thread (one
per function, reused by every invocation, as a Lambda execution environment runs its
invocations one after another in one runtime process) while the runner waits for it up to the
function's ``Timeout``, as Lambda does:

* Returning is a success. Raising *anything*, including ``SystemExit`` (``sys.exit()``) and
  ``KeyboardInterrupt`` raised by the handler's own code, is a function error (Lambda reports a
  runtime exit as ``Runtime.ExitError``). A Ctrl-C from the user reaches the runner's thread,
  not the handler's, and stops the runner.
* Not returning within ``Timeout`` seconds is a function error ``Sandbox.Timedout``, message
  ``Task timed out after N.NN seconds`` (Lambda's wording, see "Troubleshoot invocation issues
  in Lambda"). Python cannot kill a thread: the runner raises an exception in the handler's
  thread (it takes effect at the handler's next Python instruction; ``except Exception`` does
  not catch it) and waits up to :data:`STOP_GRACE_SECONDS` for the thread to end before it
  runs anything else. A handler blocked in one long C call (``time.sleep(600)``, a socket read
  with no timeout) cannot be stopped: the runner then raises :class:`HandlerStuckError`.
* A handler whose module fails to import fails every invocation with
  ``Runtime.ImportModuleError`` (Lambda's init-phase error), like a deployed function would.

Layers AWS publishes (Powertools) are not in the assembly: the installed
``aws_lambda_powertools`` stands in for them. Any other external layer is reported missing.
"""

from __future__ import annotations

import contextlib
import ctypes
import importlib
import os
import queue
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

_LOCK = threading.RLock()
#: External layers the installed packages stand in for (substring of the layer ARN).
KNOWN_EXTERNAL_LAYERS = {"AWSLambdaPowertoolsPython": "aws_lambda_powertools"}
#: Seconds a timed-out handler's thread gets to stop before the runner gives up on it.
STOP_GRACE_SECONDS = 10.0
#: Lambda's error types for the failures the runner produces itself.
TIMEOUT_ERROR = "Sandbox.Timedout"
EXIT_ERROR = "Runtime.ExitError"
IMPORT_ERROR = "Runtime.ImportModuleError"


class HandlerStuckError(RuntimeError):
    """A timed-out handler did not stop: the runner cannot safely run anything else."""


class FunctionError(Exception):
    """A function invocation failed (raised by :meth:`LocalFunction.invoke`).

    Attributes:
        invocation: What happened.
    """

    def __init__(self, invocation: Invocation) -> None:
        super().__init__(invocation.error)
        self.invocation = invocation


class _StopHandler(BaseException):
    """Raised inside a handler's thread to stop it (timeout or Ctrl-C); never caught by ``except Exception``."""


class _Worker:
    """A function's thread: runs the jobs it is given, one at a time, until closed."""

    def __init__(self, name: str) -> None:
        self.jobs: queue.SimpleQueue[Callable[[], None] | None] = queue.SimpleQueue()
        self.thread = threading.Thread(target=self._loop, name=name, daemon=True)
        self.thread.start()

    def _loop(self) -> None:
        while True:
            try:
                job = self.jobs.get()
                if job is None:
                    return
                job()
            except _StopHandler:  # a stop that arrived just after its job ended: nothing to stop
                continue

    def close(self) -> None:
        self.jobs.put(None)


@dataclass
class Invocation:
    """One call of a handler.

    Attributes:
        response: What the handler returned (None on error).
        error: One line: ``ErrorType: message`` (and where it was raised), or None.
        error_type: Lambda's ``errorType`` (the exception class name, ``Sandbox.Timedout``, ...).
        duration: Seconds the call took (the function's timeout when it timed out).
        timed_out: The call did not return within the function's timeout.
        request_id: The invocation's request id (``context.aws_request_id``).
    """

    response: Any = None
    error: str | None = None
    error_type: str | None = None
    duration: float = 0.0
    timed_out: bool = False
    request_id: str = ""

    @property
    def ok(self) -> bool:
        """The handler returned."""
        return self.error is None


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


#: Longest single wait for a handler: the runner's thread wakes at least this often, so a Ctrl-C
#: that did not interrupt the wait itself (one raised by ``_thread.interrupt_main``) is seen.
WAIT_SLICE_SECONDS = 0.05


def _wait(done: threading.Event, deadline: float) -> bool:
    """Wait until ``done`` is set (True) or ``time.perf_counter()`` reaches ``deadline`` (False)."""
    while True:
        remaining = deadline - time.perf_counter()
        if remaining <= 0:
            return done.is_set()
        if done.wait(min(remaining, WAIT_SLICE_SECONDS)):
            return True


def _raise_in(thread: threading.Thread, exc_type: type[BaseException]) -> None:
    """Raise ``exc_type`` in ``thread`` at its next Python instruction (CPython's async exception)."""
    if thread.ident is not None and thread.is_alive():
        ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread.ident), ctypes.py_object(exc_type))


def _where(exc: BaseException) -> str:
    frames = traceback.extract_tb(exc.__traceback__)[-1:] if exc.__traceback__ else []
    return f" at {frames[0].filename.rsplit('/', 1)[-1]}:{frames[0].lineno}" if frames else ""


def describe_error(exc: BaseException, request_id: str = "") -> tuple[str, str]:
    """(errorType, one-line message) for an exception raised by a handler, as Lambda names it."""
    if isinstance(exc, SystemExit):
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        return EXIT_ERROR, f"RequestId: {request_id} Error: Runtime exited with error: exit status {code}"
    return type(exc).__name__, f"{type(exc).__name__}: {exc}{_where(exc)}"


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
        timeout_seconds: The function's timeout (enforced, see the module docstring).
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
        self.environment.setdefault("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        self.timeout_seconds = timeout_seconds
        self.memory_mb = memory_mb
        self._names: set[str] = set()
        for path in self.paths:
            self._names |= _top_level_names(Path(path))
        self._packages = tuple(f"{name}." for name in sorted(self._names))
        self._foreign: set[str] = set()  # names in sys.modules that are not the function's modules
        self.modules: dict[str, ModuleType] = {}
        self._handler: Any = None
        self.import_error: str | None = None
        #: ``wrapper(event, call) -> response`` functions run around the handler (fault injection, fixes).
        self.wrappers: list[Callable[[dict[str, Any], Callable[[dict[str, Any]], Any]], Any]] = []
        self._worker: _Worker | None = None

    def close(self) -> None:
        """End the function's thread (a later invocation starts a new one)."""
        if self._worker is not None:
            self._worker.close()
            self._worker = None

    def _owned(self, name: str) -> bool:
        return name.partition(".")[0] in self._names

    def _owned_modules(self) -> list[str]:
        """The names in ``sys.modules`` of modules from the function's code or layers.

        Whether a name is the function's depends only on the name, so the names found not to be
        are remembered: each call compares the ~1,000 names of ``sys.modules`` with them in one
        set difference (C) and tests only names it has not seen before (once per invocation of a
        function, twice: this was a Python loop over every name each time).
        """
        names, packages, foreign = self._names, self._packages, self._foreign
        owned = []
        for key in sys.modules.keys() - foreign:
            if key in names or key.startswith(packages):
                owned.append(key)
            else:
                foreign.add(key)
        return owned

    @contextlib.contextmanager
    def activated(self) -> Iterator[None]:
        """The function's modules, paths and environment in place (nothing else may run)."""
        with _LOCK:
            saved = {k: sys.modules.pop(k) for k in self._owned_modules()}
            sys.modules.update(self.modules)
            old_path = list(sys.path)
            sys.path[:0] = self.paths
            try:
                with _environment(self.environment):
                    yield
            finally:
                self.modules = {k: sys.modules.pop(k) for k in self._owned_modules()}
                sys.modules.update(saved)
                sys.path[:] = old_path

    def load(self) -> LocalFunction:
        """Import the handler (once). An import failure is kept: every invocation then fails with it."""
        if self._handler is not None or self.import_error is not None:
            return self
        module_name, _, attr = self.handler_spec.rpartition(".")
        module_name = module_name.replace("/", ".")
        try:
            with self.activated():
                module = importlib.import_module(module_name)
                handler = getattr(module, attr, None)
        except Exception as exc:  # noqa: BLE001 - Lambda reports it on every invocation
            self.import_error = f"Unable to import module '{module_name}': {type(exc).__name__}: {exc}"
            return self
        if not callable(handler):
            self.import_error = f"Handler '{attr}' missing on module '{module_name}'"
            return self
        self._handler = handler
        return self

    @property
    def module(self) -> ModuleType:
        """The handler's module (its own copy)."""
        self.load()
        if self.import_error is not None:
            raise ImportError(f"{self.logical_id}: {self.import_error}")
        return self.modules[self.handler_spec.rpartition(".")[0].replace("/", ".")]

    def run(self, event: dict[str, Any]) -> Invocation:
        """Invoke like Lambda: in the handler's own thread, with the function's timeout.

        Raises:
            KeyboardInterrupt: Ctrl-C while the handler ran (the handler is stopped first).
            HandlerStuckError: A timed-out handler did not stop (see the module docstring).
        """
        self.load()
        context = LocalContext(self.name, self.arn, self.memory_mb, self.timeout_seconds)
        request_id = context.aws_request_id
        if self.import_error is not None:
            return Invocation(error=f"{IMPORT_ERROR}: {self.import_error}", error_type=IMPORT_ERROR,
                              request_id=request_id)

        def base(evt: dict[str, Any]) -> Any:
            return self._handler(evt, context)

        call: Callable[[dict[str, Any]], Any] = base
        for wrapper in self.wrappers:
            call = (lambda w, inner: (lambda evt: w(evt, inner)))(wrapper, call)
        outcome: dict[str, Any] = {}
        done = threading.Event()

        def target() -> None:
            try:
                outcome["response"] = call(event)
            except _StopHandler:
                outcome["stopped"] = True
            except BaseException as exc:  # noqa: BLE001 - anything a handler raises is a function error
                outcome["error"] = exc
            finally:
                done.set()

        with self.activated():
            if self._worker is None or not self._worker.thread.is_alive():
                self._worker = _Worker(f"lambda:{self.name}")
            thread = self._worker.thread
            started = time.perf_counter()
            self._worker.jobs.put(target)
            try:
                finished = _wait(done, started + self.timeout_seconds)
            except KeyboardInterrupt:
                self._stop(thread, done)
                raise
            duration = time.perf_counter() - started
            if not finished:
                self._stop(thread, done)
        if not finished:
            return Invocation(
                error=f"{TIMEOUT_ERROR}: RequestId: {request_id} Error: Task timed out after "
                f"{self.timeout_seconds:.2f} seconds",
                error_type=TIMEOUT_ERROR, duration=self.timeout_seconds, timed_out=True, request_id=request_id,
            )
        if "error" in outcome:
            error_type, message = describe_error(outcome["error"], request_id)
            if error_type == EXIT_ERROR:
                message = f"{EXIT_ERROR}: {message}"
            return Invocation(error=message, error_type=error_type, duration=duration, request_id=request_id)
        return Invocation(response=outcome.get("response"), duration=duration, request_id=request_id)

    def _stop(self, thread: threading.Thread, done: threading.Event) -> None:
        """Stop a handler's thread (it holds the function's modules: wait for it to leave them)."""
        deadline = time.monotonic() + STOP_GRACE_SECONDS
        while not done.is_set():
            _raise_in(thread, _StopHandler)  # again if the handler swallowed it (``except BaseException``)
            if done.wait(0.5):
                break
            if time.monotonic() > deadline:
                self._worker = None  # stuck in its job: a later invocation gets a new thread
                raise HandlerStuckError(
                    f"{self.logical_id}: the handler did not stop {STOP_GRACE_SECONDS:.0f} s after its "
                    f"timeout ({self.timeout_seconds:.2f} s); it is blocked in a call Python cannot "
                    "interrupt (a long sleep or a socket read without a timeout)"
                )

    def invoke(self, event: dict[str, Any]) -> Any:
        """Invoke and return the response; a function error raises :class:`FunctionError`."""
        invocation = self.run(event)
        if invocation.error is not None:
            raise FunctionError(invocation)
        return invocation.response

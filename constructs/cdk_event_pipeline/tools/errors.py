"""Exit codes and the expected errors the tools report without a traceback."""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """Process exit codes of ``event-pipeline`` (documented in ``--help``)."""

    OK = 0
    """Everything asked for was done."""
    NOT_DELIVERED = 1
    """Some records were not delivered (target error, handler failure); retrying may help."""
    USAGE = 2
    """Bad command line (argparse's own code)."""
    EXPIRED = 3
    """Some records are gone from the source stream (past retention, shard or stream deleted)."""
    NOT_FOUND = 4
    """A named resource does not exist: stream, queue, function, bucket or handler."""
    AUTH = 5
    """No credentials, invalid credentials, or access denied."""
    ENDPOINT = 6
    """The AWS endpoint could not be reached, or no region is configured."""
    UNPROVEN = 7
    """Some DLQ messages were kept because they do not prove what they name: unrecognised,
    malformed, or incomplete (the records they hold or name are not exactly their batch).
    Retrying will not change that: inspect them."""
    INTERRUPTED = 130
    """Stopped with Ctrl-C."""


class ToolError(Exception):
    """An expected failure: printed as one line, exits with :attr:`exit_code`.

    Args:
        message: What went wrong, for a human, with the resource name in it.
        exit_code: The process exit code to use.
    """

    def __init__(self, message: str, exit_code: ExitCode) -> None:
        super().__init__(message)
        self.message = message
        self.exit_code = exit_code


class NotFoundError(ToolError):
    """A named resource does not exist."""

    def __init__(self, message: str) -> None:
        super().__init__(message, ExitCode.NOT_FOUND)


class AuthError(ToolError):
    """Credentials are missing or invalid, or access was denied."""

    def __init__(self, message: str) -> None:
        super().__init__(message, ExitCode.AUTH)


class EndpointError(ToolError):
    """The endpoint cannot be reached or the region is unknown."""

    def __init__(self, message: str) -> None:
        super().__init__(message, ExitCode.ENDPOINT)


class DeliveryError(ToolError):
    """A target rejected records after all retries."""

    def __init__(self, message: str) -> None:
        super().__init__(message, ExitCode.NOT_DELIVERED)

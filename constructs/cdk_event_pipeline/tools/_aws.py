"""boto3 sessions and clients, and translation of AWS errors into :class:`ToolError`."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    EndpointConnectionError,
    NoCredentialsError,
    NoRegionError,
    PartialCredentialsError,
)

from .errors import AuthError, EndpointError, ExitCode, NotFoundError, ToolError

#: Error codes that mean "the named thing does not exist".
NOT_FOUND_CODES = frozenset(
    {
        "ResourceNotFoundException",
        "AWS.SimpleQueueService.NonExistentQueue",
        "QueueDoesNotExist",
        "NoSuchBucket",
        "NoSuchKey",
        "404",
    }
)
#: Error codes that mean "who you are, or what you may do, is the problem".
AUTH_CODES = frozenset(
    {
        "AccessDenied",
        "AccessDeniedException",
        "UnrecognizedClientException",
        "InvalidClientTokenId",
        "InvalidAccessKeyId",
        "SignatureDoesNotMatch",
        "ExpiredToken",
        "ExpiredTokenException",
        "AuthFailure",
        "KMSAccessDeniedException",
    }
)

#: Client retries: botocore's standard mode retries throttling and 5xx with backoff.
CLIENT_CONFIG = Config(
    retries={"mode": "standard", "max_attempts": 8},
    connect_timeout=10,
    read_timeout=70,
)


def make_session(region: str | None) -> boto3.session.Session:
    """Build the boto3 session the tools use (the standard credential chain).

    Tests replace this function to register botocore event hooks (fault injection).

    Args:
        region: ``--region``, or None for the environment / profile default.

    Returns:
        A new session.
    """
    return boto3.session.Session(region_name=region)


@dataclass
class Aws:
    """Clients for one run, created on first use and cached per (service, region).

    Args:
        region: ``--region`` or None.
        endpoint_url: ``--endpoint-url`` or None (then ``AWS_ENDPOINT_URL`` applies).
    """

    region: str | None = None
    endpoint_url: str | None = None
    _session: Any = field(default=None, init=False, repr=False)
    _clients: dict[tuple[str, str | None], Any] = field(default_factory=dict, init=False)

    @property
    def session(self) -> boto3.session.Session:
        """The session, created on first use."""
        if self._session is None:
            self._session = make_session(self.region)
        return self._session

    def client(self, service: str, region: str | None = None) -> Any:
        """A cached client.

        Args:
            service: boto3 service name (``kinesis``, ``sqs``, ...).
            region: A region taken from a resource ARN, or None for the run's region.

        Returns:
            The boto3 client.

        Raises:
            EndpointError: No region is configured.
        """
        key = (service, region)
        if key not in self._clients:
            try:
                self._clients[key] = self.session.client(
                    service,
                    region_name=region or self.region,
                    endpoint_url=self.endpoint_url,
                    config=CLIENT_CONFIG,
                )
            except NoRegionError as exc:
                raise EndpointError(
                    "no AWS region configured: pass --region or set AWS_REGION"
                ) from exc
            except ValueError as exc:  # botocore: "Invalid endpoint: ..." (AWS_ENDPOINT_URL)
                raise ToolError(f"cannot use the endpoint: {exc}", ExitCode.USAGE) from exc
        return self._clients[key]


def error_code(exc: ClientError) -> str:
    """The AWS error code of a ClientError (``""`` when missing)."""
    return str(exc.response.get("Error", {}).get("Code", ""))


def translate(exc: BaseException, what: str) -> ToolError | None:
    """Map a boto error to an expected :class:`ToolError`, or None when it is unexpected.

    Args:
        exc: The exception raised by boto3.
        what: The resource concerned, for the message (``stream 'orders'``).

    Returns:
        The ToolError to raise instead, or None.
    """
    if isinstance(exc, ToolError):
        return exc
    if isinstance(exc, NoCredentialsError | PartialCredentialsError):
        return AuthError(f"no AWS credentials found ({exc}); configure the standard chain")
    if isinstance(exc, NoRegionError):
        return EndpointError("no AWS region configured: pass --region or set AWS_REGION")
    if isinstance(exc, EndpointConnectionError):
        return EndpointError(f"cannot reach the AWS endpoint: {exc}")
    if isinstance(exc, ClientError):
        code = error_code(exc)
        message = exc.response.get("Error", {}).get("Message", "") or code
        if code in NOT_FOUND_CODES:
            return NotFoundError(f"{what} not found: {message}")
        if code in AUTH_CODES:
            return AuthError(f"access to {what} refused ({code}): {message}")
        return None
    if isinstance(exc, BotoCoreError):
        return EndpointError(f"AWS request for {what} failed: {exc}")
    return None


@contextlib.contextmanager
def aws_errors(what: str) -> Iterator[None]:
    """Re-raise expected boto errors inside the block as :class:`ToolError`.

    Args:
        what: The resource concerned, for the message.

    Yields:
        Nothing.
    """
    try:
        yield
    except (ClientError, BotoCoreError) as exc:
        tool_error = translate(exc, what)
        if tool_error is None:
            raise
        raise tool_error from exc


def parse_arn(arn: str) -> dict[str, str]:
    """Split an ARN into partition, service, region, account and resource.

    Args:
        arn: ``arn:aws:kinesis:us-east-1:123456789012:stream/orders``.

    Returns:
        The parts by name.

    Raises:
        ValueError: Not an ARN.
    """
    parts = arn.split(":", 5)
    if len(parts) != 6 or parts[0] != "arn":
        raise ValueError(f"not an ARN: {arn!r}")
    return {
        "partition": parts[1],
        "service": parts[2],
        "region": parts[3],
        "account": parts[4],
        "resource": parts[5],
    }

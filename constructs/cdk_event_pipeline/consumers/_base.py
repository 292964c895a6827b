"""What every consumer of a source shares (Kinesis, DynamoDB Streams, SQS): one function, built or
given, what its event source mapping invokes, the run-time hop limit and the recursion edge.

A source's consumer subclasses :class:`FunctionConsumer` (directly, like the SQS worker, or through
the stream consumers' base), calls :meth:`FunctionConsumer._check_function_props` and
:meth:`FunctionConsumer._check_function_options` among its validation and
:meth:`FunctionConsumer._attach_function` once its props are resolved, and implements
:meth:`FunctionConsumer._recursion_source`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import jsii
from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from .. import _defaults as d
from .._kinds import FunctionOwner, HasNode
from .._nag import LAMBDA_DLQ, QUEUE_FUNCTION_HAS_NO_ASYNC_DLQ, STREAM_FUNCTION_HAS_NO_ASYNC_DLQ, acknowledge_resource
from .._recursion import RecursionGraph
from .._validation import check_range
from ..function import (
    PipelineFunction,
    build_handler_function,
    event_source_target,
    require_function_or_code,
    require_new_function_for_snap_start,
    resolve_function,
    set_max_hops,
)
from ..monitoring import Monitored
from ._mapping import encrypt_filters, filter_key_of, untag_where_rejected


@jsii.implements(iam.IGrantable)
class FunctionConsumer(Construct, FunctionOwner, Monitored):
    """A construct that reads one source with one Lambda function. Not used directly.

    A consumer is an ``iam.IGrantable`` standing for its function: ``bucket.grant_read(consumer)``
    grants the consumer's function.
    """

    #: What the ``ImportedFunctionWithoutRole`` warning asks to grant by hand.
    grants_hint: str = "the source's read permissions yourself"
    #: The consumer's mapping (set by the subclass's constructor).
    event_source_mapping: lambda_.EventSourceMapping
    #: The source's customer key (``None``: an AWS-managed key, or none); set by the subclass.
    encryption_key: kms.IKey | None = None
    #: The key that encrypts the mapping's filter criteria (``KmsKeyArn``): ``None`` without filters,
    #: or when neither ``filter_encryption_key`` nor a customer key of the source is there.
    filter_encryption_key: kms.IKey | None = None

    def metric_event_source_mapping(
        self, metric_name: str, *, statistic: str = "Sum", period: Duration | None = None
    ) -> cloudwatch.Metric:
        """One of the mapping's own ``EventCount`` metrics (``PolledEventCount``,
        ``FilteredOutEventCount``, ``InvokedEventCount``, ``FailedInvokeEventCount``,
        ``DroppedEventCount``, ...), with the ``EventSourceMappingUUID`` dimension set to this
        mapping's id."""
        return cloudwatch.Metric(
            namespace="AWS/Lambda",
            metric_name=metric_name,
            dimensions_map={"EventSourceMappingUUID": self.event_source_mapping.event_source_mapping_id},
            statistic=statistic,
            period=period,
        )

    @staticmethod
    def _check_function_props(
        function: lambda_.IFunction | None, code: lambda_.Code | None, handler: str | None
    ) -> None:
        """The given function, or the code and handler of a new one (first of the checks)."""
        require_function_or_code(function, code, handler)

    @staticmethod
    def _check_function_options(
        function: lambda_.IFunction | None, max_hops: int | None, snap_start: bool
    ) -> None:
        """``max_hops`` in range; ``snap_start`` only for a function the consumer builds (last)."""
        check_range("max_hops", max_hops, d.MAX_HOPS_MIN, d.MAX_HOPS_MAX)
        require_new_function_for_snap_start(snap_start, function)

    def _attach_function(
        self,
        given_function: lambda_.IFunction | None,
        *,
        code: lambda_.Code | None,
        handler: str | None,
        environment: Mapping[str, str] | None,
        memory_size: int | None,
        timeout: Duration | None,
        log_retention: logs.RetentionDays | None,
        tracing: bool,
        snap_start: bool,
        max_hops: int | None,
    ) -> None:
        """The function (given, or built with :meth:`build_function`), what the mapping invokes
        (:attr:`target`), the hop limit, and the edge ``function reads source`` of the recursion
        check."""

        def build() -> PipelineFunction:
            assert code is not None and handler is not None  # _check_function_props checked it
            extra: dict[str, Any] = {"snap_start": True} if snap_start else {}
            return self.build_function(
                code=code, handler=handler, environment=environment, memory_size=memory_size,
                timeout=timeout, log_retention=log_retention, tracing=tracing, **extra,
            )

        self.function, self.role, self.log_group = resolve_function(
            self, given_function, build, grants_hint=self.grants_hint
        )
        #: What the mapping invokes: the function, or its SnapStart alias.
        self.target: lambda_.IFunction = event_source_target(self, self.function)
        set_max_hops(self.function, max_hops)
        self.max_hops = max_hops
        source, kind = self._recursion_source()
        RecursionGraph.of(self).read(source, kind, self.function, self)
        if given_function is None:  # a function of the user's may have asynchronous callers too
            reason = QUEUE_FUNCTION_HAS_NO_ASYNC_DLQ if kind == "queue" else STREAM_FUNCTION_HAS_NO_ASYNC_DLQ
            acknowledge_resource(self.function, LAMBDA_DLQ, reason)

    def _finish_event_source_mapping(
        self, filters: Sequence[Mapping[str, Any]] | None, filter_encryption_key: kms.IKey | None
    ) -> None:
        """What every mapping of the library gets after ``build_event_source_mapping`` (an override of
        it keeps both): with filters, ``KmsKeyArn`` (``filter_encryption_key``, else the source's
        customer key of this app) and the key policy Lambda needs; no ``Tags`` in a region or
        partition that rejects them."""
        self.filter_encryption_key = filter_key_of(filters, filter_encryption_key, self.encryption_key)
        if self.filter_encryption_key is not None:
            encrypt_filters(self, self.event_source_mapping, self.filter_encryption_key)
        untag_where_rejected(self.event_source_mapping)

    @property
    def grant_principal(self) -> iam.IPrincipal:
        """The principal of the consumer's function (a consumer is an ``iam.IGrantable``)."""
        return self.function.grant_principal

    # --- extension points ---------------------------------------------------------------

    def build_function(
        self,
        *,
        code: lambda_.Code,
        handler: str,
        environment: Mapping[str, str] | None,
        memory_size: int | None,
        timeout: Duration | None,
        log_retention: logs.RetentionDays | None,
        tracing: bool,
        snap_start: bool = False,
    ) -> PipelineFunction:
        """Build the consumer's function. Override to change how every function is made.

        ``snap_start`` is passed only when it is True (an override without the parameter keeps
        working for consumers without SnapStart)."""
        return build_handler_function(
            self, code=code, handler=handler, environment=environment, memory_size=memory_size,
            timeout=timeout, log_retention=log_retention, tracing=tracing, snap_start=snap_start,
        )

    def metric_errors_sum(self, period: Duration | None = None) -> cloudwatch.Metric:
        """Invocations that failed (count, Sum; ``AWS/Lambda`` ``Errors``, ``FunctionName``)."""
        return self.function.metric_errors(statistic="Sum", period=period)

    def _recursion_source(self) -> tuple[HasNode, str]:
        """The construct this consumer reads, and its kind (``stream``, ``table``, ``queue``), for
        the recursion check."""
        raise NotImplementedError

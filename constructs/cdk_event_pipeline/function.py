"""The shared function factory: every Lambda function the library builds comes from here.

A :class:`PipelineFunction` is a Python function on arm64 with

* its own IAM role with **no managed policy**: ``AWSLambdaBasicExecutionRole`` would grant
  ``logs:CreateLogGroup`` / ``PutLogEvents`` on ``*``; instead the role may write only to
  the function's own log group;
* its own log group with a retention (the function is pointed at it, so Lambda never creates an
  unbounded ``/aws/lambda/<name>`` group);
* the Powertools layer AWS publishes, pinned to one release, and the library's runtime layer
  (``event_pipeline_runtime``), both shared by every function of a stack;
* ``POWERTOOLS_SERVICE_NAME`` / ``POWERTOOLS_METRICS_NAMESPACE`` set;
* X-Ray tracing off unless asked for (``tracing=True``): X-Ray's ``PutTraceSegments`` accepts
  no resource but ``*``, the only wildcard this library ever emits.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from aws_cdk import Annotations, Aws, Duration, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from . import _defaults as d
from ._assets import bundled_code
from ._validation import PipelineValidationError, check_range, require, seconds_of

RUNTIME_LAYER_ID = "EventPipelineRuntimeLayer"
POWERTOOLS_LAYER_ID = "PowertoolsLayer"


def powertools_layer_arn(
    runtime: lambda_.Runtime = d.RUNTIME, architecture: lambda_.Architecture = d.ARCHITECTURE
) -> str:
    """ARN of AWS's Powertools layer for a runtime/architecture, pinned, in the stack's region.

    The ARN uses ``${AWS::Region}`` so the same template deploys to any commercial region.
    """
    python = runtime.name.replace(".", "")  # python3.13 -> python313
    arch = "arm64" if architecture.name == lambda_.Architecture.ARM_64.name else "x86_64"
    return (
        f"arn:aws:lambda:{Aws.REGION}:{d.POWERTOOLS_LAYER_ACCOUNT}:layer:"
        f"AWSLambdaPowertoolsPythonV3-{python}-{arch}:{d.POWERTOOLS_LAYER_VERSION}"
    )


def shared_layers(scope: Construct) -> list[lambda_.ILayerVersion]:
    """The Powertools layer and the runtime layer, created once per stack."""
    stack = Stack.of(scope)
    runtime_layer = stack.node.try_find_child(RUNTIME_LAYER_ID)
    if runtime_layer is None:
        runtime_layer = lambda_.LayerVersion(
            stack,
            RUNTIME_LAYER_ID,
            code=bundled_code("runtime"),
            compatible_runtimes=[d.RUNTIME],
            compatible_architectures=[lambda_.Architecture.ARM_64, lambda_.Architecture.X86_64],
            description="cdk-event-pipeline runtime: producer, consumer entry point, idempotency",
        )
    powertools = stack.node.try_find_child(POWERTOOLS_LAYER_ID)
    if powertools is None:
        powertools = lambda_.LayerVersion.from_layer_version_arn(
            stack, POWERTOOLS_LAYER_ID, powertools_layer_arn()
        )
    return [powertools, runtime_layer]  # type: ignore[list-item]


class PipelineFunction(Construct):
    """A least-privilege Python Lambda function with the library's defaults.

    Args:
        scope: Parent construct.
        id: Construct id.
        code: The function's code (use :func:`cdk_event_pipeline.code_from_dir` for a directory).
        handler: ``module.function`` inside ``code``.
        service_name: ``POWERTOOLS_SERVICE_NAME``. Default: - the construct id.
        metrics_namespace: ``POWERTOOLS_METRICS_NAMESPACE``. Default: ``"EventPipeline"``.
        environment: Extra environment variables. Default: - none.
        memory_size: MB, 128-10240. Default: 256.
        timeout: 1 second - 15 minutes. Default: 30 seconds.
        log_retention: Retention of the function's own log group. Default: one month.
        tracing: Active X-Ray tracing (adds ``xray:Put*`` on ``*``). Default: False.
        reserved_concurrent_executions: Default: - unreserved.
        layers: Extra layers after the Powertools and runtime layers. Default: - none.
        description: Default: - none.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        code: lambda_.Code,
        handler: str,
        service_name: str | None = None,
        metrics_namespace: str | None = None,
        environment: Mapping[str, str] | None = None,
        memory_size: int | None = None,
        timeout: Duration | None = None,
        log_retention: logs.RetentionDays | None = None,
        tracing: bool = False,
        reserved_concurrent_executions: int | None = None,
        layers: Sequence[lambda_.ILayerVersion] | None = None,
        description: str | None = None,
    ) -> None:
        super().__init__(scope, id)
        check_range("memory_size", memory_size, 128, 10240, unit="MB")
        timeout_s = seconds_of(timeout)
        require(timeout_s is None or 1 <= timeout_s <= 900,
                f"timeout must be between 1 and 900 seconds inclusive (given {timeout_s} seconds)")
        require(bool(handler) and "." in handler,
                f"handler must be 'module.function' (given {handler!r})")

        self.log_group = logs.LogGroup(
            self,
            "LogGroup",
            retention=log_retention if log_retention is not None else d.LOG_RETENTION,
        )
        self.role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"Execution role of {self.node.path}",
        )
        # Only the function's own log group; no AWSLambdaBasicExecutionRole, no /aws/lambda/*.
        self.log_group.grant(self.role, "logs:CreateLogStream", "logs:PutLogEvents")

        env = {
            "POWERTOOLS_SERVICE_NAME": service_name if service_name is not None else id,
            "POWERTOOLS_METRICS_NAMESPACE": (
                metrics_namespace if metrics_namespace is not None else "EventPipeline"
            ),
        }
        if not tracing:
            env["POWERTOOLS_TRACE_DISABLED"] = "true"
        env.update(environment or {})

        self.function = lambda_.Function(
            self,
            "Function",
            runtime=d.RUNTIME,
            architecture=d.ARCHITECTURE,
            code=code,
            handler=handler,
            role=self.role,
            log_group=self.log_group,
            memory_size=memory_size if memory_size is not None else d.MEMORY_SIZE_MB,
            timeout=timeout if timeout is not None else d.TIMEOUT,
            environment=env,
            layers=[*shared_layers(self), *(layers or [])],
            tracing=lambda_.Tracing.ACTIVE if tracing else lambda_.Tracing.DISABLED,
            reserved_concurrent_executions=reserved_concurrent_executions,
            description=description,
        )


def require_function_or_code(
    function: lambda_.IFunction | None, code: lambda_.Code | None, handler: str | None
) -> None:
    """The "existing function or code + handler of a new one, never both" rule of every
    construct that owns a function."""
    if function is not None and (code is not None or handler is not None):
        raise PipelineValidationError(
            "function and code/handler are mutually exclusive: pass an existing function "
            "or the code and handler of a new one, not both"
        )
    require(function is not None or (code is not None and handler is not None),
            "code and handler are required when no existing function is given")


def build_handler_function(owner: Construct, **props: Any) -> PipelineFunction:
    """The default ``build_function`` of a construct that owns one function: a
    :class:`PipelineFunction` with id ``Handler``, named for Powertools after the owner."""
    return PipelineFunction(owner, "Handler", service_name=owner.node.id, **props)


def resolve_function(
    owner: Construct,
    function: lambda_.IFunction | None,
    build: Callable[[], PipelineFunction],
    *,
    grants_hint: str,
) -> tuple[lambda_.IFunction, iam.IRole | None, logs.ILogGroup | None]:
    """The owner's function, role and log group: the given function (warning when its role is
    unknown, so grants cannot be added: ``grants_hint`` says what to grant), or a new one from
    ``build``."""
    if function is not None:
        if function.role is None:
            Annotations.of(owner).add_warning_v2(
                "cdk-event-pipeline:ImportedFunctionWithoutRole",
                f"The given function has no known role: grant it {grants_hint}.",
            )
        return function, function.role, None
    built = build()
    return built.function, built.role, built.log_group

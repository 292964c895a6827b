"""The shared function factory: every Lambda function the library builds is a :class:`PipelineFunction`.

A :class:`PipelineFunction` *is* a ``lambda_.Function`` (so an ``IFunction`` and an
``IGrantable`` wherever aws-cdk-lib takes one): a Python function on arm64 with

* its own IAM role with **no managed policy**: ``AWSLambdaBasicExecutionRole`` would grant
  ``logs:CreateLogGroup`` / ``PutLogEvents`` on ``*``; instead the role may write only to
  the function's own log group;
* its own log group with a retention (the function is pointed at it, so Lambda never creates an
  unbounded ``/aws/lambda/<name>`` group);
* the Powertools layer AWS publishes, pinned to one release, and the library's runtime layer
  (``event_pipeline_runtime``), both shared by every function of a stack;
* ``POWERTOOLS_SERVICE_NAME`` / ``POWERTOOLS_METRICS_NAMESPACE`` set;
* X-Ray tracing off unless asked for (``tracing=True``): X-Ray's ``PutTraceSegments`` accepts
  no resource but ``*``, the only wildcard this library ever puts in a role.

``lambda_.Function`` takes its role when it is constructed (without one it makes a role with
the managed policy), and a construct cannot have children before it exists: the role and the log
group are therefore siblings of the function, ``<id>Role`` and ``<id>LogGroup`` in the same scope.

Any other function can get the two layers with :func:`pipeline_layers` or
:meth:`PipelineFunction.add_pipeline_layers`.

``snap_start=True`` turns on Lambda SnapStart (Python 3.12+): the function gets a published
version (``current_version``) and an alias, ``live``, which the library's event source mappings
invoke (SnapStart applies to published versions only, never to ``$LATEST``; "Improving startup
performance with Lambda SnapStart", https://docs.aws.amazon.com/lambda/latest/dg/snapstart.html).
The runtime layer registers an after-restore hook that reseeds ``random`` and makes new boto3
clients (``event_pipeline_runtime.snapstart``).
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import Unpack, cast

import jsii
from aws_cdk import Annotations, Aspects, Aws, Duration, IAspect, PhysicalName, Stack, Token
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct, IConstruct

from . import _defaults as d
from ._assets import bundled_code
from ._nag import LAMBDA_TRACING, TRACING_IS_OPT_IN, acknowledge_resource
from ._props import FunctionProps
from ._validation import (
    PipelineValidationError,
    check_range,
    child_path,
    init_reports_path,
    path_of,
    remembered,
    require,
    seconds_of,
    stack_of,
)

RUNTIME_LAYER_ID = "EventPipelineRuntimeLayer"
POWERTOOLS_LAYER_ID = "PowertoolsLayer"
#: Marks a Powertools layer ARN (AWS's layer names contain it).
_POWERTOOLS_LAYER_NAME = "AWSLambdaPowertoolsPythonV3"


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
        f"{_POWERTOOLS_LAYER_NAME}-{python}-{arch}:{d.POWERTOOLS_LAYER_VERSION}"
    )


def pipeline_layers(
    scope: IConstruct,
    *,
    runtime: lambda_.Runtime | None = None,
    architecture: lambda_.Architecture | None = None,
) -> list[lambda_.ILayerVersion]:
    """The Powertools layer and the library's runtime layer, each created once per stack.

    Pass them to any function (``layers=pipeline_layers(self)``) or use
    :meth:`PipelineFunction.add_pipeline_layers`.

    Args:
        scope: Any construct of the stack.
        runtime: The function's runtime (Python 3.11-3.14). Default: Python 3.14.
        architecture: The function's architecture. Default: ARM_64.
    """
    runtime = runtime if runtime is not None else d.RUNTIME
    architecture = architecture if architecture is not None else d.ARCHITECTURE
    stack = stack_of(scope)
    # Kept per stack (issue 19: each call read ~11 values back through jsii).
    made: dict[tuple[str, str], list[lambda_.ILayerVersion]] = remembered(stack, "_cep_pipeline_layers", dict)
    key = (_name_of(runtime), _name_of(architecture))
    if key not in made:
        made[key] = _make_pipeline_layers(scope, stack, runtime, architecture)
    return list(made[key])


def _name_of(thing: lambda_.Runtime | lambda_.Architecture) -> str:
    """A runtime's or an architecture's name, read once per object."""
    return remembered(thing, "_cep_name", lambda: thing.name)


def _make_pipeline_layers(
    scope: IConstruct, stack: Stack, runtime: lambda_.Runtime, architecture: lambda_.Architecture
) -> list[lambda_.ILayerVersion]:
    supported = [_name_of(r) for r in d.RUNTIME_LAYER_RUNTIMES]
    if _name_of(runtime) not in supported:
        raise PipelineValidationError(
            f"runtime must be one of {', '.join(supported)} for the pipeline layers (given {runtime.name})",
            path=path_of(scope) or None,
        )
    runtime_layer = stack.node.try_find_child(RUNTIME_LAYER_ID)
    if runtime_layer is None:
        runtime_layer = lambda_.LayerVersion(
            stack,
            RUNTIME_LAYER_ID,
            code=bundled_code("runtime"),
            compatible_runtimes=list(d.RUNTIME_LAYER_RUNTIMES),
            compatible_architectures=[lambda_.Architecture.ARM_64, lambda_.Architecture.X86_64],
            description="cdk-event-pipeline runtime: producer, consumer entry point, idempotency",
        )
    default = _name_of(runtime) == _name_of(d.RUNTIME) and _name_of(architecture) == _name_of(d.ARCHITECTURE)
    # The stack's default layer keeps its id; others are named for their runtime/architecture.
    powertools_id = POWERTOOLS_LAYER_ID if default else (
        POWERTOOLS_LAYER_ID + runtime.name.replace(".", "").capitalize()
        + architecture.name.replace("_", "").capitalize())
    powertools = stack.node.try_find_child(powertools_id)
    if powertools is None:
        powertools = lambda_.LayerVersion.from_layer_version_arn(
            stack, powertools_id, powertools_layer_arn(runtime, architecture)
        )
    return [cast(lambda_.ILayerVersion, powertools), cast(lambda_.ILayerVersion, runtime_layer)]


def has_pipeline_layers(function: lambda_.Function) -> bool:
    """Whether ``function`` has a Powertools layer and the stack's runtime layer (read from its
    template properties, so layers added any way count)."""
    stack = Stack.of(function)
    runtime_layer = stack.node.try_find_child(RUNTIME_LAYER_ID)
    cfn = function.node.default_child
    if not isinstance(runtime_layer, lambda_.LayerVersion) or not isinstance(cfn, lambda_.CfnFunction):
        return False
    layers = json.dumps(stack.resolve(cfn.layers))
    return json.dumps(stack.resolve(runtime_layer.layer_version_arn)) in layers and _POWERTOOLS_LAYER_NAME in layers


class PipelineFunction(lambda_.Function):
    """A least-privilege Python Lambda function with the library's defaults.

    It is a ``lambda_.Function``: pass it wherever aws-cdk-lib takes an ``IFunction`` or an
    ``IGrantable`` (``bucket.grant_read(fn)``, ``stream.connect_producer(fn)``).

    The execution role and the log group are made next to the function, as ``<id>Role`` and
    ``<id>LogGroup`` in ``scope`` (a ``lambda_.Function`` needs its role when it is created).

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
        snap_start: Lambda SnapStart on published versions: the function gets a version
            (``current_version``) and an alias ``live`` (:attr:`alias`) pointing at it; invoke the
            alias (the library's consumers and workers do). Python 3.12+ (the library's 3.14 is);
            SnapStart excludes provisioned concurrency, Amazon EFS and more than 512 MB of
            ephemeral storage, none of which this construct sets (do not add them to the alias or
            function). Lambda has no SnapStart in Asia Pacific (New Zealand, ``ap-southeast-6``) and
            Asia Pacific (Taipei, ``ap-east-2``) ("Improving startup performance with Lambda
            SnapStart", Supported Regions): a stack whose region is one of them gets
            ``cdk-event-pipeline:SnapStartUnsupportedRegion`` at construction (aws-cdk-lib's
            built-in template validation, cfn-lint's E2530, then fails the synth too; its list also
            leaves out GovCloud and China, which that page does not cover). For Python,
            SnapStart bills snapshot caching (per GB-second of memory, at least 3 hours per
            version) and every restore (per GB); see the README for when it pays off.
            Default: False.
    """

    @init_reports_path
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
        snap_start: bool = False,
    ) -> None:
        _check_function_props(memory_size, timeout, handler)
        role, log_group = _role_and_log_group(scope, id, log_retention)
        env = _function_environment(id, service_name, metrics_namespace, tracing, environment)
        super().__init__(
            scope,
            id,
            runtime=d.RUNTIME,
            architecture=d.ARCHITECTURE,
            code=code,
            handler=handler,
            role=role,
            log_group=log_group,
            memory_size=memory_size if memory_size is not None else d.MEMORY_SIZE_MB,
            timeout=timeout if timeout is not None else d.TIMEOUT,
            environment=env,
            layers=[*pipeline_layers(scope), *(layers or [])],
            tracing=lambda_.Tracing.ACTIVE if tracing else lambda_.Tracing.DISABLED,
            reserved_concurrent_executions=reserved_concurrent_executions,
            description=description,
            snap_start=lambda_.SnapStartConf.ON_PUBLISHED_VERSIONS if snap_start else None,
        )
        if not tracing:
            acknowledge_resource(self, LAMBDA_TRACING, TRACING_IS_OPT_IN)
        #: The execution role (also ``role``, typed ``IRole | None`` by aws-cdk-lib).
        self.execution_role: iam.Role = role
        #: The function's log group (also ``log_group``, typed ``ILogGroup`` by aws-cdk-lib).
        self.function_log_group: logs.LogGroup = log_group
        #: With ``snap_start``: the alias ``live`` of the published version, what callers and event
        #: source mappings invoke; else ``None``.
        self.alias: lambda_.Alias | None = None
        if snap_start:
            self._check_snap_start_region()
            self.alias = lambda_.Alias(self, "Alias", alias_name=d.SNAP_START_ALIAS_NAME, version=self.current_version)
            Annotations.of(self).acknowledge_warning(
                "@aws-cdk/aws-lambda:snapStartRequirePublish",
                "The function publishes current_version and is invoked through its alias live",
            )

    def _check_snap_start_region(self) -> None:
        """Warn (``cdk-event-pipeline:SnapStartUnsupportedRegion``) when the stack's region is known
        and Lambda has no SnapStart there (:data:`SNAP_START_UNSUPPORTED_REGIONS` in ``_defaults``,
        from Lambda's SnapStart page): the function would fail to deploy. An environment-agnostic
        stack (region unresolved) is not checked."""
        region = Stack.of(self).region
        if Token.is_unresolved(region) or region not in d.SNAP_START_UNSUPPORTED_REGIONS:
            return
        Annotations.of(self).add_warning_v2(
            "cdk-event-pipeline:SnapStartUnsupportedRegion",
            f"snap_start=True, but Lambda SnapStart is not available in {region} (Lambda developer guide, "
            "'Improving startup performance with Lambda SnapStart', Supported Regions: all commercial Regions "
            f"except {', '.join(d.SNAP_START_UNSUPPORTED_REGIONS)}): the function's SnapStart setting would fail "
            "to deploy. Drop snap_start for this stack's functions, or deploy the stack to another region.",
        )

    @property
    def function(self) -> PipelineFunction:
        """Deprecated: the PipelineFunction *is* the function; use it directly.

        Kept so code written for 0.1 (``fn.function.add_environment(...)``) still works.
        """
        warnings.warn(
            "PipelineFunction.function is deprecated: a PipelineFunction is a lambda_.Function, use it directly",
            DeprecationWarning,
            stacklevel=2,
        )
        return self

    @staticmethod
    def add_pipeline_layers(function: lambda_.Function) -> None:
        """Add the Powertools layer and the library's runtime layer to any function of the app
        (for its runtime and architecture); does nothing when it already has both."""
        if has_pipeline_layers(function):
            return
        function.add_layers(*pipeline_layers(function, runtime=function.runtime, architecture=function.architecture))



def _check_function_props(memory_size: int | None, timeout: Duration | None, handler: str) -> None:
    """A new function's memory, timeout and handler, before anything is made."""
    check_range("memory_size", memory_size, 128, 10240, unit="MB")
    timeout_s = seconds_of(timeout)
    require(timeout_s is None or 1 <= timeout_s <= 900,
            f"timeout must be between 1 and 900 seconds inclusive (given {timeout_s} seconds)")
    require(bool(handler) and "." in handler,
            f"handler must be 'module.function' (given {handler!r})")


def _role_and_log_group(
    scope: Construct, id: str, log_retention: logs.RetentionDays | None
) -> tuple[iam.Role, logs.LogGroup]:
    """The function's own log group and its role, siblings ``<id>LogGroup`` and ``<id>Role``: the role
    may write only to that log group (no AWSLambdaBasicExecutionRole, no /aws/lambda/*)."""
    log_group = logs.LogGroup(
        scope,
        f"{id}LogGroup",
        retention=log_retention if log_retention is not None else d.LOG_RETENTION,
    )
    role = iam.Role(
        scope,
        f"{id}Role",
        assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
        description=f"Execution role of {child_path(scope, id)}",
        # A name only when another account's resource policy names the role (cross-account
        # grants); otherwise CloudFormation's generated name, as before.
        role_name=PhysicalName.GENERATE_IF_NEEDED,
    )
    log_group.grant(role, "logs:CreateLogStream", "logs:PutLogEvents")
    return role, log_group


def _function_environment(
    id: str, service_name: str | None, metrics_namespace: str | None, tracing: bool,
    environment: Mapping[str, str] | None,
) -> dict[str, str]:
    """Powertools' service name and namespace, tracing off unless asked for, then the user's variables."""
    env = {
        "POWERTOOLS_SERVICE_NAME": service_name if service_name is not None else id,
        "POWERTOOLS_METRICS_NAMESPACE": (
            metrics_namespace if metrics_namespace is not None else "EventPipeline"
        ),
    }
    if not tracing:
        env["POWERTOOLS_TRACE_DISABLED"] = "true"
    env.update(environment or {})
    return env

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
            "code and handler are required when no existing function is given: pass both, or function=")


def require_new_function_for_snap_start(snap_start: bool, function: lambda_.IFunction | None) -> None:
    """``snap_start`` of a construct that owns a function applies only to a function it builds."""
    if snap_start and function is not None:
        raise PipelineValidationError(
            "snap_start applies to the function the construct builds (given function=): build your function with "
            "SnapStart (PipelineFunction(..., snap_start=True), whose alias the mapping then invokes) and pass it"
        )


def set_max_hops(function: lambda_.IFunction, max_hops: int | None) -> None:
    """Set the runtime's hop limit (``EVENT_PIPELINE_MAX_HOPS``) on the owner's function, when given."""
    if max_hops is None:
        return
    if not isinstance(function, lambda_.Function):
        raise PipelineValidationError(
            "max_hops needs a function whose environment can be set: pass code/handler, or set "
            f"{d.MAX_HOPS_ENV} on your function yourself"
        )
    function.add_environment(d.MAX_HOPS_ENV, str(max_hops))


def event_source_target(owner: Construct, function: lambda_.IFunction) -> lambda_.IFunction:
    """What an event source mapping of ``owner`` invokes: a :class:`PipelineFunction`'s SnapStart
    alias, else the function. A ``lambda_.Function`` with SnapStart but no alias gets a warning
    (``cdk-event-pipeline:SnapStartOnLatest``): the mapping would invoke ``$LATEST``, which
    SnapStart never applies to."""
    if isinstance(function, PipelineFunction) and function.alias is not None:
        return function.alias
    if isinstance(function, lambda_.Function):
        cfn = function.node.default_child
        if isinstance(cfn, lambda_.CfnFunction) and cfn.snap_start is not None:
            Annotations.of(owner).add_warning_v2(
                "cdk-event-pipeline:SnapStartOnLatest",
                f"The function {function.node.path} has SnapStart, which applies only to published versions, but "
                "the mapping invokes it unqualified ($LATEST): every new environment initializes from scratch. "
                "Pass an alias or version of it (fn.add_alias('live') / fn.current_version) as function=, or a "
                "PipelineFunction(snap_start=True).",
            )
    return function


def build_handler_function(owner: Construct, **props: Unpack[FunctionProps]) -> PipelineFunction:
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
        if isinstance(function, lambda_.Function):
            Aspects.of(owner).add(_PipelineLayersCheck(owner, function))
        log_group = function.function_log_group if isinstance(function, PipelineFunction) else None
        return function, function.role, log_group
    built = build()
    return built, built.role, built.function_log_group


@jsii.implements(IAspect)
class _PipelineLayersCheck:
    """At synth, warn when a consumer's or worker's own function lacks the pipeline layers."""

    def __init__(self, owner: Construct, function: lambda_.Function) -> None:
        self.owner_path = owner.node.path
        self.function = function

    def visit(self, node: IConstruct) -> None:
        if node.node.path != self.owner_path or has_pipeline_layers(self.function):
            return
        Annotations.of(node).add_warning_v2(
            "cdk-event-pipeline:FunctionWithoutPipelineLayers",
            f"The given function {self.function.node.path} lacks the Powertools and cdk-event-pipeline "
            "runtime layers its handler may import: add them with "
            "PipelineFunction.add_pipeline_layers(fn) or layers=pipeline_layers(scope), or acknowledge "
            "this warning if the handler needs neither.",
        )

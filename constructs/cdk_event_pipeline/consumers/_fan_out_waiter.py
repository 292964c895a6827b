"""The waiter that makes a registered stream consumer ACTIVE before its resource policy is attached.

``AWS::Kinesis::StreamConsumer`` reports CREATE_COMPLETE while the consumer is still CREATING, and an
``AWS::Kinesis::ResourcePolicy`` on it then fails ("Consumer ... is not in ACTIVE status",
HandlerErrorCode AlreadyExists; cloudformation-coverage-roadmap #2442,
https://github.com/aws-cloudformation/cloudformation-coverage-roadmap/issues/2442). That policy is
written for every enhanced fan-out consumer of another account's function, so the library waits:

* an explicit ``DependsOn`` from the policy to the consumer (the workaround reported in #2442) adds
  nothing to the implicit ``Fn::GetAtt`` dependency the policy already has: it only worked by timing;
* aws-cdk PR #37108 (https://github.com/aws/aws-cdk/pull/37108) removed an ``AwsCustomResource``
  "waiter" from aws-cdk's own test because it called ``DescribeStreamConsumer`` once, without
  retrying, and now relies on CloudFormation retrying the policy, which it does not do for
  AlreadyExists;
* so a custom resource ``Custom::FanOutConsumerActive`` per consumer, served by one
  ``custom_resources.Provider`` per stack whose ``is_complete`` handler polls
  ``DescribeStreamConsumer`` until ``ConsumerStatus`` is ACTIVE (``lambdas/fan_out_waiter``), and
  the policy depends on it. The handler's role may call ``kinesis:DescribeStreamConsumer`` on the
  consumers' exact ARNs and write to the waiter's own log group, nothing else.

Every finding of cdk-nag on what the Provider framework brings is acknowledged here, on the one
resource it is about, with its reason.
"""

from __future__ import annotations

from typing import cast

from aws_cdk import CustomResource, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kinesis as kinesis
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import custom_resources as cr
from constructs import Construct, IConstruct

from .. import _defaults as d
from .._assets import bundled_code
from .._nag import acknowledge, acknowledge_resource

#: The waiter's id under the stack (one per stack serves every consumer in it).
WAITER_ID = "FanOutConsumerWaiter"
#: The custom resource type CloudFormation shows for each wait.
WAITER_RESOURCE_TYPE = "Custom::FanOutConsumerActive"
#: The handler directory under ``lambdas/`` and its module.
WAITER_CODE_DIR = "fan_out_waiter"
WAITER_MODULE = "fan_out_waiter_handler"
#: The one action the polling handler needs (Kinesis API reference, "DescribeStreamConsumer").
DESCRIBE_CONSUMER_ACTION = "kinesis:DescribeStreamConsumer"

_FRAMEWORK_INVOKES = (
    "The Provider framework (aws-cdk-lib custom_resources) grants lambda:InvokeFunction on the functions it calls "
    "and their versions (<function ARN>:*): this waiter's own functions, no other."
)
_FRAMEWORK_MEMORY = (
    "A function of aws-cdk-lib's Provider framework, which sets no memory (Lambda's default 128 MB): it only "
    "relays a CloudFormation request to the waiter's handlers, during deployments."
)
_STATE_MACHINE_LOGS = (
    "The waiter state machine logs to the waiter's log group: Step Functions' log delivery actions "
    "(logs:CreateLogDelivery, GetLogDelivery, UpdateLogDelivery, DeleteLogDelivery, ListLogDeliveries, "
    "PutResourcePolicy, DescribeResourcePolicies, DescribeLogGroups) accept no resource but '*' (Step Functions "
    "developer guide, 'Using CloudWatch Logs to log execution history in Step Functions', IAM policy for "
    "logging); aws-cdk-lib writes this statement for the state machine's role, which only Step Functions assumes."
)
_NO_TRACING = (
    "A deploy-time waiter that calls DescribeStreamConsumer every few seconds for at most a few minutes: X-Ray "
    "would trace nothing worth seeing, and would add xray:Put* on '*' to its roles."
)
_NO_DLQ = (
    "Invoked synchronously (by the Provider framework, which CloudFormation invokes): a function's dead-letter "
    "queue receives only failed asynchronous invocations. A failure is reported to CloudFormation."
)


class FanOutConsumerWaiter(Construct):
    """Waits at deploy time until registered stream consumers are ACTIVE (one per stack).

    Use :meth:`of` to get the stack's waiter and :meth:`wait_for` to add a wait for one consumer.

    Attributes:
        provider: The ``custom_resources.Provider`` serving every wait of the stack.
        handler_role: The role of the two handlers: ``kinesis:DescribeStreamConsumer`` on the
            exact ARN of each consumer waited for, and its log group.
        log_group: The log group of the handlers and the framework (retention: one month).
    """

    @classmethod
    def of(cls, scope: IConstruct) -> FanOutConsumerWaiter:
        """The waiter of ``scope``'s stack, made on first use."""
        stack = Stack.of(scope)
        existing = stack.node.try_find_child(WAITER_ID)
        if isinstance(existing, FanOutConsumerWaiter):
            return existing
        return cls(stack, WAITER_ID)

    def __init__(self, scope: Construct, id: str) -> None:
        super().__init__(scope, id)
        self.log_group = logs.LogGroup(self, "LogGroup", retention=d.LOG_RETENTION)
        self.handler_role = self._role("HandlerRole", "the fan-out consumer waiter's handlers")
        on_event = self._handler("OnEvent", "on_event")
        is_complete = self._handler("IsComplete", "is_complete")
        self.provider = cr.Provider(
            self,
            "Provider",
            on_event_handler=on_event,
            is_complete_handler=is_complete,
            query_interval=d.FAN_OUT_WAITER_QUERY_INTERVAL,
            total_timeout=d.FAN_OUT_WAITER_TIMEOUT,
            log_group=self.log_group,
            framework_on_event_role=self._role("FrameworkOnEventRole", "the waiter's Provider framework (onEvent)"),
            framework_complete_and_timeout_role=self._role(
                "FrameworkCompleteRole", "the waiter's Provider framework (isComplete, onTimeout)"),
            # Every event (AwsSolutions-SF1), without the execution data: the request holds a presigned URL.
            disable_waiter_state_machine_logging=False,
            waiter_state_machine_log_options=cr.LogOptions(
                destination=self.log_group, level=sfn.LogLevel.ALL, include_execution_data=False),
        )
        self._acknowledge_framework()

    def wait_for(self, consumer: kinesis.StreamConsumer) -> CustomResource:
        """A ``Custom::FanOutConsumerActive`` (child ``Active`` of ``consumer``) that completes once
        ``consumer`` is ACTIVE; make what needs an active consumer depend on it."""
        existing = consumer.node.try_find_child("Active")
        if isinstance(existing, CustomResource):
            return existing
        cfn = cast(kinesis.CfnStreamConsumer, consumer.node.default_child)
        arn = cfn.attr_consumer_arn
        self.handler_role.add_to_principal_policy(
            iam.PolicyStatement(actions=[DESCRIBE_CONSUMER_ACTION], resources=[arn])
        )
        resource = CustomResource(
            consumer,
            "Active",
            service_token=self.provider.service_token,
            resource_type=WAITER_RESOURCE_TYPE,
            properties={"ConsumerArn": arn},
        )
        # The handler must be allowed to describe this consumer before the first poll.
        resource.node.add_dependency(self.handler_role)
        return resource

    def _role(self, id: str, what: str) -> iam.Role:
        """A Lambda role without managed policies that may write only to the waiter's log group."""
        role = iam.Role(self, id, assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
                        description=f"Execution role of {what}")
        self.log_group.grant(role, "logs:CreateLogStream", "logs:PutLogEvents")
        return role

    def _handler(self, id: str, entry: str) -> lambda_.Function:
        """One of the two handlers (``on_event`` / ``is_complete`` of ``lambdas/fan_out_waiter``)."""
        return lambda_.Function(
            self,
            id,
            runtime=d.RUNTIME,
            architecture=d.ARCHITECTURE,
            code=bundled_code(WAITER_CODE_DIR),
            handler=f"{WAITER_MODULE}.{entry}",
            role=self.handler_role,
            log_group=self.log_group,
            memory_size=d.FAN_OUT_WAITER_MEMORY_MB,
            timeout=d.FAN_OUT_WAITER_HANDLER_TIMEOUT,
            description=f"cdk-event-pipeline: waits until fan-out consumers are ACTIVE ({entry})",
        )

    def _acknowledge_framework(self) -> None:
        """The findings on what the Provider framework brings, each on the one resource it is about."""
        stack = Stack.of(self)
        for child in self.node.find_all():
            if isinstance(child, lambda_.Function):
                acknowledge_resource(child, "Serverless::Serverless-LambdaTracing", _NO_TRACING)
                acknowledge_resource(child, "Serverless::Serverless-LambdaDLQ", _NO_DLQ)
                if child.node.scope is self.provider:
                    acknowledge_resource(child, "Serverless::Serverless-LambdaDefaultMemorySize", _FRAMEWORK_MEMORY)
            elif isinstance(child, iam.Policy):
                # The framework's and the state machine's roles invoke the waiter's functions, by ARN and ":*".
                for invoked in _invoked_functions(stack, child):
                    acknowledge(child, f"AwsSolutions::AwsSolutions-IAM5[Resource::<{invoked}.Arn>:*]",
                                _FRAMEWORK_INVOKES)
                if _allows_any_resource(stack, child):
                    acknowledge(child, "AwsSolutions::AwsSolutions-IAM5[Resource::*]", _STATE_MACHINE_LOGS)
            elif isinstance(child, sfn.CfnStateMachine):
                acknowledge(child, "AwsSolutions::AwsSolutions-SF2", _NO_TRACING)
                acknowledge(child, "Serverless::Serverless-StepFunctionStateMachineXray", _NO_TRACING)


def _allows_any_resource(stack: Stack, policy: iam.Policy) -> bool:
    """Whether a statement of ``policy`` has ``Resource: "*"`` (only the state machine's log delivery)."""
    return any(statement.get("Resource") == "*" for statement in stack.resolve(policy.document).get("Statement", []))


def _invoked_functions(stack: Stack, policy: iam.Policy) -> list[str]:
    """Logical ids of the functions ``policy`` allows ``lambda:InvokeFunction`` on as ``<ARN>:*``."""
    document = stack.resolve(policy.document)
    found: list[str] = []
    for statement in document.get("Statement", []):
        resources = statement.get("Resource", [])
        for resource in resources if isinstance(resources, list) else [resources]:
            parts = resource.get("Fn::Join", ["", []])[1] if isinstance(resource, dict) else []
            if len(parts) == 2 and parts[1] == ":*" and isinstance(parts[0], dict) and "Fn::GetAtt" in parts[0]:
                found.append(str(parts[0]["Fn::GetAtt"][0]))
    return found

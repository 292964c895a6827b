#!/usr/bin/env python3
"""The reference system, wired only with the library's constructs.

An HTTP API (a Lambda function URL) with ``PUT /items/{id}`` and ``GET /items/{id}``: a PUT
stores the body in S3 and the item in DynamoDB, sends ``job.created`` to the work queue and
puts an ordered audit record (partition key = item id) on the Kinesis stream. Consumers:

* **Worker** on the work queue (partial batch responses);
* **Audit** on the stream: logs ``[<partitionKey>] <payload>``;
* the order pipeline on the same stream: **InventoryUpdater** (batch 100, conditional writes,
  never oversells) and **FraudDetector** (batch 50), both idempotent;
* **Changes**: the items table's change stream;
* **Archive**: the stream to S3 through Firehose.

``cdk synth`` runs this file (see cdk.json). It makes no AWS call (no lookups, no STS) and the
stack is environment-agnostic, so the template is the same on every machine and ``cdk deploy``
needs only credentials and a bootstrapped account. Three rule packs run on every synth (cdk-nag's
AwsSolutions and Serverless packs, and the library's EventPipelineChecks); an unacknowledged error
fails it.
"""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from cdk_nag import AwsSolutionsChecks, ServerlessChecks
from constructs import Construct

from cdk_event_pipeline import EntityTable, EventStream, PipelineFunction, WorkQueue, acknowledge, bundled_code
from cdk_event_pipeline.nag import EventPipelineChecks

#: Only records of this type reach the order pipeline (Lambda event filtering on the JSON data:
#: the API's ``item.put`` audit records never invoke it). A record that matches no filter is
#: counted in the mapping's ``FilteredOutEventCount`` metric; it is not an error.
ORDER_FILTER = lambda_.FilterCriteria.filter({"data": {"type": ["order.placed"]}})


#: Default cap on concurrent executions of the API function when its URL is public.
PUBLIC_URL_RESERVED_CONCURRENCY = 10


class ReferenceStack(cdk.Stack):
    """The items API and its event pipeline.

    Args:
        scope: Parent construct.
        id: Stack id.
        public_url: Make the API's function URL public (auth ``NONE``) instead of ``AWS_IAM``.
            Default: False
        public_url_reserved_concurrency: Reserved concurrency of the API function when
            ``public_url`` is True (>= 1). Anyone can call a public URL: without a cap,
            unauthenticated callers could use up the account's regional concurrency and
            throttle every other function in it (the pipeline's consumers included); the cap
            also bounds the API's cost. Requests over the cap are throttled. Not applied with
            ``AWS_IAM`` auth (callers are authenticated). Lambda keeps at least 100 executions
            of the account unreserved, so the value must fit the account's quota at deploy time
            (https://docs.aws.amazon.com/lambda/latest/dg/configuration-concurrency.html).
            Default: 10
        **kwargs: Passed to ``cdk.Stack``.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        public_url: bool = False,
        public_url_reserved_concurrency: int = PUBLIC_URL_RESERVED_CONCURRENCY,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, id, **kwargs)
        concurrency = public_url_reserved_concurrency
        if not cdk.Token.is_unresolved(concurrency) and (
                isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1):
            raise ValueError(f"{self.node.path}: public_url_reserved_concurrency must be an integer >= 1 "
                             f"(given {public_url_reserved_concurrency!r})")

        # --- storage ----------------------------------------------------------------------
        # S3 delivers server access logs by bucket policy under the flag below (cdk.json sets it),
        # else by the log-delivery ACL, which needs ObjectWriter ownership: the app synthesizes
        # under either flag set (`python app.py` alone has no cdk.json context).
        logs_by_policy = cdk.FeatureFlags.of(self).is_enabled("@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy")
        self.access_logs = s3.Bucket(
            self, "AccessLogs",
            encryption=s3.BucketEncryption.S3_MANAGED,
            enforce_ssl=True,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=(
                s3.ObjectOwnership.BUCKET_OWNER_ENFORCED if logs_by_policy else s3.ObjectOwnership.OBJECT_WRITER
            ),
            versioned=True,  # a log object deleted or overwritten stays recoverable for 30 days (checkov CKV_AWS_21)
            lifecycle_rules=[
                s3.LifecycleRule(expiration=cdk.Duration.days(90), noncurrent_version_expiration=cdk.Duration.days(30)),
                s3.LifecycleRule(expired_object_delete_marker=True),
            ],
        )
        access_logs_cfn = self.access_logs.node.default_child
        assert isinstance(access_logs_cfn, s3.CfnBucket)
        acknowledge(access_logs_cfn, "AwsSolutions::AwsSolutions-S1",
                    "This bucket receives the server access logs of the other buckets; logging its own "
                    "access would log into itself.")
        self.bodies = s3.Bucket(
            self, "ItemBodies",
            encryption=s3.BucketEncryption.S3_MANAGED,
            enforce_ssl=True,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            versioned=True,
            server_access_logs_bucket=self.access_logs,
            server_access_logs_prefix="item-bodies/",
        )
        self.items = EntityTable(self, "Items", stream=dynamodb.StreamViewType.NEW_AND_OLD_IMAGES)
        self.inventory_table = EntityTable(
            self, "Inventory", partition_key=dynamodb.Attribute(name="sku", type=dynamodb.AttributeType.STRING)
        )

        # --- the stream and the work queue -------------------------------------------------
        self.events = EventStream(self, "Events", retention=cdk.Duration.days(7))
        self.jobs = WorkQueue(self, "Jobs")

        # --- the API: PUT/GET /items/{id} behind a function URL ------------------------------
        self.api = PipelineFunction(
            self, "Api", code=bundled_code("api"), handler="api_handler.handler", service_name="items-api",
            reserved_concurrent_executions=concurrency if public_url else None,
        )
        api_fn = self.api
        api_cfn = api_fn.node.default_child
        assert isinstance(api_cfn, lambda_.CfnFunction)
        acknowledge(api_cfn, "Serverless::Serverless-LambdaDLQ",
                    "Invoked synchronously through its function URL: an error is the HTTP answer to the "
                    "caller (who retries the PUT), never an asynchronous event a dead-letter queue could keep.")
        api_fn.add_environment("BUCKET_NAME", self.bodies.bucket_name)
        iam.Grant.add_to_principal(
            grantee=api_fn, actions=["s3:PutObject", "s3:GetObject"],
            resource_arns=[self.bodies.arn_for_objects("items/*")],
        )
        bodies_cfn = self.bodies.node.default_child
        assert isinstance(bodies_cfn, s3.CfnBucket)
        bodies_id = self.get_logical_id(bodies_cfn)
        api_policy = self.api.execution_role.node.find_child("DefaultPolicy").node.default_child
        assert isinstance(api_policy, iam.CfnPolicy)
        acknowledge(api_policy, f"AwsSolutions::AwsSolutions-IAM5[Resource::<{bodies_id}.Arn>/items/*]",
                    "Object ARNs need a wildcard: the API reads and writes only the objects under items/ "
                    "of its own bucket, with PutObject and GetObject only.")
        self.items.connect(api_fn, "dynamodb:PutItem", "dynamodb:GetItem")
        self.jobs.connect_producer(api_fn)
        self.events.connect_producer(api_fn)
        self.url = api_fn.add_function_url(
            auth_type=lambda_.FunctionUrlAuthType.NONE if public_url else lambda_.FunctionUrlAuthType.AWS_IAM,
        )
        cdk.CfnOutput(self, "ApiUrl", value=self.url.url)

        # --- consumers --------------------------------------------------------------------
        self.worker = self.jobs.add_worker("Worker", code=bundled_code("worker"), handler="worker_handler.handler")
        self.items.connect(self.worker, "dynamodb:UpdateItem")

        self.audit = self.events.add_consumer("Audit", code=bundled_code("audit"), handler="audit_handler.handler")
        self.inventory = self.events.add_consumer(
            "InventoryUpdater", code=bundled_code("orders"), handler="inventory_handler.handler",
            batch_size=100, idempotency=True, filters=[ORDER_FILTER],
        )
        self.inventory_table.connect(self.inventory, "dynamodb:UpdateItem", env_var="INVENTORY_TABLE_NAME")
        self.fraud = self.events.add_consumer(
            "FraudDetector", code=bundled_code("orders"), handler="fraud_handler.handler",
            batch_size=50, idempotency=True, filters=[ORDER_FILTER],
        )
        self.changes = self.items.add_change_consumer(
            "Changes", code=bundled_code("changes"), handler="changes_handler.handler",
        )
        self.archive = self.events.add_archive("Archive", access_logs_bucket=self.access_logs)


def build_app(app: cdk.App | None = None) -> cdk.App:
    """Create the reference app (tests call this with an App that carries cdk.json's context)."""
    app = app if app is not None else cdk.App()
    ReferenceStack(
        app, "EventPipelineReference",
        description="cdk-event-pipeline reference system",
        public_url=app.node.try_get_context("publicApiUrl") == "true",
    )
    add_rule_packs(app)
    return app


def add_rule_packs(app: cdk.App) -> None:
    """The rule packs the reference app is checked with: cdk-nag's AwsSolutions and Serverless, and ours."""
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app), ServerlessChecks(app), EventPipelineChecks(app))


if __name__ == "__main__":
    build_app().synth()

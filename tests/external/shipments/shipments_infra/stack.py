"""The Shipments stack: cdk-event-pipeline's constructs mixed with plain aws-cdk-lib resources.

Each kind of resource is passed to the other:

* aws-cdk-lib into the library: an existing ``kinesis.Stream`` wrapped by the team's
  :class:`~shipments_infra.streams.ShipmentStream` subclass; a plain ``lambda_.Function`` as a
  consumer (``function=``) and as a producer of a stream, a queue and a table; a plain
  ``sqs.Queue`` as a consumer's dead-letter queue; the on-call ``sns.Topic`` for every alarm.
* the library into aws-cdk-lib: a consumer's function granted ``put`` on a plain bucket; the
  library's metrics in a plain CloudWatch alarm.
"""

from __future__ import annotations

from pathlib import Path

import aws_cdk as cdk
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_kinesis as kinesis
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from cdk_event_pipeline import EntityTable, PipelineMonitoring, WorkQueue, code_from_dir
from constructs import Construct

from shipments_infra.streams import ShipmentStream

LAMBDAS = Path(__file__).resolve().parent.parent / "lambdas"
#: The team's own functions (the ones not built by the library).
RUNTIME = lambda_.Runtime.PYTHON_3_13
STREAM_RETENTION = cdk.Duration.hours(48)


class ShipmentsStack(cdk.Stack):
    """Shipment events on a Kinesis stream, printed as labels and tracked; returns on a queue."""

    def __init__(self, scope: Construct, id: str) -> None:
        super().__init__(scope, id)

        # Every alarm of the library's constructs goes to the team's existing on-call topic.
        self.on_call = sns.Topic(self, "OnCall", enforce_ssl=True)
        PipelineMonitoring.configure(self, topic=self.on_call, alarm_name_prefix="shipments")

        # --- an existing stream, wrapped ----------------------------------------------------
        self.raw_stream = kinesis.Stream(
            self, "ShipmentEvents",
            stream_mode=kinesis.StreamMode.ON_DEMAND,
            retention_period=STREAM_RETENTION,
            encryption=kinesis.StreamEncryption.MANAGED,
        )
        self.events = ShipmentStream(
            self, "Events", stream=self.raw_stream, retention_of_existing=STREAM_RETENTION
        )

        # --- the label printer: a library-built consumer writing to a plain bucket ------------
        self.labels = s3.Bucket(
            self, "Labels",
            encryption=s3.BucketEncryption.S3_MANAGED,
            enforce_ssl=True,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
        )
        self.printer = self.events.add_consumer(
            "LabelPrinter",
            code=code_from_dir(LAMBDAS / "label_printer"),
            handler="label_handler.handler",
            batch_size=50,
            environment={"LABEL_BUCKET": self.labels.bucket_name},
        )
        self.labels.grant_put(self.printer.function)

        # --- the tracker: the team's own function and dead-letter queue as a consumer ---------
        self.tracker_function = lambda_.Function(
            self, "TrackerFunction",
            runtime=RUNTIME,
            architecture=lambda_.Architecture.ARM_64,
            code=lambda_.Code.from_asset(str(LAMBDAS / "tracker"), exclude=["**/__pycache__"]),
            handler="tracker_handler.handler",
        )
        self.tracker_dlq = sqs.Queue(
            self, "TrackerDeadLetters",
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            retention_period=cdk.Duration.days(14),
        )
        self.tracker = self.events.add_consumer(
            "Tracker", function=self.tracker_function, dead_letter_queue=self.tracker_dlq
        )

        # --- the dispatcher: a plain function producing to a stream, a queue and a table ------
        self.returns = WorkQueue(self, "Returns")
        self.shipments = EntityTable(self, "Shipments")
        self.dispatcher = lambda_.Function(
            self, "Dispatcher",
            runtime=RUNTIME,
            architecture=lambda_.Architecture.ARM_64,
            code=lambda_.Code.from_asset(str(LAMBDAS / "dispatcher"), exclude=["**/__pycache__"]),
            handler="dispatch_handler.handler",
        )
        self.events.connect_producer(self.dispatcher)
        self.returns.connect_producer(self.dispatcher)
        self.shipments.connect_writer(self.dispatcher)

        # --- the library's metrics in the team's own alarm -------------------------------------
        self.labels_late = cloudwatch.Alarm(
            self, "LabelsLate",
            metric=self.printer.metric_iterator_age_max(),
            threshold=cdk.Duration.minutes(15).to_milliseconds(),
            evaluation_periods=3,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            alarm_description="Shipment labels are printed more than 15 minutes after dispatch",
        )

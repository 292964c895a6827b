"""Every default of the library, as a named constant, with the reason when it is not AWS's own.

Changing a value here changes the synthesized template of every user: treat it as a breaking
change and say so in the changelog.
"""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs

from event_pipeline_runtime import contract

# --- Lambda functions built by the function factory -------------------------------------------

#: The newest Python runtime; the pinned Powertools layer is published for it.
RUNTIME = lambda_.Runtime.PYTHON_3_14
#: The Python runtimes the library's runtime layer is built for (``event_pipeline_runtime``
#: needs Python 3.11+); aws-cdk-lib refuses a layer on a function of another runtime.
RUNTIME_LAYER_RUNTIMES = (
    lambda_.Runtime.PYTHON_3_11,
    lambda_.Runtime.PYTHON_3_12,
    lambda_.Runtime.PYTHON_3_13,
    lambda_.Runtime.PYTHON_3_14,
)
#: Graviton: ~20% cheaper per GB-second than x86_64 for the same code; our code is pure Python.
ARCHITECTURE = lambda_.Architecture.ARM_64
#: AWS's default is 128 MB, which also gets the smallest CPU share: JSON decoding of a
#: 100-record batch is CPU bound, and 256 MB halves its duration for about the same cost.
MEMORY_SIZE_MB = 256
#: AWS's default is 3 s, too short for a 100-record batch that writes to DynamoDB.
TIMEOUT = Duration.seconds(30)
#: AWS keeps logs forever by default; a month is enough to debug and bounds the cost.
LOG_RETENTION = logs.RetentionDays.ONE_MONTH

#: Powertools for AWS Lambda (Python): the PyPI release the tests run against and the layer the
#: functions run with. The layer version is the one AWS published for this release (it is the
#: same number in every commercial region and for every Python version).
POWERTOOLS_VERSION = "3.23.0"
POWERTOOLS_LAYER_VERSION = 27
#: AWS's account that publishes the Powertools layers in the commercial partition.
POWERTOOLS_LAYER_ACCOUNT = "017000801446"

# --- Kinesis Data Streams ----------------------------------------------------------------------

#: AWS's own default and minimum retention.
STREAM_RETENTION = Duration.hours(24)
STREAM_RETENTION_MIN_HOURS = 24
STREAM_RETENTION_MAX_HOURS = 8760
SHARD_COUNT_MIN = 1
SHARD_COUNT_MAX = 100_000  # bounded in practice by the account's shard quota
#: Environment variables the runtime reads (defined once, in the runtime's contract module):
#: the stream name a producer writes to; the runtime producer's ``compress`` / ``aggregate``
#: defaults ("true" or "false"), set by ``EventStream.connect_producer``; its record limit
#: (bytes), set by ``connect_producer`` when the stream's ``max_record_size`` is set.
STREAM_NAME_ENV = contract.STREAM_NAME_ENV
PRODUCER_COMPRESS_ENV = contract.COMPRESS_ENV
PRODUCER_AGGREGATE_ENV = contract.AGGREGATE_ENV
PRODUCER_MAX_RECORD_BYTES_ENV = contract.MAX_RECORD_BYTES_ENV
#: Kinesis' range for a stream's maximum record size (CreateStream / UpdateMaxRecordSize
#: ``MaxRecordSizeInKiB``): the runtime's limits (``event_pipeline_runtime.contract``, with their
#: doc pages) in KiB; AWS's default is 1024 KiB (1 MiB).
STREAM_MAX_RECORD_SIZE_MIN_KIB = contract.MAX_RECORD_BYTES // 1024
STREAM_MAX_RECORD_SIZE_MAX_KIB = contract.MAX_RECORD_BYTES_LIMIT // 1024
STREAM_DEFAULT_MAX_RECORD_SIZE_KIB = contract.MAX_RECORD_BYTES // 1024
#: Warm throughput of an on-demand stream (``WarmThroughputMiBps``): at least 0, and by default
#: an account may not scale an on-demand stream past 10 GiB/s (UpdateStreamWarmThroughput).
WARM_THROUGHPUT_MIN_MIBPS = 0
WARM_THROUGHPUT_MAX_MIBPS = 10240

# --- Lambda invocation payloads -------------------------------------------------------------------

#: Lambda's payload limit for a synchronous invocation, which an event source mapping's batch
#: must fit ("6 MB"; enforced as 6 MiB).
LAMBDA_SYNC_PAYLOAD_BYTES = 6 * 1024 * 1024
#: What one Kinesis record adds to a Lambda event besides its base64 data: the JSON keys, the
#: partition key (up to 256 characters), the sequence number, the event id, the stream and role
#: ARNs (~900 bytes measured with the longest key and stream name; rounded up).
KINESIS_EVENT_RECORD_OVERHEAD_BYTES = 1024
#: ``{"Records": []}`` around the records.
LAMBDA_EVENT_ENVELOPE_BYTES = 16

# --- Recursion guard (hop count) -------------------------------------------------------------------

#: Environment variable the runtime's ``pipeline_handler`` reads its hop limit from, its default
#: hop limit and the range ``max_hops`` accepts (the runtime's, ``event_pipeline_runtime.contract``).
MAX_HOPS_ENV = contract.MAX_HOPS_ENV
MAX_HOPS = contract.DEFAULT_MAX_HOPS
MAX_HOPS_MIN = 0
MAX_HOPS_MAX = contract.MAX_HOPS_LIMIT
#: Environment variable a consumer's ``pipeline_handler`` reads its idempotency table from.
IDEMPOTENCY_TABLE_ENV = contract.IDEMPOTENCY_TABLE_ENV

# --- SnapStart -----------------------------------------------------------------------------------

#: The alias a SnapStart function's published version gets; event source mappings invoke it.
SNAP_START_ALIAS_NAME = "live"
#: Regions without Lambda SnapStart: "Lambda SnapStart is available in all commercial Regions except
#: Asia Pacific (New Zealand) and Asia Pacific (Taipei)" (Lambda developer guide, "Improving startup
#: performance with Lambda SnapStart", Supported Regions,
#: https://docs.aws.amazon.com/lambda/latest/dg/snapstart.html#snapstart-supported-regions; codes from
#: botocore's endpoints.json). The page names commercial Regions only: China and GovCloud are not listed
#: either way, so they are not warned about.
SNAP_START_UNSUPPORTED_REGIONS = ("ap-east-2", "ap-southeast-6")

# --- Event source mappings (of every consumer and worker) --------------------------------------

#: Where ``AWS::Lambda::EventSourceMapping`` rejects ``Tags``, by partition or region. aws-cdk-lib
#: (since 2.159) renders stack and ``Tags.of(...)`` tags on every mapping, and the deployment then
#: fails: in cn-north-1 "Model validation failed (#: extraneous key [Tags] is not permitted)"
#: (https://github.com/aws/aws-cdk/issues/31532, and
#: https://github.com/aws-cloudformation/cloudformation-coverage-roadmap/issues/2137), in GovCloud
#: (https://github.com/aws/aws-cdk/issues/31965) and, reported, in eu-west-2 "Unsupported resource
#: type for tagging or invalid ARN" (https://github.com/aws/aws-cdk/issues/31774); all three open.
#: The whole China and GovCloud partitions are listed (their regions share the resource provider);
#: eu-west-2 alone in the commercial partition. The library's mappings in a stack whose region is
#: one of these (or in one of these partitions) synthesize without ``Tags``; other resources keep
#: theirs. Drop an entry once its issue is closed.
ESM_TAGS_REJECTED_IN = frozenset({"aws-cn", "aws-us-gov", "eu-west-2"})

# --- Stream consumers (Kinesis and DynamoDB Streams event source mappings) ---------------------

#: AWS's default for Kinesis and DynamoDB Streams.
BATCH_SIZE = 100
BATCH_SIZE_MIN = 1
BATCH_SIZE_MAX = 10_000
DYNAMODB_BATCH_SIZE_MAX = 10_000
MAX_BATCHING_WINDOW_MAX_SECONDS = 300
#: AWS's default is -1 (retry until the record expires): one poison record then blocks its
#: shard for the whole retention window. 10 attempts are enough for bisect-on-error to isolate
#: one bad record in a batch of up to 1,024 (2**10) even if every split counted as an attempt,
#: and bound the time a shard can stall to minutes, not days.
RETRY_ATTEMPTS = 10
RETRY_ATTEMPTS_MIN = 0
RETRY_ATTEMPTS_MAX = 10_000
#: Lambda's bounds for MaximumRecordAgeInSeconds (besides -1, infinite, which we never use).
MAX_RECORD_AGE_MIN_SECONDS = 60
MAX_RECORD_AGE_MAX_SECONDS = 7 * 24 * 3600
#: Default record age limit = this fraction of the stream's retention: a record sent to the
#: on-failure destination at that age still stays readable in the stream for the other half of
#: the retention window, long enough to redrive it from the SQS metadata.
MAX_RECORD_AGE_FRACTION_OF_RETENTION = 0.5
PARALLELIZATION_FACTOR = 1
PARALLELIZATION_FACTOR_MIN = 1
PARALLELIZATION_FACTOR_MAX = 10
TUMBLING_WINDOW_MAX_SECONDS = 900

# --- Queues ------------------------------------------------------------------------------------

#: SQS's maximum: keep failure records as long as SQS allows.
DLQ_RETENTION = Duration.days(14)
DLQ_RETENTION_MAX_SECONDS = 14 * 24 * 3600

# --- Work queues (WorkQueue) -------------------------------------------------------------------

#: Environment variable a producer reads the queue URL from.
QUEUE_URL_ENV = contract.QUEUE_URL_ENV
#: Set to ``"true"`` on a producer connected with ``WorkQueue.connect_producer(fn, fair=True)``.
QUEUE_FAIR_ENV = contract.QUEUE_FAIR_ENV
#: A message that fails this many receives goes to the queue's DLQ. AWS has no default (no
#: redrive at all); 5 lets a message survive a few throttles or a transient downstream outage
#: without letting one poison message loop for its whole retention.
MAX_RECEIVE_COUNT = 5
MAX_RECEIVE_COUNT_MIN = 1
MAX_RECEIVE_COUNT_MAX = 1000
#: SQS's own default retention (4 days); range 60 seconds - 14 days.
QUEUE_RETENTION = Duration.days(4)
QUEUE_RETENTION_MIN_SECONDS = 60
QUEUE_RETENTION_MAX_SECONDS = 14 * 24 * 3600
#: SQS's bounds for a queue's visibility timeout.
VISIBILITY_TIMEOUT_MIN_SECONDS = 0
VISIBILITY_TIMEOUT_MAX_SECONDS = 12 * 3600
#: AWS's guidance for Lambda SQS event sources: visibility timeout >= 6 x the function timeout
#: + the mapping's MaximumBatchingWindowInSeconds, so Lambda can retry a batch that was throttled
#: while a previous one was still running (Lambda developer guide, "Using Lambda with Amazon SQS",
#: https://docs.aws.amazon.com/lambda/latest/dg/with-sqs.html, and "Configuring a queue to use with
#: Lambda", https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-configure.html; issue 17 item 3).
VISIBILITY_TIMEOUT_WORKER_FACTOR = 6
#: AWS's default for SQS event sources; without a batching window 10 is also the maximum.
QUEUE_BATCH_SIZE = 10
QUEUE_BATCH_SIZE_MAX_WITHOUT_WINDOW = 10
QUEUE_BATCH_SIZE_MAX = 10_000
#: FIFO queues: batches of at most 10 and no batching window.
FIFO_BATCH_SIZE_MAX = 10
#: Lambda's bounds for ScalingConfig.MaximumConcurrency of an SQS event source.
MAX_CONCURRENCY_MIN = 2
MAX_CONCURRENCY_MAX = 1000
#: Provisioned mode of an SQS event source mapping (ProvisionedPollerConfig): minimum pollers
#: 2-200, maximum pollers 2-10,000. Source: the AWS::Lambda::EventSourceMapping schema shipped in
#: cfn-lint 1.58 (cfnlint/data/schemas/resources/fda57d3016dc05c0.json, ProvisionedPollerConfig:
#: MaximumPollers "For Amazon SQS event source mappings, the accepted range is between 2 and
#: 10,000", MinimumPollers maximum 200, "minimum 2 required" for SQS) and the Lambda API reference,
#: ProvisionedPollerConfig. The 2,000 of an older guide is the Amazon MSK / self-managed Kafka
#: maximum (1-2,000), not SQS's (issue 17 item 4). SQS only: Kinesis and DynamoDB Streams mappings
#: have no provisioned mode, so there are no stream poller limits here.
SQS_MIN_POLLERS_MIN = 2
SQS_MIN_POLLERS_MAX = 200
SQS_MAX_POLLERS_MIN = 2
SQS_MAX_POLLERS_MAX = 10_000

# --- Entity tables (EntityTable) ---------------------------------------------------------------

#: Environment variable a reader or writer reads the table name from.
TABLE_NAME_ENV = contract.TABLE_NAME_ENV
#: The partition key when none is given: a string ``id``.
PARTITION_KEY_NAME = "id"
#: The stream view a change consumer gets when the table had no stream: both images, so a
#: consumer can tell what changed without reading the table again.
CHANGE_STREAM_VIEW = dynamodb.StreamViewType.NEW_AND_OLD_IMAGES
#: DynamoDB Streams keep records 24 hours; this cannot be changed.
DYNAMODB_STREAM_RETENTION = Duration.hours(24)

# --- Stream archive (StreamArchive) ------------------------------------------------------------

ARCHIVE_PREFIX = "archive/"
ARCHIVE_ERROR_PREFIX = "archive-errors/"
#: Firehose's own default interval; range 0-900 seconds.
ARCHIVE_BUFFERING_INTERVAL = Duration.seconds(300)
ARCHIVE_BUFFERING_INTERVAL_MAX_SECONDS = 900
#: Firehose's default is 5 MiB; 64 MiB objects mean ~13x fewer S3 PUTs and far fewer small
#: objects for Athena or a replay to list, while the 300 s interval still bounds the delay.
ARCHIVE_BUFFERING_SIZE_MIB = 64
ARCHIVE_BUFFERING_SIZE_MIN_MIB = 1
ARCHIVE_BUFFERING_SIZE_MAX_MIB = 128
#: S3 accepts a transition to STANDARD_IA no earlier than 30 days after creation; archived
#: events are rarely read after a month.
ARCHIVE_INFREQUENT_ACCESS_AFTER = Duration.days(30)
#: Objects must stay 30 days in STANDARD_IA before S3 moves them to GLACIER.
ARCHIVE_GLACIER_AFTER = Duration.days(90)
ARCHIVE_MIN_DAYS_IN_INFREQUENT_ACCESS = 30
#: Parts of a failed multipart upload are billed until aborted; Firehose never resumes one.
ARCHIVE_ABORT_INCOMPLETE_UPLOADS_AFTER = Duration.days(7)
#: Lambda's own timeout for a function created without one (used to check a given function).
LAMBDA_SERVICE_DEFAULT_TIMEOUT = Duration.seconds(3)

# --- The fan-out consumer waiter (consumers/_fan_out_waiter.py) ---------------------------------

#: How often the waiter asks DescribeStreamConsumer whether a new consumer is ACTIVE (the Provider
#: framework's query interval; its own default is 5 seconds). DescribeStreamConsumer allows 20 calls
#: per second per stream (Kinesis API reference), far above one call per consumer every 5 seconds.
FAN_OUT_WAITER_QUERY_INTERVAL = Duration.seconds(5)
#: How long the waiter waits for a consumer to become ACTIVE before CloudFormation gets FAILED and the
#: stack rolls back. A registration normally completes in seconds; the Provider framework's own
#: default (30 minutes) would keep a broken deployment waiting for half an hour.
FAN_OUT_WAITER_TIMEOUT = Duration.minutes(10)
#: One DescribeStreamConsumer call per invocation: Lambda's minimum memory is enough.
FAN_OUT_WAITER_MEMORY_MB = 128
#: One call with botocore's retries (legacy mode: up to 5 attempts) fits well within it.
FAN_OUT_WAITER_HANDLER_TIMEOUT = Duration.seconds(30)

# --- Monitoring (PipelineMonitoring and the alarms of every construct) -------------------------

#: Period of every alarm on a gauge or an error count: one period long enough for every
#: Lambda, Kinesis and SQS metric below to have a datapoint; one period with an error is worth
#: a look.
ALARM_PERIOD = Duration.minutes(5)
ALARM_EVALUATION_PERIODS = 1
#: Errors, throttles, dropped events, on-failure deliveries, DLQ messages: one is one too many.
ALARM_COUNT_THRESHOLD = 1
#: Stream write/read throttling and PutRecords failures: the producer retries them, so one
#: burst is expected; alarm when 3 of 5 one-minute periods saw any (sustained throttling).
STREAM_THROTTLE_ALARM_PERIOD = Duration.minutes(1)
STREAM_THROTTLE_ALARM_EVALUATION_PERIODS = 5
STREAM_THROTTLE_ALARM_DATAPOINTS = 3
#: Stream iterator age (oldest record any GetRecords reader is at) alarms at half the
#: retention: the slowest reader still has the other half of the window before records expire.
STREAM_ITERATOR_AGE_ALARM_FRACTION_OF_RETENTION = 0.5
#: Consumer iterator age alarms at half of the consumer's max_record_age (by default a quarter
#: of the retention): well before Lambda starts sending records to the on-failure destination.
CONSUMER_ITERATOR_AGE_ALARM_FRACTION_OF_MAX_RECORD_AGE = 0.5
#: SQS's default visibility timeout, assumed when a queue's is unknown.
SQS_DEFAULT_VISIBILITY_TIMEOUT_SECONDS = 30
#: Floor of the oldest-message alarm: one alarm period.
QUEUE_AGE_ALARM_MIN_SECONDS = 300
#: The alarm topic's key is deleted this long (KMS's minimum) after the stack removes it.
MONITORING_KEY_PENDING_WINDOW = Duration.days(7)
#: Time range a dashboard opens with.
DASHBOARD_DEFAULT_INTERVAL = Duration.hours(3)

"""DynamoDB Streams fidelity scenario (AWS Lambda Developer Guide: DynamoDB Streams error
handling and on-failure destinations), run through the local runner on a handler."""

from __future__ import annotations

from cdk_event_pipeline.local import RETRIES_EXHAUSTED

from .assembly_builder import TemplateBuilder
from .conftest import drain


def test_dynamodb_stream_bisect_isolates_the_poison_change_with_ddb_batch_info(deploy) -> None:
    builder = TemplateBuilder()
    builder.table("Items", stream="NEW_AND_OLD_IMAGES")
    dlq = builder.queue("DeadLetterQueue")
    function = builder.function("Consumer", "scenario_handler.raise_on_poison")
    builder.mapping("Mapping", function, {"Fn::GetAtt": ["Items", "StreamArn"]}, BatchSize=10,
                    StartingPosition="TRIM_HORIZON", BisectBatchOnFunctionError=True, MaximumRetryAttempts=2,
                    DestinationConfig={"OnFailure": {"Destination": dlq}})
    runner = deploy(builder)
    client = runner.client("dynamodb")
    name = runner.resource("Items").ref
    for i in range(10):
        client.put_item(TableName=name, Item={"id": {"S": f"i-{i}"}, "poison": {"BOOL": i == 3}})

    stats = runner.run(max_invocations=200)

    assert stats.idle
    processed = runner.function("Consumer").module.PROCESSED
    assert len(processed) == len(set(processed)) == 9  # every change but the poison one, once each
    messages = drain(runner, "DeadLetterQueue")
    assert len(messages) == 1
    info = messages[0]["DDBStreamBatchInfo"]
    assert info["startSequenceNumber"] == info["endSequenceNumber"]
    assert info["startSequenceNumber"] not in processed
    assert info["batchSize"] == 1
    assert info["streamArn"] == runner.resource("Items").attributes["StreamArn"]
    assert messages[0]["requestContext"]["condition"] == RETRIES_EXHAUSTED
    assert "KinesisBatchInfo" not in messages[0]

"""DynamoDB Streams scenario (AWS Lambda Developer Guide: DynamoDB Streams error handling and
on-failure destinations), run through the local runner on a handler."""

from __future__ import annotations

from cdk_event_pipeline.local import RETRIES_EXHAUSTED

from .assembly_builder import TemplateBuilder


def test_dynamodb_stream_bisect_isolates_the_poison_change_with_ddb_batch_info(deploy) -> None:
    builder = TemplateBuilder()
    builder.table("Items", stream="NEW_AND_OLD_IMAGES")
    dlq = builder.queue("DeadLetterQueue")
    function = builder.function("Consumer", "scenario_handler.raise_on_poison")
    builder.mapping("Mapping", function, {"Fn::GetAtt": ["Items", "StreamArn"]}, BatchSize=10,
                    StartingPosition="TRIM_HORIZON", BisectBatchOnFunctionError=True, MaximumRetryAttempts=2,
                    DestinationConfig={"OnFailure": {"Destination": dlq}})
    pipeline = deploy(builder)
    pipeline.write_items("Items", [{"id": f"i-{i}", "poison": i == 3} for i in range(10)])

    pipeline.run_until_idle()

    processed = pipeline.function("Consumer").module.PROCESSED
    assert len(processed) == len(set(processed)) == 9  # every change but the poison one, once each
    (message,) = pipeline.failures("Mapping")
    info = message["DDBStreamBatchInfo"]
    assert info["startSequenceNumber"] == info["endSequenceNumber"]
    assert info["startSequenceNumber"] not in processed
    assert info["batchSize"] == 1
    assert info["streamArn"] == pipeline.resource("Items", "table").attributes["StreamArn"]
    assert message["requestContext"]["condition"] == RETRIES_EXHAUSTED
    assert "KinesisBatchInfo" not in message
    poison = next(inv for inv in pipeline.invocations("Mapping") if inv.ids == [info["startSequenceNumber"]])
    assert poison.records[0]["NewImage"]["poison"] == {"BOOL": True}

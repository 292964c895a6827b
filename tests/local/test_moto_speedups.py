"""The in-process endpoint's speed-ups change nothing moto answers.

The same script of calls (DynamoDB conditional writes and update expressions of every kind,
their errors, a transaction, queries and scans with filters, the table's DynamoDB Streams
records, Kinesis and SQS) runs twice: over HTTP against a moto server in a *separate process*
(moto as shipped plus the adapter's corrections only, ``_moto.CORRECTIONS``, which change answers
on purpose: the patches live only in the process that applies them), and in this process through
the runner's endpoint (answered in-process, speed-ups and corrections applied). Every
response, error and stream record must be the same once the values moto makes up per request
(request ids, dates, message ids, receipt handles) are set aside. Expressions recur with
different values and names, so the caches are hit, and missed, on the way.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from cdk_event_pipeline.local import _moto
from cdk_event_pipeline.local._moto import _conditions, _dispatch, _update_expressions

TABLE = "Speedups"
VOLATILE = {"ResponseMetadata", "ApproximateCreationDateTime", "ApproximateArrivalTimestamp", "MessageId",
            "ReceiptHandle", "SequenceNumber", "eventID", "NextShardIterator", "ShardIterator", "CreationDateTime",
            "TableId", "TableArn", "LatestStreamArn", "LatestStreamLabel", "StreamArn", "StreamLabel",
            "StreamCreationRequestDateTime", "Attributes_SentTimestamp", "MillisBehindLatest",
            "StreamCreationTimestamp", "ChildShards",
            "SizeBytes"}  # a stream record's SizeBytes is the length of its JSON, creation time included


def _normal(value: Any) -> Any:
    """Drop what moto makes up per request or per run; keep everything else."""
    if isinstance(value, dict):
        return {k: _normal(v) for k, v in value.items() if k not in VOLATILE and not k.endswith("Timestamp")}
    if isinstance(value, list):
        return [_normal(v) for v in value]
    return value


def _call(client: Any, operation: str, **kwargs: Any) -> Any:
    try:
        return {"ok": _normal(getattr(client, operation)(**kwargs))}
    except ClientError as exc:
        error = exc.response.get("Error", {})
        extra = {k: _normal(v) for k, v in exc.response.items() if k not in ("Error", "ResponseMetadata")}
        return {"error": error.get("Code"), "message": error.get("Message"), **extra}


def _n(value: int | str) -> dict[str, str]:
    return {"N": str(value)}


def _script(clients: dict[str, Any]) -> list[Any]:
    """Run the calls; return every (normalized) answer in order."""
    ddb, kinesis, sqs = clients["dynamodb"], clients["kinesis"], clients["sqs"]
    streams = clients["dynamodbstreams"]
    out: list[Any] = []
    out.append(_call(ddb, "create_table", TableName=TABLE, BillingMode="PAY_PER_REQUEST",
                     KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"},
                                {"AttributeName": "sk", "KeyType": "RANGE"}],
                     AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                                           {"AttributeName": "sk", "AttributeType": "N"}],
                     StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"}))
    idem = ("attribute_not_exists(#id) OR #expiry < :now OR "
            "(#status = :inprogress AND attribute_exists(#ipe) AND #ipe < :now_ms)")
    names = {"#id": "pk", "#expiry": "expiration", "#status": "status", "#ipe": "in_progress_expiration"}
    for round_ in range(3):  # the same expressions again, with other values: cache hits must not change answers
        for i in range(6):
            key = {"pk": {"S": f"k-{i % 4}"}, "sk": _n(i % 2)}
            item = {**key, "expiration": _n(1000 + 10 * round_ + i), "status": {"S": "INPROGRESS"},
                    "in_progress_expiration": _n(5000 + i), "tags": {"SS": ["a", f"t{i}"]},
                    "doc": {"M": {"list": {"L": [_n(1), {"S": "x"}]}, "n": _n(i)}}}
            out.append(_call(ddb, "put_item", TableName=TABLE, Item=item, ConditionExpression=idem,
                             ExpressionAttributeNames=names, ReturnValuesOnConditionCheckFailure="ALL_OLD",
                             ExpressionAttributeValues={":now": _n(1003 + 7 * round_), ":now_ms": _n(5002 + round_),
                                                        ":inprogress": {"S": "INPROGRESS"}}))
            out.append(_call(ddb, "update_item", TableName=TABLE, Key=key,
                             UpdateExpression="SET #s = #s - :q, doc.n = doc.n + :one, doc.#l[0] = :q",
                             ConditionExpression="#s >= :q OR attribute_not_exists(#s)",
                             ExpressionAttributeNames={"#s": "stock", "#l": "list"},
                             ExpressionAttributeValues={":q": _n(i + round_), ":one": _n(1)},
                             ReturnValues="UPDATED_NEW", ReturnValuesOnConditionCheckFailure="ALL_OLD"))
            out.append(_call(ddb, "update_item", TableName=TABLE, Key=key,
                             UpdateExpression="SET stock = if_not_exists(stock, :zero) + :q, hist = "
                                              "list_append(if_not_exists(hist, :empty), :h) REMOVE gone ADD seen :one "
                                              "DELETE tags :t",
                             ExpressionAttributeValues={":zero": _n(0), ":q": _n(10 * i), ":empty": {"L": []},
                                                        ":h": {"L": [_n(round_)]}, ":one": _n(1), ":t": {"SS": ["a"]}},
                             ReturnValues="ALL_NEW"))
            out.append(_call(ddb, "update_item", TableName=TABLE, Key=key, ReturnValues="UPDATED_OLD",
                             UpdateExpression="SET #response_data = :d, #expiry = :e, #status = :s",
                             ExpressionAttributeNames={"#response_data": "data", "#expiry": "expiration",
                                                       "#status": "status"},
                             ExpressionAttributeValues={":d": {"S": f"r{i}"}, ":e": _n(2000 + i),
                                                        ":s": {"S": "COMPLETED"}}))
        key = {"pk": {"S": "k-0"}, "sk": _n(0)}
        for expression, extra in [
            ("begins_with(#st, :p) AND size(tags) > :one", {":p": {"S": "COMP"}, ":one": _n(0)}),
            ("NOT contains(tags, :t) AND attribute_type(doc, :m)", {":t": {"S": "zz"}, ":m": {"S": "M"}}),
            ("stock BETWEEN :lo AND :hi OR stock IN (:lo, :hi)", {":lo": _n(-1000), ":hi": _n(round_)}),
            ("((stock > :lo))", {":lo": _n(0)}),  # redundant parentheses: a validation error
        ]:
            out.append(_call(ddb, "delete_item", TableName=TABLE, Key={"pk": {"S": "nope"}, "sk": _n(9)},
                             ConditionExpression=expression, ExpressionAttributeValues=extra,
                             **({"ExpressionAttributeNames": {"#st": "status"}} if "#st" in expression else {})))
            out.append(_call(ddb, "update_item", TableName=TABLE, Key=key, UpdateExpression="SET probe = :lo",
                             ConditionExpression=expression,
                             ExpressionAttributeValues={":lo": _n(round_), **{k: v for k, v in extra.items()
                                                                               if k != ":lo"}},
                             **({"ExpressionAttributeNames": {"#st": "status"}} if "#st" in expression else {})))
        for expression, values, names_ in [
            ("SET pk = :v", {":v": {"S": "x"}}, None),  # a key attribute
            ("SET a = :v, a = :v", {":v": _n(1)}, None),  # overlapping paths
            ("SET a = :v SET b = :v", {":v": _n(1)}, None),  # two SET clauses
            ("SET a = :w", {":v": _n(1)}, None),  # an undefined value
            ("SET a = :v", {":v": _n(1), ":unused": _n(2)}, None),  # an unused value
            ("SET a = a + :v", {":v": {"S": "s"}}, None),  # a type mismatch
            ("SET #x.#y = :v", {":v": _n(round_)}, {"#x": "doc", "#y": "n"}),
            ("SET a = nothere + :v", {":v": _n(1)}, None),  # a path the item does not have
            ("SET a = :v + doc.nothere", {":v": _n(1)}, None),
            ("SET doc.nothere.x = :v", {":v": _n(1)}, None),  # a document path that cannot be created
            ("SET a = if_not_exists(nothere, :v)", {":v": _n(round_)}, None),
            ("SET doc.#l[5] = :v REMOVE doc.#l[0]", {":v": _n(round_)}, {"#l": "list"}),
        ]:
            named = {"ExpressionAttributeNames": names_} if names_ else {}
            out.append(_call(ddb, "update_item", TableName=TABLE, Key=key, UpdateExpression=expression,
                             ExpressionAttributeValues=values, **named))
        out.append(_call(ddb, "transact_write_items", TransactItems=[
            {"Update": {"TableName": TABLE, "Key": key, "UpdateExpression": "SET t = :v",
                        "ExpressionAttributeValues": {":v": _n(round_)}}},
            {"ConditionCheck": {"TableName": TABLE, "Key": {"pk": {"S": "k-1"}, "sk": _n(1)},
                                "ConditionExpression": "attribute_exists(pk)"}},
        ]))
        out.append(_call(ddb, "query", TableName=TABLE, KeyConditionExpression="pk = :pk",
                         FilterExpression="seen >= :one",
                         ExpressionAttributeValues={":pk": {"S": "k-0"}, ":one": _n(1)}))
        out.append(_call(ddb, "scan", TableName=TABLE, FilterExpression="attribute_exists(hist) AND stock < :big",
                         ExpressionAttributeValues={":big": _n(10**6)}))
    stream_arn = ddb.describe_table(TableName=TABLE)["Table"]["LatestStreamArn"]
    shard = streams.describe_stream(StreamArn=stream_arn)["StreamDescription"]["Shards"][0]["ShardId"]
    iterator = streams.get_shard_iterator(StreamArn=stream_arn, ShardId=shard,
                                          ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    out.append(_call(streams, "get_records", ShardIterator=iterator, Limit=1000))

    out.append(_call(kinesis, "create_stream", StreamName="speedups", ShardCount=1))
    out.append(_call(kinesis, "put_records", StreamName="speedups",
                     Records=[{"Data": f"record {i}".encode(), "PartitionKey": f"p{i}"} for i in range(20)]))
    iterator = kinesis.get_shard_iterator(StreamName="speedups", ShardId="shardId-000000000000",
                                          ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    out.append(_call(kinesis, "get_records", ShardIterator=iterator, Limit=7))
    out.append(_call(kinesis, "describe_stream_summary", StreamName="does-not-exist"))

    url = sqs.create_queue(QueueName="speedups")["QueueUrl"]
    out.append(_call(sqs, "send_message", QueueUrl=url, MessageBody="hello",
                     MessageAttributes={"k": {"DataType": "String", "StringValue": "v"}}))
    received = sqs.receive_message(QueueUrl=url, MessageAttributeNames=["All"])
    out.append(_normal(received))
    out.append(_call(sqs, "get_queue_url", QueueName="does-not-exist"))
    many = sqs.create_queue(QueueName="speedups-many", Attributes={"MessageRetentionPeriod": "600"})["QueueUrl"]
    for i in range(25):
        sqs.send_message(QueueUrl=many, MessageBody=f"message {i}")
    for _ in range(4):  # 10, 10, 5, then none
        received = sqs.receive_message(QueueUrl=many, MaxNumberOfMessages=10, VisibilityTimeout=60)
        out.append(sorted(m["Body"] for m in received.get("Messages", [])))
    out.append(_call(sqs, "get_queue_attributes", QueueUrl=many, AttributeNames=["All"]))
    return out


def _clients(endpoint_url: str) -> dict[str, Any]:
    config = Config(retries={"mode": "standard"})
    return {service: boto3.client(service, endpoint_url=endpoint_url, region_name="us-east-1", config=config,
                                  aws_access_key_id="local", aws_secret_access_key="local")
            for service in ("dynamodb", "dynamodbstreams", "kinesis", "sqs")}


#: moto's server with the adapter's corrections (``_moto.CORRECTIONS``: moto answering as AWS does where
#: it does not) and none of the speed-ups: what the speed-ups must not change.
_SERVER_WITH_CORRECTIONS = """
import sys
from cdk_event_pipeline.local import _moto
from cdk_event_pipeline.local._moto._patcher import Patcher
patcher = Patcher()
for names, feature in _moto.FEATURES:
    if names[0] in _moto.CORRECTIONS:
        feature(patcher)
from moto.server import main
main(sys.argv[1:])
"""


@pytest.fixture(scope="module")
def unpatched_moto() -> Iterator[str]:
    """A moto server in its own process: moto as installed, with the corrections only."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(  # noqa: S603 - moto's own server module, on the loopback interface
        [sys.executable, "-c", _SERVER_WITH_CORRECTIONS, "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env={**os.environ, "MOTO_CALL_RESET_API": "true"})
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    try:
        while True:
            try:
                with urllib.request.urlopen(f"{url}/moto-api/data.json", timeout=2):  # noqa: S310 - loopback
                    break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("the moto server did not start") from None
        yield url
    finally:
        server.terminate()
        server.wait(timeout=30)


@pytest.fixture
def patched_endpoint(local_pipeline_endpoint) -> Iterator[Any]:
    """The session's endpoint with the speed-ups in place for the test (as a pipeline holds them)."""
    with _moto.patched():
        yield local_pipeline_endpoint


def _needs(feature: str) -> None:
    """Skip a comparison with moto's own code when this moto lacks what the speed-up replaces (the
    oldest moto the ``[local]`` range allows, in ``make test-moto-lowest``)."""
    if feature not in _moto.applied():
        pytest.skip(f"{feature} is unavailable with this moto: {_moto.unavailable().get(feature)}")


def test_speedups_are_applied_in_process(patched_endpoint) -> None:
    if _moto.unavailable():
        pytest.skip(f"speed-ups unavailable with this moto: {sorted(_moto.unavailable())}")
    assert _moto.applied()
    assert {"DepthFirstTraverser", "Node.__init__", "validators.deepcopy", "UpdateExpressionValidator.validate",
            "ConditionExpressionParser.parse", "AttributePicker", "MotoRandom.get_random_string",
            "kinesis.Shard", "ActionResult.execute_result", "dynamodb.models.re", "sqs.retention",
            "JSONParser._parse_json_body", "BaseResponse.setup", "dispatch"} <= set(_moto.applied())


def test_a_seeded_moto_makes_the_same_ids(patched_endpoint) -> None:
    """moto can be seeded for reproducible ids: the faster random strings are the same draws."""
    import string

    from moto.moto_api._internal import mock_random

    pool = string.ascii_letters + string.digits
    for seed in range(50):  # rejected draws (values past the pool) occur in many of these
        mock_random.seed(seed)
        expected = ["".join(mock_random.choice(pool) for _ in range(52)),
                    "".join(mock_random.choice(string.ascii_letters) for _ in range(8)).lower(),
                    "".join(mock_random.choice(pool) for _ in range(500)), mock_random.random()]
        mock_random.seed(seed)
        assert [mock_random.get_random_string(52),
                mock_random.get_random_string(8, include_digits=False, lower_case=True),
                mock_random.get_random_string(500), mock_random.random()] == expected  # the same state after


def test_every_answer_is_the_same_as_unpatched_moto_over_http(patched_endpoint, unpatched_moto) -> None:
    patched_endpoint.reset()
    patched = _script(_clients(patched_endpoint.url))
    plain = _script(_clients(unpatched_moto))

    assert len(patched) == len(plain)
    for index, (ours, theirs) in enumerate(zip(patched, plain, strict=True)):
        assert ours == theirs, f"answer {index} differs"
    # the script exercised both outcomes, and the stream saw every change
    assert sum("error" in answer for answer in plain if isinstance(answer, dict)) >= 10
    records = next(a for a in reversed(plain) if isinstance(a, dict) and "Records" in a.get("ok", {})
                   and a["ok"]["Records"] and "dynamodb" in a["ok"]["Records"][0])["ok"]["Records"]
    assert len(records) > 50



@pytest.mark.parametrize("content_type", ["application/x-amz-json-1.0", "application/x-amz-json-1.1"])
def test_the_request_built_for_a_json_call_is_the_one_moto_builds(patched_endpoint, content_type) -> None:
    _needs("direct")
    from moto.core.request import Request

    host, body = "dynamodb.us-east-1.amazonaws.com", b'{"TableName": "t", "Key": {"id": {"S": "a=b&c"}}}'
    headers = {"X-Amz-Target": "DynamoDB_20120810.GetItem", "Content-Type": content_type, "User-Agent": "ua"}
    ours = _dispatch.json_request(host, headers, body)
    moto_own = Request.from_primitives("POST", f"https://{host}/", headers, body)

    def environ(request: Any) -> dict[str, Any]:
        return {k: v for k, v in request.environ.items() if k not in ("wsgi.input", "werkzeug.request")}

    assert environ(ours) == environ(moto_own)
    assert ours.raw_url == moto_own.raw_url == f"https://{host}/"
    assert (ours.data, dict(ours.form), dict(ours.files), dict(ours.args), dict(ours.values)) == (
        moto_own.data, dict(moto_own.form), dict(moto_own.files), dict(moto_own.args), dict(moto_own.values))
    assert dict(ours.headers) == dict(moto_own.headers)


@pytest.mark.parametrize("expression", [
    "SET #response_data = :response_data, #expiry = :expiry, #status = :status",
    "SET #s = #s - :q, doc.n = doc.n + :one, doc.#l[0] = :q",
    "SET stock = if_not_exists(stock, :zero) + :q, hist = list_append(if_not_exists(hist, :empty), :h) "
    "REMOVE gone ADD seen :one DELETE tags :t",
    "REMOVE a[1], b.c",
])
def test_an_expression_is_copied_into_the_graph_deepcopy_makes(patched_endpoint, expression) -> None:
    """The copier written out per expression builds what ``copy.deepcopy`` builds: same classes,
    attributes, parent links and sharing (pickle's output captures all of them)."""
    import copy
    import pickle

    from moto.dynamodb.parsing.expressions import UpdateExpressionParser

    parsed = UpdateExpressionParser.make(expression)
    entry = _update_expressions.ast(parsed)
    assert entry.build is not None
    first, second = entry.build(), entry.build()
    assert pickle.dumps(first) == pickle.dumps(copy.deepcopy(parsed)) == pickle.dumps(second)
    assert first is not second and first.children[0] is not second.children[0]
    assert entry.has_functions == ("if_not_exists" in expression)


def test_a_tree_the_copier_cannot_write_out_is_refused(patched_endpoint) -> None:
    import copy

    from moto.dynamodb.parsing.ast_nodes import Node
    from moto.dynamodb.parsing.expressions import UpdateExpressionParser

    plain = copy.deepcopy(UpdateExpressionParser.make("SET a = :v"))  # a copy: moto caches the parse
    assert _update_expressions.copier(plain, Node) is not None
    shared = copy.deepcopy(plain)
    shared.children.append(shared.children[0])  # a node reached twice
    assert _update_expressions.copier(shared, Node) is None
    odd = copy.deepcopy(plain)
    odd.children[0].extra = ["a mutable attribute"]
    assert _update_expressions.copier(odd, Node) is None


def test_a_remembered_response_is_the_one_moto_serializes(patched_endpoint) -> None:
    """Results equal under ``==`` but of other types (1, 1.0, True) or key order are kept apart."""
    _needs("ActionResult.execute_result")
    from moto.core.responses import ActionContext, ActionResult
    from moto.core.serialize import get_serializer_class
    from moto.core.utils import get_service_model
    from moto.dynamodb.responses import DynamoHandler

    model = get_service_model("dynamodb")
    context = ActionContext(model, model.operation_model("UpdateItem"), get_serializer_class("dynamodb", "json"),
                            DynamoHandler())
    own = _moto.originals()["ActionResult.execute_result"]
    results = [{"Attributes": {"n": {"N": "1"}}, "ConsumedCapacity": {"TableName": "t", "CapacityUnits": value}}
               for value in (1, 1.0, True, 0.5)]
    results.append({"ConsumedCapacity": {"CapacityUnits": 1, "TableName": "t"}})
    results += [{"Attributes": {"flag": {"BOOL": value}}} for value in (True, 1)]  # kept as given
    for _ in range(2):  # the second time from memory
        for result in results:
            assert ActionResult(result).execute_result(context) == own(ActionResult(result), context)
    assert own(ActionResult(results[-1]), context) != own(ActionResult(results[-2]), context)


_ATTRIBUTES = {"s": {"S": "x"}, "n": {"N": "1.50"}, "b": {"B": "AAEC"}, "bs": {"BS": ["AA==", "AQ=="]},
               "ss": {"SS": ["a", "b"]}, "ns": {"NS": ["1", "2"]}, "nul": {"NULL": True}, "t": {"BOOL": False},
               "m": {"M": {"deep": {"L": [{"M": {"z": {"B": "AA=="}}}, {"L": []}, {"N": "3"}]}}}, "e": {"S": ""}}


def _typed(value: Any) -> Any:
    """``value`` with every container's and scalar's type and every mapping's key order spelled out."""
    if isinstance(value, list):
        return ("list", [_typed(v) for v in value])
    if hasattr(value, "items"):
        return (type(value).__name__, [(k, _typed(v)) for k, v in value.items()])
    return (type(value).__name__, repr(value))


@pytest.mark.parametrize(("service", "operation", "body"), [
    ("dynamodb", "PutItem", {"TableName": "t", "Item": _ATTRIBUTES, "ReturnValues": "ALL_OLD",
                             "ConditionExpression": "attribute_not_exists(#k)", "ExpressionAttributeNames": {"#k": "s"},
                             "ExpressionAttributeValues": {":v": {"L": [{"B": "AA=="}]}}, "Expected": None}),
    ("dynamodb", "TransactWriteItems", {"TransactItems": [
        {"Update": {"TableName": "t", "Key": {"s": {"S": "x"}}, "UpdateExpression": "SET a = :a",
                    "ExpressionAttributeValues": {":a": {"M": {"b": {"BS": ["AA=="]}}}}}},
        {"ConditionCheck": {"TableName": "t", "Key": {"s": {"S": "y"}}, "ConditionExpression": "x"}}]}),
    ("dynamodb", "Query", {"TableName": "t", "Limit": 5, "ExclusiveStartKey": {"s": {"S": "x"}},
                           "ScanIndexForward": False, "Unknown": {"ignored": 1}}),
    ("dynamodb", "CreateTable", {"TableName": "t", "ProvisionedThroughput": {"ReadCapacityUnits": 5,
                                                                             "WriteCapacityUnits": "7"}}),
    ("dynamodbstreams", "GetRecords", {"ShardIterator": "it", "Limit": 1000}),
    ("kinesis", "PutRecords", {"StreamName": "s", "Records": [{"Data": "aGk=", "PartitionKey": "p"}]}),
    ("kinesis", "GetShardIterator", {"StreamName": "s", "ShardId": "0", "ShardIteratorType": "AT_TIMESTAMP",
                                     "Timestamp": 1700000000.25}),
    ("sqs", "SendMessage", {"QueueUrl": "q", "MessageBody": "b", "DelaySeconds": 3, "MessageAttributes": {
        "bin": {"DataType": "Binary", "BinaryValue": "AAE="}, "n": {"DataType": "Number", "StringValue": "1"}}}),
    ("sqs", "ReceiveMessage", {"QueueUrl": "q", "MaxNumberOfMessages": 10, "AttributeNames": ["All"]}),
    ("dynamodb", "GetItem", {}),
])
@pytest.mark.parametrize("map_type", ["dict", "XFormedDict"])
def test_a_json_request_is_parsed_as_moto_parses_it(patched_endpoint, service, operation, body,
                                                     map_type) -> None:
    """The shape walk written out per shape gives moto's own parse: values, types, key order."""
    _needs("JSONParser._parse_json_body")
    import json

    from moto.core import parse
    from moto.core.utils import get_service_model

    model = get_service_model(service).operation_model(operation)
    raw = json.dumps(body).encode()
    kind = dict if map_type == "dict" else parse.XFormedDict
    for _ in range(2):  # the second time with the plans made
        ours = parse.JSONParser(model, map_type=kind).parse({"body": raw})  # type: ignore[typeddict-item]
        own = _moto.originals()["JSONParser._parse_json_body"](
            parse.JSONParser(model, map_type=kind), raw, model.input_shape)
        assert _typed(ours) == _typed(own)


def test_the_response_set_up_gives_moto_s_values(patched_endpoint) -> None:
    _needs("BaseResponse.setup")
    import datetime

    from moto.core import responses
    from moto.core.utils import utcnow

    own_date, own_enrich = _moto.originals()["http_date"], _moto.originals()[
        "BaseResponse._enrich_response"]
    start = datetime.datetime(2026, 12, 1, 14, 59, 58, 999_000)
    for step in range(0, 3_000_000, 250_000):  # within a second and across seconds
        moment = start + datetime.timedelta(microseconds=step)
        assert responses.http_date(moment) == own_date(moment)
    aware = start.replace(tzinfo=datetime.timezone(datetime.timedelta(hours=2)))
    assert responses.http_date(aware) == own_date(aware)
    assert abs(responses.utcnow() - utcnow()) < datetime.timedelta(seconds=5)
    assert responses.utcnow().tzinfo is None
    own_names = _moto.originals()["camelcase_to_underscores"]
    for _ in range(2):
        for action in ("UpdateItem", "GetShardIterator", "ListTagsOfResource", "DescribeTimeToLive", "", "a B",
                       "ABCDef", "getID"):
            assert responses.camelcase_to_underscores(action) == own_names(action)
    for body in ('{"a": "<RequestId>x</RequestId>"}', "<R><RequestId>old</RequestId></R>", '{"a": 1}', b"<RequestId>",
                 None):
        ours_headers, ours = responses.BaseResponse._enrich_response({"status": 200}, body)
        own_headers, own = own_enrich({"status": 200}, body)
        assert ours_headers["status"] == own_headers["status"] == "200"
        assert len(ours_headers["x-amzn-requestid"]) == len(own_headers["x-amzn-requestid"]) == 52
        if isinstance(body, str) and "<RequestId>" in body:
            assert ours.replace(ours_headers["x-amzn-requestid"], "ID") == own.replace(
                own_headers["x-amzn-requestid"], "ID") != body
        else:
            assert ours == own == body


def _in_a_generation(obj: object) -> bool:
    """The collector scans ``obj`` (it is in generation 0, 1 or 2, not frozen)."""
    import gc

    return any(o is obj for o in gc.get_objects())


def test_a_run_freezes_the_heap_only_while_it_runs() -> None:
    """During a run, survivors of full collections are frozen; afterwards the collector is as before.

    Asserted on the objects themselves (frozen objects are in none of the three generations), not
    on exact freeze counts: a frozen object another thread drops leaves the permanent generation.
    """
    import gc

    from cdk_event_pipeline.local.runner import _heap_frozen

    callbacks = list(gc.callbacks)
    assert gc.get_freeze_count() == 0
    before = [[] for _ in range(10)]
    with _heap_frozen():
        assert gc.get_freeze_count() > 0
        assert not _in_a_generation(before)  # what existed when the run started
        assert len(gc.callbacks) == len(callbacks) + 1
        survivor = [[] for _ in range(1000)]
        assert _in_a_generation(survivor)
        gc.collect()
        assert not _in_a_generation(survivor)  # frozen after the full collection it survived
    assert gc.get_freeze_count() == 0
    assert gc.callbacks == callbacks
    assert _in_a_generation(survivor) and _in_a_generation(before)

    gc.freeze()  # a host process that froze its own objects: left alone
    try:
        with _heap_frozen():
            assert gc.callbacks == callbacks
            late = [[] for _ in range(10)]
            gc.collect()
            assert _in_a_generation(late)  # not frozen by the runner
        assert gc.get_freeze_count() > 0  # and the host's freeze is kept
        assert not _in_a_generation(survivor)
    finally:
        gc.unfreeze()


def test_a_remembered_response_body_parses_as_botocore_parses_it() -> None:
    """The in-process JSON response parser: the same parse as botocore's, a new copy every time."""
    import json

    from botocore.parsers import ResponseParserFactory
    from botocore.session import get_session

    from cdk_event_pipeline.local._moto import _botocore

    ours, theirs = (ResponseParserFactory().create_parser("json") for _ in range(2))
    _botocore.remember_bodies(ours)
    dynamodb = get_session().get_service_model("dynamodb")
    update, describe = dynamodb.operation_model("UpdateItem"), dynamodb.operation_model("DescribeTable")
    cases = [(update, {}), (update, {"ConsumedCapacity": {"TableName": "t", "CapacityUnits": 1.0}}),
             (update, {"Attributes": {"m": {"M": {"l": {"L": [{"N": "1"}, {"BOOL": True}, {"NULL": True}]}}},
                                      "b": {"B": "AAE="}}}),
             (describe, {"Table": {"TableName": "t", "CreationDateTime": 1700000000.5, "ItemCount": 3}})]
    for _ in range(3):
        for model, body in cases:
            raw = json.dumps(body).encode()
            response = {"body": raw, "headers": {"x-amzn-requestid": "r"}, "status_code": 200}
            mine = ours.parse(dict(response), model.output_shape)
            own = theirs.parse(dict(response), model.output_shape)
            assert mine == own
            assert _typed(mine) == _typed(own)
            _scramble(mine)  # a caller changing its answer changes no later one
            assert ours.parse(dict(response), model.output_shape) == own


def _scramble(value: Any) -> None:
    """Empty every dict and list in ``value``, innermost first."""
    children = list(value.values()) if isinstance(value, dict) else value if isinstance(value, list) else []
    for child in children:
        _scramble(child)
    if isinstance(value, dict | list):
        value.clear()


def _op_tree(value: Any) -> Any:
    """A condition's operator tree as nested (class, attributes) tuples."""
    if isinstance(value, list | tuple):
        return [_op_tree(v) for v in value]
    if isinstance(value, dict):
        return {k: _op_tree(v) for k, v in value.items()}
    if hasattr(value, "__dict__"):
        return (type(value).__name__, _op_tree(vars(value)))
    return value


@pytest.mark.parametrize("expression", [
    "attribute_not_exists(#id) OR #expiry < :now OR (#status = :inprogress AND attribute_exists(#ipe) "
    "AND #ipe < :now_ms)",
    "NOT (contains(tags, :t) OR begins_with(#status, :p)) AND size(tags) >= :n",
    "#expiry BETWEEN :now AND :n OR #status IN (:t, :p, :inprogress) AND attribute_type(doc.a[1], :t)",
    "size(doc.#status) <> :n",
    "#expiry < :missing",
])
def test_a_condition_is_built_as_moto_builds_it(patched_endpoint, expression) -> None:
    """The condition's operators written out per parsed structure: moto's own objects, each call's values."""
    _needs("ConditionExpressionParser.parse")
    from moto.dynamodb import comparisons
    from moto.dynamodb.comparisons import ConditionExpressionParser

    names = {"#id": "pk", "#expiry": "expiration", "#status": "status", "#ipe": "in_progress_expiration"}
    own_parse = _moto.originals()["ConditionExpressionParser.parse"]
    for now in range(3):  # the same structure with other values
        values = {":now": _n(now), ":now_ms": _n(now * 1000), ":inprogress": {"S": "INPROGRESS"},
                  ":t": {"S": "x"}, ":p": {"S": "IN"}, ":n": _n(2)}
        ours, own = ConditionExpressionParser(expression, names, values), ConditionExpressionParser(
            expression, names, values)
        try:
            own_tree = _op_tree(own_parse(own))
        except Exception as exc:  # noqa: BLE001 - moto's error must be ours too
            with pytest.raises(type(exc), match=re.escape(str(exc))):
                ours.parse()
            continue
        assert _op_tree(ours.parse()) == own_tree
        probe = ConditionExpressionParser(expression, names, values)  # moto's parse steps, then the builder
        nodes = probe._lex_condition_expression()
        for step in ("_parse_paths", "_apply_functions", "_apply_comparator", "_apply_in", "_apply_between",
                     "_apply_parens_and_booleans"):
            nodes = getattr(probe, step)(nodes)
        built = _conditions.condition_builder(comparisons, nodes[0])
        assert built is not None and _op_tree(built[1](probe)) == own_tree
        assert (ours.expr_attr_names_found, ours.expr_attr_values_found) == (
            own.expr_attr_names_found, own.expr_attr_values_found)

"""DynamoDB stream capture (basegear/cloud/events/streams.py): item writes made through boto3
against the local cloud, read back as Lambda's pollers see them. AWS references: DynamoDB
developer guide, "Change data capture for DynamoDB Streams"; Lambda developer guide, "Using AWS
Lambda with Amazon DynamoDB" (the record shape; shared/reference/aws-semantics.md 1.8)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from event_helpers import unique

from basegear.cloud.clock import VirtualClock
from basegear.cloud.events.streams import SEQUENCE_BASE, CapturedStream, StreamCapture
from basegear.cloud.state import pickling
from basegear.testing import CloudClients


def capture_of(cloud: CloudClients) -> StreamCapture:
    assert cloud.services is not None
    capture: StreamCapture = cloud.services.streams
    return capture


def make_table(
    cloud: CloudClients, view: str = "NEW_AND_OLD_IMAGES", *, sort_key: bool = False
) -> tuple[str, str]:
    """A table keyed by ``pk`` (string; and ``sk``, a number) with a stream: name, stream ARN."""
    name = unique("stream")
    keys = [{"AttributeName": "pk", "KeyType": "HASH"}]
    attributes = [{"AttributeName": "pk", "AttributeType": "S"}]
    if sort_key:
        keys.append({"AttributeName": "sk", "KeyType": "RANGE"})
        attributes.append({"AttributeName": "sk", "AttributeType": "N"})
    created = cloud.client("dynamodb").create_table(
        TableName=name,
        KeySchema=keys,
        AttributeDefinitions=attributes,
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": view},
    )
    return name, created["TableDescription"]["LatestStreamArn"]


def records_of(stream: CapturedStream) -> list[dict[str, Any]]:
    """Every record of the stream, in sequence order."""
    everything = [record for shard in stream.shards for record in stream.read(shard, -1, 10_000)]
    everything.sort(key=lambda record: record.sequence_number)
    return [record.lambda_record(stream) for record in everything]


@pytest.fixture
def own_capture(local_cloud: CloudClients) -> Iterator[StreamCapture]:
    """A capture of this test's own (alongside the cloud's), on its own manual clock."""
    capture = StreamCapture(VirtualClock("manual", start=1_700_000_000.0), shards=2)
    capture.install()
    try:
        yield capture
    finally:
        capture.uninstall()


# Lambda developer guide, "Using AWS Lambda with Amazon DynamoDB", example DynamoDB record
# event (eventVersion 1.1 and ApproximateCreationDateTime as AWS sends them today); MODIFY
# carries both images under NEW_AND_OLD_IMAGES and REMOVE only the old one.
def test_records_have_lambdas_shape(local_cloud: CloudClients) -> None:
    name, arn = make_table(local_cloud, sort_key=True)
    ddb = local_cloud.client("dynamodb")
    key = {"pk": {"S": "order-1"}, "sk": {"N": "1"}}
    ddb.put_item(TableName=name, Item={**key, "status": {"S": "new"}, "blob": {"B": b"foobar"}})
    ddb.update_item(
        TableName=name,
        Key=key,
        UpdateExpression="SET #s = :s",
        ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues={":s": {"S": "paid"}},
    )
    ddb.delete_item(TableName=name, Key=key)

    inserted, modified, removed = records_of(capture_of(local_cloud).stream(arn))
    assert list(inserted) == [
        "eventID",
        "eventName",
        "eventVersion",
        "eventSource",
        "awsRegion",
        "dynamodb",
        "eventSourceARN",
    ]
    assert inserted["eventName"] == "INSERT"
    assert inserted["eventVersion"] == "1.1"
    assert inserted["eventSource"] == "aws:dynamodb"
    assert inserted["awsRegion"] == "us-east-1"
    assert inserted["eventSourceARN"] == arn
    dynamodb = inserted["dynamodb"]
    assert isinstance(dynamodb["ApproximateCreationDateTime"], int)
    assert dynamodb["Keys"] == key
    # Binary attributes arrive base64-encoded.
    assert dynamodb["NewImage"] == {**key, "status": {"S": "new"}, "blob": {"B": "Zm9vYmFy"}}
    assert "OldImage" not in dynamodb
    assert dynamodb["StreamViewType"] == "NEW_AND_OLD_IMAGES"
    assert isinstance(dynamodb["SequenceNumber"], str) and len(dynamodb["SequenceNumber"]) == 21
    # pk 2+7, sk 2+2 (two bytes a number digit pair, plus one), then status 6+3, blob 4+6.
    assert dynamodb["SizeBytes"] == 13 + (13 + 9 + 10)
    assert modified["eventName"] == "MODIFY"
    assert modified["dynamodb"]["OldImage"]["status"] == {"S": "new"}
    assert modified["dynamodb"]["NewImage"]["status"] == {"S": "paid"}
    assert removed["eventName"] == "REMOVE"
    assert "NewImage" not in removed["dynamodb"]
    assert removed["dynamodb"]["OldImage"]["status"] == {"S": "paid"}
    numbers = [int(r["dynamodb"]["SequenceNumber"]) for r in (inserted, modified, removed)]
    assert numbers == sorted(numbers) and len(set(numbers)) == 3
    assert len({r["eventID"] for r in (inserted, modified, removed)}) == 3


# DynamoDB developer guide, "Change data capture for DynamoDB Streams": StreamViewType decides
# which images a record carries.
@pytest.mark.parametrize(
    ("view", "parts"),
    [
        ("KEYS_ONLY", set()),
        ("NEW_IMAGE", {"NewImage"}),
        ("OLD_IMAGE", {"OldImage"}),
        ("NEW_AND_OLD_IMAGES", {"NewImage", "OldImage"}),
    ],
)
def test_view_types_choose_the_images(
    local_cloud: CloudClients, view: str, parts: set[str]
) -> None:
    name, arn = make_table(local_cloud, view)
    ddb = local_cloud.client("dynamodb")
    ddb.put_item(TableName=name, Item={"pk": {"S": "a"}, "v": {"N": "1"}})
    ddb.put_item(TableName=name, Item={"pk": {"S": "a"}, "v": {"N": "2"}})
    _, modified = records_of(capture_of(local_cloud).stream(arn))
    assert set(modified["dynamodb"]) & {"NewImage", "OldImage"} == parts
    assert modified["dynamodb"]["Keys"] == {"pk": {"S": "a"}}
    assert modified["dynamodb"]["StreamViewType"] == view


# DynamoDB developer guide, "Change data capture for DynamoDB Streams": a record is written
# only when an item is modified, once per modification; the writes of a cancelled transaction
# never happened.
def test_one_record_per_change_and_none_without_one(local_cloud: CloudClients) -> None:
    name, arn = make_table(local_cloud)
    ddb = local_cloud.client("dynamodb")
    ddb.update_item(  # creates the item: one INSERT (moto adds it in two steps)
        TableName=name,
        Key={"pk": {"S": "a"}},
        UpdateExpression="SET v = :v",
        ExpressionAttributeValues={":v": {"N": "1"}},
    )
    ddb.put_item(TableName=name, Item={"pk": {"S": "a"}, "v": {"N": "1"}})  # no change
    ddb.delete_item(TableName=name, Key={"pk": {"S": "missing"}})  # nothing to delete
    with pytest.raises(ddb.exceptions.TransactionCanceledException):
        ddb.transact_write_items(
            TransactItems=[
                {"Put": {"TableName": name, "Item": {"pk": {"S": "b"}}}},
                {
                    "Update": {
                        "TableName": name,
                        "Key": {"pk": {"S": "a"}},
                        "UpdateExpression": "SET v = :v",
                        "ConditionExpression": "v = :other",
                        "ExpressionAttributeValues": {":v": {"N": "3"}, ":other": {"N": "9"}},
                    }
                },
            ]
        )
    ddb.transact_write_items(
        TransactItems=[
            {"Put": {"TableName": name, "Item": {"pk": {"S": "c"}}}},
            {"Delete": {"TableName": name, "Key": {"pk": {"S": "a"}}}},
        ]
    )
    ddb.batch_write_item(
        RequestItems={name: [{"PutRequest": {"Item": {"pk": {"S": f"d{i}"}}}} for i in range(3)]}
    )
    events = [
        (r["eventName"], r["dynamodb"]["Keys"]["pk"]["S"])
        for r in records_of(capture_of(local_cloud).stream(arn))
    ]
    assert events == [
        ("INSERT", "a"),
        ("INSERT", "c"),
        ("REMOVE", "a"),
        ("INSERT", "d0"),
        ("INSERT", "d1"),
        ("INSERT", "d2"),
    ]
    inserted = records_of(capture_of(local_cloud).stream(arn))[0]
    assert inserted["dynamodb"]["NewImage"] == {"pk": {"S": "a"}, "v": {"N": "1"}}


# DynamoDB developer guide, "Change data capture for DynamoDB Streams": records of one item are
# in one shard in the order of the changes; items spread over the shards by partition key.
def test_shards_split_by_partition_key_and_keep_each_keys_order(local_cloud: CloudClients) -> None:
    name, arn = make_table(local_cloud, "NEW_IMAGE")
    ddb = local_cloud.client("dynamodb")
    for round_number in range(3):
        ddb.batch_write_item(
            RequestItems={
                name: [
                    {"PutRequest": {"Item": {"pk": {"S": f"k{i}"}, "v": {"N": str(round_number)}}}}
                    for i in range(20)
                ]
            }
        )
    stream = capture_of(local_cloud).stream(arn)
    assert len(stream.shards) == 4
    shard_of: dict[str, str] = {}
    for shard in stream.shards:
        records = [r.lambda_record(stream) for r in stream.read(shard, -1, 1000)]
        numbers = [int(r["dynamodb"]["SequenceNumber"]) for r in records]
        assert numbers == sorted(numbers)
        values: dict[str, list[str]] = {}
        for record in records:
            key = record["dynamodb"]["Keys"]["pk"]["S"]
            assert shard_of.setdefault(key, shard.shard_id) == shard.shard_id
            values.setdefault(key, []).append(record["dynamodb"]["NewImage"]["v"]["N"])
        assert all(found == ["0", "1", "2"] for found in values.values())
    assert len(shard_of) == 20
    assert len(set(shard_of.values())) == 4
    assert len(stream) == 60


# DynamoDB Streams API reference (DescribeStream, GetShardIterator, GetRecords): moto's own
# stream keeps answering the DynamoDB Streams API while BaseGear captures the same writes.
def test_the_dynamodb_streams_api_still_answers(local_cloud: CloudClients) -> None:
    name, arn = make_table(local_cloud)
    local_cloud.client("dynamodb").put_item(TableName=name, Item={"pk": {"S": "a"}})
    streams = local_cloud.client("dynamodbstreams")
    shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]
    iterator = streams.get_shard_iterator(
        StreamArn=arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
    )["ShardIterator"]
    found = streams.get_records(ShardIterator=iterator)["Records"]
    assert [record["eventName"] for record in found] == ["INSERT"]
    assert len(capture_of(local_cloud).stream(arn)) == 1


# DynamoDB developer guide, "Change data capture for DynamoDB Streams" (disabling a stream): the
# stream ends, its records stay readable, later writes succeed and write no record; enabled
# again, the table has a new stream with a new ARN.
def test_disabling_the_stream_ends_it(local_cloud: CloudClients) -> None:
    name, arn = make_table(local_cloud)
    ddb = local_cloud.client("dynamodb")
    capture = capture_of(local_cloud)
    ddb.put_item(TableName=name, Item={"pk": {"S": "a"}})
    assert capture.is_open(arn)
    ddb.update_table(TableName=name, StreamSpecification={"StreamEnabled": False})
    assert not capture.is_open(arn)
    ddb.put_item(TableName=name, Item={"pk": {"S": "b"}})
    assert [r["dynamodb"]["Keys"]["pk"]["S"] for r in records_of(capture.stream(arn))] == ["a"]
    ddb.delete_table(TableName=name)
    assert not capture.is_open(arn)


# DynamoDB developer guide, "Data retention limit for DynamoDB Streams": records are kept 24
# hours (here a capture told to keep them 100 s, on its own manual clock).
def test_records_past_the_retention_period_are_trimmed(local_cloud: CloudClients) -> None:
    clock = VirtualClock("manual", start=1_700_000_000.0)
    capture = StreamCapture(clock, shards=1, retention_seconds=100)
    capture.install()
    try:
        name, arn = make_table(local_cloud)
        ddb = local_cloud.client("dynamodb")
        ddb.put_item(TableName=name, Item={"pk": {"S": "old"}})
        clock.advance(90)
        ddb.put_item(TableName=name, Item={"pk": {"S": "new"}})
        first, second = records_of(capture.stream(arn))
        assert first["dynamodb"]["ApproximateCreationDateTime"] == 1_700_000_000
        assert second["dynamodb"]["ApproximateCreationDateTime"] == 1_700_000_090
        clock.advance(60)
        assert [r["dynamodb"]["Keys"]["pk"]["S"] for r in records_of(capture.stream(arn))] == [
            "new"
        ]
    finally:
        capture.uninstall()


# Sequence numbers follow the order of writes (DynamoDB developer guide: "the sequence number
# … reflects the order in which the record was published"), so a capture restored from a
# snapshot and fed the same writes again numbers them as before: what a restart does when it
# replays the journal.
def test_state_round_trips_and_replayed_writes_get_the_same_numbers(
    local_cloud: CloudClients, own_capture: StreamCapture
) -> None:
    name, arn = make_table(local_cloud)
    ddb = local_cloud.client("dynamodb")
    for key in ("a", "b", "c"):
        ddb.put_item(TableName=name, Item={"pk": {"S": key}})
    saved = pickling.loads(pickling.dumps(own_capture.save_state()))
    ddb.put_item(TableName=name, Item={"pk": {"S": "d"}})
    ddb.put_item(TableName=name, Item={"pk": {"S": "a"}, "v": {"N": "1"}})
    before = records_of(own_capture.stream(arn))

    restored = StreamCapture(own_capture.clock)
    restored.load_state(saved)
    assert records_of(restored.stream(arn)) == before[:3]
    restored.capture(arn, ["pk"], None, {"pk": {"S": "d"}}, "NEW_AND_OLD_IMAGES")
    restored.capture(
        arn, ["pk"], {"pk": {"S": "a"}}, {"pk": {"S": "a"}, "v": {"N": "1"}}, "NEW_AND_OLD_IMAGES"
    )
    assert records_of(restored.stream(arn)) == before
    assert int(before[0]["dynamodb"]["SequenceNumber"]) == SEQUENCE_BASE


def test_what_is_wrapped_in_moto_is_still_there() -> None:
    # A moto upgrade that moves a wrapped method fails here rather than silently dropping
    # records.
    import importlib

    from basegear.cloud.events.streams import PATCHED, READ, check_moto

    check_moto()
    for owner, attribute in PATCHED:
        module, _, class_name = owner.rpartition(".")
        assert callable(getattr(getattr(importlib.import_module(module), class_name), attribute))
    for module, attribute in READ:
        assert hasattr(importlib.import_module(module), attribute)

"""A stream mapping across restarts of a cloud with durable state (a process of its own,
tests/cloud/state/serve_cloud.py): Lambda keeps a mapping's position in the stream ("Lambda
developer guide, "Using AWS Lambda with Amazon DynamoDB": the mapping checkpoints each shard and
resumes from the checkpoint), and DynamoDB acknowledged writes are in the stream afterwards."""

from __future__ import annotations

import json
import time
from pathlib import Path

from event_helpers import Cloud, create_function

HANDLER = """
import json, os

def handler(event, context):
    with open(os.environ["OUT"], "a") as out:
        for record in event["Records"]:
            out.write(json.dumps([record["dynamodb"]["NewImage"]["v"]["N"],
                                  record["dynamodb"]["SequenceNumber"]]) + "\\n")
"""


def processed(out: Path, count: int) -> list[list[str]]:
    deadline = time.monotonic() + 15
    while True:
        lines = [json.loads(line) for line in out.read_text().splitlines()]
        if len(lines) >= count or time.monotonic() > deadline:
            return lines
        time.sleep(0.05)


def put(cloud: Cloud, value: int) -> None:
    cloud.client("dynamodb").put_item(
        TableName="orders", Item={"pk": {"S": f"k{value % 3}"}, "v": {"N": str(value)}}
    )


# Lambda developer guide, "Lambda event source mappings" and "Using AWS Lambda with Amazon
# DynamoDB": after a clean stop and after kill -9 the mapping resumes from its checkpoint —
# records processed before are not processed again, records written (and acknowledged) while
# it was disabled or before the crash are processed once, with the sequence numbers they had.
def test_a_mapping_resumes_from_its_checkpoint_after_restarts(tmp_path: Path) -> None:
    state, out, log = tmp_path / "state", tmp_path / "out.jsonl", tmp_path / "cloud.log"
    out.touch()
    first = Cloud(state, log)
    try:
        created = first.client("dynamodb").create_table(
            TableName="orders",
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
            StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"},
        )
        stream_arn = created["TableDescription"]["LatestStreamArn"]
        lambdas = first.client("lambda")
        function = create_function(lambdas, HANDLER, Environment={"Variables": {"OUT": str(out)}})
        mapping = lambdas.create_event_source_mapping(
            EventSourceArn=stream_arn, FunctionName=function, StartingPosition="TRIM_HORIZON"
        )["UUID"]
        for value in (1, 2, 3):
            put(first, value)
        assert len(processed(out, 3)) == 3
        first.stop()
    finally:
        first.kill()

    second = Cloud(state, log)
    try:
        for value in (4, 5):
            put(second, value)
        assert len(processed(out, 5)) == 5
        second.client("lambda").update_event_source_mapping(UUID=mapping, Enabled=False)
        put(second, 6)
        time.sleep(0.3)
    finally:
        second.kill()

    third = Cloud(state, log)
    try:
        third.client("lambda").update_event_source_mapping(UUID=mapping, Enabled=True)
        lines = processed(out, 6)
        time.sleep(0.3)
        lines = processed(out, 6)
        assert sorted(int(value) for value, _ in lines) == [1, 2, 3, 4, 5, 6]
        assert len({number for _, number in lines}) == 6
        described = third.client("dynamodb").describe_table(TableName="orders")["Table"]
        assert described["LatestStreamArn"] == stream_arn
        third.stop()
    finally:
        third.kill()

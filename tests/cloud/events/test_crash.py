"""``kill -9`` of the local cloud while a DynamoDB stream and an SQS queue are being processed,
then a restart on the same state (issue: "Crash test"). What AWS promises and the local cloud
keeps: an acknowledged write is durable (DynamoDB and SQS developer guides: a successful
PutItem/SendMessage is stored); a stream mapping resumes from its checkpoint and a queue's
in-flight messages come back after their visibility timeout (Lambda developer guide, "Lambda
event source mappings": at-least-once processing)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from pathlib import Path

from event_helpers import Cloud, create_function

from basegear.cloud.control import ControlClient

WRITES = 400
KILL_AFTER = 150  # stream records processed before the cloud is killed
BATCH = 10
SHARDS = 4  # StreamCapture's default

HANDLER = """
import json, os, time

def handler(event, context):
    lines = []
    for record in event["Records"]:
        if record.get("eventSource") == "aws:sqs":
            lines.append(["q", int(record["body"])])
        else:
            lines.append(["s", int(record["dynamodb"]["NewImage"]["v"]["N"])])
    time.sleep(0.01)
    with open(os.environ["OUT"], "a") as out:
        out.write("".join(json.dumps(line) + "\\n" for line in lines))
"""


def _processed(out: Path) -> list[tuple[str, int]]:
    return [(kind, value) for kind, value in map(json.loads, out.read_text().splitlines())]


def _wait(predicate: Callable[[], bool], seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_kill_9_mid_flight_loses_no_acknowledged_write_and_resumes(tmp_path: Path) -> None:
    state, out, log = tmp_path / "state", tmp_path / "out.jsonl", tmp_path / "cloud.log"
    out.touch()
    first = Cloud(state, log)
    acknowledged: dict[str, set[int]] = {"s": set(), "q": set()}
    try:
        ddb, sqs, lambdas = (first.client(name) for name in ("dynamodb", "sqs", "lambda"))
        stream_arn = ddb.create_table(
            TableName="crash",
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
            StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"},
        )["TableDescription"]["LatestStreamArn"]
        url = sqs.create_queue(QueueName="crash", Attributes={"VisibilityTimeout": "30"})[
            "QueueUrl"
        ]
        queue_arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        function = create_function(
            lambdas, HANDLER, name="crash-fn", Environment={"Variables": {"OUT": str(out)}}
        )
        lambdas.create_event_source_mapping(
            EventSourceArn=stream_arn,
            FunctionName=function,
            StartingPosition="TRIM_HORIZON",
            BatchSize=BATCH,
        )
        lambdas.create_event_source_mapping(
            EventSourceArn=queue_arn, FunctionName=function, BatchSize=BATCH
        )

        def write() -> None:
            for value in range(WRITES):
                try:
                    ddb.put_item(
                        TableName="crash",
                        Item={"pk": {"S": f"item-{value}"}, "v": {"N": str(value)}},
                    )
                    acknowledged["s"].add(value)
                    sqs.send_message(QueueUrl=url, MessageBody=str(value))
                    acknowledged["q"].add(value)
                except Exception:
                    return  # the cloud is gone: this write was not acknowledged

        writer = threading.Thread(target=write)
        writer.start()
        _wait(lambda: sum(kind == "s" for kind, _ in _processed(out)) >= KILL_AFTER, 60)
        first.kill()
        writer.join(30)
    finally:
        first.kill()
    before = _processed(out)
    assert len(acknowledged["s"]) < WRITES, "the cloud was killed after every write"

    second = Cloud(state, log)
    try:
        # Messages received before the crash are invisible for the rest of their visibility
        # timeout; move the cloud's clock past it rather than wait.
        ControlClient(second.endpoint).clock(advance="31s")

        def all_done() -> bool:
            done = _processed(out)
            return all(
                acknowledged[kind] <= {value for k, value in done if k == kind}
                for kind in acknowledged
            )

        _wait(all_done, 60)
        items = second.client("dynamodb").scan(TableName="crash")["Items"]
        assert acknowledged["s"] <= {int(item["v"]["N"]) for item in items}
        after = _processed(out)[len(before) :]
        stream_before = {value for kind, value in before if kind == "s"}
        again = [value for kind, value in after if kind == "s" and value in stream_before]
        # Resumed from the checkpoint: at most the batches in flight at the crash again.
        assert len(again) <= SHARDS * BATCH, sorted(again)
        second.stop()
    finally:
        second.kill()

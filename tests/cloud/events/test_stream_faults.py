"""A stream mapping under a handler that fails at random — errors, timeouts, its process killed
with SIGKILL — and always on a few poison records, through boto3 against the local cloud (Lambda
developer guide, "Using AWS Lambda with Amazon DynamoDB", error handling; "Lambda event source
mappings", at-least-once delivery and per-partition-key order): no record is lost, every one is
processed at least once or described to the on-failure destination, and per key the first
successful processing of each record is in write order."""

from __future__ import annotations

import json
import random
import time
from pathlib import Path

from event_helpers import create_function, unique

from basegear.cloud.clock import VirtualClock
from basegear.testing import CloudClients

WRITES = 10_000
KEYS = 200

HANDLER = """
import json, os, random, signal, time

def handler(event, context):
    if any(int(r["dynamodb"]["NewImage"]["v"]["N"]) % 100 == 7 for r in event["Records"]):
        raise RuntimeError("a poison record")
    draw = random.random()  # 20% of invocations fail: 16% raise, 2% time out, 2% are killed
    if draw < 0.16:
        raise RuntimeError("unlucky")
    if draw < 0.18:
        time.sleep(3)  # past the function's timeout
    if draw < 0.20:
        os.kill(os.getpid(), signal.SIGKILL)
    done = [[r["dynamodb"]["Keys"]["pk"]["S"], int(r["dynamodb"]["NewImage"]["v"]["N"]),
             r["dynamodb"]["SequenceNumber"]] for r in event["Records"]]
    with open(os.environ["OUT"], "a") as out:
        out.write(json.dumps(done) + "\\n")
"""


# Lambda developer guide, "Using AWS Lambda with Amazon DynamoDB", error handling (retries,
# bisect, on-failure destination) and "Lambda event source mappings" (at least once; in order
# per partition key with a parallelization factor).
def test_random_failures_lose_nothing_and_keep_each_keys_order(
    local_cloud: CloudClients, manual_clock: VirtualClock, tmp_path: Path
) -> None:
    out = tmp_path / "done.jsonl"
    out.touch()
    ddb, lambdas, sqs = (local_cloud.client(name) for name in ("dynamodb", "lambda", "sqs"))
    table = unique("faults")
    stream_arn = ddb.create_table(
        TableName=table,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
    )["TableDescription"]["LatestStreamArn"]
    function = create_function(
        lambdas, HANDLER, Timeout=1, Environment={"Variables": {"OUT": str(out)}}
    )
    url = sqs.create_queue(QueueName=unique("faults"))["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    mapping = lambdas.create_event_source_mapping(
        EventSourceArn=stream_arn,
        FunctionName=function,
        StartingPosition="TRIM_HORIZON",
        BatchSize=50,
        MaximumBatchingWindowInSeconds=1,
        ParallelizationFactor=2,
        MaximumRetryAttempts=1,
        BisectBatchOnFunctionError=True,
        DestinationConfig={"OnFailure": {"Destination": queue_arn}},
    )["UUID"]
    try:
        rng = random.Random(5)
        for start in range(0, WRITES, 25):  # BatchWriteItem takes 25 items; one per key
            keys = rng.sample(range(KEYS), 25)
            ddb.batch_write_item(
                RequestItems={
                    table: [
                        {"PutRequest": {"Item": {"pk": {"S": f"k{k}"}, "v": {"N": str(v)}}}}
                        for k, v in zip(keys, range(start, start + 25), strict=True)
                    ]
                }
            )

        assert local_cloud.services is not None
        stream = local_cloud.services.streams.stream(stream_arn)
        every = {
            record.sequence_number: (shard.shard_id, record)
            for shard in stream.shards
            for record in stream.read(shard, -1, 100_000)
        }
        assert len(every) == WRITES
        discarded: set[int] = set()
        processed: dict[str, list[int]] = {}
        succeeded: set[int] = set()
        deadline = time.monotonic() + 180
        while len(succeeded | discarded) < WRITES:
            assert time.monotonic() < deadline, f"{WRITES - len(succeeded | discarded)} left"
            manual_clock.advance(2)
            time.sleep(0.05)
            for message in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get(
                "Messages", []
            ):
                info = json.loads(message["Body"])["DDBStreamBatchInfo"]
                first, last = int(info["startSequenceNumber"]), int(info["endSequenceNumber"])
                discarded |= {
                    number
                    for number, (shard_id, _) in every.items()
                    if shard_id == info["shardId"] and first <= number <= last
                }
                sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
            processed, succeeded = {}, set()
            for line in out.read_text().splitlines():
                for key, value, number in json.loads(line):
                    if int(number) not in succeeded:
                        processed.setdefault(key, []).append(value)
                    succeeded.add(int(number))
        for key, values in processed.items():
            assert values == sorted(values), key
        assert set(every) <= succeeded | discarded
        poison = {
            number
            for number, (_, record) in every.items()
            if record.new_image and int(record.new_image["v"]["N"]) % 100 == 7
        }
        assert poison <= discarded
    finally:
        lambdas.delete_event_source_mapping(UUID=mapping)

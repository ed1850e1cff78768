"""An SQS mapping under a handler that fails at random — errors, timeouts, its process killed
with SIGKILL — through boto3 against the local cloud (Lambda developer guide, "Using Lambda with
Amazon SQS": a failed batch returns to the queue after its visibility timeout; SQS developer
guide, "Using dead-letter queues": after maxReceiveCount receives a message moves to the
dead-letter queue): no message is lost — each one is processed, or is in the dead-letter
queue."""

from __future__ import annotations

import json
import time
from pathlib import Path

from event_helpers import create_function, unique

from basegear.cloud.clock import VirtualClock
from basegear.testing import CloudClients

MESSAGES = 10_000

HANDLER = """
import os, random, signal, time

def handler(event, context):
    draw = random.random()  # 20% of invocations fail: 16% raise, 2% time out, 2% are killed
    if draw < 0.16:
        raise RuntimeError("unlucky")
    if draw < 0.18:
        time.sleep(3)  # past the function's timeout
    if draw < 0.20:
        os.kill(os.getpid(), signal.SIGKILL)
    with open(os.environ["OUT"], "a") as out:
        out.write("".join(record["body"] + "\\n" for record in event["Records"]))
"""


def test_random_failures_lose_no_message(
    local_cloud: CloudClients, manual_clock: VirtualClock, tmp_path: Path
) -> None:
    out = tmp_path / "done.txt"
    out.touch()
    sqs, lambdas = local_cloud.client("sqs"), local_cloud.client("lambda")
    dlq_url = sqs.create_queue(QueueName=unique("faults-dlq"))["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    redrive = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 3})
    url = sqs.create_queue(
        QueueName=unique("faults"),
        Attributes={"VisibilityTimeout": "10", "RedrivePolicy": redrive},
    )["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    function = create_function(
        lambdas, HANDLER, Timeout=1, Environment={"Variables": {"OUT": str(out)}}
    )
    for start in range(0, MESSAGES, 10):
        sqs.send_message_batch(
            QueueUrl=url,
            Entries=[{"Id": str(n), "MessageBody": str(n)} for n in range(start, start + 10)],
        )
    mapping = lambdas.create_event_source_mapping(
        EventSourceArn=queue_arn, FunctionName=function, BatchSize=10
    )["UUID"]
    try:
        dead: set[int] = set()
        processed: set[int] = set()
        deadline = time.monotonic() + 180
        while len(processed | dead) < MESSAGES:
            assert time.monotonic() < deadline, f"{MESSAGES - len(processed | dead)} left"
            manual_clock.advance(11)  # past the visibility timeout of failed batches
            time.sleep(0.2)
            processed = {int(line) for line in out.read_text().splitlines()}
            for message in sqs.receive_message(
                QueueUrl=dlq_url, MaxNumberOfMessages=10, VisibilityTimeout=3600
            ).get("Messages", []):
                dead.add(int(message["Body"]))
        assert processed | dead == set(range(MESSAGES))
        assert dead, "no batch failed three times: the handler's failures did not happen"
    finally:
        lambdas.delete_event_source_mapping(UUID=mapping)

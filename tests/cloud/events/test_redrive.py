"""``gear redrive QUEUE`` (events/redrive.py) against the local cloud: a queue's dead-letter
queue back to the queue (SQS developer guide, "Configure a dead-letter queue redrive"); a
function's dead-letter queue and an asynchronous on-failure destination back to the function
(Lambda developer guide, "Asynchronous invocation"); a stream mapping's on-failure destination
back to the function with the batch it names (Lambda developer guide, "Retaining discarded
batches for a DynamoDB Streams event source mapping")."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from event_helpers import create_function, unique

from basegear.cli import main
from basegear.cloud.clock import VirtualClock
from basegear.testing import CloudClients

# Fails while the file named by FAIL exists; notes what it handled in OUT.
HANDLER = """
import json, os

def handler(event, context):
    if os.path.exists(os.environ["FAIL"]):
        raise RuntimeError("failing on purpose")
    with open(os.environ["OUT"], "a") as out:
        out.write(json.dumps(event) + "\\n")
"""


def _queue(local_cloud: CloudClients, **attributes: str) -> tuple[str, str]:
    sqs = local_cloud.client("sqs")
    url = sqs.create_queue(QueueName=unique("q"), Attributes=attributes)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    return url, arn


def _count(local_cloud: CloudClients, url: str) -> int:
    attributes = local_cloud.client("sqs").get_queue_attributes(
        QueueUrl=url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return sum(int(value) for value in attributes.values())


def _wait(predicate: Callable[[], bool], clock: VirtualClock, step: float = 0.0) -> None:
    deadline = time.monotonic() + 20
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        if step:
            clock.advance(step)
        time.sleep(0.05)


def _redrive(local_cloud: CloudClients, queue: str, capsys: Any) -> str:
    assert main(["redrive", queue, "--endpoint", local_cloud.endpoint_url]) == 0
    out: str = capsys.readouterr().out
    return out


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path]:
    fail, out = tmp_path / "fail", tmp_path / "out.jsonl"
    fail.touch()
    out.touch()
    return fail, out


def _handled(out: Path) -> list[Any]:
    return [json.loads(line) for line in out.read_text().splitlines()]


def test_a_dead_letter_queue_goes_back_to_its_source_queue(
    local_cloud: CloudClients, manual_clock: VirtualClock, capsys: Any
) -> None:
    sqs = local_cloud.client("sqs")
    dlq_url, dlq_arn = _queue(local_cloud)
    policy = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 1})
    url, _ = _queue(local_cloud, RedrivePolicy=policy, VisibilityTimeout="5")
    sqs.send_message(
        QueueUrl=url,
        MessageBody="order-1",
        MessageAttributes={"kind": {"DataType": "String", "StringValue": "order"}},
    )
    sqs.receive_message(QueueUrl=url)  # the one receive allowed
    manual_clock.advance(6)
    assert sqs.receive_message(QueueUrl=url).get("Messages", []) == []  # moved on receive
    assert _count(local_cloud, dlq_url) == 1

    out = _redrive(local_cloud, dlq_url.rsplit("/", 1)[-1], capsys)
    assert "1 message" in out
    assert _count(local_cloud, dlq_url) == 0
    back = sqs.receive_message(QueueUrl=url, MessageAttributeNames=["All"])["Messages"]
    assert back[0]["Body"] == "order-1"
    assert back[0]["MessageAttributes"]["kind"]["StringValue"] == "order"


def test_a_functions_dead_letter_queue_is_invoked_again(
    local_cloud: CloudClients,
    manual_clock: VirtualClock,
    files: tuple[Path, Path],
    capsys: Any,
) -> None:
    fail, out = files
    dlq_url, dlq_arn = _queue(local_cloud)
    lambdas = local_cloud.client("lambda")
    function = create_function(
        lambdas,
        HANDLER,
        DeadLetterConfig={"TargetArn": dlq_arn},
        Environment={"Variables": {"FAIL": str(fail), "OUT": str(out)}},
    )
    lambdas.put_function_event_invoke_config(FunctionName=function, MaximumRetryAttempts=0)
    lambdas.invoke(FunctionName=function, InvocationType="Event", Payload=b'{"order": 7}')
    _wait(lambda: _count(local_cloud, dlq_url) == 1, manual_clock)

    fail.unlink()
    _redrive(local_cloud, dlq_arn, capsys)
    _wait(lambda: _handled(out) == [{"order": 7}], manual_clock)
    assert _count(local_cloud, dlq_url) == 0


def test_an_on_failure_destination_is_invoked_again(
    local_cloud: CloudClients,
    manual_clock: VirtualClock,
    files: tuple[Path, Path],
    capsys: Any,
) -> None:
    fail, out = files
    failures_url, failures_arn = _queue(local_cloud)
    lambdas = local_cloud.client("lambda")
    function = create_function(
        lambdas, HANDLER, Environment={"Variables": {"FAIL": str(fail), "OUT": str(out)}}
    )
    lambdas.put_function_event_invoke_config(
        FunctionName=function,
        MaximumRetryAttempts=0,
        DestinationConfig={"OnFailure": {"Destination": failures_arn}},
    )
    lambdas.invoke(FunctionName=function, InvocationType="Event", Payload=b'{"order": 8}')
    _wait(lambda: _count(local_cloud, failures_url) == 1, manual_clock)

    fail.unlink()
    _redrive(local_cloud, failures_url, capsys)
    _wait(lambda: _handled(out) == [{"order": 8}], manual_clock)


def test_a_stream_batch_is_read_again_and_processed(
    local_cloud: CloudClients,
    manual_clock: VirtualClock,
    files: tuple[Path, Path],
    capsys: Any,
) -> None:
    fail, out = files
    failures_url, failures_arn = _queue(local_cloud)
    ddb, lambdas = local_cloud.client("dynamodb"), local_cloud.client("lambda")
    name = unique("t")
    stream = ddb.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"},
    )["TableDescription"]["LatestStreamArn"]
    function = create_function(
        lambdas, HANDLER, Environment={"Variables": {"FAIL": str(fail), "OUT": str(out)}}
    )
    mapping = lambdas.create_event_source_mapping(
        EventSourceArn=stream,
        FunctionName=function,
        StartingPosition="TRIM_HORIZON",
        MaximumRetryAttempts=0,
        DestinationConfig={"OnFailure": {"Destination": failures_arn}},
    )["UUID"]
    try:
        ddb.put_item(TableName=name, Item={"pk": {"S": "a"}})
        _wait(lambda: _count(local_cloud, failures_url) == 1, manual_clock, step=5)
        fail.unlink()
        assert "1 message" in _redrive(local_cloud, failures_arn, capsys)
        handled = _handled(out)
        assert [r["dynamodb"]["Keys"] for e in handled for r in e["Records"]] == [
            {"pk": {"S": "a"}}
        ]
        assert _count(local_cloud, failures_url) == 0
    finally:
        lambdas.delete_event_source_mapping(UUID=mapping)


def test_redrive_names_an_unknown_queue(local_cloud: CloudClients, capsys: Any) -> None:
    assert main(["redrive", "no-such-queue", "--endpoint", local_cloud.endpoint_url]) == 1
    assert "no queue named no-such-queue" in capsys.readouterr().err

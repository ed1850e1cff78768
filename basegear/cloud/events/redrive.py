"""``gear redrive QUEUE``: send what a dead-letter or on-failure queue holds back where it came
from, and delete each message once it is there:

- a queue that is the dead-letter queue of another (its ``RedrivePolicy``): each message goes
  back to that source queue, body and attributes unchanged (as SQS's "start DLQ redrive" does,
  SQS developer guide, "Configure a dead-letter queue redrive");
- a stream mapping's on-failure destination: each record names its batch
  (``DDBStreamBatchInfo``); the batch's records are read from the stream again and the function
  is invoked with them — a message whose records have left the stream (24 hours) stays;
- an asynchronous invocation's on-failure destination: the record's ``requestPayload`` is
  invoked again, asynchronously, on ``requestContext.functionArn``;
- a function's dead-letter queue: the message body (the original event) is invoked again,
  asynchronously, on that function.

A message that cannot be sent back stays in the queue and is counted as failed.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from basegear.cloud.events.destinations import DeliveryError, arn_parts, queue_url
from basegear.errors import GearError

if TYPE_CHECKING:
    from basegear.cloud.server import StandardServices

Send = Callable[[dict[str, Any]], bool]
VISIBILITY = 60  # seconds a message being redriven is hidden from other consumers


def redrive(services: StandardServices, queue: str) -> dict[str, Any]:
    """Move every message of ``queue`` (a name, URL or ARN) back; returns what was done."""
    if not queue:
        raise GearError("name the queue to redrive")
    clients = services.context.clients
    arn = _queue_arn(services, queue)
    region = arn_parts(arn)[1]
    sqs = clients.client("sqs", region)
    url = queue_url(clients, arn)
    sources = sqs.list_dead_letter_source_queues(QueueUrl=url).get("queueUrls", [])
    if len(sources) > 1:
        raise GearError(
            f"{arn} is the dead-letter queue of {len(sources)} queues ({', '.join(sources)}); "
            "BaseGear cannot tell which message came from which"
        )
    to, send = (
        (sources[0].rsplit("/", 1)[-1], _to_queue(sqs, sources[0]))
        if sources
        else ("their functions", _to_function(services, arn))
    )
    moved = failed = 0
    seen: set[str] = set()
    while True:
        messages = sqs.receive_message(
            QueueUrl=url,
            MaxNumberOfMessages=10,
            VisibilityTimeout=VISIBILITY,
            MessageAttributeNames=["All"],
            MessageSystemAttributeNames=["All"],
        ).get("Messages", [])
        fresh = [m for m in messages if m["MessageId"] not in seen]
        if not fresh:
            break
        for message in fresh:
            seen.add(message["MessageId"])
            if send(message):
                sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
                moved += 1
            else:
                failed += 1
    return {"queue": arn_parts(arn)[3], "to": to, "moved": moved, "failed": failed}


def _queue_arn(services: StandardServices, queue: str) -> str:
    if queue.startswith("arn:"):
        return queue
    name = queue.rstrip("/").rsplit("/", 1)[-1]
    from moto.sqs.models import sqs_backends

    for account, regions in list(sqs_backends.items()):
        for region, backend in list(regions.items()):
            if name in backend.queues:
                return f"arn:aws:sqs:{region}:{account}:{name}"
    raise GearError(f"no queue named {name} in the local cloud")


def _to_queue(sqs: Any, source_url: str) -> Send:
    def send(message: dict[str, Any]) -> bool:
        extra: dict[str, Any] = {}
        if message.get("MessageAttributes"):
            extra["MessageAttributes"] = message["MessageAttributes"]
        group = message.get("Attributes", {}).get("MessageGroupId")
        if group:
            extra["MessageGroupId"] = group
            extra["MessageDeduplicationId"] = message["MessageId"]
        sqs.send_message(QueueUrl=source_url, MessageBody=message["Body"], **extra)
        return True

    return send


def _to_function(services: StandardServices, queue_arn: str) -> Send:
    clients = services.context.clients
    dead_letter_of = _functions_with_dead_letter_queue(services, queue_arn)

    def invoke_async(function_arn: str, payload: bytes) -> bool:
        region = arn_parts(function_arn)[1]
        try:
            clients.client("lambda", region).invoke(
                FunctionName=function_arn, InvocationType="Event", Payload=payload
            )
        except Exception:
            return False
        return True

    def send(message: dict[str, Any]) -> bool:
        try:
            record = json.loads(message["Body"])
        except ValueError:
            record = None
        if isinstance(record, dict) and "DDBStreamBatchInfo" in record:
            return _replay_stream_batch(services, record)
        context = record.get("requestContext") if isinstance(record, dict) else None
        if isinstance(context, dict) and "requestPayload" in record:
            payload = json.dumps(record["requestPayload"]).encode()
            return invoke_async(str(context.get("functionArn", "")), payload)
        if len(dead_letter_of) == 1:
            return invoke_async(dead_letter_of[0], message["Body"].encode())
        return False

    return send


def _functions_with_dead_letter_queue(services: StandardServices, queue_arn: str) -> list[str]:
    region = arn_parts(queue_arn)[1]
    client = services.context.clients.client("lambda", region)
    found = []
    for page in client.get_paginator("list_functions").paginate():
        for function in page["Functions"]:
            if (function.get("DeadLetterConfig") or {}).get("TargetArn") == queue_arn:
                found.append(function["FunctionArn"])
    return found


def _replay_stream_batch(services: StandardServices, record: dict[str, Any]) -> bool:
    """Invoke the function again with the batch an on-failure record names."""
    info = record["DDBStreamBatchInfo"]
    function_arn = str(record.get("requestContext", {}).get("functionArn", ""))
    try:
        records = services.streams.records_between(
            str(info["streamArn"]),
            str(info["shardId"]),
            int(info["startSequenceNumber"]),
            int(info["endSequenceNumber"]),
        )
    except (KeyError, ValueError, LookupError):
        return False
    if not records:
        return False
    try:
        result = services.context.invoker.invoke(
            function_arn, json.dumps({"Records": records}).encode()
        )
    except (LookupError, DeliveryError, GearError):
        return False
    return result.function_error is None

"""Sending a record to a destination by ARN, as Lambda does for on-failure destinations,
asynchronous invocation destinations and dead-letter queues (Lambda developer guide, "Capturing
records of Lambda asynchronous invocations" and "Retaining discarded batches for an event source
mapping"): an SQS queue, an SNS topic, a function (invoked asynchronously) or an EventBridge
event bus. Through the in-process clients, so what is sent is journaled as any write."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from basegear.cloud.events.context import Clients


class DeliveryError(Exception):
    """The destination refused the record or does not exist."""


def arn_parts(arn: str) -> tuple[str, str, str, str]:
    """``arn:aws:SERVICE:REGION:ACCOUNT:RESOURCE`` → service, region, account, resource."""
    parts = arn.split(":", 5)
    if len(parts) != 6 or parts[0] != "arn":
        raise DeliveryError(f"not an ARN: {arn}")
    return parts[2], parts[3], parts[4], parts[5]


def queue_url(clients: Clients, arn: str) -> str:
    _, region, account, name = arn_parts(arn)
    sqs = clients.client("sqs", region)
    try:
        url: str = sqs.get_queue_url(QueueName=name, QueueOwnerAWSAccountId=account)["QueueUrl"]
    except Exception as exc:
        raise DeliveryError(f"queue {arn} does not exist") from exc
    return url


def deliver(
    clients: Clients,
    arn: str,
    body: str,
    *,
    attributes: Mapping[str, str] | None = None,
    detail_type: str = "Lambda Function Invocation Result",
) -> None:
    """Send ``body`` (a JSON document) to the destination ``arn``; string ``attributes`` become
    SQS or SNS message attributes. Raises ``DeliveryError``."""
    service, region, _, resource = arn_parts(arn)
    try:
        if service == "sqs":
            sqs = clients.client("sqs", region)
            sqs.send_message(
                QueueUrl=queue_url(clients, arn),
                MessageBody=body,
                **_attributes(attributes),
            )
        elif service == "sns":
            clients.client("sns", region).publish(
                TopicArn=arn, Message=body, **_attributes(attributes)
            )
        elif service == "lambda":
            clients.client("lambda", region).invoke(
                FunctionName=arn, InvocationType="Event", Payload=body.encode()
            )
        elif service == "events":
            bus = resource.removeprefix("event-bus/")
            answer = clients.client("events", region).put_events(
                Entries=[
                    {
                        "Source": "lambda",
                        "DetailType": detail_type,
                        "Detail": body,
                        "EventBusName": bus,
                    }
                ]
            )
            if answer.get("FailedEntryCount"):
                raise DeliveryError(f"event bus {arn} refused the record")
        else:
            raise DeliveryError(f"{arn} is not a queue, topic, function or event bus")
    except DeliveryError:
        raise
    except Exception as exc:
        raise DeliveryError(f"sending to {arn} failed: {exc}") from exc


def _attributes(attributes: Mapping[str, str] | None) -> dict[str, Any]:
    if not attributes:
        return {}
    return {
        "MessageAttributes": {
            name: {"DataType": "String", "StringValue": value} for name, value in attributes.items()
        }
    }


def as_json(document: object) -> str:
    return json.dumps(document, separators=(",", ":"))

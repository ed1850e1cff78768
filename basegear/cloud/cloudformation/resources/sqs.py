"""AWS::SQS::Queue and AWS::SQS::QueuePolicy.

CloudFormation resource reference, AWS::SQS::Queue: Ref is the queue URL; Fn::GetAtt gives Arn,
QueueName and QueueUrl; QueueName and FifoQueue require replacement; a generated FIFO queue name
ends in ``.fifo``; RedrivePolicy and RedriveAllowPolicy may be objects (sent as JSON). Removing an
attribute from the template puts the API default back (SQS API reference, CreateQueue:
DelaySeconds 0, MaximumMessageSize 262144, MessageRetentionPeriod 345600,
ReceiveMessageWaitTimeSeconds 0, VisibilityTimeout 30). A QueuePolicy sets the Policy attribute
of each of its Queues (URLs)."""

from __future__ import annotations

from typing import Any

from basegear.cloud.cloudformation.resources.base import (
    Context,
    Created,
    Handler,
    Properties,
    as_json,
    fifo_name,
    removed_tag_keys,
    required,
    tag_map,
    text,
)
from basegear.cloud.cloudformation.resources.registry import handles

ATTRIBUTES = (
    "DelaySeconds",
    "MaximumMessageSize",
    "MessageRetentionPeriod",
    "ReceiveMessageWaitTimeSeconds",
    "VisibilityTimeout",
    "RedrivePolicy",
    "RedriveAllowPolicy",
    "ContentBasedDeduplication",
    "DeduplicationScope",
    "FifoThroughputLimit",
    "KmsMasterKeyId",
    "KmsDataKeyReusePeriodSeconds",
    "SqsManagedSseEnabled",
)
DEFAULTS = {
    "DelaySeconds": "0",
    "MaximumMessageSize": "262144",
    "MessageRetentionPeriod": "345600",
    "ReceiveMessageWaitTimeSeconds": "0",
    "VisibilityTimeout": "30",
    "RedrivePolicy": "",
    "RedriveAllowPolicy": "",
}


def _attributes(props: Properties) -> dict[str, str]:
    found: dict[str, str] = {}
    for key in ATTRIBUTES:
        if key not in props:
            continue
        value = props[key]
        found[key] = as_json(value) if key.startswith("Redrive") else text(value)
    return found


@handles
class Queue(Handler):
    type_name = "AWS::SQS::Queue"
    attributes = frozenset({"Arn", "QueueName", "QueueUrl"})
    replace_on = frozenset({"QueueName", "FifoQueue"})
    name_property = "QueueName"

    def create(self, ctx: Context, props: Properties) -> Created:
        fifo = text(props.get("FifoQueue", False)) == "true"
        name = fifo_name(ctx, props.get("QueueName"), fifo=fifo, max_length=80)
        attributes = _attributes(props)
        if fifo:
            attributes["FifoQueue"] = "true"
        extra: dict[str, Any] = {"tags": tag_map(props["Tags"])} if props.get("Tags") else {}
        sqs = ctx.client("sqs")
        url = sqs.create_queue(QueueName=name, Attributes=attributes, **extra)["QueueUrl"]
        arn = ctx.arn("sqs", name)
        return Created(url, {"Arn": arn, "QueueName": name, "QueueUrl": url})

    def update(self, ctx: Context, current: Created, old: Properties, new: Properties) -> Created:
        sqs = ctx.client("sqs")
        before, after = _attributes(old), _attributes(new)
        changes = {key: value for key, value in after.items() if before.get(key) != value}
        for key in before.keys() - after.keys():
            if key in DEFAULTS:
                changes[key] = DEFAULTS[key]
        if changes:
            sqs.set_queue_attributes(QueueUrl=current.physical_id, Attributes=changes)
        if old.get("Tags") != new.get("Tags"):
            if removed := removed_tag_keys(old, new):
                sqs.untag_queue(QueueUrl=current.physical_id, TagKeys=removed)
            if new.get("Tags"):
                sqs.tag_queue(QueueUrl=current.physical_id, Tags=tag_map(new["Tags"]))
        return current

    def delete(self, ctx: Context, current: Created, props: Properties) -> None:
        ctx.client("sqs").delete_queue(QueueUrl=current.physical_id)


@handles
class QueuePolicy(Handler):
    type_name = "AWS::SQS::QueuePolicy"
    attributes = frozenset({"Id"})

    def create(self, ctx: Context, props: Properties) -> Created:
        self._set(ctx, props)
        physical_id = ctx.physical_name(128)
        return Created(physical_id, {"Id": physical_id})

    def update(self, ctx: Context, current: Created, old: Properties, new: Properties) -> Created:
        dropped = [url for url in old.get("Queues", []) if url not in new.get("Queues", [])]
        self._clear(ctx, dropped)
        self._set(ctx, new)
        return current

    def delete(self, ctx: Context, current: Created, props: Properties) -> None:
        self._clear(ctx, props.get("Queues", []))

    def _set(self, ctx: Context, props: Properties) -> None:
        document = as_json(required(props, "PolicyDocument", self.type_name))
        for url in required(props, "Queues", self.type_name):
            ctx.client("sqs").set_queue_attributes(QueueUrl=url, Attributes={"Policy": document})

    @staticmethod
    def _clear(ctx: Context, urls: list[str]) -> None:
        for url in urls:
            ctx.client("sqs").set_queue_attributes(QueueUrl=url, Attributes={"Policy": ""})

"""AWS::Kinesis::Stream and AWS::Kinesis::StreamConsumer.

CloudFormation resource reference: a Stream's Ref is its name, Fn::GetAtt Arn; Name requires
replacement; ShardCount updates in place (UpdateShardCount). A StreamConsumer's Ref is the
consumer ARN; Fn::GetAtt gives ConsumerARN, ConsumerCreationTimestamp, ConsumerName,
ConsumerStatus and StreamARN; both its properties require replacement."""

from __future__ import annotations

from typing import Any

from basegear.cloud.cloudformation.resources.base import (
    Context,
    Created,
    Handler,
    Properties,
    required,
)
from basegear.cloud.cloudformation.resources.registry import handles


@handles
class Stream(Handler):
    type_name = "AWS::Kinesis::Stream"
    attributes = frozenset({"Arn"})
    replace_on = frozenset({"Name"})
    name_property = "Name"

    def create(self, ctx: Context, props: Properties) -> Created:
        name = props.get("Name") or ctx.physical_name(128)
        extra: dict[str, Any] = {}
        mode = props.get("StreamModeDetails")
        if mode:
            extra["StreamModeDetails"] = mode
        if not mode or mode.get("StreamMode") != "ON_DEMAND":
            extra["ShardCount"] = int(props.get("ShardCount", 1))
        kinesis = ctx.client("kinesis")
        kinesis.create_stream(StreamName=name, **extra)
        arn = kinesis.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"][
            "StreamARN"
        ]
        if "RetentionPeriodHours" in props:
            kinesis.increase_stream_retention_period(
                StreamName=name, RetentionPeriodHours=int(props["RetentionPeriodHours"])
            )
        return Created(name, {"Arn": arn})

    def update(self, ctx: Context, current: Created, old: Properties, new: Properties) -> Created:
        if old.get("ShardCount") != new.get("ShardCount") and "ShardCount" in new:
            ctx.client("kinesis").update_shard_count(
                StreamName=current.physical_id,
                TargetShardCount=int(new["ShardCount"]),
                ScalingType="UNIFORM_SCALING",
            )
        return current

    def delete(self, ctx: Context, current: Created, props: Properties) -> None:
        ctx.client("kinesis").delete_stream(
            StreamName=current.physical_id, EnforceConsumerDeletion=True
        )


@handles
class StreamConsumer(Handler):
    type_name = "AWS::Kinesis::StreamConsumer"
    attributes = frozenset(
        {
            "ConsumerARN",
            "ConsumerCreationTimestamp",
            "ConsumerName",
            "ConsumerStatus",
            "StreamARN",
        }
    )
    immutable = True

    def create(self, ctx: Context, props: Properties) -> Created:
        stream = required(props, "StreamARN", self.type_name)
        consumer = ctx.client("kinesis").register_stream_consumer(
            StreamARN=stream, ConsumerName=required(props, "ConsumerName", self.type_name)
        )["Consumer"]
        arn = consumer["ConsumerARN"]
        return Created(
            arn,
            {
                "ConsumerARN": arn,
                "ConsumerCreationTimestamp": str(consumer["ConsumerCreationTimestamp"]),
                "ConsumerName": consumer["ConsumerName"],
                "ConsumerStatus": consumer["ConsumerStatus"],
                "StreamARN": stream,
            },
        )

    def delete(self, ctx: Context, current: Created, props: Properties) -> None:
        ctx.client("kinesis").deregister_stream_consumer(
            StreamARN=props["StreamARN"], ConsumerARN=current.physical_id
        )

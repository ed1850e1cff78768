"""DynamoDB and Kinesis stream events: one ``AWS::Lambda::EventSourceMapping`` per event.

Logical IDs are the Serverless Framework v3's, ``<Fn>EventSourceMapping<Type><Stream>``, where
``<Stream>`` is the table or stream name read from the ARN (or the resource an intrinsic function
names). v3 gives two events of one function on one stream that same ID, and its merge silently
mixes the second event's options into the first mapping. BaseGear compiles one mapping per
event: the first keeps v3's ID and the n-th on the same stream (n ≥ 2) gets ``Mapping<n>``
appended — ``ProcessEventSourceMappingDynamodbOrdersMapping2``. The number counts events on that
stream only, so adding or removing other events never renames a mapping (a renamed mapping is a
new one, which starts reading the stream again from its starting position).
"""

from __future__ import annotations

from basegear.compile.context import Context, Json
from basegear.compile.deadletter import target_kind
from basegear.compile.event_support import (
    event_path,
    filter_criteria,
    intrinsic_name,
    mapping_dependencies,
    mapping_id,
)
from basegear.compile.functions import function_arn
from basegear.compile.naming import alphanumeric, normalized, upper_first
from basegear.compile.role import uses_shared_role
from basegear.errors import ConfigPath
from basegear.model.events import StreamEvent

# What the execution role needs to read each kind of stream: Lambda developer guide, "Using AWS
# Lambda with Amazon DynamoDB" and "Process Amazon Kinesis Data Streams records with Lambda"
# (execution role permissions). Lambda polls the stream with the function's execution role.
READ_ACTIONS = {
    "dynamodb": [
        "dynamodb:GetRecords",
        "dynamodb:GetShardIterator",
        "dynamodb:DescribeStream",
        "dynamodb:ListStreams",
    ],
    "kinesis": [
        "kinesis:GetRecords",
        "kinesis:GetShardIterator",
        "kinesis:DescribeStream",
        "kinesis:DescribeStreamSummary",
        "kinesis:ListShards",
        "kinesis:ListStreams",
    ],
}
# An enhanced fan-out consumer is read through SubscribeToShard on the consumer's ARN.
CONSUMER_ACTIONS = ["kinesis:SubscribeToShard"]
# Lambda sends the on-failure record with the execution role (Lambda developer guide,
# "Retaining discarded batch records": sqs:SendMessage or sns:Publish on the destination).
SEND_ACTIONS = {"sqs": "sqs:SendMessage", "sns": "sns:Publish"}


def compile_stream(context: Context, key: str, index: int, event: StreamEvent) -> None:
    path = event_path(key, index, "stream")
    kind = str(event.type)
    named = target_kind(context, event.arn, (*path, "arn"))
    if named is not None and named != kind:
        raise context.fail(f"type is {kind}, but arn is a {named} ARN", (*path, "type"))
    name = stream_name(context, event.arn, (*path, "arn"))
    base = _base_id(context, key, index, event)
    earlier = [
        _base_id(context, key, position, other)
        for position, other in _earlier_streams(context, key, index)
    ]
    logical_id = mapping_id(context, base, earlier, path)
    ordinal = earlier.count(base) + 1

    dependencies = mapping_dependencies(context, key)
    source: Json = event.arn
    if event.consumer and kind != "kinesis":
        raise context.fail(
            "consumer (enhanced fan-out) applies to Kinesis streams only", (*path, "consumer")
        )
    if event.consumer is True:
        consumer_id = _consumer(context, key, name, event.arn, ordinal)
        dependencies.append(consumer_id)
        source = {"Ref": consumer_id}  # Ref of a stream consumer is its ARN
    elif event.consumer:
        source = event.consumer

    properties: dict[str, Json] = {
        "BatchSize": event.batch_size,
        "Enabled": event.enabled,
        "EventSourceArn": source,
        "FunctionName": function_arn(context, key),
    }
    if event.parallelization_factor is not None:
        properties["ParallelizationFactor"] = event.parallelization_factor
    properties["StartingPosition"] = event.starting_position
    if uses_shared_role(context.service, key):
        context.allow(READ_ACTIONS[kind], [event.arn])
        if event.consumer:
            context.allow(CONSUMER_ACTIONS, [source])
    _set_options(context, key, properties, event, path)
    context.template.add(
        logical_id,
        "AWS::Lambda::EventSourceMapping",
        properties,
        DependsOn=dependencies or None,
    )


def _set_options(
    context: Context,
    key: str,
    properties: dict[str, Json],
    event: StreamEvent,
    path: ConfigPath,
) -> None:
    """The optional settings, each under its CloudFormation name (AWS::Lambda::EventSourceMapping
    in the CloudFormation User Guide) and in the framework's order; a setting left out keeps
    Lambda's default."""
    response_types = None
    if event.function_response_type is not None:
        response_types = [event.function_response_type]
    filters = None
    if event.filter_patterns is not None:
        filters = filter_criteria(event.filter_patterns)
    optional = (
        ("MaximumBatchingWindowInSeconds", event.batch_window),
        ("MaximumRetryAttempts", event.maximum_retry_attempts),
        ("BisectBatchOnFunctionError", event.bisect_batch_on_function_error),
        ("FunctionResponseTypes", response_types),
        ("MaximumRecordAgeInSeconds", event.maximum_record_age_in_seconds),
        ("TumblingWindowInSeconds", event.tumbling_window_in_seconds),
        ("DestinationConfig", _destination(context, key, event, path)),
        ("FilterCriteria", filters),
        ("StartingPositionTimestamp", _starting_timestamp(context, event, path)),
    )
    for name, value in optional:
        if value is not None:
            properties[name] = value


def _starting_timestamp(context: Context, event: StreamEvent, path: ConfigPath) -> Json:
    if event.starting_position_timestamp is None:
        return None
    if event.starting_position != "AT_TIMESTAMP":
        # Lambda reads the timestamp only "with StartingPosition set to AT_TIMESTAMP" (Lambda
        # API reference, CreateEventSourceMapping); anything else would be silently ignored.
        raise context.fail(
            "startingPositionTimestamp needs startingPosition: AT_TIMESTAMP",
            (*path, "startingPositionTimestamp"),
        )
    moment = float(event.starting_position_timestamp)
    return int(moment) if moment.is_integer() else moment


def _destination(context: Context, key: str, event: StreamEvent, path: ConfigPath) -> Json:
    """DestinationConfig for ``destinations.onFailure``, and the right to send there."""
    if event.destinations is None:
        return None
    destination = event.destinations.on_failure
    where = (*path, "destinations", "onFailure", "arn")
    kind = destination.type or target_kind(context, destination.arn, where)
    if kind is None:
        raise context.fail(
            "type (sqs or sns) is needed when the on-failure arn is not a literal ARN",
            (*path, "destinations", "onFailure"),
        )
    if kind not in SEND_ACTIONS:
        # Lambda API reference, OnFailure: "the ARN of a standard Amazon SQS queue or standard
        # Amazon SNS topic" for DynamoDB and Kinesis sources.
        raise context.fail(
            f"an on-failure destination is an SQS queue or an SNS topic, got a {kind} ARN", where
        )
    if uses_shared_role(context.service, key):
        context.allow([SEND_ACTIONS[kind]], [destination.arn])
    return {"OnFailure": {"Destination": destination.arn}}


def _consumer(context: Context, key: str, name: str, stream: Json, ordinal: int) -> str:
    """An enhanced fan-out consumer for this event (AWS::Kinesis::StreamConsumer), named as the
    Serverless Framework names it; a second consumer of one function on one stream gets its
    ordinal, as its mapping does, since consumer names are unique per stream."""
    kinesis = context.service.provider.kinesis or {}
    if kinesis.get("consumerNamingMode"):
        consumer = f"{key}{name}{context.service.service}{context.stage}Consumer"
    else:
        consumer = f"{key}{name}Consumer"
    if ordinal > 1:
        consumer += str(ordinal)
    return context.template.add(
        f"{normalized(consumer)}StreamConsumer",
        "AWS::Kinesis::StreamConsumer",
        {"StreamARN": stream, "ConsumerName": consumer},
    )


def stream_name(context: Context, arn: Json, path: ConfigPath) -> str:
    """The table or stream name in a logical ID, read as the Serverless Framework reads it:
    ``table/<name>/stream/…`` or ``stream/<name>`` from an ARN, the resource an ``Fn::GetAtt``
    or ``Ref`` names, the export name of an ``Fn::ImportValue``, the last part of an
    ``Fn::Join``."""
    if isinstance(arn, str):
        parts = arn.split("/")
        return parts[1] if len(parts) > 1 else arn
    name = intrinsic_name(arn)
    if name is not None:
        joined = "Fn::Join" in arn
        return name.split("/")[-1] if joined else name
    raise context.fail(
        "cannot name the event source mapping after this stream: give its ARN as text, "
        "!GetAtt, !Ref, !ImportValue, !Join or !Sub",
        path,
    )


def _base_id(context: Context, key: str, index: int, event: StreamEvent) -> str:
    name = stream_name(context, event.arn, (*event_path(key, index, "stream"), "arn"))
    return f"{normalized(key)}EventSourceMapping{upper_first(str(event.type))}{alphanumeric(name)}"


def _earlier_streams(context: Context, key: str, index: int) -> list[tuple[int, StreamEvent]]:
    events = context.service.functions[key].events[:index]
    return [(position, e.stream) for position, e in enumerate(events) if e.stream is not None]

"""SQS events: one ``AWS::Lambda::EventSourceMapping`` per event.

Logical IDs are the Serverless Framework v3's, ``<Fn>EventSourceMappingSQS<Queue>``, where
``<Queue>`` is the queue name at the end of its ARN (or the resource an intrinsic function
names). Two events of one function on one queue get v3's ID and then ``Mapping<n>``, as stream
events do (see ``streams``), instead of v3's silent merge into one mapping.
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
from basegear.compile.naming import alphanumeric, normalized
from basegear.compile.role import uses_shared_role
from basegear.errors import ConfigPath
from basegear.model.events import SqsEvent

# Lambda polls the queue with the function's execution role (Lambda developer guide, "Using
# Lambda with Amazon SQS", execution role permissions).
RECEIVE_ACTIONS = ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"]


def compile_sqs(context: Context, key: str, index: int, event: SqsEvent) -> None:
    path = event_path(key, index, "sqs")
    base = _base_id(context, key, event.arn, (*path, "arn"))
    earlier = [
        _base_id(context, key, other.sqs.arn, (*event_path(key, position, "sqs"), "arn"))
        for position, other in enumerate(context.service.functions[key].events[:index])
        if other.sqs is not None
    ]
    logical_id = mapping_id(context, base, earlier, path)
    properties: dict[str, Json] = {"BatchSize": event.batch_size}
    if event.maximum_batching_window is not None:
        properties["MaximumBatchingWindowInSeconds"] = event.maximum_batching_window
    properties["EventSourceArn"] = event.arn
    properties["FunctionName"] = function_arn(context, key)
    properties["Enabled"] = event.enabled
    if event.function_response_type is not None:
        properties["FunctionResponseTypes"] = [event.function_response_type]
    if event.filter_patterns is not None:
        properties["FilterCriteria"] = filter_criteria(event.filter_patterns)
    if event.maximum_concurrency is not None:
        # Lambda developer guide, "Configuring maximum concurrency for Amazon SQS event sources".
        properties["ScalingConfig"] = {"MaximumConcurrency": event.maximum_concurrency}
    if uses_shared_role(context.service, key):
        context.allow(RECEIVE_ACTIONS, [event.arn])
    context.template.add(
        logical_id,
        "AWS::Lambda::EventSourceMapping",
        properties,
        DependsOn=mapping_dependencies(context, key) or None,
    )


def _base_id(context: Context, key: str, arn: Json, path: ConfigPath) -> str:
    return f"{normalized(key)}EventSourceMappingSQS{alphanumeric(queue_name(context, arn, path))}"


def queue_name(context: Context, arn: Json, path: ConfigPath) -> str:
    """The queue name in a logical ID: the end of an ARN, the resource an ``Fn::GetAtt`` names,
    the export name of an ``Fn::ImportValue``, the last part of an ``Fn::Join``."""
    kind = target_kind(context, arn, path)  # also refuses !Ref of a queue: that is its URL
    if kind not in (None, "sqs"):
        raise context.fail(f"an sqs event reads an SQS queue, got a {kind} ARN", path)
    if isinstance(arn, str):
        return arn.split(":")[-1]
    name = intrinsic_name(arn)
    if name is None:
        raise context.fail(
            "cannot name the event source mapping after this queue: give its ARN as text, "
            "!GetAtt, !ImportValue, !Join or !Sub",
            path,
        )
    return name.split(":")[-1] if isinstance(arn, dict) and "Fn::Sub" in arn else name

"""Where a function's failed asynchronous invocations go: ``onError``, or the
serverless-plugin-lambda-dead-letter ``deadLetter`` section.

On Serverless Framework v3 the dead-letter plugin compiles nothing: its hook
(``deploy:compileEvents``) never runs, so no queue or topic is created and the function gets no
DeadLetterConfig. BaseGear does what the plugin's README describes — ``sqs`` creates
``<Fn>DeadLetterQueue``, ``sns`` creates ``<Fn>DeadLetterTopic`` (the plugin's logical IDs),
``targetArn`` is used as given — and sets ``DeadLetterConfig`` on the function itself. Lambda
sends dead letters with the function's execution role, which needs sqs:SendMessage or
sns:Publish on the target (Lambda developer guide, "Capturing records of Lambda asynchronous
invocations", dead-letter queues), so the role is granted that. The plugin's queue policy open
to every AWS principal is not created: the role's permission is what Lambda uses.
"""

from __future__ import annotations

import re

from basegear.compile.context import Context, Json
from basegear.compile.naming import function_id, normalized
from basegear.compile.role import uses_shared_role
from basegear.errors import ConfigPath
from basegear.model.plugins import SnsDeadLetter, SqsDeadLetter

# What the execution role must be allowed to do to send to each kind of target.
SEND_ACTIONS = {
    "lambda": "lambda:InvokeFunction",
    "sqs": "sqs:SendMessage",
    "sns": "sns:Publish",
    "events": "events:PutEvents",
}
TARGET_TYPES = {
    "AWS::Lambda::Function": "lambda",
    "AWS::SQS::Queue": "sqs",
    "AWS::SNS::Topic": "sns",
    "AWS::Events::EventBus": "events",
    "AWS::S3::Bucket": "s3",
}
# arn:partition:service:…, where the partition may be ${AWS::Partition} or #{AWS::Partition}.
ARN_SERVICE = re.compile(r"arn:(?:[$#]\{[^}]*\}|[^:]*):([a-z0-9-]+):")
QUEUE_PROPERTIES = (
    ("delay_seconds", "DelaySeconds"),
    ("maximum_message_size", "MaximumMessageSize"),
    ("message_retention_period", "MessageRetentionPeriod"),
    ("receive_message_wait_time_seconds", "ReceiveMessageWaitTimeSeconds"),
    ("visibility_timeout", "VisibilityTimeout"),
)


def dead_letter_target(context: Context, key: str) -> Json | None:
    """``DeadLetterConfig.TargetArn`` for ``key``, creating the queue or topic it names."""
    function = context.service.functions[key]
    dead_letter = function.dead_letter
    path: ConfigPath = ("functions", key, "onError")
    if function.on_error is not None and dead_letter is not None:
        raise context.fail(
            "a function has one dead-letter target: set onError or deadLetter, not both", path
        )
    if function.on_error is not None:
        target = function.on_error
    elif dead_letter is None:
        return None
    elif dead_letter.sqs is not None:
        target = _queue(context, key, dead_letter.sqs)
    elif dead_letter.sns is not None:
        target = _topic(context, key, dead_letter.sns)
    else:
        target = dead_letter.target_arn
        path = ("functions", key, "deadLetter", "targetArn")
    # Lambda API reference, DeadLetterConfig: "The ARN of an Amazon SQS queue or Amazon SNS topic".
    kind = target_kind(context, target, path)
    if kind not in (None, "sqs", "sns"):
        raise context.fail("a dead-letter target must be an SQS queue or an SNS topic", path)
    if uses_shared_role(context.service, key):
        actions = [SEND_ACTIONS[kind]] if kind else [SEND_ACTIONS["sqs"], SEND_ACTIONS["sns"]]
        context.allow(actions, [target])
    return target


def target_kind(context: Context, target: Json, path: ConfigPath) -> str | None:
    """Which service an ARN belongs to, read from the ARN itself, from an ``Fn::Sub`` template
    of one, or from the type of the resource an ``Fn::GetAtt`` names. ``None`` when it cannot be
    known before deployment (an ``Fn::ImportValue``, say)."""
    if isinstance(target, str):
        match = ARN_SERVICE.match(target)
        if match is None:
            raise context.fail(f"expected an ARN, got '{target}'", path)
        return match.group(1)
    if not isinstance(target, dict) or len(target) != 1:
        return None
    ((function, argument),) = target.items()
    if function == "Fn::Sub":
        match = ARN_SERVICE.match(str(argument[0] if isinstance(argument, list) else argument))
        return match.group(1) if match else None
    if function not in ("Fn::GetAtt", "Ref"):
        return None
    logical_id = argument[0] if isinstance(argument, list) else str(argument).split(".")[0]
    kind = TARGET_TYPES.get(_resource_type(context, logical_id) or "")
    if function == "Ref" and kind in ("lambda", "sqs", "events", "s3"):
        # CloudFormation User Guide: Ref of a function, an event bus or a bucket is its name, Ref
        # of a queue its URL; only a topic's Ref is its ARN.
        raise context.fail(f"!Ref {logical_id} is not an ARN; use !GetAtt {logical_id}.Arn", path)
    return kind


def _resource_type(context: Context, logical_id: str) -> str | None:
    if logical_id in {function_id(key) for key in context.service.functions}:
        return "AWS::Lambda::Function"  # perhaps not compiled yet
    compiled = context.template.resources.get(logical_id)
    if compiled is not None:
        return str(compiled["Type"])
    user = context.service.resources.Resources.get(logical_id)
    return user.Type if user is not None else None


def _queue(context: Context, key: str, queue: SqsDeadLetter) -> Json:
    properties: dict[str, Json] = {"QueueName": queue.queue_name}
    for field, name in QUEUE_PROPERTIES:
        value = getattr(queue, field)
        if value is not None:
            properties[name] = value
    logical_id = context.template.add(
        f"{normalized(key)}DeadLetterQueue", "AWS::SQS::Queue", properties
    )
    return {"Fn::GetAtt": [logical_id, "Arn"]}


def _topic(context: Context, key: str, topic: SnsDeadLetter) -> Json:
    logical_id = context.template.add(
        f"{normalized(key)}DeadLetterTopic", "AWS::SNS::Topic", {"TopicName": topic.topic_name}
    )
    return {"Ref": logical_id}

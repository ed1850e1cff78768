"""Schedule and EventBridge events.

**schedule**: one ``AWS::Events::Rule`` ``<Fn>EventsRuleSchedule<n>`` per rate or cron
expression, numbered from 1 across the function's schedule events, with an
``AWS::Lambda::Permission`` ``<Fn>LambdaPermissionEventsRuleSchedule<n>``. With ``method:
scheduler`` it is an ``AWS::Scheduler::Schedule`` ``<Fn>SchedulerSchedule<n>`` instead, invoking
the function through an execution role. The framework reuses the functions' own execution role
for that, adding scheduler.amazonaws.com to who may assume it; BaseGear gives each function a
role of its own, ``<Fn>SchedulerExecutionRole``, that may only invoke that function (EventBridge
Scheduler User Guide, "Setting up the execution role").

**eventBridge**: one ``AWS::Events::Rule`` per event on the default bus, on a bus given by ARN or
CloudFormation function, or on a bus this stack creates when ``eventBus`` is a plain name
(``<Bus>EventBridgeEventBus``), as the framework does with native CloudFormation resources
(its default since v3). Logical IDs, rule names and target IDs are the framework's. The
framework's older custom-resource way (``provider.eventBridge.useCloudFormation: false``) is not
followed: BaseGear always compiles the native resources, which also carry retryPolicy and
deadLetterQueueArn that the custom resource refuses.
"""

from __future__ import annotations

import hashlib
import json

from basegear.compile.context import Context, Json
from basegear.compile.event_support import compact_json, event_path, invoke_permission
from basegear.compile.functions import alias_id, function_arn
from basegear.compile.naming import alphanumeric, function_id, normalized
from basegear.errors import ConfigPath
from basegear.model.events import EventBridgeEvent, ScheduleEvent

PARTITION = {"Ref": "AWS::Partition"}
# EventBridge API reference, PutRule and PutTargets: a rule name and a target ID have at most 64
# characters. The framework shortens longer generated ones with an MD5 digest.
NAME_LIMIT = 64
# EventBridge API reference, RetryPolicy.
RETRY_POLICY = {
    "maximumEventAge": ("MaximumEventAgeInSeconds", 60, 86400),
    "maximumRetryAttempts": ("MaximumRetryAttempts", 0, 185),
}


def compile_schedule(context: Context, key: str, index: int, event: ScheduleEvent) -> None:
    path = event_path(key, index, "schedule")
    scheduler = event.method == "scheduler"
    if event.name is not None and len(event.rate) > 1:
        # A name is unique per account and region: several rules cannot share it.
        raise context.fail("name needs a single rate expression", (*path, "name"))
    _check_one_input(context, event.input, event.input_path, event.input_transformer, path)
    for setting, value in (("timezone", event.timezone), ("roleArn", event.role_arn)):
        if value is not None and not scheduler:
            raise context.fail(f"{setting} needs method: scheduler", (*path, setting))
    number = sum(
        len(other.schedule.rate)
        for other in context.service.functions[key].events[:index]
        if other.schedule is not None
    )
    state = "ENABLED" if event.enabled else "DISABLED"
    for expression in event.rate:
        number += 1
        if scheduler:
            _scheduler_schedule(context, key, number, expression, state, event, path)
        else:
            _events_rule(context, key, number, expression, state, event, path)


def _events_rule(
    context: Context,
    key: str,
    number: int,
    expression: str,
    state: str,
    event: ScheduleEvent,
    path: ConfigPath,
) -> None:
    rule_id = f"{normalized(key)}EventsRuleSchedule{number}"
    target: dict[str, Json] = {"Arn": function_arn(context, key), "Id": f"{key}Schedule"}
    target.update(
        _target_input(context, event.input, event.input_path, event.input_transformer, path)
    )
    properties: dict[str, Json] = {"ScheduleExpression": expression, "State": state}
    if event.name is not None:
        properties["Name"] = event.name
    if event.description is not None:
        properties["Description"] = event.description
    properties["Targets"] = [target]
    alias = alias_id(context, key)
    context.template.add(rule_id, "AWS::Events::Rule", properties, DependsOn=alias)
    context.template.add(
        f"{normalized(key)}LambdaPermissionEventsRuleSchedule{number}",
        "AWS::Lambda::Permission",
        invoke_permission(
            function_arn(context, key), "events.amazonaws.com", {"Fn::GetAtt": [rule_id, "Arn"]}
        ),
        DependsOn=alias,
    )


def _scheduler_schedule(
    context: Context,
    key: str,
    number: int,
    expression: str,
    state: str,
    event: ScheduleEvent,
    path: ConfigPath,
) -> None:
    # EventBridge Scheduler's templated Lambda target passes Input as the event; it has no
    # InputPath or InputTransformer (Scheduler API reference, Target).
    for setting, value in (
        ("inputPath", event.input_path),
        ("inputTransformer", event.input_transformer),
    ):
        if value is not None:
            raise context.fail(
                f"{setting} is not available with method: scheduler", (*path, setting)
            )
    target: dict[str, Json] = {
        "Arn": function_arn(context, key),
        "RoleArn": event.role_arn or _scheduler_role(context, key),
    }
    target_input = _input_text(context, event.input, (*path, "input"), json_only=False)
    if target_input is not None:
        target["Input"] = target_input
    properties: dict[str, Json] = {
        "ScheduleExpression": expression,
        "State": state,
        "FlexibleTimeWindow": {"Mode": "OFF"},
        "Target": target,
    }
    optional = (
        ("Name", event.name),
        ("Description", event.description),
        ("ScheduleExpressionTimezone", event.timezone),
    )
    for name, value in optional:
        if value is not None:
            properties[name] = value
    context.template.add(
        f"{normalized(key)}SchedulerSchedule{number}",
        "AWS::Scheduler::Schedule",
        properties,
        DependsOn=alias_id(context, key),
    )


def _scheduler_role(context: Context, key: str) -> Json:
    """A role EventBridge Scheduler assumes to invoke this function (and its versions and
    aliases), for schedules in this account only (EventBridge Scheduler User Guide, "Setting up
    the execution role", and "Preventing cross-service confused deputy")."""
    role_id = f"{normalized(key)}SchedulerExecutionRole"
    if role_id not in context.template.resources:
        arn = {"Fn::GetAtt": [function_id(key), "Arn"]}
        context.template.add(
            role_id,
            "AWS::IAM::Role",
            {
                "AssumeRolePolicyDocument": {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Principal": {"Service": ["scheduler.amazonaws.com"]},
                            "Action": ["sts:AssumeRole"],
                            "Condition": {
                                "StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}
                            },
                        }
                    ],
                },
                "Policies": [
                    {
                        "PolicyName": "invoke-function",
                        "PolicyDocument": {
                            "Version": "2012-10-17",
                            "Statement": [
                                {
                                    "Effect": "Allow",
                                    "Action": ["lambda:InvokeFunction"],
                                    "Resource": [arn, {"Fn::Join": ["", [arn, ":*"]]}],
                                }
                            ],
                        },
                    }
                ],
            },
        )
    return {"Fn::GetAtt": [role_id, "Arn"]}


def compile_event_bridge(context: Context, key: str, index: int, event: EventBridgeEvent) -> None:
    path = event_path(key, index, "eventBridge")
    if event.pattern is None and event.schedule is None:
        raise context.fail("an eventBridge event needs a pattern or a schedule", path)
    if event.schedule is not None and not (
        event.schedule.startswith(("rate(", "cron(")) and event.schedule.endswith(")")
    ):
        raise context.fail(
            f"expected rate(…) or cron(…), got {event.schedule}", (*path, "schedule")
        )
    _check_one_input(context, event.input, event.input_path, event.input_transformer, path)
    position = index + 1  # the framework numbers by position in the function's events
    generated = f"{context.service.function_name(key)}-rule-{position}"
    rule_name = event.name or _shortened(generated, f"rule-{position}")
    bus_name, bus_id = _event_bus(context, event.event_bus)
    if event.schedule is not None and bus_name is not None:
        raise context.fail(
            "scheduled rules are supported only on the default event bus (EventBridge User "
            "Guide, creating a rule that runs on a schedule); remove eventBus",
            (*path, "eventBus"),
        )

    target: dict[str, Json] = {
        "Arn": function_arn(context, key),
        "Id": _shortened(f"{rule_name}-target", "target"),
    }
    if event.retry_policy is not None:
        target["RetryPolicy"] = _retry_policy(context, event.retry_policy, (*path, "retryPolicy"))
    if event.dead_letter_queue_arn is not None:
        # The queue's own policy must let events.amazonaws.com send to it (EventBridge User
        # Guide, "Using dead-letter queues to process undelivered events"); BaseGear does not
        # write a queue policy, which would replace any the queue already has.
        target["DeadLetterConfig"] = {"Arn": event.dead_letter_queue_arn}
    target.update(
        _target_input(context, event.input, event.input_path, event.input_transformer, path)
    )
    properties: dict[str, Json] = {}
    optional = (
        ("Description", event.description),
        ("EventBusName", bus_name),
        ("EventPattern", event.pattern),
        ("Name", rule_name),
        ("RoleArn", event.role),
        ("ScheduleExpression", event.schedule),
        ("State", "ENABLED" if event.enabled else "DISABLED"),
        ("Targets", [target]),
    )
    for name, value in optional:
        if value is not None:
            properties[name] = value
    alias = alias_id(context, key)
    dependencies = [dependency for dependency in (bus_id, alias) if dependency]
    context.template.add(
        f"{alphanumeric(generated)}EventBridgeRule",
        "AWS::Events::Rule",
        properties,
        DependsOn=dependencies or None,
    )
    # The rule's ARN, arn:…:rule/[bus/]name, written out as the framework writes it.
    rule_path = ["rule", bus_name, rule_name] if bus_name is not None else ["rule", rule_name]
    source_arn = {
        "Fn::Join": [
            ":",
            [
                "arn",
                PARTITION,
                "events",
                {"Ref": "AWS::Region"},
                {"Ref": "AWS::AccountId"},
                {"Fn::Join": ["/", rule_path]},
            ],
        ]
    }
    context.template.add(
        f"{normalized(key)}EventBridgeLambdaPermission{position}",
        "AWS::Lambda::Permission",
        {
            "Action": "lambda:InvokeFunction",
            "FunctionName": function_arn(context, key),
            "Principal": "events.amazonaws.com",
            "SourceArn": source_arn,
        },
        DependsOn=alias,
    )


def _event_bus(context: Context, bus: Json) -> tuple[Json, str | None]:
    """(the rule's EventBusName, None for the default bus; the logical ID of a bus this stack
    creates for a plain name)."""
    if bus is None or bus == "default":
        return None, None
    if not isinstance(bus, str):
        return bus, None  # Ref, Fn::GetAtt …Name or Fn::ImportValue of an existing bus
    if bus.startswith("arn"):
        return bus[bus.index("/") + 1 :] if "/" in bus else bus, None
    bus_id = f"{normalized(bus)}EventBridgeEventBus"
    if bus_id not in context.template.resources:
        context.template.add(bus_id, "AWS::Events::EventBus", {"Name": bus})
    return bus, bus_id


def _retry_policy(context: Context, policy: dict[str, Json], path: ConfigPath) -> dict[str, Json]:
    compiled: dict[str, Json] = {}
    for setting, value in policy.items():
        if setting not in RETRY_POLICY:
            raise context.fail(
                f"retryPolicy takes {' and '.join(RETRY_POLICY)}, got {setting}", (*path, setting)
            )
        name, low, high = RETRY_POLICY[setting]
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise context.fail(
                f"expected an integer from {low} to {high}, got {value}", (*path, setting)
            )
        compiled[name] = value
    return compiled


def _check_one_input(
    context: Context, value: Json, input_path: Json, transformer: Json, path: ConfigPath
) -> None:
    """EventBridge takes one of Input, InputPath and InputTransformer for a target
    (EventBridge API reference, Target)."""
    given = [
        name
        for name, setting in (
            ("input", value),
            ("inputPath", input_path),
            ("inputTransformer", transformer),
        )
        if setting is not None
    ]
    if len(given) > 1:
        raise context.fail(
            f"set one of input, inputPath and inputTransformer, not {' and '.join(given)}",
            (*path, given[1]),
        )


def _target_input(
    context: Context, value: Json, input_path: str | None, transformer: Json, path: ConfigPath
) -> dict[str, Json]:
    if input_path is not None:
        return {"InputPath": input_path}
    if transformer is not None:
        return {"InputTransformer": _input_transformer(context, transformer, path)}
    text = _input_text(context, value, (*path, "input"), json_only=True)
    return {} if text is None else {"Input": text}


def _input_text(context: Context, value: Json, path: ConfigPath, *, json_only: bool) -> str | None:
    """``input`` as the target's Input: a mapping as compact JSON (a ``body`` given as JSON text
    is parsed first, as the framework does), text as it is. An EventBridge rule target's Input
    must be valid JSON (EventBridge API reference, Target); a Scheduler target takes any text."""
    if value is None:
        return None
    if isinstance(value, str):
        if json_only:
            try:
                json.loads(value)
            except json.JSONDecodeError:
                raise context.fail(
                    "input must be JSON text (or a mapping); for plain text, quote it as a "
                    "JSON string",
                    path,
                ) from None
        return value
    if isinstance(value, dict) and isinstance(value.get("body"), str):
        try:
            value = {**value, "body": json.loads(value["body"])}
        except json.JSONDecodeError:
            raise context.fail("input.body must be JSON text", (*path, "body")) from None
    return compact_json(value)


def _input_transformer(
    context: Context, transformer: dict[str, Json], path: ConfigPath
) -> dict[str, Json]:
    where = (*path, "inputTransformer")
    unknown = sorted(set(transformer) - {"inputTemplate", "inputPathsMap"})
    if unknown:
        raise context.fail(
            f"inputTransformer takes inputTemplate and inputPathsMap, got {unknown[0]}",
            (*where, unknown[0]),
        )
    if "inputTemplate" not in transformer:
        raise context.fail("inputTransformer needs inputTemplate", where)
    compiled: dict[str, Json] = {"InputTemplate": transformer["inputTemplate"]}
    if transformer.get("inputPathsMap") is not None:
        compiled["InputPathsMap"] = transformer["inputPathsMap"]
    return compiled


def _shortened(name: str, suffix: str) -> str:
    """A generated name over 64 characters becomes its start, its MD5 digest and ``suffix``,
    64 characters in all, as the framework shortens it."""
    if len(name) <= NAME_LIMIT:
        return name
    digest = hashlib.md5(name.encode(), usedforsecurity=False).hexdigest()
    return f"{name[: 31 - len(suffix)]}{digest}-{suffix}"

"""``schedule``, ``eventBridge`` and ``cloudwatchEvent`` events of state machines
(serverless-step-functions README, "Events"): rules (or EventBridge Scheduler schedules) whose
target starts an execution, and the role they assume to do it.

Differences from the plugin: a ``schedule`` with several ``rate`` expressions gets one rule
each (the plugin took one); when a machine has both EventBridge-rule and Scheduler schedules,
their shared role trusts both services (the plugin kept whichever it compiled last); an
``eventBridge`` event with a key BaseGear does not know is an error, not ignored.
"""

from __future__ import annotations

import json
from typing import Any

from basegear.compile.context import Context, Json
from basegear.compile.event_support import compact_json
from basegear.compile.naming import normalized
from basegear.compile.stepfunctions_role import start_execution_role
from basegear.errors import ConfigPath
from basegear.model.base import is_intrinsic
from basegear.model.events import ScheduleEvent
from basegear.model.stepfunctions import StateMachine

EVENTS = "events.amazonaws.com"
SCHEDULER = "scheduler.amazonaws.com"
RULE_KEYS = (
    "event",
    "eventBusName",
    "input",
    "inputPath",
    "inputTransformer",
    "name",
    "description",
    "enabled",
    "iamRole",
    "deadLetterConfig",
    "retryPolicy",
)


def compile_schedules(
    context: Context, key: str, machine: StateMachine, machine_id: str, path: ConfigPath
) -> None:
    principals: list[str] = []
    role_id = f"{normalized(key)}ScheduleToStepFunctionsRole"
    number = 0
    for index, event in enumerate(machine.events):
        if event.schedule is None:
            continue
        here: ConfigPath = (*path, "events", index, "schedule")
        schedule = event.schedule
        scheduler = schedule.method == "scheduler"
        _check_schedule(context, schedule, scheduler, here)
        role_arn = schedule.role_arn or {"Fn::GetAtt": [role_id, "Arn"]}
        if schedule.role_arn is None:
            principal = SCHEDULER if scheduler else EVENTS
            if principal not in principals:
                principals.append(principal)
        for expression in schedule.rate:
            number += 1
            start = {"Arn": {"Ref": machine_id}, "RoleArn": role_arn}
            _compile_schedule(context, key, schedule, expression, number, start, here)
    if principals:
        policy = f"{context.stage}-{context.region}-{context.service.service}-{key}-schedule"
        start_execution_role(context, role_id, principals, policy, machine_id)


def _check_schedule(
    context: Context, schedule: ScheduleEvent, scheduler: bool, path: ConfigPath
) -> None:
    given = [
        name
        for name, value in (
            ("input", schedule.input),
            ("inputPath", schedule.input_path),
            ("inputTransformer", schedule.input_transformer),
        )
        if value is not None
    ]
    # A target takes one of Input, InputPath or InputTransformer (EventBridge API reference,
    # Target); Scheduler targets take Input only (Scheduler API reference, Target).
    if len(given) > 1:
        raise context.fail(f"give one of input, inputPath and inputTransformer, got {given}", path)
    if scheduler and given and given != ["input"]:
        raise context.fail(f"{given[0]} is not supported with method: scheduler", path)
    if schedule.timezone is not None and not scheduler:
        raise context.fail("timezone needs method: scheduler", (*path, "timezone"))
    if schedule.name is not None and len(schedule.rate) > 1:
        raise context.fail(
            "a named schedule takes one rate: every rule needs its own name", (*path, "name")
        )


def _compile_schedule(
    context: Context,
    key: str,
    schedule: ScheduleEvent,
    expression: str,
    number: int,
    start: dict[str, Json],
    path: ConfigPath,
) -> None:
    """One rate expression: an EventBridge rule, or with ``method: scheduler`` an EventBridge
    Scheduler schedule, whose target is ``start`` (the machine's Arn and the RoleArn that
    starts it)."""
    scheduler = schedule.method == "scheduler"
    properties: dict[str, Json] = {
        "ScheduleExpression": expression,
        "State": "ENABLED" if schedule.enabled else "DISABLED",
    }
    if scheduler:
        # OFF: the schedule fires at its time, not within a window (Scheduler User Guide,
        # "Configuring flexible time windows").
        properties["FlexibleTimeWindow"] = {"Mode": "OFF"}
        if schedule.timezone is not None:
            properties["ScheduleExpressionTimezone"] = schedule.timezone
    if schedule.name is not None:
        properties["Name"] = schedule.name
    if schedule.description is not None:
        properties["Description"] = schedule.description
    if scheduler:
        properties["Target"] = {**start, **_input(context, schedule.input, None, None, path)}
        logical_id = f"{normalized(key)}StepFunctionsSchedulerSchedule{number}"
        context.template.add(logical_id, "AWS::Scheduler::Schedule", properties)
        return
    target: dict[str, Json] = {"Arn": start["Arn"], "Id": f"{key}StepFunctionsSchedule"}
    target.update(
        _input(context, schedule.input, schedule.input_path, schedule.input_transformer, path)
    )
    target["RoleArn"] = start["RoleArn"]
    properties["Targets"] = [target]
    logical_id = f"{normalized(key)}StepFunctionsEventsRuleSchedule{number}"
    context.template.add(logical_id, "AWS::Events::Rule", properties)


def compile_event_rules(
    context: Context, key: str, machine: StateMachine, machine_id: str, path: ConfigPath
) -> None:
    role_id = f"{normalized(key)}EventToStepFunctionsRole"
    needs_role = False
    number = 0
    for index, event in enumerate(machine.events):
        kind = "eventBridge" if event.event_bridge is not None else "cloudwatchEvent"
        rule = event.event_bridge if event.event_bridge is not None else event.cloudwatch_event
        if rule is None:
            continue
        number += 1
        here: ConfigPath = (*path, "events", index, kind)
        _check_rule(context, rule, here)
        if rule.get("iamRole") is None:
            needs_role = True
        _event_rule(context, key, machine_id, rule, number, role_id, here)
    if needs_role:
        policy = f"{context.stage}-{context.region}-{context.service.service}-{key}-event"
        start_execution_role(context, role_id, [EVENTS], policy, machine_id)


def _check_rule(context: Context, rule: Json, path: ConfigPath) -> None:
    if not isinstance(rule, dict):
        raise context.fail("expected a mapping with an event pattern under 'event'", path)
    context.refuse_unknown(rule, RULE_KEYS, "key", path)
    if not isinstance(rule.get("event"), dict):
        raise context.fail("expected the event pattern (a mapping) under 'event'", path)
    given = [name for name in ("input", "inputPath", "inputTransformer") if name in rule]
    if len(given) > 1:
        raise context.fail(f"give one of input, inputPath and inputTransformer, got {given}", path)


def _event_rule(
    context: Context,
    key: str,
    machine_id: str,
    rule: dict[str, Any],
    number: int,
    role_id: str,
    path: ConfigPath,
) -> None:
    properties: dict[str, Json] = {}
    if rule.get("eventBusName") is not None:
        properties["EventBusName"] = rule["eventBusName"]
    properties["EventPattern"] = rule["event"]
    properties["State"] = "DISABLED" if rule.get("enabled") is False else "ENABLED"
    if rule.get("description") is not None:
        properties["Description"] = rule["description"]
    if rule.get("name") is not None:
        properties["Name"] = rule["name"]
    target: dict[str, Json] = {"Arn": {"Ref": machine_id}, "Id": f"{key}CloudWatchEvent"}
    target.update(
        _input(
            context, rule.get("input"), rule.get("inputPath"), rule.get("inputTransformer"), path
        )
    )
    if rule.get("deadLetterConfig") is not None:
        target["DeadLetterConfig"] = {"Arn": rule["deadLetterConfig"]}
    retry = rule.get("retryPolicy")
    if isinstance(retry, dict):
        target["RetryPolicy"] = {
            name: retry[source]
            for name, source in (
                ("MaximumEventAgeInSeconds", "maximumEventAgeInSeconds"),
                ("MaximumRetryAttempts", "maximumRetryAttempts"),
            )
            if source in retry
        }
    target["RoleArn"] = rule.get("iamRole") or {"Fn::GetAtt": [role_id, "Arn"]}
    properties["Targets"] = [target]
    logical_id = f"{normalized(key)}EventsRuleCloudWatchEvent{number}"
    context.template.add(logical_id, "AWS::Events::Rule", properties)


def _input(
    context: Context, value: Json, input_path: str | None, transformer: Json, path: ConfigPath
) -> dict[str, Json]:
    """A target's Input, InputPath or InputTransformer. The input becomes the execution's input,
    which must be JSON (Step Functions API reference, StartExecution: input)."""
    if value is not None:
        if isinstance(value, str):
            try:
                json.loads(value)
            except json.JSONDecodeError:
                raise context.fail(
                    "input must be JSON text or a mapping: it is the execution's input",
                    (*path, "input"),
                ) from None
            return {"Input": value}
        return {"Input": value if is_intrinsic(value) else compact_json(value)}
    if input_path is not None:
        return {"InputPath": input_path}
    if transformer is None:
        return {}
    here = (*path, "inputTransformer")
    if not isinstance(transformer, dict) or not isinstance(transformer.get("inputTemplate"), str):
        raise context.fail("expected a mapping with inputTemplate (and inputPathsMap)", here)
    unknown = sorted(set(transformer) - {"inputTemplate", "inputPathsMap"})
    if unknown:
        raise context.fail(
            f"unknown key {unknown[0]!r}; expected inputTemplate and inputPathsMap", here
        )
    result: dict[str, Json] = {}
    if transformer.get("inputPathsMap") is not None:
        result["InputPathsMap"] = transformer["inputPathsMap"]
    result["InputTemplate"] = transformer["inputTemplate"]
    return {"InputTransformer": result}

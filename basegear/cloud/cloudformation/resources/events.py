"""AWS::Events::EventBus and AWS::Events::Rule.

CloudFormation resource reference: an EventBus's Ref is its name, Fn::GetAtt Arn and Name; Name
requires replacement. A Rule's Ref is its name, or ``bus|rule`` on a custom bus; Fn::GetAtt Arn;
Name and EventBusName require replacement; EventPattern may be an object; Targets keep the API's
field names (Id, Arn, RoleArn, Input, InputPath, InputTransformer, RetryPolicy,
DeadLetterConfig, SqsParameters …)."""

from __future__ import annotations

from typing import Any

from basegear.cloud.cloudformation.resources.base import (
    Context,
    Created,
    Handler,
    Properties,
    as_json,
    required,
    tag_list,
)
from basegear.cloud.cloudformation.resources.registry import handles


@handles
class EventBus(Handler):
    type_name = "AWS::Events::EventBus"
    attributes = frozenset({"Arn", "Name", "Policy"})
    replace_on = frozenset({"Name", "EventSourceName"})
    name_property = "Name"

    def create(self, ctx: Context, props: Properties) -> Created:
        name = required(props, "Name", self.type_name)
        extra: dict[str, Any] = {}
        if props.get("Tags"):
            extra["Tags"] = tag_list(props["Tags"])
        if "Description" in props:
            extra["Description"] = props["Description"]
        arn = ctx.client("events").create_event_bus(Name=name, **extra)["EventBusArn"]
        return Created(name, {"Arn": arn, "Name": name})

    def update(self, ctx: Context, current: Created, old: Properties, new: Properties) -> Created:
        return current

    def delete(self, ctx: Context, current: Created, props: Properties) -> None:
        ctx.client("events").delete_event_bus(Name=current.physical_id)


def _targets(props: Properties) -> list[dict[str, Any]]:
    targets = []
    for target in props.get("Targets", []):
        item = dict(target)
        if "RetryPolicy" in item:
            item["RetryPolicy"] = {key: int(value) for key, value in item["RetryPolicy"].items()}
        targets.append(item)
    return targets


@handles
class Rule(Handler):
    type_name = "AWS::Events::Rule"
    attributes = frozenset({"Arn"})
    replace_on = frozenset({"Name", "EventBusName"})
    name_property = "Name"

    def create(self, ctx: Context, props: Properties) -> Created:
        name = props.get("Name") or ctx.physical_name(64)
        arn = self._put(ctx, name, props)
        bus = props.get("EventBusName")
        ref = f"{bus}|{name}" if bus and bus != "default" else name
        return Created(ref, {"Arn": arn})

    def _put(self, ctx: Context, name: str, props: Properties) -> str:
        extra: dict[str, Any] = {}
        if "EventPattern" in props:
            extra["EventPattern"] = as_json(props["EventPattern"])
        for key in ("ScheduleExpression", "State", "Description", "RoleArn", "EventBusName"):
            if key in props:
                extra[key] = props[key]
        events = ctx.client("events")
        arn: str = events.put_rule(Name=name, **extra)["RuleArn"]
        targets = _targets(props)
        if targets:
            bus = {"EventBusName": props["EventBusName"]} if "EventBusName" in props else {}
            events.put_targets(Rule=name, Targets=targets, **bus)
        return arn

    @staticmethod
    def _name(current: Created) -> str:
        return current.physical_id.rpartition("|")[2]

    def update(self, ctx: Context, current: Created, old: Properties, new: Properties) -> Created:
        name = self._name(current)
        kept = {target["Id"] for target in new.get("Targets", [])}
        dropped = [target["Id"] for target in old.get("Targets", []) if target["Id"] not in kept]
        if dropped:
            bus = {"EventBusName": new["EventBusName"]} if "EventBusName" in new else {}
            ctx.client("events").remove_targets(Rule=name, Ids=dropped, **bus)
        return Created(current.physical_id, {"Arn": self._put(ctx, name, new)})

    def delete(self, ctx: Context, current: Created, props: Properties) -> None:
        events = ctx.client("events")
        name = self._name(current)
        bus = {"EventBusName": props["EventBusName"]} if "EventBusName" in props else {}
        ids = [target["Id"] for target in props.get("Targets", [])]
        if ids:
            events.remove_targets(Rule=name, Ids=ids, **bus)
        events.delete_rule(Name=name, **bus)

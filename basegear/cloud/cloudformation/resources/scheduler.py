"""AWS::Scheduler::Schedule and AWS::Scheduler::ScheduleGroup.

CloudFormation resource reference: a Schedule's Ref is its name, Fn::GetAtt Arn; Name and
GroupName require replacement; every other property updates in place (UpdateSchedule takes
the whole schedule)."""

from __future__ import annotations

from typing import Any

from basegear.cloud.cloudformation.resources.base import (
    Context,
    Created,
    Handler,
    Properties,
    required,
    tag_list,
)
from basegear.cloud.cloudformation.resources.registry import handles

FIELDS = (
    "GroupName",
    "ScheduleExpressionTimezone",
    "State",
    "Description",
    "StartDate",
    "EndDate",
    "KmsKeyArn",
)


def _window(props: Properties) -> dict[str, Any]:
    window = dict(props.get("FlexibleTimeWindow", {"Mode": "OFF"}))
    if "MaximumWindowInMinutes" in window:
        window["MaximumWindowInMinutes"] = int(window["MaximumWindowInMinutes"])
    return window


@handles
class Schedule(Handler):
    type_name = "AWS::Scheduler::Schedule"
    attributes = frozenset({"Arn"})
    replace_on = frozenset({"Name", "GroupName"})
    name_property = "Name"

    def create(self, ctx: Context, props: Properties) -> Created:
        name = props.get("Name") or ctx.physical_name(64)
        arn = self._put(ctx, name, props, "create_schedule")
        return Created(name, {"Arn": arn})

    def _put(self, ctx: Context, name: str, props: Properties, method: str) -> str:
        extra = {key: props[key] for key in FIELDS if key in props}
        response = getattr(ctx.client("scheduler"), method)(
            Name=name,
            ScheduleExpression=required(props, "ScheduleExpression", self.type_name),
            FlexibleTimeWindow=_window(props),
            Target=required(props, "Target", self.type_name),
            **extra,
        )
        arn: str = response["ScheduleArn"]
        return arn

    def update(self, ctx: Context, current: Created, old: Properties, new: Properties) -> Created:
        return Created(
            current.physical_id,
            {"Arn": self._put(ctx, current.physical_id, new, "update_schedule")},
        )

    def delete(self, ctx: Context, current: Created, props: Properties) -> None:
        group = {"GroupName": props["GroupName"]} if "GroupName" in props else {}
        ctx.client("scheduler").delete_schedule(Name=current.physical_id, **group)


@handles
class ScheduleGroup(Handler):
    type_name = "AWS::Scheduler::ScheduleGroup"
    attributes = frozenset({"Arn", "CreationDate", "LastModificationDate", "State"})
    replace_on = frozenset({"Name"})
    name_property = "Name"

    def create(self, ctx: Context, props: Properties) -> Created:
        name = props.get("Name") or ctx.physical_name(64)
        extra = {"Tags": tag_list(props["Tags"])} if props.get("Tags") else {}
        arn = ctx.client("scheduler").create_schedule_group(Name=name, **extra)["ScheduleGroupArn"]
        return Created(name, {"Arn": arn, "State": "ACTIVE"})

    def update(self, ctx: Context, current: Created, old: Properties, new: Properties) -> Created:
        return current

    def delete(self, ctx: Context, current: Created, props: Properties) -> None:
        ctx.client("scheduler").delete_schedule_group(Name=current.physical_id)

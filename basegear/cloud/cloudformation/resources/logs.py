"""AWS::Logs::LogGroup, AWS::Logs::MetricFilter and AWS::Logs::SubscriptionFilter.

CloudFormation resource reference: a LogGroup's Ref is its name and its Arn ends in ``:*``;
LogGroupName requires replacement, RetentionInDays does not (removing it means "never expire").
A MetricFilter's template fields (MetricName, MetricNamespace, MetricValue, DefaultValue,
Dimensions as Key/Value, Unit) are the PutMetricFilter fields with upper-case initials."""

from __future__ import annotations

from typing import Any

from basegear.cloud.cloudformation.resources.base import (
    Context,
    Created,
    Handler,
    Properties,
    removed_tag_keys,
    required,
    tag_map,
)
from basegear.cloud.cloudformation.resources.registry import handles


@handles
class LogGroup(Handler):
    type_name = "AWS::Logs::LogGroup"
    attributes = frozenset({"Arn"})
    replace_on = frozenset({"LogGroupName"})
    name_property = "LogGroupName"

    def create(self, ctx: Context, props: Properties) -> Created:
        name = props.get("LogGroupName") or ctx.physical_name(512)
        logs = ctx.client("logs")
        extra: dict[str, Any] = {}
        if props.get("Tags"):
            extra["tags"] = tag_map(props["Tags"])
        if props.get("KmsKeyId"):
            extra["kmsKeyId"] = props["KmsKeyId"]
        logs.create_log_group(logGroupName=name, **extra)
        if "RetentionInDays" in props:
            logs.put_retention_policy(
                logGroupName=name, retentionInDays=int(props["RetentionInDays"])
            )
        return Created(name, {"Arn": ctx.arn("logs", f"log-group:{name}:*")})

    def update(self, ctx: Context, current: Created, old: Properties, new: Properties) -> Created:
        logs = ctx.client("logs")
        name = current.physical_id
        if old.get("RetentionInDays") != new.get("RetentionInDays"):
            if "RetentionInDays" in new:
                logs.put_retention_policy(
                    logGroupName=name, retentionInDays=int(new["RetentionInDays"])
                )
            else:
                logs.delete_retention_policy(logGroupName=name)
        if old.get("Tags") != new.get("Tags"):
            arn = ctx.arn("logs", f"log-group:{name}")
            if removed := removed_tag_keys(old, new):
                logs.untag_resource(resourceArn=arn, tagKeys=removed)
            if new.get("Tags"):
                logs.tag_resource(resourceArn=arn, tags=tag_map(new["Tags"]))
        return current

    def delete(self, ctx: Context, current: Created, props: Properties) -> None:
        ctx.client("logs").delete_log_group(logGroupName=current.physical_id)


def _transformation(spec: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {
        "metricName": spec["MetricName"],
        "metricNamespace": spec["MetricNamespace"],
        "metricValue": str(spec["MetricValue"]),
    }
    if "DefaultValue" in spec:
        out["defaultValue"] = float(spec["DefaultValue"])
    if "Unit" in spec:
        out["unit"] = spec["Unit"]
    if "Dimensions" in spec:
        out["dimensions"] = {item["Key"]: item["Value"] for item in spec["Dimensions"]}
    return out


class _Filter(Handler):
    """A filter on a log group, named by FilterName: the Put API both creates it and replaces
    it in place, so an update puts it again under its name."""

    replace_on = frozenset({"FilterName", "LogGroupName"})
    name_property = "FilterName"

    def create(self, ctx: Context, props: Properties) -> Created:
        name = props.get("FilterName") or ctx.physical_name(512)
        self._put(ctx, name, props)
        return Created(name)

    def update(self, ctx: Context, current: Created, old: Properties, new: Properties) -> Created:
        self._put(ctx, current.physical_id, new)
        return current

    def _put(self, ctx: Context, name: str, props: Properties) -> None:
        raise NotImplementedError


@handles
class MetricFilter(_Filter):
    type_name = "AWS::Logs::MetricFilter"

    def _put(self, ctx: Context, name: str, props: Properties) -> None:
        ctx.client("logs").put_metric_filter(
            logGroupName=required(props, "LogGroupName", self.type_name),
            filterName=name,
            filterPattern=props.get("FilterPattern", ""),
            metricTransformations=[
                _transformation(item)
                for item in required(props, "MetricTransformations", self.type_name)
            ],
        )

    def delete(self, ctx: Context, current: Created, props: Properties) -> None:
        ctx.client("logs").delete_metric_filter(
            logGroupName=props["LogGroupName"], filterName=current.physical_id
        )


@handles
class SubscriptionFilter(_Filter):
    type_name = "AWS::Logs::SubscriptionFilter"

    def _put(self, ctx: Context, name: str, props: Properties) -> None:
        extra = {"roleArn": props["RoleArn"]} if "RoleArn" in props else {}
        if "Distribution" in props:
            extra["distribution"] = props["Distribution"]
        ctx.client("logs").put_subscription_filter(
            logGroupName=required(props, "LogGroupName", self.type_name),
            filterName=name,
            filterPattern=props.get("FilterPattern", ""),
            destinationArn=required(props, "DestinationArn", self.type_name),
            **extra,
        )

    def delete(self, ctx: Context, current: Created, props: Properties) -> None:
        ctx.client("logs").delete_subscription_filter(
            logGroupName=props["LogGroupName"], filterName=current.physical_id
        )

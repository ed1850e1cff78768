"""AWS::CloudWatch::Alarm.

CloudFormation resource reference: Ref is the alarm name, Fn::GetAtt Arn; AlarmName requires
replacement; everything else updates in place (PutMetricAlarm replaces the whole alarm). A
generated alarm name is ``<stack>-<LogicalId>-<RANDOM>``."""

from __future__ import annotations

from typing import Any

from basegear.cloud.cloudformation.resources.base import (
    Context,
    Created,
    Handler,
    Properties,
    required,
    tag_list,
    text,
)
from basegear.cloud.cloudformation.resources.registry import handles

PASSED = (
    "AlarmDescription",
    "OKActions",
    "AlarmActions",
    "InsufficientDataActions",
    "MetricName",
    "Namespace",
    "Statistic",
    "ExtendedStatistic",
    "Dimensions",
    "Unit",
    "TreatMissingData",
    "EvaluateLowSampleCountPercentile",
    "Metrics",
    "ThresholdMetricId",
)


def _metrics(metrics: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for metric in metrics:
        item = dict(metric)
        if "ReturnData" in item:
            item["ReturnData"] = text(item["ReturnData"]) == "true"
        if "Period" in item:
            item["Period"] = int(item["Period"])
        if "MetricStat" in item:
            stat = dict(item["MetricStat"])
            stat["Period"] = int(stat["Period"])
            item["MetricStat"] = stat
        out.append(item)
    return out


@handles
class Alarm(Handler):
    type_name = "AWS::CloudWatch::Alarm"
    attributes = frozenset({"Arn"})
    replace_on = frozenset({"AlarmName"})
    name_property = "AlarmName"

    def create(self, ctx: Context, props: Properties) -> Created:
        name = props.get("AlarmName") or ctx.physical_name(255)
        self._put(ctx, name, props)
        return Created(name, {"Arn": ctx.arn("cloudwatch", f"alarm:{name}")})

    def update(self, ctx: Context, current: Created, old: Properties, new: Properties) -> Created:
        self._put(ctx, current.physical_id, new)
        return current

    def _put(self, ctx: Context, name: str, props: Properties) -> None:
        extra: dict[str, Any] = {key: props[key] for key in PASSED if key in props}
        if "Metrics" in extra:
            extra["Metrics"] = _metrics(extra["Metrics"])
        for key in ("Period", "DatapointsToAlarm"):
            if key in props:
                extra[key] = int(props[key])
        if "Threshold" in props:
            extra["Threshold"] = float(props["Threshold"])
        if "ActionsEnabled" in props:
            extra["ActionsEnabled"] = text(props["ActionsEnabled"]) == "true"
        if props.get("Tags"):
            extra["Tags"] = tag_list(props["Tags"])
        ctx.client("cloudwatch").put_metric_alarm(
            AlarmName=name,
            EvaluationPeriods=int(required(props, "EvaluationPeriods", self.type_name)),
            ComparisonOperator=required(props, "ComparisonOperator", self.type_name),
            **extra,
        )

    def delete(self, ctx: Context, current: Created, props: Properties) -> None:
        ctx.client("cloudwatch").delete_alarms(AlarmNames=[current.physical_id])

"""CloudWatch alarms of serverless-plugin-aws-alerts (``custom.alerts`` and function ``alarms``)
and their SNS topics.

The plugin's semantics, stage by stage: the ``stages`` filter → topics (created from a name or
referenced by ARN) → definitions (the plugin's four defaults with ``custom.alerts.definitions``
merged over them) → per function, the global ``alarms`` list followed by the function's own, a
later entry of the same name replacing an earlier one and ``enabled: false`` removing it → one
``AWS::CloudWatch::Alarm`` each, plus two ``AWS::Logs::MetricFilter`` for a ``pattern`` alarm.

Where BaseGear differs from the plugin, and why:

- ``$[functionName]`` in a name template is the function's **deployed** name (``name`` or
  ``<service>-<stage>-<key>``); the plugin put the function's key there, so a function with its
  own ``name`` got alarms named after something that does not exist.
- The default ``$[stackName]-`` prefix is left off a name that holds the deployed function name:
  Lambda function names are unique in an account and region, and the default one already begins
  with ``<service>-<stage>``, so ``algorithms-dev-objects-processor-Errors-Alarm`` stays what the
  plugin produced for default names instead of ``algorithms-dev-algorithms-dev-…``. A name
  without ``$[functionName]`` keeps the prefix, and a ``prefixTemplate`` given is always used.
- Function ``alarms`` are compiled even without ``custom.alerts`` (the plugin dropped them).
- An unknown ``$[…]`` placeholder, a topic group that does not exist, or a definition that lacks
  what CloudWatch requires is an error located in serverless.yml, not a broken template.
- ``notifications`` of a topic referenced by ARN become ``AWS::SNS::Subscription`` resources
  (the plugin only subscribed topics it created).
- ``dashboards`` are not compiled: they are a console convenience with no effect on alarms.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from basegear.compile.context import Context, Json
from basegear.compile.naming import function_id, log_group_id, normalized, stack_name, upper_first
from basegear.errors import ConfigPath
from basegear.model.plugins import STATISTICS, AlarmDefinition, Alerts, AlertTopic

TOPIC_KINDS = ("ok", "alarm", "insufficientData")
# CloudWatch API reference, PutMetricAlarm: AlarmName is 1 to 255 characters.
ALARM_NAME_LIMIT = 255
PLACEHOLDER = re.compile(r"\$\[([^\[\]]*)\]")

# The plugin's default definitions (serverless-plugin-aws-alerts, src/defaults/definitions.js),
# as model field names.
_LAMBDA = "AWS/Lambda"
_COMMON = {
    "namespace": _LAMBDA,
    "enabled": True,
    "actions_enabled": True,
    "type": "static",
    "statistic": "Sum",
    "period": 60,
    "evaluation_periods": 1,
    "datapoints_to_alarm": 1,
    "comparison_operator": "GreaterThanOrEqualToThreshold",
}
DEFAULT_DEFINITIONS: dict[str, dict[str, Any]] = {
    "functionInvocations": {**_COMMON, "metric": "Invocations", "threshold": 100},
    "functionErrors": {**_COMMON, "metric": "Errors", "threshold": 1},
    "functionDuration": {**_COMMON, "metric": "Duration", "threshold": 500, "statistic": "Average"},
    "functionThrottles": {**_COMMON, "metric": "Throttles", "threshold": 1},
}


def fill_template(template: str, values: Mapping[str, str]) -> str:
    """``$[name]`` placeholders replaced by ``values``; an unknown one raises ``KeyError``."""
    for name in PLACEHOLDER.findall(template):
        if name not in values:
            raise KeyError(name)
    return PLACEHOLDER.sub(lambda match: values[match.group(1)], template)


def number(value: float) -> int | float:
    """``1.0`` → ``1``: thresholds as the user wrote them."""
    return int(value) if float(value).is_integer() else value


@dataclass(frozen=True)
class Topics:
    """Alarm actions by topic group (``None`` for the top-level ok/alarm/insufficientData)."""

    groups: dict[str | None, dict[str, Json]]

    def actions(self, group: str | None, kind: str) -> list[Json]:
        topic = self.groups.get(group, {}).get(kind)
        return [] if topic is None else [topic]


@dataclass(frozen=True)
class Entry:
    """One entry of an ``alarms`` list, merged over its definition: model field → value."""

    name: str
    settings: dict[str, Any]
    path: ConfigPath

    def get(self, key: str, default: Any = None) -> Any:
        return self.settings.get(key, default)


def compile_alerts(context: Context) -> None:
    service = context.service
    alerts = service.custom.alerts
    if alerts is None and not any(function.alarms for function in service.functions.values()):
        return
    config = alerts or Alerts()
    # "stages: Optionally - select which stages to deploy alarms to" (plugin README).
    if config.stages is not None and context.stage not in config.stages:
        return
    topics = _compile_topics(context, config)
    definitions = _definitions(config)
    base: ConfigPath = ("custom", "alerts")
    shared = [
        *((entry, (*base, "alarms", index)) for index, entry in enumerate(config.alarms)),
        *((entry, (*base, "global", index)) for index, entry in enumerate(config.global_)),
        *((entry, (*base, "function", index)) for index, entry in enumerate(config.function)),
    ]
    seen: set[str] = set()
    unique = []
    for reference, path in shared:
        # The plugin took the union of the three lists: a name listed twice is one alarm.
        if isinstance(reference, str) and reference in seen:
            continue
        if isinstance(reference, str):
            seen.add(reference)
        unique.append((reference, path))
    for key, function in service.functions.items():
        own = [
            (entry, ("functions", key, "alarms", index))
            for index, entry in enumerate(function.alarms)
        ]
        chosen: dict[str, Entry] = {}
        for reference, path in [*unique, *own]:
            entry = _resolve(context, reference, definitions, config, path)
            logical_id = f"{normalized(key)}{normalized(entry.name)}Alarm"
            if entry.get("enabled", True):
                chosen[logical_id] = entry
            else:
                chosen.pop(logical_id, None)
        for logical_id, entry in chosen.items():
            _compile_alarm(context, key, logical_id, entry, topics)


def _compile_topics(context: Context, config: Alerts) -> Topics:
    groups: dict[str | None, dict[str, Json]] = {}
    for group_key, value in config.topics.items():
        path: ConfigPath = ("custom", "alerts", "topics", group_key)
        if group_key in TOPIC_KINDS:
            if not isinstance(value, AlertTopic):
                raise context.fail("expected a topic name, an ARN or {topic, notifications}", path)
            _compile_topic(context, groups, None, group_key, value)
            continue
        if not isinstance(value, dict):
            raise context.fail(
                f"a topic group maps {', '.join(TOPIC_KINDS)} to topics, got a single topic",
                path,
            )
        for kind, topic in value.items():
            if kind not in TOPIC_KINDS:
                raise context.fail(
                    f"expected one of {', '.join(TOPIC_KINDS)}, got {kind!r}", (*path, kind)
                )
            _compile_topic(context, groups, group_key, kind, topic)
    return Topics(groups)


def _compile_topic(
    context: Context,
    groups: dict[str | None, dict[str, Json]],
    group: str | None,
    kind: str,
    topic: AlertTopic,
) -> None:
    if topic.topic is None:
        return
    logical_id = f"AwsAlerts{upper_first(group or '')}{upper_first(kind)}"
    subscriptions = [
        {"Protocol": notification.protocol, "Endpoint": notification.endpoint}
        for notification in topic.notifications
    ]
    # A plain name means a topic the plugin creates; an ARN or a CloudFormation function means
    # an existing topic (plugin README, "SNS Topics").
    if isinstance(topic.topic, str) and not topic.topic.startswith("arn:"):
        context.template.add(
            logical_id,
            "AWS::SNS::Topic",
            {"TopicName": topic.topic, "Subscription": subscriptions},
        )
        groups.setdefault(group, {})[kind] = {"Ref": logical_id}
        return
    groups.setdefault(group, {})[kind] = topic.topic
    for index, subscription in enumerate(subscriptions, start=1):
        context.template.add(
            f"{logical_id}Subscription{index}",
            "AWS::SNS::Subscription",
            {"TopicArn": topic.topic, **subscription},
        )


def _definitions(config: Alerts) -> dict[str, dict[str, Any]]:
    """The plugin's defaults with ``custom.alerts.definitions`` merged over them, key by key."""
    merged = {name: dict(settings) for name, settings in DEFAULT_DEFINITIONS.items()}
    for name, definition in config.definitions.items():
        merged[name] = _over(merged.get(name, {}), _set_fields(definition))
    return merged


def _over(base: dict[str, Any], layer: dict[str, Any]) -> dict[str, Any]:
    """``layer``'s settings over ``base``'s. Statistic and extendedStatistic are one choice
    (CloudWatch takes one or the other), so setting either replaces the other."""
    merged = {**base, **layer}
    for field, other in (("statistic", "extended_statistic"), ("extended_statistic", "statistic")):
        if field in layer and other not in layer:
            merged.pop(other, None)
    return merged


def _set_fields(definition: AlarmDefinition) -> dict[str, Any]:
    return {field: getattr(definition, field) for field in definition.model_fields_set}


def _resolve(
    context: Context,
    reference: str | AlarmDefinition,
    definitions: dict[str, dict[str, Any]],
    config: Alerts,
    path: ConfigPath,
) -> Entry:
    name = reference if isinstance(reference, str) else reference.name
    if name is None:
        raise context.fail("an inline alarm needs a name", path)
    if isinstance(reference, str) and name not in definitions:
        raise context.fail(f"alarm definition {name!r} does not exist", path)
    inline = {} if isinstance(reference, str) else _set_fields(reference)
    base = {
        "enabled": True,
        "type": "static",
        # The list-wide templates apply unless the alarm has its own (plugin compileAlarms).
        "name_template": config.name_template,
        "prefix_template": config.prefix_template,
    }
    settings = _over(_over(base, definitions.get(name, {})), inline)
    return Entry(name, {**settings, "name": name}, path)


def _compile_alarm(
    context: Context, key: str, logical_id: str, entry: Entry, topics: Topics
) -> None:
    service = context.service
    function_ref = function_id(key)
    stack = stack_name(service.service, context.stage, service.provider.stack_name)
    pattern = entry.get("pattern")
    metric = _required(context, entry, "metric")
    if pattern is not None:
        # A log-pattern alarm counts matches in the stack's own namespace, in a metric named
        # after the alarm and the function (plugin README, "Metric Log Filters").
        namespace = stack
        metric_id = f"{upper_first(metric)}{function_ref}"
        dimensions: list[Json] = []
        _compile_metric_filters(context, key, entry, namespace, metric_id)
    else:
        namespace = _required(context, entry, "namespace")
        metric_id = metric
        dimensions = _dimensions(entry, function_ref)
    properties: dict[str, Json] = {}
    if entry.get("actions_enabled") is not None:
        properties["ActionsEnabled"] = entry.get("actions_enabled")
    if entry.get("description") is not None:
        properties["AlarmDescription"] = entry.get("description")
    alarm_name = _alarm_name(context, key, entry, metric_id, stack)
    if alarm_name is not None:
        properties["AlarmName"] = alarm_name
    if entry.get("type") == "anomalyDetection":
        properties.update(_anomaly_detection(context, entry, namespace, metric_id, dimensions))
    else:
        properties.update(_static(context, entry, namespace, metric_id, dimensions))
    properties.update(
        {
            # CloudWatch treats missing data as `missing` unless told otherwise (CloudWatch
            # User Guide, "Configuring how CloudWatch alarms treat missing data").
            "TreatMissingData": entry.get("treat_missing_data") or "missing",
            "OKActions": _actions(context, entry, topics, "ok", "ok_actions"),
            "AlarmActions": _actions(context, entry, topics, "alarm", "alarm_actions"),
            "InsufficientDataActions": _actions(
                context, entry, topics, "insufficientData", "insufficient_data_actions"
            ),
        }
    )
    context.template.add(logical_id, "AWS::CloudWatch::Alarm", properties)


def _static(
    context: Context, entry: Entry, namespace: str, metric_id: str, dimensions: list[Json]
) -> dict[str, Json]:
    properties: dict[str, Json] = {
        "Namespace": namespace,
        "MetricName": metric_id,
        "Dimensions": dimensions,
        "Threshold": number(_required(context, entry, "threshold")),
        "Period": _required(context, entry, "period"),
        "EvaluationPeriods": _required(context, entry, "evaluation_periods"),
        "ComparisonOperator": _required(context, entry, "comparison_operator"),
    }
    if entry.get("datapoints_to_alarm") is not None:
        properties["DatapointsToAlarm"] = entry.get("datapoints_to_alarm")
    statistic = entry.get("statistic")
    extended = entry.get("extended_statistic")
    if statistic is not None and extended is not None:
        raise context.fail(
            f"alarm {entry.name!r} sets both statistic and extendedStatistic", entry.path
        )
    if statistic in STATISTICS:
        properties["Statistic"] = statistic
    elif statistic is not None or extended is not None:
        # A percentile (p95, tm90, …) is an ExtendedStatistic (CloudWatch API reference,
        # PutMetricAlarm); the plugin accepted it under `statistic` too.
        properties["ExtendedStatistic"] = extended or statistic
        low_sample = entry.get("evaluate_low_sample_count_percentile")
        if low_sample is not None:
            properties["EvaluateLowSampleCountPercentile"] = low_sample
    else:
        raise context.fail(f"alarm {entry.name!r} needs a statistic", entry.path)
    return properties


def _anomaly_detection(
    context: Context, entry: Entry, namespace: str, metric_id: str, dimensions: list[Json]
) -> dict[str, Json]:
    # The threshold of an anomaly detection alarm is the band's width in standard deviations
    # (CloudWatch User Guide, "Using CloudWatch anomaly detection").
    threshold = number(_required(context, entry, "threshold"))
    properties: dict[str, Json] = {
        "EvaluationPeriods": _required(context, entry, "evaluation_periods"),
        "ComparisonOperator": _required(context, entry, "comparison_operator"),
        "ThresholdMetricId": "ad1",
        "Metrics": [
            {
                "Id": "m1",
                "ReturnData": True,
                "MetricStat": {
                    "Metric": {
                        "Namespace": namespace,
                        "MetricName": metric_id,
                        "Dimensions": dimensions,
                    },
                    "Period": _required(context, entry, "period"),
                    "Stat": entry.get("extended_statistic")
                    or _required(context, entry, "statistic"),
                },
            },
            {
                "Id": "ad1",
                "Expression": f"ANOMALY_DETECTION_BAND(m1, {threshold})",
                "Label": f"{metric_id} (expected)",
                "ReturnData": True,
            },
        ],
    }
    if entry.get("datapoints_to_alarm") is not None:
        properties["DatapointsToAlarm"] = entry.get("datapoints_to_alarm")
    return properties


def _dimensions(entry: Entry, function_ref: str) -> list[Json]:
    """The alarm's own dimensions plus ``FunctionName`` = the function, unless
    ``omitDefaultDimension`` (plugin README, "Additional dimensions")."""
    given = list(entry.get("dimensions") or [])
    if entry.get("omit_default_dimension"):
        return given
    kept = [dimension for dimension in given if dimension.get("Name") != "FunctionName"]
    return [*kept, {"Name": "FunctionName", "Value": {"Ref": function_ref}}]


def _alarm_name(context: Context, key: str, entry: Entry, metric_id: str, stack: str) -> str | None:
    template = entry.get("name_template")
    prefix = entry.get("prefix_template")
    metric_name = entry.get("metric")
    if template is None and prefix is None:
        return None  # CloudFormation generates a name
    if template is None:
        # A prefix alone names the alarm after the function and the alarm (plugin naming.js).
        template = "$[functionName]-$[metricName]"
        metric_name = entry.name
    if prefix is None:
        prefix = "" if "$[functionName]" in template else "$[stackName]"
    values = {
        "functionName": context.service.function_name(key),
        "functionId": function_id(key),
        "metricName": metric_name,
        "metricId": metric_id,
    }
    try:
        name = fill_template(template, values)
        prefix_text = fill_template(prefix, {"stackName": stack})
    except KeyError as missing:
        raise context.fail(
            f"unknown placeholder $[{missing.args[0]}] in the name of alarm {entry.name!r}; "
            "expected $[functionName], $[functionId], $[metricName] or $[metricId] "
            "(and $[stackName] in prefixTemplate)",
            entry.path,
        ) from None
    full = f"{prefix_text}-{name}" if prefix_text else name
    if len(full) > ALARM_NAME_LIMIT:
        raise context.fail(
            f"alarm name {full!r} is {len(full)} characters; CloudWatch allows {ALARM_NAME_LIMIT}",
            entry.path,
        )
    return full


def _actions(context: Context, entry: Entry, topics: Topics, kind: str, field: str) -> list[Json]:
    """The top-level topic of ``kind``, then that of each group the definition names."""
    actions = topics.actions(None, kind)
    for group in entry.get(field) or []:
        if group not in topics.groups or kind not in topics.groups[group]:
            raise context.fail(
                f"alarm {entry.name!r} sends {_camel(field)} to topic group {group!r}, which "
                f"has no {kind} topic in custom.alerts.topics",
                entry.path,
            )
        actions.extend(topics.actions(group, kind))
    return actions


def _compile_metric_filters(
    context: Context, key: str, entry: Entry, namespace: str, metric_id: str
) -> None:
    """Two filters on the function's log group: 1 per matching event, 0 per other event, so
    that the metric has data (and the alarm can return to OK) while the function logs."""
    function = context.service.functions[key]
    if function.disable_logs:
        raise context.fail(
            f"alarm {entry.name!r} matches a log pattern, but the function's logs are "
            "disabled (disableLogs)",
            entry.path,
        )
    base = f"{function_id(key)}{normalized(entry.name)}LogMetricFilter"
    log_group = f"/aws/lambda/{context.service.function_name(key)}"
    for suffix, pattern, value in (("ALERT", entry.get("pattern"), "1"), ("OK", "", "0")):
        context.template.add(
            f"{base}{suffix}",
            "AWS::Logs::MetricFilter",
            {
                "FilterPattern": pattern,
                "LogGroupName": log_group,
                "MetricTransformations": [
                    {"MetricValue": value, "MetricNamespace": namespace, "MetricName": metric_id}
                ],
            },
            DependsOn=log_group_id(key),
        )


def _required(context: Context, entry: Entry, field: str) -> Any:
    value = entry.get(field)
    if value is None:
        raise context.fail(
            f"alarm {entry.name!r} needs {_camel(field)} (set it inline or in "
            "custom.alerts.definitions)",
            entry.path,
        )
    return value


def _camel(field: str) -> str:
    head, *rest = field.split("_")
    return head + "".join(part.title() for part in rest)

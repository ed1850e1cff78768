"""State machines and activities (serverless-step-functions): per machine, its role → its
definition as ``DefinitionString`` → the ``AWS::StepFunctions::StateMachine`` → its output →
its CloudWatch alarms → its events (schedules, EventBridge rules, API Gateway ``http``).

Logical IDs follow the plugin (lib/naming.js): ``<Key>StepFunctionsStateMachine``, or the
``id`` (else ``name``) given, with ``-`` spelt ``Dash`` and ``_`` ``Underscore``; the role is
``<MachineId>Role``, the output ``<MachineId>Arn``, alarms ``<MachineId><Metric>Alarm``.

The definition goes to CloudFormation as JSON text. Intrinsic functions inside it become
``Fn::Sub`` variables: a ``Ref`` or ``Fn::GetAtt`` is written in place (``${Queue}``,
``${Fn.Arn}`` — the Fn::Sub forms of the same functions), anything else (``Fn::ImportValue``,
``Fn::Join``, …) becomes a named variable of the Fn::Sub map, and every literal ``${`` of the
definition is escaped as ``${!`` (CloudFormation User Guide, Fn::Sub: "To write a dollar sign
and curly braces literally, add an exclamation point"). A number field such as a Wait state's
``Seconds`` given as an intrinsic is written unquoted, so that it stays a number.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping

from basegear.compile.alarms import fill_template, number
from basegear.compile.context import Context, Json
from basegear.compile.naming import normalized, stack_name
from basegear.compile.stepfunctions_events import compile_event_rules, compile_schedules
from basegear.compile.stepfunctions_http import compile_state_machine_http
from basegear.compile.stepfunctions_role import (
    logical_id,
    machine_role,
    translate_function_names,
)
from basegear.errors import ConfigPath
from basegear.model.base import is_intrinsic
from basegear.model.plugins import STATISTICS
from basegear.model.stepfunctions import STATE_MACHINE_ALARM_METRICS, StateMachine

LOGICAL_ID = re.compile(r"^[A-Za-z0-9]{1,255}$")
# ASL fields that hold numbers; an intrinsic there must resolve to a bare number.
NUMBER_FIELDS = frozenset(
    (
        "Seconds",
        "TimeoutSeconds",
        "HeartbeatSeconds",
        "IntervalSeconds",
        "MaxAttempts",
        "BackoffRate",
        "MaxDelaySeconds",
        "MaxConcurrency",
        "ToleratedFailureCount",
        "ToleratedFailurePercentage",
    )
)
# ASL fields whose content is the state's own data: a key there is never an ASL field.
PAYLOAD_FIELDS = frozenset(
    ("Parameters", "Arguments", "ResultSelector", "ItemSelector", "Result", "Output", "Assign")
)
ALARM_DESCRIPTIONS = {
    "executionsTimedOut": "executions timed out",
    "executionsFailed": "executions failed",
    "executionsAborted": "executions were aborted",
    "executionThrottled": "executions were throttled",
    "executionsSucceeded": "executions succeeded",
}


def compile_state_machines(context: Context) -> None:
    step_functions = context.service.step_functions
    if step_functions is None:
        return
    for name in step_functions.activities:
        _compile_activity(context, name, step_functions.no_output)
    claimed: dict[str, str] = {}
    for key, machine in step_functions.state_machines.items():
        path: ConfigPath = ("stepFunctions", "stateMachines", key)
        machine_id = machine_logical_id(context, key, machine, path)
        if machine_id in claimed:
            raise context.fail(
                f"the logical ID {machine_id} is already that of state machine "
                f"{claimed[machine_id]!r}; give each machine its own id or name",
                path,
            )
        claimed[machine_id] = key
        _compile_machine(context, machine, machine_id, path)
        if not step_functions.no_output:
            context.template.output(
                f"{machine_id}Arn",
                {"Ref": machine_id},
                "Current StateMachine Arn",
                export=_export(context, f"{machine_id}Arn"),
            )
        _compile_alarms(context, key, machine, machine_id, path)
        compile_schedules(context, key, machine, machine_id, path)
        compile_event_rules(context, key, machine, machine_id, path)
        for index, event in enumerate(machine.events):
            if event.http is not None:
                compile_state_machine_http(context, key, machine_id, index, event.http)


def machine_logical_id(context: Context, key: str, machine: StateMachine, path: ConfigPath) -> str:
    custom = machine.id or machine.name
    logical_id = normalized(custom) if custom else f"{normalized(key)}StepFunctionsStateMachine"
    if not LOGICAL_ID.match(logical_id):
        field = "id" if machine.id else "name"
        # CloudFormation User Guide, "Resources": the logical ID must be alphanumeric.
        raise context.fail(
            f"the state machine's logical ID would be {logical_id!r}, which CloudFormation "
            "rejects (letters and digits only); give an alphanumeric id",
            (*path, field) if custom else path,
        )
    return logical_id


def _compile_machine(
    context: Context, machine: StateMachine, machine_id: str, path: ConfigPath
) -> None:
    if machine.notifications:
        raise context.fail(
            "state machine notifications are not compiled by BaseGear yet; add an "
            "EventBridge rule on 'Step Functions Execution Status Change' in resources",
            (*path, "notifications"),
        )
    if machine.role is not None and machine.iam_role_statements:
        raise context.fail(
            "iamRoleStatements extend the role BaseGear generates; with a role of your own, "
            "put the statements there",
            (*path, "iamRoleStatements"),
        )
    depends_on: list[str] = []
    if machine.role is not None:
        role_arn: Json = machine.role
    else:
        role_id = machine_role(context, machine, machine_id, path)
        role_arn = {"Fn::GetAtt": [role_id, "Arn"]}
        depends_on.append(role_id)
    if isinstance(machine.depends_on, str):
        depends_on.append(machine.depends_on)
    elif machine.depends_on:
        depends_on.extend(machine.depends_on)
    properties: dict[str, Json] = {}
    if machine.name is not None:
        properties["StateMachineName"] = machine.name
    properties["StateMachineType"] = machine.type
    properties["DefinitionString"] = definition_string(context, machine)
    properties["RoleArn"] = role_arn
    logging = _logging(context, machine, path)
    if logging is not None:
        properties["LoggingConfiguration"] = logging
    if machine.tracing_config is not None:
        properties["TracingConfiguration"] = {"Enabled": machine.tracing_config.enabled}
    if machine.encryption_config is not None:
        properties["EncryptionConfiguration"] = dict(machine.encryption_config)
    tags = _tags(context, machine)
    if tags:
        properties["Tags"] = tags
    context.template.add(
        machine_id,
        "AWS::StepFunctions::StateMachine",
        properties,
        DependsOn=depends_on or None,
        DeletionPolicy="Retain" if machine.retain else None,
    )


def definition_string(context: Context, machine: StateMachine) -> Json:
    """The definition as JSON text, or an ``Fn::Sub`` of it when it holds intrinsics."""
    substitution = _Substitution(context, machine.use_exact_version)
    escaped = substitution.walk(machine.definition)
    if not substitution.used:
        return json.dumps(machine.definition, indent=2, ensure_ascii=False)
    text = json.dumps(escaped, indent=2, ensure_ascii=False)
    for name in substitution.numbers:
        text = text.replace(f'"${{{name}}}"', f"${{{name}}}")
    if not substitution.variables:
        return {"Fn::Sub": text}
    return {"Fn::Sub": [text, substitution.variables]}


class _Substitution:
    """Turns a definition into its Fn::Sub form: intrinsics out, literal ``${`` escaped."""

    def __init__(self, context: Context, exact_versions: bool) -> None:
        self.context = context
        self.exact_versions = exact_versions
        self.used = False
        self.variables: dict[str, Json] = {}
        self.numbers: list[str] = []
        self._names: dict[str, str] = {}

    def walk(self, value: Json, field: str | None = None, payload: bool = False) -> Json:
        # {"Condition": …} is the state's own data here: conditions are no value.
        if is_intrinsic(value) and "Condition" not in value:
            self.used = True
            numeric = field in NUMBER_FIELDS and not payload
            return self._placeholder(self._target(value), field if numeric else None)
        if isinstance(value, dict):
            return {
                _escape(str(key)): self.walk(item, str(key), payload or key in PAYLOAD_FIELDS)
                for key, item in value.items()
            }
        if isinstance(value, list):
            return [self.walk(item, field, payload) for item in value]
        if isinstance(value, str):
            return _escape(value)
        return value

    def _target(self, value: Json) -> Json:
        """Function keys as logical IDs; with ``useExactVersion``, a function's current
        version instead of the function (its ``Ref`` is the version's ARN)."""
        value = translate_function_names(self.context, value)
        target = logical_id(value)
        resources = self.context.template.resources
        if not self.exact_versions or target is None:
            return value
        if resources.get(target, {}).get("Type") != "AWS::Lambda::Function":
            return value
        for version_id, resource in resources.items():
            if resource["Type"] == "AWS::Lambda::Version" and resource["Properties"].get(
                "FunctionName"
            ) == {"Ref": target}:
                return {"Ref": version_id}
        return value

    def _placeholder(self, value: Json, number_field: str | None) -> str:
        if number_field is None:
            inline = _inline(value)
            if inline is not None:
                return inline
        canonical = json.dumps(value, sort_keys=True)
        base = number_field or next(iter(value)).removeprefix("Fn::")
        name = self._names.get(f"{base}:{canonical}")
        if name is None:
            count = 1
            while f"{base}{count}" in self.variables:
                count += 1
            name = f"{base}{count}"
            self._names[f"{base}:{canonical}"] = name
            self.variables[name] = value
            if number_field is not None:
                self.numbers.append(name)
        return f"${{{name}}}"


def _inline(value: Json) -> str | None:
    """The Fn::Sub text standing for a Ref, a GetAtt or a one-string Sub, if any."""
    name, argument = next(iter(value.items()))
    if name == "Ref" and isinstance(argument, str):
        return f"${{{argument}}}"
    if name == "Fn::GetAtt":
        parts = argument.split(".", 1) if isinstance(argument, str) else argument
        if isinstance(parts, list) and len(parts) == 2 and all(isinstance(p, str) for p in parts):
            return f"${{{parts[0]}.{parts[1]}}}"
    if name == "Fn::Sub" and isinstance(argument, str):
        return argument
    return None


def _escape(text: str) -> str:
    return text.replace("${", "${!")


def _logging(context: Context, machine: StateMachine, path: ConfigPath) -> Json:
    config = machine.logging_config
    if config is None:
        return None
    here = (*path, "loggingConfig")
    # "Destinations … Limited to size 1. Required, if your log level is not set to OFF"
    # (Step Functions API reference, LoggingConfiguration).
    if config.level != "OFF" and not config.destinations:
        raise context.fail(f"level {config.level} needs a log group in destinations", here)
    if len(config.destinations) > 1:
        raise context.fail("Step Functions logs to one log group; give one destination", here)
    logging: dict[str, Json] = {
        "Level": config.level,
        "IncludeExecutionData": config.include_execution_data,
    }
    if config.destinations:
        logging["Destinations"] = [
            {"CloudWatchLogsLogGroup": {"LogGroupArn": arn}} for arn in config.destinations
        ]
    return logging


def _tags(context: Context, machine: StateMachine) -> list[Json]:
    """The provider's tags (unless ``inheritGlobalTags: false``) with the machine's own over
    them; CloudFormation rejects a key given twice."""
    merged: dict[str, Json] = {}
    if machine.inherit_global_tags:
        merged.update(context.service.provider.tags)
    merged.update(machine.tags or {})
    return [
        {"Key": key, "Value": value if is_intrinsic(value) else str(value)}
        for key, value in merged.items()
    ]


def _compile_alarms(
    context: Context, key: str, machine: StateMachine, machine_id: str, path: ConfigPath
) -> None:
    """Alarms on the AWS/States metrics of this machine, dimension StateMachineArn (Step
    Functions developer guide, "Monitoring Step Functions metrics using Amazon CloudWatch")."""
    alarms = machine.alarms
    if alarms is None:
        return
    display_name = machine.name or key
    seen: set[str] = set()
    for index, metric in enumerate(alarms.metrics):
        here: ConfigPath = (*path, "alarms", "metrics", index)
        if metric.metric in seen:
            raise context.fail(f"metric {metric.metric} is listed twice", here)
        seen.add(metric.metric)
        metric_name = STATE_MACHINE_ALARM_METRICS[metric.metric]
        description = f"{display_name}[{context.stage}][{context.region}]: "
        properties: dict[str, Json] = {
            "Namespace": "AWS/States",
            "MetricName": metric_name,
            "AlarmDescription": description + ALARM_DESCRIPTIONS[metric.metric],
            "Threshold": number(metric.threshold if metric.threshold is not None else 1),
            # The metric's own period, else the alarms' (the plugin's default is 60 seconds).
            "Period": metric.period or alarms.period or 60,
            "EvaluationPeriods": metric.evaluation_periods or 1,
            "ComparisonOperator": metric.comparison_operator or "GreaterThanOrEqualToThreshold",
        }
        if metric.datapoints_to_alarm is not None:
            properties["DatapointsToAlarm"] = metric.datapoints_to_alarm
        statistic = metric.statistic or "Sum"
        properties["Statistic" if statistic in STATISTICS else "ExtendedStatistic"] = statistic
        properties.update(
            {
                "OKActions": _topic(alarms.topics, "ok"),
                "AlarmActions": _topic(alarms.topics, "alarm"),
                "InsufficientDataActions": _topic(alarms.topics, "insufficientData"),
                "TreatMissingData": metric.treat_missing_data
                or alarms.treat_missing_data
                or "missing",
                "Dimensions": [{"Name": "StateMachineArn", "Value": {"Ref": machine_id}}],
            }
        )
        name = metric.alarm_name or _alarm_name(
            context, machine, machine_id, alarms.name_template, metric.metric, here
        )
        if name is not None:
            properties["AlarmName"] = name
        alarm_id = metric.logical_id or f"{machine_id}{metric_name}Alarm"
        if alarm_id in context.template.resources:
            raise context.fail(
                f"the logical ID {alarm_id} is already taken by another resource; give this "
                "alarm another logicalId",
                (*here, "logicalId") if metric.logical_id else here,
            )
        context.template.add(alarm_id, "AWS::CloudWatch::Alarm", properties)


def _alarm_name(
    context: Context,
    machine: StateMachine,
    machine_id: str,
    template: str | None,
    metric: str,
    path: ConfigPath,
) -> Json:
    """``alarms.nameTemplate`` with ``$[stateMachineName]`` the deployed name: ``name`` when
    given, else the one CloudFormation generated (the plugin used the machine's key)."""
    if template is None:
        return None
    values: Mapping[str, str] = {
        "stateMachineName": machine.name if machine.name is not None else "\0",
        "cloudWatchMetricName": STATE_MACHINE_ALARM_METRICS[metric],
        "metricName": metric,
    }
    try:
        filled = fill_template(template, values)
    except KeyError as missing:
        raise context.fail(
            f"unknown placeholder $[{missing.args[0]}] in alarms.nameTemplate; expected "
            "$[stateMachineName], $[cloudWatchMetricName] or $[metricName]",
            path,
        ) from None
    if "\0" not in filled:
        return filled
    text = _escape(filled).replace("\0", "${MachineName}")
    return {"Fn::Sub": [text, {"MachineName": {"Fn::GetAtt": [machine_id, "Name"]}}]}


def _topic(topics: Mapping[str, Json], kind: str) -> list[Json]:
    return [topics[kind]] if kind in topics else []


def _compile_activity(context: Context, name: str, no_output: bool) -> None:
    logical_id = f"{normalized(name)}StepFunctionsActivity"
    context.template.add(logical_id, "AWS::StepFunctions::Activity", {"Name": name})
    if not no_output:
        output = f"{logical_id}Arn"
        context.template.output(
            output, {"Ref": logical_id}, "Current Activity Arn", export=_export(context, output)
        )


def _export(context: Context, output: str) -> str:
    """The Serverless Framework exports every output it compiles as ``sls-<stack>-<name>``."""
    service = context.service
    return f"sls-{stack_name(service.service, context.stage, service.provider.stack_name)}-{output}"

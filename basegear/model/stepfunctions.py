"""Top-level ``stepFunctions`` (serverless-step-functions README): state machines, their
events, alarms and logging. Definitions are checked as Amazon States Language separately
(``basegear.config.asl``)."""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import AfterValidator, Field, model_validator
from pydantic_core import PydanticCustomError

from basegear.model.base import CfnString, Json, Model, OneOf, Range
from basegear.model.events import HttpMethod, ScheduleEvent, _method_path
from basegear.model.plugins import Statistic

# Metric names the plugin accepts in `alarms.metrics` (serverless-step-functions README,
# "CloudWatch Alarms"), each mapped to its AWS/States metric.
STATE_MACHINE_ALARM_METRICS = {
    "executionsTimedOut": "ExecutionsTimedOut",
    "executionsFailed": "ExecutionsFailed",
    "executionsAborted": "ExecutionsAborted",
    "executionThrottled": "ExecutionThrottled",
    "executionsSucceeded": "ExecutionsSucceeded",
}


class StepFunctionHttpRequest(Model):
    template: dict[str, str] | Annotated[str, OneOf("lambda_proxy")] | None = None
    headers: dict[str, str] | None = None


class StepFunctionHttpResponse(Model):
    headers: dict[str, str] | None = None
    template: str | dict[str, str] | None = None
    status_codes: dict[str, dict[str, Json]] | None = None


class IntegrationResponse(Model):
    """One entry of ``responses``: an API Gateway integration response."""

    status_code: int | None = None
    selection_pattern: str | None = None
    response_parameters: dict[str, str] = {}
    response_templates: dict[str, str] = {}


class StepFunctionHttpEvent(Model):
    """An ``http`` event that starts (or acts on) the state machine through API Gateway.
    ``responses`` lists integration responses directly; ``response.statusCodes`` is the
    Serverless Framework's own form of the same, which BaseGear honours too."""

    path: str
    method: HttpMethod
    action: Annotated[
        str, OneOf("StartExecution", "StartSyncExecution", "DescribeExecution", "StopExecution")
    ] = "StartExecution"
    private: bool = False
    cors: bool | dict[str, Json] = False
    authorizer: Json = None
    request: StepFunctionHttpRequest | None = None
    response: StepFunctionHttpResponse | None = None
    responses: dict[str, IntegrationResponse] | None = None
    iam_role: CfnString | None = None
    timeout_in_millis: Annotated[int, Range(50, 29000)] | None = None

    _expand = model_validator(mode="before")(_method_path)


class StateMachineEvent(Model):
    http: StepFunctionHttpEvent | None = None
    schedule: ScheduleEvent | None = None
    event_bridge: Json = None
    cloudwatch_event: Json = None

    @model_validator(mode="before")
    @classmethod
    def _one_type(cls, value: Any) -> Any:
        if isinstance(value, dict) and len(value) != 1:
            raise PydanticCustomError(
                "one_event",
                "each event is a mapping with exactly one event type (http, "
                "schedule, eventBridge, cloudwatchEvent), got {keys}",
                {"keys": ", ".join(map(str, value))},
            )
        return value


def _logical_id(value: str) -> str:
    # CloudFormation User Guide, "Resources": a logical ID is alphanumeric (A-Za-z0-9).
    if not re.fullmatch(r"[A-Za-z0-9]{1,255}", value):
        raise PydanticCustomError(
            "logical_id",
            "a logical ID has only letters and digits (at most 255), got {got}",
            {"got": repr(value)},
        )
    return value


AlarmPeriod = Annotated[int, Range(10, 86400)]  # CloudWatch PutMetricAlarm: Period in seconds


class StateMachineAlarmMetric(Model):
    metric: Annotated[str, OneOf(*STATE_MACHINE_ALARM_METRICS)]
    logical_id: Annotated[str, AfterValidator(_logical_id)] | None = None
    threshold: float | None = None
    statistic: Statistic | None = None
    period: AlarmPeriod | None = None
    evaluation_periods: int | None = None
    datapoints_to_alarm: int | None = None
    comparison_operator: str | None = None
    treat_missing_data: str | None = None
    alarm_name: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _plain(cls, value: Any) -> Any:
        return {"metric": value} if isinstance(value, str) else value


class StateMachineAlarms(Model):
    topics: dict[Annotated[str, OneOf("ok", "alarm", "insufficientData")], CfnString] = {}
    metrics: list[StateMachineAlarmMetric] = []
    period: AlarmPeriod | None = None  # for every metric that sets none (the plugin's 60)
    treat_missing_data: str | None = None
    name_template: str | None = None


class LoggingConfig(Model):
    level: Annotated[str, OneOf("ALL", "ERROR", "FATAL", "OFF")] = "OFF"
    include_execution_data: bool = False
    destinations: list[CfnString] = []


class TracingConfig(Model):
    enabled: bool = False


class StateMachine(Model):
    name: str | None = None
    id: str | None = None
    type: Annotated[str, OneOf("STANDARD", "EXPRESS")] = "STANDARD"
    definition: dict[str, Json]
    role: CfnString | None = None
    retain: bool = False
    events: list[StateMachineEvent] = []
    alarms: StateMachineAlarms | None = None
    logging_config: LoggingConfig | None = None
    tracing_config: TracingConfig | None = None
    depends_on: list[str] | str | None = None
    tags: dict[str, str] | None = None
    notifications: dict[str, Json] | None = None
    use_exact_version: bool = False
    inherit_global_tags: bool = True
    encryption_config: dict[str, Json] | None = None
    iam_role_statements: list[dict[str, Json]] | None = None


class StepFunctions(Model):
    validate_: bool = Field(False, alias="validate")
    no_output: bool = False
    state_machines: dict[str, StateMachine] = {}
    activities: list[str] = []

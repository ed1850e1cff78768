"""Plugin sections BaseGear implements natively: serverless-python-requirements
(``custom.pythonRequirements``), serverless-plugin-aws-alerts (``custom.alerts`` and function
``alarms``) and serverless-plugin-lambda-dead-letter (function ``deadLetter``)."""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import AfterValidator, Field, model_validator
from pydantic_core import PydanticCustomError

from basegear.model.base import CfnString, Json, Model, OneOf, Range, describe, is_intrinsic

# Plugins whose sections BaseGear reads and acts on itself.
NATIVE_PLUGINS = (
    "serverless-python-requirements",
    "serverless-step-functions",
    "serverless-plugin-aws-alerts",
    "serverless-plugin-lambda-dead-letter",
    "serverless-pseudo-parameters",
)


class PythonRequirements(Model):
    """``custom.pythonRequirements`` (serverless-python-requirements README, "Options")."""

    file_name: str = "requirements.txt"
    dockerize_pip: bool | Annotated[str, OneOf("non-linux")] = False
    docker_image: str | None = None
    docker_file: str | None = None
    docker_ssh: bool = False
    docker_env: bool | list[str] = False
    docker_private_key: str | None = None
    docker_rootless: bool = False
    cleanup_zip_helper: bool = True
    docker_extra_files: list[str] | None = None
    docker_run_cmd_extra_args: list[str] | None = None
    docker_build_cmd_extra_args: list[str] | None = None
    slim: bool = False
    slim_patterns: list[str] = []
    slim_patterns_append_defaults: bool = True
    strip: bool = True
    layer: bool | dict[str, Json] = False
    zip: bool = False
    no_deploy: list[str] = []
    invalidate_caches: bool = False
    use_static_cache: bool = True
    use_download_cache: bool = True
    cache_location: bool | str = False
    static_cache_max_versions: int = 0
    pip_cmd_extra_args: list[str] = []
    use_pipenv: bool = True
    use_poetry: bool = True
    require_poetry_lock_file: bool = False
    poetry_with_groups: list[str] = []
    poetry_without_groups: list[str] = []
    poetry_only_groups: list[str] = []
    python_bin: str | None = None
    vendor: str = ""


COMPARISON_OPERATORS = (
    "GreaterThanOrEqualToThreshold",
    "GreaterThanThreshold",
    "LessThanThreshold",
    "LessThanOrEqualToThreshold",
    "LessThanLowerOrGreaterThanUpperThreshold",
    "LessThanLowerThreshold",
    "GreaterThanUpperThreshold",
)
STATISTICS = ("SampleCount", "Average", "Sum", "Minimum", "Maximum")
# A percentile, p0.0 to p100 (CloudWatch API reference, PutMetricAlarm ExtendedStatistic), which
# the plugin accepts as a statistic ("Using Percentile Statistic for a Metric" in its README).
PERCENTILE = re.compile(r"p(\d{1,3})(\.\d{1,2})?")


def is_percentile(value: str) -> bool:
    match = PERCENTILE.fullmatch(value)
    return match is not None and float(value[1:]) <= 100


def _statistic(value: str) -> str:
    if value in STATISTICS or is_percentile(value):
        return value
    from basegear.config.suggest import did_you_mean

    raise PydanticCustomError(
        "statistic",
        "expected one of {allowed} or a percentile from p0.0 to p100 (e.g. p95), got {got}{hint}",
        {
            "allowed": ", ".join(STATISTICS),
            "got": describe(value),
            "hint": did_you_mean(value, STATISTICS),
        },
    )


Statistic = Annotated[str, AfterValidator(_statistic)]
TREAT_MISSING = ("breaching", "notBreaching", "ignore", "missing")

# The plugin's built-in definitions (serverless-plugin-aws-alerts README, "Default Definitions").
DEFAULT_ALARMS = ("functionErrors", "functionThrottles", "functionInvocations", "functionDuration")


class AlarmDefinition(Model):
    """One alarm definition; unset fields come from the default it overrides, if any."""

    name: str | None = None
    description: str | None = None
    namespace: str | None = None
    metric: str | None = None
    threshold: float | None = None
    statistic: Statistic | None = None
    extended_statistic: str | None = None
    period: Annotated[int, Range(10, 86400)] | None = None
    evaluation_periods: Annotated[int, Range(1, 100000)] | None = None
    datapoints_to_alarm: Annotated[int, Range(1, 100000)] | None = None
    comparison_operator: Annotated[str, OneOf(*COMPARISON_OPERATORS)] | None = None
    treat_missing_data: Annotated[str, OneOf(*TREAT_MISSING)] | None = None
    evaluate_low_sample_count_percentile: Annotated[str, OneOf("evaluate", "ignore")] | None = None
    pattern: str | None = None
    omit_default_dimension: bool = False
    dimensions: list[dict[str, Json]] | None = None
    type: Annotated[str, OneOf("static", "anomalyDetection")] | None = None
    actions_enabled: bool | None = None
    alarm_actions: list[CfnString] | None = None
    ok_actions: list[CfnString] | None = None
    insufficient_data_actions: list[CfnString] | None = None
    name_template: str | None = None
    prefix_template: str | None = None
    enabled: bool = True


AlarmReference = Annotated[str, Field(min_length=1)] | AlarmDefinition
"""An entry of an ``alarms`` list: a definition's name, or an inline definition with a name."""


class Notification(Model):
    protocol: str
    endpoint: CfnString


class AlertTopic(Model):
    topic: CfnString | None = None
    notifications: list[Notification] = []

    @model_validator(mode="before")
    @classmethod
    def _plain(cls, value: Any) -> Any:
        # A name, an ARN or a CloudFormation function (`alarm: !ImportValue alerts-topic`).
        return {"topic": value} if isinstance(value, str) or is_intrinsic(value) else value


class Alerts(Model):
    """``custom.alerts``."""

    stages: list[str] | None = None
    dashboards: bool | list[str] | str = False
    name_template: str | None = None
    prefix_template: str | None = None
    topics: dict[str, AlertTopic | dict[str, AlertTopic]] = {}
    definitions: dict[str, AlarmDefinition] = {}
    alarms: list[AlarmReference] = []
    # The plugin's older layout: alarms for every function under `function`.
    function: list[AlarmReference] = []
    global_: list[AlarmReference] = Field([], alias="global")


class SqsDeadLetter(Model):
    """A dead-letter queue the plugin creates; ranges from the SQS API reference,
    SetQueueAttributes."""

    queue_name: str
    delay_seconds: Annotated[int, Range(0, 900)] | None = None
    maximum_message_size: Annotated[int, Range(1024, 1048576)] | None = None
    message_retention_period: Annotated[int, Range(60, 1209600)] | None = None
    receive_message_wait_time_seconds: Annotated[int, Range(0, 20)] | None = None
    visibility_timeout: Annotated[int, Range(0, 43200)] | None = None

    @model_validator(mode="before")
    @classmethod
    def _plain(cls, value: Any) -> Any:
        return {"queueName": value} if isinstance(value, str) else value


class SnsDeadLetter(Model):
    topic_name: str

    @model_validator(mode="before")
    @classmethod
    def _plain(cls, value: Any) -> Any:
        return {"topicName": value} if isinstance(value, str) else value


class DeadLetter(Model):
    """Function ``deadLetter``: exactly one of ``sqs``, ``sns`` or ``targetArn``."""

    sqs: SqsDeadLetter | None = None
    sns: SnsDeadLetter | None = None
    target_arn: CfnString | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> DeadLetter:
        given = [
            name
            for name in ("sqs", "sns", "targetArn")
            if getattr(self, "target_arn" if name == "targetArn" else name) is not None
        ]
        if len(given) != 1:
            raise PydanticCustomError(
                "dead_letter",
                "expected exactly one of sqs, sns or targetArn, got {got}",
                {"got": ", ".join(given) or "none"},
            )
        return self

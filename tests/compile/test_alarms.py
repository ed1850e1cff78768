"""serverless-plugin-aws-alerts: default and custom definitions, function-level alarms, name
templates with the deployed function name, topics, the stages filter and log-pattern alarms,
resource by resource."""

from __future__ import annotations

from typing import Any

import pytest
from conftest import EXAMPLE, Compile, OnlyProblem, Template, resources_of_type

NO_ACTIONS = {"OKActions": [], "AlarmActions": [], "InsufficientDataActions": []}


def lambda_alarm(function_id: str, **properties: Any) -> dict[str, Any]:
    """An alarm on an AWS/Lambda metric of one function, as the plugin's defaults shape it."""
    base: dict[str, Any] = {
        "Namespace": "AWS/Lambda",
        "Dimensions": [{"Name": "FunctionName", "Value": {"Ref": function_id}}],
        "Period": 60,
        "EvaluationPeriods": 1,
        "ComparisonOperator": "GreaterThanOrEqualToThreshold",
        "TreatMissingData": "missing",
        **NO_ACTIONS,
    }
    base.update(properties)
    return {"Type": "AWS::CloudWatch::Alarm", "Properties": base}


def default(function_id: str, metric: str, threshold: int, statistic: str, **changes: Any) -> Any:
    return lambda_alarm(
        function_id,
        ActionsEnabled=True,
        MetricName=metric,
        Threshold=threshold,
        DatapointsToAlarm=1,
        Statistic=statistic,
        **changes,
    )


def alarms_of(template: Template) -> dict[str, Any]:
    return resources_of_type(template, "AWS::CloudWatch::Alarm")


# --- the algorithms example ---------------------------------------------------------------

FUNCTIONS = {
    "ObjectsDashprocessorLambdaFunction": "objects-processor",
    "StreamDashprocessorLambdaFunction": "stream-processor",
    "PackageDashstatusLambdaFunction": "package-status",
    "PackageDashdeleteLambdaFunction": "package-delete",
}


@pytest.mark.parametrize(("example_stage", "errors_threshold"), [("dev", 1), ("prod", 5)])
def test_example_function_alarms(
    example: Template, example_stage: str, errors_threshold: int
) -> None:
    resources = example["Resources"]
    topic = [{"Ref": "AwsAlertsAlarm"}]
    assert resources["AwsAlertsAlarm"] == {
        "Type": "AWS::SNS::Topic",
        "Properties": {"TopicName": f"algorithms-{example_stage}-alerts", "Subscription": []},
    }
    for function_id, key in FUNCTIONS.items():
        prefix = function_id.removesuffix("LambdaFunction")
        # $[functionName] is the deployed name, algorithms-<stage>-<key>.
        name = f"algorithms-{example_stage}-{key}"
        actions = {"AlarmActions": topic}
        assert resources[f"{prefix}FunctionErrorsAlarm"] == default(
            function_id,
            "Errors",
            errors_threshold,
            "Sum",
            Period=300,
            TreatMissingData="notBreaching",
            AlarmName=f"{name}-Errors-Alarm",
            **actions,
        )
        assert resources[f"{prefix}FunctionThrottlesAlarm"] == default(
            function_id, "Throttles", 1, "Sum", AlarmName=f"{name}-Throttles-Alarm", **actions
        )
        assert resources[f"{prefix}FunctionInvocationsAlarm"] == default(
            function_id,
            "Invocations",
            100,
            "Sum",
            AlarmName=f"{name}-Invocations-Alarm",
            **actions,
        )
        assert resources[f"{prefix}FunctionDurationAlarm"] == default(
            function_id,
            "Duration",
            10000,
            "Average",
            AlarmName=f"{name}-Duration-Alarm",
            **actions,
        )


def test_example_custom_duration_alarms(example: Template, example_stage: str) -> None:
    resources = example["Resources"]
    thresholds = {"ObjectsDashprocessor": 20000, "StreamDashprocessor": 90000}
    keys = {"ObjectsDashprocessor": "objects-processor", "StreamDashprocessor": "stream-processor"}
    for prefix, threshold in thresholds.items():
        # The definition's own name template, with the deployed function name.
        assert resources[f"{prefix}DurationAlarmAlarm"] == lambda_alarm(
            f"{prefix}LambdaFunction",
            AlarmDescription="Slowest invocation in the last minute reached the threshold",
            AlarmName=f"algorithms-{example_stage}-{keys[prefix]}-MaxDuration-Alarm",
            MetricName="Duration",
            Threshold=threshold,
            DatapointsToAlarm=1,
            Statistic="Maximum",
            TreatMissingData="notBreaching",
            AlarmActions=[{"Ref": "AwsAlertsAlarm"}],
        )
    # Only the two functions that list it have it.
    duration_alarms = [name for name in resources if name.endswith("DurationAlarmAlarm")]
    assert sorted(duration_alarms) == sorted(f"{p}DurationAlarmAlarm" for p in thresholds)


def test_example_alarm_names_are_unique(compile_project: Compile) -> None:
    names = [
        alarm["Properties"]["AlarmName"]
        for alarm in alarms_of(compile_project(EXAMPLE, stage="prod")).values()
        if isinstance(alarm["Properties"].get("AlarmName"), str)
    ]
    assert len(names) == len(set(names)) == 4 * 4 + 2 + 1  # + the user's queue alarm


# --- definitions and function alarms ---------------------------------------------------------


def test_default_definitions(compile_project: Compile) -> None:
    alarms = alarms_of(compile_project("alerts-defaults"))
    function_id = "ResizeUnderscoreimageLambdaFunction"
    # No nameTemplate and no prefixTemplate: CloudFormation names the alarms.
    assert alarms == {
        "ResizeUnderscoreimageFunctionErrorsAlarm": default(function_id, "Errors", 1, "Sum"),
        "ResizeUnderscoreimageFunctionThrottlesAlarm": default(function_id, "Throttles", 1, "Sum"),
        "ResizeUnderscoreimageFunctionInvocationsAlarm": default(
            function_id, "Invocations", 100, "Sum"
        ),
        "ResizeUnderscoreimageFunctionDurationAlarm": default(
            function_id, "Duration", 500, "Average"
        ),
    }


def test_function_alarms_override_and_add(compile_project: Compile) -> None:
    alarms = alarms_of(compile_project("alerts-function-alarms"))
    assert sorted(alarms) == sorted(
        [
            "ApiFunctionErrorsAlarm",
            "ApiFunctionInvocationsAlarm",
            "ApiSlowRequestsAlarm",
            "ApiUnusualTrafficAlarm",
            "BatchFunctionErrorsAlarm",
            # BatchFunctionInvocationsAlarm: switched off with enabled: false
            "BatchFunctionDurationAlarm",
            "BatchQueueAgeAlarm",
            "BatchCustomNamespaceAlarm",
        ]
    )
    # The function's own entry replaces the global one, over the default definition.
    assert alarms["ApiFunctionErrorsAlarm"] == default(
        "ApiLambdaFunction", "Errors", 10, "Sum", TreatMissingData="notBreaching"
    )
    assert alarms["BatchFunctionErrorsAlarm"] == default("BatchLambdaFunction", "Errors", 1, "Sum")
    assert alarms["ApiSlowRequestsAlarm"] == lambda_alarm(
        "ApiLambdaFunction",
        MetricName="Duration",
        # The alarm's own dimensions come first; FunctionName is always added.
        Dimensions=[
            {"Name": "Resource", "Value": "fnalarms-dev-api:live"},
            {"Name": "FunctionName", "Value": {"Ref": "ApiLambdaFunction"}},
        ],
        Threshold=800,
        Period=300,
        EvaluationPeriods=3,
        DatapointsToAlarm=2,
        ComparisonOperator="GreaterThanThreshold",
        ExtendedStatistic="p95",
        EvaluateLowSampleCountPercentile="ignore",
    )
    # A percentile replaces the default's statistic.
    duration = default("BatchLambdaFunction", "Duration", 500, "Average", ExtendedStatistic="p99")
    del duration["Properties"]["Statistic"]
    assert alarms["BatchFunctionDurationAlarm"] == duration
    assert alarms["BatchQueueAgeAlarm"] == lambda_alarm(
        "BatchLambdaFunction",
        MetricName="IteratorAge",
        Threshold=60000,
        EvaluationPeriods=5,
        Statistic="Maximum",
    )
    assert alarms["BatchCustomNamespaceAlarm"] == lambda_alarm(
        "BatchLambdaFunction",
        ActionsEnabled=False,
        AlarmDescription="Too many items waiting",
        Namespace="Fnalarms/Batch",
        MetricName="BacklogSize",
        Dimensions=[],  # omitDefaultDimension
        Threshold=100,
        ComparisonOperator="GreaterThanThreshold",
        Statistic="Maximum",
    )


def test_anomaly_detection_alarm(compile_project: Compile) -> None:
    alarm = alarms_of(compile_project("alerts-function-alarms"))["ApiUnusualTrafficAlarm"]
    assert alarm["Properties"] == {
        "EvaluationPeriods": 1,
        "ComparisonOperator": "LessThanLowerOrGreaterThanUpperThreshold",
        "ThresholdMetricId": "ad1",
        "Metrics": [
            {
                "Id": "m1",
                "ReturnData": True,
                "MetricStat": {
                    "Metric": {
                        "Namespace": "AWS/Lambda",
                        "MetricName": "Invocations",
                        "Dimensions": [
                            {"Name": "FunctionName", "Value": {"Ref": "ApiLambdaFunction"}}
                        ],
                    },
                    "Period": 300,
                    "Stat": "Sum",
                },
            },
            {
                "Id": "ad1",
                "Expression": "ANOMALY_DETECTION_BAND(m1, 2)",
                "Label": "Invocations (expected)",
                "ReturnData": True,
            },
        ],
        "TreatMissingData": "missing",
        **NO_ACTIONS,
    }


def test_function_alarms_without_custom_alerts(compile_project: Compile) -> None:
    alarms = alarms_of(compile_project("alerts-without-config"))
    assert alarms == {
        "WorkerFunctionThrottlesAlarm": default("WorkerLambdaFunction", "Throttles", 1, "Sum")
    }


def test_log_pattern_alarm(compile_project: Compile) -> None:
    resources = compile_project("alerts-pattern")["Resources"]
    metric = "ParseFailuresParserLambdaFunction"
    for suffix, pattern, value in (("ALERT", '{$.level = "ERROR"}', "1"), ("OK", "", "0")):
        assert resources[f"ParserLambdaFunctionParseFailuresLogMetricFilter{suffix}"] == {
            "Type": "AWS::Logs::MetricFilter",
            "DependsOn": "ParserLogGroup",
            "Properties": {
                "FilterPattern": pattern,
                # The deployed name's log group.
                "LogGroupName": "/aws/lambda/pattern-parser-dev",
                "MetricTransformations": [
                    {"MetricValue": value, "MetricNamespace": "pattern-dev", "MetricName": metric}
                ],
            },
        }
    assert resources["ParserParseFailuresAlarm"]["Properties"] == {
        "Namespace": "pattern-dev",
        "MetricName": metric,
        "Dimensions": [],
        "Threshold": 0,
        "Period": 60,
        "EvaluationPeriods": 1,
        "ComparisonOperator": "GreaterThanThreshold",
        "Statistic": "Sum",
        "TreatMissingData": "missing",
        **NO_ACTIONS,
    }


# --- names -------------------------------------------------------------------------------------


def test_name_templates_use_the_deployed_function_name(compile_project: Compile) -> None:
    alarms = alarms_of(compile_project("alerts-name-templates"))
    names = {logical_id: alarm["Properties"]["AlarmName"] for logical_id, alarm in alarms.items()}
    assert names == {
        # Default function name: <service>-<stage>-<key>, no stack prefix.
        "IngestFunctionErrorsAlarm": "names-dev-ingest-Errors-Alarm",
        # A function with its own name: that name (the plugin wrote "export" here).
        "ExportFunctionErrorsAlarm": "reports-exporter-dev-Errors-Alarm",
        # No $[functionName] in the template: the stack name (a custom one) prefixes it.
        "IngestByIdAlarm": "names-stack-dev-IngestLambdaFunction-Errors",
        "ExportByIdAlarm": "names-stack-dev-ExportLambdaFunction-Errors",
        # A prefixTemplate given is always used.
        "IngestPrefixedAlarm": "team-names-stack-dev-names-dev-ingest-Throttles-Alarm",
        "ExportPrefixedAlarm": "team-names-stack-dev-reports-exporter-dev-Throttles-Alarm",
    }


def test_unknown_placeholder_is_an_error(only_problem: OnlyProblem) -> None:
    problem = only_problem("alerts-bad-placeholder")
    assert problem.path == ("custom", "alerts", "alarms", 0)
    assert "$[stage]" in problem.message
    assert problem.location is not None and problem.location.line == 21


def test_missing_setting_is_an_error(only_problem: OnlyProblem) -> None:
    problem = only_problem("alerts-missing-setting")
    assert problem.path == ("functions", "worker", "alarms", 0)
    assert problem.message.startswith("alarm 'backlog' needs threshold")


# --- topics and stages -------------------------------------------------------------------------


def test_topics(compile_project: Compile) -> None:
    resources = compile_project("alerts-topics")["Resources"]
    assert resources["AwsAlertsAlarm"] == {
        "Type": "AWS::SNS::Topic",
        "Properties": {
            "TopicName": "topics-dev-alarm",
            "Subscription": [{"Protocol": "email", "Endpoint": "oncall@example.com"}],
        },
    }
    assert resources["AwsAlertsCriticalAlarm"]["Properties"] == {
        "TopicName": "topics-dev-critical",
        "Subscription": [{"Protocol": "sms", "Endpoint": "+15555550100"}],
    }
    assert resources["AwsAlertsCriticalOk"]["Properties"] == {
        "TopicName": "topics-dev-critical-ok",
        "Subscription": [],
    }
    # Existing topics are referenced, not created; a notification still subscribes.
    assert "AwsAlertsOk" not in resources
    assert "AwsAlertsInsufficientData" not in resources
    imported = {"Fn::ImportValue": "monitoring-insufficient-data-topic"}
    assert resources["AwsAlertsInsufficientDataSubscription1"] == {
        "Type": "AWS::SNS::Subscription",
        "Properties": {
            "TopicArn": imported,
            "Protocol": "https",
            "Endpoint": "https://hooks.example.com/insufficient",
        },
    }
    ok = "arn:aws:sns:eu-west-1:123456789012:topics-ok"
    errors = resources["WorkerFunctionErrorsAlarm"]["Properties"]
    assert errors["OKActions"] == [ok]
    assert errors["AlarmActions"] == [{"Ref": "AwsAlertsAlarm"}]
    assert errors["InsufficientDataActions"] == [imported]
    # A definition's alarmActions/okActions add its groups' topics to the top-level ones.
    critical = resources["WorkerCriticalErrorsAlarm"]["Properties"]
    assert critical["OKActions"] == [ok, {"Ref": "AwsAlertsCriticalOk"}]
    assert critical["AlarmActions"] == [
        {"Ref": "AwsAlertsAlarm"},
        {"Ref": "AwsAlertsCriticalAlarm"},
    ]
    assert critical["InsufficientDataActions"] == [imported]


def test_unknown_topic_group_is_an_error(only_problem: OnlyProblem) -> None:
    problem = only_problem("alerts-unknown-group")
    assert problem.path == ("custom", "alerts", "alarms", 0)
    assert "alarmActions to topic group 'critical'" in problem.message


def test_stages_filter(compile_project: Compile) -> None:
    dev = compile_project("alerts-stages", stage="dev")["Resources"]
    assert not any(
        resource["Type"] in ("AWS::CloudWatch::Alarm", "AWS::SNS::Topic")
        for resource in dev.values()
    )
    prod = compile_project("alerts-stages", stage="prod")["Resources"]
    assert prod["AwsAlertsAlarm"]["Properties"]["TopicName"] == "stages-prod-alerts"
    assert prod["WorkerFunctionErrorsAlarm"]["Properties"]["AlarmActions"] == [
        {"Ref": "AwsAlertsAlarm"}
    ]


# --- every fixture: valid for cfn-lint ---------------------------------------------------------

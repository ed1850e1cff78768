"""Schedule events (EventBridge rules and EventBridge Scheduler schedules) and eventBridge
events: rules, targets with their input, buses, permissions and located errors."""

from __future__ import annotations

import json
from typing import Any

import pytest
from conftest import Compile, OnlyProblem, Template, function_arn, role_statements

PARTITION = {"Ref": "AWS::Partition"}


def target(resources: Template, rule: str) -> Template:
    (only,) = resources[rule]["Properties"]["Targets"]
    return dict(only)


@pytest.fixture
def rules(compile_project: Compile) -> Template:
    resources: Template = compile_project("ev-schedule-rules")["Resources"]
    return resources


def test_one_rule_and_permission_per_expression(rules: Template) -> None:
    assert rules["TickEventsRuleSchedule1"] == {
        "Type": "AWS::Events::Rule",
        "Properties": {
            "ScheduleExpression": "rate(5 minutes)",
            "State": "ENABLED",
            "Targets": [{"Arn": function_arn("Tick"), "Id": "tickSchedule"}],
        },
    }
    assert rules["TickLambdaPermissionEventsRuleSchedule1"]["Properties"] == {
        "FunctionName": function_arn("Tick"),
        "Action": "lambda:InvokeFunction",
        "Principal": "events.amazonaws.com",
        "SourceArn": {"Fn::GetAtt": ["TickEventsRuleSchedule1", "Arn"]},
    }
    expressions = [
        rules[f"TickEventsRuleSchedule{number}"]["Properties"]["ScheduleExpression"]
        for number in (2, 3)
    ]
    assert expressions == ["cron(0 8 * * ? *)", "cron(0 20 * * ? *)"]


def test_name_description_state_and_json_input(rules: Template) -> None:
    properties = rules["TickEventsRuleSchedule4"]["Properties"]
    assert properties == {
        "ScheduleExpression": "rate(1 day)",
        "State": "DISABLED",
        "Name": "cron-dev-daily",
        "Description": "Once a day",
        "Targets": [
            {
                "Arn": function_arn("Tick"),
                "Id": "tickSchedule",
                "Input": '{"kind":"daily","limits":[1,2]}',
            }
        ],
    }


def test_input_path_transformer_and_body(rules: Template) -> None:
    assert json.loads(target(rules, "ReportEventsRuleSchedule1")["Input"]) == {
        "body": {"report": "hourly"}
    }
    assert target(rules, "ReportEventsRuleSchedule2")["InputPath"] == "$.detail"
    assert target(rules, "ReportEventsRuleSchedule3")["InputTransformer"] == {
        "InputTemplate": '{"at": <time>}',
        "InputPathsMap": {"time": "$.time"},
    }
    assert target(rules, "ReportEventsRuleSchedule4")["Input"] == '{"text": true}'


def test_scheduler_schedules(compile_project: Compile) -> None:
    resources = compile_project("ev-schedule-scheduler")["Resources"]
    role = {"Fn::GetAtt": ["RemindSchedulerExecutionRole", "Arn"]}
    assert resources["RemindSchedulerSchedule1"] == {
        "Type": "AWS::Scheduler::Schedule",
        "Properties": {
            "ScheduleExpression": "cron(0 9 ? * MON-FRI *)",
            "State": "ENABLED",
            "FlexibleTimeWindow": {"Mode": "OFF"},
            "Target": {
                "Arn": function_arn("Remind"),
                "RoleArn": role,
                "Input": '{"kind":"reminder"}',
            },
            "Name": "planner-dev-weekdays",
            "Description": "Weekday mornings",
            "ScheduleExpressionTimezone": "Europe/Paris",
        },
    }
    for number in (2, 3):
        properties = resources[f"RemindSchedulerSchedule{number}"]["Properties"]
        assert properties["State"] == "DISABLED"
        assert properties["Target"]["Input"] == "plain text is fine for the Scheduler"
    own_role = resources["RemindSchedulerSchedule4"]["Properties"]["Target"]["RoleArn"]
    assert own_role == "arn:aws:iam::123456789012:role/planner-scheduler"
    assert not [logical_id for logical_id in resources if "Permission" in logical_id]


def test_scheduler_execution_role(compile_project: Compile) -> None:
    template = compile_project("ev-schedule-scheduler")
    role = template["Resources"]["RemindSchedulerExecutionRole"]["Properties"]
    assert role["AssumeRolePolicyDocument"]["Statement"] == [
        {
            "Effect": "Allow",
            "Principal": {"Service": ["scheduler.amazonaws.com"]},
            "Action": ["sts:AssumeRole"],
            "Condition": {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}},
        }
    ]
    assert role_statements(template, "RemindSchedulerExecutionRole") == [
        {
            "Effect": "Allow",
            "Action": ["lambda:InvokeFunction"],
            "Resource": [
                function_arn("Remind"),
                {"Fn::Join": ["", [function_arn("Remind"), ":*"]]},
            ],
        }
    ]


def test_schedule_alias_targets(compile_project: Compile) -> None:
    resources = compile_project("ev-alias-targets")["Resources"]
    rule = resources["HotEventsRuleSchedule1"]
    assert rule["DependsOn"] == "HotProvConcLambdaAlias"
    assert target(resources, "HotEventsRuleSchedule1")["Arn"] == {
        "Fn::Join": [":", [function_arn("Hot"), "provisioned"]]
    }


# eventBridge.


@pytest.fixture
def bridge(compile_project: Compile) -> Template:
    resources: Template = compile_project("ev-eventbridge-rules")["Resources"]
    return resources


def rule_arn(*path: Any) -> Template:
    return {
        "Fn::Join": [
            ":",
            [
                "arn",
                PARTITION,
                "events",
                {"Ref": "AWS::Region"},
                {"Ref": "AWS::AccountId"},
                {"Fn::Join": ["/", ["rule", *path]]},
            ],
        ]
    }


def test_a_pattern_rule_with_every_target_option(bridge: Template) -> None:
    assert bridge["Eventsdevhandlerule1EventBridgeRule"] == {
        "Type": "AWS::Events::Rule",
        "Properties": {
            "Description": "Uploaded objects",
            "EventPattern": {"source": ["aws.s3"], "detail-type": ["Object Created"]},
            "Name": "events-dev-uploads",
            "State": "DISABLED",
            "Targets": [
                {
                    "Arn": function_arn("Handle"),
                    "Id": "events-dev-uploads-target",
                    "RetryPolicy": {"MaximumEventAgeInSeconds": 3600, "MaximumRetryAttempts": 5},
                    "DeadLetterConfig": {"Arn": {"Fn::GetAtt": ["HandleDeadLetters", "Arn"]}},
                    "Input": '{"kind":"upload"}',
                }
            ],
        },
    }
    assert bridge["HandleEventBridgeLambdaPermission1"]["Properties"] == {
        "Action": "lambda:InvokeFunction",
        "FunctionName": function_arn("Handle"),
        "Principal": "events.amazonaws.com",
        "SourceArn": rule_arn("events-dev-uploads"),
    }


def test_a_bus_created_from_a_plain_name(bridge: Template) -> None:
    buses = [r for r in bridge.values() if r["Type"] == "AWS::Events::EventBus"]
    assert bridge["EventsDashdevDashordersEventBridgeEventBus"] == {
        "Type": "AWS::Events::EventBus",
        "Properties": {"Name": "events-dev-orders"},
    }
    assert len(buses) == 2  # that one, and the user's AuditBus
    for position, option in ((2, "InputPath"), (3, "InputTransformer")):
        rule = bridge[f"Eventsdevhandlerule{position}EventBridgeRule"]
        assert rule["DependsOn"] == ["EventsDashdevDashordersEventBridgeEventBus"]
        assert rule["Properties"]["EventBusName"] == "events-dev-orders"
        assert rule["Properties"]["Name"] == f"events-dev-handle-rule-{position}"
        assert option in rule["Properties"]["Targets"][0]
        permission = bridge[f"HandleEventBridgeLambdaPermission{position}"]["Properties"]
        assert permission["SourceArn"] == rule_arn(
            "events-dev-orders", f"events-dev-handle-rule-{position}"
        )
    assert target(bridge, "Eventsdevhandlerule3EventBridgeRule")["InputTransformer"] == {
        "InputTemplate": '{"cancelled": <id>}',
        "InputPathsMap": {"id": "$.detail.id"},
    }


def test_existing_buses(bridge: Template) -> None:
    by_arn = bridge["Eventsdevhandlerule4EventBridgeRule"]
    assert "DependsOn" not in by_arn
    assert by_arn["Properties"]["EventBusName"] == "partners"
    assert by_arn["Properties"]["RoleArn"] == "arn:aws:iam::123456789012:role/events-partners"
    by_name = bridge["Eventsdevhandlerule5EventBridgeRule"]["Properties"]
    assert by_name["EventBusName"] == {"Fn::GetAtt": ["AuditBus", "Name"]}
    permission = bridge["HandleEventBridgeLambdaPermission5"]["Properties"]
    assert permission["SourceArn"] == rule_arn(
        {"Fn::GetAtt": ["AuditBus", "Name"]}, "events-dev-handle-rule-5"
    )


def test_a_schedule_on_the_default_bus(bridge: Template) -> None:
    assert bridge["Eventsdevhandlerule6EventBridgeRule"]["Properties"] == {
        "Name": "events-dev-handle-rule-6",
        "ScheduleExpression": "rate(10 minutes)",
        "State": "ENABLED",
        "Targets": [{"Arn": function_arn("Handle"), "Id": "events-dev-handle-rule-6-target"}],
    }


def test_long_generated_names_are_shortened(bridge: Template) -> None:
    logical_id = "Eventsdevafunctionwitharatherlongnameforitsrulesrule1EventBridgeRule"
    properties = bridge[logical_id]["Properties"]
    # Rule names and target IDs have at most 64 characters; the framework's shortening.
    assert properties["Name"] == "events-dev-a-function-wit3329ea153d2c0f4dcdb78d0da59707c1-rule-1"
    assert properties["Targets"][0]["Id"] == (
        "events-dev-a-function-wit12e2e4fb55ebe36c8d6ae2307c725dfb-target"
    )
    assert len(properties["Name"]) == len(properties["Targets"][0]["Id"]) == 64


def test_event_bridge_alias_targets(compile_project: Compile) -> None:
    resources = compile_project("ev-alias-targets")["Resources"]
    rule = resources["Warmdevsnappyrule3EventBridgeRule"]
    assert rule["DependsOn"] == ["SnappySnapStartLambdaAlias"]
    assert rule["Properties"]["Targets"][0]["Arn"] == {
        "Fn::Join": [":", [function_arn("Snappy"), "snapstart"]]
    }


@pytest.mark.parametrize(
    ("project", "where", "message"),
    [
        (
            "ev-schedule-name-with-two-rates",
            "13:17: functions.tick.events[0].schedule.name",
            "name needs a single rate expression",
        ),
        (
            "ev-schedule-two-inputs",
            "13:22: functions.tick.events[0].schedule.inputPath",
            "set one of input, inputPath and inputTransformer, not input and inputPath",
        ),
        (
            "ev-schedule-timezone-without-scheduler",
            "11:21: functions.tick.events[0].schedule.timezone",
            "timezone needs method: scheduler",
        ),
        (
            "ev-schedule-input-not-json",
            "11:18: functions.tick.events[0].schedule.input",
            "input must be JSON text (or a mapping); for plain text, quote it as a JSON string",
        ),
        (
            "ev-eventbridge-schedule-on-custom-bus",
            "10:21: functions.handle.events[0].eventBridge.eventBus",
            "scheduled rules are supported only on the default event bus (EventBridge User "
            "Guide, creating a rule that runs on a schedule); remove eventBus",
        ),
        (
            "ev-eventbridge-without-pattern",
            "10:11: functions.handle.events[0].eventBridge",
            "an eventBridge event needs a pattern or a schedule",
        ),
        (
            "ev-eventbridge-retry-policy-range",
            "13:30: functions.handle.events[0].eventBridge.retryPolicy.maximumEventAge",
            "expected an integer from 60 to 86400, got 172800",
        ),
    ],
)
def test_mistakes_are_located(
    only_problem: OnlyProblem, project: str, where: str, message: str
) -> None:
    assert str(only_problem(project)).endswith(f"{project}/serverless.yml:{where}: {message}")

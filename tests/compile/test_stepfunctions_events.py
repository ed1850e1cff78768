"""Events that start a state machine: schedules (EventBridge rules and Scheduler schedules),
eventBridge and cloudwatchEvent rules, and the roles they assume."""

from __future__ import annotations

from typing import Any

from conftest import Compile, OnlyProblem


def test_schedules(compile_project: Compile) -> None:
    resources = compile_project("sm-schedules")["Resources"]
    machine = {"Ref": "NightlyDashreportStepFunctionsStateMachine"}
    role = {"Fn::GetAtt": ["NightlyDashreportScheduleToStepFunctionsRole", "Arn"]}
    target_id = "nightly-reportStepFunctionsSchedule"

    def rule(number: int) -> dict[str, Any]:
        found = resources[f"NightlyDashreportStepFunctionsEventsRuleSchedule{number}"]
        assert found["Type"] == "AWS::Events::Rule"
        properties: dict[str, Any] = found["Properties"]
        return properties

    assert rule(1) == {
        "ScheduleExpression": "rate(1 hour)",
        "State": "ENABLED",
        "Targets": [{"Arn": machine, "Id": target_id, "RoleArn": role}],
    }
    assert rule(2) == {
        "ScheduleExpression": "cron(0 2 * * ? *)",
        "State": "ENABLED",
        "Name": "schedules-nightly",
        "Description": "Every night at two",
        "Targets": [
            {"Arn": machine, "Id": target_id, "Input": '{"kind":"nightly"}', "RoleArn": role}
        ],
    }
    # Two expressions in one schedule: one rule each.
    for number, expression in ((3, "rate(5 minutes)"), (4, "rate(7 minutes)")):
        assert rule(number) == {
            "ScheduleExpression": expression,
            "State": "DISABLED",
            "Targets": [
                {"Arn": machine, "Id": target_id, "InputPath": "$.detail", "RoleArn": role}
            ],
        }
    assert rule(5)["Targets"][0]["RoleArn"] == "arn:aws:iam::123456789012:role/own-events-role"
    schedule = resources["NightlyDashreportStepFunctionsSchedulerSchedule6"]
    assert schedule == {
        "Type": "AWS::Scheduler::Schedule",
        "Properties": {
            "ScheduleExpression": "cron(0 8 ? * MON-FRI *)",
            "State": "ENABLED",
            "FlexibleTimeWindow": {"Mode": "OFF"},
            "ScheduleExpressionTimezone": "Europe/Paris",
            "Target": {"Arn": machine, "RoleArn": role, "Input": '{"kind": "morning"}'},
        },
    }
    start_role = resources["NightlyDashreportScheduleToStepFunctionsRole"]["Properties"]
    assert start_role["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {
        "Service": ["events.amazonaws.com", "scheduler.amazonaws.com"]
    }
    assert start_role["Policies"] == [
        {
            "PolicyName": "dev-eu-west-1-schedules-nightly-report-schedule",
            "PolicyDocument": {
                "Version": "2012-10-17",
                "Statement": [
                    {"Effect": "Allow", "Action": ["states:StartExecution"], "Resource": machine}
                ],
            },
        }
    ]


def test_event_rules(compile_project: Compile) -> None:
    resources = compile_project("sm-event-rules")["Resources"]
    machine = {"Ref": "OnDashuploadStepFunctionsStateMachine"}
    assert resources["OnDashuploadEventsRuleCloudWatchEvent1"]["Properties"] == {
        "EventBusName": "uploads",
        "EventPattern": {"source": ["aws.s3"], "detail-type": ["Object Created"]},
        "State": "ENABLED",
        "Targets": [
            {
                "Arn": machine,
                "Id": "on-uploadCloudWatchEvent",
                "InputTransformer": {
                    "InputPathsMap": {"key": "$.detail.object.key"},
                    "InputTemplate": '{"key": <key>}',
                },
                "RetryPolicy": {"MaximumEventAgeInSeconds": 3600, "MaximumRetryAttempts": 5},
                "RoleArn": {"Fn::GetAtt": ["OnDashuploadEventToStepFunctionsRole", "Arn"]},
            }
        ],
    }
    assert resources["OnDashuploadEventsRuleCloudWatchEvent2"]["Properties"] == {
        "EventPattern": {"source": ["aws.s3"], "detail-type": ["Object Deleted"]},
        "State": "DISABLED",
        "Name": "eventrules-deleted",
        "Targets": [
            {
                "Arn": machine,
                "Id": "on-uploadCloudWatchEvent",
                "Input": '{"kind":"deleted"}',
                "RoleArn": "arn:aws:iam::123456789012:role/own-events-role",
            }
        ],
    }
    role = resources["OnDashuploadEventToStepFunctionsRole"]["Properties"]
    assert role["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {
        "Service": "events.amazonaws.com"
    }
    assert role["Policies"][0]["PolicyName"] == "dev-eu-west-1-eventrules-on-upload-event"


def test_input_that_is_not_json_is_an_error(only_problem: OnlyProblem) -> None:
    problem = only_problem("sm-schedule-input-not-json")
    assert problem.path == (
        "stepFunctions",
        "stateMachines",
        "nightly",
        "events",
        0,
        "schedule",
        "input",
    )
    assert problem.location is not None and problem.location.line == 19


def test_unknown_event_rule_key_is_an_error(only_problem: OnlyProblem) -> None:
    problem = only_problem("sm-event-rule-unknown-key")
    assert problem.path == (
        "stepFunctions",
        "stateMachines",
        "on-upload",
        "events",
        0,
        "eventBridge",
        "pattern",
    )
    assert problem.message.startswith("unknown key 'pattern'")

"""Settings the model gained for the compiler, each compiled from a fixture project: a
function's ``versionFunction``, destinations as ``{type, arn}``, S3 rules holding
CloudFormation functions, percentile statistics and plain-function topics of the aws-alerts
plugin, state machine alarms' ``period`` and ``logicalId``, and ``Wait.Seconds: !Ref``."""

from __future__ import annotations

import json

from conftest import Compile, OnlyProblem, resources_of_type, role_statements


def located(only_problem: OnlyProblem, project: str) -> str:
    """The one problem of ``project`` from its line and column on."""
    return str(only_problem(project)).split(f"{project}/serverless.yml:", 1)[1]


# --- versionFunction --------------------------------------------------------------------------


def test_version_function_publishes_over_an_unversioned_provider(compile_project: Compile) -> None:
    versions = resources_of_type(compile_project("fn-version-function"), "AWS::Lambda::Version")
    (logical_id,) = versions
    assert logical_id.startswith("PinnedLambdaVersion")
    assert versions[logical_id]["DeletionPolicy"] == "Retain"
    assert versions[logical_id]["Properties"]["FunctionName"] == {"Ref": "PinnedLambdaFunction"}


def test_version_function_false_publishes_nothing(compile_project: Compile) -> None:
    template = compile_project("fn-version-function-off")
    (logical_id,) = resources_of_type(template, "AWS::Lambda::Version")
    assert logical_id.startswith("KeptLambdaVersion")
    assert "LooseLambdaFunctionQualifiedArn" not in template["Outputs"]
    assert "KeptLambdaFunctionQualifiedArn" in template["Outputs"]


# --- destinations as {type, arn} --------------------------------------------------------------


def test_typed_destinations_pick_the_action_from_the_type(compile_project: Compile) -> None:
    template = compile_project("fn-typed-destinations")
    resources = template["Resources"]
    assert resources["ProducerLambdaEvConf"]["Properties"]["DestinationConfig"] == {
        "OnSuccess": {"Destination": {"Fn::ImportValue": "shared-queue-arn"}},
        "OnFailure": {"Destination": {"Fn::GetAtt": ["FailureBus", "Arn"]}},
    }
    assert resources["NotifierLambdaEvConf"]["Properties"]["DestinationConfig"] == {
        "OnSuccess": {"Destination": {"Fn::ImportValue": "shared-function-arn"}},
        "OnFailure": {"Destination": {"Ref": "FailureTopic"}},
    }
    granted = role_statements(template)
    # An ImportValue shows no kind: the type alone decides, and only its action is granted.
    for action, resource in (
        ("sqs:SendMessage", {"Fn::ImportValue": "shared-queue-arn"}),
        ("events:PutEvents", {"Fn::GetAtt": ["FailureBus", "Arn"]}),
        ("lambda:InvokeFunction", {"Fn::ImportValue": "shared-function-arn"}),
        ("sns:Publish", {"Ref": "FailureTopic"}),
    ):
        assert {"Effect": "Allow", "Action": [action], "Resource": [resource]} in granted
    imported = [s for s in granted if {"Fn::ImportValue": "shared-queue-arn"} in s["Resource"]]
    assert [s["Action"] for s in imported] == [["sqs:SendMessage"]]


def test_a_typed_destination_must_match_its_arn(only_problem: OnlyProblem) -> None:
    assert located(only_problem, "fn-typed-destination-mismatch") == (
        "15:15: functions.worker.destinations.onFailure.type: type sns does not match the arn, "
        "which names an SQS queue"
    )


# --- S3 rules ---------------------------------------------------------------------------------


def test_s3_rules_take_cloudformation_functions(compile_project: Compile) -> None:
    resources = compile_project("ev-s3-rule-functions")["Resources"]
    configurations = resources["S3BucketS3rulesdevuploads"]["Properties"][
        "NotificationConfiguration"
    ]["LambdaConfigurations"]
    # Prefixes known only when deployed are not judged to overlap here: S3 judges them.
    assert [c["Filter"]["S3Key"]["Rules"] for c in configurations] == [
        [
            {"Name": "prefix", "Value": {"Ref": "IncomingPrefix"}},
            {"Name": "suffix", "Value": ".zip"},
        ],
        [{"Name": "prefix", "Value": {"Ref": "ArchivePrefix"}}],
    ]
    assert resources["WatchCustomS31"]["Properties"]["BucketConfigs"] == [
        {"Event": "s3:ObjectCreated:*", "Rules": [{"Prefix": {"Ref": "IncomingPrefix"}}]}
    ]


# --- serverless-plugin-aws-alerts -------------------------------------------------------------


def test_percentile_statistics_are_extended_statistics(compile_project: Compile) -> None:
    alarms = resources_of_type(compile_project("alerts-percentiles"), "AWS::CloudWatch::Alarm")
    slow = alarms["WorkerSlowInvocationsAlarm"]["Properties"]
    assert (slow["ExtendedStatistic"], slow["EvaluateLowSampleCountPercentile"]) == (
        "p99.9",
        "ignore",
    )
    assert "Statistic" not in slow
    # An inline override of a default: its percentile replaces the default's Average.
    duration = alarms["WorkerFunctionDurationAlarm"]["Properties"]
    assert duration["ExtendedStatistic"] == "p50" and "Statistic" not in duration


def test_topics_given_as_plain_functions(compile_project: Compile) -> None:
    template = compile_project("alerts-percentiles")
    assert resources_of_type(template, "AWS::SNS::Topic").keys() == {"OkTopic"}  # none created
    for alarm in resources_of_type(template, "AWS::CloudWatch::Alarm").values():
        assert alarm["Properties"]["AlarmActions"] == [
            {"Fn::ImportValue": "monitoring-alarm-topic"}
        ]
        assert alarm["Properties"]["OKActions"] == [{"Ref": "OkTopic"}]


# --- serverless-step-functions ----------------------------------------------------------------


def test_state_machine_alarm_period_and_logical_id(compile_project: Compile) -> None:
    alarms = resources_of_type(compile_project("sm-alarm-settings"), "AWS::CloudWatch::Alarm")
    assert sorted(alarms) == [
        "FlowFailuresAlarm",
        "FlowStepFunctionsStateMachineExecutionsTimedOutAlarm",
    ]
    timed_out = alarms["FlowStepFunctionsStateMachineExecutionsTimedOutAlarm"]["Properties"]
    assert timed_out["Period"] == 120  # the alarms' period
    failed = alarms["FlowFailuresAlarm"]["Properties"]
    assert (failed["MetricName"], failed["Period"]) == ("ExecutionsFailed", 300)


def test_a_taken_alarm_logical_id_is_an_error(only_problem: OnlyProblem) -> None:
    assert located(only_problem, "sm-alarm-logical-id-taken") == (
        "23:24: stepFunctions.stateMachines.flow.alarms.metrics[1].logicalId: the logical ID "
        "FlowAlarm is already taken by another resource; give this alarm another logicalId"
    )


def test_wait_seconds_from_a_function(compile_project: Compile) -> None:
    machine = compile_project("sm-wait-seconds-ref")["Resources"]["FlowStepFunctionsStateMachine"]
    text, variables = machine["Properties"]["DefinitionString"]["Fn::Sub"]
    assert variables == {"Seconds1": {"Ref": "PauseSeconds"}}
    assert '"Seconds": ${Seconds1},' in text
    substituted = json.loads(text.replace("${Seconds1}", "30"))
    assert substituted["States"]["Pause"]["Seconds"] == 30

"""State machines (serverless-step-functions): logical IDs, definitions with their Fn::Sub
substitutions, derived roles, logging, alarms, events and activities, resource by resource."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from conftest import (
    DENY_ALL,
    LOG_DELIVERY,
    PROJECTS,
    Compile,
    OnlyProblem,
    Template,
    artifacts_for,
    function_arn,
    invoke,
    resources_of_type,
    role_statements,
)

from basegear.compile import compile_service, to_json
from basegear.compile.context import Context
from basegear.compile.stepfunctions import definition_string
from basegear.config.service import load_service
from basegear.config.variables import Options

STATES_ROLE = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"Service": "states.amazonaws.com"},
            "Action": "sts:AssumeRole",
        }
    ],
}

# --- the algorithms example ---------------------------------------------------------------


def test_example_state_machine(example: Template, example_stage: str) -> None:
    machine = example["Resources"]["PackageDeleteStateMachine"]
    assert machine["Type"] == "AWS::StepFunctions::StateMachine"
    assert machine["DependsOn"] == ["PackageDeleteStateMachineRole"]
    assert "DeletionPolicy" not in machine  # retain: false
    properties = machine["Properties"]
    assert properties["StateMachineName"] == f"PackageDelete-{example_stage}"
    assert properties["StateMachineType"] == "STANDARD"
    assert properties["RoleArn"] == {"Fn::GetAtt": ["PackageDeleteStateMachineRole", "Arn"]}
    assert properties["LoggingConfiguration"] == {
        "Level": "ERROR",
        "IncludeExecutionData": True,
        "Destinations": [
            {
                "CloudWatchLogsLogGroup": {
                    "LogGroupArn": {"Fn::GetAtt": ["PackageDeleteLogGroup", "Arn"]}
                }
            }
        ],
    }
    assert properties["Tags"] == [
        {"Key": "service", "Value": "algorithms"},
        {"Key": "stage", "Value": example_stage},
        {"Key": "owner", "Value": "algorithms-team"},
    ]


def test_example_definition_substitutes_the_functions(example: Template) -> None:
    definition = example["Resources"]["PackageDeleteStateMachine"]["Properties"]["DefinitionString"]
    # Only Fn::GetAtt inside: written in place, no variable map needed.
    assert list(definition) == ["Fn::Sub"]
    text = definition["Fn::Sub"]
    assert isinstance(text, str)
    parsed = json.loads(text)
    states = parsed["States"]
    assert states["DeletePackage"]["Resource"] == "${PackageDashdeleteLambdaFunction.Arn}"
    assert states["CheckPackageStatus"]["Resource"] == "${PackageDashstatusLambdaFunction.Arn}"
    assert states["WaitForDeletion"] == {
        "Type": "Wait",
        "Seconds": 5,
        "Next": "CheckPackageStatus",
    }
    assert parsed["TimeoutSeconds"] == 900
    assert text.count("${") == 2  # nothing else is substituted


def test_example_role_invokes_exactly_its_two_functions_and_delivers_logs(
    example: Template, example_stage: str
) -> None:
    role = example["Resources"]["PackageDeleteStateMachineRole"]
    assert role["Properties"]["AssumeRolePolicyDocument"] == STATES_ROLE
    policy_name = role["Properties"]["Policies"][0]["PolicyName"]
    assert policy_name == f"{example_stage}-algorithms-statemachine"
    delete = function_arn("PackageDashdelete")
    status = function_arn("PackageDashstatus")
    assert role_statements(example, "PackageDeleteStateMachineRole") == [
        {
            "Effect": "Allow",
            "Action": ["lambda:InvokeFunction"],
            "Resource": [*invoke(delete), *invoke(status)],
        },
        {"Effect": "Allow", "Action": LOG_DELIVERY, "Resource": "*"},
    ]


def test_example_state_machine_alarms(example: Template, example_stage: str) -> None:
    resources = example["Resources"]
    name = f"PackageDelete-{example_stage}"
    expected = {
        "ExecutionsTimedOut": "executions timed out",
        "ExecutionsFailed": "executions failed",
        "ExecutionsAborted": "executions were aborted",
        "ExecutionThrottled": "executions were throttled",
    }
    alarms = {
        logical_id: resource
        for logical_id, resource in resources.items()
        if logical_id.startswith("PackageDeleteStateMachine") and logical_id.endswith("Alarm")
    }
    assert sorted(alarms) == sorted(f"PackageDeleteStateMachine{m}Alarm" for m in expected)
    topic_prefix = "arn:aws:sns:${AWS::Region}:${AWS::AccountId}"
    for metric, description in expected.items():
        alarm = alarms[f"PackageDeleteStateMachine{metric}Alarm"]
        assert alarm["Type"] == "AWS::CloudWatch::Alarm"
        assert alarm["Properties"] == {
            "Namespace": "AWS/States",
            "MetricName": metric,
            "AlarmDescription": f"{name}[{example_stage}][eu-west-1]: {description}",
            "Threshold": 1,
            "Period": 60,
            "EvaluationPeriods": 1,
            "ComparisonOperator": "GreaterThanOrEqualToThreshold",
            "Statistic": "Sum",
            "OKActions": [],
            # The topic ARN's #{AWS::Region} became Fn::Sub (serverless-pseudo-parameters).
            "AlarmActions": [{"Fn::Sub": f"{topic_prefix}:algorithms-{example_stage}-alerts"}],
            "InsufficientDataActions": [],
            "TreatMissingData": "notBreaching",
            "Dimensions": [
                {"Name": "StateMachineArn", "Value": {"Ref": "PackageDeleteStateMachine"}}
            ],
        }


def test_example_state_machine_output(example: Template, example_stage: str) -> None:
    assert example["Outputs"]["PackageDeleteStateMachineArn"] == {
        "Value": {"Ref": "PackageDeleteStateMachine"},
        "Description": "Current StateMachine Arn",
        "Export": {"Name": f"sls-algorithms-{example_stage}-PackageDeleteStateMachineArn"},
    }


def test_example_http_event_is_compiled_by_the_api(example: Template) -> None:
    methods = [
        resource
        for resource in resources_of_type(example, "AWS::ApiGateway::Method").values()
        if resource["Properties"].get("HttpMethod") == "DELETE"
    ]
    assert len(methods) == 1


# --- names, definitions and substitutions ---------------------------------------------------


def test_minimal_machine(compile_project: Compile) -> None:
    template = compile_project("sm-minimal")
    machine = template["Resources"]["HelloDashworldStepFunctionsStateMachine"]
    assert machine["DependsOn"] == ["HelloDashworldStepFunctionsStateMachineRole"]
    properties = machine["Properties"]
    assert "StateMachineName" not in properties  # CloudFormation names it
    assert properties["StateMachineType"] == "EXPRESS"
    # No intrinsic inside: the definition is plain JSON text.
    assert json.loads(properties["DefinitionString"]) == {
        "Comment": "Says hello",
        "StartAt": "Hello",
        "States": {"Hello": {"Type": "Pass", "Result": "hello", "End": True}},
    }
    # The machine's own tag wins over the provider's; a number becomes text.
    assert properties["Tags"] == [
        {"Key": "team", "Value": "flows"},
        {"Key": "cost-center", "Value": "42"},
    ]
    # No Task: like the Step Functions console, a role that may do nothing.
    assert role_statements(template, "HelloDashworldStepFunctionsStateMachineRole") == DENY_ALL
    assert template["Outputs"]["HelloDashworldStepFunctionsStateMachineArn"] == {
        "Value": {"Ref": "HelloDashworldStepFunctionsStateMachine"},
        "Description": "Current StateMachine Arn",
        "Export": {"Name": "sls-minimal-dev-HelloDashworldStepFunctionsStateMachineArn"},
    }


def test_definition_substitutions(compile_project: Compile) -> None:
    template = compile_project("sm-substitutions")
    # The name gives the logical ID: subs-dev-flow → SubsDashdevDashflow.
    properties = template["Resources"]["SubsDashdevDashflow"]["Properties"]
    assert properties["StateMachineName"] == "subs-dev-flow"
    text, variables = properties["DefinitionString"]["Fn::Sub"]
    assert variables == {
        "ImportValue1": {"Fn::ImportValue": "shared-subject"},
        "Join1": {"Fn::Join": ["-", ["a", {"Ref": "AWS::StackName"}]]},
    }
    states = json.loads(text)["States"]
    assert states["Notify"]["Parameters"] == {
        "TopicArn": "${Topic}",
        # Literal text: escaped, so that CloudFormation leaves it as it is.
        "Message": "literal ${!notAVariable} stays text",
        "Subject": "${ImportValue1}",
    }
    # The function key `worker` in Fn::GetAtt is translated to its logical ID.
    assert states["Work"]["Resource"] == "${WorkerLambdaFunction.Arn}"
    assert states["Work"]["Parameters"] == {
        "queue": "${Queue.Arn}",
        "region": "${AWS::Region}",  # from #{AWS::Region}
        "bucket": "arn:${AWS::Partition}:s3:::subs-${AWS::AccountId}",  # the !Sub, inlined
        "joined": "${Join1}",
    }


def test_definition_without_intrinsics_is_left_to_pseudo_parameters(
    compile_project: Compile,
) -> None:
    template = compile_project("sm-pseudo-only")
    definition = template["Resources"]["RelayStepFunctionsStateMachine"]["Properties"][
        "DefinitionString"
    ]
    parameters = json.loads(definition["Fn::Sub"])["States"]["Relay"]["Parameters"]
    assert parameters == {
        "FunctionName": "arn:aws:lambda:${AWS::Region}:${AWS::AccountId}:function:relay",
        "Payload": {"note": "costs ${!price}"},
    }
    assert role_statements(template, "RelayStepFunctionsStateMachineRole") == [
        {
            "Effect": "Allow",
            "Action": ["lambda:InvokeFunction"],
            "Resource": [
                {"Fn::Sub": "arn:aws:lambda:${AWS::Region}:${AWS::AccountId}:function:relay"},
                {"Fn::Sub": "arn:aws:lambda:${AWS::Region}:${AWS::AccountId}:function:relay:*"},
            ],
        }
    ]


def test_an_intrinsic_number_field_stays_a_number(tmp_path: Path) -> None:
    """``Seconds: !Ref PauseSeconds`` must reach Step Functions as a number, not a string."""
    loaded = load_service(PROJECTS / "sm-substitutions", Options(stage="dev"), environ={})
    context = Context(loaded, artifacts_for(loaded, tmp_path))
    machine = loaded.model.step_functions.state_machines["flow"]  # type: ignore[union-attr]
    pause = {"Ref": "PauseSeconds"}
    waiting = machine.model_copy(
        update={
            "definition": {
                "StartAt": "Pause",
                "States": {
                    "Pause": {"Type": "Wait", "Seconds": pause, "Next": "Work"},
                    "Work": {
                        "Type": "Task",
                        "Resource": "arn:aws:states:::sns:publish",
                        "Parameters": {"TopicArn": "arn:aws:sns:eu-west-1:1:t", "Seconds": pause},
                        "TimeoutSeconds": pause,
                        "End": True,
                    },
                },
            }
        }
    )
    text, variables = definition_string(context, waiting)["Fn::Sub"]
    assert variables == {"Seconds1": pause, "TimeoutSeconds1": pause}
    assert '"Seconds": ${Seconds1},' in text
    assert '"TimeoutSeconds": ${TimeoutSeconds1},' in text
    # Inside Parameters it is the state's own data: a string like any other.
    assert '"Seconds": "${PauseSeconds}"' in text


def test_exact_version_calls_the_current_version(compile_project: Compile) -> None:
    template = compile_project("sm-exact-version")
    versions = list(resources_of_type(template, "AWS::Lambda::Version"))
    assert len(versions) == 1
    definition = template["Resources"]["PinnedStepFunctionsStateMachine"]["Properties"][
        "DefinitionString"
    ]
    assert json.loads(definition["Fn::Sub"])["States"]["Work"]["Resource"] == (
        f"${{{versions[0]}}}"
    )
    # Invoking a version needs the function's `:*` grant, which the role has.
    worker = function_arn("Worker")
    assert role_statements(template, "PinnedStepFunctionsStateMachineRole") == [
        {"Effect": "Allow", "Action": ["lambda:InvokeFunction"], "Resource": invoke(worker)}
    ]


def test_a_name_that_is_no_logical_id_is_an_error(only_problem: OnlyProblem) -> None:
    problem = only_problem("sm-bad-logical-id")
    assert problem.path == ("stepFunctions", "stateMachines", "flow", "name")
    assert "'Badid.flow.v2'" in problem.message
    assert problem.location is not None and problem.location.line == 16


def test_two_machines_with_one_logical_id_is_an_error(only_problem: OnlyProblem) -> None:
    problem = only_problem("sm-duplicate-id")
    assert problem.path == ("stepFunctions", "stateMachines", "second")
    assert "already that of state machine 'first'" in problem.message


# --- roles ---------------------------------------------------------------------------------


def test_given_role_id_retain_and_depends_on(compile_project: Compile) -> None:
    template = compile_project("sm-role-given")
    resources = template["Resources"]
    assert not any(logical_id.startswith("KeptMachineRole") for logical_id in resources)
    assert resources["KeptMachine"] == {
        "Type": "AWS::StepFunctions::StateMachine",
        "DependsOn": ["FlowRole"],
        "DeletionPolicy": "Retain",
        "Properties": {
            "StateMachineName": "rolegiven-kept",
            "StateMachineType": "STANDARD",
            "DefinitionString": json.dumps(
                {"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}}, indent=2
            ),
            "RoleArn": {"Fn::GetAtt": ["FlowRole", "Arn"]},
            "TracingConfiguration": {"Enabled": False},
            # inheritGlobalTags: false and no tags of its own: no Tags at all.
        },
    }
    assert "KeptMachineArn" not in template["Outputs"]  # noOutput


# --- logging, alarms, events, activities ------------------------------------------------------


def test_logging_configuration(compile_project: Compile) -> None:
    template = compile_project("sm-logging")
    properties = template["Resources"]["AuditedStepFunctionsStateMachine"]["Properties"]
    assert properties["LoggingConfiguration"] == {
        "Level": "ALL",
        "IncludeExecutionData": True,
        "Destinations": [
            {"CloudWatchLogsLogGroup": {"LogGroupArn": {"Fn::GetAtt": ["AuditedLogs", "Arn"]}}}
        ],
    }
    assert role_statements(template, "AuditedStepFunctionsStateMachineRole") == [
        {"Effect": "Allow", "Action": LOG_DELIVERY, "Resource": "*"}
    ]


def test_log_level_without_destination_is_an_error(only_problem: OnlyProblem) -> None:
    problem = only_problem("sm-logging-no-destination")
    assert problem.path == ("stepFunctions", "stateMachines", "audited", "loggingConfig")
    assert problem.message == "level ERROR needs a log group in destinations"


def test_alarm_overrides_topics_and_name_template(compile_project: Compile) -> None:
    resources = compile_project("sm-alarms")["Resources"]
    prefix = "SmalarmsDashdevDashnamed"
    insufficient = {"Fn::Sub": "arn:aws:sns:${AWS::Region}:${AWS::AccountId}:smalarms-insufficient"}

    def alarm(metric: str, **changes: Any) -> dict[str, Any]:
        description = {
            "ExecutionsFailed": "executions failed",
            "ExecutionsTimedOut": "executions timed out",
            "ExecutionThrottled": "executions were throttled",
            "ExecutionsSucceeded": "executions succeeded",
        }[metric]
        properties = {
            "Namespace": "AWS/States",
            "MetricName": metric,
            "AlarmDescription": f"smalarms-dev-named[dev][eu-west-1]: {description}",
            "Threshold": 1,
            "Period": 60,
            "EvaluationPeriods": 1,
            "ComparisonOperator": "GreaterThanOrEqualToThreshold",
            "Statistic": "Sum",
            "OKActions": [{"Ref": "AlarmTopic"}],
            "AlarmActions": [{"Ref": "AlarmTopic"}],
            "InsufficientDataActions": [insufficient],
            "TreatMissingData": "notBreaching",
            "Dimensions": [{"Name": "StateMachineArn", "Value": {"Ref": prefix}}],
        }
        properties.update(changes)
        return {"Type": "AWS::CloudWatch::Alarm", "Properties": properties}

    assert resources[f"{prefix}ExecutionsFailedAlarm"] == alarm(
        "ExecutionsFailed", AlarmName="smalarms-dev-named-ExecutionsFailed-executionsFailed"
    )
    assert resources[f"{prefix}ExecutionsTimedOutAlarm"] == alarm(
        "ExecutionsTimedOut",
        Threshold=3,
        Period=300,
        EvaluationPeriods=2,
        DatapointsToAlarm=2,
        TreatMissingData="breaching",
        AlarmName="smalarms-dev-named-ExecutionsTimedOut-executionsTimedOut",
    )
    throttled = alarm(
        "ExecutionThrottled",
        ComparisonOperator="GreaterThanThreshold",
        ExtendedStatistic="p99",  # a percentile is an extended statistic
        AlarmName="smalarms-dev-named-ExecutionThrottled-executionThrottled",
    )
    del throttled["Properties"]["Statistic"]
    assert resources[f"{prefix}ExecutionThrottledAlarm"] == throttled
    assert resources[f"{prefix}ExecutionsSucceededAlarm"] == alarm(
        "ExecutionsSucceeded", AlarmName="smalarms-dev-successes"
    )
    # Without `name`, $[stateMachineName] is the name CloudFormation generates.
    unnamed = resources["UnnamedStepFunctionsStateMachineExecutionsAbortedAlarm"]["Properties"]
    assert unnamed["AlarmName"] == {
        "Fn::Sub": [
            "${MachineName}-executionsAborted",
            {"MachineName": {"Fn::GetAtt": ["UnnamedStepFunctionsStateMachine", "Name"]}},
        ]
    }
    assert unnamed["OKActions"] == [] and unnamed["InsufficientDataActions"] == []
    assert unnamed["TreatMissingData"] == "missing"
    assert unnamed["AlarmDescription"] == "unnamed[dev][eu-west-1]: executions were aborted"


def test_unknown_alarm_name_placeholder_is_an_error(only_problem: OnlyProblem) -> None:
    problem = only_problem("sm-alarms-bad-template")
    assert problem.path == ("stepFunctions", "stateMachines", "flow", "alarms", "metrics", 0)
    assert "$[stage]" in problem.message


def test_activities(compile_project: Compile) -> None:
    template = compile_project("sm-activities")
    assert template["Resources"]["ManualDashreviewStepFunctionsActivity"] == {
        "Type": "AWS::StepFunctions::Activity",
        "Properties": {"Name": "manual-review"},
    }
    assert template["Outputs"]["ManualDashreviewStepFunctionsActivityArn"]["Value"] == {
        "Ref": "ManualDashreviewStepFunctionsActivity"
    }
    # A Task on an activity is worked by the activity's poller: no permission is needed.
    assert role_statements(template, "ReviewStepFunctionsStateMachineRole") == DENY_ALL
    definition = template["Resources"]["ReviewStepFunctionsStateMachine"]["Properties"][
        "DefinitionString"
    ]
    assert json.loads(definition["Fn::Sub"])["States"]["Review"]["Resource"] == (
        "${ManualDashreviewStepFunctionsActivity}"
    )


def test_notifications_are_refused_not_dropped(only_problem: OnlyProblem) -> None:
    problem = only_problem("sm-notifications")
    assert problem.path == ("stepFunctions", "stateMachines", "flow", "notifications")


# --- every fixture: valid for cfn-lint and deterministic ---------------------------------------


def test_same_input_same_bytes(tmp_path: Path) -> None:
    outputs = []
    for attempt in range(2):
        loaded = load_service(PROJECTS / "sm-iam-services", Options(stage="dev"), environ={})
        artifacts = artifacts_for(loaded, tmp_path / str(attempt))
        outputs.append(to_json(compile_service(loaded, artifacts)))
    assert outputs[0] == outputs[1]

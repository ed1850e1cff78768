"""Dead letters: the queue or topic serverless-plugin-lambda-dead-letter describes (and on
Serverless Framework v3 never creates), ARNs given as they are, onError, each wired into the
function's DeadLetterConfig and granted to the execution role."""

from __future__ import annotations

from typing import Any

import pytest
from conftest import Compile, OnlyProblem, Template, role_statements


@pytest.fixture
def letters(compile_project: Compile) -> Template:
    return compile_project("fn-dead-letters")


def target(template: Template, prefix: str) -> Any:
    properties = template["Resources"][f"{prefix}LambdaFunction"]["Properties"]
    return properties["DeadLetterConfig"]["TargetArn"]


def test_dead_letter_queue_is_created_with_its_properties(letters: Template) -> None:
    assert letters["Resources"]["QueueDashdlqDeadLetterQueue"] == {
        "Type": "AWS::SQS::Queue",
        "Properties": {
            "QueueName": "letters-dev-queue-dlq",
            "DelaySeconds": 10,
            "MaximumMessageSize": 2048,
            "MessageRetentionPeriod": 86400,
            "ReceiveMessageWaitTimeSeconds": 5,
            "VisibilityTimeout": 300,
        },
        # A queue holds messages: protected like every stateful resource.
        "DeletionPolicy": "Retain",
        "UpdateReplacePolicy": "Retain",
    }


def test_dead_letter_queue_is_wired_and_granted(letters: Template) -> None:
    arn = {"Fn::GetAtt": ["QueueDashdlqDeadLetterQueue", "Arn"]}
    assert target(letters, "QueueDashdlq") == arn
    grant = {"Effect": "Allow", "Action": ["sqs:SendMessage"], "Resource": [arn]}
    assert grant in role_statements(letters)
    # The plugin's queue policy open to every principal is not needed: Lambda uses the role.
    assert "QueueDashdlqDeadLetterQueuePolicy" not in letters["Resources"]


def test_a_queue_given_by_name_only(letters: Template) -> None:
    queue = letters["Resources"]["NamedDashqueueDashdlqDeadLetterQueue"]
    assert queue["Properties"] == {"QueueName": "letters-dev-named-dlq"}
    assert target(letters, "NamedDashqueueDashdlq") == {
        "Fn::GetAtt": ["NamedDashqueueDashdlqDeadLetterQueue", "Arn"]
    }


def test_dead_letter_topic_is_created_wired_and_granted(letters: Template) -> None:
    assert letters["Resources"]["TopicDashdlqDeadLetterTopic"] == {
        "Type": "AWS::SNS::Topic",
        "Properties": {"TopicName": "letters-dev-topic-dlq"},
    }
    arn = {"Ref": "TopicDashdlqDeadLetterTopic"}
    assert target(letters, "TopicDashdlq") == arn
    assert {"Effect": "Allow", "Action": ["sns:Publish"], "Resource": [arn]} in role_statements(
        letters
    )


def test_target_arn_is_used_as_given(letters: Template) -> None:
    arn = "arn:aws:sqs:eu-west-1:123456789012:existing-dlq"
    assert target(letters, "ArnDashdlq") == arn
    assert {"Effect": "Allow", "Action": ["sqs:SendMessage"], "Resource": [arn]} in role_statements(
        letters
    )
    assert not any(
        logical_id.startswith("ArnDashdlqDeadLetter") for logical_id in letters["Resources"]
    )


def test_target_arn_of_a_queue_in_resources(letters: Template) -> None:
    arn = {"Fn::GetAtt": ["FailuresQueue", "Arn"]}
    assert target(letters, "ResourceDashdlq") == arn
    assert {"Effect": "Allow", "Action": ["sqs:SendMessage"], "Resource": [arn]} in role_statements(
        letters
    )


def test_on_error_sets_the_dead_letter_config(letters: Template) -> None:
    arn = "arn:aws:sns:eu-west-1:123456789012:failures"
    assert target(letters, "OnDasherror") == arn
    assert {"Effect": "Allow", "Action": ["sns:Publish"], "Resource": [arn]} in role_statements(
        letters
    )


def test_no_grant_when_the_function_has_its_own_role(compile_project: Compile) -> None:
    template = compile_project("fn-own-roles")
    resources = template["Resources"]
    assert resources["FirstLambdaFunction"]["Properties"]["DeadLetterConfig"] == {
        "TargetArn": {"Fn::GetAtt": ["FirstDeadLetterQueue", "Arn"]}
    }
    assert "IamRoleLambdaExecution" not in resources


@pytest.mark.parametrize(
    ("project", "where", "message"),
    [
        (
            "fn-dead-letter-and-on-error",
            "10:14: functions.worker.onError",
            "a function has one dead-letter target: set onError or deadLetter, not both",
        ),
        (
            "fn-dead-letter-ref-queue",
            "11:18: functions.worker.deadLetter.targetArn",
            "!Ref FailuresQueue is not an ARN; use !GetAtt FailuresQueue.Arn",
        ),
    ],
)
def test_mistakes_are_located(
    project: str, where: str, message: str, only_problem: OnlyProblem
) -> None:
    assert str(only_problem(project)).endswith(f"{project}/serverless.yml:{where}: {message}")

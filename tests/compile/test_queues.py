"""SQS events: one event source mapping per event, with every option and the receive
permissions."""

from __future__ import annotations

import pytest
from conftest import Compile, OnlyProblem, Template, function_arn, role_statements

RECEIVE = ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"]
WORKER = function_arn("Worker")


@pytest.fixture
def every_option(compile_project: Compile) -> Template:
    return compile_project("ev-sqs-every-option")


def test_every_option(every_option: Template) -> None:
    mapping = every_option["Resources"]["WorkerEventSourceMappingSQSJobsQueue"]
    assert mapping == {
        "Type": "AWS::Lambda::EventSourceMapping",
        "DependsOn": ["IamRoleLambdaExecution"],
        "Properties": {
            "BatchSize": 50,
            "MaximumBatchingWindowInSeconds": 10,
            "EventSourceArn": {"Fn::GetAtt": ["JobsQueue", "Arn"]},
            "FunctionName": WORKER,
            "Enabled": False,
            "FunctionResponseTypes": ["ReportBatchItemFailures"],
            "FilterCriteria": {"Filters": [{"Pattern": '{"body":{"kind":["resize"]}}'}]},
            "ScalingConfig": {"MaximumConcurrency": 5},
        },
    }


def test_the_short_form_takes_the_defaults(every_option: Template) -> None:
    mapping = every_option["Resources"]["WorkerEventSourceMappingSQSJobsretries"]
    assert mapping["Properties"] == {
        "BatchSize": 10,
        "EventSourceArn": "arn:aws:sqs:eu-west-1:123456789012:jobs-retries",
        "FunctionName": WORKER,
        "Enabled": True,
    }


def test_an_imported_queue_is_named_after_its_export(every_option: Template) -> None:
    mapping = every_option["Resources"]["WorkerEventSourceMappingSQSSharedOrdersFifoArn"]
    assert mapping["Properties"]["EventSourceArn"] == {"Fn::ImportValue": "shared-OrdersFifoArn"}


def test_the_role_receives_from_every_queue(every_option: Template) -> None:
    statements = [s for s in role_statements(every_option) if s["Action"] == RECEIVE]
    assert [s["Resource"] for s in statements] == [
        [{"Fn::GetAtt": ["JobsQueue", "Arn"]}],
        ["arn:aws:sqs:eu-west-1:123456789012:jobs-retries"],
        [{"Fn::ImportValue": "shared-OrdersFifoArn"}],
    ]


def test_two_events_on_one_queue_make_two_mappings(compile_project: Compile) -> None:
    resources = compile_project("ev-sqs-two-on-one-queue")["Resources"]
    first = resources["WorkerEventSourceMappingSQSJobs"]["Properties"]
    second = resources["WorkerEventSourceMappingSQSJobsMapping2"]["Properties"]
    assert (first["BatchSize"], first["FilterCriteria"]) == (
        5,
        {"Filters": [{"Pattern": '{"body":{"priority":["high"]}}'}]},
    )
    assert "MaximumBatchingWindowInSeconds" not in first
    assert (second["BatchSize"], second["MaximumBatchingWindowInSeconds"]) == (100, 30)
    assert second["FilterCriteria"] == {"Filters": [{"Pattern": '{"body":{"priority":["low"]}}'}]}


def test_alias_targets(compile_project: Compile) -> None:
    mapping = compile_project("ev-alias-targets")["Resources"]["HotEventSourceMappingSQSWarmjobs"]
    assert mapping["DependsOn"] == ["IamRoleLambdaExecution", "HotProvConcLambdaAlias"]
    assert mapping["Properties"]["FunctionName"] == {
        "Fn::Join": [":", [function_arn("Hot"), "provisioned"]]
    }


def test_a_queue_url_is_refused_at_its_line(only_problem: OnlyProblem) -> None:
    assert str(only_problem("ev-sqs-ref-is-a-url")).endswith(
        "ev-sqs-ref-is-a-url/serverless.yml:9:14: functions.worker.events[0].sqs.arn: "
        "!Ref JobsQueue is not an ARN; use !GetAtt JobsQueue.Arn"
    )

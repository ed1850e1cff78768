"""DynamoDB and Kinesis stream events: one event source mapping per event, with every option,
the statements the execution role needs, and located errors."""

from __future__ import annotations

import json
from typing import Any

import pytest
from conftest import (
    Compile,
    OnlyProblem,
    Template,
    function_arn,
    resources_of_type,
    role_statements,
)

ORDERS = "arn:aws:dynamodb:eu-west-1:123456789012:table/orders/stream/2024-01-01T00:00:00.000"
CUSTOMERS = "arn:aws:dynamodb:eu-west-1:123456789012:table/customers/stream/2024-01-01T00:00:00.000"
DYNAMODB_READ = [
    "dynamodb:GetRecords",
    "dynamodb:GetShardIterator",
    "dynamodb:DescribeStream",
    "dynamodb:ListStreams",
]
KINESIS_READ = [
    "kinesis:GetRecords",
    "kinesis:GetShardIterator",
    "kinesis:DescribeStream",
    "kinesis:DescribeStreamSummary",
    "kinesis:ListShards",
    "kinesis:ListStreams",
]


def mappings(template: Template) -> dict[str, Template]:
    return resources_of_type(template, "AWS::Lambda::EventSourceMapping")


def allowed(template: Template, action: str) -> list[Any]:
    """Every resource the execution role may use ``action`` on."""
    return [
        resource
        for statement in role_statements(template)
        if action in statement["Action"]
        for resource in statement["Resource"]
    ]


def test_every_option_of_a_dynamodb_stream(compile_project: Compile) -> None:
    template = compile_project("ev-stream-dynamodb-every-option")
    mapping = mappings(template)["ProcessDashordersEventSourceMappingDynamodbOrdersTable"]
    assert mapping["DependsOn"] == ["IamRoleLambdaExecution"]
    assert mapping["Properties"] == {
        "BatchSize": 100,
        "Enabled": False,
        "EventSourceArn": {"Fn::GetAtt": ["OrdersTable", "StreamArn"]},
        "FunctionName": function_arn("ProcessDashorders"),
        "ParallelizationFactor": 4,
        "StartingPosition": "LATEST",
        "MaximumBatchingWindowInSeconds": 5,
        "MaximumRetryAttempts": 3,
        "BisectBatchOnFunctionError": True,
        "FunctionResponseTypes": ["ReportBatchItemFailures"],
        "MaximumRecordAgeInSeconds": 3600,
        "TumblingWindowInSeconds": 60,
        "DestinationConfig": {
            "OnFailure": {"Destination": {"Fn::GetAtt": ["OrdersFailures", "Arn"]}}
        },
        "FilterCriteria": {
            "Filters": [
                {"Pattern": '{"eventName":["INSERT"]}'},
                {
                    "Pattern": '{"eventName":["MODIFY"],"dynamodb":{"NewImage":'
                    '{"status":{"S":["READY"]}}}}'
                },
            ]
        },
    }


def test_filter_patterns_are_json_text(compile_project: Compile) -> None:
    template = compile_project("ev-stream-dynamodb-every-option")
    (mapping,) = mappings(template).values()
    patterns = [
        json.loads(f["Pattern"]) for f in mapping["Properties"]["FilterCriteria"]["Filters"]
    ]
    assert patterns[1] == {
        "eventName": ["MODIFY"],
        "dynamodb": {"NewImage": {"status": {"S": ["READY"]}}},
    }


def test_role_reads_the_stream_and_sends_to_the_failure_queue(compile_project: Compile) -> None:
    template = compile_project("ev-stream-dynamodb-every-option")
    stream = {"Fn::GetAtt": ["OrdersTable", "StreamArn"]}
    assert {"Effect": "Allow", "Action": DYNAMODB_READ, "Resource": [stream]} in role_statements(
        template
    )
    assert allowed(template, "sqs:SendMessage") == [{"Fn::GetAtt": ["OrdersFailures", "Arn"]}]


def test_two_stream_events_on_one_table_make_two_mappings(compile_project: Compile) -> None:
    found = mappings(compile_project("ev-stream-two-on-one-table"))
    first = found["ProcessEventSourceMappingDynamodbOrders"]["Properties"]
    second = found["ProcessEventSourceMappingDynamodbOrdersMapping2"]["Properties"]
    assert first == {
        "BatchSize": 100,
        "Enabled": True,
        "EventSourceArn": ORDERS,
        "FunctionName": function_arn("Process"),
        "StartingPosition": "LATEST",
        "MaximumBatchingWindowInSeconds": 3,
        "MaximumRetryAttempts": 10,
        "DestinationConfig": {
            "OnFailure": {"Destination": "arn:aws:sqs:eu-west-1:123456789012:process-failures"}
        },
    }
    assert second == {
        "BatchSize": 1,
        "Enabled": True,
        "EventSourceArn": ORDERS,
        "FunctionName": function_arn("Process"),
        "StartingPosition": "TRIM_HORIZON",
        "DestinationConfig": {
            "OnFailure": {"Destination": "arn:aws:sns:eu-west-1:123456789012:process-removals"}
        },
        "FilterCriteria": {"Filters": [{"Pattern": '{"eventName":["REMOVE"]}'}]},
    }


def test_other_tables_and_functions_keep_the_framework_ids(compile_project: Compile) -> None:
    found = mappings(compile_project("ev-stream-two-on-one-table"))
    assert sorted(found) == [
        "AuditEventSourceMappingDynamodbOrders",
        "ProcessEventSourceMappingDynamodbCustomers",
        "ProcessEventSourceMappingDynamodbOrders",
        "ProcessEventSourceMappingDynamodbOrdersMapping2",
    ]
    short_form = found["ProcessEventSourceMappingDynamodbCustomers"]["Properties"]
    assert short_form["EventSourceArn"] == CUSTOMERS
    assert (short_form["BatchSize"], short_form["StartingPosition"]) == (10, "TRIM_HORIZON")


def test_each_destination_gets_its_send_permission(compile_project: Compile) -> None:
    template = compile_project("ev-stream-two-on-one-table")
    assert allowed(template, "sqs:SendMessage") == [
        "arn:aws:sqs:eu-west-1:123456789012:process-failures"
    ]
    assert allowed(template, "sns:Publish") == [
        "arn:aws:sns:eu-west-1:123456789012:process-removals"
    ]
    assert allowed(template, "dynamodb:GetRecords") == [ORDERS, CUSTOMERS]


def test_kinesis_starts_at_a_timestamp(compile_project: Compile) -> None:
    found = mappings(compile_project("ev-stream-kinesis-consumers"))
    clicks = found["CountEventSourceMappingKinesisClicks"]["Properties"]
    assert clicks["StartingPosition"] == "AT_TIMESTAMP"
    assert clicks["StartingPositionTimestamp"] == 1704067200
    assert clicks["BatchSize"] == 500


def test_kinesis_consumers_created_for_each_mapping(compile_project: Compile) -> None:
    template = compile_project("ev-stream-kinesis-consumers")
    resources = template["Resources"]
    stream = {"Fn::GetAtt": ["ViewsStream", "Arn"]}
    assert resources["CountViewsStreamConsumerStreamConsumer"] == {
        "Type": "AWS::Kinesis::StreamConsumer",
        "Properties": {"StreamARN": stream, "ConsumerName": "countViewsStreamConsumer"},
    }
    assert resources["CountViewsStreamConsumer2StreamConsumer"]["Properties"] == {
        "StreamARN": stream,
        "ConsumerName": "countViewsStreamConsumer2",
    }
    first = resources["CountEventSourceMappingKinesisViewsStream"]
    second = resources["CountEventSourceMappingKinesisViewsStreamMapping2"]
    assert first["DependsOn"] == [
        "IamRoleLambdaExecution",
        "CountViewsStreamConsumerStreamConsumer",
    ]
    assert first["Properties"]["EventSourceArn"] == {
        "Ref": "CountViewsStreamConsumerStreamConsumer"
    }
    assert second["Properties"]["EventSourceArn"] == {
        "Ref": "CountViewsStreamConsumer2StreamConsumer"
    }
    assert (second["Properties"]["BatchSize"], second["Properties"]["StartingPosition"]) == (
        1000,
        "TRIM_HORIZON",
    )


def test_an_existing_consumer_is_the_event_source(compile_project: Compile) -> None:
    template = compile_project("ev-stream-kinesis-consumers")
    consumer = "arn:aws:kinesis:eu-west-1:123456789012:stream/searches/consumer/shared:1704067200"
    searches = template["Resources"]["CountEventSourceMappingKinesisSearches"]
    assert searches["Properties"]["EventSourceArn"] == consumer
    assert allowed(template, "kinesis:SubscribeToShard") == [
        {"Ref": "CountViewsStreamConsumerStreamConsumer"},
        {"Ref": "CountViewsStreamConsumer2StreamConsumer"},
        consumer,
    ]
    assert {
        "Effect": "Allow",
        "Action": KINESIS_READ,
        "Resource": ["arn:aws:kinesis:eu-west-1:123456789012:stream/searches"],
    } in role_statements(template)


def test_a_function_with_its_own_role(compile_project: Compile) -> None:
    template = compile_project("ev-stream-own-role")
    found = mappings(template)
    assert found["ReaderEventSourceMappingDynamodbOrders"]["DependsOn"] == ["ReaderRole"]
    assert found["WriterEventSourceMappingDynamodbCustomers"]["DependsOn"] == [
        "IamRoleLambdaExecution"
    ]
    assert allowed(template, "dynamodb:GetRecords") == [CUSTOMERS]  # the writer's only


def test_alias_targets(compile_project: Compile) -> None:
    mapping = mappings(compile_project("ev-alias-targets"))["SnappyEventSourceMappingDynamodbWarm"]
    assert mapping["DependsOn"] == ["IamRoleLambdaExecution", "SnappySnapStartLambdaAlias"]
    assert mapping["Properties"]["FunctionName"] == {
        "Fn::Join": [":", [function_arn("Snappy"), "snapstart"]]
    }


def test_the_example_stream_processor(example: Template, example_stage: str) -> None:
    stream = {"Fn::ImportValue": f"algorithms-static-{example_stage}-UploadsTableStreamArn"}
    logical_id = (
        "StreamDashprocessorEventSourceMappingDynamodb"
        f"Algorithmsstatic{example_stage}UploadsTableStreamArn"
    )
    assert list(mappings(example)) == [logical_id]
    mapping = example["Resources"][logical_id]
    assert mapping["DependsOn"] == ["IamRoleLambdaExecution"]
    assert mapping["Properties"] == {
        "BatchSize": 10 if example_stage == "dev" else 50,
        "Enabled": True,
        "EventSourceArn": stream,
        "FunctionName": function_arn("StreamDashprocessor"),
        "StartingPosition": "LATEST",
        "MaximumBatchingWindowInSeconds": 3,
        "MaximumRetryAttempts": 10,
        "BisectBatchOnFunctionError": True,
        "FunctionResponseTypes": ["ReportBatchItemFailures"],
        "DestinationConfig": {
            "OnFailure": {"Destination": {"Fn::GetAtt": ["StreamFailureQueue", "Arn"]}}
        },
        "FilterCriteria": {
            "Filters": [
                {
                    "Pattern": '{"eventName":["INSERT","MODIFY"],"dynamodb":{"NewImage":'
                    '{"status":{"S":["UPLOADED"]}}}}'
                }
            ]
        },
    }
    assert allowed(example, "dynamodb:GetShardIterator") == [stream]
    assert allowed(example, "sqs:SendMessage")[-1] == {"Fn::GetAtt": ["StreamFailureQueue", "Arn"]}


@pytest.mark.parametrize(
    ("project", "where", "message"),
    [
        (
            "ev-stream-consumer-on-dynamodb",
            "12:21: functions.process.events[0].stream.consumer",
            "consumer (enhanced fan-out) applies to Kinesis streams only",
        ),
        (
            "ev-stream-timestamp-without-at-timestamp",
            "12:38: functions.process.events[0].stream.startingPositionTimestamp",
            "startingPositionTimestamp needs startingPosition: AT_TIMESTAMP",
        ),
        (
            "ev-stream-destination-without-type",
            "13:15: functions.process.events[0].stream.destinations.onFailure",
            "type (sqs or sns) is needed when the on-failure arn is not a literal ARN",
        ),
        (
            "ev-stream-type-mismatch",
            "10:17: functions.process.events[0].stream.type",
            "type is kinesis, but arn is a dynamodb ARN",
        ),
    ],
)
def test_mistakes_are_located(
    only_problem: OnlyProblem, project: str, where: str, message: str
) -> None:
    assert str(only_problem(project)).endswith(f"{project}/serverless.yml:{where}: {message}")

"""The event source mapping actions of the Lambda API (providers/event_source_mappings.py),
through boto3: Lambda API reference, CreateEventSourceMapping, UpdateEventSourceMapping,
DeleteEventSourceMapping, GetEventSourceMapping and ListEventSourceMappings; the defaults and
ranges of shared/reference/aws-semantics.md 1.1."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError
from event_helpers import Cloud, create_function, unique

from basegear.testing import CloudClients

HANDLER = """
def handler(event, context):
    return None
"""


@pytest.fixture
def queue_and_function(local_cloud: CloudClients) -> tuple[str, str]:
    sqs = local_cloud.client("sqs")
    url = sqs.create_queue(QueueName=unique("q"))["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    return arn, create_function(local_cloud.client("lambda"), HANDLER)


def _code(error: pytest.ExceptionInfo[ClientError]) -> str:
    return str(error.value.response["Error"]["Code"])


def test_create_answers_202_creating_then_the_mapping_is_enabled(
    local_cloud: CloudClients, queue_and_function: tuple[str, str]
) -> None:
    # CreateEventSourceMapping: 202 with State "Creating"; SQS defaults BatchSize 10, window 0.
    queue_arn, function_arn = queue_and_function
    client = local_cloud.client("lambda")
    created = client.create_event_source_mapping(
        EventSourceArn=queue_arn, FunctionName=function_arn.split(":")[-1]
    )
    assert created["ResponseMetadata"]["HTTPStatusCode"] == 202
    assert created["State"] == "Creating"
    assert created["BatchSize"] == 10
    assert created["MaximumBatchingWindowInSeconds"] == 0
    assert created["FunctionArn"] == function_arn
    assert created["StateTransitionReason"] == "USER_INITIATED"
    got = client.get_event_source_mapping(UUID=created["UUID"])
    assert got["State"] == "Enabled"
    listed = client.list_event_source_mappings(EventSourceArn=queue_arn)["EventSourceMappings"]
    assert [m["UUID"] for m in listed] == [created["UUID"]]
    assert local_cloud.services is not None
    assert local_cloud.services.mappings.get(created["UUID"]) is not None  # served by pollers


def test_stream_mapping_defaults(local_cloud: CloudClients) -> None:
    # aws-semantics.md 1.1: a DynamoDB mapping reads back -1 for retries and record age,
    # ParallelizationFactor 1, an empty OnFailure and "No records processed".
    dynamodb = local_cloud.client("dynamodb")
    table = dynamodb.create_table(
        TableName=unique("t"),
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
    )["TableDescription"]
    client = local_cloud.client("lambda")
    function_arn = create_function(client, HANDLER)
    created = client.create_event_source_mapping(
        EventSourceArn=table["LatestStreamArn"],
        FunctionName=function_arn,
        StartingPosition="TRIM_HORIZON",
    )
    assert created["BatchSize"] == 100
    assert created["MaximumRetryAttempts"] == -1
    assert created["MaximumRecordAgeInSeconds"] == -1
    assert created["ParallelizationFactor"] == 1
    assert created["BisectBatchOnFunctionError"] is False
    assert created["DestinationConfig"] == {"OnFailure": {}}
    assert created["LastProcessingResult"] == "No records processed"
    client.delete_event_source_mapping(UUID=created["UUID"])


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"BatchSize": 11}, "Maximum batch window in seconds must be greater than 0"),
        ({"BatchSize": 0}, "BatchSize"),
        ({"MaximumBatchingWindowInSeconds": 301}, "MaximumBatchingWindowInSeconds"),
        ({"ScalingConfig": {"MaximumConcurrency": 1}}, "MaximumConcurrency"),
        ({"FilterCriteria": {"Filters": [{"Pattern": "{not json"}]}}, ""),
    ],
)
def test_create_refuses_settings_out_of_range(
    local_cloud: CloudClients,
    queue_and_function: tuple[str, str],
    settings: dict[str, Any],
    message: str,
) -> None:
    # CreateEventSourceMapping, Errors: InvalidParameterValueException (400).
    queue_arn, function_arn = queue_and_function
    unchecked = local_cloud.client("lambda", parameter_validation=False)  # as the API sees it
    with pytest.raises(ClientError) as error:
        unchecked.create_event_source_mapping(
            EventSourceArn=queue_arn, FunctionName=function_arn, **settings
        )
    assert _code(error) == "InvalidParameterValueException"
    assert message in error.value.response["Error"]["Message"]


def test_a_second_mapping_of_the_same_queue_and_function_conflicts(
    local_cloud: CloudClients, queue_and_function: tuple[str, str]
) -> None:
    # CreateEventSourceMapping, Errors: ResourceConflictException (409).
    queue_arn, function_arn = queue_and_function
    client = local_cloud.client("lambda")
    first = client.create_event_source_mapping(EventSourceArn=queue_arn, FunctionName=function_arn)
    with pytest.raises(ClientError) as error:
        client.create_event_source_mapping(EventSourceArn=queue_arn, FunctionName=function_arn)
    assert _code(error) == "ResourceConflictException"
    assert first["UUID"] in error.value.response["Error"]["Message"]


def test_unknown_function_and_queue(
    local_cloud: CloudClients, queue_and_function: tuple[str, str]
) -> None:
    queue_arn, function_arn = queue_and_function
    client = local_cloud.client("lambda")
    with pytest.raises(ClientError) as error:
        client.create_event_source_mapping(EventSourceArn=queue_arn, FunctionName="no-such-fn")
    assert _code(error) == "ResourceNotFoundException"
    with pytest.raises(ClientError) as error:
        client.create_event_source_mapping(
            EventSourceArn=queue_arn.rsplit(":", 1)[0] + ":no-such-queue",
            FunctionName=function_arn,
        )
    assert _code(error) == "InvalidParameterValueException"


def test_update_and_delete(local_cloud: CloudClients, queue_and_function: tuple[str, str]) -> None:
    # UpdateEventSourceMapping and DeleteEventSourceMapping answer 202 with "Updating" and
    # "Deleting"; a deleted mapping is gone (GetEventSourceMapping 404).
    queue_arn, function_arn = queue_and_function
    client = local_cloud.client("lambda")
    mapping_id = client.create_event_source_mapping(
        EventSourceArn=queue_arn, FunctionName=function_arn
    )["UUID"]
    updated = client.update_event_source_mapping(
        UUID=mapping_id, BatchSize=50, MaximumBatchingWindowInSeconds=2, Enabled=False
    )
    assert (updated["State"], updated["BatchSize"]) == ("Updating", 50)
    assert client.get_event_source_mapping(UUID=mapping_id)["State"] == "Disabled"
    with pytest.raises(ClientError) as error:
        client.update_event_source_mapping(UUID=mapping_id, MaximumBatchingWindowInSeconds=0)
    assert _code(error) == "InvalidParameterValueException"
    deleted = client.delete_event_source_mapping(UUID=mapping_id)
    assert deleted["State"] == "Deleting"
    with pytest.raises(ClientError) as error:
        client.get_event_source_mapping(UUID=mapping_id)
    assert _code(error) == "ResourceNotFoundException"
    with pytest.raises(ClientError) as error:
        client.delete_event_source_mapping(UUID=mapping_id)
    assert _code(error) == "ResourceNotFoundException"


def test_gear_events_lists_the_mappings(
    local_cloud: CloudClients,
    queue_and_function: tuple[str, str],
    capsys: pytest.CaptureFixture[str],
) -> None:
    from basegear.cli import main

    queue_arn, function_arn = queue_and_function
    local_cloud.client("lambda").create_event_source_mapping(
        EventSourceArn=queue_arn, FunctionName=function_arn
    )
    assert main(["events", "--endpoint", local_cloud.endpoint_url]) == 0
    out = capsys.readouterr().out
    assert queue_arn.rsplit(":", 1)[-1] in out
    assert function_arn.rsplit(":", 1)[-1] in out
    assert "asynchronous invocation" in out


# A mapping created through the API is durable state like any acknowledged write: it is there,
# unchanged, after the cloud restarts (each cloud a process of its own: moto's state is
# per process).
def test_mappings_created_through_the_api_survive_a_restart(tmp_path: Path) -> None:
    state, log = tmp_path / "state", tmp_path / "cloud.log"
    first = Cloud(state, log)
    try:
        sqs = first.client("sqs")
        url = sqs.create_queue(QueueName="kept")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        function_arn = create_function(first.client("lambda"), HANDLER, name="kept-fn")
        mapping_id = first.client("lambda").create_event_source_mapping(
            EventSourceArn=arn, FunctionName=function_arn, BatchSize=5
        )["UUID"]
    finally:
        first.kill()
    second = Cloud(state, log)
    try:
        got = second.client("lambda").get_event_source_mapping(UUID=mapping_id)
        assert (got["BatchSize"], got["FunctionArn"], got["EventSourceArn"]) == (
            5,
            function_arn,
            arn,
        )
        second.stop()
    finally:
        second.kill()

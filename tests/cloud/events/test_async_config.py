"""What asynchronous invocation is configured with, through boto3 (moto kept right by
basegear/cloud/motoshim/lambda_async_config.py): a function's DeadLetterConfig (Lambda API
reference, CreateFunction and UpdateFunctionConfiguration; Lambda developer guide, "Adding a
dead-letter queue") and its event invoke configurations per version and alias (Lambda API
reference, PutFunctionEventInvokeConfig, UpdateFunctionEventInvokeConfig,
GetFunctionEventInvokeConfig, DeleteFunctionEventInvokeConfig, ListFunctionEventInvokeConfigs;
aws-semantics.md 2.1), also as a CloudFormation stack declares them."""

from __future__ import annotations

import importlib
import json
from typing import Any

import pytest
from botocore.exceptions import ClientError
from event_helpers import create_function, role, unique
from hypothesis import given, settings
from hypothesis import strategies as st

from basegear.cloud.motoshim import lambda_async_config
from basegear.testing import CloudClients

HANDLER = """
def handler(event, context):
    return event
"""
ACCOUNT_REGION = "us-east-1:123456789012"


def _error(raised: pytest.ExceptionInfo[ClientError]) -> tuple[str, str]:
    error = raised.value.response["Error"]
    return str(error["Code"]), str(error["Message"])


@pytest.fixture
def lambdas(local_cloud: CloudClients) -> Any:
    return local_cloud.client("lambda")


@pytest.fixture
def queue_arn(local_cloud: CloudClients) -> str:
    sqs = local_cloud.client("sqs")
    url = sqs.create_queue(QueueName=unique("q"))["QueueUrl"]
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
    arn: str = attributes["Attributes"]["QueueArn"]
    return arn


def test_dead_letter_config_is_kept_and_returned(
    local_cloud: CloudClients, lambdas: Any, queue_arn: str
) -> None:
    # CreateFunction / UpdateFunctionConfiguration, DeadLetterConfig: returned in the
    # configuration as {"TargetArn": …}; an empty TargetArn removes it; a published version
    # keeps the one it was published with ("Adding a dead-letter queue": part of the
    # version-specific configuration).
    name = unique("dlq")
    create_function(lambdas, HANDLER, name=name, DeadLetterConfig={"TargetArn": queue_arn})
    assert lambdas.get_function(FunctionName=name)["Configuration"]["DeadLetterConfig"] == {
        "TargetArn": queue_arn
    }
    version = lambdas.publish_version(FunctionName=name)["Version"]
    topic = local_cloud.client("sns").create_topic(Name=unique("t"))["TopicArn"]
    updated = lambdas.update_function_configuration(
        FunctionName=name, DeadLetterConfig={"TargetArn": topic}
    )
    assert updated["DeadLetterConfig"] == {"TargetArn": topic}
    published = lambdas.get_function_configuration(FunctionName=name, Qualifier=version)
    assert published["DeadLetterConfig"] == {"TargetArn": queue_arn}
    removed = lambdas.update_function_configuration(
        FunctionName=name, DeadLetterConfig={"TargetArn": ""}
    )
    assert "DeadLetterConfig" not in removed
    assert "DeadLetterConfig" not in lambdas.get_function_configuration(FunctionName=name)


def test_each_qualifier_has_its_own_configuration(lambdas: Any, queue_arn: str) -> None:
    # PutFunctionEventInvokeConfig configures "a function, version, or alias"; unqualified is
    # $LATEST; the answer carries the qualified FunctionArn and both destinations.
    arn = create_function(lambdas, HANDLER)
    name = arn.split(":")[-1]
    version = lambdas.publish_version(FunctionName=name)["Version"]
    lambdas.create_alias(FunctionName=name, Name="live", FunctionVersion=version)
    latest = lambdas.put_function_event_invoke_config(FunctionName=name, MaximumRetryAttempts=0)
    assert latest["FunctionArn"] == f"{arn}:$LATEST"
    assert latest["MaximumRetryAttempts"] == 0
    assert "MaximumEventAgeInSeconds" not in latest
    assert latest["DestinationConfig"] == {"OnSuccess": {}, "OnFailure": {}}
    live = lambdas.put_function_event_invoke_config(
        FunctionName=name,
        Qualifier="live",
        MaximumEventAgeInSeconds=3600,
        DestinationConfig={"OnFailure": {"Destination": queue_arn}},
    )
    assert live["FunctionArn"] == f"{arn}:live"
    got = lambdas.get_function_event_invoke_config(FunctionName=f"{name}:live")
    assert got["MaximumEventAgeInSeconds"] == 3600
    assert got["DestinationConfig"] == {"OnSuccess": {}, "OnFailure": {"Destination": queue_arn}}
    assert lambdas.get_function_event_invoke_config(FunctionName=name)["MaximumRetryAttempts"] == 0
    listed = lambdas.list_function_event_invoke_configs(FunctionName=name)
    assert [c["FunctionArn"] for c in listed["FunctionEventInvokeConfigs"]] == [
        f"{arn}:$LATEST",
        f"{arn}:live",
    ]
    lambdas.delete_function_event_invoke_config(FunctionName=name, Qualifier="live")
    with pytest.raises(ClientError) as raised:
        lambdas.get_function_event_invoke_config(FunctionName=name, Qualifier="live")
    assert _error(raised) == (
        "ResourceNotFoundException",
        f"The function {arn}:live doesn't have an EventInvokeConfig",
    )
    assert lambdas.get_function_event_invoke_config(FunctionName=name, Qualifier="$LATEST")


def test_put_overwrites_and_update_keeps_what_it_is_not_given(lambdas: Any) -> None:
    # PutFunctionEventInvokeConfig: "If you exclude any settings, they are removed";
    # UpdateFunctionEventInvokeConfig changes only the settings given (aws-semantics.md 2.1,
    # recorded on AWS) and fails when there is no configuration.
    name = create_function(lambdas, HANDLER).split(":")[-1]
    with pytest.raises(ClientError) as raised:
        lambdas.update_function_event_invoke_config(FunctionName=name, MaximumRetryAttempts=1)
    assert _error(raised)[0] == "ResourceNotFoundException"
    lambdas.put_function_event_invoke_config(
        FunctionName=name, MaximumRetryAttempts=2, MaximumEventAgeInSeconds=60
    )
    lambdas.update_function_event_invoke_config(FunctionName=name, MaximumRetryAttempts=0)
    got = lambdas.get_function_event_invoke_config(FunctionName=name)
    assert (got["MaximumRetryAttempts"], got["MaximumEventAgeInSeconds"]) == (0, 60)
    lambdas.put_function_event_invoke_config(FunctionName=name, MaximumRetryAttempts=1)
    got = lambdas.get_function_event_invoke_config(FunctionName=name)
    assert got["MaximumRetryAttempts"] == 1
    assert "MaximumEventAgeInSeconds" not in got


def test_refused_configurations(lambdas: Any, queue_arn: str) -> None:
    # PutFunctionEventInvokeConfig's errors: at least one setting; destinations of a kind
    # Lambda sends to; not the function itself; an existing version or alias.
    arn = create_function(lambdas, HANDLER)
    name = arn.split(":")[-1]
    cases: list[tuple[dict[str, Any], str, str]] = [
        (
            {},
            "InvalidParameterValueException",
            "You must specify at least one of error handling or destination setting.",
        ),
        (
            {"DestinationConfig": {"OnSuccess": {"Destination": "arn:aws:s3:::bucket"}}},
            "InvalidParameterValueException",
            "The destination ARN arn:aws:s3:::bucket is invalid.",
        ),
        (
            {"DestinationConfig": {"OnFailure": {"Destination": arn}}},
            "InvalidParameterValueException",
            "You can't specify the function as a destination for itself.",
        ),
        (
            {"Qualifier": "nope", "MaximumRetryAttempts": 1},
            "ResourceNotFoundException",
            "",
        ),
    ]
    for request, code, message in cases:
        with pytest.raises(ClientError) as raised:
            lambdas.put_function_event_invoke_config(FunctionName=name, **request)
        assert _error(raised)[0] == code, request
        if message:
            assert _error(raised)[1] == message
    lambdas.put_function_event_invoke_config(
        FunctionName=name, DestinationConfig={"OnFailure": {"Destination": queue_arn}}
    )


def test_list_is_paged(lambdas: Any) -> None:
    # ListFunctionEventInvokeConfigs: MaxItems (1-50) a page, NextMarker while more remain.
    name = create_function(lambdas, HANDLER).split(":")[-1]
    version = lambdas.publish_version(FunctionName=name)["Version"]
    lambdas.create_alias(FunctionName=name, Name="live", FunctionVersion=version)
    for qualifier in ("$LATEST", version, "live"):
        lambdas.put_function_event_invoke_config(
            FunctionName=name, Qualifier=qualifier, MaximumRetryAttempts=1
        )
    first = lambdas.list_function_event_invoke_configs(FunctionName=name, MaxItems=2)
    assert len(first["FunctionEventInvokeConfigs"]) == 2
    rest = lambdas.list_function_event_invoke_configs(
        FunctionName=name, MaxItems=2, Marker=first["NextMarker"]
    )
    assert len(rest["FunctionEventInvokeConfigs"]) == 1
    assert "NextMarker" not in rest
    arns = [c["FunctionArn"] for c in first["FunctionEventInvokeConfigs"]]
    arns += [c["FunctionArn"] for c in rest["FunctionEventInvokeConfigs"]]
    assert [a.rsplit(":", 1)[1] for a in arns] == ["$LATEST", version, "live"]


@pytest.fixture(scope="module")
def unvalidated(local_cloud: CloudClients) -> tuple[Any, str]:
    """A client that sends what it is given (botocore would refuse values under a minimum)
    and a function to configure."""
    client = local_cloud.client("lambda", parameter_validation=False)
    return client, create_function(client, HANDLER).split(":")[-1]


@settings(max_examples=40, deadline=None)
@given(
    retries=st.one_of(st.none(), st.integers(-3, 6)),
    age=st.one_of(st.none(), st.integers(-10, 30000)),
)
def test_ranges_are_checked_by_the_service(
    unvalidated: tuple[Any, str], retries: int | None, age: int | None
) -> None:
    # PutFunctionEventInvokeConfig: MaximumRetryAttempts 0-2, MaximumEventAgeInSeconds
    # 60-21600 (BOTO shapes); anything else is a ValidationException naming the member.
    client, name = unvalidated
    request = {
        key: value
        for key, value in (("MaximumRetryAttempts", retries), ("MaximumEventAgeInSeconds", age))
        if value is not None
    }
    if not request:
        return
    in_range = (retries is None or 0 <= retries <= 2) and (age is None or 60 <= age <= 21600)
    if in_range:
        answer = client.put_function_event_invoke_config(FunctionName=name, **request)
        assert all(answer[key] == value for key, value in request.items())
        return
    with pytest.raises(ClientError) as raised:
        client.put_function_event_invoke_config(FunctionName=name, **request)
    code, message = _error(raised)
    assert code == "ValidationException"
    assert message.startswith("1 validation error detected: Value '")
    assert "maximumRetryAttempts" in message or "maximumEventAgeInSeconds" in message


def test_a_stack_declares_the_dead_letter_queue_and_the_configuration(
    local_cloud: CloudClients, queue_arn: str
) -> None:
    # AWS::Lambda::Function DeadLetterConfig and AWS::Lambda::EventInvokeConfig (CloudFormation
    # user guide) reach the function as the API would set them.
    name = unique("stack-fn")
    template = {
        "Resources": {
            "Function": {
                "Type": "AWS::Lambda::Function",
                "Properties": {
                    "FunctionName": name,
                    "Runtime": "python3.12",
                    "Handler": "index.handler",
                    "Role": role(local_cloud.client("lambda")),
                    "Code": {"ZipFile": "def handler(event, context):\n    return event\n"},
                    "DeadLetterConfig": {"TargetArn": queue_arn},
                },
            },
            "Config": {
                "Type": "AWS::Lambda::EventInvokeConfig",
                "Properties": {
                    "FunctionName": {"Ref": "Function"},
                    "Qualifier": "$LATEST",
                    "MaximumRetryAttempts": 0,
                    "DestinationConfig": {"OnFailure": {"Destination": queue_arn}},
                },
            },
        }
    }
    cfn = local_cloud.client("cloudformation")
    stack = unique("async-stack")
    cfn.create_stack(StackName=stack, TemplateBody=json.dumps(template))
    status = cfn.describe_stacks(StackName=stack)["Stacks"][0]["StackStatus"]
    assert status == "CREATE_COMPLETE"
    lambdas = local_cloud.client("lambda")
    configuration = lambdas.get_function_configuration(FunctionName=name)
    assert configuration["DeadLetterConfig"] == {"TargetArn": queue_arn}
    config = lambdas.get_function_event_invoke_config(FunctionName=name, Qualifier="$LATEST")
    assert config["MaximumRetryAttempts"] == 0
    assert config["DestinationConfig"]["OnFailure"] == {"Destination": queue_arn}
    assert config["FunctionArn"] == f"arn:aws:lambda:{ACCOUNT_REGION}:function:{name}:$LATEST"
    cfn.delete_stack(StackName=stack)


@pytest.mark.parametrize(("owner", "attribute"), lambda_async_config.PATCHED)
def test_moto_still_has_what_is_replaced(owner: str, attribute: str) -> None:
    # A moto upgrade that moves what lambda_async_config.py replaces fails here, by name.
    module_name, _, class_name = owner.rpartition(".")
    assert callable(getattr(getattr(importlib.import_module(module_name), class_name), attribute))
    lambda_async_config.check_moto()

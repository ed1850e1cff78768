"""The Lambda API through the local cloud's gateway, as a user's boto3 code sees it: Invoke's
fast path, versions and aliases paged at 50, weighted aliases, PublishVersion, and a handler
that calls DynamoDB in the same local cloud."""

from __future__ import annotations

import base64
import io
import json
import random
import time
import zipfile
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.config import Config
from lambda_helpers import wait_gone

from basegear.cloud import motoshim
from basegear.cloud.lambdas.runtime import LambdaRuntime
from basegear.cloud.providers.lambda_api import LambdaService
from basegear.cloud.server import LocalCloud

REGION = "eu-west-1"

HANDLER = """
import os, boto3

def handler(event, context):
    return {"version": context.function_version, "event": event}

def fail(event, context):
    raise KeyError("missing")

def store(event, context):
    table = boto3.resource("dynamodb").Table(event["table"])
    table.put_item(Item={"id": event["id"], "by": context.function_name})
    return table.get_item(Key={"id": event["id"]})["Item"]
"""


def zipped(files: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    return buffer.getvalue()


class Env:
    def __init__(self, cloud: LocalCloud, runtime: LambdaRuntime) -> None:
        self.cloud = cloud
        self.runtime = runtime
        self.session = boto3.session.Session(
            aws_access_key_id="test", aws_secret_access_key="test", region_name=REGION
        )
        config = Config(retries={"max_attempts": 0})
        self.client: Any = self.session.client(
            "lambda", endpoint_url=cloud.endpoint_url, config=config
        )
        iam: Any = self.session.client("iam", endpoint_url=cloud.endpoint_url)
        try:
            self.role = iam.get_role(RoleName="lambda")["Role"]["Arn"]
        except iam.exceptions.NoSuchEntityException:
            role = iam.create_role(RoleName="lambda", AssumeRolePolicyDocument="{}")
            self.role = role["Role"]["Arn"]

    def create(self, name: str, handler: str = "handler.handler") -> None:
        self.client.create_function(
            FunctionName=name,
            Runtime="python3.11",
            Role=self.role,
            Handler=handler,
            Code={"ZipFile": zipped({"handler.py": HANDLER})},
        )


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    motoshim.install()
    cloud = LocalCloud(port=0).start()
    service = LambdaService(
        cloud.endpoint_url, cache_dir=tmp_path_factory.mktemp("cache"), rng=random.Random(3)
    )
    service.start()
    for provider in service.providers:
        cloud.add_provider(provider)
    try:
        yield Env(cloud, service.runtime)
    finally:
        for provider in service.providers:
            cloud.remove_provider(provider)
        zygote = service.runtime.zygote_pid
        service.close()
        cloud.stop()
        cloud.reset()
        assert zygote is None or wait_gone(zygote)


def test_invoke_answers_as_aws(env: Env) -> None:
    env.create("api-echo")
    env.create("api-fail", handler="handler.fail")
    ok = env.client.invoke(FunctionName="api-echo", Payload=b'{"k": 1}', LogType="Tail")
    failed = env.client.invoke(FunctionName="api-fail", Payload=b"{}")
    event = env.client.invoke(FunctionName="api-echo", InvocationType="Event", Payload=b"{}")
    dry = env.client.invoke(FunctionName="api-echo", InvocationType="DryRun")

    assert ok["StatusCode"] == 200 and ok["ExecutedVersion"] == "$LATEST"
    assert json.loads(ok["Payload"].read()) == {"version": "$LATEST", "event": {"k": 1}}
    assert "REPORT RequestId" in base64.b64decode(ok["LogResult"]).decode()
    logs: Any = env.session.client("logs", endpoint_url=env.cloud.endpoint_url)
    # Logs reach CloudWatch Logs in batches from the sink's thread; a read delivers them first.
    found = logs.filter_log_events(logGroupName="/aws/lambda/api-echo")["events"]
    assert any("REPORT RequestId" in e["message"] for e in found)
    headers = ok["ResponseMetadata"]["HTTPHeaders"]
    assert headers["x-amzn-requestid"] in base64.b64decode(ok["LogResult"]).decode()
    assert failed["FunctionError"] == "Unhandled"
    assert json.loads(failed["Payload"].read())["errorType"] == "KeyError"
    assert event["StatusCode"] == 202 and dry["StatusCode"] == 204
    with pytest.raises(env.client.exceptions.ResourceNotFoundException):
        env.client.invoke(FunctionName="nowhere", Payload=b"{}")
    with pytest.raises(env.client.exceptions.InvalidRequestContentException):
        env.client.invoke(FunctionName="api-echo", Payload=b"{oops")


def test_logs_and_metrics_can_be_read_right_after_the_invocation(env: Env) -> None:
    """They are delivered in batches, asynchronously as on AWS; a read delivers what is
    queued first, so a user's test reads them at once."""
    env.create("api-observed")
    for n in range(3):
        env.client.invoke(FunctionName="api-observed", Payload=json.dumps({"n": n}))
    cloudwatch: Any = env.session.client("cloudwatch", endpoint_url=env.cloud.endpoint_url)
    points = cloudwatch.get_metric_statistics(
        Namespace="AWS/Lambda",
        MetricName="Invocations",
        Dimensions=[{"Name": "FunctionName", "Value": "api-observed"}],
        StartTime=datetime.now(UTC) - timedelta(minutes=5),
        EndTime=datetime.now(UTC) + timedelta(minutes=5),
        Period=300,
        Statistics=["Sum", "SampleCount"],
    )["Datapoints"]
    assert sum(p["Sum"] for p in points) == 3 and sum(p["SampleCount"] for p in points) == 3
    logs: Any = env.session.client("logs", endpoint_url=env.cloud.endpoint_url)
    events = logs.filter_log_events(logGroupName="/aws/lambda/api-observed")["events"]
    assert sum(e["message"].startswith("REPORT RequestId") for e in events) == 3


def test_throttle_through_the_gateway(env: Env) -> None:
    env.create("api-blocked")
    env.client.put_function_concurrency(FunctionName="api-blocked", ReservedConcurrentExecutions=0)
    with pytest.raises(env.client.exceptions.TooManyRequestsException) as caught:
        env.client.invoke(FunctionName="api-blocked", Payload=b"{}")
    assert caught.value.response["Reason"] == "ReservedFunctionConcurrentInvocationLimitExceeded"
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 429


def test_sixty_five_versions_page_at_fifty(env: Env) -> None:
    env.create("api-versions")
    for number in range(1, 66):
        env.client.update_function_configuration(
            FunctionName="api-versions", Environment={"Variables": {"N": str(number)}}
        )
        assert env.client.publish_version(FunctionName="api-versions")["Version"] == str(number)

    first = env.client.list_versions_by_function(FunctionName="api-versions")
    assert len(first["Versions"]) == 50 and first["Versions"][0]["Version"] == "$LATEST"
    assert first["NextMarker"]
    second = env.client.list_versions_by_function(
        FunctionName="api-versions", Marker=first["NextMarker"], MaxItems=100
    )
    assert len(second["Versions"]) == 16 and "NextMarker" not in second
    paginator = env.client.get_paginator("list_versions_by_function")
    versions = [
        v["Version"]
        for page in paginator.paginate(
            FunctionName="api-versions", PaginationConfig={"PageSize": 7}
        )
        for v in page["Versions"]
    ]
    assert versions == ["$LATEST", *[str(n) for n in range(1, 66)]]


def test_publish_version_returns_the_existing_version_when_nothing_changed(env: Env) -> None:
    env.create("api-publish")
    first = env.client.publish_version(FunctionName="api-publish", Description="first")
    again = env.client.publish_version(FunctionName="api-publish", Description="ignored")
    assert again["Version"] == first["Version"] == "1"
    assert again["Description"] == "first"
    assert again["ResponseMetadata"]["HTTPStatusCode"] == 201
    with pytest.raises(env.client.exceptions.InvalidParameterValueException) as caught:
        env.client.publish_version(FunctionName="api-publish", CodeSha256="stale")
    assert "is different from current CodeSHA256 in $LATEST" in str(caught.value)
    versions = env.client.list_versions_by_function(FunctionName="api-publish")["Versions"]
    assert [v["Version"] for v in versions] == ["$LATEST", "1"]


def test_aliases_page_at_fifty_and_weights_route_invocations(env: Env) -> None:
    env.create("api-alias")
    env.client.publish_version(FunctionName="api-alias")
    env.client.update_function_configuration(FunctionName="api-alias", Timeout=5)
    env.client.publish_version(FunctionName="api-alias")
    for index in range(54):
        env.client.create_alias(FunctionName="api-alias", Name=f"a{index:02d}", FunctionVersion="1")
    env.client.create_alias(
        FunctionName="api-alias",
        Name="prod",
        FunctionVersion="1",
        RoutingConfig={"AdditionalVersionWeights": {"2": 0.25}},
    )
    first = env.client.list_aliases(FunctionName="api-alias")
    assert len(first["Aliases"]) == 50 and first["NextMarker"]
    rest = env.client.list_aliases(FunctionName="api-alias", Marker=first["NextMarker"])
    names = [a["Name"] for a in first["Aliases"] + rest["Aliases"]]
    assert names == sorted(names) and len(names) == 55 and "NextMarker" not in rest
    prod = env.client.get_alias(FunctionName="api-alias", Name="prod")
    assert prod["RoutingConfig"] == {"AdditionalVersionWeights": {"2": 0.25}}

    executed = []
    for _ in range(80):
        response = env.client.invoke(FunctionName="api-alias", Qualifier="prod", Payload=b"{}")
        assert json.loads(response["Payload"].read())["version"] == response["ExecutedVersion"]
        executed.append(response["ExecutedVersion"])
    assert 8 <= executed.count("2") <= 35 and set(executed) == {"1", "2"}


def test_a_handler_calls_dynamodb_in_the_local_cloud(env: Env) -> None:
    dynamodb: Any = env.session.client("dynamodb", endpoint_url=env.cloud.endpoint_url)
    dynamodb.create_table(
        TableName="uploads",
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    env.create("api-store", handler="handler.store")
    response = env.client.invoke(
        FunctionName="api-store", Payload=json.dumps({"table": "uploads", "id": "u-1"})
    )
    assert "FunctionError" not in response, response["Payload"].read()
    assert json.loads(response["Payload"].read()) == {"id": "u-1", "by": "api-store"}
    item = dynamodb.get_item(TableName="uploads", Key={"id": {"S": "u-1"}})["Item"]
    assert item == {"id": {"S": "u-1"}, "by": {"S": "api-store"}}


def test_a_step_functions_task_runs_in_the_runtime(env: Env) -> None:
    env.create("api-task")
    arn = env.client.get_function(FunctionName="api-task")["Configuration"]["FunctionArn"]
    sfn: Any = env.session.client("stepfunctions", endpoint_url=env.cloud.endpoint_url)
    definition = {
        "StartAt": "Call",
        "States": {"Call": {"Type": "Task", "Resource": arn, "End": True}},
    }
    machine = sfn.create_state_machine(
        name="api-task-machine", definition=json.dumps(definition), roleArn=env.role
    )["stateMachineArn"]
    execution = sfn.start_execution(stateMachineArn=machine, input='{"from": "sfn"}')
    for _ in range(500):
        described = sfn.describe_execution(executionArn=execution["executionArn"])
        if described["status"] != "RUNNING":
            break
        time.sleep(0.01)
    assert described["status"] == "SUCCEEDED", described
    assert json.loads(described["output"]) == {"version": "$LATEST", "event": {"from": "sfn"}}

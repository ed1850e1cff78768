"""moto's Lambda plugged into the runtime (in-process ``mock_aws``): boto3 Invoke, SNS
deliveries and alias weights reach real worker processes; layers come from moto's store or a
local folder."""

from __future__ import annotations

import base64
import io
import json
import random
import time
import zipfile
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from lambda_helpers import wait_gone
from moto import mock_aws
from moto.awslambda import models, responses
from moto.awslambda.utils import get_backend

from basegear.cloud.lambdas.runtime import LambdaRuntime
from basegear.cloud.lambdas.telemetry import BackgroundSink, MemoryLogSink
from basegear.cloud.motoshim import awslambda
from basegear.cloud.motoshim.awslambda import MotoLambda
from basegear.cloud.motoshim.cloudwatch_sinks import CloudWatchLogsSink, CloudWatchMetricSink

REGION = "eu-west-1"

HANDLER = """
import os

def handler(event, context):
    print("event", event)
    return {"version": context.function_version, "arn": context.invoked_function_arn,
            "event": event, "pid": os.getpid()}

def fail(event, context):
    raise RuntimeError("nope")

def layered(event, context):
    import shared
    return shared.WHO
"""


def zipped(files: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    return buffer.getvalue()


class Cloud:
    def __init__(self, plug: MotoLambda, logs: MemoryLogSink) -> None:
        self.plug = plug
        self.logs = logs
        config = Config(retries={"max_attempts": 0})
        self.client: Any = boto3.client("lambda", region_name=REGION, config=config)
        iam: Any = boto3.client("iam", region_name=REGION)
        self.role = iam.create_role(RoleName="r", AssumeRolePolicyDocument="{}")["Role"]["Arn"]

    def create(self, name: str, handler: str = "handler.handler", **extra: Any) -> dict[str, Any]:
        created: dict[str, Any] = self.client.create_function(
            FunctionName=name,
            Runtime="python3.11",
            Role=self.role,
            Handler=handler,
            Code={"ZipFile": zipped({"handler.py": HANDLER})},
            **extra,
        )
        return created


@pytest.fixture
def cloud(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Cloud]:
    # moto's own mock, not a running cloud: the session's local_cloud may have set this.
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    logs = MemoryLogSink()
    runtime = LambdaRuntime(log_sink=logs)
    plug = MotoLambda(runtime, cache_dir=tmp_path / "cache", rng=random.Random(7))
    with mock_aws():
        plug.install()
        try:
            yield Cloud(plug, logs)
        finally:
            plug.uninstall()
            zygote = runtime.zygote_pid
            runtime.close()
            assert zygote is None or wait_gone(zygote)


def test_moto_still_has_what_we_replace(cloud: Cloud) -> None:
    awslambda.check_moto()
    cloud.create("probe")
    backend = awslambda.backend_for("123456789012", REGION)
    assert backend is get_backend("123456789012", REGION)  # its fast path finds moto's own
    function = backend.get_function("probe")
    for attribute in awslambda._FUNCTION_ATTRIBUTES:  # what our replacements read
        assert hasattr(function, attribute), attribute
    classes = {
        "LambdaBackend": models.LambdaBackend,
        "LambdaFunction": models.LambdaFunction,
        "LambdaResponse": responses.LambdaResponse,
    }
    installed = {}
    for owner, attribute in awslambda.PATCHED:
        cls = classes[owner.rpartition(".")[2]]
        installed[owner, attribute] = getattr(cls, attribute)
        assert installed[owner, attribute].__module__ == awslambda.__name__
    cloud.plug.uninstall()  # puts back what was there: moto's, or a running cloud's plug
    for owner, attribute in awslambda.PATCHED:
        cls = classes[owner.rpartition(".")[2]]
        assert getattr(cls, attribute) is not installed[owner, attribute]
    cloud.plug.install()


def test_boto3_invoke_runs_the_handler(cloud: Cloud) -> None:
    cloud.create("echo")
    response = cloud.client.invoke(FunctionName="echo", Payload=b'{"a": 1}', LogType="Tail")
    body = json.loads(response["Payload"].read())

    assert response["StatusCode"] == 200
    assert response["ExecutedVersion"] == "$LATEST"
    assert "FunctionError" not in response
    assert body["event"] == {"a": 1} and body["version"] == "$LATEST"
    log = base64.b64decode(response["LogResult"]).decode()
    assert "event {'a': 1}" in log and "REPORT RequestId" in log
    assert cloud.logs.messages("/aws/lambda/echo")


def test_function_error_event_and_dry_run(cloud: Cloud) -> None:
    cloud.create("failing", handler="handler.fail")
    failed = cloud.client.invoke(FunctionName="failing", Payload=b"{}")
    event = cloud.client.invoke(FunctionName="failing", InvocationType="Event", Payload=b"{}")
    dry = cloud.client.invoke(FunctionName="failing", InvocationType="DryRun")

    assert failed["StatusCode"] == 200 and failed["FunctionError"] == "Unhandled"
    error = json.loads(failed["Payload"].read())
    assert error["errorType"] == "RuntimeError" and error["errorMessage"] == "nope"
    assert event["StatusCode"] == 202 and event["Payload"].read() == b""
    assert dry["StatusCode"] == 204


def test_reserved_zero_is_a_429_with_its_reason(cloud: Cloud) -> None:
    cloud.create("blocked")
    cloud.client.put_function_concurrency(FunctionName="blocked", ReservedConcurrentExecutions=0)
    with pytest.raises(cloud.client.exceptions.TooManyRequestsException) as caught:
        cloud.client.invoke(FunctionName="blocked", Payload=b"{}")
    response = caught.value.response
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 429
    assert response["Reason"] == "ReservedFunctionConcurrentInvocationLimitExceeded"
    assert response["Error"]["Message"] == "Rate Exceeded."


def test_versions_and_weighted_alias(cloud: Cloud) -> None:
    cloud.create("weighted")
    one = cloud.client.publish_version(FunctionName="weighted")["Version"]
    cloud.client.update_function_configuration(FunctionName="weighted", MemorySize=256)
    two = cloud.client.publish_version(FunctionName="weighted")["Version"]
    assert (one, two) == ("1", "2")
    cloud.client.create_alias(
        FunctionName="weighted",
        Name="live",
        FunctionVersion="1",
        RoutingConfig={"AdditionalVersionWeights": {"2": 0.3}},
    )
    executed = []
    for _ in range(60):
        response = cloud.client.invoke(FunctionName="weighted", Qualifier="live", Payload=b"{}")
        body = json.loads(response["Payload"].read())
        assert body["version"] == response["ExecutedVersion"]
        assert body["arn"].endswith(":function:weighted:live")
        executed.append(response["ExecutedVersion"])
    assert 8 <= executed.count("2") <= 30 and executed.count("1") + executed.count("2") == 60
    pinned = cloud.client.invoke(FunctionName="weighted:2", Payload=b"{}")
    assert pinned["ExecutedVersion"] == "2"


def test_layers_from_moto_and_from_a_local_folder(cloud: Cloud, tmp_path: Path) -> None:
    layer = cloud.client.publish_layer_version(
        LayerName="shared",
        Content={"ZipFile": zipped({"python/shared.py": "WHO = 'moto layer'\n"})},
    )["LayerVersionArn"]
    cloud.create("with-layer", handler="handler.layered", Layers=[layer])
    result = cloud.client.invoke(FunctionName="with-layer", Payload=b"{}")
    assert json.loads(result["Payload"].read()) == "moto layer"

    outside = "arn:aws:lambda:eu-west-1:999999999999:layer:company-logging:3"
    folder = tmp_path / "company-logging"
    (folder / "python").mkdir(parents=True)
    (folder / "python" / "shared.py").write_text("WHO = 'local folder'\n")
    cloud.plug.layer_folders[outside] = folder
    cloud.create("with-local-layer", handler="handler.layered", Layers=[outside])
    result = cloud.client.invoke(FunctionName="with-local-layer", Payload=b"{}")
    assert json.loads(result["Payload"].read()) == "local folder"

    unknown = "arn:aws:lambda:eu-west-1:999999999999:layer:nowhere:1"
    with pytest.raises(cloud.client.exceptions.InvalidParameterValueException) as caught:
        cloud.create("with-unknown-layer", Layers=[unknown])
    assert caught.value.response["Error"]["Message"] == f"Layer version {unknown} does not exist."


def test_sns_delivery_reaches_the_runtime(cloud: Cloud) -> None:
    function_arn = cloud.create("subscriber")["FunctionArn"]
    sns: Any = boto3.client("sns", region_name=REGION)
    topic = sns.create_topic(Name="uploads")["TopicArn"]
    sns.subscribe(TopicArn=topic, Protocol="lambda", Endpoint=function_arn)
    sns.publish(TopicArn=topic, Message="hello from sns")

    # SNS invokes the function asynchronously (Lambda developer guide, "Using Lambda with
    # Amazon SNS"): the publish returns before the handler runs.
    deadline = time.monotonic() + 10
    messages = ""
    while "REPORT RequestId" not in messages and time.monotonic() < deadline:
        time.sleep(0.05)
        messages = "\n".join(cloud.logs.messages("/aws/lambda/subscriber"))
    assert "hello from sns" in messages and "REPORT RequestId" in messages


def test_a_local_code_folder_is_served_and_reloaded(cloud: Cloud, tmp_path: Path) -> None:
    folder = tmp_path / "service"
    folder.mkdir()
    (folder / "handler.py").write_text("def handler(e, c):\n    return 'first'\n")
    cloud.plug.code_folders["live-code"] = folder
    cloud.create("live-code")
    first = cloud.client.invoke(FunctionName="live-code", Payload=b"{}")
    assert json.loads(first["Payload"].read()) == "first"

    (folder / "handler.py").write_text("def handler(e, c):\n    return 'second, edited'\n")
    second = cloud.client.invoke(FunctionName="live-code", Payload=b"{}")
    assert json.loads(second["Payload"].read()) == "second, edited"


def test_logs_and_metrics_land_in_moto_cloudwatch(tmp_path: Path) -> None:
    sink = BackgroundSink(logs=CloudWatchLogsSink(), metrics=CloudWatchMetricSink())
    runtime = LambdaRuntime(log_sink=sink, metric_sink=sink)
    plug = MotoLambda(runtime, cache_dir=tmp_path)
    with mock_aws():
        plug.install()
        try:
            cloud = Cloud(plug, MemoryLogSink())
            cloud.create("observed")
            cloud.client.invoke(FunctionName="observed", Payload=b'{"seen": true}')
            cloud.create("observed-fail", handler="handler.fail")
            cloud.client.invoke(FunctionName="observed-fail", Payload=b"{}")
        finally:
            plug.uninstall()
            runtime.close()
            sink.close()
        logs: Any = boto3.client("logs", region_name=REGION)
        streams = logs.describe_log_streams(logGroupName="/aws/lambda/observed")["logStreams"]
        assert len(streams) == 1 and "/[$LATEST]" in streams[0]["logStreamName"]
        events = logs.get_log_events(
            logGroupName="/aws/lambda/observed", logStreamName=streams[0]["logStreamName"]
        )["events"]
        messages = [e["message"] for e in events]
        assert messages[0].startswith("INIT_START") and messages[-1].startswith("REPORT")
        assert "event {'seen': True}" in messages

        cloudwatch: Any = boto3.client("cloudwatch", region_name=REGION)

        def total(metric: str, function: str) -> float:
            stats = cloudwatch.get_metric_statistics(
                Namespace="AWS/Lambda",
                MetricName=metric,
                Dimensions=[{"Name": "FunctionName", "Value": function}],
                StartTime=datetime.now(UTC) - timedelta(minutes=5),
                EndTime=datetime.now(UTC) + timedelta(minutes=5),
                Period=60,
                Statistics=["Sum"],
            )["Datapoints"]
            return float(sum(point["Sum"] for point in stats))

        assert total("Invocations", "observed") == 1 and total("Errors", "observed") == 0
        assert total("Errors", "observed-fail") == 1

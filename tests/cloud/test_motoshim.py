"""The moto internals BaseGear patches (basegear/cloud/motoshim/): each one still exists where
the patch expects it in the installed moto, still plays the part the patch assumes, and the
patch does what it says. A moto upgrade that moves any of them fails here, by name."""

from __future__ import annotations

import importlib
import inspect
import json
import logging
import threading
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import pytest

from basegear.cloud.gateway import moto_runs_inline
from basegear.cloud.motoshim import apigateway, core, dynamodb, inprocess, sns, stepfunctions
from basegear.cloud.protocol import AwsRequest
from basegear.testing import CloudClients

ALL_PATCHED = core.PATCHED + stepfunctions.PATCHED + sns.PATCHED + apigateway.PATCHED


@pytest.mark.parametrize(("module", "attribute"), ALL_PATCHED)
def test_every_patched_moto_internal_still_exists(module: str, attribute: str) -> None:
    assert hasattr(importlib.import_module(module), attribute), f"moto moved {module}.{attribute}"


def test_moto_core_still_looks_methods_and_request_ids_up_per_request() -> None:
    from moto.core.responses import BaseResponse
    from moto.core.utils import method_names_from_class
    from moto.utilities.aws_headers import gen_amzn_requestid_long

    assert list(inspect.signature(method_names_from_class).parameters) == ["clazz"]
    assert list(inspect.signature(gen_amzn_requestid_long).parameters) == ["headerdict"]
    assert "method_names_from_class(self.__class__)" in inspect.getsource(BaseResponse.call_action)
    assert "gen_amzn_requestid_long(headers)" in inspect.getsource(BaseResponse._enrich_response)


def test_method_names_are_listed_once_per_class(local_cloud: CloudClients) -> None:
    import moto.core.responses as responses
    from moto.dynamodb.responses import DynamoHandler

    names = responses.method_names_from_class(DynamoHandler)
    assert "put_item" in names
    assert responses.method_names_from_class(DynamoHandler) is names


def test_request_ids_look_like_dynamodbs(local_cloud: CloudClients) -> None:
    headers: dict[str, Any] = {}
    request_id = core._request_id(headers)
    assert len(request_id) == 52
    assert request_id.isalnum()
    assert request_id.upper() == request_id
    assert headers == {"x-amzn-requestid": request_id}


def test_step_functions_still_makes_its_clients_in_boto_client_for() -> None:
    from moto.stepfunctions.parser.asl.utils import boto_client

    source = inspect.getsource(boto_client.boto_client_for)
    assert "boto3.client(" in source
    assert list(inspect.signature(boto_client.boto_client_for).parameters)[:2] == [
        "region",
        "service",
    ]


# In a process of its own: the test session may have imported moto.batch already.
_BATCH_ALONE = """
import sys
from basegear.cloud.motoshim import stepfunctions
stepfunctions.install()
import moto.stepfunctions.parser.models
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
    state_task_service_batch as task,
)
assert "moto.ec2" not in sys.modules and "moto.batch" not in sys.modules, "moto.ec2 imported"
from moto.batch import batch_backends, models, utils
assert task.JobStatus is utils.JobStatus is models.JobStatus, "two JobStatus enums"
assert batch_backends["123456789012"]["us-east-1"] is not None
print("ok")
"""


def test_step_functions_parser_imports_no_ec2_and_batch_still_loads() -> None:
    import subprocess
    import sys

    source = inspect.getsource(
        importlib.import_module(
            "moto.stepfunctions.parser.asl.component.state.exec.state_task.service."
            "state_task_service_batch"
        )
    )
    assert "from moto.batch.utils import JobStatus" in source  # all it takes of moto.batch
    done = subprocess.run(
        [sys.executable, "-c", _BATCH_ALONE], capture_output=True, text=True, timeout=120
    )
    assert done.stdout.strip() == "ok", done.stderr


def test_moto_lists_regions_through_the_shared_loader(local_cloud: CloudClients) -> None:
    from moto.core.base_backend import AccountSpecificBackend

    from basegear.awsdata import boto3_session, shared_loader

    moto_session = AccountSpecificBackend.get_session()._session
    assert moto_session.get_component("data_loader") is shared_loader()
    ours = boto3_session(aws_access_key_id="a", aws_secret_access_key="b")
    assert ours._session.get_component("data_loader") is shared_loader()
    paths = shared_loader().search_paths
    assert len(paths) == len(set(paths))  # boto3's own folder once, however many sessions
    assert "us-east-1" in moto_session.get_available_regions("lambda")


def test_step_functions_executes_and_its_tasks_stay_in_process(
    local_cloud: CloudClients,
) -> None:
    from moto.core.config import default_user_config
    from moto.stepfunctions.parser.asl.utils import boto_client

    assert default_user_config["stepfunctions"]["execute_state_machine"] is True
    assert isinstance(boto_client.boto3, inprocess.InProcessClients)
    sqs = local_cloud.client("sqs", "eu-west-1")
    sfn = local_cloud.client("stepfunctions", "eu-west-1")
    queue = sqs.create_queue(QueueName=f"sfn-task-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    definition = {
        "StartAt": "Send",
        "States": {
            "Send": {
                "Type": "Task",
                "Resource": "arn:aws:states:::sqs:sendMessage",
                "Parameters": {"QueueUrl": queue, "MessageBody.$": "$.text"},
                "End": True,
            }
        },
    }
    machine = sfn.create_state_machine(
        name=f"sender-{uuid.uuid4().hex[:8]}",
        definition=json.dumps(definition),
        roleArn="arn:aws:iam::123456789012:role/sfn",
    )["stateMachineArn"]
    arn = sfn.start_execution(stateMachineArn=machine, input='{"text": "from a task"}')[
        "executionArn"
    ]
    deadline = time.monotonic() + 10
    while sfn.describe_execution(executionArn=arn)["status"] == "RUNNING":
        assert time.monotonic() < deadline
        time.sleep(0.01)
    assert sfn.describe_execution(executionArn=arn)["status"] == "SUCCEEDED"
    [message] = sqs.receive_message(QueueUrl=queue, WaitTimeSeconds=1)["Messages"]
    assert message["Body"] == "from a task"


def test_in_process_clients_use_the_latest_cloud_and_never_the_network(
    local_cloud: CloudClients,
) -> None:
    client = inprocess.InProcessClients().client(
        service_name="sqs", region_name="eu-west-1", config=None
    )

    def teapot(
        method: str, path: str, query: str, headers: Any, body: bytes
    ) -> tuple[int, dict[str, str], bytes]:
        return 418, {"x-amzn-errortype": "Teapot"}, b'{"__type": "Teapot", "message": "tea"}'

    inprocess.attach(teapot)
    try:
        with pytest.raises(Exception, match="Teapot"):
            client.list_queues()
    finally:
        inprocess.detach(teapot)
    assert client.list_queues()["ResponseMetadata"]["HTTPStatusCode"] == 200
    serving = inprocess.current()
    assert serving is not None
    inprocess.detach(serving)
    try:
        with pytest.raises(Exception, match="503"):
            client.list_queues()
    finally:
        inprocess.attach(serving)


def test_sns_still_posts_with_module_level_requests() -> None:
    from moto.sns.models import Subscription

    assert "requests.post(" in inspect.getsource(Subscription.publish)


class _Recorder(BaseHTTPRequestHandler):
    bodies: list[bytes] = []

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        _Recorder.bodies.append(self.rfile.read(length))
        self.send_response(200)
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def http_endpoint() -> Iterator[str]:
    server = HTTPServer(("127.0.0.1", 0), _Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hook"
    finally:
        server.shutdown()
        server.server_close()


def test_sns_http_deliveries_reach_loopback_only(
    local_cloud: CloudClients, http_endpoint: str, caplog: pytest.LogCaptureFixture
) -> None:
    client = local_cloud.client("sns", "eu-west-1")
    topic = client.create_topic(Name=f"http-{uuid.uuid4().hex[:8]}")["TopicArn"]
    client.subscribe(TopicArn=topic, Protocol="http", Endpoint=http_endpoint)
    # .invalid never resolves (RFC 2606): even unpatched, nothing would leave the machine.
    client.subscribe(TopicArn=topic, Protocol="https", Endpoint="https://sns-target.invalid/")
    _Recorder.bodies.clear()
    with caplog.at_level(logging.WARNING, logger="basegear.cloud.motoshim.sns"):
        client.publish(TopicArn=topic, Message="local only")
    assert [json.loads(body)["Message"] for body in _Recorder.bodies] == ["local only"]
    assert "SNS delivery to https://sns-target.invalid/ dropped" in caplog.text


@pytest.mark.parametrize(
    ("url", "loopback"),
    [
        ("http://127.0.0.1:8080/x", True),
        ("http://127.9.9.9/", True),
        ("http://[::1]:80/", True),
        ("http://localhost/", True),
        ("http://api.localhost:4566/", True),
        ("http://10.0.0.1/", False),
        ("https://example.com/", False),
        ("http://localhost.example.com/", False),
        ("not a url", False),
    ],
)
def test_loopback_urls(url: str, loopback: bool) -> None:
    assert sns.is_loopback(url) is loopback


@pytest.mark.parametrize(("module", "attribute"), dynamodb.READ)
def test_every_read_moto_internal_still_exists(module: str, attribute: str) -> None:
    assert hasattr(importlib.import_module(module), attribute), f"moto moved {module}.{attribute}"


def test_moto_dynamodb_still_invokes_its_mappings_inside_writes() -> None:
    from moto.dynamodb.models.table import StreamShard, Table

    assert "self.lambda_event_source_mappings" in inspect.getsource(Table.__init__)
    assert "lambda_event_source_mappings" in inspect.getsource(StreamShard.add)


def test_dynamodb_writes_leave_the_loop_while_moto_holds_a_mapping(
    local_cloud: CloudClients,
) -> None:
    from moto.dynamodb.models import dynamodb_backends

    region = "ca-west-1"
    name = f"mapped-{uuid.uuid4().hex[:8]}"
    local_cloud.client("dynamodb", region).create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )

    def request(action: str) -> AwsRequest:
        return AwsRequest("POST", "/", {}, {}, b"{}", "dynamodb", region, "123456789012", action)

    assert not dynamodb.holds_event_source_mappings("123456789012", region)
    assert moto_runs_inline(request("PutItem"))
    table = dynamodb_backends["123456789012"][region].tables[name]
    table.lambda_event_source_mappings["arn:aws:lambda:ca-west-1:123456789012:function:f"] = None
    try:
        assert dynamodb.holds_event_source_mappings("123456789012", region)
        assert not moto_runs_inline(request("PutItem"))
        assert moto_runs_inline(request("GetItem"))
    finally:
        table.lambda_event_source_mappings.clear()
    assert not dynamodb.holds_event_source_mappings("999999999999", "us-east-1")

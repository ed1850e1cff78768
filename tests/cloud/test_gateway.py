"""The gateway and its server (basegear/cloud/gateway.py, server.py): providers before moto,
AWS-shaped errors, threads, and a gateway that answers whatever it is sent."""

from __future__ import annotations

import asyncio
import http.client
import json
import logging
import socket
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

import pytest
from botocore.exceptions import ClientError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from basegear.cloud.gateway import Gateway, Router
from basegear.cloud.protocol import AwsRequest, AwsResponse
from basegear.cloud.server import LocalCloud
from basegear.testing import CloudClients

SIGNED = (
    "AWS4-HMAC-SHA256 Credential=AKID/20240101/{region}/{service}/aws4_request, "
    "SignedHeaders=host, Signature=00"
)


class FixedAnswer:
    """A provider that answers every request of its service with ``body`` and records them."""

    def __init__(self, service: str, body: dict[str, Any] | None, *, blocking: bool = True):
        self.service = service
        self.blocking = blocking
        self.body = body
        self.requests: list[AwsRequest] = []
        self.threads: list[str] = []

    def handle(self, request: AwsRequest) -> AwsResponse | None:
        self.requests.append(request)
        self.threads.append(threading.current_thread().name)
        if self.body is None:
            return None
        headers = {"content-type": "application/x-amz-json-1.0"}
        return AwsResponse(200, json.dumps(self.body).encode(), headers)


class Failing:
    service = "sqs"

    def handle(self, request: AwsRequest) -> AwsResponse | None:
        raise RuntimeError("provider bug")


@contextmanager
def registered(cloud: CloudClients, *providers: Any) -> Iterator[None]:
    for provider in providers:
        cloud.cloud.add_provider(provider)
    try:
        yield
    finally:
        for provider in providers:
            cloud.cloud.remove_provider(provider)


def raw_request(
    cloud: CloudClients,
    method: str,
    path: str,
    headers: dict[str, str],
    body: bytes = b"",
) -> tuple[int, dict[str, str], bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", cloud.cloud.port, timeout=10)
    try:
        connection.request(method, path, body=body, headers=headers)
        response = connection.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        connection.close()


# -- providers --------------------------------------------------------------------------------


def test_provider_answers_before_moto(local_cloud: CloudClients) -> None:
    provider = FixedAnswer("sqs", {"QueueUrls": ["https://example.invalid/q"]})
    with registered(local_cloud, provider):
        answer = local_cloud.client("sqs", "eu-west-1").list_queues()
    assert answer["QueueUrls"] == ["https://example.invalid/q"]
    [request] = provider.requests
    assert (request.service, request.region, request.action) == ("sqs", "eu-west-1", "ListQueues")
    assert request.account == "123456789012"
    assert request.method == "POST"
    assert request.headers["x-amz-target"] == "AmazonSQS.ListQueues"
    assert json.loads(request.body) == {}


def test_provider_returning_none_lets_moto_answer(local_cloud: CloudClients) -> None:
    provider = FixedAnswer("sqs", None)
    sqs = local_cloud.client("sqs")
    with registered(local_cloud, provider):
        url = sqs.create_queue(QueueName="gateway-fallthrough")["QueueUrl"]
    assert url == "https://sqs.us-east-1.amazonaws.com/123456789012/gateway-fallthrough"
    assert [r.action for r in provider.requests] == ["CreateQueue"]


def test_providers_are_tried_in_registration_order(local_cloud: CloudClients) -> None:
    passing = FixedAnswer("sqs", None)
    first = FixedAnswer("sqs", {"QueueUrls": ["first"]})
    second = FixedAnswer("sqs", {"QueueUrls": ["second"]})
    with registered(local_cloud, passing, first, second):
        assert local_cloud.client("sqs").list_queues()["QueueUrls"] == ["first"]
    assert len(passing.requests) == len(first.requests) == 1
    assert second.requests == []


def test_providers_given_to_the_constructor() -> None:
    provider = FixedAnswer("logs", {"logGroups": [{"logGroupName": "from-provider"}]})
    with LocalCloud(port=0, providers=[provider]) as cloud:
        logs = CloudClients(cloud).client("logs")
        assert logs.describe_log_groups()["logGroups"][0]["logGroupName"] == "from-provider"


def test_a_failing_provider_gets_internal_failure_and_the_gateway_keeps_serving(
    local_cloud: CloudClients, caplog: pytest.LogCaptureFixture
) -> None:
    sqs = local_cloud.client("sqs")
    with registered(local_cloud, Failing()), pytest.raises(ClientError) as raised:
        sqs.list_queues()
    error = raised.value.response
    assert error["Error"]["Code"] == "InternalFailure"
    assert "provider bug" in error["Error"]["Message"]
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 500
    assert "provider bug" in caplog.text
    assert sqs.list_queues()["ResponseMetadata"]["HTTPStatusCode"] == 200  # still serving


def test_blocking_providers_run_in_the_pool_and_others_on_the_loop(
    local_cloud: CloudClients,
) -> None:
    pooled = FixedAnswer("sqs", {"QueueUrls": []})
    inline = FixedAnswer("logs", {"logGroups": []}, blocking=False)
    with registered(local_cloud, pooled, inline):
        local_cloud.client("sqs").list_queues()
        local_cloud.client("logs").describe_log_groups()
    assert pooled.threads[0].startswith("basegear-gw")
    assert inline.threads == ["basegear-gateway"]


class Awaiting:
    """A provider with ``handle_async``: awaited on the event loop, no thread hop."""

    service = "logs"

    def __init__(self) -> None:
        self.threads: list[str] = []

    def handle(self, request: AwsRequest) -> AwsResponse | None:
        raise AssertionError("the gateway awaits handle_async instead")

    async def handle_async(self, request: AwsRequest) -> AwsResponse | None:
        await asyncio.sleep(0.001)
        self.threads.append(threading.current_thread().name)
        if request.action == "DeleteLogGroup":
            raise ValueError("async provider bug")
        return AwsResponse(200, b'{"logGroups": []}', {"content-type": "application/json"})


def test_async_providers_are_awaited_on_the_loop(local_cloud: CloudClients) -> None:
    provider = Awaiting()
    logs = local_cloud.client("logs")
    with registered(local_cloud, provider):
        assert logs.describe_log_groups()["logGroups"] == []
        with pytest.raises(ClientError, match="async provider bug"):
            logs.delete_log_group(logGroupName="x")
    assert provider.threads == ["basegear-gateway", "basegear-gateway"]


class Waiting:
    """A provider whose calls wait for each other, as concurrent Lambda invocations do."""

    service = "sqs"

    def __init__(self, parties: int) -> None:
        self.barrier = threading.Barrier(parties, timeout=5)

    def handle(self, request: AwsRequest) -> AwsResponse | None:
        self.barrier.wait()
        return AwsResponse(200, b'{"QueueUrls": []}', {"content-type": "application/json"})


def test_blocking_providers_run_concurrently(local_cloud: CloudClients) -> None:
    provider = Waiting(4)
    clients = [local_cloud.client("sqs", read_timeout=10) for _ in range(4)]
    results: list[Any] = []
    with registered(local_cloud, provider):
        threads = [
            threading.Thread(target=lambda c=c: results.append(c.list_queues())) for c in clients
        ]
        for thread in threads:
            thread.start()
        # While all four wait in the pool, the loop still answers moto requests.
        local_cloud.client("dynamodb").list_tables()
        for thread in threads:
            thread.join(10)
    assert len(results) == 4


class CallsBack:
    """A provider that calls the gateway while handling a request, as a handler calling
    DynamoDB from inside a Lambda invocation does."""

    service = "sqs"  # one that BaseGear's standard providers leave to moto

    def __init__(self, cloud: CloudClients) -> None:
        self.cloud = cloud

    def handle(self, request: AwsRequest) -> AwsResponse | None:
        tables = self.cloud.client("dynamodb").list_tables()["TableNames"]
        body = json.dumps({"QueueUrls": [f"tables-{len(tables)}"]}).encode()
        return AwsResponse(200, body, {"content-type": "application/x-amz-json-1.0"})


def test_a_provider_may_call_the_gateway_back(local_cloud: CloudClients) -> None:
    with registered(local_cloud, CallsBack(local_cloud)):
        answer = local_cloud.client("sqs").list_queues()
    assert answer["QueueUrls"][0].startswith("tables-")


# -- AWS-shaped errors ------------------------------------------------------------------------


def test_unsigned_request_naming_no_service(local_cloud: CloudClients) -> None:
    status, headers, body = raw_request(local_cloud, "GET", "/", {})
    assert status == 403
    assert headers["x-amzn-errortype"] == "MissingAuthenticationToken"
    assert json.loads(body)["__type"] == "MissingAuthenticationToken"


def test_service_the_local_cloud_does_not_serve(local_cloud: CloudClients) -> None:
    headers = {"authorization": SIGNED.format(region="us-east-1", service="nosuchservice")}
    status, response_headers, body = raw_request(local_cloud, "POST", "/", headers, b"{}")
    assert status == 501
    assert json.loads(body) == {
        "__type": "NotImplemented",
        "message": "The local cloud does not serve the AWS service 'nosuchservice'.",
    }
    assert response_headers["x-amzn-errortype"] == "NotImplemented"


@pytest.mark.parametrize("body", [b"{not json", b"[1, 2]", b"\xff\xfe", b'"text"'])
def test_json_service_with_a_body_that_is_no_json_object(
    local_cloud: CloudClients, body: bytes
) -> None:
    headers = {
        "authorization": SIGNED.format(region="us-east-1", service="dynamodb"),
        "x-amz-target": "DynamoDB_20120810.PutItem",
        "content-type": "application/x-amz-json-1.0",
    }
    status, response_headers, answer = raw_request(local_cloud, "POST", "/", headers, body)
    assert status == 400
    assert response_headers["x-amzn-errortype"] == "SerializationException"
    assert response_headers["content-type"] == "application/x-amz-json-1.0"
    assert json.loads(answer)["__type"] == "SerializationException"


def test_unknown_action_of_a_json_service(local_cloud: CloudClients) -> None:
    headers = {
        "authorization": SIGNED.format(region="us-east-1", service="dynamodb"),
        "x-amz-target": "DynamoDB_20120810.MakeCoffee",
        "content-type": "application/x-amz-json-1.0",
    }
    status, _, answer = raw_request(local_cloud, "POST", "/", headers, b"{}")
    assert status == 400
    assert json.loads(answer) == {
        "__type": "UnknownOperationException",
        "message": "Unknown operation MakeCoffee.",
    }


def test_json_request_without_target(local_cloud: CloudClients) -> None:
    headers = {
        "authorization": SIGNED.format(region="us-east-1", service="dynamodb"),
        "content-type": "application/x-amz-json-1.0",
    }
    status, _, answer = raw_request(local_cloud, "POST", "/", headers, b"{}")
    assert status == 400
    assert json.loads(answer)["__type"] == "UnknownOperationException"


def test_unknown_action_of_a_query_service(local_cloud: CloudClients) -> None:
    headers = {
        "authorization": SIGNED.format(region="us-east-1", service="sns"),
        "content-type": "application/x-www-form-urlencoded",
    }
    status, response_headers, answer = raw_request(
        local_cloud, "POST", "/", headers, b"Action=MakeCoffee&Version=2010-03-31"
    )
    assert status == 400
    assert response_headers["content-type"] == "text/xml"
    assert b"<Code>InvalidAction</Code>" in answer
    assert b"<Type>Sender</Type>" in answer
    assert answer.startswith(b"<ErrorResponse>")


def test_query_service_without_action(local_cloud: CloudClients) -> None:
    headers = {
        "authorization": SIGNED.format(region="us-east-1", service="sns"),
        "content-type": "application/x-www-form-urlencoded",
    }
    status, _, answer = raw_request(local_cloud, "POST", "/", headers, b"Version=2010-03-31")
    assert status == 400
    assert b"<Code>MissingAction</Code>" in answer


def test_unknown_rest_operation(local_cloud: CloudClients) -> None:
    headers = {"authorization": SIGNED.format(region="us-east-1", service="lambda")}
    status, response_headers, answer = raw_request(
        local_cloud, "GET", "/2015-03-31/no-such-resource", headers
    )
    assert status == 404
    assert response_headers["x-amzn-errortype"] == "UnknownOperationException"
    assert json.loads(answer)["message"] == "Unknown operation GET /2015-03-31/no-such-resource."


def test_s3_errors_are_s3_xml(local_cloud: CloudClients) -> None:
    with pytest.raises(ClientError) as raised:
        local_cloud.client("s3").get_object(Bucket="gateway-no-such-bucket", Key="k")
    assert raised.value.response["Error"]["Code"] == "NoSuchBucket"
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404


def test_moto_errors_reach_boto3_as_aws_errors(local_cloud: CloudClients) -> None:
    with pytest.raises(ClientError) as raised:
        local_cloud.client("dynamodb").get_item(TableName="gateway-no-table", Key={"k": {"S": "v"}})
    assert raised.value.response["Error"]["Code"] == "ResourceNotFoundException"


# -- the gateway answers anything ------------------------------------------------------------

_TOKEN = st.text(
    alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-",
    min_size=1,
    max_size=20,
)
_VALUE = st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=80)
_SERVICES = st.sampled_from(
    [
        "dynamodb",
        "sqs",
        "sns",
        "s3",
        "lambda",
        "states",
        "logs",
        "iam",
        "monitoring",
        "ssm",
        "events",
        "sts",
        "cloudformation",
        "kms",
        "nosuch",
        "execute-api",
    ]
)
_PATHS = st.lists(
    st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-_.~%20", max_size=12), max_size=5
).map(lambda parts: "/" + "/".join(parts))


@st.composite
def requests(draw: st.DrawFn) -> tuple[str, str, dict[str, str], bytes]:
    headers = draw(st.dictionaries(_TOKEN, _VALUE, max_size=4))
    if draw(st.booleans()):
        service = draw(_SERVICES)
        headers["Authorization"] = SIGNED.format(region="us-east-1", service=service)
    if draw(st.booleans()):
        headers["X-Amz-Target"] = (
            draw(
                st.sampled_from(
                    ["DynamoDB_20120810", "AmazonSQS", "AWSStepFunctions", "Logs_20140328"]
                )
            )
            + "."
            + draw(_TOKEN)
        )
    if draw(st.booleans()):
        headers["Content-Type"] = draw(
            st.sampled_from(
                [
                    "application/x-amz-json-1.0",
                    "application/x-amz-json-1.1",
                    "application/x-www-form-urlencoded",
                    "application/json",
                    "text/plain",
                ]
            )
        )
    method = draw(st.sampled_from(["GET", "POST", "PUT", "DELETE", "HEAD", "PATCH", "OPTIONS"]))
    path = draw(_PATHS)
    if draw(st.booleans()):
        path += "?" + draw(st.text(alphabet="abcdefghijklmnopqrstuvwxyz=&%-_.20", max_size=30))
    body = draw(
        st.binary(max_size=200)
        | st.sampled_from([b"{}", b"{", b"[]", b"null", b"Action=Publish", b"Action=%ZZ"])
        | st.dictionaries(_TOKEN, _VALUE, max_size=3).map(lambda d: json.dumps(d).encode())
    )
    return method, path, headers, body


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(request=requests())
def test_any_request_gets_an_http_answer(
    local_cloud: CloudClients, request: tuple[str, str, dict[str, str], bytes]
) -> None:
    method, path, headers, body = request
    status, response_headers, answer = raw_request(local_cloud, method, path, headers, body)
    assert 200 <= status <= 599
    if status >= 400 and method != "HEAD" and "x-amzn-errortype" in response_headers:
        assert json.loads(answer)["__type"] == response_headers["x-amzn-errortype"]


_BYTES = st.binary(max_size=60)


@st.composite
def asgi_scopes(draw: st.DrawFn) -> dict[str, Any]:
    headers = draw(st.lists(st.tuples(_BYTES.map(bytes.lower), _BYTES), max_size=5))
    if draw(st.booleans()):
        service = draw(_SERVICES)
        signed = SIGNED.format(region=draw(st.sampled_from(["us-east-1", "x"])), service=service)
        headers.append((b"authorization", signed.encode()))
    return {
        "type": "http",
        "method": draw(st.sampled_from(["GET", "POST", "PUT", "DELETE", "HEAD", "BREW"])),
        "path": draw(st.text(max_size=30)),
        "raw_path": draw(st.none() | _BYTES.map(lambda b: b"/" + b)),
        "query_string": draw(_BYTES),
        "headers": headers,
    }


@settings(max_examples=300, deadline=None)
@given(scope=asgi_scopes(), body=st.binary(max_size=200), chunks=st.integers(1, 3))
def test_the_asgi_app_answers_any_request_exactly_once(
    scope: dict[str, Any], body: bytes, chunks: int
) -> None:
    gateway = Gateway(Router(), executor=_POOL)
    size = len(body) // chunks + 1
    parts = [body[i : i + size] for i in range(0, len(body), size)] or [b""]
    messages = [
        {"type": "http.request", "body": part, "more_body": i < len(parts) - 1}
        for i, part in enumerate(parts)
    ]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return messages.pop(0)

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    asyncio.run(gateway(scope, receive, send))
    assert [m["type"] for m in sent] == ["http.response.start", "http.response.body"]
    assert 200 <= sent[0]["status"] <= 599
    assert all(isinstance(v, bytes) for _, v in sent[0]["headers"])


_POOL = ThreadPoolExecutor(4, thread_name_prefix="test-gateway")


def test_garbage_on_the_socket_does_not_stop_the_gateway(local_cloud: CloudClients) -> None:
    for garbage in (b"\x00\xff\x13garbage\r\n\r\n", b"GET / HTTP/9.9\r\nHost\r\n\r\n", b"\r\n"):
        with socket.create_connection(("127.0.0.1", local_cloud.cloud.port), timeout=5) as conn:
            conn.sendall(garbage)
            conn.shutdown(socket.SHUT_WR)
            answer = conn.recv(4096)
            assert answer == b"" or answer.startswith(b"HTTP/1.1 4")
    assert "TableNames" in local_cloud.client("dynamodb").list_tables()


# -- the server -------------------------------------------------------------------------------


def test_listening_socket_has_tcp_nodelay() -> None:
    with LocalCloud(port=0) as cloud:
        assert cloud._socket is not None
        assert cloud._socket.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
        assert cloud.endpoint_url == f"http://127.0.0.1:{cloud.port}"


def test_stop_closes_the_port() -> None:
    cloud = LocalCloud(port=0).start()
    port = cloud.port
    cloud.stop()
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=1).close()


def test_serve_in_the_foreground_until_stopped() -> None:
    cloud = LocalCloud(port=0)
    thread = threading.Thread(target=cloud.serve)
    thread.start()
    deadline = time.monotonic() + 10
    while not cloud.is_serving and time.monotonic() < deadline:
        time.sleep(0.005)
    clients = CloudClients(cloud)
    assert "TableNames" in clients.client("dynamodb").list_tables()
    cloud.stop()
    thread.join(10)
    assert not thread.is_alive()
    assert not cloud.is_serving


def test_other_hosts_than_loopback_are_warned_about(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="basegear.cloud.server"):
        LocalCloud(host="0.0.0.0", port=0)  # constructed, never bound
        LocalCloud(host="127.0.0.2", port=0)
        LocalCloud(host="localhost", port=0)
    assert [r.getMessage().split(":")[0] for r in caplog.records] == [
        "the local cloud will listen on 0.0.0.0"
    ]


def test_moto_loggers_are_silenced(local_cloud: CloudClients) -> None:
    assert logging.getLogger("moto").getEffectiveLevel() >= logging.CRITICAL
    assert logging.getLogger("werkzeug").getEffectiveLevel() >= logging.CRITICAL


def test_endpoint_is_known_before_serving_so_providers_can_be_given_it() -> None:
    cloud = LocalCloud(port=0)
    endpoint = cloud.endpoint_url
    provider = FixedAnswer("logs", {"logGroups": [{"logGroupName": endpoint}]})
    cloud.add_provider(provider)
    with cloud:
        logs = CloudClients(cloud).client("logs")
        assert logs.describe_log_groups()["logGroups"][0]["logGroupName"] == endpoint
    with pytest.raises(RuntimeError, match="stopped"):
        cloud.start()


def test_a_cloud_bound_but_never_started_releases_its_port() -> None:
    cloud = LocalCloud(port=0)
    port = cloud.port
    cloud.stop()
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=1).close()


class Injecting:
    service = "logs"
    blocking = False

    def handle(self, request: AwsRequest) -> AwsResponse | None:
        headers = {"content-type": "application/json", "x-echo": "a\r\nx-injected: 1"}
        return AwsResponse(200, b'{"logGroups": []}', headers)


def test_line_breaks_in_response_headers_cannot_add_headers(local_cloud: CloudClients) -> None:
    with registered(local_cloud, Injecting()):
        headers = {"authorization": SIGNED.format(region="us-east-1", service="logs")}
        status, response_headers, _ = raw_request(local_cloud, "POST", "/", headers, b"{}")
    assert status == 200
    assert response_headers["x-echo"] == "a  x-injected: 1"
    assert "x-injected" not in response_headers

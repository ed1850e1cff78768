"""Lambda proxy events, data-driven: each file of tests/fixtures/proxy_events is one case — an
API (REST, or HTTP with a payload format), the request sent over HTTP to its invoke host, and
the event the function must receive. The function echoes its event; fields that differ on every
request (request IDs, times, resource IDs) are masked, ``{api_id}``, ``{port}`` and
``{region}`` in the expected event stand for this run's values."""

from __future__ import annotations

import base64
import http.client
import io
import json
import textwrap
import uuid
import zipfile
from pathlib import Path
from typing import Any

import pytest
import yaml

from basegear.testing import CloudClients

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "proxy_events"
REGION = "eu-west-1"
MASKED = "<masked>"
VOLATILE = {
    ("requestContext", "requestId"),
    ("requestContext", "extendedRequestId"),
    ("requestContext", "requestTime"),
    ("requestContext", "requestTimeEpoch"),
    ("requestContext", "resourceId"),
    ("requestContext", "time"),
    ("requestContext", "timeEpoch"),
}
ECHO = """
import json
def handler(event, context):
    return {"statusCode": 200, "body": json.dumps(event)}
"""


def zipped(source: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("handler.py", textwrap.dedent(source))
    return buffer.getvalue()


@pytest.fixture(scope="module")
def echo_function(local_cloud: CloudClients) -> str:
    iam = local_cloud.client("iam")
    role = iam.create_role(
        RoleName=f"proxy-events-{uuid.uuid4().hex[:8]}", AssumeRolePolicyDocument="{}"
    )["Role"]["Arn"]
    created = local_cloud.client("lambda", region=REGION).create_function(
        FunctionName=f"proxy-echo-{uuid.uuid4().hex[:8]}",
        Runtime="python3.12",
        Role=role,
        Handler="handler.handler",
        Code={"ZipFile": zipped(ECHO)},
    )
    arn: str = created["FunctionArn"]
    return arn


def rest_api(clients: CloudClients, case: dict[str, Any], function_arn: str) -> str:
    client = clients.client("apigateway", region=REGION)
    api = client.create_rest_api(
        name=f"proxy-{uuid.uuid4().hex[:8]}", binaryMediaTypes=case.get("binary_media_types", [])
    )
    parents = {"/": api["rootResourceId"]}
    resource_id = api["rootResourceId"]
    path = ""
    for part in [p for p in case["resource"].split("/") if p]:
        path += "/" + part
        resource_id = client.create_resource(
            restApiId=api["id"], parentId=resource_id, pathPart=part
        )["id"]
        parents[path] = resource_id
    where = {"restApiId": api["id"], "resourceId": resource_id, "httpMethod": case["method"]}
    client.put_method(**where, authorizationType="NONE")
    client.put_integration(
        **where,
        type="AWS_PROXY",
        integrationHttpMethod="POST",
        uri=f"arn:aws:apigateway:{REGION}:lambda:path/2015-03-31/functions/"
        f"{function_arn}/invocations",
    )
    client.create_deployment(
        restApiId=api["id"], stageName=case["stage"], variables=case.get("stage_variables", {})
    )
    api_id: str = api["id"]
    return api_id


def http_api(clients: CloudClients, case: dict[str, Any], function_arn: str) -> str:
    client = clients.client("apigatewayv2", region=REGION)
    api = client.create_api(Name=f"proxy-{uuid.uuid4().hex[:8]}", ProtocolType="HTTP")
    integration = client.create_integration(
        ApiId=api["ApiId"],
        IntegrationType="AWS_PROXY",
        IntegrationUri=function_arn,
        PayloadFormatVersion=case["payload_format"],
    )
    client.create_route(
        ApiId=api["ApiId"],
        RouteKey=case["route_key"],
        Target=f"integrations/{integration['IntegrationId']}",
    )
    client.create_stage(
        ApiId=api["ApiId"],
        StageName=case["stage"],
        AutoDeploy=True,
        StageVariables=case.get("stage_variables", {}),
    )
    api_id: str = api["ApiId"]
    return api_id


def send(port: int, host: str, request: dict[str, Any]) -> tuple[int, bytes]:
    """Exactly the request's headers (http.client adds none when told not to)."""
    body = request.get("body", "").encode()
    if "body_base64" in request:
        body = base64.b64decode(request["body_base64"])
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.putrequest(
            request["method"], request["path"], skip_host=True, skip_accept_encoding=True
        )
        connection.putheader("Host", host)
        for name, value in (request.get("headers") or {}).items():
            for each in value if isinstance(value, list) else [value]:  # a list: sent repeated
                connection.putheader(name, each)
        if body:
            connection.putheader("Content-Length", str(len(body)))
        connection.endheaders(body or None)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def masked(event: dict[str, Any]) -> dict[str, Any]:
    for section, name in VOLATILE:
        if name in (event.get(section) or {}):
            event[section][name] = MASKED
    return event


def substituted(value: Any, names: dict[str, str]) -> Any:
    if isinstance(value, str):
        for name, text in names.items():
            value = value.replace("{" + name + "}", text)
        return value
    if isinstance(value, dict):
        return {substituted(k, names): substituted(v, names) for k, v in value.items()}
    if isinstance(value, list):
        return [substituted(item, names) for item in value]
    return value


def cases() -> list[Any]:
    return [pytest.param(path, id=path.stem) for path in sorted(FIXTURES.glob("*.yml"))]


@pytest.mark.parametrize("case_file", cases())
def test_proxy_event(local_cloud: CloudClients, echo_function: str, case_file: Path) -> None:
    case = yaml.safe_load(case_file.read_text())
    make = rest_api if case["api"] == "rest" else http_api
    api_id = make(local_cloud, case, echo_function)
    port = local_cloud.cloud.port
    host = f"{api_id}.execute-api.{REGION}.localhost:{port}"
    status, body = send(port, host, case["request"])
    assert status == 200, body
    names = {"api_id": api_id, "port": str(port), "region": REGION}
    assert masked(json.loads(body)) == substituted(case["expected"], names)


def test_the_event_names_the_address_the_request_came_from(
    local_cloud: CloudClients, echo_function: str
) -> None:
    """``requestContext.identity.sourceIp`` and ``X-Forwarded-For`` are the client's address
    (any 127.x.x.x address reaches the loopback-bound cloud on Linux)."""
    case = {"api": "rest", "resource": "/whoami", "method": "GET", "stage": "dev"}
    api_id = rest_api(local_cloud, case, echo_function)
    port = local_cloud.cloud.port
    connection = http.client.HTTPConnection("127.0.0.1", port, source_address=("127.0.0.2", 0))
    try:
        host = f"{api_id}.execute-api.{REGION}.localhost:{port}"
        connection.request("GET", "/dev/whoami", headers={"Host": host})
        event = json.loads(connection.getresponse().read())
    finally:
        connection.close()
    assert event["requestContext"]["identity"]["sourceIp"] == "127.0.0.2"
    assert event["headers"]["X-Forwarded-For"] == "127.0.0.2"

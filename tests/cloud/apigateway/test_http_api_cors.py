"""CORS of an HTTP API from its CorsConfiguration, over HTTP (API Gateway developer guide,
"Configure CORS for HTTP APIs in API Gateway"): API Gateway answers a preflight request that no
route takes, puts the configured headers on the answers to CORS requests in place of the
integration's own, and leaves an origin it does not allow without them; a $default route takes
preflight requests itself."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
import requests
from test_rest_proxy_events import zipped

from basegear.testing import CloudClients

REGION = "eu-west-1"
APP = "https://app.example.com"
HANDLER = """
import json
def handler(event, context):
    return {"statusCode": 200, "headers": {"Access-Control-Allow-Origin": "*", "X-Trace": "t1"},
            "body": json.dumps({"method": event["requestContext"]["http"]["method"]})}
"""


def http_api(cloud: CloudClients, cors: dict[str, Any], route_key: str) -> str:
    """The invoke host of a new HTTP API with one route to the handler."""
    iam = cloud.client("iam")
    role = iam.create_role(RoleName=f"cors-{uuid.uuid4().hex[:8]}", AssumeRolePolicyDocument="{}")
    function = cloud.client("lambda", region=REGION).create_function(
        FunctionName=f"cors-{uuid.uuid4().hex[:8]}",
        Runtime="python3.12",
        Role=role["Role"]["Arn"],
        Handler="handler.handler",
        Code={"ZipFile": zipped(HANDLER)},
    )["FunctionArn"]
    client = cloud.client("apigatewayv2", region=REGION)
    api_id = client.create_api(
        Name=f"cors-{uuid.uuid4().hex[:8]}", ProtocolType="HTTP", CorsConfiguration=cors
    )["ApiId"]
    integration = client.create_integration(
        ApiId=api_id,
        IntegrationType="AWS_PROXY",
        IntegrationUri=function,
        PayloadFormatVersion="2.0",
    )["IntegrationId"]
    client.create_route(ApiId=api_id, RouteKey=route_key, Target=f"integrations/{integration}")
    client.create_stage(ApiId=api_id, StageName="$default", AutoDeploy=True)
    return f"{api_id}.execute-api.{REGION}.localhost:{cloud.cloud.port}"


def call(cloud: CloudClients, host: str, method: str, **headers: str) -> requests.Response:
    headers = {name.replace("_", "-"): value for name, value in headers.items()}
    return requests.request(
        method, f"{cloud.endpoint_url}/items", headers={"Host": host, **headers}, timeout=10
    )


def cors_headers(response: requests.Response) -> dict[str, str]:
    return {k.lower(): v for k, v in response.headers.items() if k.lower().startswith("access-")}


@pytest.fixture(scope="module")
def items(local_cloud: CloudClients) -> str:
    cors = {
        "AllowOrigins": [APP],
        "AllowMethods": ["GET", "POST"],
        "AllowHeaders": ["authorization", "content-type"],
        "ExposeHeaders": ["x-trace"],
        "MaxAge": 300,
        "AllowCredentials": True,
    }
    return http_api(local_cloud, cors, "GET /items")


def test_a_preflight_no_route_takes_is_answered_by_api_gateway(
    local_cloud: CloudClients, items: str
) -> None:
    answer = call(local_cloud, items, "OPTIONS", Origin=APP, Access_Control_Request_Method="GET")
    assert answer.status_code == 204
    assert cors_headers(answer) == {
        "access-control-allow-origin": APP,
        "access-control-allow-methods": "GET,POST",
        "access-control-allow-headers": "authorization,content-type",
        "access-control-max-age": "300",
        "access-control-allow-credentials": "true",
    }


def test_an_origin_not_allowed_gets_no_cors_headers(local_cloud: CloudClients, items: str) -> None:
    evil = "https://evil.example.com"
    preflight = call(
        local_cloud, items, "OPTIONS", Origin=evil, Access_Control_Request_Method="GET"
    )
    assert preflight.status_code == 204 and cors_headers(preflight) == {}
    assert cors_headers(call(local_cloud, items, "GET", Origin=evil)) == {}


def test_the_configured_headers_replace_the_integrations(
    local_cloud: CloudClients, items: str
) -> None:
    answer = call(local_cloud, items, "GET", Origin=APP)
    assert answer.status_code == 200 and answer.json() == {"method": "GET"}
    assert answer.headers["x-trace"] == "t1"
    assert cors_headers(answer) == {
        "access-control-allow-origin": APP,
        "access-control-expose-headers": "x-trace",
        "access-control-allow-credentials": "true",
    }
    # Without Origin it is not a CORS request; the integration's CORS header is still dropped.
    assert cors_headers(call(local_cloud, items, "GET")) == {}


def test_a_default_route_takes_preflight_requests_itself(local_cloud: CloudClients) -> None:
    host = http_api(local_cloud, {"AllowOrigins": ["https://*"]}, "$default")
    answer = call(
        local_cloud, host, "OPTIONS", Origin="https://any.test", Access_Control_Request_Method="PUT"
    )
    assert answer.status_code == 200 and answer.json() == {"method": "OPTIONS"}
    assert cors_headers(answer) == {"access-control-allow-origin": "https://any.test"}
    assert cors_headers(call(local_cloud, host, "GET", Origin="http://plain.test")) == {}

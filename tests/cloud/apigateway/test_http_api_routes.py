"""An HTTP API (v2) over HTTP: route keys with parameters, greedy paths and ANY, the $default
route, 404 for no route, the payload format 2.0 response rules (a bare value is a 200 JSON
body; statusCode, headers and cookies otherwise), and a JWT authorizer with the claims in
requestContext.authorizer.jwt.claims."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any

import pytest
import requests
from test_rest_proxy_events import zipped

from basegear.cloud.apigateway.tokens import TokenIssuer
from basegear.testing import CloudClients

REGION = "eu-west-1"
ISSUER = "https://issuer.example.com/http-api"
HANDLER = """
import json
def handler(event, context):
    path = event["rawPath"]
    if path.endswith("/bare"):
        return {"hello": "world"}
    if path.endswith("/text"):
        return "just text"
    if path.endswith("/cookies"):
        return {"statusCode": 204, "cookies": ["a=1", "b=2"], "headers": {"X-Y": "z"}}
    if path.endswith("/crash"):
        raise RuntimeError("boom")
    authorizer = event["requestContext"].get("authorizer")
    return {"statusCode": 200, "body": json.dumps({
        "route": event["routeKey"], "parameters": event.get("pathParameters"),
        "claims": authorizer["jwt"]["claims"] if authorizer else None})}
"""


@dataclass
class Api:
    endpoint: str
    host: str
    tokens: TokenIssuer

    def call(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        headers = {"Host": self.host, **kwargs.pop("headers", {})}
        return requests.request(
            method, f"{self.endpoint}{path}", headers=headers, timeout=10, **kwargs
        )


@pytest.fixture(scope="module")
def api(local_cloud: CloudClients) -> Api:
    iam = local_cloud.client("iam")
    role = iam.create_role(
        RoleName=f"httpapi-{uuid.uuid4().hex[:8]}", AssumeRolePolicyDocument="{}"
    )["Role"]["Arn"]
    function = local_cloud.client("lambda", region=REGION).create_function(
        FunctionName=f"httpapi-{uuid.uuid4().hex[:8]}",
        Runtime="python3.12",
        Role=role,
        Handler="handler.handler",
        Code={"ZipFile": zipped(HANDLER)},
    )["FunctionArn"]
    client = local_cloud.client("apigatewayv2", region=REGION)
    api_id = client.create_api(Name=f"routes-{uuid.uuid4().hex[:8]}", ProtocolType="HTTP")["ApiId"]
    integration = client.create_integration(
        ApiId=api_id,
        IntegrationType="AWS_PROXY",
        IntegrationUri=function,
        PayloadFormatVersion="2.0",
    )["IntegrationId"]
    authorizer = client.create_authorizer(
        ApiId=api_id,
        Name="jwt",
        AuthorizerType="JWT",
        IdentitySource=["$request.header.Authorization"],
        JwtConfiguration={"Audience": ["my-app"], "Issuer": ISSUER},
    )["AuthorizerId"]
    for key in ("GET /items/{id}", "GET /items/special", "ANY /files/{path+}", "$default"):
        client.create_route(ApiId=api_id, RouteKey=key, Target=f"integrations/{integration}")
    client.create_route(
        ApiId=api_id,
        RouteKey="GET /secure",
        Target=f"integrations/{integration}",
        AuthorizationType="JWT",
        AuthorizerId=authorizer,
    )
    client.create_route(
        ApiId=api_id,
        RouteKey="GET /admin",
        Target=f"integrations/{integration}",
        AuthorizationType="JWT",
        AuthorizerId=authorizer,
        AuthorizationScopes=["admin"],
    )
    client.create_stage(ApiId=api_id, StageName="$default", AutoDeploy=True)
    services = local_cloud.services
    assert services is not None
    host = f"{api_id}.execute-api.{REGION}.localhost:{local_cloud.cloud.port}"
    return Api(local_cloud.endpoint_url, host, services.apigateway.tokens)


def test_routes_match_most_specific_first(api: Api) -> None:
    assert api.call("GET", "/items/special").json()["route"] == "GET /items/special"
    answer = api.call("GET", "/items/12").json()
    assert answer == {"route": "GET /items/{id}", "parameters": {"id": "12"}, "claims": None}
    greedy = api.call("PUT", "/files/a/b.txt").json()
    assert greedy["route"] == "ANY /files/{path+}"
    assert greedy["parameters"] == {"path": "a/b.txt"}


def test_the_default_route_takes_the_rest(api: Api) -> None:
    assert api.call("POST", "/items/12").json()["route"] == "$default"


def test_a_bare_answer_is_a_200_json_body(api: Api) -> None:
    answer = api.call("GET", "/x/bare")
    assert answer.status_code == 200
    assert answer.headers["Content-Type"] == "application/json"
    assert answer.json() == {"hello": "world"}
    assert api.call("GET", "/x/text").json() == "just text"


def test_status_headers_and_cookies(api: Api) -> None:
    answer = api.call("GET", "/x/cookies")
    assert answer.status_code == 204
    assert answer.headers["X-Y"] == "z"
    assert answer.headers["Set-Cookie"] == "a=1, b=2"


def test_a_function_error_is_500(api: Api) -> None:
    answer = api.call("GET", "/x/crash")
    assert answer.status_code == 500
    assert answer.json() == {"message": "Internal Server Error"}


def test_no_route_is_404(local_cloud: CloudClients) -> None:
    client = local_cloud.client("apigatewayv2", region=REGION)
    api_id = client.create_api(Name=f"empty-{uuid.uuid4().hex[:8]}", ProtocolType="HTTP")["ApiId"]
    client.create_stage(ApiId=api_id, StageName="$default")
    host = f"{api_id}.execute-api.{REGION}.localhost:{local_cloud.cloud.port}"
    answer = requests.get(f"{local_cloud.endpoint_url}/nothing", headers={"Host": host}, timeout=10)
    assert answer.status_code == 404
    assert answer.json() == {"message": "Not Found"}


def test_the_jwt_authorizer_checks_the_token(api: Api) -> None:
    assert api.call("GET", "/secure").status_code == 401
    wrong_audience = api.tokens.issue_token({"iss": ISSUER, "aud": "other-app"})
    assert api.call("GET", "/secure", headers={"Authorization": wrong_audience}).status_code == 401
    token = api.tokens.issue_token({"iss": ISSUER, "aud": "my-app", "sub": "u-9"})
    answer = api.call("GET", "/secure", headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 200, answer.text
    assert answer.json()["claims"]["sub"] == "u-9"


def test_a_route_with_scopes_needs_one_of_them(api: Api) -> None:
    reader = api.tokens.issue_token({"iss": ISSUER, "aud": "my-app", "scope": "read"})
    denied = api.call("GET", "/admin", headers={"Authorization": f"Bearer {reader}"})
    assert denied.status_code == 403
    assert json.loads(denied.content) == {"message": "Forbidden"}
    admin = api.tokens.issue_token({"iss": ISSUER, "aud": "my-app", "scope": "read admin"})
    assert api.call("GET", "/admin", headers={"Authorization": f"Bearer {admin}"}).ok

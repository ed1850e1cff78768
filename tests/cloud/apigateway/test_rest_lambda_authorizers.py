"""Lambda authorizers of a REST API, TOKEN and REQUEST, over HTTP (API Gateway developer guide,
"Use API Gateway Lambda authorizers"): the identity source checked before the function runs,
the policy's Allow and Deny, "Unauthorized" → 401, a malformed answer → 500, the principal and
context in requestContext.authorizer, and answers cached for the TTL on the cloud's clock."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import pytest
import requests
from test_rest_proxy_events import ECHO, zipped

from basegear.cloud.apigateway.lambda_authorizers import decide
from basegear.cloud.clock import VirtualClock
from basegear.testing import CloudClients

REGION = "eu-west-1"
# Answers by token. "calls" counts this environment's invocations, so that a cached answer
# shows the count of the call that made it.
AUTHORIZER = """
calls = 0
def handler(event, context):
    global calls
    calls += 1
    if event["type"] == "TOKEN":
        token = event["authorizationToken"]
    else:
        token = event["queryStringParameters"]["key"]
    if token == "unauthorized":
        raise Exception("Unauthorized")
    if token == "broken":
        return {"principalId": "x"}
    effect = "Deny" if token == "deny" else "Allow"
    resource = event["methodArn"].rsplit("/", 2)[0] + "/*"
    if token == "elsewhere":
        resource = event["methodArn"].rsplit("/", 2)[0] + "/POST/other"
    policy = {"Version": "2012-10-17", "Statement": [
        {"Action": "execute-api:Invoke", "Effect": effect, "Resource": resource}]}
    return {"principalId": f"user-{token}", "policyDocument": policy,
            "context": {"token": token, "calls": calls, "admin": False, "type": event["type"]}}
"""


@dataclass
class Api:
    endpoint: str
    host: str

    def get(self, path: str, **headers: str) -> requests.Response:
        return requests.get(
            f"{self.endpoint}/dev{path}", headers={"Host": self.host, **headers}, timeout=10
        )


def lambda_function(cloud: CloudClients, role: str, source: str) -> str:
    created = cloud.client("lambda", region=REGION).create_function(
        FunctionName=f"lambda-auth-{uuid.uuid4().hex[:8]}",
        Runtime="python3.12",
        Role=role,
        Handler="handler.handler",
        Code={"ZipFile": zipped(source)},
    )
    return str(created["FunctionArn"])


def invocations(function: str) -> str:
    return f"arn:aws:apigateway:{REGION}:lambda:path/2015-03-31/functions/{function}/invocations"


@pytest.fixture(scope="module")
def api(local_cloud: CloudClients) -> Api:
    iam = local_cloud.client("iam")
    role = iam.create_role(RoleName=f"la-{uuid.uuid4().hex[:8]}", AssumeRolePolicyDocument="{}")
    arn = role["Role"]["Arn"]
    echo, authorize = (
        lambda_function(local_cloud, arn, ECHO),
        lambda_function(local_cloud, arn, AUTHORIZER),
    )
    client = local_cloud.client("apigateway", region=REGION)
    rest = client.create_rest_api(name=f"lambda-auth-{uuid.uuid4().hex[:8]}")
    token = client.create_authorizer(
        restApiId=rest["id"],
        name="token",
        type="TOKEN",
        authorizerUri=invocations(authorize),
        identitySource="method.request.header.Authorization",
        identityValidationExpression="^[a-z-]+$",
        authorizerResultTtlInSeconds=300,
    )
    request = client.create_authorizer(
        restApiId=rest["id"],
        name="request",
        type="REQUEST",
        authorizerUri=invocations(authorize),
        identitySource="method.request.querystring.key",
        authorizerResultTtlInSeconds=0,
    )
    for path, authorizer in (("me", token), ("keyed", request)):
        resource = client.create_resource(
            restApiId=rest["id"], parentId=rest["rootResourceId"], pathPart=path
        )
        where = {"restApiId": rest["id"], "resourceId": resource["id"], "httpMethod": "GET"}
        client.put_method(**where, authorizationType="CUSTOM", authorizerId=authorizer["id"])
        client.put_integration(
            **where, type="AWS_PROXY", integrationHttpMethod="POST", uri=invocations(echo)
        )
    client.create_deployment(restApiId=rest["id"], stageName="dev")
    host = f"{rest['id']}.execute-api.{REGION}.localhost:{local_cloud.cloud.port}"
    return Api(local_cloud.endpoint_url, host)


def authorizer_of(answer: requests.Response) -> dict[str, Any]:
    assert answer.status_code == 200, answer.text
    found: dict[str, Any] = answer.json()["requestContext"]["authorizer"]
    return found


def test_an_allowed_token_reaches_the_function_with_its_principal_and_context(api: Api) -> None:
    seen = authorizer_of(api.get("/me", Authorization="alice"))
    assert seen["principalId"] == "user-alice"
    assert (seen["token"], seen["admin"], seen["type"]) == ("alice", False, "TOKEN")
    assert isinstance(seen["integrationLatency"], int)


def test_an_answer_is_cached_for_its_ttl_on_the_clouds_clock(
    api: Api, manual_clock: VirtualClock
) -> None:
    first = authorizer_of(api.get("/me", Authorization="carol"))["calls"]
    assert authorizer_of(api.get("/me", Authorization="carol"))["calls"] == first
    assert authorizer_of(api.get("/me", Authorization="dave"))["calls"] > first
    manual_clock.advance(301)
    assert authorizer_of(api.get("/me", Authorization="carol"))["calls"] > first


def test_no_token_or_one_the_validation_expression_refuses_is_401(api: Api) -> None:
    for headers in ({}, {"Authorization": "Not Valid!"}):
        answer = api.get("/me", **headers)
        assert (answer.status_code, answer.json()) == (401, {"message": "Unauthorized"})


def test_the_policy_and_the_functions_failures_decide(api: Api) -> None:
    deny = api.get("/me", Authorization="deny")
    assert deny.status_code == 403
    assert deny.json() == {
        "Message": "User is not authorized to access this resource with an explicit deny"
    }
    elsewhere = api.get("/me", Authorization="elsewhere")
    assert (elsewhere.status_code, elsewhere.json()) == (
        403,
        {"Message": "User is not authorized to access this resource"},
    )
    unauthorized = api.get("/me", Authorization="unauthorized")
    assert (unauthorized.status_code, unauthorized.json()) == (401, {"message": "Unauthorized"})
    broken = api.get("/me", Authorization="broken")
    assert (broken.status_code, broken.json()) == (500, {"message": None})
    assert broken.headers["x-amzn-errortype"] == "AuthorizerConfigurationException"


def test_a_request_authorizer_needs_its_identity_source(api: Api) -> None:
    assert api.get("/keyed").status_code == 401
    seen = authorizer_of(api.get("/keyed?key=bob"))
    assert (seen["principalId"], seen["type"]) == ("user-bob", "REQUEST")


def test_an_explicit_deny_wins_and_wildcards_match() -> None:
    arn = "arn:aws:execute-api:eu-west-1:123456789012:abc/dev/GET/me"
    allow = {"Action": "execute-api:*", "Effect": "Allow", "Resource": "arn:aws:execute-api:*"}
    deny = {
        "Action": "execute-api:Invoke",
        "Effect": "Deny",
        "Resource": [arn.replace("GET", "G?T")],
    }
    assert decide({"Statement": [allow]}, arn) == "Allow"
    assert decide({"Statement": [allow, deny]}, arn) == "Deny"
    assert (
        decide({"Statement": {"Action": "s3:*", "Effect": "Allow", "Resource": "*"}}, arn) is None
    )

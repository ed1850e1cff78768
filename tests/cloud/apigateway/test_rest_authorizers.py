"""A Cognito user pool authorizer on a REST API, over HTTP, with tokens from the cloud's local
issuer: no token or a forged one → 401 Unauthorized, an expired one (on the manual clock) →
401 "The incoming token has expired", a valid one → the function sees its claims, as strings,
in requestContext.authorizer.claims. Plus the issuer's own checks (issuer, audience, scope)."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any

import pytest
import requests
from test_rest_proxy_events import ECHO, zipped

from basegear.cloud.apigateway.tokens import TokenError, TokenIssuer
from basegear.cloud.clock import VirtualClock
from basegear.testing import CloudClients

REGION = "eu-west-1"
POOL = "eu-west-1_LocalPool"
ISSUER = f"https://cognito-idp.{REGION}.amazonaws.com/{POOL}"


@dataclass
class Api:
    endpoint: str
    host: str
    tokens: TokenIssuer

    def get(self, token: str | None) -> requests.Response:
        headers = {"Host": self.host}
        if token is not None:
            headers["Authorization"] = token
        return requests.get(f"{self.endpoint}/dev/me", headers=headers, timeout=10)


@pytest.fixture(scope="module")
def api(local_cloud: CloudClients) -> Api:
    iam = local_cloud.client("iam")
    role = iam.create_role(RoleName=f"auth-{uuid.uuid4().hex[:8]}", AssumeRolePolicyDocument="{}")[
        "Role"
    ]["Arn"]
    function = local_cloud.client("lambda", region=REGION).create_function(
        FunctionName=f"auth-echo-{uuid.uuid4().hex[:8]}",
        Runtime="python3.12",
        Role=role,
        Handler="handler.handler",
        Code={"ZipFile": zipped(ECHO)},
    )["FunctionArn"]
    client = local_cloud.client("apigateway", region=REGION)
    rest = client.create_rest_api(name=f"auth-{uuid.uuid4().hex[:8]}")
    authorizer = client.create_authorizer(
        restApiId=rest["id"],
        name="pool",
        type="COGNITO_USER_POOLS",
        providerARNs=[f"arn:aws:cognito-idp:{REGION}:123456789012:userpool/{POOL}"],
        identitySource="method.request.header.Authorization",
    )
    me = client.create_resource(
        restApiId=rest["id"], parentId=rest["rootResourceId"], pathPart="me"
    )
    where = {"restApiId": rest["id"], "resourceId": me["id"], "httpMethod": "GET"}
    client.put_method(
        **where, authorizationType="COGNITO_USER_POOLS", authorizerId=authorizer["id"]
    )
    client.put_integration(
        **where,
        type="AWS_PROXY",
        integrationHttpMethod="POST",
        uri=f"arn:aws:apigateway:{REGION}:lambda:path/2015-03-31/functions/{function}/invocations",
    )
    client.create_deployment(restApiId=rest["id"], stageName="dev")
    services = local_cloud.services
    assert services is not None
    host = f"{rest['id']}.execute-api.{REGION}.localhost:{local_cloud.cloud.port}"
    return Api(local_cloud.endpoint_url, host, services.apigateway.tokens)


def test_no_token_is_401(api: Api) -> None:
    answer = api.get(None)
    assert answer.status_code == 401
    assert answer.json() == {"message": "Unauthorized"}


def test_a_token_of_another_issuer_or_key_is_401(api: Api) -> None:
    other_pool = api.tokens.issue_token({"iss": "https://cognito-idp.x.amazonaws.com/other"})
    assert api.get(other_pool).status_code == 401
    forged = TokenIssuer().issue_token({"iss": ISSUER})
    assert api.get(forged).status_code == 401
    assert api.get("not.a.jwt").status_code == 401


def test_a_valid_token_passes_its_claims_to_the_function(api: Api) -> None:
    token = api.tokens.issue_token(
        {"iss": ISSUER, "sub": "user-1", "email": "a@example.com", "email_verified": True}
    )
    answer = api.get(token)
    assert answer.status_code == 200, answer.text
    claims = answer.json()["requestContext"]["authorizer"]["claims"]
    assert claims["sub"] == "user-1"
    assert claims["email_verified"] == "true"
    assert claims["iss"] == ISSUER
    assert isinstance(claims["exp"], str)
    assert api.get(f"Bearer {token}").status_code == 200


def test_an_expired_token_is_401_expired(api: Api, manual_clock: VirtualClock) -> None:
    token = api.tokens.issue_token({"iss": ISSUER, "sub": "user-2"}, lifetime=60)
    assert api.get(token).status_code == 200
    manual_clock.advance(61)
    answer = api.get(token)
    assert answer.status_code == 401
    assert answer.json() == {"message": "The incoming token has expired"}


def test_the_issuer_checks_audience_and_scopes() -> None:
    issuer = TokenIssuer(clock=lambda: 1_000_000.0)
    token = issuer.issue_token({"iss": "https://x", "aud": "app", "scope": "read write"})
    claims: dict[str, Any] = issuer.verify(
        token, issuers=("https://x",), audiences=("app",), scopes=("write",)
    )
    assert claims["aud"] == "app"
    with pytest.raises(TokenError, match="audience"):
        issuer.verify(token, issuers=("https://x",), audiences=("other",))
    with pytest.raises(TokenError, match="scopes"):
        issuer.verify(token, issuers=(), scopes=("admin",))
    tampered = token.rsplit(".", 1)[0] + "." + token.rsplit(".", 1)[1][::-1]
    with pytest.raises(TokenError):
        issuer.verify(tampered, issuers=())


def test_the_key_set_and_the_saved_key_verify_the_same_tokens() -> None:
    issuer = TokenIssuer()
    restored = TokenIssuer(private_key_pem=issuer.private_key_pem())
    token = issuer.issue_token({"sub": "s"})
    assert restored.verify(token, issuers=())["sub"] == "s"
    (key,) = issuer.jwks()["keys"]
    assert key["kid"] == restored.key_id
    assert key["alg"] == "RS256"
    assert json.loads(json.dumps(key)) == key

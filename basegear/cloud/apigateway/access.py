"""Method request checks before any integration runs: API keys and JWT authorizers.

- API keys (API Gateway developer guide, "Usage plans and API keys"): a method with
  ``apiKeyRequired`` answers 403 ``{"message":"Forbidden"}`` unless ``x-api-key`` holds the
  value of an enabled key of a usage plan bound to the stage.
- Cognito user pool authorizers (REST, "Control access to a REST API using Amazon Cognito user
  pools as authorizer") and JWT authorizers (HTTP APIs): 401 ``{"message":"Unauthorized"}``
  without a valid token, 401 ``{"message":"The incoming token has expired"}`` for an expired
  one (REST); a token missing a required scope is a 403 on HTTP APIs (``"Forbidden"``).
"""

from __future__ import annotations

import json
from typing import Any

from basegear.cloud.apigateway.incoming import Incoming
from basegear.cloud.apigateway.stages import Method, Stage
from basegear.cloud.apigateway.tokens import TokenError, TokenIssuer
from basegear.cloud.protocol import AwsResponse


def error(status: int, message: str, error_type: str) -> AwsResponse:
    return AwsResponse(
        status,
        json.dumps({"message": message}).encode(),
        {"content-type": "application/json", "x-amzn-errortype": error_type},
    )


def forbidden() -> AwsResponse:
    return error(403, "Forbidden", "ForbiddenException")


def unauthorized() -> AwsResponse:
    return error(401, "Unauthorized", "UnauthorizedException")


def missing_token() -> AwsResponse:
    """A path or method no resource serves (API Gateway's answer, for REST APIs)."""
    return error(403, "Missing Authentication Token", "MissingAuthenticationTokenException")


def not_found() -> AwsResponse:
    """No route (HTTP APIs)."""
    return AwsResponse(404, b'{"message":"Not Found"}', {"content-type": "application/json"})


def api_key(
    method: Method, stage: Stage, incoming: Incoming
) -> tuple[str, str] | AwsResponse | None:
    """(value, ID) of the valid key a method that requires one was called with; the 403 for
    an invalid or missing key; None when the method requires none."""
    if not method.api_key_required:
        return None
    value = incoming.headers.get("x-api-key")
    key_id = stage.api_keys.get(value) if value else None
    if value is None or key_id is None:
        return forbidden()
    return value, key_id


def claims(
    method: Method, stage: Stage, incoming: Incoming, issuer: TokenIssuer
) -> dict[str, Any] | AwsResponse | None:
    """The verified claims for a method with a Cognito or JWT authorizer; the 401/403 answer
    when the token is missing or refused; None for a method without one."""
    authorizer = method.authorizer
    if authorizer is None or method.authorization_type not in ("COGNITO_USER_POOLS", "JWT"):
        return None
    token = incoming.headers.get(authorizer.header, "").strip()
    if token[:7].lower() == "bearer ":
        token = token[7:].strip()
    if not token:
        return unauthorized()
    # REST APIs check scopes only for access tokens (methods with authorizationScopes); HTTP
    # APIs check them for any route that lists some.
    try:
        return issuer.verify(
            token,
            issuers=authorizer.issuers,
            audiences=authorizer.audiences,
            scopes=method.scopes if stage.kind == "REST" else (),
        )
    except TokenError as refused:
        if refused.expired and stage.kind == "REST":
            return error(401, "The incoming token has expired", "UnauthorizedException")
        return unauthorized()


def http_scopes(method: Method, verified: dict[str, Any]) -> AwsResponse | None:
    """HTTP APIs: a route with authorization scopes needs one of them in the token's
    ``scope`` claim, else 403."""
    if not method.scopes:
        return None
    granted = str(verified.get("scope", "")).split()
    if any(scope in granted for scope in method.scopes):
        return None
    return forbidden()

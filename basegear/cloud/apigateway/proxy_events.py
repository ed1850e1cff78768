"""Lambda proxy integrations: the event a function receives and how its answer becomes the HTTP
response.

- Payload format 1.0, REST APIs and HTTP APIs configured for it (API Gateway developer guide,
  "Input format of a Lambda function for proxy integration" and "Output format of a Lambda
  function for proxy integration"): a malformed answer is a 502 ``{"message": "Internal server
  error"}``.
- Payload format 2.0, HTTP APIs ("Working with AWS Lambda proxy integrations for HTTP APIs"):
  lower-case headers, cookies apart, ``rawPath``/``rawQueryString``; an answer without
  ``statusCode`` is taken as the body of a 200 JSON response.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import unquote

import orjson

from basegear.cloud.apigateway.incoming import Incoming, claim_text, title_case
from basegear.cloud.protocol import AwsResponse

INTERNAL_ERROR_V1 = b'{"message": "Internal server error"}'
INTERNAL_ERROR_V2 = b'{"message":"Internal Server Error"}'
_V1_KEYS = frozenset({"statusCode", "headers", "multiValueHeaders", "body", "isBase64Encoded"})
_TEXT_TYPES = ("text/", "application/json", "application/xml", "application/javascript")


class MalformedResponseError(ValueError):
    """The function's answer is not a proxy integration response."""


def body_field(incoming: Incoming, binary_media_types: tuple[str, ...]) -> tuple[str | None, bool]:
    """The event's ``body`` and ``isBase64Encoded``: a body of a binary media type (REST APIs:
    the API's ``binaryMediaTypes``), or one that is not UTF-8, is sent base64-encoded."""
    if not incoming.body:
        return None, False
    content_type = incoming.content_type()
    binary = any(
        pattern == "*/*" or pattern == content_type or _wildcard(pattern, content_type)
        for pattern in binary_media_types
    )
    if not binary:
        try:
            return incoming.body.decode("utf-8"), False
        except UnicodeDecodeError:
            pass
    return base64.b64encode(incoming.body).decode("ascii"), True


def _wildcard(pattern: str, content_type: str) -> bool:
    return pattern.endswith("/*") and content_type.startswith(pattern[:-1])


def _v1_headers(incoming: Incoming) -> dict[str, str]:
    """``headers``: a header sent more than once has its last value ("Support for multi-value
    headers and query string parameters"); ``multiValueHeaders`` has them all."""
    headers = {title_case(name): value for name, value in incoming.headers.items()}
    for name, values in incoming.repeated_headers.items():
        headers[title_case(name)] = values[-1]
    headers.setdefault("X-Forwarded-For", incoming.source_ip)
    headers.setdefault("X-Forwarded-Port", incoming.headers.get("host", "").rpartition(":")[2])
    headers.setdefault("X-Forwarded-Proto", "http")
    return headers


def _v1_multi_value_headers(incoming: Incoming, headers: dict[str, str]) -> dict[str, list[str]]:
    multi = {name: [value] for name, value in headers.items()}
    for name, values in incoming.repeated_headers.items():
        multi[title_case(name)] = list(values)
    return multi


def event_v1(
    incoming: Incoming,
    *,
    resource_path: str,
    resource_id: str,
    path_parameters: Mapping[str, str],
    stage_variables: Mapping[str, str],
    binary_media_types: tuple[str, ...] = (),
    api_key: tuple[str, str] | None = None,
    claims: Mapping[str, Any] | None = None,
    authorizer: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The payload format 1.0 event. ``api_key`` is the (value, id) of the key a method that
    requires one was called with; ``claims`` the verified token's claims; ``authorizer`` what
    a Lambda authorizer returned (``Principal.as_authorizer``)."""
    headers = _v1_headers(incoming)
    query = incoming.query
    body, encoded = body_field(incoming, binary_media_types)
    identity: dict[str, Any] = {
        "cognitoIdentityPoolId": None,
        "accountId": None,
        "cognitoIdentityId": None,
        "caller": None,
        "sourceIp": incoming.source_ip,
        "principalOrgId": None,
        "accessKey": None,
        "cognitoAuthenticationType": None,
        "cognitoAuthenticationProvider": None,
        "userArn": None,
        "userAgent": incoming.user_agent,
        "user": None,
    }
    if api_key is not None:
        identity["apiKey"], identity["apiKeyId"] = api_key
    context: dict[str, Any] = {
        "resourceId": resource_id,
        "resourcePath": resource_path,
        "httpMethod": incoming.method,
        "extendedRequestId": incoming.extended_request_id,
        "requestTime": incoming.request_time,
        "path": incoming.stage_path,
        "accountId": incoming.account,
        "protocol": "HTTP/1.1",
        "stage": incoming.stage,
        "domainPrefix": incoming.domain_prefix,
        "requestTimeEpoch": incoming.epoch_ms,
        "requestId": incoming.request_id,
        "identity": identity,
        "domainName": incoming.domain_name,
        "apiId": incoming.api_id,
    }
    if claims is not None:
        context["authorizer"] = {
            "claims": {key: claim_text(value) for key, value in claims.items()}
        }
    if authorizer is not None:
        context["authorizer"] = dict(authorizer)
    return {
        "resource": resource_path,
        "path": unquote(incoming.path),
        "httpMethod": incoming.method,
        "headers": headers,
        "multiValueHeaders": _v1_multi_value_headers(incoming, headers),
        "queryStringParameters": {k: v[-1] for k, v in query.items()} if query else None,
        "multiValueQueryStringParameters": {k: list(v) for k, v in query.items()}
        if query
        else None,
        "pathParameters": dict(path_parameters) if path_parameters else None,
        "stageVariables": dict(stage_variables) if stage_variables else None,
        "requestContext": context,
        "body": body,
        "isBase64Encoded": encoded,
    }


def event_v2(
    incoming: Incoming,
    *,
    route_key: str,
    path_parameters: Mapping[str, str],
    stage_variables: Mapping[str, str],
    claims: Mapping[str, Any] | None = None,
    scopes: tuple[str, ...] = (),
) -> dict[str, Any]:
    """The payload format 2.0 event: headers lower-case with repeated values joined by commas,
    cookies in ``cookies``, query values of a repeated name joined by commas; fields with no
    value are left out."""
    headers = {name: value for name, value in incoming.headers.items() if name != "cookie"}
    headers.setdefault("x-forwarded-for", incoming.source_ip)
    headers.setdefault("x-forwarded-port", incoming.headers.get("host", "").rpartition(":")[2])
    headers.setdefault("x-forwarded-proto", "http")
    context: dict[str, Any] = {
        "accountId": incoming.account,
        "apiId": incoming.api_id,
        "domainName": incoming.domain_name,
        "domainPrefix": incoming.domain_prefix,
        "http": {
            "method": incoming.method,
            "path": unquote(incoming.stage_path),
            "protocol": "HTTP/1.1",
            "sourceIp": incoming.source_ip,
            "userAgent": incoming.user_agent or "",
        },
        "requestId": incoming.extended_request_id,
        "routeKey": route_key,
        "stage": incoming.stage,
        "time": incoming.request_time,
        "timeEpoch": incoming.epoch_ms,
    }
    if claims is not None:
        jwt: dict[str, Any] = {"claims": {k: claim_text(v) for k, v in claims.items()}}
        jwt["scopes"] = list(scopes) if scopes else None
        context["authorizer"] = {"jwt": jwt}
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": route_key,
        "rawPath": unquote(incoming.stage_path),
        "rawQueryString": incoming.raw_query_string(),
    }
    cookie = incoming.headers.get("cookie")
    if cookie:
        event["cookies"] = [part.strip() for part in cookie.split(";") if part.strip()]
    event["headers"] = headers
    if incoming.query:
        event["queryStringParameters"] = {k: ",".join(v) for k, v in incoming.query.items()}
    event["requestContext"] = context
    if path_parameters:
        event["pathParameters"] = dict(path_parameters)
    body, encoded = _v2_body(incoming)
    if body is not None:
        event["body"] = body
    event["isBase64Encoded"] = encoded
    if stage_variables:
        event["stageVariables"] = dict(stage_variables)
    return event


def _v2_body(incoming: Incoming) -> tuple[str | None, bool]:
    """HTTP APIs send a text body as is and anything else base64-encoded ("Working with AWS
    Lambda proxy integrations for HTTP APIs", payload format version 2.0)."""
    if not incoming.body:
        return None, False
    content_type = incoming.content_type()
    if content_type.startswith(_TEXT_TYPES) or content_type.endswith(("+json", "+xml")):
        try:
            return incoming.body.decode("utf-8"), False
        except UnicodeDecodeError:
            pass
    return base64.b64encode(incoming.body).decode("ascii"), True


# -- responses -----------------------------------------------------------------------------


def response_v1(payload: bytes) -> AwsResponse:
    """The HTTP response for a payload format 1.0 answer; raises :class:`MalformedResponseError`."""
    try:
        answer = _parsed(payload) if payload else None
    except ValueError as exc:
        raise MalformedResponseError("the answer is not JSON") from exc
    if not isinstance(answer, dict):
        raise MalformedResponseError("the answer is not a JSON object")
    unknown = answer.keys() - _V1_KEYS
    if unknown:
        raise MalformedResponseError(f"unexpected fields {sorted(unknown)}")
    return _proxy_response(answer, default_status=None)


def response_v2(payload: bytes) -> AwsResponse:
    """The HTTP response for a payload format 2.0 answer: a JSON object with ``statusCode``
    is a response; anything else valid JSON is the body of a 200 ``application/json``
    response."""
    try:
        answer = _parsed(payload) if payload else None
    except ValueError as exc:
        raise MalformedResponseError("the answer is not JSON") from exc
    if not isinstance(answer, dict) or "statusCode" not in answer:
        return AwsResponse(200, payload, {"content-type": "application/json"})
    response = _proxy_response(answer, default_status=200)
    cookies = answer.get("cookies")
    if cookies:
        if not isinstance(cookies, list):
            raise MalformedResponseError("cookies is not a list")
        response.headers["set-cookie"] = ", ".join(str(cookie) for cookie in cookies)
    return response


def _parsed(payload: bytes) -> Any:
    """The function's answer, parsed: by orjson, in a fraction of the time; by the standard
    library when orjson refuses it (``NaN``, integers beyond 64 bits, lone surrogates), so that
    the result is the one ``json.loads`` gives. Raises ValueError if it is not JSON."""
    try:
        return orjson.loads(payload)
    except orjson.JSONDecodeError:
        return json.loads(payload)


def _proxy_response(answer: Mapping[str, Any], *, default_status: int | None) -> AwsResponse:
    status = answer.get("statusCode", default_status)
    if isinstance(status, str) and status.isdigit():
        status = int(status)
    if not isinstance(status, int) or isinstance(status, bool) or not 100 <= status <= 599:
        raise MalformedResponseError(f"statusCode {status!r} is not an HTTP status")
    headers: dict[str, str] = {}
    multi = answer.get("multiValueHeaders") or {}
    single = answer.get("headers") or {}
    if not isinstance(multi, dict) or not isinstance(single, dict):
        raise MalformedResponseError("headers are not an object")
    for name, values in multi.items():
        if not isinstance(values, list):
            raise MalformedResponseError(f"multiValueHeaders.{name} is not a list")
        headers[name.lower()] = ", ".join(_header_text(value) for value in values)
    for name, value in single.items():
        headers[name.lower()] = _header_text(value)
    body = answer.get("body")
    if body is None:
        data = b""
    elif isinstance(body, str):
        data = body.encode("utf-8")
    else:
        raise MalformedResponseError("body is not a string")
    if answer.get("isBase64Encoded") is True:
        try:
            data = base64.b64decode(data, validate=True)
        except binascii.Error as exc:
            raise MalformedResponseError("body is not base64") from exc
    return AwsResponse(status, data, headers)


def _header_text(value: Any) -> str:
    if isinstance(value, dict | list):
        raise MalformedResponseError("a header value is not a scalar")
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)

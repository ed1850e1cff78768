"""CORS of HTTP APIs, from the API's ``CorsConfiguration`` (API Gateway developer guide,
"Configure CORS for HTTP APIs in API Gateway"):

- a preflight request — ``OPTIONS`` with ``Origin`` and ``Access-Control-Request-Method`` —
  that no route takes is answered by API Gateway itself (a ``$default`` route or an ``OPTIONS``
  route takes it otherwise);
- a request with ``Origin`` gets the configured CORS headers on its response; those the
  integration returned are dropped;
- ``allowOrigins`` holds origins, ``*`` for any, or ``https://*`` / ``http://*`` for any origin
  of that scheme. An origin the configuration does not allow gets no CORS headers.

REST APIs have no such setting: their CORS is the ``OPTIONS`` methods and response headers
the template declares.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from basegear.cloud.protocol import AwsResponse


@dataclass(frozen=True)
class Cors:
    allow_origins: tuple[str, ...]
    allow_methods: tuple[str, ...] = ()
    allow_headers: tuple[str, ...] = ()
    expose_headers: tuple[str, ...] = ()
    max_age: int | None = None
    allow_credentials: bool = False


def cors_of(configuration: Mapping[str, Any] | None) -> Cors | None:
    """The ``CorsConfiguration`` of an ApiGatewayV2 ``GetApi`` answer; None without one."""
    if not configuration:
        return None
    max_age = configuration.get("MaxAge")
    return Cors(
        allow_origins=tuple(configuration.get("AllowOrigins") or ()),
        allow_methods=tuple(configuration.get("AllowMethods") or ()),
        allow_headers=tuple(configuration.get("AllowHeaders") or ()),
        expose_headers=tuple(configuration.get("ExposeHeaders") or ()),
        max_age=None if max_age is None else int(max_age),
        allow_credentials=bool(configuration.get("AllowCredentials")),
    )


def is_preflight(method: str, headers: Mapping[str, str]) -> bool:
    return (
        method == "OPTIONS" and "origin" in headers and ("access-control-request-method" in headers)
    )


def preflight(cors: Cors, headers: Mapping[str, str]) -> AwsResponse:
    """API Gateway's own answer to a preflight request no route takes."""
    response = AwsResponse(204, b"", {})
    allowed = _allowed_origin(cors, headers.get("origin", ""))
    if allowed is not None:
        response.headers.update(_origin_headers(cors, allowed))
        if cors.allow_methods:
            response.headers["access-control-allow-methods"] = ",".join(cors.allow_methods)
        if cors.allow_headers:
            response.headers["access-control-allow-headers"] = ",".join(cors.allow_headers)
        if cors.max_age is not None:
            response.headers["access-control-max-age"] = str(cors.max_age)
    return response


def with_cors(cors: Cors, headers: Mapping[str, str], response: AwsResponse) -> AwsResponse:
    """``response`` as API Gateway sends it: without the integration's CORS headers, and
    with the configured ones for a CORS request (one with an allowed ``Origin``)."""
    kept = {k: v for k, v in response.headers.items() if not k.startswith("access-control-")}
    allowed = _allowed_origin(cors, headers.get("origin", ""))
    if allowed is not None:
        kept.update(_origin_headers(cors, allowed))
        if cors.expose_headers:
            kept["access-control-expose-headers"] = ",".join(cors.expose_headers)
    response.headers = kept
    return response


def _allowed_origin(cors: Cors, origin: str) -> str | None:
    """The ``Access-Control-Allow-Origin`` value for ``origin``; None if it is not allowed."""
    if not origin:
        return None
    lowered = origin.lower()
    for allowed in cors.allow_origins:
        if allowed == "*":
            return "*"
        if allowed.endswith("://*") and lowered.startswith(allowed[:-1].lower()):
            return origin
        if allowed.lower() == lowered:
            return origin
    return None


def _origin_headers(cors: Cors, allowed: str) -> dict[str, str]:
    headers = {"access-control-allow-origin": allowed}
    if cors.allow_credentials:
        headers["access-control-allow-credentials"] = "true"
    return headers

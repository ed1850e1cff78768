"""One request to a deployed API as API Gateway sees it, and the values every step derives from
it: the ``$context`` variables (API Gateway developer guide, "$context variables for data
models, authorizers, mapping templates, and access logging") and the request IDs."""

from __future__ import annotations

import functools
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from basegear.cloud import ids

_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


@dataclass(slots=True)
class Incoming:
    """``path`` is the resource part (after the stage), percent-encoded as sent;
    ``stage_path`` the whole path the client asked for (``/<stage>/…`` on an invoke host)."""

    method: str
    path: str
    stage_path: str
    query: Mapping[str, list[str]]
    headers: Mapping[str, str]  # lower-case names
    body: bytes
    api_id: str
    stage: str
    region: str
    account: str
    domain_name: str
    epoch: float  # the cloud's clock, seconds
    source_ip: str = "127.0.0.1"
    repeated_headers: Mapping[str, list[str]] = field(default_factory=dict)  # lower-case names
    request_id: str = field(default_factory=ids.request_id)
    extended_request_id: str = field(default_factory=ids.extended_request_id)

    @property
    def domain_prefix(self) -> str:
        return self.domain_name.split(".", 1)[0]

    @property
    def user_agent(self) -> str | None:
        return self.headers.get("user-agent")

    @property
    def epoch_ms(self) -> int:
        return int(self.epoch * 1000)

    @property
    def request_time(self) -> str:
        """CLF format, ``04/Mar/2020:19:15:17 +0000``: ``$context.requestTime``."""
        return _common_log_time(int(self.epoch))

    def raw_query_string(self) -> str:
        """The query string, re-encoded from its parsed form (the gateway keeps no raw copy)."""
        return "&".join(
            f"{quote(name, safe='')}={quote(value, safe='')}"
            for name, values in self.query.items()
            for value in values
        )

    def content_type(self) -> str:
        """The media type without parameters; ``application/json`` when none is sent, as API
        Gateway assumes for choosing a mapping template."""
        value = self.headers.get("content-type", "")
        return value.split(";", 1)[0].strip().lower() or "application/json"

    def body_text(self) -> str:
        return self.body.decode("utf-8", errors="replace")


@functools.lru_cache(maxsize=4)
def _common_log_time(second: int) -> str:
    """(Remembered: the requests of one second share it.)"""
    moment = time.gmtime(second)
    return (
        f"{moment.tm_mday:02d}/{_MONTHS[moment.tm_mon - 1]}/{moment.tm_year}:"
        f"{moment.tm_hour:02d}:{moment.tm_min:02d}:{moment.tm_sec:02d} +0000"
    )


@functools.lru_cache(maxsize=1024)
def title_case(name: str) -> str:
    """``content-type`` → ``Content-Type``: the gateway lower-cases header names, and the REST
    event shows them as HTTP/1.1 clients commonly send them (remembered: the same few names
    come with every request)."""
    return "-".join(part[:1].upper() + part[1:] for part in name.split("-"))


def context_variables(
    incoming: Incoming,
    *,
    resource_path: str,
    resource_id: str,
    api_key: str | None = None,
    claims: Mapping[str, Any] | None = None,
    authorizer: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The ``$context`` of a REST API mapping template; ``authorizer``: what a Lambda
    authorizer returned (``$context.authorizer.principalId`` and its context's keys)."""
    identity: dict[str, Any] = {
        "sourceIp": incoming.source_ip,
        "userAgent": incoming.user_agent or "",
        "apiKey": api_key or "",
        "accountId": "",
        "caller": "",
        "user": "",
        "userArn": "",
        "cognitoIdentityId": "",
        "cognitoIdentityPoolId": "",
        "cognitoAuthenticationType": "",
        "cognitoAuthenticationProvider": "",
    }
    authorized: dict[str, Any] = dict(authorizer or {})
    if claims is not None:
        authorized["claims"] = {key: claim_text(value) for key, value in claims.items()}
        authorized["principalId"] = ""
    return {
        "accountId": incoming.account,
        "apiId": incoming.api_id,
        "authorizer": authorized,
        "awsEndpointRequestId": incoming.request_id,
        "domainName": incoming.domain_name,
        "domainPrefix": incoming.domain_prefix,
        "extendedRequestId": incoming.extended_request_id,
        "httpMethod": incoming.method,
        "identity": identity,
        "path": incoming.stage_path,
        "protocol": "HTTP/1.1",
        "requestId": incoming.request_id,
        "requestTime": incoming.request_time,
        "requestTimeEpoch": incoming.epoch_ms,
        "resourceId": resource_id,
        "resourcePath": resource_path,
        "stage": incoming.stage,
    }


def claim_text(value: Any) -> str:
    """A claim as a REST API shows it in ``claims``: every value a string."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + " ".join(claim_text(item) for item in value) + "]"
    return str(value)

"""What the gateway hands a provider and what a provider answers: one AWS API request, already
routed to its service, and the HTTP response to send back. Providers are BaseGear's own
implementations of an AWS service (or of some of its actions); what no provider answers goes to
moto."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol


@dataclass(slots=True)
class AwsRequest:
    method: str
    path: str  # without the query string
    query: dict[str, list[str]]
    headers: dict[str, str]  # lower-case names
    body: bytes
    service: str  # the signing name: "lambda", "dynamodb", "cloudformation", …
    region: str
    account: str
    action: str | None = None  # X-Amz-Target's operation or the query protocol's Action, if any
    # A header sent more than once is one comma-joined value in ``headers``; its values, in
    # order, are here too (API Gateway's REST events list them apart).
    repeated_headers: dict[str, list[str]] | None = None
    client_ip: str | None = None  # the address the request came from, when over HTTP


@dataclass(slots=True)
class AwsResponse:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)


class Provider(Protocol):
    """One service (or part of it) served by BaseGear's own code."""

    service: str

    def handle(self, request: AwsRequest) -> AwsResponse | None:
        """The response, or None to let moto answer the request."""
        ...

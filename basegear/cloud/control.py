"""The local cloud's own control API, under ``/_gear/`` on its endpoint (no AWS service has
such a path; requests to it are never journaled):

    GET  /_gear/clock      {"now": epoch seconds, "time": ISO 8601, "mode": "manual"}
    POST /_gear/clock      {"advance": "5m"} and/or {"mode": "manual" | "real" | "fast=N"}
    GET  /_gear/events     the event source mappings with their pollers' status, and the
                           asynchronous invocations waiting
    POST /_gear/redrive    {"queue": name, URL or ARN}: send a dead-letter or on-failure
                           queue's messages back (``events/redrive.py``)
    POST /_gear/token      {"claims": {...}}: a token signed by the cloud's own issuer, which
                           its API Gateway authorizers accept (``apigateway/tokens.py``)

``ControlClient`` is the other side, for ``gear clock``, ``gear events`` and ``gear redrive``.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from basegear.cloud.clock import parse_duration
from basegear.cloud.gateway import CONTROL_PREFIX
from basegear.cloud.protocol import AwsRequest, AwsResponse
from basegear.errors import GearError

if TYPE_CHECKING:
    from basegear.cloud.server import StandardServices

PREFIX = CONTROL_PREFIX


class ControlProvider:
    """A ``protocol.Provider`` for the ``gear`` service (``routing.py`` routes ``/_gear/``
    paths to it)."""

    service = "gear"

    def __init__(self, services: StandardServices) -> None:
        self._services = services

    def handle(self, request: AwsRequest) -> AwsResponse | None:
        what = request.path.removeprefix(PREFIX).strip("/")
        try:
            body = json.loads(request.body or b"{}") if request.method == "POST" else {}
            if not isinstance(body, dict):
                raise GearError("the request body must be a JSON object")
            if what == "clock":
                return _json(200, self._clock(body))
            if what == "events" and request.method == "GET":
                return _json(200, self._events())
            if what == "token" and request.method == "POST":
                claims = body.get("claims", {})
                if not isinstance(claims, dict):
                    raise GearError("claims must be a JSON object")
                return _json(200, {"token": self._services.apigateway.tokens.issue_token(claims)})
            if what == "redrive" and request.method == "POST":
                from basegear.cloud.events.redrive import redrive

                return _json(200, redrive(self._services, str(body.get("queue", ""))))
        except (GearError, ValueError) as exc:
            return _json(400, {"message": str(exc)})
        return _json(404, {"message": f"no such control path: {request.method} {request.path}"})

    def _clock(self, body: dict[str, Any]) -> dict[str, Any]:
        clock = self._services.clock
        if "mode" in body:
            clock.set_mode(str(body["mode"]))
        if "advance" in body:
            clock.advance(parse_duration(str(body["advance"])))
        now = clock.now()
        return {
            "now": now,
            "time": datetime.fromtimestamp(now, UTC).isoformat(timespec="milliseconds"),
            "mode": str(clock.mode),
        }

    def _events(self) -> dict[str, Any]:
        return {
            "EventSourceMappings": self._services.events.status(),
            "AsyncInvocationsPending": self._services.async_invocations.pending(),
        }


class ControlClient:
    """Calls a running local cloud's control API."""

    def __init__(self, endpoint_url: str) -> None:
        self.endpoint_url = endpoint_url.rstrip("/")

    def clock(self, *, advance: str | None = None, mode: str | None = None) -> dict[str, Any]:
        if advance is not None:
            parse_duration(advance)  # a bad duration is refused here, with the same message
        body = {k: v for k, v in (("advance", advance), ("mode", mode)) if v is not None}
        return self._call("POST" if body else "GET", "clock", body)

    def events(self) -> dict[str, Any]:
        return self._call("GET", "events")

    def token(self, claims: dict[str, Any]) -> str:
        token: str = self._call("POST", "token", {"claims": claims})["token"]
        return token

    def redrive(self, queue: str) -> dict[str, Any]:
        return self._call("POST", "redrive", {"queue": queue})

    def _call(self, method: str, what: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        data = json.dumps(body).encode() if method == "POST" else None
        request = urllib.request.Request(
            f"{self.endpoint_url}{PREFIX}{what}",
            data=data,
            method=method,
            headers={"Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=330) as response:
                answer: dict[str, Any] = json.loads(response.read())
                return answer
        except urllib.error.HTTPError as exc:
            try:
                message = json.loads(exc.read()).get("message", str(exc))
            except ValueError:
                message = str(exc)
            raise GearError(message) from exc
        except (urllib.error.URLError, OSError) as exc:
            raise GearError(
                f"no local cloud answers at {self.endpoint_url}",
                hint="start one with gear up, or pass --endpoint URL",
            ) from exc


def _json(status: int, body: dict[str, Any]) -> AwsResponse:
    return AwsResponse(status, json.dumps(body).encode(), {"Content-Type": "application/json"})

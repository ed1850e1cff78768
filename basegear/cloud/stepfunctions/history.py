"""GetExecutionHistory in pages, as Step Functions answers it (Step Functions API reference,
GetExecutionHistory): at most ``maxResults`` events a call (default 100, at most 1,000; 0
means the default), ``nextToken`` while more remain, ``reverseOrder`` for the newest first, and
``includeExecutionData: false`` to leave out inputs and outputs.

moto answers with every event at once; code that reads only the first page works against it
and misses events on AWS as soon as an execution passes 100 events. The whole history is taken
from moto and cut into pages here.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable
from typing import Any

from basegear.cloud.error_responses import aws_error
from basegear.cloud.protocol import AwsRequest, AwsResponse

DEFAULT_PAGE = 100
MAX_PAGE = 1000
_DATA_KEYS = ("input", "output")


def paged_history(
    request: AwsRequest, whole_history: Callable[[AwsRequest], AwsResponse]
) -> AwsResponse:
    """The page ``request`` asks for; ``whole_history`` answers the request with every event
    (moto)."""
    try:
        params = json.loads(request.body or b"{}")
    except ValueError:
        return aws_error(request, 400, "SerializationException", "the body is not JSON")
    size = params.get("maxResults", 0)
    size = DEFAULT_PAGE if size == 0 else size
    if not isinstance(size, int) or isinstance(size, bool) or not 0 < size <= MAX_PAGE:
        bound = "less than or equal to 1000" if isinstance(size, int) else "a number"
        return aws_error(
            request,
            400,
            "ValidationException",
            f"1 validation error detected: Value '{size}' at 'maxResults' failed to satisfy "
            f"constraint: Member must have value {bound}",
        )
    answer = whole_history(request)
    if answer.status != 200:
        return answer
    events: list[dict[str, Any]] = json.loads(answer.body)["events"]
    reverse = bool(params.get("reverseOrder"))
    if reverse:
        events.reverse()
    arn = str(params.get("executionArn", ""))
    start = _start_of(params.get("nextToken"), arn, reverse)
    if start is None:
        return aws_error(request, 400, "InvalidToken", "Invalid Token: the token is not valid")
    page = events[start : start + size]
    if params.get("includeExecutionData") is False:
        page = [_without_data(event) for event in page]
    body: dict[str, Any] = {"events": page}
    if start + size < len(events):
        body["nextToken"] = _token(arn, reverse, start + size)
    headers = {k: v for k, v in answer.headers.items() if k.lower() != "content-length"}
    return AwsResponse(200, json.dumps(body).encode(), headers)


def _token(arn: str, reverse: bool, start: int) -> str:
    """Opaque to the caller; bound to the execution and the order it was asked in."""
    data = json.dumps([_fingerprint(arn, reverse), start]).encode()
    return base64.urlsafe_b64encode(data).decode("ascii")


def _start_of(token: object, arn: str, reverse: bool) -> int | None:
    if token is None:
        return 0
    try:
        fingerprint, start = json.loads(base64.urlsafe_b64decode(str(token).encode("ascii")))
    except (ValueError, TypeError):
        return None
    if fingerprint != _fingerprint(arn, reverse) or not isinstance(start, int) or start < 0:
        return None
    return start


def _fingerprint(arn: str, reverse: bool) -> str:
    return hashlib.sha256(f"{arn}|{reverse}".encode()).hexdigest()[:16]


def _without_data(event: dict[str, Any]) -> dict[str, Any]:
    """An event without the inputs and outputs in its details."""
    trimmed = dict(event)
    for key, details in event.items():
        if key.endswith("EventDetails") and isinstance(details, dict):
            trimmed[key] = {k: v for k, v in details.items() if k not in _DATA_KEYS}
    return trimmed

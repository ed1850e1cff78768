"""What the runtime is asked to run and what it answers: a function version's settings, one
invocation's outcome, and the errors Lambda's Invoke API answers before any code runs."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from basegear.errors import GearError

InvocationType = Literal["RequestResponse", "Event", "DryRun"]

LATEST = "$LATEST"

SYNC_PAYLOAD_LIMIT = 6 * 1024 * 1024
"""Invoke request and response payloads are at most 6 MB for synchronous invocations and
256 KB for asynchronous ones (Lambda developer guide, "Lambda quotas")."""
ASYNC_PAYLOAD_LIMIT = 256 * 1024
RESPONSE_LIMIT = 6291556
"""The number AWS prints in Function.ResponseSizeTooLarge (sic: not 6291456)."""
LOG_TAIL_BYTES = 4096
"""``LogType: Tail`` returns the last 4 KB of the execution log (Lambda API reference, Invoke)."""


@dataclass(slots=True)
class FunctionSpec:
    """One function version as the runtime runs it. Two specs that differ in anything but
    ``reserved_concurrency`` run in different execution environments: a changed setting of
    ``$LATEST`` recycles its warm workers, as an UpdateFunctionConfiguration does on AWS."""

    name: str
    handler: str  # "module.function", the module path may use "/" or "."
    code_dir: Path  # what AWS unpacks into /var/task
    version: str = LATEST
    runtime: str = "python3.11"
    memory_size: int = 128  # MB; AWS default
    timeout: float = 3.0  # seconds; AWS default 3, maximum 900
    environment: dict[str, str] = field(default_factory=dict)
    layers: tuple[Path, ...] = ()  # unpacked layer folders, in the function's order
    region: str = "us-east-1"
    account: str = "123456789012"
    reserved_concurrency: int | None = field(default=None, compare=False)
    watch: bool = True  # check the code's files for edits before each invocation

    @property
    def arn(self) -> str:
        """The unqualified function ARN."""
        return f"arn:aws:lambda:{self.region}:{self.account}:function:{self.name}"

    @property
    def log_group(self) -> str:
        return f"/aws/lambda/{self.name}"


@dataclass(slots=True)
class InvokeResult:
    """The Invoke API's answer. ``payload`` is the handler's JSON result or an AWS-shaped error;
    a function error still answers 200 with ``function_error`` "Unhandled" (Lambda API
    reference, Invoke: "the status code in the API response doesn't reflect function
    errors")."""

    status: int  # 200, 202 (Event) or 204 (DryRun)
    payload: bytes
    request_id: str
    executed_version: str
    function_error: str | None = None
    log: str = ""  # this invocation's log lines, START … REPORT

    def log_result(self) -> str:
        """``X-Amz-Log-Result``: base64 of the last 4 KB of the execution log."""
        tail = self.log.encode("utf-8")[-LOG_TAIL_BYTES:]
        return base64.b64encode(tail).decode("ascii")

    def json(self) -> object:
        """The payload decoded (tests and in-process callers)."""
        return json.loads(self.payload) if self.payload else None


class InvokeError(GearError):
    """Lambda refused the invocation before running any code; ``code`` and ``status`` are the
    AWS error code and HTTP status the Invoke API answers with."""

    code = "ServiceException"
    status = 500

    def aws_body(self) -> dict[str, str]:
        return {"Type": "User", "message": self.message}


class TooManyRequestsError(InvokeError):
    """HTTP 429: the function's reserved concurrency, or the account's unreserved concurrency,
    is in use (Lambda API reference, Invoke, TooManyRequestsException)."""

    code = "TooManyRequestsException"
    status = 429

    def __init__(self, reason: str) -> None:
        super().__init__("Rate Exceeded.")
        self.reason = reason

    def aws_body(self) -> dict[str, str]:
        return {"Reason": self.reason, "Type": "User", "message": self.message}


class RequestTooLargeError(InvokeError):
    """HTTP 413: the request payload is over the invocation type's limit."""

    code = "RequestTooLargeException"
    status = 413


class InvalidRequestContentError(InvokeError):
    """HTTP 400: the payload is not JSON (Lambda API reference, Invoke)."""

    code = "InvalidRequestContentException"
    status = 400


class InvalidRuntimeError(InvokeError):
    """HTTP 502: BaseGear runs Python functions only."""

    code = "InvalidRuntimeException"
    status = 502


class ShuttingDownError(InvokeError):
    """HTTP 500 ServiceException: the local cloud stopped before the invocation could finish,
    or while it was being admitted. ServiceException is the Invoke API's answer when "the
    service encountered an internal error" (Lambda API reference, Invoke, Errors); its body
    says ``"Type": "Service"``, as a fault on the service's side rather than the caller's."""

    code = "ServiceException"
    status = 500

    def __init__(self) -> None:
        super().__init__("The local cloud is shutting down.")

    def aws_body(self) -> dict[str, str]:
        return {"Type": "Service", "message": self.message}

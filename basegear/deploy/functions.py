"""Deployed functions from the command line: ``gear invoke`` and ``gear logs``.

A function is named as in ``serverless.yml`` (its key, ``objects-processor``) when the service
folder is at hand, which gives its deployed name (``<service>-<stage>-<key>`` or ``name``) and
region; any other name is used as the deployed name itself.

Invoke answers as the Lambda API does (Lambda API reference, Invoke): a function error is still
HTTP 200, with ``FunctionError`` set and the error as the payload (``errorMessage``,
``errorType``, ``stackTrace``). Logs are the function's CloudWatch Logs group,
``/aws/lambda/<name>``, read with FilterLogEvents (every page, interleaved across streams);
``follow`` polls for new events until interrupted."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from basegear.config.variables import Options
from basegear.deploy.target import Target, aws_errors, error_code
from basegear.errors import GearError

DEFAULT_REGION = "us-east-1"


@dataclass(frozen=True)
class FunctionRef:
    name: str  # the deployed name
    region: str


@dataclass(frozen=True)
class Invoked:
    status: int
    payload: bytes
    function_error: str | None
    executed_version: str | None

    def error_summary(self) -> str:
        """``KeyError: 'missing'`` from an AWS error payload."""
        try:
            error = json.loads(self.payload)
        except ValueError:
            return self.payload.decode("utf-8", errors="replace")[:200]
        if not isinstance(error, dict):
            return str(error)[:200]
        return f"{error.get('errorType', 'Error')}: {error.get('errorMessage', '')}"

    def pretty(self) -> str:
        """The payload as indented JSON when it is JSON, else as it came."""
        text = self.payload.decode("utf-8", errors="replace")
        try:
            return json.dumps(json.loads(text), indent=2, ensure_ascii=False)
        except ValueError:
            return text


@dataclass(frozen=True)
class LogEvent:
    timestamp: int  # milliseconds since the epoch
    stream: str
    message: str
    event_id: str


def function_ref(name: str, folder: Path | None, *, options: Options) -> FunctionRef:
    """``name`` as a key of the service in ``folder`` (when there is one) or as a deployed
    name; the region is ``--region``, else the service's, else us-east-1."""
    from basegear.config.service import SERVICE_FILES, load_service

    if folder is not None and any((folder / file).is_file() for file in SERVICE_FILES):
        service = load_service(folder, options).model
        deployed = service.function_name(name) if name in service.functions else name
        return FunctionRef(deployed, options.region or service.provider.region)
    return FunctionRef(name, options.region or DEFAULT_REGION)


def read_payload(data: str | None, path: Path | None) -> bytes:
    """The event: ``--data`` JSON, ``--path`` a JSON file, else ``{}``."""
    if data is not None and path is not None:
        raise GearError("give the event with --data or with --path, not both")
    if path is not None:
        try:
            data = path.read_text()
        except OSError as exc:
            raise GearError(f"cannot read {path}: {exc.strerror}", hint="give a JSON file") from exc
    if data is None:
        return b"{}"
    try:
        json.loads(data)
    except ValueError as exc:
        where = str(path) if path is not None else "--data"
        raise GearError(
            f"{where} is not JSON: {exc}", hint="Lambda events are JSON, e.g. '{\"key\": 1}'"
        ) from exc
    return data.encode()


def invoke(target: Target, function: FunctionRef, payload: bytes, invocation_type: str) -> Invoked:
    client = target.client("lambda")
    with aws_errors(target, f"invoking {function.name}"):
        answer = client.invoke(
            FunctionName=function.name, InvocationType=invocation_type, Payload=payload
        )
    return Invoked(
        status=int(answer["StatusCode"]),
        payload=answer["Payload"].read() if "Payload" in answer else b"",
        function_error=answer.get("FunctionError"),
        executed_version=answer.get("ExecutedVersion"),
    )


def read_logs(
    target: Target,
    function: FunctionRef,
    *,
    follow: bool = False,
    start_ms: int | None = None,
    poll: float = 0.5,
    sleep: Callable[[float], None] = time.sleep,
    keep_going: Callable[[], bool] = lambda: True,
) -> Iterator[LogEvent]:
    """The function's log events, oldest first; with ``follow``, then the new ones as they
    come, while ``keep_going()``."""
    from botocore.exceptions import ClientError

    client = target.client("logs")
    group = f"/aws/lambda/{function.name}"
    seen: set[str] = set()
    since = start_ms
    while True:
        try:
            with aws_errors(target, f"reading the logs of {function.name}"):
                for event in _filtered(client, group, since):
                    if event.event_id not in seen:
                        seen.add(event.event_id)
                        since = max(since or 0, event.timestamp)
                        yield event
        except GearError as exc:
            cause = exc.__cause__
            if not (
                isinstance(cause, ClientError) and error_code(cause) == "ResourceNotFoundException"
            ):
                raise
            if not follow:
                raise GearError(
                    f"{function.name} has no logs yet ({group} does not exist)",
                    hint=f"invoke it first: gear invoke -f {function.name}",
                ) from None
        if not follow or not keep_going():
            return
        sleep(poll)


def log_line(event: LogEvent) -> str:
    """``2024-01-01 12:00:00.123  message``, in local time."""
    from datetime import datetime

    moment = datetime.fromtimestamp(event.timestamp / 1000)
    stamp = f"{moment:%Y-%m-%d %H:%M:%S}.{event.timestamp % 1000:03d}  "
    # A multi-line message (a traceback) keeps its lines under the first one.
    lines = event.message.rstrip().replace("\r", "\n").split("\n")
    return stamp + ("\n" + " " * len(stamp)).join(lines)


def _filtered(client: Any, group: str, since: int | None) -> Iterator[LogEvent]:
    token: str | None = None
    while True:
        extra: dict[str, Any] = {"nextToken": token} if token else {}
        if since is not None:
            extra["startTime"] = since
        page = client.filter_log_events(logGroupName=group, **extra)
        for item in page.get("events", []):
            yield LogEvent(
                timestamp=int(item["timestamp"]),
                stream=item.get("logStreamName", ""),
                message=item.get("message", ""),
                event_id=item.get("eventId") or f"{item['timestamp']}:{item.get('message')}",
            )
        token = page.get("nextToken")
        if not token:
            return

"""The Lambda API actions BaseGear answers itself, before moto:

- ``Invoke`` — the fast path: straight to the runtime, no moto request dispatch; payload and
  headers as AWS sends them (``X-Amz-Function-Error``, ``X-Amz-Executed-Version``,
  ``X-Amz-Log-Result`` for ``LogType: Tail``), alias routing weights applied. A synchronous
  call that finds a warm worker idle runs on the gateway's event loop (``handle_async``), with
  no thread hop; anything else runs in the provider's own thread pool;
- ``ListVersionsByFunction`` and ``ListAliases`` — paged at 50 with ``Marker``/``NextMarker``
  (moto returns every item in one page);
- ``PublishVersion`` — returns the last version when nothing changed, refuses a stale
  ``CodeSha256``.

Everything else returns None and moto answers it.

``TelemetryReads`` makes a read of CloudWatch Logs or metrics first deliver what the runtime
has queued for them, so a client reads its own invocations' logs at once.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextvars
import json
import random
import re
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from basegear.cloud.lambdas.runtime import AsyncInvoker, LambdaRuntime
from basegear.cloud.lambdas.spec import (
    InvocationType,
    InvokeError,
    InvokeResult,
    ShuttingDownError,
)
from basegear.cloud.lambdas.telemetry import BackgroundSink
from basegear.cloud.motoshim.awslambda import (
    LambdaApiError,
    MotoLambda,
    alias_configurations,
    backend_for,
    configuration,
    split_function_name,
    version_configurations,
)
from basegear.cloud.motoshim.cloudwatch_sinks import CloudWatchLogsSink, CloudWatchMetricSink
from basegear.cloud.protocol import AwsRequest, AwsResponse

PAGE_SIZE = 50
"""ListVersionsByFunction returns at most 50 versions per call, whatever MaxItems says
(Lambda API reference, ListVersionsByFunction); ListAliases is paged the same way here."""

_PATH = re.compile(
    r"^/2015-03-31/functions/(?P<name>[^/]+)/(?P<what>invocations|versions|aliases)/?$"
)
_INVOCATION_TYPES = ("RequestResponse", "Event", "DryRun")
_READS = ("Get", "Filter", "Describe", "List", "StartQuery")
_LOOP_PAYLOAD_LIMIT = 256 * 1024
"""Larger payloads are sent to the worker from a thread: a write that size could wait on the
worker's reading, and the event loop must not."""


class LambdaService:
    """Lambda in a local cloud, assembled: the runtime (handlers call back ``endpoint_url``),
    moto's invoke paths plugged into it, this module's providers, and logs and metrics written
    to moto's CloudWatch in batches from one background thread. Register every one of
    ``providers`` with the cloud; ``start()`` once the cloud listens; ``close()`` before it
    stops (invocations in flight then answer 500 ServiceException)."""

    def __init__(
        self,
        endpoint_url: str,
        *,
        cache_dir: Path,
        code_folders: Mapping[str, Path] | None = None,
        layer_folders: Mapping[str, Path] | None = None,
        account_limit: int = 1000,
        rng: random.Random | None = None,
        async_invoker: Callable[[LambdaRuntime], AsyncInvoker] | None = None,
    ) -> None:
        self.sink = BackgroundSink(logs=CloudWatchLogsSink(), metrics=CloudWatchMetricSink())
        self.runtime = LambdaRuntime(
            endpoint_url=endpoint_url,
            account_limit=account_limit,
            log_sink=self.sink,
            metric_sink=self.sink,
            async_invoker=async_invoker,
        )
        self.plug = MotoLambda(
            self.runtime,
            cache_dir=cache_dir,
            code_folders=code_folders,
            layer_folders=layer_folders,
            rng=rng,
        )
        self.provider = LambdaApiProvider(self.plug)
        self.providers = (
            self.provider,
            TelemetryReads("logs", self.sink),
            TelemetryReads("monitoring", self.sink),
        )

    def start(self) -> None:
        self.plug.install()
        self.runtime.start()

    def flush(self, timeout: float = 10.0) -> bool:
        """Deliver the logs and metrics queued so far to CloudWatch; True once written."""
        return self.sink.flush(timeout)

    def close(self) -> None:
        self.plug.uninstall()
        self.runtime.close()
        self.provider.close()
        self.sink.close()


class TelemetryReads:
    """A provider for ``logs`` or ``monitoring`` (CloudWatch) that answers nothing itself: before
    a read action reaches moto, it has the runtime's queued logs and metrics delivered. It runs
    on the event loop and waits only when something is queued, for as long as writing it into
    moto takes (milliseconds)."""

    blocking = False

    def __init__(self, service: str, sink: BackgroundSink) -> None:
        self.service = service
        self._sink = sink

    def handle(self, request: AwsRequest) -> None:
        # CloudWatch's smithy-rpc-v2-cbor protocol names the action in the path only.
        action = request.action or request.path.rpartition("/operation/")[2]
        if action.startswith(_READS):
            # Bounded: the writer may itself be running a function (a log subscription).
            self._sink.flush(timeout=2.0)
        return None


class LambdaApiProvider:
    """A ``protocol.Provider`` for the ``lambda`` service. The gateway awaits ``handle_async``
    on its event loop; ``handle`` blocks (it runs handlers) and is called from a thread: this
    provider's pool (``threads``), or an in-process caller's own thread."""

    service = "lambda"

    def __init__(self, plug: MotoLambda, *, threads: int = 64) -> None:
        self._plug = plug
        self._executor = ThreadPoolExecutor(threads, thread_name_prefix="gear-lambda")
        self._routes: dict[tuple[str, str], Callable[[AwsRequest, str], AwsResponse | None]] = {
            ("POST", "invocations"): self.invoke,
            ("GET", "versions"): self.list_versions_by_function,
            ("GET", "aliases"): self.list_aliases,
            ("POST", "versions"): self.publish_version,
        }

    def handle(self, request: AwsRequest) -> AwsResponse | None:
        match = _PATH.match(request.path)
        self._note_write(request, match)
        if match is None:
            return None
        action = self._routes.get((request.method, match["what"]))
        if action is None:
            return None
        try:
            return action(request, match["name"])
        except LambdaApiError as exc:
            return _error(exc.status, exc.code, {"Type": "User", "message": exc.message})
        except InvokeError as exc:
            return _error(exc.status, exc.code, exc.aws_body())

    async def handle_async(self, request: AwsRequest) -> AwsResponse | None:
        """On the event loop: a RequestResponse Invoke with a warm worker idle runs here, the
        loop watching the worker's socket; every other action of ours goes to the pool."""
        match = _PATH.match(request.path)
        self._note_write(request, match)
        if match is None or (request.method, match["what"]) not in self._routes:
            return None
        if request.method == "POST" and match["what"] == "invocations":
            try:
                answer = await self._invoke_warm(request, match["name"])
            except LambdaApiError as exc:
                return _error(exc.status, exc.code, {"Type": "User", "message": exc.message})
            except InvokeError as exc:
                return _error(exc.status, exc.code, exc.aws_body())
            if answer is not None:
                return answer
        loop = asyncio.get_running_loop()
        context = contextvars.copy_context()  # as the gateway's pool runs calls
        try:
            return await loop.run_in_executor(self._executor, context.run, self.handle, request)
        except RuntimeError:  # the pool is shut down: close() has run
            error = ShuttingDownError()
            return _error(error.status, error.code, error.aws_body())

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)

    def _note_write(self, request: AwsRequest, match: re.Match[str] | None) -> None:
        """Any request but a read or an Invoke may change a function, a version, an alias or a
        setting: what the plug remembers of them is dropped."""
        if request.method not in ("GET", "HEAD") and not (
            match is not None and match["what"] == "invocations"
        ):
            self._plug.forget()

    def invoke(self, request: AwsRequest, name: str) -> AwsResponse:
        """Invoke (Lambda API reference): 200 with the result or a function error, 202 for
        Event, 204 for DryRun."""
        invocation_type = _invocation_type(request)
        client_context = _client_context(request)
        backend = backend_for(request.account, request.region)
        target = self._plug.resolve(backend, name, _first(request, "Qualifier"))
        result = self._plug.invoke(
            target, request.body, invocation_type=invocation_type, client_context=client_context
        )
        return _invoked(request, result)

    async def _invoke_warm(self, request: AwsRequest, name: str) -> AwsResponse | None:
        """``invoke`` on the loop, or None when it has to run on a thread."""
        if _invocation_type(request) != "RequestResponse":
            return None
        if len(request.body) > _LOOP_PAYLOAD_LIMIT:
            return None
        client_context = _client_context(request)
        backend = backend_for(request.account, request.region)
        target = self._plug.resolve(backend, name, _first(request, "Qualifier"))
        result = await self._plug.invoke_warm(target, request.body, client_context=client_context)
        return None if result is None else _invoked(request, result)

    def list_versions_by_function(self, request: AwsRequest, name: str) -> AwsResponse:
        versions = version_configurations(backend_for(request.account, request.region), name)
        return _page(request, "Versions", versions, key="Version")

    def list_aliases(self, request: AwsRequest, name: str) -> AwsResponse:
        backend = backend_for(request.account, request.region)
        aliases = alias_configurations(backend, name, _first(request, "FunctionVersion"))
        return _page(request, "Aliases", aliases, key="Name")

    def publish_version(self, request: AwsRequest, name: str) -> AwsResponse:
        try:
            body: dict[str, Any] = json.loads(request.body or b"{}")
        except ValueError as exc:
            raise LambdaApiError(400, "SerializationException", "Invalid JSON body") from exc
        function_name, qualifier = split_function_name(name)
        if qualifier is not None:
            return _error(
                400, "InvalidParameterValueException", {"message": "Cannot provide qualifier"}
            )
        backend = backend_for(request.account, request.region)
        version = self._plug.publish_version(
            backend, function_name, body.get("Description", ""), body.get("CodeSha256")
        )
        return _json(201, configuration(version))


def _invocation_type(request: AwsRequest) -> InvocationType:
    invocation_type = request.headers.get("x-amz-invocation-type", "RequestResponse")
    if invocation_type not in _INVOCATION_TYPES:
        raise LambdaApiError(
            400, "InvalidParameterValueException", f"Invalid InvocationType {invocation_type}"
        )
    return invocation_type  # type: ignore[return-value]


def _client_context(request: AwsRequest) -> str | None:
    """``X-Amz-Client-Context``, base64 of JSON, decoded."""
    encoded = request.headers.get("x-amz-client-context")
    if not encoded:
        return None
    try:
        return base64.b64decode(encoded).decode() or None
    except (binascii.Error, UnicodeDecodeError) as exc:
        raise LambdaApiError(
            400, "InvalidRequestContentException", "Client context must be base64"
        ) from exc


def _invoked(request: AwsRequest, result: InvokeResult) -> AwsResponse:
    out = {"x-amzn-RequestId": result.request_id}
    if result.status == 200:
        out["Content-Type"] = "application/json"
        out["X-Amz-Executed-Version"] = result.executed_version
        if result.function_error:
            out["X-Amz-Function-Error"] = result.function_error
        if request.headers.get("x-amz-log-type") == "Tail":
            out["X-Amz-Log-Result"] = result.log_result()
    return AwsResponse(result.status, result.payload, out)


def _first(request: AwsRequest, name: str) -> str | None:
    values = request.query.get(name)
    return values[0] if values else None


def _page(request: AwsRequest, field: str, items: list[dict[str, Any]], *, key: str) -> AwsResponse:
    """One page of ``items`` after ``Marker`` (the key of the first item of the page, as our
    NextMarker gives it), at most ``MaxItems`` and at most 50."""
    max_items = _first(request, "MaxItems")
    try:
        size = min(PAGE_SIZE, int(max_items)) if max_items is not None else PAGE_SIZE
    except ValueError:
        size = 0
    if size < 1:
        return _error(
            400,
            "InvalidParameterValueException",
            {"Type": "User", "message": "MaxItems must be between 1 and 10000"},
        )
    start = 0
    marker = _first(request, "Marker")
    if marker:
        keys = [str(item[key]) for item in items]
        start = keys.index(marker) if marker in keys else _after(keys, marker)
    page: dict[str, Any] = {field: items[start : start + size]}
    if start + size < len(items):
        page["NextMarker"] = str(items[start + size][key])
    return _json(200, page)


def _after(keys: list[str], marker: str) -> int:
    """Where a marker whose item has since been deleted would have been."""
    if marker.isdigit():
        for index, value in enumerate(keys):
            if value.isdigit() and int(value) > int(marker):
                return index
        return len(keys)
    return next((i for i, value in enumerate(keys) if value > marker), len(keys))


def _json(status: int, body: dict[str, Any]) -> AwsResponse:
    return AwsResponse(status, json.dumps(body).encode(), {"Content-Type": "application/json"})


def _error(status: int, code: str, body: dict[str, str]) -> AwsResponse:
    headers = {"Content-Type": "application/json", "x-amzn-ErrorType": code}
    return AwsResponse(status, json.dumps(body).encode(), headers)

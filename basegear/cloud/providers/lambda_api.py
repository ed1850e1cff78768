"""The Lambda API actions BaseGear answers itself, before moto:

- ``Invoke`` — the fast path: straight to the runtime, no moto request dispatch; payload and
  headers as AWS sends them (``X-Amz-Function-Error``, ``X-Amz-Executed-Version``,
  ``X-Amz-Log-Result`` for ``LogType: Tail``), alias routing weights applied;
- ``ListVersionsByFunction`` and ``ListAliases`` — paged at 50 with ``Marker``/``NextMarker``
  (moto returns every item in one page);
- ``PublishVersion`` — returns the last version when nothing changed, refuses a stale
  ``CodeSha256``.

Everything else returns None and moto answers it.
"""

from __future__ import annotations

import base64
import binascii
import json
import random
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from basegear.cloud.lambdas.runtime import LambdaRuntime
from basegear.cloud.lambdas.spec import InvocationType, InvokeError
from basegear.cloud.lambdas.telemetry import BackgroundSink
from basegear.cloud.motoshim.awslambda import (
    CloudWatchLogsSink,
    CloudWatchMetricSink,
    LambdaApiError,
    MotoLambda,
    alias_configurations,
    backend_for,
    configuration,
    split_function_name,
    version_configurations,
)
from basegear.cloud.protocol import AwsRequest, AwsResponse

PAGE_SIZE = 50
"""ListVersionsByFunction returns at most 50 versions per call, whatever MaxItems says
(Lambda API reference, ListVersionsByFunction); ListAliases is paged the same way here."""

_PATH = re.compile(
    r"^/2015-03-31/functions/(?P<name>[^/]+)/(?P<what>invocations|versions|aliases)/?$"
)
_INVOCATION_TYPES = ("RequestResponse", "Event", "DryRun")


class LambdaService:
    """Lambda in a local cloud, assembled: the runtime (handlers call back ``endpoint_url``),
    moto's invoke paths plugged into it, this module's provider, and logs and metrics written
    to moto's CloudWatch from one background thread. ``start()`` once the cloud listens;
    ``close()`` when it stops."""

    def __init__(
        self,
        endpoint_url: str,
        *,
        cache_dir: Path,
        code_folders: Mapping[str, Path] | None = None,
        layer_folders: Mapping[str, Path] | None = None,
        account_limit: int = 1000,
        rng: random.Random | None = None,
    ) -> None:
        self.sink = BackgroundSink(logs=CloudWatchLogsSink(), metrics=CloudWatchMetricSink())
        self.runtime = LambdaRuntime(
            endpoint_url=endpoint_url,
            account_limit=account_limit,
            log_sink=self.sink,
            metric_sink=self.sink,
        )
        self.plug = MotoLambda(
            self.runtime,
            cache_dir=cache_dir,
            code_folders=code_folders,
            layer_folders=layer_folders,
            rng=rng,
        )
        self.provider = LambdaApiProvider(self.plug)

    def start(self) -> None:
        self.plug.install()
        self.runtime.start()

    def close(self) -> None:
        self.plug.uninstall()
        self.runtime.close()
        self.sink.close()


class LambdaApiProvider:
    """A ``protocol.Provider`` for the ``lambda`` service. It runs handlers, so the gateway
    must call it from its thread pool (the default)."""

    service = "lambda"

    def __init__(self, plug: MotoLambda) -> None:
        self._plug = plug
        self._routes: dict[tuple[str, str], Callable[[AwsRequest, str], AwsResponse | None]] = {
            ("POST", "invocations"): self.invoke,
            ("GET", "versions"): self.list_versions_by_function,
            ("GET", "aliases"): self.list_aliases,
            ("POST", "versions"): self.publish_version,
        }

    def handle(self, request: AwsRequest) -> AwsResponse | None:
        match = _PATH.match(request.path)
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

    def invoke(self, request: AwsRequest, name: str) -> AwsResponse:
        """Invoke (Lambda API reference): 200 with the result or a function error, 202 for
        Event, 204 for DryRun."""
        headers = request.headers
        invocation_type = headers.get("x-amz-invocation-type", "RequestResponse")
        if invocation_type not in _INVOCATION_TYPES:
            raise LambdaApiError(
                400, "InvalidParameterValueException", f"Invalid InvocationType {invocation_type}"
            )
        client_context = headers.get("x-amz-client-context")
        if client_context:
            try:
                client_context = base64.b64decode(client_context).decode()
            except (binascii.Error, UnicodeDecodeError) as exc:
                raise LambdaApiError(
                    400, "InvalidRequestContentException", "Client context must be base64"
                ) from exc
        backend = backend_for(request.account, request.region)
        target = self._plug.resolve(backend, name, _first(request, "Qualifier"))
        kind: InvocationType = invocation_type  # type: ignore[assignment]
        result = self._plug.invoke(
            target, request.body, invocation_type=kind, client_context=client_context or None
        )
        out = {"x-amzn-RequestId": result.request_id}
        if result.status == 200:
            out["Content-Type"] = "application/json"
            out["X-Amz-Executed-Version"] = result.executed_version
            if result.function_error:
                out["X-Amz-Function-Error"] = result.function_error
            if headers.get("x-amz-log-type") == "Tail":
                out["X-Amz-Log-Result"] = result.log_result()
        return AwsResponse(result.status, result.payload, out)

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

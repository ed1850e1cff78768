"""``ListEventSourceMappings`` and ``GetEventSourceMapping`` of the Lambda API, answered from the
``EventSourceMappingStore`` the CloudFormation provider fills (the mappings a stack declares
are kept there, not in moto: see ``cloudformation/resources/mappings.py``), together with the
mappings moto holds (those a client created through the API).

List filters by ``FunctionName`` (a name, a partial or full ARN; with a qualifier only that
version or alias) and ``EventSourceArn``, and pages with ``Marker``/``NextMarker`` at
``MaxItems`` (1-10000, default 100) — Lambda API reference, ListEventSourceMappings."""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Any

from basegear.cloud.cloudformation.resources.mappings import EventSourceMappingStore
from basegear.cloud.motoshim.awslambda import backend_for
from basegear.cloud.protocol import AwsRequest, AwsResponse

_PATH = re.compile(r"^/2015-03-31/event-source-mappings/?(?P<uuid>[^/]*)$")
DEFAULT_PAGE = 100


class EventSourceMappingsProvider:
    """A ``protocol.Provider`` for the ``lambda`` service: in-memory reads only, so it answers
    on the gateway's event loop."""

    service = "lambda"
    blocking = False

    def __init__(self, store: EventSourceMappingStore) -> None:
        self._store = store

    def handle(self, request: AwsRequest) -> AwsResponse | None:
        match = _PATH.match(request.path)
        if match is None or request.method != "GET":
            return None
        if match["uuid"]:
            config = self._store.get(match["uuid"])
            return None if config is None else _json(200, _shaped(config))  # None: moto's
        return self._list(request)

    def _list(self, request: AwsRequest) -> AwsResponse:
        try:
            size = int(_first(request, "MaxItems") or DEFAULT_PAGE)
            start = int(_first(request, "Marker") or 0)
        except ValueError:
            size = 0
            start = 0
        if not 1 <= size <= 10000:
            return _error("MaxItems must be between 1 and 10000")
        wanted_function = _function_arn(request, _first(request, "FunctionName"))
        wanted_source = _first(request, "EventSourceArn")
        prefix = f"arn:aws:lambda:{request.region}:{request.account}:function:"
        found = [
            _shaped(config)
            for config in self._store.list()
            if config["FunctionArn"].startswith(prefix)
            and _function_matches(config["FunctionArn"], wanted_function)
            and wanted_source in (None, config["EventSourceArn"])
        ]
        backend = backend_for(request.account, request.region)
        for mapping in backend.list_event_source_mappings(wanted_source, None):
            config = mapping.get_configuration()
            if _function_matches(config["FunctionArn"], wanted_function):
                found.append(config)
        page: dict[str, Any] = {"EventSourceMappings": found[start : start + size]}
        if start + size < len(found):
            page["NextMarker"] = str(start + size)
        return _json(200, page)


def _function_arn(request: AwsRequest, name: str | None) -> str | None:
    """A FunctionName parameter as an ARN: ``my-fn``, ``my-fn:prod``,
    ``123456789012:function:my-fn`` or the ARN itself."""
    if not name:
        return None
    if name.startswith("arn:"):
        return name
    if ":function:" in name:
        return f"arn:aws:lambda:{request.region}:{name}"
    return f"arn:aws:lambda:{request.region}:{request.account}:function:{name}"


def _function_matches(arn: str, wanted: str | None) -> bool:
    """An unqualified ``wanted`` matches the function's every version and alias."""
    if wanted is None or arn == wanted:
        return True
    return wanted.count(":") == 6 and arn.startswith(wanted + ":")


def _shaped(config: dict[str, Any]) -> dict[str, Any]:
    """The store's config as the API's JSON: ``LastModified`` in epoch seconds."""
    shaped = dict(config)
    modified = shaped.get("LastModified")
    if isinstance(modified, datetime):
        shaped["LastModified"] = modified.timestamp()
    return shaped


def _first(request: AwsRequest, name: str) -> str | None:
    values = request.query.get(name)
    return values[0] if values else None


def _json(status: int, body: dict[str, Any]) -> AwsResponse:
    return AwsResponse(status, json.dumps(body).encode(), {"Content-Type": "application/json"})


def _error(message: str) -> AwsResponse:
    code = "InvalidParameterValueException"
    body = json.dumps({"Type": "User", "message": message}).encode()
    return AwsResponse(400, body, {"Content-Type": "application/json", "x-amzn-ErrorType": code})

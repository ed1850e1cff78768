"""The event source mapping actions of the Lambda API, answered from the
``EventSourceMappingStore`` that stacks fill too (mappings are kept there, not in moto: see
``cloudformation/resources/mappings.py``), so that BaseGear's pollers serve every mapping:

- ``CreateEventSourceMapping`` (POST), ``UpdateEventSourceMapping`` (PUT) and
  ``DeleteEventSourceMapping`` (DELETE) answer 202 with the configuration and its transitional
  state (``Creating``, ``Updating``, ``Deleting``), as Lambda does; a second mapping of the same
  function and queue is refused with ResourceConflictException;
- ``GetEventSourceMapping`` and ``ListEventSourceMappings``, with the mappings moto holds (none,
  unless created with moto's own API before this provider was registered).

List filters by ``FunctionName`` (a name, a partial or full ARN; with a qualifier only that
version or alias) and ``EventSourceArn``, and pages with ``Marker``/``NextMarker`` at
``MaxItems`` (1-10000, default 100) — Lambda API reference, ListEventSourceMappings."""

from __future__ import annotations

import json
import re
import uuid
from datetime import UTC, datetime
from typing import Any

from basegear.cloud.cloudformation.errors import ResourceError
from basegear.cloud.cloudformation.resources.mappings import (
    SETTINGS,
    EventSourceMappingStore,
    source_kind,
    validated_settings,
)
from basegear.cloud.motoshim.awslambda import backend_for
from basegear.cloud.protocol import AwsRequest, AwsResponse

_PATH = re.compile(r"^/2015-03-31/event-source-mappings/?(?P<uuid>[^/]*)$")
DEFAULT_PAGE = 100


class EventSourceMappingsProvider:
    """A ``protocol.Provider`` for the ``lambda`` service, and a durable-state component: a
    write through this API is journaled as an image of the store (its UUIDs are random)."""

    service = "lambda"
    state_key = "lambda-event-source-mappings"

    def __init__(self, store: EventSourceMappingStore) -> None:
        self._store = store

    def handle(self, request: AwsRequest) -> AwsResponse | None:
        match = _PATH.match(request.path)
        if match is None:
            return None
        mapping_id = match["uuid"]
        try:
            if request.method == "GET":
                if mapping_id:
                    config = self._store.get(mapping_id)
                    return None if config is None else _json(200, _shaped(config))  # None: moto's
                return self._list(request)
            if request.method == "POST" and not mapping_id:
                return self._create(request)
            if request.method == "PUT" and mapping_id:
                return self._update(request, mapping_id)
            if request.method == "DELETE" and mapping_id:
                return self._delete(mapping_id)
        except _ApiError as exc:
            return _error(exc.message, exc.code, exc.status)
        return None

    # -- durable state ----------------------------------------------------------------------

    def owns_write(self, request: AwsRequest) -> bool:
        return (
            request.service == "lambda"
            and request.method in ("POST", "PUT", "DELETE")
            and _PATH.match(request.path) is not None
        )

    def save_state(self) -> Any:
        return self._store.snapshot()

    def load_state(self, state: Any) -> None:
        self._store.restore(state)

    # -- writes -----------------------------------------------------------------------------

    def _create(self, request: AwsRequest) -> AwsResponse:
        body = _body(request)
        source = body.get("EventSourceArn")
        if not isinstance(source, str) or not source:
            raise _ApiError("EventSourceArn is required")
        function_arn = _resolve_function(request, body.get("FunctionName"))
        _check_source(source)
        kind = source_kind(source)
        if kind == "sqs":
            for existing in self._store.list():
                if existing["EventSourceArn"] == source and existing["FunctionArn"] == function_arn:
                    raise _ApiError(
                        f'An event source mapping with SQS arn (" {source} ") and function '
                        f'(" {function_arn.rsplit(":", 1)[-1]} ") already exists. Please '
                        f"update or delete the existing mapping with UUID {existing['UUID']}",
                        "ResourceConflictException",
                        409,
                    )
        mapping_id = str(uuid.uuid4())
        config = {
            "UUID": mapping_id,
            "EventSourceArn": source,
            "FunctionArn": function_arn,
            **_settings(body, kind),
            "State": "Enabled" if body.get("Enabled", True) else "Disabled",
            "StateTransitionReason": "USER_INITIATED" if kind == "sqs" else "User action",
            "LastModified": datetime.now(UTC),
            "EventSourceMappingArn": (
                f"arn:aws:lambda:{request.region}:{request.account}:"
                f"event-source-mapping:{mapping_id}"
            ),
        }
        if kind != "sqs":
            config["LastProcessingResult"] = "No records processed"
        self._store.put(config)
        return _json(202, _shaped({**config, "State": "Creating"}))

    def _update(self, request: AwsRequest, mapping_id: str) -> AwsResponse:
        current = self._store.get(mapping_id)
        if current is None:
            raise _not_found(mapping_id)
        body = _body(request)
        kind = source_kind(current["EventSourceArn"])
        merged = {k: v for k, v in current.items() if k in SETTINGS}
        merged.update({k: v for k, v in body.items() if k in SETTINGS})
        config = {**current, **_settings(merged, kind), "LastModified": datetime.now(UTC)}
        if body.get("FunctionName"):
            config["FunctionArn"] = _resolve_function(request, body["FunctionName"])
        if "Enabled" in body:
            config["State"] = "Enabled" if body["Enabled"] else "Disabled"
        self._store.put(config)
        return _json(202, _shaped({**config, "State": "Updating"}))

    def _delete(self, mapping_id: str) -> AwsResponse:
        current = self._store.get(mapping_id)
        if current is None:
            raise _not_found(mapping_id)
        self._store.remove(mapping_id)
        return _json(202, _shaped({**current, "State": "Deleting"}))

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


class _ApiError(Exception):
    def __init__(
        self, message: str, code: str = "InvalidParameterValueException", status: int = 400
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.status = status


def _not_found(mapping_id: str) -> _ApiError:
    return _ApiError(
        f"The resource you requested does not exist. (Service: Lambda, Status Code: 404, "
        f"Request ID: {mapping_id})",
        "ResourceNotFoundException",
        404,
    )


def _body(request: AwsRequest) -> dict[str, Any]:
    try:
        body = json.loads(request.body or b"{}")
    except ValueError as exc:
        raise _ApiError("Invalid JSON body", "SerializationException") from exc
    if not isinstance(body, dict):
        raise _ApiError("Invalid JSON body", "SerializationException")
    return body


def _settings(body: dict[str, Any], kind: str) -> dict[str, Any]:
    """Validated settings: ranges (``validated_settings``) and filter patterns."""
    from basegear.cloud.events.filters import FilterError, RecordFilter

    if "StartingPositionTimestamp" in body and isinstance(body["StartingPositionTimestamp"], str):
        body = {**body, "StartingPositionTimestamp": float(body["StartingPositionTimestamp"])}
    try:
        settings = validated_settings(body, kind)
        RecordFilter(settings.get("FilterCriteria"))
    except (ResourceError, FilterError, ValueError, TypeError) as exc:
        raise _ApiError(str(exc)) from exc
    return settings


def _resolve_function(request: AwsRequest, name: Any) -> str:
    """The function's ARN, qualified when the name is; ResourceNotFoundException when the
    function, version or alias does not exist."""
    if not isinstance(name, str) or not name:
        raise _ApiError("FunctionName is required")
    arn = _function_arn(request, name) or ""
    parts = arn.split(":")
    qualifier = parts[7] if len(parts) == 8 else None
    backend = backend_for(parts[4], parts[3])
    try:
        if qualifier is not None and not qualifier.isdigit() and qualifier != "$LATEST":
            backend.get_alias(qualifier, parts[6])
        else:
            backend.get_function(parts[6], qualifier)
    except Exception as exc:
        raise _ApiError(f"Function not found: {arn}", "ResourceNotFoundException", 404) from exc
    return arn


def _check_source(arn: str) -> None:
    """The queue or table stream must exist (Lambda checks it when the mapping is created)."""
    parts = arn.split(":", 5)
    if len(parts) != 6:
        raise _ApiError(f"Invalid EventSourceArn: {arn}")
    service, region, account, resource = parts[2], parts[3], parts[4], parts[5]
    if service == "sqs":
        from moto.sqs.models import sqs_backends

        if resource not in sqs_backends[account][region].queues:
            raise _ApiError(
                f"Error occurred while ReceiveMessage. SQS Error Code: "
                f"AWS.SimpleQueueService.NonExistentQueue. SQS Error Message: The specified "
                f"queue does not exist ({arn})"
            )
    elif service == "dynamodb":
        from moto.dynamodb.models import dynamodb_backends

        table_name = resource.split("/")[1] if resource.count("/") >= 3 else ""
        table = dynamodb_backends[account][region].tables.get(table_name)
        if table is None or not getattr(table, "stream_shard", None):
            raise _ApiError(f"Stream not found: {arn}")


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


def _error(
    message: str, code: str = "InvalidParameterValueException", status: int = 400
) -> AwsResponse:
    body = json.dumps({"Type": "User", "message": message}).encode()
    return AwsResponse(status, body, {"Content-Type": "application/json", "x-amzn-ErrorType": code})

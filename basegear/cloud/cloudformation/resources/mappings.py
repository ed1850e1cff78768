"""AWS::Lambda::EventSourceMapping, kept in BaseGear's own store instead of moto's.

moto 5.2.5 invokes a mapped function synchronously inside the table or queue write, ignores
LATEST, never retries and leaves the stream empty (shared/reference/moto-and-peers.md); so the
mappings a stack declares are recorded here, shaped as Lambda's EventSourceMappingConfiguration,
for BaseGear's pollers to serve. The store is given to the provider at construction and shared
with whoever serves the pollers and the Lambda API's ListEventSourceMappings.

Validation follows the Lambda API reference (CreateEventSourceMapping): BatchSize 1-10000,
default 100 for streams and 10 for SQS; MaximumBatchingWindowInSeconds 0-300, and a batch size
over 10 on SQS needs a window above 0; StartingPosition is required for stream sources.
CloudFormation resource reference: Ref is the mapping's UUID; Fn::GetAtt gives Id and
EventSourceMappingArn; EventSourceArn, StartingPosition and StartingPositionTimestamp require
replacement."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from basegear.cloud.cloudformation.errors import ResourceError
from basegear.cloud.cloudformation.resources.awslambda import split_qualifier
from basegear.cloud.cloudformation.resources.base import (
    Context,
    Created,
    Handler,
    Properties,
    required,
)
from basegear.cloud.cloudformation.resources.registry import handles

Listener = Callable[[str, dict[str, Any] | None], None]
SETTINGS = (
    "BatchSize",
    "MaximumBatchingWindowInSeconds",
    "StartingPosition",
    "StartingPositionTimestamp",
    "ParallelizationFactor",
    "MaximumRetryAttempts",
    "MaximumRecordAgeInSeconds",
    "BisectBatchOnFunctionError",
    "DestinationConfig",
    "FilterCriteria",
    "FunctionResponseTypes",
    "TumblingWindowInSeconds",
    "ScalingConfig",
    "Queues",
    "Topics",
)


class EventSourceMappingStore:
    """Event source mappings by UUID; listeners hear of every change (config, or None when
    deleted) so that pollers start and stop with them."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._mappings: dict[str, dict[str, Any]] = {}
        self._listeners: list[Listener] = []

    def subscribe(self, listener: Listener) -> None:
        with self._lock:
            self._listeners.append(listener)

    def put(self, config: dict[str, Any]) -> None:
        with self._lock:
            self._mappings[config["UUID"]] = config
            listeners = list(self._listeners)
        for listener in listeners:
            listener(config["UUID"], config)

    def remove(self, mapping_id: str) -> None:
        with self._lock:
            self._mappings.pop(mapping_id, None)
            listeners = list(self._listeners)
        for listener in listeners:
            listener(mapping_id, None)

    def get(self, mapping_id: str) -> dict[str, Any] | None:
        with self._lock:
            found = self._mappings.get(mapping_id)
            return dict(found) if found else None

    def snapshot(self) -> list[dict[str, Any]]:
        """Every mapping's configuration, for durable state (basegear/cloud/state)."""
        with self._lock:
            return [dict(config) for config in self._mappings.values()]

    def restore(self, configs: list[dict[str, Any]]) -> None:
        """Replace every mapping by ``configs``; listeners hear of each removal and each put."""
        kept = {config["UUID"] for config in configs}
        with self._lock:
            gone = [mapping_id for mapping_id in self._mappings if mapping_id not in kept]
        for mapping_id in gone:
            self.remove(mapping_id)
        for config in configs:
            self.put(dict(config))

    def list(self, function_arn: str | None = None) -> list[dict[str, Any]]:
        with self._lock:
            return [
                dict(config)
                for config in self._mappings.values()
                if function_arn is None or split_qualifier(config["FunctionArn"])[0] == function_arn
            ]


def source_kind(arn: str) -> str:
    service = arn.split(":")[2] if arn.count(":") >= 5 else ""
    return {"dynamodb": "dynamodb", "kinesis": "kinesis", "sqs": "sqs"}.get(service, service)


RANGES = {
    "ParallelizationFactor": (1, 10),
    "MaximumRetryAttempts": (-1, 10000),
    "MaximumRecordAgeInSeconds": (-1, 604800),
    "TumblingWindowInSeconds": (0, 900),
}
"""Lambda API reference, CreateEventSourceMapping (shared/reference/aws-semantics.md 1.1)."""


def validated_settings(props: Properties, kind: str) -> dict[str, Any]:
    """The mapping's settings with Lambda's defaults, or ``ResourceError`` naming the first
    one out of range (the message Lambda's InvalidParameterValueException carries)."""
    settings = {key: props[key] for key in SETTINGS if key in props}
    batch = int(settings.get("BatchSize", 10 if kind == "sqs" else 100))
    window = int(settings.get("MaximumBatchingWindowInSeconds", 0))
    if not 1 <= batch <= 10000:
        raise ResourceError("BatchSize must be between 1 and 10000")
    if not 0 <= window <= 300:
        raise ResourceError("MaximumBatchingWindowInSeconds must be between 0 and 300")
    if kind == "sqs" and batch > 10 and window == 0:
        raise ResourceError(
            "Maximum batch window in seconds must be greater than 0 if maximum batch size is "
            "greater than 10"
        )
    if kind in ("dynamodb", "kinesis") and "StartingPosition" not in settings:
        raise ResourceError("StartingPosition is required for a stream event source")
    settings["BatchSize"] = batch
    settings["MaximumBatchingWindowInSeconds"] = window
    for key, (low, high) in RANGES.items():
        if key in settings:
            settings[key] = int(settings[key])
            if not low <= settings[key] <= high:
                raise ResourceError(f"{key} must be between {low} and {high}")
    age = settings.get("MaximumRecordAgeInSeconds", -1)
    if 0 <= age < 60:
        raise ResourceError("MaximumRecordAgeInSeconds must be -1 or between 60 and 604800")
    concurrency = (settings.get("ScalingConfig") or {}).get("MaximumConcurrency")
    if concurrency is not None and not 2 <= int(concurrency) <= 1000:
        raise ResourceError("ScalingConfig.MaximumConcurrency must be between 2 and 1000")
    types = list(settings.get("FunctionResponseTypes") or [])
    if any(t != "ReportBatchItemFailures" for t in types):
        raise ResourceError("FunctionResponseTypes may only contain ReportBatchItemFailures")
    settings["FunctionResponseTypes"] = types
    if kind in ("dynamodb", "kinesis"):
        settings.setdefault("ParallelizationFactor", 1)
        settings.setdefault("MaximumRetryAttempts", -1)
        settings.setdefault("MaximumRecordAgeInSeconds", -1)
        settings.setdefault("BisectBatchOnFunctionError", False)
        settings.setdefault("TumblingWindowInSeconds", 0)
        settings.setdefault("DestinationConfig", {"OnFailure": {}})
    return settings


@handles
class EventSourceMapping(Handler):
    type_name = "AWS::Lambda::EventSourceMapping"
    attributes = frozenset({"Id", "EventSourceMappingArn"})
    replace_on = frozenset(
        {
            "EventSourceArn",
            "StartingPosition",
            "StartingPositionTimestamp",
            "SelfManagedEventSource",
        }
    )

    def create(self, ctx: Context, props: Properties) -> Created:
        mapping_id = str(uuid.uuid4())
        config = self._config(ctx, mapping_id, props)
        _store(ctx).put(config)
        arn = ctx.arn("lambda", f"event-source-mapping:{mapping_id}")
        return Created(mapping_id, {"Id": mapping_id, "EventSourceMappingArn": arn})

    def update(self, ctx: Context, current: Created, old: Properties, new: Properties) -> Created:
        _store(ctx).put(self._config(ctx, current.physical_id, new))
        return current

    def delete(self, ctx: Context, current: Created, props: Properties) -> None:
        _store(ctx).remove(current.physical_id)

    def _config(self, ctx: Context, mapping_id: str, props: Properties) -> dict[str, Any]:
        source = required(props, "EventSourceArn", self.type_name)
        function, qualifier = split_qualifier(required(props, "FunctionName", self.type_name))
        described = ctx.client("lambda").get_function(
            FunctionName=function, **({"Qualifier": qualifier} if qualifier else {})
        )["Configuration"]
        function_arn = described["FunctionArn"]
        enabled = str(props.get("Enabled", True)).lower() != "false"
        return {
            "UUID": mapping_id,
            "EventSourceArn": source,
            "FunctionArn": function_arn,
            **validated_settings(props, source_kind(source)),
            "State": "Enabled" if enabled else "Disabled",
            "StateTransitionReason": "USER_INITIATED",
            "LastModified": datetime.now(UTC),
            "EventSourceMappingArn": ctx.arn("lambda", f"event-source-mapping:{mapping_id}"),
        }


def _store(ctx: Context) -> EventSourceMappingStore:
    store = ctx.services.get("mappings")
    if not isinstance(store, EventSourceMappingStore):
        raise ResourceError("no event source mapping store was given to the provider")
    return store

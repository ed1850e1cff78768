"""``functions`` and ``layers`` (Serverless Framework v3 documentation, "Functions" and
"Layers"), plus the plugin keys a function may carry (``alarms``, ``deadLetter``)."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AfterValidator, Field
from pydantic_core import PydanticCustomError

from basegear.model.base import CfnString, Json, Model, Range
from basegear.model.events import Event
from basegear.model.plugins import AlarmReference, DeadLetter
from basegear.model.provider import (
    Architecture,
    Environment,
    LogRetention,
    MemorySize,
    PackageConfig,
    Timeout,
)


def _at_most_five_layers(layers: list[Any]) -> list[Any]:
    # "A function can use up to 5 layers at a time" (Lambda quotas).
    if len(layers) > 5:
        raise PydanticCustomError(
            "layers", "a function can use at most 5 layers, got {count}", {"count": len(layers)}
        )
    return layers


class Destinations(Model):
    on_success: CfnString | None = None
    on_failure: CfnString | None = None


class Function(Model):
    handler: str | None = None
    image: Json = None
    name: str | None = None
    description: str | None = None
    runtime: str | None = None
    memory_size: MemorySize | None = None
    timeout: Timeout | None = None
    architecture: Architecture | None = None
    ephemeral_storage_size: Annotated[int, Range(512, 10240)] | None = None
    reserved_concurrency: Annotated[int, Range(0, 1_000_000)] | None = None
    provisioned_concurrency: Annotated[int, Range(0, 1_000_000)] | None = None
    role: CfnString | None = None
    on_error: CfnString | None = None
    kms_key_arn: CfnString | None = None
    aws_kms_key_arn: CfnString | None = None
    snap_start: bool = False
    disable_logs: bool = False
    log_retention_in_days: LogRetention | None = None
    log_data_protection_policy: dict[str, Json] | None = None
    environment: Environment = {}
    tags: dict[str, CfnString] = {}
    vpc: Json = None
    package: PackageConfig | None = None
    layers: Annotated[list[CfnString], AfterValidator(_at_most_five_layers)] | None = None
    tracing: bool | str | None = None
    condition: str | None = None
    depends_on: list[str] | str | None = None
    destinations: Destinations | None = None
    # Async invocation settings (Lambda API reference, PutFunctionEventInvokeConfig).
    maximum_event_age: Annotated[int, Range(60, 21600)] | None = None
    maximum_retry_attempts: Annotated[int, Range(0, 2)] | None = None
    file_system_config: dict[str, Json] | None = None
    runtime_management: Json = None
    url: Json = None
    events: list[Event] = []
    # serverless-plugin-aws-alerts and serverless-plugin-lambda-dead-letter
    alarms: list[AlarmReference] = []
    dead_letter: DeadLetter | None = None
    # serverless-python-requirements: the folder holding this function's requirements
    module: str | None = None


class Layer(Model):
    path: str | None = None
    package: PackageConfig | None = None
    name: str | None = None
    description: str | None = None
    compatible_runtimes: Annotated[list[str], Field(max_length=15)] | None = None
    compatible_architectures: list[str] | None = None
    license_info: str | None = None
    allowed_accounts: list[str] | None = None
    retain: bool = False

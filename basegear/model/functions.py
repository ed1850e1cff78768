"""``functions`` and ``layers`` (Serverless Framework v3 documentation, "Functions" and
"Layers"), plus the plugin keys a function may carry (``alarms``, ``deadLetter``)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from basegear.model.base import CfnFunction, CfnString, Json, Model, OneOf, Range
from basegear.model.events import Event
from basegear.model.plugins import AlarmReference, DeadLetter
from basegear.model.provider import (
    Architecture,
    Environment,
    Layers,
    LogRetention,
    MemorySize,
    PackageConfig,
    Timeout,
)

# The kinds a destination's `type` names (Serverless Framework v3 schema, function
# destinations), each with the service its ARN belongs to.
DESTINATION_TYPES = {"function": "lambda", "sqs": "sqs", "sns": "sns", "eventBus": "events"}


class DestinationTarget(Model):
    """``{type, arn}``: a destination whose ARN CloudFormation computes, with its kind."""

    type: Annotated[str, OneOf(*DESTINATION_TYPES)]
    arn: CfnFunction


Destination = CfnString | DestinationTarget
"""A function key, an ARN, a CloudFormation function, or ``{type, arn}``."""


class Destinations(Model):
    on_success: Destination | None = None
    on_failure: Destination | None = None


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
    layers: Layers | None = None  # replaces provider.layers, as the Serverless Framework does
    tracing: bool | str | None = None
    condition: str | None = None
    depends_on: list[str] | str | None = None
    destinations: Destinations | None = None
    version_function: bool | None = None  # over provider.versionFunctions
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

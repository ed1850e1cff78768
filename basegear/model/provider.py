"""``provider`` and ``package`` (Serverless Framework v3 documentation, "AWS provider")."""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import AfterValidator, Field, model_validator
from pydantic_core import PydanticCustomError

from basegear.model.base import CfnString, Json, Model, OneOf, Range

Architecture = Annotated[str, OneOf("x86_64", "arm64")]
MemorySize = Annotated[int, Range(128, 10240)]  # Lambda quotas: 128 MB to 10,240 MB
Timeout = Annotated[int, Range(1, 900)]  # Lambda quotas: at most 900 seconds


def _variable_name(value: str) -> str:
    # Lambda API reference, "Environment": keys match [a-zA-Z]([a-zA-Z0-9_])+.
    if not re.fullmatch(r"[a-zA-Z][a-zA-Z0-9_]+", value):
        raise PydanticCustomError(
            "variable_name",
            "an environment variable name has at least two characters, a letter first and "
            "then letters, digits or '_', got {got}",
            {"got": repr(value)},
        )
    return value


Environment = dict[Annotated[str, AfterValidator(_variable_name)], CfnString]


def _at_most_five_layers(layers: list[Any]) -> list[Any]:
    # "A function can use up to 5 layers at a time" (Lambda quotas).
    if len(layers) > 5:
        raise PydanticCustomError(
            "layers", "a function can use at most 5 layers, got {count}", {"count": len(layers)}
        )
    return layers


Layers = Annotated[list[CfnString], AfterValidator(_at_most_five_layers)]

# The Serverless Framework v3 schema (lib/config-schema.js): a stage is ^[a-zA-Z0-9-]+$.
STAGE_PATTERN = re.compile(r"[a-zA-Z0-9-]+")
STAGE_RULE = "a stage may contain only letters, digits and '-'"

# AWS Regions, as of 2026 (AWS General Reference, "AWS Regions"; opening announcements).
COMMERCIAL_REGIONS = (
    "us-east-1",
    "us-east-2",
    "us-west-1",
    "us-west-2",
    "af-south-1",
    "ap-east-1",
    "ap-east-2",
    "ap-northeast-1",
    "ap-northeast-2",
    "ap-northeast-3",
    "ap-south-1",
    "ap-south-2",
    "ap-southeast-1",
    "ap-southeast-2",
    "ap-southeast-3",
    "ap-southeast-4",
    "ap-southeast-5",
    "ap-southeast-6",
    "ap-southeast-7",
    "ca-central-1",
    "ca-west-1",
    "eu-central-1",
    "eu-central-2",
    "eu-north-1",
    "eu-south-1",
    "eu-south-2",
    "eu-west-1",
    "eu-west-2",
    "eu-west-3",
    "il-central-1",
    "me-central-1",
    "me-south-1",
    "mx-central-1",
    "sa-east-1",
)
GOVCLOUD_REGIONS = ("us-gov-east-1", "us-gov-west-1")
CHINA_REGIONS = ("cn-north-1", "cn-northwest-1")
# Not public regions, but the Serverless Framework v3 schema accepts them, so BaseGear does too.
ISOLATED_REGIONS = ("us-iso-east-1", "us-iso-west-1", "us-isob-east-1")
REGIONS = (*COMMERCIAL_REGIONS, *GOVCLOUD_REGIONS, *CHINA_REGIONS, *ISOLATED_REGIONS)


def stage_problem(value: str) -> str | None:
    """Why ``value`` cannot be a stage, or None."""
    if STAGE_PATTERN.fullmatch(value):
        return None
    return f"{STAGE_RULE}, got {value!r}"


def region_problem(value: str) -> str | None:
    """Why ``value`` is not an AWS region, or None."""
    if value in REGIONS:
        return None
    from basegear.config.suggest import did_you_mean

    hint = did_you_mean(value, REGIONS) or " (e.g. us-east-1 or eu-west-1)"
    return f"unknown AWS region {value!r}{hint}"


def _stage(value: str) -> str:
    problem = stage_problem(value)
    if problem is not None:
        raise PydanticCustomError("stage", "{problem}", {"problem": problem})
    return value


def _region(value: str) -> str:
    problem = region_problem(value)
    if problem is not None:
        raise PydanticCustomError("region", "{problem}", {"problem": problem})
    return value


Stage = Annotated[str, AfterValidator(_stage)]
Region = Annotated[str, AfterValidator(_region)]
LOG_RETENTION_DAYS = (
    1,
    3,
    5,
    7,
    14,
    30,
    60,
    90,
    120,
    150,
    180,
    365,
    400,
    545,
    731,
    1096,
    1827,
    2192,
    2557,
    2922,
    3288,
    3653,
)


def _retention(value: int) -> int:
    # CloudWatch Logs PutRetentionPolicy accepts only these day counts.
    if value not in LOG_RETENTION_DAYS:
        raise PydanticCustomError(
            "retention",
            "expected one of the CloudWatch Logs retention periods ({allowed}), got {got}",
            {"allowed": ", ".join(map(str, LOG_RETENTION_DAYS)), "got": value},
        )
    return value


LogRetention = Annotated[int, AfterValidator(_retention)]


class IamStatement(Model):
    model_config = Model.model_config | {"alias_generator": None}

    Sid: str | None = None
    Effect: Annotated[str, OneOf("Allow", "Deny")]
    Action: CfnString | list[CfnString] | None = None
    NotAction: CfnString | list[CfnString] | None = None
    Resource: CfnString | list[CfnString] | None = None
    NotResource: CfnString | list[CfnString] | None = None
    Principal: Json = None
    Condition: dict[str, Json] | None = None


class IamRole(Model):
    name: str | None = None
    path: str | None = None
    statements: list[IamStatement] = []
    managed_policies: list[CfnString] = []
    permissions_boundary: CfnString | None = None
    permission_boundary: CfnString | None = None
    tags: dict[str, str] | None = None


class Iam(Model):
    role: IamRole | CfnString = IamRole()
    deployment_role: CfnString | None = None


class ApiKey(Model):
    name: str | None = None
    value: str | None = None
    description: str | None = None
    customer_id: str | None = None
    enabled: bool = True

    @model_validator(mode="before")
    @classmethod
    def _plain_name(cls, value: Any) -> Any:
        return {"name": value} if isinstance(value, str) else value


class ApiGateway(Model):
    api_keys: list[ApiKey | dict[str, list[ApiKey]]] = []
    api_key_source_type: Annotated[str, OneOf("HEADER", "AUTHORIZER")] | None = None
    binary_media_types: list[str] | None = None
    description: str | None = None
    disable_default_endpoint: bool = False
    metrics: bool = False
    minimum_compression_size: Annotated[int, Range(0, 10485760)] | None = None
    resource_policy: list[dict[str, Json]] | None = None
    rest_api_id: CfnString | None = None
    rest_api_root_resource_id: CfnString | None = None
    rest_api_resources: dict[str, CfnString] | None = None
    should_start_name_with_service: bool = False
    stage: str | None = None
    usage_plan: Json = None
    request: dict[str, Json] | None = None
    timeout_in_millis: Annotated[int, Range(50, 29000)] | None = None
    websocket_api_id: CfnString | None = None


class Vpc(Model):
    security_group_ids: list[CfnString] | CfnString
    subnet_ids: list[CfnString] | CfnString
    ipv6_allowed_for_dual_stack: bool | None = None


class Tracing(Model):
    api_gateway: bool = False
    lambda_: bool | Annotated[str, OneOf("Active", "PassThrough")] = Field(False, alias="lambda")


class Provider(Model):
    """Settings shared by every function; defaults are the Serverless Framework's."""

    name: Annotated[str, OneOf("aws")]
    runtime: str = "nodejs16.x"  # Serverless Framework v3.40 default
    stage: Stage = "dev"
    region: Region = "us-east-1"
    profile: str | None = None
    memory_size: MemorySize = 1024
    timeout: Timeout = 6
    architecture: Architecture = "x86_64"
    log_retention_in_days: LogRetention | None = None
    log_data_protection_policy: dict[str, Json] | None = None
    kms_key_arn: CfnString | None = None
    environment: Environment = {}
    tags: dict[str, CfnString] = {}
    stack_tags: dict[str, CfnString] = {}
    stack_name: str | None = None
    stack_policy: list[dict[str, Json]] | None = None
    stack_parameters: list[dict[str, Json]] | None = None
    disable_rollback: bool = False
    rollback_configuration: dict[str, Json] | None = None
    notification_arns: list[CfnString] | None = None
    deployment_bucket: Json = None
    deployment_prefix: str | None = None
    deployment_method: Annotated[str, OneOf("changesets", "direct")] = "direct"
    iam: Iam = Iam()
    role: CfnString | None = None
    cfn_role: CfnString | None = None
    api_gateway: ApiGateway = ApiGateway()
    api_name: str | None = None
    endpoint_type: (
        Annotated[str, OneOf("REGIONAL", "EDGE", "PRIVATE", "regional", "edge", "private")] | None
    ) = None
    vpc_endpoint_ids: list[CfnString] | None = None
    http_api: dict[str, Json] | None = None
    websockets_api_name: str | None = None
    websockets_api_route_selection_expression: str | None = None
    websockets_description: str | None = None
    vpc: Vpc | None = None
    tracing: Tracing = Tracing()
    logs: dict[str, Json] | None = None
    version_functions: bool = True
    layers: Layers = []
    alb: dict[str, Json] | None = None
    cloud_front: dict[str, Json] | None = None
    ecr: dict[str, Json] | None = None
    event_bridge: dict[str, Json] | None = None
    s3: dict[str, Json] | None = None
    lambda_hashing_version: str | None = None
    runtime_management: Json = None
    iam_managed_policies: list[CfnString] | None = None
    iam_role_statements: list[IamStatement] | None = None
    role_permissions_boundary: CfnString | None = None
    websocket: dict[str, Json] | None = None
    kinesis: dict[str, Json] | None = None


class PackageConfig(Model):
    """``package`` of the service or of one function."""

    patterns: list[str] = []
    individually: bool = False
    artifact: str | None = None
    exclude_dev_dependencies: bool = True
    include: list[str] = []
    exclude: list[str] = []
    path: str | None = None

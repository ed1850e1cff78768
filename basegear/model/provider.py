"""``provider`` and ``package`` (Serverless Framework v3 documentation, "AWS provider")."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AfterValidator, Field, model_validator
from pydantic_core import PydanticCustomError

from basegear.model.base import CfnString, Json, Model, OneOf, Range

Architecture = Annotated[str, OneOf("x86_64", "arm64")]
MemorySize = Annotated[int, Range(128, 10240)]  # Lambda quotas: 128 MB to 10,240 MB
Timeout = Annotated[int, Range(1, 900)]  # Lambda quotas: at most 900 seconds
Environment = dict[str, CfnString]
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
    stage: str = "dev"
    region: str = "us-east-1"
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
    layers: list[CfnString] = []
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

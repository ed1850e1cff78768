"""The validated service model: what serverless.yml says, with the Serverless Framework's
defaults filled in. Frozen pydantic models shared by the compiler, the local cloud and the
dashboard; each YAML key is the camelCase alias of a snake_case field."""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import AfterValidator, Field, model_validator
from pydantic_core import PydanticCustomError

from basegear.model.base import Json, Model, OneOf, OpenModel
from basegear.model.functions import Function, Layer
from basegear.model.plugins import Alerts, PythonRequirements
from basegear.model.provider import PackageConfig, Provider
from basegear.model.stepfunctions import StepFunctions


def _function_key(value: str) -> str:
    # The Serverless Framework v3 schema keys functions and layers by ^[a-zA-Z0-9-_]+$.
    if not re.fullmatch(r"[a-zA-Z0-9_-]+", value):
        raise PydanticCustomError(
            "function_key",
            "a function or layer name may contain only letters, digits, '-' and '_', got {got}",
            {"got": repr(value)},
        )
    return value


FunctionKey = Annotated[str, AfterValidator(_function_key)]

# CloudFormation User Guide, "Resource type identifiers": AWS types are
# AWS::service-name::data-type-name; custom resources are Custom::Name (letters, digits and
# _@-, at most 60 characters); registry extensions are Organization::Service::Resource (plus
# ::MODULE for modules), and these organization names are reserved.
_RESERVED_ORGANIZATIONS = ("alexa", "amzn", "amazon", "aws", "custom", "dev")
_PART = r"[A-Za-z0-9]+"
RESOURCE_ATTRIBUTES = (
    "Type",
    "Properties",
    "DependsOn",
    "DeletionPolicy",
    "UpdateReplacePolicy",
    "Condition",
    "Metadata",
    "UpdatePolicy",
    "CreationPolicy",
)


def _resource_type(value: str) -> str:
    organization = value.split("::", 1)[0]
    if organization in ("AWS", "Alexa"):
        valid = re.fullmatch(rf"{organization}::{_PART}::{_PART}", value) is not None
    elif organization == "Custom":
        valid = re.fullmatch(r"Custom::[A-Za-z0-9_@-]{1,60}", value) is not None
    else:
        valid = organization.lower() not in _RESERVED_ORGANIZATIONS and (
            re.fullmatch(rf"{_PART}::{_PART}::{_PART}(::MODULE)?", value) is not None
        )
    if not valid:
        raise PydanticCustomError(
            "resource_type",
            "expected a resource type such as AWS::DynamoDB::Table (AWS::Service::Resource), "
            "Custom::Name or a registry type Organization::Service::Resource, got {got}",
            {"got": repr(value)},
        )
    return value


class Resource(Model):
    """One CloudFormation resource; its Properties are checked by cfn-lint at compile time.

    ``Type`` may be left out to override a resource the Serverless Framework generates, by its
    logical ID (Serverless Framework v3 documentation, "Override AWS CloudFormation Resource").
    Only the compiler knows the generated logical IDs, so a resource without Type that
    overrides nothing is for it to report."""

    model_config = Model.model_config | {"alias_generator": None}

    Type: Annotated[str, AfterValidator(_resource_type)] | None = None
    Properties: dict[str, Json] = {}
    DependsOn: str | list[str] | None = None
    DeletionPolicy: (
        Annotated[str, OneOf("Delete", "Retain", "RetainExceptOnCreate", "Snapshot")] | None
    ) = None
    UpdateReplacePolicy: Annotated[str, OneOf("Delete", "Retain", "Snapshot")] | None = None
    Condition: str | None = None
    Metadata: dict[str, Json] | None = None
    UpdatePolicy: dict[str, Json] | None = None
    CreationPolicy: dict[str, Json] | None = None


class Resources(Model):
    """``resources``: CloudFormation sections merged into the compiled template."""

    model_config = Model.model_config | {"alias_generator": None}

    Resources: dict[str, Resource] = {}
    Outputs: dict[str, dict[str, Json]] = {}
    Conditions: dict[str, Json] = {}
    Mappings: dict[str, Json] = {}
    Parameters: dict[str, Json] = {}
    Metadata: dict[str, Json] = {}
    Rules: dict[str, Json] = {}
    Transform: Json = None
    Description: str | None = None
    extensions: dict[str, dict[str, Json]] = {}


class Custom(OpenModel):
    """``custom``: the user's own values, plus the plugin sections BaseGear checks."""

    python_requirements: PythonRequirements | None = None
    alerts: Alerts | None = None


class Service(Model):
    service: str
    framework_version: str | None = None
    config_validation_mode: Annotated[str, OneOf("error", "warn", "off")] = "error"
    deprecation_notification_mode: str | None = None
    disabled_deprecations: list[str] | str | None = None
    use_dotenv: bool = False
    variables_resolution_mode: str | None = None
    unresolved_variables_notification_mode: str | None = None
    org: str | None = None
    app: str | None = None
    console: Json = None
    dashboard: Json = None
    outputs: dict[str, Json] | None = None
    params: dict[str, dict[str, Json]] = {}
    provider: Provider
    package: PackageConfig = PackageConfig()
    functions: dict[FunctionKey, Function] = {}
    layers: dict[FunctionKey, Layer] = {}
    resources: Resources = Resources()
    plugins: list[str] | dict[str, Json] = []
    custom: Custom = Custom()
    step_functions: StepFunctions | None = Field(None, alias="stepFunctions")

    @model_validator(mode="before")
    @classmethod
    def _service_name(cls, value: Any) -> Any:
        # `service: {name: x}` is the older form of `service: x`.
        if isinstance(value, dict) and isinstance(value.get("service"), dict):
            return {**value, "service": value["service"].get("name")}
        return value

    @property
    def stage(self) -> str:
        return self.provider.stage

    def function_name(self, key: str) -> str:
        """The deployed name: ``name`` if set, else ``<service>-<stage>-<key>``."""
        function = self.functions[key]
        return function.name or f"{self.service}-{self.provider.stage}-{key}"


__all__ = ["Custom", "Function", "Layer", "Provider", "Resource", "Resources", "Service"]

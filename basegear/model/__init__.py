"""The validated service model: what serverless.yml says, with the Serverless Framework's
defaults filled in. Frozen pydantic models shared by the compiler, the local cloud and the
dashboard; each YAML key is the camelCase alias of a snake_case field."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field, StringConstraints, model_validator

from basegear.model.base import Json, Model, OneOf, OpenModel
from basegear.model.functions import Function, Layer
from basegear.model.plugins import Alerts, PythonRequirements
from basegear.model.provider import PackageConfig, Provider
from basegear.model.stepfunctions import StepFunctions

# Function and layer keys as the Serverless Framework accepts them.
FunctionKey = Annotated[str, StringConstraints(pattern=r"^[a-zA-Z0-9-_]+$")]

# AWS::Service::Resource, Custom::Name, or a third-party registry type (Org::Service::Resource).
RESOURCE_TYPE = r"^[A-Za-z0-9]+::[A-Za-z0-9]+(::[A-Za-z0-9]+){0,2}$"
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


class Resource(Model):
    """One CloudFormation resource; its Properties are checked by cfn-lint at compile time."""

    model_config = Model.model_config | {"alias_generator": None}

    Type: Annotated[
        str,
        StringConstraints(
            pattern=r"^(AWS|Custom|Alexa)::[A-Za-z0-9:]+$|^[A-Za-z0-9]+::[A-Za-z0-9]+::[A-Za-z0-9]+(::[A-Za-z0-9]+)?$"
        ),
    ]
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

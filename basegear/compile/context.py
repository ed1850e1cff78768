"""What every resource-family compiler works on: the service, its artifacts and the template
being built. Families add resources through ``Template.add``, which refuses a logical ID that is
already taken, so no family can silently overwrite another's resource."""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from typing import Any

from basegear.config.service import LoadedService
from basegear.errors import ConfigError, ConfigPath
from basegear.model import Service
from basegear.package.artifact import Artifacts

Json = Any
Resource = dict[str, Json]
# Template sections in the order the CloudFormation User Guide's "Template anatomy" lists them.
SECTION_ORDER = (
    "Description",
    "Transform",
    "Metadata",
    "Parameters",
    "Rules",
    "Mappings",
    "Conditions",
    "Resources",
    "Outputs",
)


@dataclass
class Template:
    resources: dict[str, Resource] = field(default_factory=dict)
    outputs: dict[str, dict[str, Json]] = field(default_factory=dict)
    # Description, Transform, Metadata, Parameters, Mappings, Conditions, Rules
    sections: dict[str, Json] = field(default_factory=dict)

    def add(
        self,
        logical_id: str,
        resource_type: str,
        properties: dict[str, Json],
        **attributes: Json,
    ) -> str:
        """Add a resource; ``attributes`` are DependsOn, Condition, DeletionPolicy, …"""
        if logical_id in self.resources:
            raise ValueError(f"logical ID {logical_id} is compiled twice")
        resource: Resource = {"Type": resource_type}
        resource.update({name: value for name, value in attributes.items() if value is not None})
        resource["Properties"] = properties
        self.resources[logical_id] = resource
        return logical_id

    def output(
        self, name: str, value: Json, description: str | None = None, export: Json = None
    ) -> None:
        entry: dict[str, Json] = {"Value": value}
        if description:
            entry["Description"] = description
        if export is not None:
            entry["Export"] = {"Name": export}
        self.outputs[name] = entry

    def to_dict(self) -> dict[str, Json]:
        document: dict[str, Json] = {"AWSTemplateFormatVersion": "2010-09-09"}
        for name in SECTION_ORDER:
            if name == "Resources":
                document[name] = self.resources
            elif name == "Outputs" and self.outputs:
                document[name] = self.outputs
            elif self.sections.get(name):
                document[name] = self.sections[name]
        return document


@dataclass
class Context:
    loaded: LoadedService
    artifacts: Artifacts
    template: Template = field(default_factory=Template)
    # IAM statements the Lambda execution role needs for event sources (stream reads, queue
    # receives, destinations); collected by the event families, compiled with the role.
    role_statements: list[dict[str, Json]] = field(default_factory=list)
    # API Gateway methods, so the deployment can depend on every one of them.
    api_methods: list[str] = field(default_factory=list)

    @property
    def service(self) -> Service:
        return self.loaded.model

    @property
    def stage(self) -> str:
        return self.service.provider.stage

    @property
    def region(self) -> str:
        return self.service.provider.region

    def allow(self, actions: list[str], resources: list[Json]) -> None:
        """Grant the Lambda execution role ``actions`` on ``resources`` (merged when equal)."""
        statement = {"Effect": "Allow", "Action": actions, "Resource": resources}
        if statement not in self.role_statements:
            self.role_statements.append(statement)

    def fail(self, message: str, path: ConfigPath, *, key: bool = False) -> ConfigError:
        """A compile-time problem with a setting, located in serverless.yml (at the setting's
        key rather than its value when ``key``)."""
        return ConfigError.at(message, self.loaded.document.location(path, key=key), path)

    def refuse_unknown(
        self, given: Iterable[str], known: Collection[str], what: str, path: ConfigPath
    ) -> None:
        """A located error at the first of the ``given`` settings under ``path`` that is not
        ``known``: ``unknown <what> 'x'; expected one of …``."""
        for name in given:
            if name not in known:
                raise self.fail(
                    f"unknown {what} {name!r}; expected one of {', '.join(known)}", (*path, name)
                )

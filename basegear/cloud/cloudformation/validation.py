"""Checks made before a stack operation starts, and the template descriptions of
ValidateTemplate and GetTemplateSummary (CloudFormation API reference).

- An Fn::ImportValue of an export that no stack in the region exports is refused up front:
  "No export named X found."
- An update that changes neither the template, the parameters nor the tags is refused:
  "No updates are to be performed." (UpdateStack) — for a change set, the same condition makes
  it FAILED with "The submitted information didn't contain changes…".
- ValidateTemplate checks the structure and the references between resources (unresolved ones
  and cycles), and lists parameters and the capabilities the template needs."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from basegear.cloud.cloudformation.errors import TemplateError, ValidationError
from basegear.cloud.cloudformation.graph import creation_order, dependencies
from basegear.cloud.cloudformation.intrinsics import Pseudo, Resolver, intrinsic
from basegear.cloud.cloudformation.plan import Plan
from basegear.cloud.cloudformation.stacks import Stack
from basegear.cloud.cloudformation.template import IAM_TYPES, Template, required_capabilities


def _import_arguments(value: Any) -> Iterator[Any]:
    call = intrinsic(value)
    if call is not None and call[0] == "Fn::ImportValue":
        yield call[1]
        return
    if isinstance(value, dict):
        for item in value.values():
            yield from _import_arguments(item)
    elif isinstance(value, list):
        for item in value:
            yield from _import_arguments(item)


def check_imports(plan: Plan, pseudo: Pseudo, exports: set[str]) -> None:
    resolver = Resolver(pseudo, plan.parameter_values, plan.mappings, plan.conditions)
    for argument in _import_arguments([plan.resources, plan.outputs]):
        try:
            name = resolver.resolve(argument)
        except TemplateError:
            continue  # names a resource: known only when the stack runs
        if isinstance(name, str) and name not in exports:
            raise ValidationError(f"No export named {name} found.")


def unchanged(stack: Stack, plan: Plan, tags: list[dict[str, str]]) -> bool:
    before = {key: value.value for key, value in stack.parameters.items()}
    after = {key: value.value for key, value in plan.parameters.items()}
    return stack.template == plan.template and before == after and stack.tags == tags


def _parameters(template: Template) -> list[dict[str, Any]]:
    listed = []
    for key, spec in template.get("Parameters", {}).items():
        item: dict[str, Any] = {
            "ParameterKey": key,
            "NoEcho": str(spec.get("NoEcho", "false")).lower() == "true",
            "Description": spec.get("Description"),
        }
        if "Default" in spec:
            item["DefaultValue"] = str(spec["Default"])
        listed.append(item)
    return listed


def _capabilities(template: Template) -> dict[str, Any]:
    needed = required_capabilities(template)
    if not needed:
        return {"Capabilities": []}
    types = sorted(
        {
            resource["Type"]
            for resource in template["Resources"].values()
            if resource["Type"] in IAM_TYPES
        }
    )
    return {
        "Capabilities": needed,
        "CapabilitiesReason": (
            f"The following resource(s) require capabilities: [{', '.join(types)}]"
        ),
    }


def validate(template: Template) -> dict[str, Any]:
    graph = dependencies(template["Resources"], frozenset(template.get("Parameters", {})))
    creation_order(graph)
    return {
        "Parameters": _parameters(template),
        "Description": template.get("Description"),
        **_capabilities(template),
        "DeclaredTransforms": [],
    }


def summary(template: Template) -> dict[str, Any]:
    parameters = []
    for item, spec in zip(
        _parameters(template), template.get("Parameters", {}).values(), strict=True
    ):
        item["ParameterType"] = spec.get("Type", "String")
        if "AllowedValues" in spec:
            item["ParameterConstraints"] = {
                "AllowedValues": [str(v) for v in spec["AllowedValues"]]
            }
        parameters.append(item)
    return {
        "Parameters": parameters,
        "Description": template.get("Description"),
        **_capabilities(template),
        "ResourceTypes": sorted({resource["Type"] for resource in template["Resources"].values()}),
        "Version": template.get("AWSTemplateFormatVersion", "2010-09-09"),
        "DeclaredTransforms": [],
    }

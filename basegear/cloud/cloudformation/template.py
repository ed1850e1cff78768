"""A template as CloudFormation reads it: JSON or YAML (with the short-form tags ``!Ref``,
``!GetAtt A.B``, ``!Sub`` …), its sections checked, its parameters given values and the
capabilities it needs worked out.

AWS behaviour matched (CloudFormation User Guide):
- "Template anatomy": Resources is the only required section; unknown top-level sections are a
  "Template format error".
- "Parameters": a parameter with no Default and no value fails with
  "Parameters: [X] must have values"; AllowedValues, AllowedPattern, Min/MaxLength and
  Min/MaxValue are checked; ``List<…>`` and CommaDelimitedList parameters resolve to lists;
  ``AWS::SSM::Parameter::Value<…>`` parameters resolve through Parameter Store.
- "Acknowledging IAM resources in CloudFormation templates": IAM resources need CAPABILITY_IAM,
  custom-named ones CAPABILITY_NAMED_IAM, else InsufficientCapabilitiesException
  "Requires capabilities : [CAPABILITY_IAM]"."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import yaml

from basegear.cloud.cloudformation.errors import InsufficientCapabilitiesError, ValidationError

Template = dict[str, Any]

SECTIONS = frozenset(
    {
        "AWSTemplateFormatVersion",
        "Description",
        "Metadata",
        "Parameters",
        "Rules",
        "Mappings",
        "Conditions",
        "Transform",
        "Resources",
        "Outputs",
    }
)
RESOURCE_KEYS = frozenset(
    {
        "Type",
        "Properties",
        "DependsOn",
        "Condition",
        "DeletionPolicy",
        "UpdateReplacePolicy",
        "Metadata",
        "CreationPolicy",
        "UpdatePolicy",
    }
)
POLICIES = frozenset({"Delete", "Retain", "RetainExceptOnCreate", "Snapshot"})


class _Loader(yaml.SafeLoader):
    """YAML without timestamps (``2010-09-09`` stays a string) and with CloudFormation's tags."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, pattern) for tag, pattern in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def _short_form(loader: _Loader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    """``!Ref X`` → ``{"Ref": X}``; ``!GetAtt A.B`` → ``{"Fn::GetAtt": ["A", "B"]}``; other
    tags → ``{"Fn::<Tag>": …}`` ("Intrinsic function reference", short forms)."""
    value: Any
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    if suffix == "Ref":
        return {"Ref": value}
    if suffix == "Condition":
        return {"Condition": value}
    if suffix == "GetAtt" and isinstance(value, str):
        logical, _, attribute = value.partition(".")
        return {"Fn::GetAtt": [logical, attribute]}
    return {f"Fn::{suffix}": value}


_Loader.add_multi_constructor("!", _short_form)


def parse(body: str) -> Template:
    """The template in ``body``; a ValidationError as AWS words it when it is not one."""
    text = body.strip()
    try:
        loaded = json.loads(text) if text.startswith("{") else yaml.load(text, Loader=_Loader)
    except (ValueError, yaml.YAMLError) as exc:
        raise ValidationError(f"Template format error: {_first_line(exc)}") from exc
    if not isinstance(loaded, dict):
        raise ValidationError("Template format error: unsupported structure.")
    check(loaded)
    return loaded


def _first_line(exc: Exception) -> str:
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__


def check(template: Template) -> None:
    unknown = sorted(set(template) - SECTIONS)
    if unknown:
        raise ValidationError(
            f"Template format error: Invalid template property or properties {unknown}"
        )
    if "Transform" in template:
        raise ValidationError(
            "Transform is not supported by the local CloudFormation: "
            "deploy the expanded template instead"
        )
    resources = template.get("Resources")
    if not isinstance(resources, dict) or not resources:
        raise ValidationError(
            "Template format error: At least one Resources member must be defined."
        )
    for logical_id, resource in resources.items():
        if not re.fullmatch(r"[A-Za-z0-9]+", logical_id):
            raise ValidationError(
                f"Template format error: Resource name {logical_id} is non alphanumeric."
            )
        if not isinstance(resource, dict) or not isinstance(resource.get("Type"), str):
            raise ValidationError(
                f"Template format error: [/Resources/{logical_id}] "
                "Every Resources object must contain a Type member."
            )
        extra = sorted(set(resource) - RESOURCE_KEYS)
        if extra:
            raise ValidationError(f"Invalid template resource property '{extra[0]}'")
        for policy in ("DeletionPolicy", "UpdateReplacePolicy"):
            if policy in resource and resource[policy] not in POLICIES:
                raise ValidationError(
                    f"Template format error: [/Resources/{logical_id}/{policy}] "
                    f"Unrecognized {policy} {resource[policy]}"
                )
    for section in ("Parameters", "Mappings", "Conditions", "Outputs"):
        if section in template and not isinstance(template[section], dict):
            raise ValidationError(f"Template format error: {section} must be an object")


@dataclass(frozen=True)
class ParameterValue:
    key: str
    value: str  # as given or defaulted, the value DescribeStacks shows
    resolved: Any  # what Ref gives: a string, or a list for list types
    no_echo: bool = False


SsmLookup = Callable[[str], str]


def resolve_parameters(
    template: Template,
    given: Mapping[str, str],
    *,
    ssm: SsmLookup,
) -> dict[str, ParameterValue]:
    declared: dict[str, Any] = template.get("Parameters", {})
    unknown = sorted(set(given) - set(declared))
    if unknown:
        raise ValidationError(f"Parameters: {unknown} do not exist in the template")
    missing = [key for key, spec in declared.items() if key not in given and "Default" not in spec]
    if missing:
        raise ValidationError(f"Parameters: {missing} must have values")
    values: dict[str, ParameterValue] = {}
    for key, spec in declared.items():
        raw = given[key] if key in given else _scalar(spec["Default"])
        kind = str(spec.get("Type", "String"))
        _check_constraints(key, raw, spec, kind)
        values[key] = ParameterValue(
            key,
            raw,
            _typed(raw, kind, ssm),
            no_echo=str(spec.get("NoEcho", "false")).lower() == "true",
        )
    return values


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ",".join(_scalar(item) for item in value)
    return str(value)


def _typed(raw: str, kind: str, ssm: SsmLookup) -> Any:
    if kind.startswith("AWS::SSM::Parameter::Value<"):
        value = ssm(raw)
        return value.split(",") if "List<" in kind else value
    if kind == "CommaDelimitedList" or kind.startswith("List<"):
        return [item.strip() for item in raw.split(",")] if raw else []
    return raw


def _check_constraints(key: str, raw: str, spec: Mapping[str, Any], kind: str) -> None:
    message = spec.get("ConstraintDescription")
    allowed = spec.get("AllowedValues")
    if allowed is not None and raw not in [_scalar(value) for value in allowed]:
        raise ValidationError(message or f"Parameter '{key}' must be one of AllowedValues")
    pattern = spec.get("AllowedPattern")
    if pattern is not None and not re.fullmatch(str(pattern), raw):
        raise ValidationError(message or f"Parameter '{key}' must match pattern {pattern}")
    if "MinLength" in spec and len(raw) < int(spec["MinLength"]):
        raise ValidationError(
            message or f"Parameter '{key}' must contain at least {spec['MinLength']} characters"
        )
    if "MaxLength" in spec and len(raw) > int(spec["MaxLength"]):
        raise ValidationError(
            message or f"Parameter '{key}' must contain at most {spec['MaxLength']} characters"
        )
    if kind == "Number":
        try:
            number = float(raw)
        except ValueError:
            raise ValidationError(f"Parameter '{key}' must be a number") from None
        if "MinValue" in spec and number < float(spec["MinValue"]):
            raise ValidationError(
                message or f"Parameter '{key}' must be a number not less than {spec['MinValue']}"
            )
        if "MaxValue" in spec and number > float(spec["MaxValue"]):
            raise ValidationError(
                message or f"Parameter '{key}' must be a number not greater than {spec['MaxValue']}"
            )


IAM_TYPES = {
    "AWS::IAM::AccessKey": None,
    "AWS::IAM::Group": "GroupName",
    "AWS::IAM::InstanceProfile": "InstanceProfileName",
    "AWS::IAM::ManagedPolicy": "ManagedPolicyName",
    "AWS::IAM::Policy": None,
    "AWS::IAM::Role": "RoleName",
    "AWS::IAM::User": "UserName",
    "AWS::IAM::UserToGroupAddition": None,
}


def required_capabilities(template: Template) -> list[str]:
    """CAPABILITY_NAMED_IAM if an IAM resource has a custom name, else CAPABILITY_IAM if there
    is any IAM resource."""
    needed: list[str] = []
    for resource in template["Resources"].values():
        if resource["Type"] not in IAM_TYPES:
            continue
        name = IAM_TYPES[resource["Type"]]
        if name and name in (resource.get("Properties") or {}):
            return ["CAPABILITY_NAMED_IAM"]
        needed = ["CAPABILITY_IAM"]
    return needed


def check_capabilities(template: Template, given: list[str]) -> None:
    needed = required_capabilities(template)
    if not needed:
        return
    if needed == ["CAPABILITY_IAM"] and (
        "CAPABILITY_IAM" in given or "CAPABILITY_NAMED_IAM" in given
    ):
        return
    if needed == ["CAPABILITY_NAMED_IAM"] and "CAPABILITY_NAMED_IAM" in given:
        return
    raise InsufficientCapabilitiesError(f"Requires capabilities : {_bracketed(needed)}")


def _bracketed(names: list[str]) -> str:
    return "[" + ", ".join(names) + "]"

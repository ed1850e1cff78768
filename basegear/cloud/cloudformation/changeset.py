"""Change sets: what executing a template would add, modify (in place or by replacement) and
remove, shaped as DescribeChangeSet shows it (CloudFormation API reference: ResourceChange,
ResourceChangeDetail, ResourceTargetDefinition; User Guide: "Update stacks using change sets").

- Add / Remove for resources only in the new / old template; Remove carries PolicyAction
  Delete or Retain from the DeletionPolicy.
- Modify lists one detail per changed property: Target {Attribute: Properties, Name,
  RequiresRecreation Never | Conditionally | Always}, Evaluation Static or Dynamic, ChangeSource
  DirectModification (the template changed), ParameterReference (a parameter it refers to
  changed), ResourceReference (Ref of a replaced resource) or ResourceAttribute (Fn::GetAtt of a
  modified one, Dynamic since its value is known only at execution).
- Replacement is True when a detail that always recreates is Static, Conditional when a
  recreating detail is Dynamic or conditional, else False; "with several changes to one
  resource the most intrusive applies". A replaced resource carries PolicyAction
  ReplaceAndDelete or ReplaceAndRetain from its UpdateReplacePolicy."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

from basegear.cloud.cloudformation.intrinsics import SUB_VARIABLE, intrinsic, split_getatt
from basegear.cloud.cloudformation.plan import Plan
from basegear.cloud.cloudformation.resources import handler_for
from basegear.cloud.cloudformation.stacks import ResourceRecord

NO_CHANGES = (
    "The submitted information didn't contain changes. Submit different information to create "
    "a change set."
)
REPLACE_POLICY = {"Retain": "ReplaceAndRetain", "Snapshot": "ReplaceAndSnapshot"}
RANK = {"False": 0, "Conditional": 1, "True": 2}


def _static(value: Any, parameters: Mapping[str, Any]) -> Any:
    """``value`` with references to parameters replaced by their values."""
    call = intrinsic(value)
    if call is not None:
        name, argument = call
        if name == "Ref" and isinstance(argument, str) and argument in parameters:
            return {"Parameter": parameters[argument]}
        if name == "Fn::Sub" and isinstance(argument, str):
            return {
                "Fn::Sub": SUB_VARIABLE.sub(
                    lambda match: str(parameters.get(match.group(1).strip(), match.group(0))),
                    argument,
                )
            }
    if isinstance(value, dict):
        return {key: _static(item, parameters) for key, item in value.items()}
    if isinstance(value, list):
        return [_static(item, parameters) for item in value]
    return value


def _parameters_in(value: Any, names: set[str]) -> set[str]:
    text = repr(value)
    return {name for name in names if re.search(rf"\b{re.escape(name)}\b", text)}


def _references(value: Any) -> Iterator[tuple[str, str | None]]:
    """(logical ID, attribute or None for Ref) for each reference in ``value``."""
    call = intrinsic(value)
    if call is not None:
        name, argument = call
        if name == "Ref" and isinstance(argument, str):
            yield argument, None
            return
        if name == "Fn::GetAtt":
            try:
                logical_id, attribute = split_getatt(argument)
            except Exception:
                return
            yield logical_id, attribute if isinstance(attribute, str) else None
            return
        if name == "Fn::Sub":
            text = argument if isinstance(argument, str) else argument[0]
            for match in SUB_VARIABLE.finditer(str(text)):
                inner = match.group(1).strip()
                if not inner.startswith("!"):
                    head, _, attribute = inner.partition(".")
                    yield head, attribute or None
            if isinstance(argument, list) and len(argument) == 2:
                yield from _references(argument[1])
            return
    if isinstance(value, dict):
        for item in value.values():
            yield from _references(item)
    elif isinstance(value, list):
        for item in value:
            yield from _references(item)


def _detail(
    name: str, recreation: str, evaluation: str, source: str, causing: str | None
) -> dict[str, Any]:
    detail: dict[str, Any] = {
        "Target": {
            "Attribute": "Properties",
            "Name": name,
            "RequiresRecreation": recreation,
            "Path": f"/Properties/{name}",
        },
        "Evaluation": evaluation,
        "ChangeSource": source,
    }
    if causing is not None:
        detail["CausingEntity"] = causing
    return detail


def _replacement(details: list[dict[str, Any]]) -> str:
    verdict = "False"
    for detail in details:
        recreation = detail["Target"]["RequiresRecreation"]
        if recreation == "Always" and detail["Evaluation"] == "Static":
            found = "True"
        elif recreation in ("Always", "Conditionally"):
            found = "Conditional"
        else:
            found = "False"
        verdict = max(verdict, found, key=RANK.__getitem__)
    return verdict


def diff(
    records: Mapping[str, ResourceRecord],
    old_parameters: Mapping[str, Any],
    plan: Plan,
) -> list[dict[str, Any]]:
    """The Changes list of DescribeChangeSet for deploying ``plan`` over ``records``."""
    new_parameters = plan.parameter_values
    changed_parameters = {
        key
        for key in set(old_parameters) | set(new_parameters)
        if old_parameters.get(key) != new_parameters.get(key)
    }
    verdicts: dict[str, str] = {}  # logical ID → Replacement of a Modify
    changes: list[dict[str, Any]] = []
    for logical_id in plan.order:
        definition = plan.resources[logical_id]
        record = records.get(logical_id)
        if record is None or record.live is None:
            verdicts[logical_id] = "True"
            changes.append(_change("Add", logical_id, definition["Type"], None))
            continue
        details = _details(
            record, definition, old_parameters, new_parameters, changed_parameters, verdicts
        )
        scope = ["Properties"] if details else []
        if any(detail["Target"]["Name"] == "Tags" for detail in details):
            scope.append("Tags")
        for attribute in ("DeletionPolicy", "UpdateReplacePolicy", "Metadata"):
            if record.definition.get(attribute) != definition.get(attribute):
                scope.append(attribute)
        if not scope:
            continue
        replacement = _replacement(details)
        verdicts[logical_id] = replacement
        change = _change("Modify", logical_id, definition["Type"], record.physical_id)
        change["ResourceChange"].update(
            {"Replacement": replacement, "Scope": scope, "Details": details}
        )
        if replacement == "True":
            policy = definition.get("UpdateReplacePolicy", "Delete")
            change["ResourceChange"]["PolicyAction"] = REPLACE_POLICY.get(
                policy, "ReplaceAndDelete"
            )
        changes.append(change)
    for logical_id, record in records.items():
        if logical_id in plan.resources or record.live is None:
            continue
        change = _change("Remove", logical_id, record.type, record.physical_id)
        policy = record.definition.get("DeletionPolicy", "Delete")
        change["ResourceChange"]["PolicyAction"] = (
            "Retain" if policy in ("Retain", "RetainExceptOnCreate") else policy
        )
        changes.append(change)
    return changes


def _details(
    record: ResourceRecord,
    definition: Mapping[str, Any],
    old_parameters: Mapping[str, Any],
    new_parameters: Mapping[str, Any],
    changed_parameters: set[str],
    verdicts: Mapping[str, str],
) -> list[dict[str, Any]]:
    handler = handler_for(definition["Type"])
    old_props = record.definition.get("Properties", {})
    new_props = definition.get("Properties", {})
    details: list[dict[str, Any]] = []
    for name in sorted(set(old_props) | set(new_props)):
        recreation = handler.recreation(name) if handler else "Conditionally"
        before, after = old_props.get(name), new_props.get(name)
        if before != after:
            details.append(_detail(name, recreation, "Static", "DirectModification", None))
        elif _static(before, old_parameters) != _static(after, new_parameters):
            for parameter in sorted(_parameters_in(after, changed_parameters)):
                details.append(_detail(name, recreation, "Static", "ParameterReference", parameter))
        seen: set[tuple[str, str | None]] = set()
        for target, attribute in _references(after):
            verdict = verdicts.get(target)
            if verdict is None or (target, attribute) in seen:
                continue
            seen.add((target, attribute))
            if attribute is None and verdict == "True":
                details.append(_detail(name, recreation, "Static", "ResourceReference", target))
            elif attribute is None and verdict == "Conditional":
                details.append(_detail(name, recreation, "Dynamic", "ResourceReference", target))
            elif attribute is not None:
                details.append(
                    _detail(
                        name, recreation, "Dynamic", "ResourceAttribute", f"{target}.{attribute}"
                    )
                )
    return details


def _change(
    action: str, logical_id: str, resource_type: str, physical_id: str | None
) -> dict[str, Any]:
    change: dict[str, Any] = {
        "Action": action,
        "LogicalResourceId": logical_id,
        "ResourceType": resource_type,
        "Scope": [],
        "Details": [],
    }
    if physical_id is not None:
        change["PhysicalResourceId"] = physical_id
    return {"Type": "Resource", "ResourceChange": change}

"""A template made ready to deploy: parameters given values, conditions evaluated, the resources
and outputs whose Condition holds, every Fn::If reduced to its branch, and the dependency order
checked for cycles. Stack operations, change sets and ValidateTemplate all start here, so a
template is refused the same way wherever it comes in."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from basegear.cloud.cloudformation.errors import TemplateError, ValidationError
from basegear.cloud.cloudformation.graph import creation_order, dependencies, output_dependencies
from basegear.cloud.cloudformation.intrinsics import (
    Pseudo,
    Resolver,
    evaluate_conditions,
    select_branches,
)
from basegear.cloud.cloudformation.template import (
    ParameterValue,
    SsmLookup,
    Template,
    resolve_parameters,
)


@dataclass(frozen=True)
class Plan:
    template: Template
    parameters: dict[str, ParameterValue]
    conditions: dict[str, bool]
    resources: dict[str, dict[str, Any]]
    outputs: dict[str, dict[str, Any]]
    graph: dict[str, set[str]]
    order: list[str]

    @property
    def parameter_values(self) -> dict[str, Any]:
        return {key: value.resolved for key, value in self.parameters.items()}

    @property
    def mappings(self) -> dict[str, Any]:
        mappings: dict[str, Any] = self.template.get("Mappings", {})
        return mappings


def prepare(
    template: Template, given: Mapping[str, str], pseudo: Pseudo, *, ssm: SsmLookup
) -> Plan:
    parameters = resolve_parameters(template, given, ssm=ssm)
    values = {key: value.resolved for key, value in parameters.items()}
    resolver = Resolver(pseudo, values, template.get("Mappings", {}))
    try:
        conditions = evaluate_conditions(template.get("Conditions", {}), resolver)
        resources = {
            logical_id: select_branches(resource, conditions)
            for logical_id, resource in template["Resources"].items()
            if _holds(resource, conditions, logical_id)
        }
        outputs = {
            key: select_branches(output, conditions)
            for key, output in template.get("Outputs", {}).items()
            if _holds(output, conditions, key)
        }
    except TemplateError as exc:
        raise ValidationError(exc.reason) from None
    names = frozenset(parameters)
    graph = dependencies(resources, names)
    missing = output_dependencies(outputs, names) - set(resources)
    if missing:
        raise ValidationError(
            "Template format error: Unresolved resource dependencies "
            f"[{', '.join(sorted(missing))}] in the Outputs block of the template"
        )
    return Plan(template, parameters, conditions, resources, outputs, graph, creation_order(graph))


def _holds(entry: Any, conditions: Mapping[str, bool], key: str) -> bool:
    if not isinstance(entry, dict) or "Condition" not in entry:
        return True
    name = entry["Condition"]
    if name not in conditions:
        raise ValidationError(
            f"Template format error: Unresolved dependencies [{name}]. "
            f"Cannot reference resources in the Conditions block of the template ({key})"
        )
    return conditions[name]

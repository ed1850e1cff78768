"""The order in which a stack's resources are created, updated and deleted.

A resource depends on every resource it names in Ref, Fn::GetAtt or Fn::Sub, and on those in its
DependsOn attribute ("DependsOn attribute", CloudFormation User Guide). Creation follows the
dependencies; deletion runs in reverse. A cycle is refused before anything changes, as AWS
refuses it: "Circular dependency between resources: [A, B]". A dependency on a resource that the
template does not define (or whose Condition is false) is refused as "Template format error:
Unresolved resource dependencies [X] in the Resources block of the template"."""

from __future__ import annotations

from collections.abc import Mapping
from graphlib import CycleError, TopologicalSorter
from typing import Any

from basegear.cloud.cloudformation.errors import ValidationError
from basegear.cloud.cloudformation.intrinsics import references


def dependencies(
    resources: Mapping[str, Mapping[str, Any]], parameters: frozenset[str]
) -> dict[str, set[str]]:
    """Each resource's direct dependencies, checked to exist."""
    graph: dict[str, set[str]] = {}
    unresolved: set[str] = set()
    for logical_id, resource in resources.items():
        depends_on = resource.get("DependsOn", [])
        named = [depends_on] if isinstance(depends_on, str) else list(depends_on)
        found = set(references(resource.get("Properties", {}), parameters)) | set(named)
        unresolved |= found - set(resources)
        graph[logical_id] = found & set(resources)
    if unresolved:
        listed = ", ".join(sorted(unresolved))
        raise ValidationError(
            "Template format error: Unresolved resource dependencies "
            f"[{listed}] in the Resources block of the template"
        )
    return graph


def output_dependencies(outputs: Mapping[str, Any], parameters: frozenset[str]) -> set[str]:
    return set(references(outputs, parameters))


def creation_order(graph: Mapping[str, set[str]]) -> list[str]:
    """Dependencies first; ties in template order, so that the order is reproducible."""
    sorter: TopologicalSorter[str] = TopologicalSorter()
    for logical_id in graph:
        sorter.add(logical_id, *sorted(graph[logical_id]))
    try:
        sorter.prepare()
    except CycleError as exc:
        cycle = sorted(set(exc.args[1]))
        raise ValidationError(
            f"Circular dependency between resources: [{', '.join(cycle)}]"
        ) from None
    position = {logical_id: index for index, logical_id in enumerate(graph)}
    order: list[str] = []
    while sorter.is_active():
        ready = sorted(sorter.get_ready(), key=lambda item: position.get(item, -1))
        order.extend(ready)
        sorter.done(*ready)
    return order


def deletion_order(graph: Mapping[str, set[str]], present: set[str]) -> list[str]:
    """Dependents before what they depend on, limited to ``present``."""
    order = creation_order({key: value & present for key, value in graph.items() if key in present})
    return list(reversed(order))

"""A change set as a plan: what executing it adds, modifies in place, replaces and removes, as
plain data (so it can be printed, checked by the guard and tested) and as a rich table.

From DescribeChangeSet's ``ResourceChange`` (CloudFormation API reference): ``Action`` Add,
Modify, Remove (Import and Dynamic are shown as they come); ``Replacement`` True, Conditional or
False for a Modify; ``PolicyAction`` Delete, Retain, ReplaceAndDelete, ReplaceAndRetain …;
``Details`` name the properties and whether each ``RequiresRecreation``."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

KINDS = ("add", "modify", "replace", "remove")
STYLES = {"add": "green", "modify": "yellow", "replace": "magenta", "remove": "red"}


@dataclass(frozen=True)
class Change:
    logical_id: str
    resource_type: str
    action: str  # Add | Modify | Remove | Import | Dynamic
    replacement: str = ""  # True | Conditional | False for a Modify
    policy_action: str = ""
    physical_id: str = ""
    properties: tuple[str, ...] = ()  # the properties that change
    recreating: tuple[str, ...] = ()  # those that (may) require a new resource

    @property
    def kind(self) -> str:
        """add, modify, replace (Replacement True or Conditional), remove, or the action."""
        if self.action == "Modify":
            return "replace" if self.replacement in ("True", "Conditional") else "modify"
        return self.action.lower()

    @property
    def retains(self) -> bool:
        """Whether a removal or replacement keeps the old resource (DeletionPolicy or
        UpdateReplacePolicy Retain)."""
        return self.policy_action in ("Retain", "ReplaceAndRetain")


def changes_from(described: Iterable[Mapping[str, Any]]) -> tuple[Change, ...]:
    """DescribeChangeSet's ``Changes`` as Change values, in a stable order: by kind, then ID."""
    changes = []
    for item in described:
        resource = item.get("ResourceChange") or {}
        properties: list[str] = []
        recreating: list[str] = []
        for detail in resource.get("Details") or []:
            target = detail.get("Target") or {}
            name = target.get("Name") or target.get("Attribute") or ""
            if name and name not in properties:
                properties.append(name)
            recreates = target.get("RequiresRecreation") in ("Always", "Conditionally")
            if recreates and name and name not in recreating:
                recreating.append(name)
        changes.append(
            Change(
                logical_id=resource.get("LogicalResourceId", ""),
                resource_type=resource.get("ResourceType", ""),
                action=resource.get("Action", ""),
                replacement=str(resource.get("Replacement") or ""),
                policy_action=str(resource.get("PolicyAction") or ""),
                physical_id=str(resource.get("PhysicalResourceId") or ""),
                properties=tuple(properties),
                recreating=tuple(recreating),
            )
        )
    order = {kind: index for index, kind in enumerate(KINDS)}
    return tuple(sorted(changes, key=lambda c: (order.get(c.kind, len(order)), c.logical_id)))


def summary(changes: Sequence[Change]) -> str:
    """``3 to add, 1 to modify, 0 to replace, 2 to remove``."""
    counts = Counter(change.kind for change in changes)
    return ", ".join(f"{counts.get(kind, 0)} to {kind}" for kind in KINDS)


def rows(changes: Sequence[Change]) -> list[tuple[str, str, str, str]]:
    """(kind, logical ID, type, details) per change, for display."""
    return [
        (change.kind, change.logical_id, change.resource_type, _details(change))
        for change in changes
    ]


def _details(change: Change) -> str:
    if change.kind == "replace":
        because = ", ".join(change.recreating or change.properties)
        maybe = "may be replaced" if change.replacement == "Conditional" else "replaced"
        kept = "; the old one is retained" if change.retains else ""
        return f"{maybe}: {because}{kept}" if because else f"{maybe}{kept}"
    if change.kind == "modify":
        return ", ".join(change.properties)
    if change.kind == "remove" and change.retains:
        return "removed from the stack, retained"
    return ""

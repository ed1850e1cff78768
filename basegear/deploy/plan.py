"""A change set as a plan: what executing it adds, modifies in place, replaces and removes, as
plain data (so it can be printed, checked by the guard and tested) and as a table: one row per
resource with its logical ID, type, action and replacement, as the CloudFormation console shows
a change set.

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


HEADER = ("RESOURCE", "TYPE", "ACTION", "REPLACEMENT", "DETAILS")
ACTION_COLUMN = 2


def rows(changes: Sequence[Change]) -> list[tuple[str, str, str, str, str]]:
    """``HEADER``, then (logical ID, type, action, replacement, details) per change. The
    replacement is DescribeChangeSet's (True, False or Conditional) for a Modify, ``-`` for
    the other actions, which have none."""
    return [HEADER] + [
        (
            change.logical_id,
            change.resource_type,
            change.action,
            (change.replacement or "-") if change.action == "Modify" else "-",
            _details(change),
        )
        for change in changes
    ]


def additions(template: Mapping[str, Any]) -> tuple[Change, ...]:
    """The plan of a stack that does not exist yet: every resource of ``template`` added."""
    resources = template.get("Resources") or {}
    return tuple(
        sorted(
            (
                Change(logical_id, str(resource.get("Type", "")), "Add")
                for logical_id, resource in resources.items()
                if isinstance(resource, Mapping)
            ),
            key=lambda change: change.logical_id,
        )
    )


def _details(change: Change) -> str:
    if change.kind == "replace":
        because = ", ".join(change.recreating or change.properties)
        maybe = "may be replaced" if change.replacement == "Conditional" else "replaced"
        kept = "; the old one is retained" if change.retains else ""
        return f"{maybe}: {because}{kept}" if because else f"{maybe}{kept}"
    if change.kind == "modify":
        return ", ".join(change.properties)
    if change.kind == "remove":
        return "removed from the stack, retained" if change.retains else "deleted"
    return ""

"""A resource-level comparison of two templates, e.g. BaseGear's and the one ``sls package``
wrote for the same service: which logical IDs only one has, and which differ and where."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from basegear.errors import GearError

ATTRIBUTES = ("Type", "DependsOn", "Condition", "DeletionPolicy", "UpdateReplacePolicy")


@dataclass(frozen=True)
class ResourceChange:
    logical_id: str
    change: str  # "only ours", "only theirs" or "differs"
    resource_type: str
    fields: tuple[str, ...] = ()  # for "differs": attributes and top-level properties

    def __str__(self) -> str:
        where = f": {', '.join(self.fields)}" if self.fields else ""
        return f"{self.change:<11} {self.logical_id} ({self.resource_type}){where}"


def read_template(path: Path) -> dict[str, Any]:
    try:
        template = json.loads(path.read_text())
    except OSError as exc:
        raise GearError(f"cannot read {path}: {exc.strerror}") from exc
    except ValueError as exc:
        raise GearError(
            f"{path} is not a JSON template: {exc}",
            hint="give a JSON template, e.g. .serverless/cloudformation-template-update-stack.json",
        ) from exc
    if not isinstance(template, dict) or not isinstance(template.get("Resources"), dict):
        raise GearError(f"{path} has no Resources section")
    return template


def diff_templates(ours: dict[str, Any], theirs: dict[str, Any]) -> list[ResourceChange]:
    mine, other = ours["Resources"], theirs["Resources"]
    changes = []
    for logical_id in sorted(set(mine) | set(other)):
        if logical_id not in other:
            changes.append(ResourceChange(logical_id, "only ours", _type(mine[logical_id])))
        elif logical_id not in mine:
            changes.append(ResourceChange(logical_id, "only theirs", _type(other[logical_id])))
        elif fields := _differing(mine[logical_id], other[logical_id]):
            changes.append(ResourceChange(logical_id, "differs", _type(mine[logical_id]), fields))
    return changes


def _type(resource: Any) -> str:
    return str(resource.get("Type", "?")) if isinstance(resource, dict) else "?"


def _differing(mine: dict[str, Any], other: dict[str, Any]) -> tuple[str, ...]:
    fields = [name for name in ATTRIBUTES if mine.get(name) != other.get(name)]
    ours, theirs = mine.get("Properties") or {}, other.get("Properties") or {}
    fields += [
        f"Properties.{name}"
        for name in sorted(set(ours) | set(theirs))
        if ours.get(name) != theirs.get(name)
    ]
    return tuple(fields)

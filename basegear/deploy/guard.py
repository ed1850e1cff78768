"""The guard: a plan that would destroy data is refused before anything changes.

A stateful resource — a DynamoDB table, an S3 bucket, an SQS queue, a KMS key, a Cognito user
pool, a log group that keeps its events (``RetentionInDays``) — may not be

- replaced (``Replacement`` True or Conditional): the service then points at a new, empty
  resource, even when ``UpdateReplacePolicy: Retain`` keeps the old one;
- removed with ``DeletionPolicy: Delete``: its data is deleted with it. A removal that
  retains the resource (``PolicyAction: Retain``) only leaves the stack, and is allowed.

``--allow-replace LOGICAL_ID`` accepts it for one resource, ``--force`` for all. The deployment
bucket is exempt: the Framework and BaseGear own it and its contents are rebuilt by any deploy.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from basegear.compile.naming import DEPLOYMENT_BUCKET
from basegear.compile.resources import STATEFUL_TYPES
from basegear.deploy.plan import Change
from basegear.errors import GearError

LOG_GROUP = "AWS::Logs::LogGroup"


class PlanRefusedError(GearError):
    """The plan would replace or delete stateful resources; ``refused`` names them."""

    def __init__(self, stack_name: str, refused: Sequence[Change]) -> None:
        lines = [
            f"  {change.logical_id} ({change.resource_type}) would be {_what(change)}"
            for change in refused
        ]
        ids = " ".join(f"--allow-replace {change.logical_id}" for change in refused)
        super().__init__(
            f"refusing to deploy {stack_name}: the plan would destroy data\n" + "\n".join(lines),
            hint=f"nothing was changed. If the data may go, deploy again with {ids} "
            "(or --force for every resource)",
        )
        self.refused = tuple(refused)


def check(
    stack_name: str,
    changes: Sequence[Change],
    *,
    current: Mapping[str, Any],
    allowed: frozenset[str] = frozenset(),
    force: bool = False,
) -> None:
    """Raise ``PlanRefusedError`` naming each stateful resource the plan replaces or deletes.
    ``current`` is the stack's template now (it tells whether a log group keeps its events)."""
    if force:
        return
    resources = current.get("Resources") or {}
    refused = [
        change
        for change in changes
        if change.logical_id not in allowed
        and change.logical_id != DEPLOYMENT_BUCKET
        and destroys_data(change)
        and is_stateful(change.resource_type, resources.get(change.logical_id) or {})
    ]
    if refused:
        raise PlanRefusedError(stack_name, refused)


def destroys_data(change: Change) -> bool:
    if change.kind == "replace":
        return True
    return change.kind == "remove" and not change.retains


def is_stateful(resource_type: str, resource: Mapping[str, Any]) -> bool:
    if resource_type == LOG_GROUP:
        return "RetentionInDays" in (resource.get("Properties") or {})
    return resource_type in STATEFUL_TYPES


def _what(change: Change) -> str:
    """``deleted``, ``replaced: KeySchema cannot change in place`` …"""
    if change.kind == "remove":
        return "deleted"
    verb = "replaced" if change.replacement != "Conditional" else "possibly replaced"
    because = ", ".join(change.recreating)
    return f"{verb}: {because} cannot change in place" if because else verb

"""The guard: a plan that would destroy data is refused before anything changes.

A stateful resource (``STATEFUL``: tables, buckets, queues, log groups, user pools, keys,
streams, file systems, databases, secrets …) may not be

- replaced (``Replacement`` True or Conditional): the service then points at a new, empty
  resource, even when ``UpdateReplacePolicy: Retain`` keeps the old one;
- removed with ``DeletionPolicy: Delete`` (CloudFormation's default; User Guide,
  "DeletionPolicy attribute": it applies when an update removes the resource from the template)
  or ``Snapshot``: its data is deleted with it. A removal that retains the resource
  (``PolicyAction: Retain``) only leaves the stack, and is allowed.

``--allow-destroy LOGICAL_ID`` (or its older name ``--allow-replace``) accepts it for one
resource, ``--force`` for all. The deployment bucket is exempt: BaseGear owns it and any deploy
rebuilds its contents.

A stack whose resources are all stateful (the deployment bucket and its policy aside) is a
*static* stack, like the example's ``algorithms-static``: it gets termination protection
(``static_stack``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from basegear.compile.naming import DEPLOYMENT_BUCKET, DEPLOYMENT_BUCKET_POLICY
from basegear.compile.resources import STATEFUL_TYPES
from basegear.deploy.plan import Change
from basegear.errors import GearError

STATEFUL = frozenset(
    {
        *STATEFUL_TYPES,
        "AWS::Logs::LogGroup",
        "AWS::Kinesis::Stream",
        "AWS::KinesisFirehose::DeliveryStream",
        "AWS::EFS::FileSystem",
        "AWS::RDS::DBInstance",
        "AWS::RDS::DBCluster",
        "AWS::SecretsManager::Secret",
        "AWS::ECR::Repository",
        "AWS::Timestream::Table",
        "AWS::OpenSearchService::Domain",
        "AWS::Elasticsearch::Domain",
        "AWS::ElastiCache::ReplicationGroup",
        "AWS::Neptune::DBCluster",
        "AWS::DocDB::DBCluster",
        "AWS::Redshift::Cluster",
        "AWS::Backup::BackupVault",
        "AWS::QLDB::Ledger",
        "AWS::Cognito::IdentityPool",
    }
)
"""Types whose resources hold data that is lost with them. SNS topics, functions, roles and
the like are rebuilt from the template without loss."""

OWNED = frozenset({DEPLOYMENT_BUCKET, DEPLOYMENT_BUCKET_POLICY})


class PlanRefusedError(GearError):
    """The plan would replace or delete stateful resources; ``refused`` names them."""

    def __init__(self, stack_name: str, refused: Sequence[Change]) -> None:
        lines = [
            f"  {change.logical_id} ({change.resource_type}) would be {why(change)}"
            for change in refused
        ]
        ids = " ".join(f"--allow-destroy {change.logical_id}" for change in refused)
        super().__init__(
            f"refusing to deploy {stack_name}: the plan would destroy the data of "
            f"{len(refused)} stateful resource{'s' if len(refused) != 1 else ''}\n"
            + "\n".join(lines),
            hint=f"nothing was changed. If the data may go, deploy with {ids} "
            "(or --force for every resource)",
        )
        self.refused = tuple(refused)


def check(
    stack_name: str,
    changes: Sequence[Change],
    *,
    allowed: frozenset[str] = frozenset(),
    force: bool = False,
) -> None:
    """Raise ``PlanRefusedError`` naming each stateful resource the plan replaces or deletes
    that ``allowed`` does not name."""
    refused = refusals(changes, allowed=allowed, force=force)
    if refused:
        raise PlanRefusedError(stack_name, refused)


def refusals(
    changes: Sequence[Change], *, allowed: frozenset[str] = frozenset(), force: bool = False
) -> tuple[Change, ...]:
    """The changes ``check`` refuses, in the plan's order."""
    if force:
        return ()
    return tuple(
        change
        for change in changes
        if change.logical_id not in allowed
        and change.logical_id not in OWNED
        and destroys_data(change)
        and change.resource_type in STATEFUL
    )


def destroys_data(change: Change) -> bool:
    if change.kind == "replace":
        return True
    return change.kind == "remove" and not change.retains


def static_stack(template: Mapping[str, Any]) -> bool:
    """Whether every resource of ``template`` but the deployment bucket and its policy is
    stateful (and there is at least one): such a stack gets termination protection."""
    resources = template.get("Resources") or {}
    own = [resource for logical_id, resource in resources.items() if logical_id not in OWNED]
    return bool(own) and all(
        isinstance(resource, Mapping) and resource.get("Type") in STATEFUL for resource in own
    )


def why(change: Change) -> str:
    """``deleted (DeletionPolicy Delete)``, ``replaced: KeySchema requires a new resource`` …"""
    if change.kind == "remove":
        policy = change.policy_action or "Delete"
        return f"deleted: removed from the template with DeletionPolicy {policy}"
    verb = "replaced" if change.replacement != "Conditional" else "possibly replaced"
    because = change.recreating or change.properties
    if not because:
        return verb
    return f"{verb}: changing {', '.join(because)} requires a new resource"

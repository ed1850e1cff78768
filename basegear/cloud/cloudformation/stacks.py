"""Stack records as DescribeStacks, DescribeStackEvents and DescribeStackResources show them,
kept in one store per provider: stacks by ID and by name, their events, outputs and change sets,
and the region's exports.

AWS behaviour matched (CloudFormation API reference and User Guide):
- A stack is found by name while it is not deleted, and by its stack ID (ARN) forever after;
  an unknown one is "Stack with id X does not exist" ("DescribeStacks").
- Stack events are listed newest first ("DescribeStackEvents").
- Export names are unique per account and region; an export in use by another stack's
  Fn::ImportValue can be neither changed nor removed ("Exporting stack output values")."""

from __future__ import annotations

import threading
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from basegear.cloud.cloudformation.errors import ValidationError
from basegear.cloud.cloudformation.resources.base import Created
from basegear.cloud.cloudformation.template import ParameterValue, Template

STACK_TYPE = "AWS::CloudFormation::Stack"
IN_PROGRESS = "_IN_PROGRESS"
DELETE_COMPLETE = "DELETE_COMPLETE"
REVIEW_IN_PROGRESS = "REVIEW_IN_PROGRESS"
UPDATABLE = frozenset(
    {"CREATE_COMPLETE", "UPDATE_COMPLETE", "UPDATE_ROLLBACK_COMPLETE", "IMPORT_COMPLETE"}
)


@dataclass
class ResourceRecord:
    logical_id: str
    type: str
    status: str
    timestamp: datetime
    live: Created | None = None
    properties: dict[str, Any] = field(default_factory=dict)  # resolved, as last applied
    definition: dict[str, Any] = field(default_factory=dict)  # as the template gives it
    depends: set[str] = field(default_factory=set)
    reason: str | None = None

    @property
    def physical_id(self) -> str | None:
        return self.live.physical_id if self.live else None


@dataclass(frozen=True)
class StackEvent:
    event_id: str
    logical_id: str
    physical_id: str | None
    resource_type: str
    timestamp: datetime
    status: str
    reason: str | None = None
    properties: str | None = None
    token: str | None = None


@dataclass(frozen=True)
class Output:
    key: str
    value: Any
    description: str | None = None
    export_name: str | None = None


@dataclass
class ChangeSet:
    change_set_id: str
    name: str
    stack_id: str
    change_set_type: str  # CREATE or UPDATE
    created: datetime
    template: Template
    template_body: str
    parameters: dict[str, ParameterValue]
    capabilities: list[str]
    tags: list[dict[str, str]]
    changes: list[dict[str, Any]]
    description: str | None = None
    status: str = "CREATE_COMPLETE"
    execution_status: str = "AVAILABLE"
    reason: str | None = None
    notification_arns: list[str] = field(default_factory=list)


@dataclass
class Stack:
    stack_id: str
    name: str
    region: str
    account: str
    created: datetime
    status: str
    template: Template
    template_body: str
    parameters: dict[str, ParameterValue] = field(default_factory=dict)
    capabilities: list[str] = field(default_factory=list)
    tags: list[dict[str, str]] = field(default_factory=list)
    notification_arns: list[str] = field(default_factory=list)
    description: str | None = None
    reason: str | None = None
    updated: datetime | None = None
    deleted: datetime | None = None
    disable_rollback: bool = False
    termination_protection: bool = False
    role_arn: str | None = None
    timeout_minutes: int | None = None
    resources: dict[str, ResourceRecord] = field(default_factory=dict)
    outputs: list[Output] = field(default_factory=list)
    events: list[StackEvent] = field(default_factory=list)
    change_sets: dict[str, ChangeSet] = field(default_factory=dict)
    imports: set[str] = field(default_factory=set)  # export names its template imports
    done: threading.Event = field(default_factory=threading.Event)

    @property
    def busy(self) -> bool:
        return self.status.endswith(IN_PROGRESS) and self.status != REVIEW_IN_PROGRESS

    def event(
        self,
        moment: datetime,
        status: str,
        *,
        logical_id: str | None = None,
        physical_id: str | None = None,
        resource_type: str = STACK_TYPE,
        reason: str | None = None,
        properties: str | None = None,
    ) -> None:
        self.events.append(
            StackEvent(
                event_id=str(uuid.uuid4()),
                logical_id=logical_id or self.name,
                physical_id=physical_id if logical_id else self.stack_id,
                resource_type=resource_type,
                timestamp=moment,
                status=status,
                reason=reason,
                properties=properties,
            )
        )

    def set_status(self, moment: datetime, status: str, reason: str | None = None) -> None:
        self.status = status
        self.reason = reason
        self.event(moment, status, reason=reason)


class StackStore:
    """Every stack of one provider, keyed by ID; names resolve to the live stack."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.stacks: dict[str, Stack] = {}

    def add(self, stack: Stack) -> None:
        with self.lock:
            self.stacks[stack.stack_id] = stack

    def live(self, region: str, account: str) -> list[Stack]:
        with self.lock:
            return [
                stack
                for stack in self.stacks.values()
                if stack.region == region and stack.account == account and stack.deleted is None
            ]

    def find(self, name_or_id: str, region: str, account: str) -> Stack | None:
        with self.lock:
            if name_or_id.startswith("arn:"):
                stack = self.stacks.get(name_or_id)
                return stack if stack and stack.region == region else None
            for stack in self.live(region, account):
                if stack.name == name_or_id:
                    return stack
            return None

    def get(self, name_or_id: str, region: str, account: str) -> Stack:
        stack = self.find(name_or_id, region, account)
        if stack is None:
            raise ValidationError(f"Stack with id {name_or_id} does not exist")
        return stack

    def all(self, region: str, account: str) -> list[Stack]:
        with self.lock:
            return [
                stack
                for stack in self.stacks.values()
                if stack.region == region and stack.account == account
            ]

    def exports(self, region: str, account: str) -> dict[str, tuple[Stack, Any]]:
        """Export name → (exporting stack, value)."""
        found: dict[str, tuple[Stack, Any]] = {}
        for stack in self.live(region, account):
            for output in stack.outputs:
                if output.export_name is not None:
                    found[output.export_name] = (stack, output.value)
        return found

    def importers(self, export_name: str, region: str, account: str) -> list[Stack]:
        """The stacks whose deployed template imports ``export_name``."""
        return [stack for stack in self.live(region, account) if export_name in stack.imports]

    # -- durable state (basegear/cloud/state) -----------------------------------------------

    def snapshot(self) -> dict[str, Stack]:
        """Every stack, for durable state to pickle (its locks and events are saved as new)."""
        with self.lock:
            return dict(self.stacks)

    def restore(self, stacks: dict[str, Stack], moment: datetime) -> None:
        """Replace every stack by ``stacks``. An operation that was in progress when the state
        was saved has no thread to finish it any more: its stack ends in the matching FAILED
        status (a cleanup phase, which cannot fail the stack on AWS, in its COMPLETE status),
        with an event saying why, so that the stack can be updated or deleted again."""
        with self.lock:
            self.stacks = dict(stacks)
            for stack in self.stacks.values():
                if stack.busy:
                    stack.set_status(moment, interrupted_status(stack.status), INTERRUPTED)
                stack.done.set()


INTERRUPTED = "The local cloud stopped while this operation was in progress."


def interrupted_status(status: str) -> str:
    """``UPDATE_COMPLETE_CLEANUP_IN_PROGRESS`` → ``UPDATE_COMPLETE``, ``X_IN_PROGRESS`` →
    ``X_FAILED`` (CloudFormation User Guide, "Stack status codes")."""
    if status.endswith("_CLEANUP_IN_PROGRESS"):
        return status.removesuffix("_CLEANUP_IN_PROGRESS")
    return status.removesuffix(IN_PROGRESS) + "_FAILED"

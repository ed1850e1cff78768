"""The CloudFormation calls of a deployment, as the Serverless Framework makes them with the
``changesets`` deployment method: find the stack; create a change set and wait for it; read its
changes (every page); execute it and follow the stack's events until the operation ends; read
the outputs and resources. Errors pass through ``target.aws_errors`` (the one boundary).

Statuses (CloudFormation API reference, StackStatus): an operation has ended when the status
no longer ends in ``_IN_PROGRESS``; it succeeded when it is ``CREATE_COMPLETE`` or
``UPDATE_COMPLETE``. A change set that holds no change is ``FAILED`` with a reason saying so
(User Guide, "Update stacks using change sets") — for a deployment that is success."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from basegear.deploy.target import Target, aws_errors, error_code
from basegear.errors import GearError

CAPABILITIES = ("CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND")
SUCCEEDED = frozenset({"CREATE_COMPLETE", "UPDATE_COMPLETE"})
NEW = frozenset({"REVIEW_IN_PROGRESS"})  # made by a CREATE change set never executed
NO_CHANGES = ("didn't contain changes", "No updates are to be performed")


@dataclass(frozen=True)
class StackEvent:
    event_id: str
    timestamp: datetime
    logical_id: str
    resource_type: str
    status: str
    reason: str

    @property
    def failed(self) -> bool:
        return self.status.endswith("_FAILED")


@dataclass(frozen=True)
class ChangeSet:
    change_set_id: str
    stack_name: str
    changes: tuple[dict[str, Any], ...]  # DescribeChangeSet's Changes, every page
    empty: bool  # FAILED because nothing would change


class StackClient:
    """CloudFormation for one target. ``poll`` is the wait between two DescribeStacks or
    DescribeChangeSet calls (the local cloud answers once the work is done, so its first
    answer is usually final)."""

    def __init__(
        self,
        target: Target,
        *,
        poll: float | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        timeout: float = 3600.0,
    ) -> None:
        self.target = target
        self.cfn = target.client("cloudformation")
        self.poll = poll if poll is not None else (0.25 if target.local else 5.0)
        self._sleep = sleep
        self._clock = clock
        self._timeout = timeout

    def find(self, name: str) -> dict[str, Any] | None:
        """DescribeStacks of ``name``; None when there is no such stack."""
        from botocore.exceptions import ClientError

        with aws_errors(self.target, f"reading stack {name}"):
            try:
                stacks = self.cfn.describe_stacks(StackName=name)["Stacks"]
            except ClientError as exc:
                if error_code(exc) == "ValidationError" and "does not exist" in str(exc):
                    return None
                raise
        return stacks[0] if stacks else None

    def create_change_set(
        self,
        name: str,
        *,
        kind: str,
        template: Mapping[str, str],
        tags: Sequence[Mapping[str, str]] = (),
        parameters: Sequence[Mapping[str, str]] = (),
    ) -> ChangeSet:
        """Create a change set (``template``: TemplateBody or TemplateURL) and wait until
        CloudFormation has computed it."""
        change_set_name = f"gear-{kind.lower()}-{int(time.time() * 1000)}"
        with aws_errors(self.target, f"creating a change set for {name}"):
            created = self.cfn.create_change_set(
                StackName=name,
                ChangeSetName=change_set_name,
                ChangeSetType=kind,
                Capabilities=list(CAPABILITIES),
                Tags=list(tags),
                Parameters=list(parameters),
                Description="gear deploy",
                **template,
            )
        change_set_id = created["Id"]
        described = self._wait_change_set(change_set_id)
        if described["Status"] == "FAILED":
            reason = described.get("StatusReason") or ""
            if any(text in reason for text in NO_CHANGES):
                return ChangeSet(change_set_id, name, (), empty=True)
            self.delete_change_set(change_set_id)
            raise GearError(
                f"CloudFormation refused the change set for {name}: {reason}",
                hint="fix what the reason names in serverless.yml and deploy again",
            )
        changes = list(described.get("Changes", []))
        token = described.get("NextToken")
        while token:
            with aws_errors(self.target, f"reading the change set of {name}"):
                page = self.cfn.describe_change_set(ChangeSetName=change_set_id, NextToken=token)
            changes.extend(page.get("Changes", []))
            token = page.get("NextToken")
        return ChangeSet(change_set_id, name, tuple(changes), empty=False)

    def delete_change_set(self, change_set_id: str) -> None:
        with aws_errors(self.target, "deleting a change set"):
            self.cfn.delete_change_set(ChangeSetName=change_set_id)

    def execute(self, change_set: ChangeSet, on_event: Callable[[StackEvent], None]) -> str:
        """Execute ``change_set`` and follow the stack until the operation ends, handing each
        new event to ``on_event`` as it comes (oldest first); returns the final status. The
        local CloudFormation answers ExecuteChangeSet once the work is done, so the call runs
        on a thread while the events are read."""
        name = change_set.stack_name
        latest = next(self._events(name), None)
        seen = {latest.event_id} if latest is not None else set()
        deadline = self._clock() + self._timeout
        with ThreadPoolExecutor(1, thread_name_prefix="gear-execute") as pool:
            executing = pool.submit(self._execute_call, change_set)
            while True:
                called = executing.done()
                if called:
                    executing.result()  # its GearError, if it failed
                stack = self.find(name)
                status = str(stack["StackStatus"]) if stack else "DELETE_COMPLETE"
                for event in reversed(list(self._events(name, until=seen))):
                    seen.add(event.event_id)
                    on_event(event)
                if called and not status.endswith("_IN_PROGRESS"):
                    return status
                if self._clock() > deadline:
                    raise GearError(
                        f"{name} is still {status} after {self._timeout:.0f} s",
                        hint="follow it with gear status; it goes on without gear",
                    )
                if called:
                    self._sleep(self.poll)
                else:  # read the events again in ``poll``, or at once when the call returns
                    wait([executing], timeout=self.poll)

    def _execute_call(self, change_set: ChangeSet) -> None:
        with aws_errors(self.target, f"executing the change set of {change_set.stack_name}"):
            self.cfn.execute_change_set(ChangeSetName=change_set.change_set_id)

    def failures(self, name: str, since: datetime | None = None) -> list[StackEvent]:
        """The failed events of the last operation, oldest first."""
        found = [event for event in self._events(name) if event.failed]
        if since is not None:
            found = [event for event in found if event.timestamp >= since]
        return list(reversed(found))

    def protect(self, name: str) -> None:
        """Termination protection on: DeleteStack then fails and leaves the stack as it is
        (User Guide, "Protect a CloudFormation stack from being deleted")."""
        with aws_errors(self.target, f"turning on termination protection of {name}"):
            self.cfn.update_termination_protection(StackName=name, EnableTerminationProtection=True)

    def outputs(self, name: str) -> dict[str, str]:
        stack = self.find(name) or {}
        return {item["OutputKey"]: item.get("OutputValue", "") for item in stack.get("Outputs", [])}

    def resources(self, name: str) -> list[dict[str, Any]]:
        """ListStackResources, every page."""
        with aws_errors(self.target, f"listing the resources of {name}"):
            pages = self.cfn.get_paginator("list_stack_resources").paginate(StackName=name)
            return [item for page in pages for item in page["StackResourceSummaries"]]

    def _wait_change_set(self, change_set_id: str) -> dict[str, Any]:
        deadline = self._clock() + self._timeout
        while True:
            with aws_errors(self.target, "reading a change set"):
                described: dict[str, Any] = self.cfn.describe_change_set(
                    ChangeSetName=change_set_id
                )
            if described["Status"] in ("CREATE_COMPLETE", "FAILED"):
                return described
            if self._clock() > deadline:
                raise GearError(
                    f"the change set is still {described['Status']}",
                    hint="CloudFormation did not finish computing it; try again",
                )
            self._sleep(self.poll)

    def _events(self, name: str, until: set[str] | None = None) -> Iterator[StackEvent]:
        """Newest first, stopping at the first event in ``until``."""
        token: str | None = None
        while True:
            with aws_errors(self.target, f"reading the events of {name}"):
                page = self.cfn.describe_stack_events(
                    StackName=name, **({"NextToken": token} if token else {})
                )
            for item in page.get("StackEvents", []):
                if until is not None and item["EventId"] in until:
                    return
                yield StackEvent(
                    event_id=item["EventId"],
                    timestamp=item["Timestamp"],
                    logical_id=item.get("LogicalResourceId", ""),
                    resource_type=item.get("ResourceType", ""),
                    status=item.get("ResourceStatus", ""),
                    reason=item.get("ResourceStatusReason") or "",
                )
            token = page.get("NextToken")
            if not token:
                return

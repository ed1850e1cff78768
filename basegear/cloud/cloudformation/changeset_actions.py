"""The change-set actions: CreateChangeSet, DescribeChangeSet, ListChangeSets,
DeleteChangeSet and ExecuteChangeSet (CloudFormation API reference; User Guide, "Update stacks
using change sets"). A CREATE change set makes the stack in REVIEW_IN_PROGRESS; a change set
without changes is FAILED, not refused; executing one deletes the stack's other change sets."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from basegear.cloud.cloudformation import changeset, shapes
from basegear.cloud.cloudformation.actions import NAME, Call, action
from basegear.cloud.cloudformation.errors import (
    AlreadyExistsError,
    InvalidChangeSetStatusError,
    ValidationError,
)
from basegear.cloud.cloudformation.query import as_list
from basegear.cloud.cloudformation.stacks import REVIEW_IN_PROGRESS, ChangeSet
from basegear.cloud.cloudformation.validation import unchanged

if TYPE_CHECKING:
    from basegear.cloud.cloudformation.provider import CloudFormationProvider


@action("CreateChangeSet")
def create_change_set(provider: CloudFormationProvider, call: Call) -> dict[str, Any]:
    stack_name = call.get("StackName", "")
    name = call.get("ChangeSetName", "")
    if not NAME.fullmatch(name):
        raise ValidationError(
            f"1 validation error detected: Value '{name}' at 'changeSetName' failed to satisfy "
            "constraint: Member must satisfy regular expression pattern: [a-zA-Z][-a-zA-Z0-9]*"
        )
    kind = call.get("ChangeSetType", "UPDATE")
    stack = provider.store.find(stack_name, call.region, call.account)
    if kind == "CREATE":
        if stack is not None and stack.status != REVIEW_IN_PROGRESS:
            raise AlreadyExistsError(
                f"Stack [{stack_name}] already exists and cannot be created again with the "
                f"changeSet [{name}]."
            )
    elif kind == "UPDATE":
        if stack is None:
            raise ValidationError(f"Stack [{stack_name}] does not exist")
        provider._check_updatable(stack)
    else:
        raise ValidationError(f"ChangeSetType {kind} is not supported by the local CloudFormation")
    template, body = provider._template(call, stack if kind == "UPDATE" else None)
    target = stack or provider._new_stack(call, stack_name, template, body)
    plan = provider._plan(
        call, target, template, provider._given(call, stack if kind == "UPDATE" else None)
    )
    if any(item.name == name for item in target.change_sets.values()):
        raise AlreadyExistsError(f"ChangeSet [{name}] already exists")
    tags = as_list(call.get("Tags")) if "Tags" in call.params else target.tags
    change_set = ChangeSet(
        change_set_id=(
            f"arn:aws:cloudformation:{call.region}:{call.account}:changeSet/{name}/{uuid.uuid4()}"
        ),
        name=name,
        stack_id=target.stack_id,
        change_set_type=kind,
        created=provider.clock(),
        template=template,
        template_body=body,
        parameters=plan.parameters,
        capabilities=as_list(call.get("Capabilities")),
        tags=tags,
        changes=[],
        description=call.get("Description"),
        notification_arns=as_list(call.get("NotificationARNs")),
    )
    try:
        provider._imports_exist(plan, call, target)
        if kind == "UPDATE" and unchanged(target, plan, tags):
            raise ValidationError(changeset.NO_CHANGES)
        old = {key: value.resolved for key, value in target.parameters.items()}
        records = target.resources if kind == "UPDATE" else {}
        change_set.changes = changeset.diff(records, old, plan)
    except ValidationError as exc:
        change_set.status, change_set.execution_status = "FAILED", "UNAVAILABLE"
        change_set.reason = exc.message
    if stack is None:
        provider.store.add(target)
        target.event(provider.clock(), REVIEW_IN_PROGRESS, reason="User Initiated")
    target.change_sets[change_set.change_set_id] = change_set
    return {"Id": change_set.change_set_id, "StackId": target.stack_id}


@action("DescribeChangeSet")
def describe_change_set(provider: CloudFormationProvider, call: Call) -> dict[str, Any]:
    stack, change_set = provider._find_change_set(call)
    return shapes.change_set(stack, change_set)


@action("ListChangeSets")
def list_change_sets(provider: CloudFormationProvider, call: Call) -> dict[str, Any]:
    stack = provider.store.get(call.get("StackName", ""), call.region, call.account)
    return {
        "Summaries": [shapes.change_set_summary(stack, item) for item in stack.change_sets.values()]
    }


@action("DeleteChangeSet")
def delete_change_set(provider: CloudFormationProvider, call: Call) -> None:
    stack, change_set = provider._find_change_set(call)
    if change_set.execution_status == "EXECUTE_IN_PROGRESS":
        raise InvalidChangeSetStatusError(
            f"Cannot delete ChangeSet in status {change_set.execution_status}"
        )
    stack.change_sets.pop(change_set.change_set_id, None)
    return None


@action("ExecuteChangeSet")
def execute_change_set(provider: CloudFormationProvider, call: Call) -> None:
    stack, change_set = provider._find_change_set(call)
    if change_set.execution_status != "AVAILABLE":
        raise InvalidChangeSetStatusError(
            f"ChangeSet [{change_set.change_set_id}] cannot be executed in its current status "
            f"of [{change_set.status}]"
        )
    if stack.busy:
        raise InvalidChangeSetStatusError(
            f"ChangeSet [{change_set.change_set_id}] cannot be executed in its current status "
            f"of [{change_set.status}]"
        )
    given = {key: value.value for key, value in change_set.parameters.items()}
    plan = provider._plan(
        Call(call.region, call.account, {"Capabilities": change_set.capabilities}),
        stack,
        change_set.template,
        given,
    )
    # "After you execute a change set, CloudFormation deletes any additional change sets that
    # are associated with the stack" (User Guide, "Execute a change set").
    stack.change_sets = {change_set.change_set_id: change_set}
    change_set.execution_status = "EXECUTE_IN_PROGRESS"
    stack.capabilities = change_set.capabilities
    stack.tags = change_set.tags
    disable = call.flag("DisableRollback")
    if change_set.change_set_type == "CREATE":
        stack.template_body = change_set.template_body
        stack.disable_rollback = disable
        stack.status = "CREATE_IN_PROGRESS"
        work: Callable[[], None] = lambda: provider.engine.create(  # noqa: E731
            stack, plan, on_failure="DO_NOTHING" if disable else "ROLLBACK"
        )
    else:
        stack.status = "UPDATE_IN_PROGRESS"
        work = lambda: provider.engine.update(  # noqa: E731
            stack, plan, body=change_set.template_body
        )

    def run() -> None:
        work()
        change_set.execution_status = (
            "EXECUTE_COMPLETE"
            if stack.status.endswith("_COMPLETE") and "ROLLBACK" not in stack.status
            else "EXECUTE_FAILED"
        )

    provider._run(stack, run)
    return None

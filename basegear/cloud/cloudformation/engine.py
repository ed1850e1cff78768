"""Stack operations: create, update and delete a stack's resources in dependency order, and roll
back to the previous state when one fails.

The phases and statuses are those of the CloudFormation User Guide ("Stack status codes",
"Resource status codes", "Update behaviors of stack resources"):

- create: CREATE_IN_PROGRESS → each resource → outputs → CREATE_COMPLETE; on a failure
  ROLLBACK_IN_PROGRESS ("The following resource(s) failed to create: [X]. Rollback requested by
  user.") deletes what was created, then ROLLBACK_COMPLETE (or CREATE_FAILED when rollback is
  disabled).
- update: UPDATE_IN_PROGRESS creates added resources, updates changed ones in place or creates
  their replacement first; UPDATE_COMPLETE_CLEANUP_IN_PROGRESS then deletes removed resources
  (DeletionPolicy) and replaced ones (UpdateReplacePolicy). On a failure
  UPDATE_ROLLBACK_IN_PROGRESS puts updated resources back, UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_
  PROGRESS deletes what the update created, and the stack ends UPDATE_ROLLBACK_COMPLETE with its
  previous template, parameters and outputs.
- delete: DELETE_IN_PROGRESS deletes in reverse dependency order; a resource whose
  DeletionPolicy is Retain is left in place (DELETE_SKIPPED) and the stack still ends
  DELETE_COMPLETE ("DeletionPolicy attribute").

Resources are handled one at a time (AWS works in parallel where the graph allows; the order
here is one of the orders AWS may take)."""

from __future__ import annotations

import copy
import json
import logging
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from basegear.cloud.cloudformation.errors import ResourceError, TemplateError
from basegear.cloud.cloudformation.graph import deletion_order
from basegear.cloud.cloudformation.intrinsics import Pseudo, Resolver
from basegear.cloud.cloudformation.plan import Plan
from basegear.cloud.cloudformation.resources import handler_for
from basegear.cloud.cloudformation.resources.base import Context, Created, Handler, not_found
from basegear.cloud.cloudformation.stacks import Output, ResourceRecord, Stack, StackStore

LOG = logging.getLogger(__name__)

ClientFactory = Callable[[str, str], Any]  # (service, region) → boto3 client
Clock = Callable[[], datetime]
RETAINED = frozenset({"Retain", "RetainExceptOnCreate", "Snapshot"})


class _FailedError(Exception):
    """A resource (or the outputs) failed; the operation stops and rolls back."""

    def __init__(self, logical_id: str | None, reason: str) -> None:
        super().__init__(reason)
        self.logical_id = logical_id
        self.reason = reason


@dataclass
class _Touched:
    logical_id: str
    kind: str  # "added", "updated" or "replaced"
    before: ResourceRecord | None
    attempted: dict[str, Any] = field(default_factory=dict)


class Engine:
    def __init__(
        self,
        store: StackStore,
        *,
        clients: ClientFactory,
        clock: Clock,
        rng: random.Random,
        services: Mapping[str, Any],
    ) -> None:
        self.store = store
        self.clients = clients
        self.clock = clock
        self.rng = rng
        self.services = services

    # -- create ---------------------------------------------------------------------------

    def create(self, stack: Stack, plan: Plan, *, on_failure: str = "ROLLBACK") -> None:
        self._adopt(stack, plan)
        stack.set_status(self.clock(), "CREATE_IN_PROGRESS", "User Initiated")
        try:
            for logical_id in plan.order:
                self._create(stack, plan, logical_id)
            stack.outputs = self._outputs(stack, plan, previous=[])
            stack.set_status(self.clock(), "CREATE_COMPLETE")
        except _FailedError as failure:
            if on_failure == "DO_NOTHING":
                stack.set_status(self.clock(), "CREATE_FAILED", _failed_reason(failure, "create"))
                return
            reason = _failed_reason(failure, "create")
            if failure.logical_id is not None:
                reason += " Rollback requested by user."
            stack.set_status(self.clock(), "ROLLBACK_IN_PROGRESS", reason)
            try:
                self._delete_all(stack, on_create_rollback=True)
            except _FailedError as again:
                stack.set_status(self.clock(), "ROLLBACK_FAILED", _failed_reason(again, "delete"))
                return
            stack.set_status(self.clock(), "ROLLBACK_COMPLETE")
            if on_failure == "DELETE":
                self.delete(stack)

    def _create(self, stack: Stack, plan: Plan, logical_id: str) -> Created:
        definition = plan.resources[logical_id]
        record = ResourceRecord(
            logical_id,
            definition["Type"],
            "CREATE_IN_PROGRESS",
            self.clock(),
            definition=definition,
            depends=set(plan.graph[logical_id]),
        )
        stack.resources[logical_id] = record
        props: dict[str, Any] = {}
        try:
            props = self._resolve(stack, plan, definition.get("Properties", {}))
            self._record(stack, record, "CREATE_IN_PROGRESS", properties=props)
            handler = self._handler(record.type)
            live: Created = self._call(
                lambda: handler.create(self._context(stack, logical_id), props)
            )
        except ResourceError as exc:
            self._record(stack, record, "CREATE_FAILED", reason=exc.reason, properties=props)
            raise _FailedError(logical_id, exc.reason) from None
        record.live, record.properties = live, props
        self._record(stack, record, "CREATE_COMPLETE")
        return live

    # -- update ---------------------------------------------------------------------------

    def update(self, stack: Stack, plan: Plan, *, body: str) -> None:
        before = _Snapshot.of(stack)
        self._adopt(stack, plan)
        stack.template_body = body
        stack.updated = self.clock()
        stack.set_status(self.clock(), "UPDATE_IN_PROGRESS", "User Initiated")
        touched: list[_Touched] = []
        retired: list[tuple[ResourceRecord, str]] = []  # old physical resources and their policy
        try:
            for logical_id in plan.order:
                self._update_one(stack, plan, logical_id, before, touched, retired)
            stack.outputs = self._outputs(stack, plan, previous=before.outputs)
        except _FailedError as failure:
            self._roll_back_update(stack, before, touched, failure)
            return
        stack.set_status(self.clock(), "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS")
        removed = [
            logical_id
            for logical_id in deletion_order(before.graph(), set(before.records))
            if logical_id not in plan.resources
        ]
        for logical_id in removed:
            record = stack.resources.pop(logical_id)
            self._retire(stack, record, record.definition.get("DeletionPolicy", "Delete"))
        for record, policy in reversed(retired):
            self._retire(stack, record, policy)
        stack.set_status(self.clock(), "UPDATE_COMPLETE")

    def _update_one(
        self,
        stack: Stack,
        plan: Plan,
        logical_id: str,
        before: _Snapshot,
        touched: list[_Touched],
        retired: list[tuple[ResourceRecord, str]],
    ) -> None:
        definition = plan.resources[logical_id]
        old = before.records.get(logical_id)
        if old is None or old.live is None:
            touched.append(_Touched(logical_id, "added", None))
            self._create(stack, plan, logical_id)
            return
        if old.type != definition["Type"]:
            raise _FailedError(
                logical_id, f"Update of resource type is not permitted ({logical_id})"
            )
        record = stack.resources[logical_id]
        record.depends = set(plan.graph[logical_id])
        props: dict[str, Any] = {}
        try:
            props = self._resolve(stack, plan, definition.get("Properties", {}))
            handler = self._handler(record.type)
            if props == old.properties:
                record.definition = definition
                return
            record.definition = definition
            ctx = self._context(stack, logical_id)
            if handler.replaces(old.properties, props):
                self._check_custom_name(handler, logical_id, old.properties, props)
                touched.append(_Touched(logical_id, "replaced", old))
                self._record(
                    stack,
                    record,
                    "UPDATE_IN_PROGRESS",
                    reason="Requested update requires the creation of a new physical resource; "
                    "hence creating one.",
                    properties=props,
                )
                live = self._call(lambda: handler.create(ctx, props))
                retired.append((old, old.definition.get("UpdateReplacePolicy", "Delete")))
            else:
                touched.append(_Touched(logical_id, "updated", old, props))
                self._record(stack, record, "UPDATE_IN_PROGRESS", properties=props)
                current = old.live
                assert current is not None
                live = self._call(lambda: handler.update(ctx, current, old.properties, props))
                if live.physical_id != current.physical_id:  # a custom resource chose a new one
                    retired.append((old, old.definition.get("UpdateReplacePolicy", "Delete")))
        except ResourceError as exc:
            self._record(stack, record, "UPDATE_FAILED", reason=exc.reason, properties=props)
            raise _FailedError(logical_id, exc.reason) from None
        record.live, record.properties = live, props
        self._record(stack, record, "UPDATE_COMPLETE")

    @staticmethod
    def _check_custom_name(
        handler: Handler, logical_id: str, old: dict[str, Any], new: dict[str, Any]
    ) -> None:
        """ "CloudFormation cannot update a stack when a custom-named resource requires replacing"
        (User Guide, "Name type")."""
        name = handler.name_property
        if name and name in new and old.get(name) == new.get(name):
            raise ResourceError(
                "CloudFormation cannot update a stack when a custom-named resource requires "
                f"replacing. Rename {new[name]} and update the stack again."
            )

    def _roll_back_update(
        self, stack: Stack, before: _Snapshot, touched: list[_Touched], failure: _FailedError
    ) -> None:
        stack.set_status(
            self.clock(), "UPDATE_ROLLBACK_IN_PROGRESS", _failed_reason(failure, "update")
        )
        created: list[tuple[ResourceRecord, str]] = []
        try:
            for entry in reversed(touched):
                current = stack.resources.get(entry.logical_id)
                previous = entry.before
                if entry.kind == "updated" and current is not None and previous is not None:
                    self._restore(stack, current, previous, entry.attempted)
                elif (
                    current is not None
                    and current.live is not None
                    and (previous is None or current.live.physical_id != previous.physical_id)
                ):
                    policy = current.definition.get("DeletionPolicy", "Delete")
                    kept = entry.kind == "added" and policy in ("Retain", "Snapshot")
                    created.append((current, "Retain" if kept else "Delete"))
                if previous is not None:
                    self._record(stack, previous, "UPDATE_COMPLETE")
            before.restore(stack)
            stack.set_status(self.clock(), "UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS")
            for record, policy in created:
                self._retire(stack, record, policy)
        except _FailedError as again:
            stack.set_status(
                self.clock(), "UPDATE_ROLLBACK_FAILED", _failed_reason(again, "update")
            )
            return
        stack.set_status(self.clock(), "UPDATE_ROLLBACK_COMPLETE")

    def _restore(
        self,
        stack: Stack,
        current: ResourceRecord,
        previous: ResourceRecord,
        attempted: dict[str, Any],
    ) -> None:
        """Put an updated resource back to its previous properties."""
        live = current.live or previous.live
        if live is None:
            return
        self._record(stack, current, "UPDATE_IN_PROGRESS", properties=previous.properties)
        handler = self._handler(current.type)
        ctx = self._context(stack, current.logical_id)
        try:
            restored = self._call(lambda: handler.update(ctx, live, attempted, previous.properties))
        except ResourceError as exc:
            self._record(stack, current, "UPDATE_FAILED", reason=exc.reason)
            raise _FailedError(current.logical_id, exc.reason) from None
        previous.live = restored

    # -- delete ---------------------------------------------------------------------------

    def delete(self, stack: Stack, retain: frozenset[str] = frozenset()) -> None:
        stack.set_status(self.clock(), "DELETE_IN_PROGRESS", "User Initiated")
        for output in stack.outputs:
            if output.export_name is None:
                continue
            users = [
                other.name
                for other in self.store.importers(output.export_name, stack.region, stack.account)
                if other is not stack
            ]
            if users:
                stack.set_status(
                    self.clock(),
                    "DELETE_FAILED",
                    f"Export {output.export_name} cannot be deleted as it is in use by {users[0]}",
                )
                return
        try:
            self._delete_all(stack, retain=retain)
        except _FailedError as failure:
            stack.set_status(self.clock(), "DELETE_FAILED", _failed_reason(failure, "delete"))
            return
        stack.outputs = []
        stack.imports = set()
        stack.deleted = self.clock()
        stack.set_status(self.clock(), "DELETE_COMPLETE")

    def _delete_all(
        self,
        stack: Stack,
        *,
        on_create_rollback: bool = False,
        retain: frozenset[str] = frozenset(),
    ) -> None:
        graph = {key: record.depends for key, record in stack.resources.items()}
        for logical_id in deletion_order(graph, set(stack.resources)):
            record = stack.resources[logical_id]
            if record.live is None:
                if record.status.endswith("_FAILED"):
                    self._record(stack, record, "DELETE_COMPLETE")
                continue
            policy = record.definition.get("DeletionPolicy", "Delete")
            if on_create_rollback and policy == "RetainExceptOnCreate":
                policy = "Delete"
            if logical_id in retain:
                policy = "Retain"
            self._retire(stack, record, policy)

    def _retire(self, stack: Stack, record: ResourceRecord, policy: str) -> None:
        """Delete one physical resource, or leave it in place under a Retain policy."""
        if policy in RETAINED:
            self._record(stack, record, "DELETE_SKIPPED")
            record.live = None
            return
        self._record(stack, record, "DELETE_IN_PROGRESS")
        handler = self._handler_or_none(record.type)
        live = record.live
        if handler is not None and live is not None:
            ctx = self._context(stack, record.logical_id)
            try:
                self._call(lambda: handler.delete(ctx, live, record.properties), gone_ok=True)
            except ResourceError as exc:
                self._record(stack, record, "DELETE_FAILED", reason=exc.reason)
                raise _FailedError(record.logical_id, exc.reason) from None
        record.live = None
        self._record(stack, record, "DELETE_COMPLETE")

    # -- shared ---------------------------------------------------------------------------

    def _adopt(self, stack: Stack, plan: Plan) -> None:
        stack.template = plan.template
        stack.parameters = plan.parameters
        stack.description = plan.template.get("Description")
        stack.imports = set()

    def _resolver(self, stack: Stack, plan: Plan) -> Resolver:
        def ref(logical_id: str) -> Any:
            return self._live(stack, logical_id).ref_value

        def getatt(logical_id: str, attribute: str) -> Any:
            live = self._live(stack, logical_id)
            if attribute in live.attributes:
                return live.attributes[attribute]
            record = stack.resources[logical_id]
            handler = self._handler_or_none(record.type)
            if record.type.startswith("Custom::") or record.type.endswith("CustomResource"):
                raise TemplateError(
                    "CustomResource attribute error: Vendor response doesn't contain "
                    f"{attribute} key in object {stack.stack_id}|{logical_id}"
                )
            if handler is not None and attribute in handler.attributes:
                raise TemplateError(f"attribute {attribute} of {logical_id} has no value")
            raise TemplateError(
                f"resource {logical_id} does not support attribute type {attribute} in Fn::GetAtt"
            )

        def import_value(name: str) -> Any:
            exports = self.store.exports(stack.region, stack.account)
            if name not in exports:
                raise TemplateError(f"No export named {name} found.")
            stack.imports.add(name)
            return exports[name][1]

        pseudo = Pseudo(
            stack.region, stack.account, stack.name, stack.stack_id, tuple(stack.notification_arns)
        )
        return Resolver(
            pseudo, plan.parameter_values, plan.mappings, plan.conditions, ref, getatt, import_value
        )

    def _live(self, stack: Stack, logical_id: str) -> Created:
        record = stack.resources.get(logical_id)
        if record is None or record.live is None:
            raise TemplateError(f"Unresolved resource dependencies [{logical_id}]")
        return record.live

    def _resolve(self, stack: Stack, plan: Plan, value: Any) -> Any:
        return self._resolver(stack, plan).resolve(value)

    def _outputs(self, stack: Stack, plan: Plan, *, previous: list[Output]) -> list[Output]:
        outputs: list[Output] = []
        try:
            resolver = self._resolver(stack, plan)
            for key, output in plan.outputs.items():
                export = (output.get("Export") or {}).get("Name")
                outputs.append(
                    Output(
                        key,
                        resolver.resolve(output.get("Value")),
                        output.get("Description"),
                        resolver.resolve(export) if export is not None else None,
                    )
                )
        except ResourceError as exc:
            raise _FailedError(None, exc.reason) from None
        self._check_exports(stack, outputs, previous)
        return outputs

    def _check_exports(self, stack: Stack, outputs: list[Output], previous: list[Output]) -> None:
        """Export names are unique in a region; an export another stack imports can be neither
        changed nor removed ("Exporting stack output values", CloudFormation User Guide)."""
        exports = self.store.exports(stack.region, stack.account)
        for output in outputs:
            if output.export_name is None:
                continue
            owner = exports.get(output.export_name)
            if owner is not None and owner[0] is not stack:
                raise _FailedError(
                    None,
                    f"Export with name {output.export_name} is already exported by stack "
                    f"{owner[0].name}",
                )
        new = {output.export_name: output.value for output in outputs if output.export_name}
        for output in previous:
            name = output.export_name
            if name is None or new.get(name) == output.value:
                continue
            users = [
                other.name
                for other in self.store.importers(name, stack.region, stack.account)
                if other is not stack
            ]
            if users:
                verb = "update" if name in new else "delete"
                raise _FailedError(
                    None, f"Cannot {verb} export {name} as it is in use by {users[0]}"
                )

    def _handler(self, type_name: str) -> Handler:
        handler = handler_for(type_name)
        if handler is None:
            raise ResourceError(
                f"Resource type {type_name} is not supported by BaseGear's local CloudFormation "
                "(no handler creates it)"
            )
        return handler

    @staticmethod
    def _handler_or_none(type_name: str) -> Handler | None:
        return handler_for(type_name)

    def _context(self, stack: Stack, logical_id: str) -> Context:
        return Context(
            client=lambda service: self.clients(service, stack.region),
            region=stack.region,
            account=stack.account,
            stack_name=stack.name,
            stack_id=stack.stack_id,
            logical_id=logical_id,
            rng=self.rng,
            services=self.services,
            resource_type=stack.resources[logical_id].type if logical_id in stack.resources else "",
        )

    def _call(self, action: Callable[[], Any], *, gone_ok: bool = False) -> Any:
        """Run a handler step; AWS API errors become the resource's failure reason, worded as
        CloudFormation words handler errors."""
        try:
            return action()
        except ResourceError:
            raise
        except ClientError as exc:
            if gone_ok and not_found(exc):
                return None
            error = exc.response.get("Error", {})
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            raise ResourceError(
                f'Resource handler returned message: "{error.get("Message", exc)}" '
                f"(Service: {exc.operation_name}, Status Code: {status}, "
                f"Error Code: {error.get('Code')})"
            ) from None
        except (BotoCoreError, ValueError, TypeError, KeyError) as exc:
            raise ResourceError(f"Properties validation failed: {exc}") from None

    def _record(
        self,
        stack: Stack,
        record: ResourceRecord,
        status: str,
        *,
        reason: str | None = None,
        properties: dict[str, Any] | None = None,
    ) -> None:
        record.status, record.reason, record.timestamp = status, reason, self.clock()
        stack.event(
            record.timestamp,
            status,
            logical_id=record.logical_id,
            physical_id=record.physical_id or "",
            resource_type=record.type,
            reason=reason,
            properties=json.dumps(properties) if properties is not None else None,
        )


def _failed_reason(failure: _FailedError, verb: str) -> str:
    if failure.logical_id is None:
        return failure.reason
    return f"The following resource(s) failed to {verb}: [{failure.logical_id}]."


@dataclass
class _Snapshot:
    """What an update rolls back to."""

    records: dict[str, ResourceRecord]
    template: dict[str, Any]
    template_body: str
    parameters: dict[str, Any]
    outputs: list[Output]
    imports: set[str]
    description: str | None

    @classmethod
    def of(cls, stack: Stack) -> _Snapshot:
        return cls(
            {key: replace(record) for key, record in stack.resources.items()},
            stack.template,
            stack.template_body,
            dict(stack.parameters),
            list(stack.outputs),
            set(stack.imports),
            stack.description,
        )

    def graph(self) -> dict[str, set[str]]:
        return {key: record.depends for key, record in self.records.items()}

    def restore(self, stack: Stack) -> None:
        stack.template = copy.deepcopy(self.template)
        stack.template_body = self.template_body
        stack.parameters = self.parameters
        stack.outputs = self.outputs
        stack.imports = self.imports
        stack.description = self.description
        stack.resources = dict(self.records)

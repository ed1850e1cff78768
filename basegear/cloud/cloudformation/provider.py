"""The CloudFormation API of the local cloud: a Provider for service "cloudformation" that
answers the query-protocol actions below with XML shaped as AWS's, from BaseGear's own stacks,
and creates resources through the service APIs (see ``clients.py``).

    provider = CloudFormationProvider(mappings=EventSourceMappingStore())
    cloud.add_provider(provider)

With no ``clients``, resources are created through the gateway the requests come in by (its
Host header); ``clients=clients.against(url)`` names the endpoint, ``clients.in_process()``
suits moto's ``mock_aws``.

Stack operations run on a worker thread, as AWS runs them after the call returns; the call
itself waits up to ``wait_seconds`` for the operation to finish, so that the first
DescribeStacks of a boto3 waiter already sees the final status (a waiter's default 30 s delay
would otherwise make every local deploy slow). Handle requests off the event loop: creating
resources calls the gateway again.

Errors are those of the CloudFormation API reference: "Stack with id X does not exist",
"No updates are to be performed.", "Stack [X] cannot be deleted while TerminationProtection is
enabled", AlreadyExistsException, InsufficientCapabilitiesException, ChangeSetNotFoundError,
InvalidChangeSetStatusError."""

from __future__ import annotations

import logging
import random
import threading
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote, urlparse

from basegear.cloud.cloudformation import shapes
from basegear.cloud.cloudformation.actions import ACTIONS, NAME, Call, action
from basegear.cloud.cloudformation.clients import ClientFactory, Clients, following_requests
from basegear.cloud.cloudformation.engine import Clock, Engine
from basegear.cloud.cloudformation.errors import (
    AlreadyExistsError,
    ChangeSetNotFoundError,
    CloudFormationError,
    ValidationError,
)
from basegear.cloud.cloudformation.intrinsics import Pseudo
from basegear.cloud.cloudformation.plan import Plan, prepare
from basegear.cloud.cloudformation.query import as_list, error, parse_params, response
from basegear.cloud.cloudformation.resources.custom import CustomSettings
from basegear.cloud.cloudformation.resources.mappings import EventSourceMappingStore
from basegear.cloud.cloudformation.stacks import (
    DELETE_COMPLETE,
    REVIEW_IN_PROGRESS,
    UPDATABLE,
    ChangeSet,
    Stack,
    StackStore,
)
from basegear.cloud.cloudformation.template import Template, check_capabilities, parse
from basegear.cloud.cloudformation.validation import (
    check_imports,
    summary,
    unchanged,
    validate,
)
from basegear.cloud.protocol import AwsRequest, AwsResponse

LOG = logging.getLogger(__name__)

TEMPLATE_BODY_LIMIT = 51_200  # bytes, CreateStack/UpdateStack/CreateChangeSet TemplateBody
TEMPLATE_URL_LIMIT = 1_048_576  # bytes, a template read from S3 ("CloudFormation quotas")
XML = {"Content-Type": "text/xml"}


class CloudFormationProvider:
    service = "cloudformation"

    def __init__(
        self,
        *,
        clients: ClientFactory | None = None,
        mappings: EventSourceMappingStore | None = None,
        clock: Clock | None = None,
        rng: random.Random | None = None,
        wait_seconds: float = 300.0,
        custom: CustomSettings | None = None,
        store: StackStore | None = None,
    ) -> None:
        self.clients: ClientFactory = clients or following_requests()
        self.mappings = mappings or EventSourceMappingStore()
        self.provisioned: dict[tuple[str, str], int] = {}  # moto lacks the API
        self.clock: Clock = clock or (lambda: datetime.now(UTC))
        self.store = store or StackStore()
        self.wait_seconds = wait_seconds
        self.engine = Engine(
            self.store,
            clients=self.clients,
            clock=self.clock,
            rng=rng or random.Random(),
            services={
                "mappings": self.mappings,
                "custom": custom or CustomSettings(),
                "provisioned": self.provisioned,
            },
        )

    # -- durable state (basegear/cloud/state, the Persistent protocol) ---------------------
    # The provider's state is saved whole after each acknowledged CloudFormation write (the
    # resources a stack creates are saved as the requests that created them).

    state_key = "cloudformation"

    def owns_write(self, request: AwsRequest) -> bool:
        return request.service == self.service

    def save_state(self) -> dict[str, Any]:
        return {
            "stacks": self.store.snapshot(),
            "mappings": self.mappings.snapshot(),
            "provisioned": dict(self.provisioned),
        }

    def load_state(self, state: dict[str, Any]) -> None:
        self.store.restore(state["stacks"], self.clock())
        self.mappings.restore(state["mappings"])
        self.provisioned.clear()
        self.provisioned.update(state["provisioned"])

    # -- the Provider protocol -----------------------------------------------------------

    def handle(self, request: AwsRequest) -> AwsResponse | None:
        if isinstance(self.clients, Clients):
            self.clients.seen(request.headers.get("host"))
        params = parse_params(request.query, request.body)
        name = request.action or params.get("Action", "")
        function = ACTIONS.get(name)
        if function is None:
            message = f"{name or 'The action'} is not supported by the local CloudFormation"
            return AwsResponse(400, error("InvalidAction", message), dict(XML))
        try:
            result = function(self, Call(request.region, request.account, params))
        except CloudFormationError as exc:
            return AwsResponse(exc.status, error(exc.code, exc.message), dict(XML))
        return AwsResponse(200, response(name, result), dict(XML))

    # -- helpers ---------------------------------------------------------------------------

    def _template(self, call: Call, previous: Stack | None = None) -> tuple[Template, str]:
        if call.flag("UsePreviousTemplate"):
            if previous is None:
                raise ValidationError("UsePreviousTemplate needs an existing stack")
            return previous.template, previous.template_body
        body = call.get("TemplateBody")
        if body is not None:
            if len(body.encode()) > TEMPLATE_BODY_LIMIT:
                raise ValidationError(
                    f"1 validation error detected: Value at 'templateBody' failed to satisfy "
                    f"constraint: Member must have length less than or equal to "
                    f"{TEMPLATE_BODY_LIMIT}"
                )
            return parse(body), body
        url = call.get("TemplateURL")
        if url is None:
            raise ValidationError("Either Template URL or Template Body must be specified.")
        body = self._fetch(url, call.region)
        return parse(body), body

    def _fetch(self, url: str, region: str) -> str:
        """A template in S3, by virtual-hosted or path-style URL."""
        parsed = urlparse(url)
        host, path = parsed.hostname or "", unquote(parsed.path.lstrip("/"))
        if ".s3" in host and not host.startswith("s3"):
            bucket, key = host.split(".s3", 1)[0], path
        else:
            bucket, _, key = path.partition("/")
        try:
            body = self.clients("s3", region).get_object(Bucket=bucket, Key=key)["Body"].read()
        except Exception as exc:
            raise ValidationError(f"TemplateURL must reference a valid S3 object ({exc})") from None
        if len(body) > TEMPLATE_URL_LIMIT:
            raise ValidationError("Template may not exceed 1048576 bytes in size.")
        text: str = body.decode("utf-8")
        return text

    def _given(self, call: Call, previous: Stack | None) -> dict[str, str]:
        given: dict[str, str] = {}
        for item in as_list(call.get("Parameters")):
            key = item.get("ParameterKey")
            if str(item.get("UsePreviousValue", "false")).lower() == "true":
                if previous is None or key not in previous.parameters:
                    raise ValidationError(
                        f"Invalid input for parameter key {key}. Cannot specify usePreviousValue "
                        "as true for a parameter key not in the previous template"
                    )
                given[key] = previous.parameters[key].value
            else:
                given[key] = str(item.get("ParameterValue", ""))
        return given

    def _plan(self, call: Call, stack: Stack, template: Template, given: dict[str, str]) -> Plan:
        def ssm(name: str) -> str:
            try:
                value: str = self.clients("ssm", call.region).get_parameter(Name=name)["Parameter"][
                    "Value"
                ]
            except Exception:
                raise ValidationError(
                    f"Parameters [{name}] referenced by template have types not supported by "
                    "CloudFormation or do not exist in Parameter Store"
                ) from None
            return value

        pseudo = Pseudo(
            call.region, call.account, stack.name, stack.stack_id, tuple(stack.notification_arns)
        )
        plan = prepare(template, given, pseudo, ssm=ssm)
        check_capabilities(template, as_list(call.get("Capabilities")))
        return plan

    def _new_stack(self, call: Call, name: str, template: Template, body: str) -> Stack:
        if not NAME.fullmatch(name):
            raise ValidationError(
                f"1 validation error detected: Value '{name}' at 'stackName' failed to satisfy "
                "constraint: Member must satisfy regular expression pattern: "
                "[a-zA-Z][-a-zA-Z0-9]*"
            )
        stack_id = (
            f"arn:aws:cloudformation:{call.region}:{call.account}:stack/{name}/{uuid.uuid4()}"
        )
        return Stack(
            stack_id=stack_id,
            name=name,
            region=call.region,
            account=call.account,
            created=self.clock(),
            status=REVIEW_IN_PROGRESS,
            template=template,
            template_body=body,
            capabilities=as_list(call.get("Capabilities")),
            tags=as_list(call.get("Tags")),
            notification_arns=as_list(call.get("NotificationARNs")),
            role_arn=call.get("RoleARN"),
            timeout_minutes=int(call.get("TimeoutInMinutes"))
            if call.get("TimeoutInMinutes")
            else None,
            termination_protection=call.flag("EnableTerminationProtection"),
        )

    def _run(self, stack: Stack, work: Callable[[], None]) -> None:
        """Run a stack operation on its own thread; wait for it up to ``wait_seconds``."""
        stack.done.clear()

        def target() -> None:
            try:
                work()
            except Exception:  # the operation's own failures become events; this is a bug
                LOG.exception("stack operation on %s failed unexpectedly", stack.name)
                stack.set_status(
                    self.clock(), f"{stack.status.split('_')[0]}_FAILED", "Internal failure"
                )
            finally:
                stack.done.set()

        threading.Thread(target=target, name=f"cloudformation-{stack.name}", daemon=True).start()
        stack.done.wait(self.wait_seconds)

    def _check_updatable(self, stack: Stack) -> None:
        if stack.status not in UPDATABLE:
            raise ValidationError(
                f"Stack:{stack.stack_id} is in {stack.status} state and can not be updated."
            )

    def _imports_exist(self, plan: Plan, call: Call, stack: Stack) -> None:
        pseudo = Pseudo(
            call.region, call.account, stack.name, stack.stack_id, tuple(stack.notification_arns)
        )
        check_imports(plan, pseudo, set(self.store.exports(call.region, call.account)))

    def _find_change_set(self, call: Call) -> tuple[Stack, ChangeSet]:
        name = call.get("ChangeSetName", "")
        stack_name = call.get("StackName")
        if name.startswith("arn:"):
            for candidate in self.store.all(call.region, call.account):
                if name in candidate.change_sets:
                    return candidate, candidate.change_sets[name]
            raise ChangeSetNotFoundError(f"ChangeSet [{name}] does not exist")
        if not stack_name:
            raise ValidationError(
                "StackName must be specified if ChangeSetName is not specified as an ARN."
            )
        stack = self.store.get(stack_name, call.region, call.account)
        for change_set in stack.change_sets.values():
            if change_set.name == name:
                return stack, change_set
        raise ChangeSetNotFoundError(f"ChangeSet [{name}] does not exist")


# -- stacks ----------------------------------------------------------------------------------


@action("CreateStack")
def create_stack(provider: CloudFormationProvider, call: Call) -> dict[str, Any]:
    name = call.get("StackName", "")
    if provider.store.find(name, call.region, call.account) is not None:
        raise AlreadyExistsError(f"Stack [{name}] already exists")
    template, body = provider._template(call)
    stack = provider._new_stack(call, name, template, body)
    plan = provider._plan(call, stack, template, provider._given(call, None))
    provider._imports_exist(plan, call, stack)
    stack.disable_rollback = call.flag("DisableRollback")
    on_failure = call.get("OnFailure") or ("DO_NOTHING" if stack.disable_rollback else "ROLLBACK")
    stack.status = "CREATE_IN_PROGRESS"
    provider.store.add(stack)
    provider._run(stack, lambda: provider.engine.create(stack, plan, on_failure=on_failure))
    return {"StackId": stack.stack_id}


@action("UpdateStack")
def update_stack(provider: CloudFormationProvider, call: Call) -> dict[str, Any]:
    stack = provider.store.get(call.get("StackName", ""), call.region, call.account)
    provider._check_updatable(stack)
    template, body = provider._template(call, stack)
    plan = provider._plan(call, stack, template, provider._given(call, stack))
    tags = as_list(call.get("Tags")) if "Tags" in call.params else stack.tags
    if unchanged(stack, plan, tags):
        raise ValidationError("No updates are to be performed.")
    provider._imports_exist(plan, call, stack)
    stack.tags = tags
    stack.capabilities = as_list(call.get("Capabilities"))
    stack.status = "UPDATE_IN_PROGRESS"
    provider._run(stack, lambda: provider.engine.update(stack, plan, body=body))
    return {"StackId": stack.stack_id}


@action("DeleteStack")
def delete_stack(provider: CloudFormationProvider, call: Call) -> None:
    stack = provider.store.find(call.get("StackName", ""), call.region, call.account)
    if stack is None or stack.status == DELETE_COMPLETE:
        return None  # deleting a stack that does not exist succeeds (DeleteStack)
    if stack.termination_protection:
        raise ValidationError(
            f"Stack [{stack.name}] cannot be deleted while TerminationProtection is enabled"
        )
    stack.done.wait(provider.wait_seconds)
    retain = frozenset(as_list(call.get("RetainResources")))
    if retain and stack.status != "DELETE_FAILED":
        raise ValidationError(
            "Invalid operation on stack: RetainResources can only be specified when the stack "
            "is in the DELETE_FAILED state"
        )
    provider._run(stack, lambda: provider.engine.delete(stack, retain))
    return None


@action("DescribeStacks")
def describe_stacks(provider: CloudFormationProvider, call: Call) -> dict[str, Any]:
    name = call.get("StackName")
    if name:
        stacks = [provider.store.get(name, call.region, call.account)]
    else:
        stacks = provider.store.live(call.region, call.account)
    return {"Stacks": [shapes.stack(stack) for stack in stacks]}


@action("ListStacks")
def list_stacks(provider: CloudFormationProvider, call: Call) -> dict[str, Any]:
    wanted = set(as_list(call.get("StackStatusFilter")))
    stacks = [
        stack
        for stack in provider.store.all(call.region, call.account)
        if not wanted or stack.status in wanted
    ]
    return {"StackSummaries": [shapes.stack_summary(stack) for stack in reversed(stacks)]}


@action("DescribeStackEvents")
def describe_stack_events(provider: CloudFormationProvider, call: Call) -> dict[str, Any]:
    stack = provider.store.get(call.get("StackName", ""), call.region, call.account)
    events = list(stack.events)
    return {"StackEvents": [shapes.event(stack, item) for item in reversed(events)]}


@action("DescribeStackResources")
def describe_stack_resources(provider: CloudFormationProvider, call: Call) -> dict[str, Any]:
    name = call.get("StackName")
    physical = call.get("PhysicalResourceId")
    if name:
        stacks = [provider.store.get(name, call.region, call.account)]
    elif physical:
        stacks = provider.store.live(call.region, call.account)
    else:
        raise ValidationError("Either StackName or PhysicalResourceId must be specified.")
    logical = call.get("LogicalResourceId")
    found = [
        shapes.resource(stack, record)
        for stack in stacks
        for record in list(stack.resources.values())
        if (logical is None or record.logical_id == logical)
        and (physical is None or record.physical_id == physical)
    ]
    if physical and not name and not found:
        raise ValidationError(f"Stack for {physical} does not exist")
    return {"StackResources": found}


@action("DescribeStackResource")
def describe_stack_resource(provider: CloudFormationProvider, call: Call) -> dict[str, Any]:
    stack = provider.store.get(call.get("StackName", ""), call.region, call.account)
    logical = call.get("LogicalResourceId", "")
    record = stack.resources.get(logical)
    if record is None:
        raise ValidationError(f"Resource {logical} does not exist for stack {stack.name}")
    return {"StackResourceDetail": shapes.resource_detail(stack, record)}


@action("ListStackResources")
def list_stack_resources(provider: CloudFormationProvider, call: Call) -> dict[str, Any]:
    stack = provider.store.get(call.get("StackName", ""), call.region, call.account)
    return {
        "StackResourceSummaries": [
            shapes.resource_summary(record) for record in list(stack.resources.values())
        ]
    }


@action("GetTemplate")
def get_template(provider: CloudFormationProvider, call: Call) -> dict[str, Any]:
    stack = provider.store.get(call.get("StackName", ""), call.region, call.account)
    body = stack.template_body
    if call.get("ChangeSetName"):
        body = provider._find_change_set(call)[1].template_body
    return {"TemplateBody": body, "StagesAvailable": ["Original", "Processed"]}


@action("ListExports")
def list_exports(provider: CloudFormationProvider, call: Call) -> dict[str, Any]:
    exports = provider.store.exports(call.region, call.account)
    return {
        "Exports": [
            {
                "ExportingStackId": stack.stack_id,
                "Name": name,
                "Value": shapes.output_value(value),
            }
            for name, (stack, value) in exports.items()
        ]
    }


@action("ListImports")
def list_imports(provider: CloudFormationProvider, call: Call) -> dict[str, Any]:
    name = call.get("ExportName", "")
    importers = provider.store.importers(name, call.region, call.account)
    if not importers:
        raise ValidationError(f"Export '{name}' is not imported by any stack.")
    return {"Imports": [stack.name for stack in importers]}


@action("UpdateTerminationProtection")
def update_termination_protection(provider: CloudFormationProvider, call: Call) -> dict[str, Any]:
    stack = provider.store.get(call.get("StackName", ""), call.region, call.account)
    if stack.status in ("DELETE_IN_PROGRESS", DELETE_COMPLETE):
        raise ValidationError(f"Stack [{stack.name}] is in {stack.status} state")
    stack.termination_protection = call.flag("EnableTerminationProtection")
    return {"StackId": stack.stack_id}


@action("ValidateTemplate")
def validate_template(provider: CloudFormationProvider, call: Call) -> dict[str, Any]:
    template, _ = provider._template(call)
    return validate(template)


@action("GetTemplateSummary")
def get_template_summary(provider: CloudFormationProvider, call: Call) -> dict[str, Any]:
    if call.get("StackName"):
        stack = provider.store.get(call.get("StackName"), call.region, call.account)
        return summary(stack.template)
    template, _ = provider._template(call)
    return summary(template)


# The change-set actions register themselves on import.
from basegear.cloud.cloudformation import changeset_actions  # noqa: E402, F401

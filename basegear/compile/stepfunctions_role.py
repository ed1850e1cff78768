"""The least-privilege IAM role of a state machine, derived from its definition's Task states
(serverless-step-functions, ``compileIamRole``), plus the roles that let EventBridge and
EventBridge Scheduler start a state machine.

Each Task's ``Resource`` says what it calls; the permission it needs comes from the Step
Functions developer guide, "IAM policies for integrated services" (one page per service):

- a Lambda ARN, or ``arn:aws:states:::lambda:invoke`` with ``FunctionName`` → lambda:InvokeFunction
  on the function and its versions and aliases (``<arn>:*``);
- ``states:startExecution`` → states:StartExecution on the nested machine; the ``.sync`` forms
  also states:DescribeExecution/StopExecution on its executions and the events rule Step
  Functions uses to learn that they finished ("Start a new AWS Step Functions state machine
  from a running execution", synchronous and asynchronous policies);
- ``sns:publish`` → sns:Publish on ``TopicArn``; ``sqs:sendMessage`` → sqs:SendMessage on the
  queue named by ``QueueUrl``; the DynamoDB integrations (optimized and ``aws-sdk:dynamodb:*``)
  → the DynamoDB action on ``TableName`` (and index); ``events:putEvents`` → events:PutEvents
  on each event bus;
- an activity ARN needs nothing: the activity's worker calls Step Functions itself.

A value chosen at run time (``FunctionName.$``, JSONata ``{% … %}``) can only be granted on
``*``. A Task whose permissions cannot be derived is an error unless the state machine lists
its own ``iamRoleStatements`` (the plugin logged a line and deployed a role that fails at run
time with States.Permissions).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass

from basegear.compile.context import Context, Json
from basegear.compile.naming import function_id, upper_first
from basegear.errors import ConfigPath
from basegear.model.base import is_intrinsic
from basegear.model.stepfunctions import StateMachine

PARTITION_ARN = re.compile(r"^arn:(?:aws(?:-[a-z]+)*|\$\{AWS::Partition\}|#\{AWS::Partition\}):")
INTEGRATION = re.compile(r"^arn:aws:states:::(.+?)(\.sync(?::2)?|\.waitForTaskToken)?$")
# One ARN segment; a ${…} or #{…} placeholder in it may hold colons (#{AWS::Region}).
_SEGMENT = r"(?:[#$]\{[^}]*\}|[^:])+"
LAMBDA_ARN = re.compile(
    rf"^(arn:{_SEGMENT}:lambda:{_SEGMENT}:{_SEGMENT}:function:{_SEGMENT})(?::{_SEGMENT})?$"
)
QUEUE_URL = re.compile(r"^https://sqs\.([^/]+?)\.amazonaws\.com(?:\.cn)?/([^/]+)/([^/]+)$")
# The actions Step Functions needs to deliver execution logs (Step Functions developer guide,
# "Using CloudWatch Logs to log execution history", IAM policies for logging); they take no
# resource-level permissions.
LOG_DELIVERY = (
    "logs:CreateLogDelivery",
    "logs:GetLogDelivery",
    "logs:UpdateLogDelivery",
    "logs:DeleteLogDelivery",
    "logs:ListLogDeliveries",
    "logs:PutResourcePolicy",
    "logs:DescribeResourcePolicies",
    "logs:DescribeLogGroups",
)
# X-Ray tracing (Step Functions developer guide, "AWS X-Ray and Step Functions").
TRACING = (
    "xray:PutTraceSegments",
    "xray:PutTelemetryRecords",
    "xray:GetSamplingRules",
    "xray:GetSamplingTargets",
)
DYNAMODB_OPTIMIZED = {
    "dynamodb:getItem": "dynamodb:GetItem",
    "dynamodb:putItem": "dynamodb:PutItem",
    "dynamodb:updateItem": "dynamodb:UpdateItem",
    "dynamodb:deleteItem": "dynamodb:DeleteItem",
}
DYNAMODB_BATCH = ("batchGetItem", "batchWriteItem")


@dataclass(frozen=True)
class Permission:
    actions: tuple[str, ...]
    resources: tuple[Json, ...]  # ("*",) for every resource


@dataclass(frozen=True)
class Task:
    state: dict[str, Json]
    path: ConfigPath
    what: str | None = None  # how an error names it, when not by its Resource


class UnknownResourceError(Exception):
    """A Task resource whose permissions BaseGear cannot derive."""


def machine_role(context: Context, machine: StateMachine, machine_id: str, path: ConfigPath) -> str:
    """Compile ``<machine_id>Role`` and return its logical ID."""
    permissions: list[Permission] = []
    resolver = _Resolver(context)
    for task in _tasks(machine.definition.get("States"), (*path, "definition", "States")):
        try:
            permissions.extend(resolver.permissions(task.state))
        except UnknownResourceError:
            if not machine.iam_role_statements:
                what = task.what or f"Task resource {_shown(task.state.get('Resource'))}"
                raise context.fail(
                    f"cannot derive the IAM permissions of {what}; list them in "
                    "iamRoleStatements or give the state machine a role",
                    task.path if task.what else (*task.path, "Resource"),
                ) from None
    logging = machine.logging_config
    if logging is not None and logging.level != "OFF":
        permissions.append(Permission(LOG_DELIVERY, ("*",)))
    if machine.tracing_config is not None and machine.tracing_config.enabled:
        permissions.append(Permission(TRACING, ("*",)))
    permissions.extend(_encryption(machine))
    statements = _statements(permissions) + list(machine.iam_role_statements or [])
    if not statements:
        # A machine without Tasks needs no permission; like the Step Functions console, give
        # it a role that may do nothing.
        statements = [{"Effect": "Deny", "Action": "*", "Resource": "*"}]
    role_id = f"{machine_id}Role"
    policy_name = f"{context.stage}-{context.service.service}-statemachine"
    context.template.add(
        role_id,
        "AWS::IAM::Role",
        role_properties(context, "states.amazonaws.com", policy_name, statements),
    )
    return role_id


def start_execution_role(
    context: Context, role_id: str, principals: list[str], policy_name: str, machine_id: str
) -> None:
    """A role EventBridge (``events.amazonaws.com``) or EventBridge Scheduler
    (``scheduler.amazonaws.com``) assumes to start the state machine (EventBridge User Guide,
    "Using resource-based policies for Amazon EventBridge", Step Functions targets)."""
    statements = [
        {"Effect": "Allow", "Action": ["states:StartExecution"], "Resource": {"Ref": machine_id}}
    ]
    principal = principals[0] if len(principals) == 1 else principals
    context.template.add(
        role_id, "AWS::IAM::Role", role_properties(context, principal, policy_name, statements)
    )


def role_properties(
    context: Context, principal: Json, policy_name: str, statements: list[Json]
) -> dict[str, Json]:
    properties: dict[str, Json] = {
        "AssumeRolePolicyDocument": {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": principal},
                    "Action": "sts:AssumeRole",
                }
            ],
        },
        "Policies": [
            {
                "PolicyName": policy_name,
                "PolicyDocument": {"Version": "2012-10-17", "Statement": statements},
            }
        ],
    }
    provider = context.service.provider
    role = provider.iam.role
    boundary = provider.role_permissions_boundary
    if not isinstance(role, str) and not is_intrinsic(role):
        if role.path:
            properties["Path"] = role.path
        boundary = role.permissions_boundary or role.permission_boundary or boundary
    if boundary is not None:
        properties["PermissionsBoundary"] = boundary
    return properties


def _tasks(states: Json, path: ConfigPath) -> Iterator[Task]:
    """Every Task state, inside Parallel branches and Map processors too."""
    if not isinstance(states, dict):
        return
    for name, state in states.items():
        if not isinstance(state, dict):
            continue
        here = (*path, name)
        kind = state.get("Type")
        if kind == "Task":
            yield Task(state, here)
        elif kind == "Parallel":
            for index, branch in enumerate(state.get("Branches") or []):
                if isinstance(branch, dict):
                    yield from _tasks(branch.get("States"), (*here, "Branches", index, "States"))
        elif kind == "Map":
            for field in ("ItemProcessor", "Iterator"):
                processor = state.get(field)
                if isinstance(processor, dict):
                    yield from _tasks(processor.get("States"), (*here, field, "States"))
                    if (processor.get("ProcessorConfig") or {}).get("Mode") == "DISTRIBUTED":
                        # A distributed Map starts child executions of its own state machine
                        # and reads or writes S3: permissions only the user can know.
                        yield Task({}, here, "a distributed Map")


class _Resolver:
    def __init__(self, context: Context) -> None:
        self.context = context

    def permissions(self, state: dict[str, Json]) -> list[Permission]:
        resource = state.get("Resource")
        if is_intrinsic(resource):
            return self._intrinsic_resource(resource)
        if not isinstance(resource, str):
            raise UnknownResourceError
        text = PARTITION_ARN.sub("arn:aws:", resource)
        if text.startswith("arn:aws:states:") and ":activity:" in text:
            return []
        if re.match(r"^arn:aws:lambda:", text):
            return [_invoke(_unqualified(resource))]
        integration = INTEGRATION.match(text)
        if integration is None:
            raise UnknownResourceError
        service_action, pattern = integration.group(1), integration.group(2) or ""
        arguments = _arguments(state)
        if service_action == "lambda:invoke":
            return [self._invoke_integration(arguments)]
        if service_action == "states:startExecution":
            return _start_execution(self.context, arguments, pattern.startswith(".sync"))
        if service_action == "sns:publish":
            return [Permission(("sns:Publish",), (_argument(arguments, "TopicArn"),))]
        if service_action == "sqs:sendMessage":
            return [Permission(("sqs:SendMessage",), (_queue_arn(arguments),))]
        if service_action in DYNAMODB_OPTIMIZED:
            action = DYNAMODB_OPTIMIZED[service_action]
            return [Permission((action,), (_table_arn(arguments),))]
        if service_action.startswith("aws-sdk:dynamodb:"):
            return _dynamodb_sdk(service_action.removeprefix("aws-sdk:dynamodb:"), arguments)
        if service_action == "events:putEvents":
            return [Permission(("events:PutEvents",), _event_buses(arguments))]
        raise UnknownResourceError

    def _intrinsic_resource(self, resource: Json) -> list[Permission]:
        name, argument = next(iter(resource.items()))
        target = logical_id(resource)
        if target is not None and self._is_activity(target):
            return []
        if name == "Fn::Sub" and isinstance(argument, str):
            text = PARTITION_ARN.sub("arn:aws:", argument)
            if ":activity:" in text:
                return []
            if not text.startswith("arn:aws:lambda:"):
                raise UnknownResourceError
        return [_invoke(self.translate(resource))]

    def _invoke_integration(self, arguments: dict[str, Json]) -> Permission:
        function = _argument(arguments, "FunctionName")
        if function == "*":
            return Permission(("lambda:InvokeFunction",), ("*",))
        if isinstance(function, str):
            # FunctionName may be a name, a name with a qualifier, a partial ARN or a full ARN
            # (Lambda API reference, Invoke).
            if PARTITION_ARN.match(function):
                return _invoke(_unqualified(function))
            parts = function.split(":")
            if len(parts) >= 3 and parts[0].isdigit():
                arn = "arn:${AWS::Partition}:lambda:${AWS::Region}:" + ":".join(parts[:3])
            else:
                arn = "arn:${AWS::Partition}:lambda:${AWS::Region}:${AWS::AccountId}:function:"
                arn += parts[0]
            return _invoke({"Fn::Sub": arn})
        function = self.translate(function)
        if "Ref" in function:
            # Ref of a function is its name (CloudFormation User Guide, AWS::Lambda::Function,
            # return values).
            return _invoke(
                {
                    "Fn::Sub": [
                        "arn:${AWS::Partition}:lambda:${AWS::Region}:${AWS::AccountId}:"
                        "function:${FunctionName}",
                        {"FunctionName": function},
                    ]
                }
            )
        return _invoke(function)

    def translate(self, value: Json) -> Json:
        return translate_function_names(self.context, value)

    def _is_activity(self, logical_id: str) -> bool:
        user = self.context.service.resources.Resources.get(logical_id)
        if user is not None:
            return user.Type == "AWS::StepFunctions::Activity"
        return logical_id.endswith("StepFunctionsActivity")


def logical_id(value: Json) -> str | None:
    """The resource a ``Ref`` or ``Fn::GetAtt`` names, if ``value`` is one."""
    if not is_intrinsic(value):
        return None
    if "Ref" in value and isinstance(value["Ref"], str):
        return str(value["Ref"])
    target = value.get("Fn::GetAtt")
    if isinstance(target, str):
        return target.split(".", 1)[0]
    if isinstance(target, list) and target and isinstance(target[0], str):
        return str(target[0])
    return None


def translate_function_names(context: Context, value: Json) -> Json:
    """``Fn::GetAtt: [hello-world, Arn]`` → ``[HelloDashworldLambdaFunction, Arn]``: a function
    key used where a logical ID belongs, as serverless-step-functions allows."""
    if not is_intrinsic(value):
        return value

    def resolve(name: str) -> str:
        known = name in context.template.resources or name in context.service.resources.Resources
        return function_id(name) if not known and name in context.service.functions else name

    if "Ref" in value and isinstance(value["Ref"], str):
        return {"Ref": resolve(value["Ref"])}
    target = value.get("Fn::GetAtt")
    if isinstance(target, str) and "." in target:
        head, attribute = target.split(".", 1)
        return {"Fn::GetAtt": [resolve(head), attribute]}
    if isinstance(target, list) and len(target) == 2 and isinstance(target[0], str):
        return {"Fn::GetAtt": [resolve(target[0]), target[1]]}
    return value


def _invoke(function: Json) -> Permission:
    """lambda:InvokeFunction on the function, its versions and its aliases."""
    if isinstance(function, str):
        qualified: Json = f"{function}:*"
    elif "Fn::Sub" in function and isinstance(function["Fn::Sub"], str):
        qualified = {"Fn::Sub": function["Fn::Sub"] + ":*"}
    elif "Fn::Sub" in function:
        text, variables = function["Fn::Sub"]
        qualified = {"Fn::Sub": [text + ":*", variables]}
    else:
        qualified = {"Fn::Sub": ["${FunctionArn}:*", {"FunctionArn": function}]}
    return Permission(("lambda:InvokeFunction",), (function, qualified))


def _unqualified(arn: str) -> str:
    """A function ARN without its version or alias."""
    match = LAMBDA_ARN.match(arn)
    return match.group(1) if match else arn


def _arguments(state: dict[str, Json]) -> dict[str, Json]:
    for field in ("Arguments", "Parameters"):
        if isinstance(state.get(field), dict):
            return dict(state[field])
    return {}


def _argument(arguments: dict[str, Json], name: str) -> Json:
    """A Task argument, ``*`` when it is chosen at run time (a ``.$`` path or JSONata)."""
    if f"{name}.$" in arguments:
        return "*"
    value = arguments.get(name)
    if value is None:
        raise UnknownResourceError
    if isinstance(value, str) and value.strip().startswith("{%"):
        return "*"
    return value


def _start_execution(context: Context, arguments: dict[str, Json], sync: bool) -> list[Permission]:
    machine = _argument(arguments, "StateMachineArn")
    permissions = [Permission(("states:StartExecution",), (machine,))]
    if not sync:
        return permissions
    permissions.append(
        Permission(
            ("states:DescribeExecution", "states:StopExecution"), (_executions(context, machine),)
        )
    )
    rule = (
        "arn:${AWS::Partition}:events:${AWS::Region}:${AWS::AccountId}:"
        "rule/StepFunctionsGetEventsForStepFunctionsExecutionRule"
    )
    permissions.append(
        Permission(
            ("events:PutTargets", "events:PutRule", "events:DescribeRule"), ({"Fn::Sub": rule},)
        )
    )
    return permissions


def _executions(context: Context, machine: Json) -> Json:
    """The ARN pattern of a state machine's executions."""
    if isinstance(machine, str):
        return "*" if machine == "*" else machine.replace(":stateMachine:", ":execution:") + ":*"
    if "Fn::Sub" in machine and isinstance(machine["Fn::Sub"], str):
        return {"Fn::Sub": machine["Fn::Sub"].replace(":stateMachine:", ":execution:") + ":*"}
    if "Ref" in machine and isinstance(machine["Ref"], str):
        # Ref of a state machine is its ARN; GetAtt Name is its name (CloudFormation User
        # Guide, AWS::StepFunctions::StateMachine, return values).
        return {
            "Fn::Sub": [
                "arn:${AWS::Partition}:states:${AWS::Region}:${AWS::AccountId}:"
                "execution:${MachineName}:*",
                {"MachineName": {"Fn::GetAtt": [machine["Ref"], "Name"]}},
            ]
        }
    return "*"


def _queue_arn(arguments: dict[str, Json]) -> Json:
    url = _argument(arguments, "QueueUrl")
    if url == "*":
        return url
    if isinstance(url, dict) and "Ref" in url:
        # Ref of a queue is its URL; GetAtt Arn its ARN (AWS::SQS::Queue, return values).
        return {"Fn::GetAtt": [url["Ref"], "Arn"]}
    text = url if isinstance(url, str) else url.get("Fn::Sub")
    if isinstance(text, str):
        match = QUEUE_URL.match(text)
        if match:
            region, account, name = match.groups()
            return {"Fn::Sub": f"arn:${{AWS::Partition}}:sqs:{region}:{account}:{name}"}
    raise UnknownResourceError


def _table_arn(arguments: dict[str, Json]) -> Json:
    table = _argument(arguments, "TableName")
    if table == "*":
        return table
    index = ""
    if "IndexName.$" in arguments:
        index = "/index/*"
    elif isinstance(arguments.get("IndexName"), str):
        index = f"/index/{arguments['IndexName']}"
    return _table(table, index)


def _table(table: Json, suffix: str = "") -> Json:
    prefix = "arn:${AWS::Partition}:dynamodb:${AWS::Region}:${AWS::AccountId}:table/"
    if isinstance(table, str):
        return {"Fn::Sub": f"{prefix}{table}{suffix}"}
    if "Ref" in table:
        # Ref of a table is its name; GetAtt Arn its ARN (AWS::DynamoDB::Table).
        arn = {"Fn::GetAtt": [table["Ref"], "Arn"]}
        return arn if not suffix else {"Fn::Sub": [f"${{TableArn}}{suffix}", {"TableArn": arn}]}
    return {"Fn::Sub": [f"{prefix}${{TableName}}{suffix}", {"TableName": table}]}


def _dynamodb_sdk(action: str, arguments: dict[str, Json]) -> list[Permission]:
    iam_action = f"dynamodb:{upper_first(action)}"
    if action not in DYNAMODB_BATCH:
        return [Permission((iam_action,), (_table_arn(arguments),))]
    items = _argument(arguments, "RequestItems")
    if items == "*":
        return [Permission((iam_action,), ("*",))]
    if not isinstance(items, dict):
        raise UnknownResourceError
    tables = tuple(_table(name.removesuffix(".$")) for name in items)
    return [Permission((iam_action,), tables)]


def _event_buses(arguments: dict[str, Json]) -> tuple[Json, ...]:
    entries = _argument(arguments, "Entries")
    if entries == "*":
        return ("*",)
    if not isinstance(entries, list):
        raise UnknownResourceError
    buses: list[Json] = []
    for entry in entries:
        bus = entry.get("EventBusName", "default") if isinstance(entry, dict) else "default"
        if isinstance(entry, dict) and "EventBusName.$" in entry:
            bus = "*"
        if isinstance(bus, str) and (bus == "*" or bus.startswith("arn:")):
            arn: Json = bus
        elif isinstance(bus, str):
            arn = {
                "Fn::Sub": "arn:${AWS::Partition}:events:${AWS::Region}:${AWS::AccountId}:"
                f"event-bus/{bus}"
            }
        else:
            arn = {
                "Fn::Sub": [
                    "arn:${AWS::Partition}:events:${AWS::Region}:${AWS::AccountId}:"
                    "event-bus/${EventBusName}",
                    {"EventBusName": bus},
                ]
            }
        if arn not in buses:
            buses.append(arn)
    return tuple(buses)


def _encryption(machine: StateMachine) -> list[Permission]:
    # With a customer managed key, the state machine's role encrypts and decrypts its data
    # (Step Functions developer guide, "Data at rest encryption"; API reference,
    # EncryptionConfiguration: "Step Functions will call GenerateDataKey").
    config = machine.encryption_config or {}
    key = config.get("KmsKeyId")
    if config.get("Type") != "CUSTOMER_MANAGED_KMS_KEY" or key is None:
        return []
    return [Permission(("kms:Decrypt", "kms:GenerateDataKey"), (key,))]


def _statements(permissions: list[Permission]) -> list[dict[str, Json]]:
    """One statement per distinct resource set: first the resources of each action are
    merged (``*`` absorbing the rest), then actions with the same resources share a statement.
    Order follows the definition, so the same definition gives the same policy."""
    by_action: dict[str, list[Json]] = {}
    for permission in permissions:
        for action in permission.actions:
            resources = by_action.setdefault(action, [])
            for resource in permission.resources:
                if resource not in resources:
                    resources.append(resource)
    by_resources: dict[str, tuple[list[str], Json]] = {}
    for action, resources in by_action.items():
        value: Json = "*" if "*" in resources else resources
        key = json.dumps(value, sort_keys=True)
        actions, _ = by_resources.setdefault(key, ([], value))
        actions.append(action)
    return [
        {"Effect": "Allow", "Action": actions, "Resource": value}
        for actions, value in by_resources.values()
    ]


def _shown(value: Json) -> str:
    return json.dumps(value) if not isinstance(value, str) else repr(value)

"""The Lambda execution role ``IamRoleLambdaExecution`` that the service's functions share, and
which role each function runs with.

The role is built as the Serverless Framework v3 builds it (lib/plugins/aws/package/lib/
merge-iam-templates.js): the log permissions first, then the user's statements, then every
statement the resource families asked for through ``Context.allow``. No role is created when
``provider.iam.role`` (or the older ``provider.role``) names an existing role, or when every
function names its own.
"""

from __future__ import annotations

from basegear.compile.context import Context, Json
from basegear.compile.naming import LAMBDA_ROLE
from basegear.errors import ConfigPath
from basegear.model import Service
from basegear.model.provider import IamRole

# IAM User Guide, "IAM and AWS STS quotas": a role name has at most 64 characters.
ROLE_NAME_LIMIT = 64
LOG_GROUP_ARN = "arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:"
# The managed policy that lets Lambda create and delete the network interfaces a function in a
# VPC needs (Lambda developer guide, "Giving Lambda functions access to resources in an Amazon
# VPC", execution role permissions).
VPC_ACCESS_POLICY = {
    "Fn::Join": [
        "",
        [
            "arn:",
            {"Ref": "AWS::Partition"},
            ":iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole",
        ],
    ]
}


def custom_role(service: Service, key: str) -> Json | None:
    """The role ``key`` runs with when it is not the shared one: its own ``role``, else an
    existing ``provider.iam.role``, else the older ``provider.role``."""
    function = service.functions[key]
    if function.role is not None:
        return function.role
    if not isinstance(service.provider.iam.role, IamRole):
        return service.provider.iam.role
    return service.provider.role


def uses_shared_role(service: Service, key: str) -> bool:
    """Whether ``key`` runs with ``IamRoleLambdaExecution``, so that the permissions its settings
    need belong in that role. A function with its own role gets them from its owner."""
    return custom_role(service, key) is None


def execution_role(service: Service, key: str) -> Json:
    """The function's ``Role`` property. A plain name is the logical ID of a role in this
    template, as in the Serverless Framework; its ``Fn::GetAtt`` also orders the function after
    it, so no DependsOn is needed."""
    role = custom_role(service, key)
    if role is None:
        return {"Fn::GetAtt": [LAMBDA_ROLE, "Arn"]}
    if isinstance(role, str) and not role.startswith("arn:"):
        return {"Fn::GetAtt": [role, "Arn"]}
    return role


def role_logical_id(service: Service, key: str) -> str | None:
    """The logical ID of the role ``key`` runs with, when this template holds it."""
    role = custom_role(service, key)
    if role is None:
        return LAMBDA_ROLE
    if isinstance(role, str):
        return None if ":" in role else role
    attribute = role.get("Fn::GetAtt") if isinstance(role, dict) else None
    if isinstance(attribute, list) and len(attribute) == 2 and attribute[1] == "Arn":
        return str(attribute[0])
    return None


def lambda_assume_role_policy() -> dict[str, Json]:
    """The trust policy of a role Lambda functions run with."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": ["lambda.amazonaws.com"]},
                "Action": ["sts:AssumeRole"],
            }
        ],
    }


def creates_role(service: Service) -> bool:
    if not isinstance(service.provider.iam.role, IamRole) or service.provider.role is not None:
        return False
    return any(function.role is None for function in service.functions.values())


def compile_role(context: Context) -> None:
    service = context.service
    role = service.provider.iam.role
    if not creates_role(service) or not isinstance(role, IamRole):
        return
    statements = [
        *_log_statements(service),
        *_user_statements(service, role),
        *context.role_statements,
    ]
    properties: dict[str, Json] = {
        "AssumeRolePolicyDocument": lambda_assume_role_policy(),
        "Policies": [
            {
                "PolicyName": {"Fn::Join": ["-", [service.service, context.stage, "lambda"]]},
                "PolicyDocument": {"Version": "2012-10-17", "Statement": statements},
            }
        ],
        "Path": role.path or "/",
        "RoleName": _role_name(context, role),
    }
    managed = [*(role.managed_policies or service.provider.iam_managed_policies or [])]
    if _any_function_in_a_vpc(context):
        managed.append(VPC_ACCESS_POLICY)
    if managed:
        properties["ManagedPolicyArns"] = managed
    boundary = (
        role.permissions_boundary
        or role.permission_boundary
        or service.provider.role_permissions_boundary
    )
    if boundary is not None:
        properties["PermissionsBoundary"] = boundary
    if role.tags:
        properties["Tags"] = [{"Key": key, "Value": value} for key, value in role.tags.items()]
    context.template.add(LAMBDA_ROLE, "AWS::IAM::Role", properties)


def _role_name(context: Context, role: IamRole) -> Json:
    """``name``, else ``<service>-<stage>-<region>-lambdaRole`` as the Serverless Framework names
    it. IAM refuses a longer name only when the stack is deployed; here it is a located error."""
    path: ConfigPath = ("provider", "iam", "role", "name")
    if role.name is not None:
        name = role.name
    else:
        name = f"{context.service.service}-{context.stage}-{context.region}-lambdaRole"
        path = ("provider", "iam", "role")
    if len(name) > ROLE_NAME_LIMIT:
        raise context.fail(
            f"the execution role name '{name}' is {len(name)} characters long; IAM allows at "
            f"most {ROLE_NAME_LIMIT} (set a shorter provider.iam.role.name)",
            path,
        )
    if role.name is not None:
        return role.name
    return {
        "Fn::Join": [
            "-",
            [context.service.service, context.stage, {"Ref": "AWS::Region"}, "lambdaRole"],
        ]
    }


def _log_statements(service: Service) -> list[dict[str, Json]]:
    """Writing to the functions' log groups (the AWSLambdaBasicExecutionRole permissions, Lambda
    developer guide, "Lambda execution role"). As in the Serverless Framework, one wildcard
    covers every function named ``<service>-<stage>-…``; others get their own log group ARN,
    and a function with ``disableLogs`` under the wildcard is denied PutLogEvents."""
    prefix = f"{service.service}-{service.stage}"
    create: list[Json] = []
    put: list[Json] = []
    silenced: list[Json] = []
    has_canonical_name = False
    for key, function in service.functions.items():
        name = service.function_name(key)
        if name.startswith(prefix):
            if function.disable_logs:
                silenced.append({"Fn::Sub": f"{LOG_GROUP_ARN}/aws/lambda/{name}:*"})
            else:
                has_canonical_name = True
        elif not function.disable_logs:
            create.append({"Fn::Sub": f"{LOG_GROUP_ARN}/aws/lambda/{name}:*"})
            put.append({"Fn::Sub": f"{LOG_GROUP_ARN}/aws/lambda/{name}:*:*"})
    if has_canonical_name:
        create.append({"Fn::Sub": f"{LOG_GROUP_ARN}/aws/lambda/{prefix}*:*"})
        put.append({"Fn::Sub": f"{LOG_GROUP_ARN}/aws/lambda/{prefix}*:*:*"})
    if not create:
        return []
    statements: list[dict[str, Json]] = [
        {
            "Effect": "Allow",
            "Action": ["logs:CreateLogStream", "logs:CreateLogGroup", "logs:TagResource"],
            "Resource": create,
        },
        {"Effect": "Allow", "Action": ["logs:PutLogEvents"], "Resource": put},
    ]
    if has_canonical_name and silenced:
        statements.append({"Effect": "Deny", "Action": "logs:PutLogEvents", "Resource": silenced})
    return statements


def _user_statements(service: Service, role: IamRole) -> list[dict[str, Json]]:
    """``provider.iam.role.statements``, else the deprecated ``provider.iamRoleStatements``."""
    result = []
    for statement in role.statements or service.provider.iam_role_statements or []:
        dumped = statement.model_dump(by_alias=True, exclude_none=True)
        # The Framework's schema validation turns a single action into a list (its schema says
        # array and ajv coerces); the same here, so that a moved stack sees no policy change.
        for name in ("Action", "NotAction"):
            if isinstance(dumped.get(name), str):
                dumped[name] = [dumped[name]]
        result.append(dumped)
    return result


def _any_function_in_a_vpc(context: Context) -> bool:
    shared = {"Fn::GetAtt": [LAMBDA_ROLE, "Arn"]}
    return any(
        resource["Type"] == "AWS::Lambda::Function"
        and "VpcConfig" in resource["Properties"]
        and resource["Properties"].get("Role") == shared
        for resource in context.template.resources.values()
    )

"""``functions`` → log groups, ``AWS::Lambda::Function``, published versions, aliases, the
asynchronous-invocation settings and the outputs naming them, as the Serverless Framework v3
compiles them (lib/plugins/aws/package/compile/functions.js; the log groups come from
lib/plugins/aws/package/lib/merge-iam-templates.js).

Layers, dead letters and the execution role have their own modules; the pipeline's three entry
points — ``compile_layers``, ``compile_functions`` and ``compile_role`` — are importable from here.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re

from basegear.compile.context import Context, Json
from basegear.compile.deadletter import SEND_ACTIONS, dead_letter_target, target_kind
from basegear.compile.layers import compile_layers, layer_keys
from basegear.compile.naming import (
    DEPLOYMENT_BUCKET,
    export_name,
    function_id,
    log_group_id,
    normalized,
)
from basegear.compile.role import compile_role, execution_role, uses_shared_role
from basegear.config.suggest import did_you_mean
from basegear.errors import ConfigPath
from basegear.model import Function
from basegear.model.functions import DESTINATION_TYPES, DestinationTarget

__all__ = ["alias_id", "compile_functions", "compile_layers", "compile_role", "function_arn"]

LAMBDA_ARN = "arn:${AWS::Partition}:lambda:${AWS::Region}:${AWS::AccountId}:function:"
VPC_KEYS = {
    "securityGroupIds": "SecurityGroupIds",
    "subnetIds": "SubnetIds",
    "ipv6AllowedForDualStack": "Ipv6AllowedForDualStack",
}
# CloudFormation, AWS::Lambda::Function RuntimeManagementConfig: UpdateRuntimeOn.
RUNTIME_UPDATE_MODES = {"auto": "Auto", "onFunctionUpdate": "FunctionUpdate", "manual": "Manual"}
# Settings that belong to the function, not to a published version (Lambda developer guide,
# "Lambda function versions": a version holds the code and most of the configuration, while
# reserved concurrency and tags are set on the function). A change to them publishes nothing.
UNVERSIONED = ("Code", "ReservedConcurrentExecutions", "Tags")


def compile_functions(context: Context) -> None:
    for key in context.service.functions:
        _compile_function(context, key)


def alias_name(function: Function) -> str | None:
    """Provisioned concurrency and SnapStart apply to published versions only, so the Serverless
    Framework points an alias at the new version and events at the alias."""
    if function.provisioned_concurrency:
        return "provisioned"
    return "snapstart" if function.snap_start else None


def alias_id(context: Context, key: str) -> str | None:
    """The logical ID of the function's alias, as the framework names it
    (``<Fn>ProvConcLambdaAlias`` or ``<Fn>SnapStartLambdaAlias``): what events invoke, and so
    wait for."""
    alias = alias_name(context.service.functions[key])
    if alias is None:
        return None
    return f"{normalized(key)}{'ProvConc' if alias == 'provisioned' else 'SnapStart'}LambdaAlias"


def versioned(context: Context, key: str) -> bool:
    """Whether every deployment publishes a version: the function's ``versionFunction``, else
    ``provider.versionFunctions`` (Serverless Framework v3, compile/functions.js)."""
    own = context.service.functions[key].version_function
    return context.service.provider.version_functions if own is None else own


def function_arn(context: Context, key: str) -> Json:
    """The ARN that events and destinations invoke ``key`` at: its alias when it has one."""
    arn = {"Fn::GetAtt": [function_id(key), "Arn"]}
    alias = alias_name(context.service.functions[key])
    return {"Fn::Join": [":", [arn, alias]]} if alias else arn


def _compile_function(context: Context, key: str) -> None:
    function = context.service.functions[key]
    for unsupported, what in (("image", "container image functions"), ("url", "function URLs")):
        if getattr(function, unsupported) is not None:
            raise context.fail(
                f"BaseGear does not compile {what} yet", ("functions", key, unsupported)
            )
    depends_on = [] if function.disable_logs else [_compile_log_group(context, key)]
    if function.depends_on is not None:
        extra = function.depends_on
        depends_on += [extra] if isinstance(extra, str) else extra
    properties = _properties(context, key)
    context.template.add(
        function_id(key),
        "AWS::Lambda::Function",
        properties,
        Condition=function.condition,
        DependsOn=depends_on or None,
    )
    alias = alias_name(function)
    if versioned(context, key) or alias:
        version = _compile_version(context, key, properties)
        if alias:
            _compile_alias(context, key, version, alias)
    _compile_event_invoke_config(context, key)
    _output(context, key, "Arn", {"Fn::GetAtt": [function_id(key), "Arn"]}, "Lambda function ARN")


def _compile_log_group(context: Context, key: str) -> str:
    """``/aws/lambda/<deployed name>``, the log group Lambda writes to (Lambda developer guide,
    "Working with Lambda function logs"). Created here so that it has a retention and goes with
    the stack; ``resources.protect_stateful`` decides its DeletionPolicy."""
    function = context.service.functions[key]
    provider = context.service.provider
    properties: dict[str, Json] = {
        "LogGroupName": f"/aws/lambda/{context.service.function_name(key)}"
    }
    retention = function.log_retention_in_days or provider.log_retention_in_days
    if retention is not None:
        properties["RetentionInDays"] = retention
    policy = function.log_data_protection_policy or provider.log_data_protection_policy
    if policy is not None:
        properties["DataProtectionPolicy"] = policy
    return context.template.add(log_group_id(key), "AWS::Logs::LogGroup", properties)


def _properties(context: Context, key: str) -> dict[str, Json]:
    service = context.service
    provider = service.provider
    function = service.functions[key]
    shared_role = uses_shared_role(service, key)
    properties: dict[str, Json] = {
        "Code": {
            "S3Bucket": {"Ref": DEPLOYMENT_BUCKET},
            "S3Key": context.artifacts.functions[key].s3_key(service.service, context.stage),
        },
        "Handler": function.handler,
        "Runtime": function.runtime or provider.runtime,
        "FunctionName": service.function_name(key),
        "MemorySize": function.memory_size or provider.memory_size,
        "Timeout": function.timeout or provider.timeout,
        "Architectures": [function.architecture or provider.architecture],
    }
    # The remaining settings in the order the Serverless Framework writes them, so that a
    # template diff against its output lines up; the role's statements follow the same order.
    if function.description:
        properties["Description"] = function.description
    tags = {**provider.tags, **function.tags}
    if tags:
        properties["Tags"] = [{"Key": name, "Value": value} for name, value in tags.items()]
    if function.ephemeral_storage_size is not None:
        properties["EphemeralStorage"] = {"Size": function.ephemeral_storage_size}
    dead_letter = dead_letter_target(context, key)
    if dead_letter is not None:
        properties["DeadLetterConfig"] = {"TargetArn": dead_letter}
    kms_key = function.kms_key_arn or function.aws_kms_key_arn or provider.kms_key_arn
    if kms_key is not None:
        properties["KmsKeyArn"] = kms_key
        if shared_role:
            # Lambda developer guide, "Securing Lambda environment variables": the execution
            # role decrypts the variables with a customer managed key.
            context.allow(["kms:Decrypt"], [kms_key])
    tracing = _tracing_mode(context, key)
    if tracing is not None:
        properties["TracingConfig"] = {"Mode": tracing}
        if shared_role:
            # Lambda developer guide, "Visualize Lambda function invocations using AWS X-Ray".
            context.allow(["xray:PutTraceSegments", "xray:PutTelemetryRecords"], ["*"])
    # The function's variables win over the provider's (Serverless Framework documentation,
    # "Environment variables").
    variables = {**provider.environment, **function.environment}
    if variables:
        properties["Environment"] = {"Variables": variables}
    properties["Role"] = execution_role(service, key)
    vpc = _vpc_config(context, key)
    if vpc is not None:
        properties["VpcConfig"] = vpc
    if function.file_system_config is not None:
        properties["FileSystemConfigs"] = [_file_system(context, key, vpc is not None)]
    if function.reserved_concurrency is not None:
        properties["ReservedConcurrentExecutions"] = function.reserved_concurrency
    layers = function.layers if function.layers is not None else provider.layers
    if layers:
        properties["Layers"] = list(layers)
    runtime_management = _runtime_management(context, key)
    if runtime_management is not None:
        properties["RuntimeManagementConfig"] = runtime_management
    if function.snap_start:
        properties["SnapStart"] = {"ApplyOn": "PublishedVersions"}
    return properties


def _vpc_config(context: Context, key: str) -> dict[str, Json] | None:
    """The function's ``vpc`` over the provider's, setting by setting; ``vpc: false`` (or null)
    on the function keeps it out of the provider's VPC, as in the Serverless Framework."""
    path: ConfigPath = ("functions", key, "vpc")
    raw = context.loaded.data["functions"][key]
    if "vpc" in raw and raw["vpc"] in (None, False):
        return None
    own = context.service.functions[key].vpc or {}
    if not isinstance(own, dict):
        raise context.fail("expected a mapping with securityGroupIds and subnetIds, or false", path)
    for name in own:
        if name not in VPC_KEYS:
            raise context.fail(
                f"unknown vpc setting '{name}'{did_you_mean(name, VPC_KEYS)}", (*path, name)
            )
    provider = context.service.provider.vpc
    inherited = provider.model_dump(by_alias=True, exclude_none=True) if provider else {}
    settings = {**inherited, **own}
    if not settings:
        return None
    # SF drops a VPC that lacks one of the two lists without a word; Lambda needs both
    # (Lambda API reference, VpcConfig).
    for name in ("securityGroupIds", "subnetIds"):
        if not settings.get(name):
            raise context.fail(f"a function in a VPC needs {name}", path)
    return {VPC_KEYS[name]: value for name, value in settings.items()}


def _file_system(context: Context, key: str, in_vpc: bool) -> dict[str, Json]:
    """Lambda developer guide, "Configuring file system access": the function must be in a VPC,
    and its role needs elasticfilesystem:ClientMount and ClientWrite on the access point."""
    path: ConfigPath = ("functions", key, "fileSystemConfig")
    settings = context.service.functions[key].file_system_config or {}
    if set(settings) != {"arn", "localMountPath"}:
        raise context.fail("expected exactly arn and localMountPath", path)
    if not in_vpc:
        raise context.fail(
            "a function mounts a file system only from a VPC: set vpc on the function or the "
            "provider",
            path,
        )
    if uses_shared_role(context.service, key):
        context.allow(
            ["elasticfilesystem:ClientMount", "elasticfilesystem:ClientWrite"], [settings["arn"]]
        )
    return {"Arn": settings["arn"], "LocalMountPath": settings["localMountPath"]}


def _tracing_mode(context: Context, key: str) -> str | None:
    tracing = context.service.functions[key].tracing or context.service.provider.tracing.lambda_
    if not tracing:
        return None
    mode = "Active" if tracing is True else tracing
    if mode not in ("Active", "PassThrough"):
        raise context.fail(
            f"expected true, Active or PassThrough, got {mode!r}", ("functions", key, "tracing")
        )
    return str(mode)


def _runtime_management(context: Context, key: str) -> dict[str, Json] | None:
    """``runtimeManagement``: ``auto``, ``onFunctionUpdate`` or ``{mode: manual, arn: …}``,
    the function's over the provider's; ``auto`` is Lambda's default and is left out."""
    settings: dict[str, Json] = {"mode": "auto"}
    for value, path in (
        (context.service.provider.runtime_management, ("provider", "runtimeManagement")),
        (
            context.service.functions[key].runtime_management,
            ("functions", key, "runtimeManagement"),
        ),
    ):
        if value is None:
            continue
        value = {"mode": value} if isinstance(value, str) else value
        if (
            not isinstance(value, dict)
            or not set(value) <= {"mode", "arn"}
            or value.get("mode", "auto") not in RUNTIME_UPDATE_MODES
            or (value.get("mode") == "manual" and "arn" not in value)
        ):
            raise context.fail(
                "expected auto, onFunctionUpdate, or {mode: manual, arn: <runtime version ARN>}",
                path,
            )
        settings.update(value)
    mode = str(settings["mode"])
    if mode == "auto":
        return None
    config: dict[str, Json] = {"UpdateRuntimeOn": RUNTIME_UPDATE_MODES[mode]}
    if mode == "manual":
        config["RuntimeVersionArn"] = settings["arn"]
    return config


def _compile_version(context: Context, key: str, properties: dict[str, Json]) -> str:
    """``<Fn>LambdaVersion<hash>``. A version cannot be updated, so its logical ID carries a
    hash of everything it publishes — the code, the layers' code and the configuration — and a
    change publishes a new version; old versions are retained (as in the Serverless Framework)
    so that aliases and callers pinned to them keep working."""
    function = context.service.functions[key]
    artifact = context.artifacts.functions[key]
    logical_id = f"{normalized(key)}LambdaVersion{_version_hash(context, key, properties)}"
    version: dict[str, Json] = {
        "FunctionName": {"Ref": function_id(key)},
        # CloudFormation publishes the version only if the function's code has this SHA-256
        # (AWS::Lambda::Version CodeSha256).
        "CodeSha256": artifact.code_sha256,
    }
    if function.description:
        version["Description"] = function.description
    retained = "Retain" if versioned(context, key) else None
    context.template.add(
        logical_id,
        "AWS::Lambda::Version",
        version,
        Condition=function.condition,
        DeletionPolicy=retained,
    )
    _output(context, key, "QualifiedArn", {"Ref": logical_id}, "Current Lambda function version")
    return logical_id


def _version_hash(context: Context, key: str, properties: dict[str, Json]) -> str:
    """Base64 of a SHA-256 over the function's code, the code and settings of the layers it
    references in this template, and its versioned configuration, keeping letters and digits
    only, as the Serverless Framework's version IDs do. Same input, same ID."""
    by_id = layer_keys(context)
    layers = []
    for reference in properties.get("Layers", []):
        if not isinstance(reference, dict) or reference.get("Ref") not in by_id:
            continue
        # The layer's S3 key is content-addressed, so its properties cover its code too.
        layers.append(context.template.resources[reference["Ref"]]["Properties"])
    configuration = {name: value for name, value in properties.items() if name not in UNVERSIONED}
    payload = json.dumps(
        {
            "code": context.artifacts.functions[key].sha256,
            "layers": layers,
            "configuration": configuration,
        },
        sort_keys=True,
        separators=(",", ":"),
    )
    digest = base64.b64encode(hashlib.sha256(payload.encode()).digest()).decode()
    return re.sub(r"[^0-9A-Za-z]", "", digest)


def _compile_alias(context: Context, key: str, version: str, name: str) -> None:
    function = context.service.functions[key]
    logical_id = alias_id(context, key)
    assert logical_id is not None
    properties: dict[str, Json] = {
        "FunctionName": {"Ref": function_id(key)},
        "FunctionVersion": {"Fn::GetAtt": [version, "Version"]},
        "Name": name,
    }
    if function.provisioned_concurrency and function.snap_start:
        # Lambda developer guide, "Improving startup performance with Lambda SnapStart":
        # SnapStart does not support provisioned concurrency.
        raise context.fail(
            "SnapStart does not support provisioned concurrency; remove one of the two",
            ("functions", key, "snapStart"),
        )
    if function.provisioned_concurrency:
        properties["ProvisionedConcurrencyConfig"] = {
            "ProvisionedConcurrentExecutions": function.provisioned_concurrency
        }
    context.template.add(logical_id, "AWS::Lambda::Alias", properties, Condition=function.condition)


def _compile_event_invoke_config(context: Context, key: str) -> None:
    """``<Fn>LambdaEvConf``: the destinations and retry limits of asynchronous invocations
    (CloudFormation, AWS::Lambda::EventInvokeConfig), on the alias when there is one."""
    function = context.service.functions[key]
    destinations = function.destinations
    if (
        destinations is None
        and function.maximum_event_age is None
        and function.maximum_retry_attempts is None
    ):
        return
    properties: dict[str, Json] = {
        "FunctionName": {"Ref": function_id(key)},
        "Qualifier": alias_name(function) or "$LATEST",
    }
    config: dict[str, Json] = {}
    # After the aliases it names, its own and a destination function's, exist.
    depends_on = [alias_id(context, key)]
    if destinations is not None:
        for field, name, target in (
            ("onSuccess", "OnSuccess", destinations.on_success),
            ("onFailure", "OnFailure", destinations.on_failure),
        ):
            if target is not None:
                path: ConfigPath = ("functions", key, "destinations", field)
                config[name] = {"Destination": _destination(context, key, target, path)}
                if isinstance(target, str) and target in context.service.functions:
                    depends_on.append(alias_id(context, target))
    if config:
        properties["DestinationConfig"] = config
    if function.maximum_event_age is not None:
        properties["MaximumEventAgeInSeconds"] = function.maximum_event_age
    if function.maximum_retry_attempts is not None:
        properties["MaximumRetryAttempts"] = function.maximum_retry_attempts
    context.template.add(
        f"{normalized(key)}LambdaEvConf",
        "AWS::Lambda::EventInvokeConfig",
        properties,
        Condition=function.condition,
        DependsOn=[logical_id for logical_id in depends_on if logical_id] or None,
    )


def _destination(context: Context, key: str, target: Json, path: ConfigPath) -> Json:
    """An ARN of a function, queue, topic, event bus or (on failure) S3 bucket, or the key of a
    function of this service (Lambda developer guide, "Capturing records of Lambda asynchronous
    invocations"); or ``{type, arn}``, a computed ARN and its kind. The execution role gets the
    right to send there."""
    service = context.service
    if isinstance(target, DestinationTarget):
        return _typed_destination(context, key, target, path)
    if isinstance(target, str) and not target.startswith("arn:"):
        if target not in service.functions:
            raise context.fail(
                f"no function '{target}' in this service; a destination is an ARN or the key "
                f"of one of its functions{did_you_mean(target, service.functions)}",
                path,
            )
        arn = function_arn(context, target)
        # Not the target's Fn::GetAtt: the target depends on this role, so that would be a
        # circular dependency. Its ARN is known from its deployed name.
        alias = alias_name(service.functions[target])
        grant: Json = {
            "Fn::Sub": LAMBDA_ARN + service.function_name(target) + (f":{alias}" if alias else "")
        }
        kind: str | None = "lambda"
    else:
        arn = grant = target
        kind = target_kind(context, target, path)
        if kind == "s3" and path[-1] == "onFailure":
            # An S3 bucket takes failure records only; Lambda writes an object per record.
            if uses_shared_role(service, key):
                objects = {"Fn::Join": ["", [target, "/*"]]}
                context.allow(["s3:PutObject", "s3:ListBucket"], [target, objects])
            return arn
        if kind is not None and kind not in SEND_ACTIONS:
            raise context.fail(
                "a destination is a Lambda function, an SQS queue, an SNS topic or an "
                "EventBridge event bus (or, on failure only, an S3 bucket)",
                path,
            )
    if uses_shared_role(service, key):
        # An ARN known only at deployment gets the four actions; each applies to its own kind
        # of resource only.
        actions = [SEND_ACTIONS[kind]] if kind else list(SEND_ACTIONS.values())
        context.allow(actions, [grant])
    return arn


def _typed_destination(
    context: Context, key: str, target: DestinationTarget, path: ConfigPath
) -> Json:
    """``{type, arn}``: the type says which action the role needs, as in the Serverless
    Framework (an ``Fn::ImportValue`` names no kind by itself); where the ARN shows its kind
    too, the two must agree."""
    kind = DESTINATION_TYPES[target.type]
    shown = target_kind(context, target.arn, (*path, "arn"))
    if shown is not None and shown != kind:
        named = _KIND_NAMES.get(shown, shown)
        raise context.fail(
            f"type {target.type} does not match the arn, which names {named}", (*path, "type")
        )
    if uses_shared_role(context.service, key):
        context.allow([SEND_ACTIONS[kind]], [target.arn])
    return target.arn


_KIND_NAMES = {
    "lambda": "a Lambda function",
    "sqs": "an SQS queue",
    "sns": "an SNS topic",
    "events": "an EventBridge event bus",
    "s3": "an S3 bucket",
}


def _output(context: Context, key: str, suffix: str, value: Json, description: str) -> None:
    """``<Fn>LambdaFunction<suffix>``, exported, and under the function's condition."""
    name = f"{function_id(key)}{suffix}"
    export = export_name(context.service.service, context.stage, name)
    context.template.output(name, value, description, export=export)
    condition = context.service.functions[key].condition
    if condition is not None:
        context.template.outputs[name]["Condition"] = condition

"""AWS::Lambda::Function, Version, Alias, Permission, EventInvokeConfig, LayerVersion,
LayerVersionPermission and Url, through the Lambda API.

CloudFormation resource reference:
- Function: Ref is the name, Fn::GetAtt Arn; FunctionName and PackageType require replacement.
  Inline ``Code.ZipFile`` is written to ``index.py`` (``index.js`` for Node.js) in a zip, as
  CloudFormation does; S3Bucket/S3Key point into the deployment bucket the deploy step filled.
  ReservedConcurrentExecutions is PutFunctionConcurrency.
- Version: every property change replaces it; Ref is the version's ARN; Fn::GetAtt Version.
- Alias: Ref is the alias ARN; FunctionName and Name require replacement.
- Permission: every property change replaces it (a new statement).
- LayerVersion: every property change publishes a new version; Ref is the version ARN.
- EventInvokeConfig: FunctionName and Qualifier require replacement."""

from __future__ import annotations

import io
import zipfile
from typing import Any

from basegear.cloud.cloudformation.errors import ResourceError
from basegear.cloud.cloudformation.resources.base import (
    Context,
    Created,
    Handler,
    Properties,
    removed_tag_keys,
    required,
    tag_map,
    text,
)
from basegear.cloud.cloudformation.resources.registry import handles

CONFIGURATION = (
    "Description",
    "Handler",
    "Runtime",
    "Role",
    "Timeout",
    "MemorySize",
    "Environment",
    "Layers",
    "DeadLetterConfig",
    "TracingConfig",
    "VpcConfig",
    "KmsKeyArn",
    "FileSystemConfigs",
    "EphemeralStorage",
    "ImageConfig",
    "SnapStart",
    "LoggingConfig",
)
ACCEPTED = frozenset(
    {
        *CONFIGURATION,
        "Code",
        "FunctionName",
        "Architectures",
        "PackageType",
        "ReservedConcurrentExecutions",
        "Tags",
        "RuntimeManagementConfig",  # kept in the record; the local runtime has one version
        "CodeSigningConfigArn",
    }
)


def split_qualifier(function: str) -> tuple[str, str | None]:
    """``arn:…:function:name:alias`` → (``arn:…:function:name``, ``alias``)."""
    parts = function.split(":")
    if function.startswith("arn:") and len(parts) == 8:
        return ":".join(parts[:7]), parts[7]
    return function, None


def provision(ctx: Context, function: str, qualifier: str, config: dict[str, Any]) -> None:
    """PutProvisionedConcurrencyConfig; moto 5.2.5 lacks the API, so the setting is then kept in
    the provider's own store (``services["provisioned"]``, keyed by function and qualifier) —
    the local runtime starts workers on demand either way."""
    count = int(config["ProvisionedConcurrentExecutions"])
    try:
        ctx.client("lambda").put_provisioned_concurrency_config(
            FunctionName=function, Qualifier=qualifier, ProvisionedConcurrentExecutions=count
        )
    except Exception as exc:
        code = getattr(exc, "response", {}).get("Error", {}).get("Code")
        if code != "UnknownOperationException":
            raise
        store = ctx.services.get("provisioned")
        if isinstance(store, dict):
            store[(function, qualifier)] = count


def _code(props: Properties) -> dict[str, Any]:
    code = required(props, "Code", "AWS::Lambda::Function")
    if "ZipFile" in code:
        runtime = str(props.get("Runtime", "python"))
        filename = "index.js" if runtime.startswith("nodejs") else "index.py"
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            archive.writestr(zipfile.ZipInfo(filename, (1980, 1, 1, 0, 0, 0)), code["ZipFile"])
        return {"ZipFile": buffer.getvalue()}
    if "ImageUri" in code:
        return {"ImageUri": code["ImageUri"]}
    return {key: code[key] for key in ("S3Bucket", "S3Key", "S3ObjectVersion") if key in code}


def _configuration(props: Properties) -> dict[str, Any]:
    config: dict[str, Any] = {}
    for key in CONFIGURATION:
        if key not in props:
            continue
        value = props[key]
        if key in ("Timeout", "MemorySize"):
            value = int(value)
        elif key == "Environment":
            value = {
                "Variables": {name: text(item) for name, item in value.get("Variables", {}).items()}
            }
        elif key == "EphemeralStorage":
            value = {"Size": int(value["Size"])}
        config[key] = value
    return config


@handles
class Function(Handler):
    type_name = "AWS::Lambda::Function"
    attributes = frozenset(
        {"Arn", "SnapStartResponse.ApplyOn", "SnapStartResponse.OptimizationStatus"}
    )
    replace_on = frozenset({"FunctionName", "PackageType"})
    name_property = "FunctionName"

    def create(self, ctx: Context, props: Properties) -> Created:
        unknown = sorted(set(props) - ACCEPTED)
        if unknown:
            raise ResourceError(
                f"{self.type_name} properties {unknown} are not supported by the local "
                "CloudFormation"
            )
        name = props.get("FunctionName") or ctx.physical_name(64)
        extra: dict[str, Any] = {}
        for key in ("Architectures", "PackageType"):
            if key in props:
                extra[key] = props[key]
        if props.get("Tags"):
            extra["Tags"] = tag_map(props["Tags"])
        client = ctx.client("lambda")
        created = client.create_function(
            FunctionName=name, Code=_code(props), **_configuration(props), **extra
        )
        if "ReservedConcurrentExecutions" in props:
            client.put_function_concurrency(
                FunctionName=name,
                ReservedConcurrentExecutions=int(props["ReservedConcurrentExecutions"]),
            )
        return Created(name, {"Arn": created["FunctionArn"]})

    def update(self, ctx: Context, current: Created, old: Properties, new: Properties) -> Created:
        client = ctx.client("lambda")
        name = current.physical_id
        if _configuration(old) != _configuration(new):
            configuration = _configuration(new)
            if "DeadLetterConfig" in old and "DeadLetterConfig" not in new:
                configuration["DeadLetterConfig"] = {}  # removed from the template: unset
            client.update_function_configuration(FunctionName=name, **configuration)
        if old.get("Code") != new.get("Code") or old.get("Architectures") != new.get(
            "Architectures"
        ):
            code = _code(new)
            extra = {"Architectures": new["Architectures"]} if "Architectures" in new else {}
            client.update_function_code(FunctionName=name, **code, **extra)
        if old.get("ReservedConcurrentExecutions") != new.get("ReservedConcurrentExecutions"):
            if "ReservedConcurrentExecutions" in new:
                client.put_function_concurrency(
                    FunctionName=name,
                    ReservedConcurrentExecutions=int(new["ReservedConcurrentExecutions"]),
                )
            else:
                client.delete_function_concurrency(FunctionName=name)
        if old.get("Tags") != new.get("Tags"):
            arn = current.attributes["Arn"]
            if removed := removed_tag_keys(old, new):
                client.untag_resource(Resource=arn, TagKeys=removed)
            if new.get("Tags"):
                client.tag_resource(Resource=arn, Tags=tag_map(new["Tags"]))
        return current

    def delete(self, ctx: Context, current: Created, props: Properties) -> None:
        ctx.client("lambda").delete_function(FunctionName=current.physical_id)


@handles
class Version(Handler):
    type_name = "AWS::Lambda::Version"
    attributes = frozenset({"Version", "FunctionArn"})
    immutable = True

    def create(self, ctx: Context, props: Properties) -> Created:
        client = ctx.client("lambda")
        extra = {key: props[key] for key in ("CodeSha256", "Description") if key in props}
        published = client.publish_version(
            FunctionName=required(props, "FunctionName", self.type_name), **extra
        )
        arn = published["FunctionArn"]
        if "ProvisionedConcurrencyConfig" in props:
            provision(
                ctx,
                published["FunctionName"],
                published["Version"],
                props["ProvisionedConcurrencyConfig"],
            )
        return Created(arn, {"Version": published["Version"], "FunctionArn": arn})

    def delete(self, ctx: Context, current: Created, props: Properties) -> None:
        function, version = split_qualifier(current.physical_id)
        ctx.client("lambda").delete_function(FunctionName=function, Qualifier=version)


@handles
class Alias(Handler):
    type_name = "AWS::Lambda::Alias"
    attributes = frozenset({"AliasArn"})
    replace_on = frozenset({"FunctionName", "Name"})

    def create(self, ctx: Context, props: Properties) -> Created:
        client = ctx.client("lambda")
        alias = client.create_alias(
            FunctionName=required(props, "FunctionName", self.type_name),
            Name=required(props, "Name", self.type_name),
            FunctionVersion=str(required(props, "FunctionVersion", self.type_name)),
            **self._extra(props),
        )
        self._provisioned(ctx, props)
        return Created(alias["AliasArn"], {"AliasArn": alias["AliasArn"]})

    @staticmethod
    def _extra(props: Properties) -> dict[str, Any]:
        extra: dict[str, Any] = {"Description": props.get("Description", "")}
        routing = props.get("RoutingConfig", {}).get("AdditionalVersionWeights")
        extra["RoutingConfig"] = {
            "AdditionalVersionWeights": {
                str(item["FunctionVersion"]): float(item["FunctionWeight"])
                for item in routing or []
            }
        }
        return extra

    @staticmethod
    def _provisioned(ctx: Context, props: Properties) -> None:
        config = props.get("ProvisionedConcurrencyConfig")
        if config:
            provision(ctx, props["FunctionName"], props["Name"], config)

    def update(self, ctx: Context, current: Created, old: Properties, new: Properties) -> Created:
        client = ctx.client("lambda")
        client.update_alias(
            FunctionName=new["FunctionName"],
            Name=new["Name"],
            FunctionVersion=str(new["FunctionVersion"]),
            **self._extra(new),
        )
        if old.get("ProvisionedConcurrencyConfig") != new.get("ProvisionedConcurrencyConfig"):
            self._provisioned(ctx, new)
        return current

    def delete(self, ctx: Context, current: Created, props: Properties) -> None:
        ctx.client("lambda").delete_alias(FunctionName=props["FunctionName"], Name=props["Name"])


@handles
class Permission(Handler):
    type_name = "AWS::Lambda::Permission"
    immutable = True

    def create(self, ctx: Context, props: Properties) -> Created:
        function, qualifier = split_qualifier(required(props, "FunctionName", self.type_name))
        statement = ctx.physical_name(100)
        extra: dict[str, Any] = {
            key: props[key]
            for key in (
                "SourceArn",
                "SourceAccount",
                "EventSourceToken",
                "PrincipalOrgID",
                "FunctionUrlAuthType",
            )
            if key in props
        }
        if qualifier:
            extra["Qualifier"] = qualifier
        ctx.client("lambda").add_permission(
            FunctionName=function,
            StatementId=statement,
            Action=required(props, "Action", self.type_name),
            Principal=required(props, "Principal", self.type_name),
            **extra,
        )
        return Created(statement)

    def delete(self, ctx: Context, current: Created, props: Properties) -> None:
        function, qualifier = split_qualifier(props["FunctionName"])
        extra = {"Qualifier": qualifier} if qualifier else {}
        ctx.client("lambda").remove_permission(
            FunctionName=function, StatementId=current.physical_id, **extra
        )


@handles
class EventInvokeConfig(Handler):
    type_name = "AWS::Lambda::EventInvokeConfig"
    replace_on = frozenset({"FunctionName", "Qualifier"})

    def create(self, ctx: Context, props: Properties) -> Created:
        self._put(ctx, props)
        return Created(ctx.physical_name(128))

    def update(self, ctx: Context, current: Created, old: Properties, new: Properties) -> Created:
        self._put(ctx, new)
        return current

    def _put(self, ctx: Context, props: Properties) -> None:
        extra: dict[str, Any] = {}
        for key in ("MaximumEventAgeInSeconds", "MaximumRetryAttempts"):
            if key in props:
                extra[key] = int(props[key])
        if "DestinationConfig" in props:
            extra["DestinationConfig"] = props["DestinationConfig"]
        ctx.client("lambda").put_function_event_invoke_config(
            FunctionName=required(props, "FunctionName", self.type_name),
            Qualifier=str(required(props, "Qualifier", self.type_name)),
            **extra,
        )

    def delete(self, ctx: Context, current: Created, props: Properties) -> None:
        ctx.client("lambda").delete_function_event_invoke_config(
            FunctionName=props["FunctionName"], Qualifier=str(props["Qualifier"])
        )


@handles
class LayerVersion(Handler):
    type_name = "AWS::Lambda::LayerVersion"
    attributes = frozenset({"LayerVersionArn"})
    immutable = True

    def create(self, ctx: Context, props: Properties) -> Created:
        content = required(props, "Content", self.type_name)
        extra = {
            key: props[key]
            for key in (
                "Description",
                "CompatibleRuntimes",
                "CompatibleArchitectures",
                "LicenseInfo",
            )
            if key in props
        }
        published = ctx.client("lambda").publish_layer_version(
            LayerName=props.get("LayerName") or ctx.physical_name(140),
            Content={
                key: content[key]
                for key in ("S3Bucket", "S3Key", "S3ObjectVersion")
                if key in content
            },
            **extra,
        )
        arn = published["LayerVersionArn"]
        return Created(arn, {"LayerVersionArn": arn})

    def delete(self, ctx: Context, current: Created, props: Properties) -> None:
        layer, _, number = current.physical_id.rpartition(":")
        ctx.client("lambda").delete_layer_version(LayerName=layer, VersionNumber=int(number))


@handles
class LayerVersionPermission(Handler):
    type_name = "AWS::Lambda::LayerVersionPermission"
    immutable = True

    def create(self, ctx: Context, props: Properties) -> Created:
        arn = required(props, "LayerVersionArn", self.type_name)
        layer, _, number = arn.rpartition(":")
        statement = ctx.physical_name(100)
        extra = {"OrganizationId": props["OrganizationId"]} if "OrganizationId" in props else {}
        ctx.client("lambda").add_layer_version_permission(
            LayerName=layer,
            VersionNumber=int(number),
            StatementId=statement,
            Action=required(props, "Action", self.type_name),
            Principal=required(props, "Principal", self.type_name),
            **extra,
        )
        return Created(f"{arn}#{statement}")

    def delete(self, ctx: Context, current: Created, props: Properties) -> None:
        arn, _, statement = current.physical_id.partition("#")
        layer, _, number = arn.rpartition(":")
        ctx.client("lambda").remove_layer_version_permission(
            LayerName=layer, VersionNumber=int(number), StatementId=statement
        )


@handles
class Url(Handler):
    type_name = "AWS::Lambda::Url"
    attributes = frozenset({"FunctionArn", "FunctionUrl"})
    replace_on = frozenset({"TargetFunctionArn", "Qualifier"})

    def create(self, ctx: Context, props: Properties) -> Created:
        function, qualifier = split_qualifier(required(props, "TargetFunctionArn", self.type_name))
        extra = self._extra(props)
        if props.get("Qualifier") or qualifier:
            extra["Qualifier"] = props.get("Qualifier") or qualifier
        url = ctx.client("lambda").create_function_url_config(
            FunctionName=function, AuthType=required(props, "AuthType", self.type_name), **extra
        )
        return Created(
            url["FunctionArn"],
            {"FunctionArn": url["FunctionArn"], "FunctionUrl": url["FunctionUrl"]},
        )

    @staticmethod
    def _extra(props: Properties) -> dict[str, Any]:
        return {key: props[key] for key in ("Cors", "InvokeMode") if key in props}

    def update(self, ctx: Context, current: Created, old: Properties, new: Properties) -> Created:
        function, qualifier = split_qualifier(new["TargetFunctionArn"])
        extra = self._extra(new)
        if new.get("Qualifier") or qualifier:
            extra["Qualifier"] = new.get("Qualifier") or qualifier
        ctx.client("lambda").update_function_url_config(
            FunctionName=function, AuthType=new["AuthType"], **extra
        )
        return current

    def delete(self, ctx: Context, current: Created, props: Properties) -> None:
        function, qualifier = split_qualifier(props["TargetFunctionArn"])
        extra = (
            {"Qualifier": props.get("Qualifier") or qualifier}
            if (props.get("Qualifier") or qualifier)
            else {}
        )
        ctx.client("lambda").delete_function_url_config(FunctionName=function, **extra)

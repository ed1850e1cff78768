"""AWS::StepFunctions::StateMachine and AWS::StepFunctions::Activity.

CloudFormation resource reference: a StateMachine's Ref is its ARN, Fn::GetAtt gives Arn, Name
and StateMachineRevisionId; StateMachineName and StateMachineType require replacement. The
definition comes from DefinitionString, Definition (an object) or DefinitionS3Location, with
each ``${key}`` of DefinitionSubstitutions replaced. LoggingConfiguration, TracingConfiguration
and EncryptionConfiguration are the API's structures with upper-case initials. An Activity's
Ref is its ARN, Fn::GetAtt Name; Name requires replacement."""

from __future__ import annotations

import json
from typing import Any

from basegear.cloud.cloudformation.errors import ResourceError
from basegear.cloud.cloudformation.resources.base import (
    Context,
    Created,
    Handler,
    Properties,
    required,
    text,
)
from basegear.cloud.cloudformation.resources.registry import handles


def _lower_keys(value: Any) -> Any:
    """``{"LogGroupArn": …}`` → ``{"logGroupArn": …}``, all the way down."""
    if isinstance(value, dict):
        return {key[:1].lower() + key[1:]: _lower_keys(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_lower_keys(item) for item in value]
    return value


def _definition(ctx: Context, props: Properties) -> str:
    if "DefinitionString" in props:
        definition = str(props["DefinitionString"])
    elif "Definition" in props:
        definition = json.dumps(props["Definition"])
    elif "DefinitionS3Location" in props:
        location = props["DefinitionS3Location"]
        extra = {"VersionId": location["Version"]} if "Version" in location else {}
        body = ctx.client("s3").get_object(Bucket=location["Bucket"], Key=location["Key"], **extra)
        definition = body["Body"].read().decode()
    else:
        raise ResourceError(
            "StateMachine needs DefinitionString, Definition or DefinitionS3Location"
        )
    for key, value in props.get("DefinitionSubstitutions", {}).items():
        definition = definition.replace("${" + key + "}", text(value))
    return definition


def _options(props: Properties) -> dict[str, Any]:
    options: dict[str, Any] = {}
    if "LoggingConfiguration" in props:
        options["loggingConfiguration"] = _lower_keys(props["LoggingConfiguration"])
    if "TracingConfiguration" in props:
        options["tracingConfiguration"] = {
            "enabled": text(props["TracingConfiguration"].get("Enabled", False)) == "true"
        }
    return options


def _tags(tags: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Template tags as Step Functions takes them, with lower-case ``key`` and ``value``."""
    return [{"key": tag["Key"], "value": tag["Value"]} for tag in tags]


@handles
class StateMachine(Handler):
    type_name = "AWS::StepFunctions::StateMachine"
    attributes = frozenset({"Arn", "Name", "StateMachineRevisionId"})
    replace_on = frozenset({"StateMachineName", "StateMachineType"})
    name_property = "StateMachineName"

    def create(self, ctx: Context, props: Properties) -> Created:
        name = props.get("StateMachineName") or ctx.physical_name(80)
        extra = _options(props)
        if "EncryptionConfiguration" in props:
            extra["encryptionConfiguration"] = _lower_keys(props["EncryptionConfiguration"])
        if props.get("Tags"):
            extra["tags"] = _tags(props["Tags"])
        created = ctx.client("stepfunctions").create_state_machine(
            name=name,
            definition=_definition(ctx, props),
            roleArn=required(props, "RoleArn", self.type_name),
            type=props.get("StateMachineType", "STANDARD"),
            **extra,
        )
        arn = created["stateMachineArn"]
        return Created(arn, {"Arn": arn, "Name": name, "StateMachineRevisionId": arn})

    def update(self, ctx: Context, current: Created, old: Properties, new: Properties) -> Created:
        ctx.client("stepfunctions").update_state_machine(
            stateMachineArn=current.physical_id,
            definition=_definition(ctx, new),
            roleArn=new["RoleArn"],
            **_options(new),
        )
        return current

    def delete(self, ctx: Context, current: Created, props: Properties) -> None:
        ctx.client("stepfunctions").delete_state_machine(stateMachineArn=current.physical_id)


@handles
class Activity(Handler):
    type_name = "AWS::StepFunctions::Activity"
    attributes = frozenset({"Arn", "Name"})
    replace_on = frozenset({"Name"})
    name_property = "Name"

    def create(self, ctx: Context, props: Properties) -> Created:
        name = required(props, "Name", self.type_name)
        extra: dict[str, Any] = {}
        if props.get("Tags"):
            extra["tags"] = _tags(props["Tags"])
        arn = ctx.client("stepfunctions").create_activity(name=name, **extra)["activityArn"]
        return Created(arn, {"Arn": arn, "Name": name})

    def update(self, ctx: Context, current: Created, old: Properties, new: Properties) -> Created:
        return current

    def delete(self, ctx: Context, current: Created, props: Properties) -> None:
        ctx.client("stepfunctions").delete_activity(activityArn=current.physical_id)

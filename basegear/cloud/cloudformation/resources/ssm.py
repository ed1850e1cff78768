"""AWS::SSM::Parameter.

CloudFormation resource reference: Ref is the parameter name, Fn::GetAtt Type and Value; Name
requires replacement; a generated name is ``CFN-<LogicalId>-<RANDOM>``; Type is String or
StringList (SecureString cannot be created by CloudFormation)."""

from __future__ import annotations

from typing import Any

from basegear.cloud.cloudformation.errors import ResourceError
from basegear.cloud.cloudformation.resources.base import (
    Context,
    Created,
    Handler,
    Properties,
    required,
    tag_list,
    text,
)
from basegear.cloud.cloudformation.resources.registry import handles


@handles
class Parameter(Handler):
    type_name = "AWS::SSM::Parameter"
    attributes = frozenset({"Type", "Value"})
    replace_on = frozenset({"Name"})
    name_property = "Name"

    def create(self, ctx: Context, props: Properties) -> Created:
        if props.get("Type") == "SecureString":
            raise ResourceError(
                "SSM Parameter type SecureString cannot be created by CloudFormation"
            )
        name = props.get("Name") or f"CFN-{ctx.physical_name(1000)[len(ctx.stack_name) + 1 :]}"
        extra: dict[str, Any] = {}
        if props.get("Tags"):
            extra["Tags"] = tag_list(props["Tags"])
        self._put(ctx, name, props, overwrite=False, extra=extra)
        return Created(name, {"Type": props.get("Type", "String"), "Value": text(props["Value"])})

    def _put(
        self, ctx: Context, name: str, props: Properties, *, overwrite: bool, extra: dict[str, Any]
    ) -> None:
        for key in ("Description", "AllowedPattern", "Tier", "DataType", "Policies"):
            if key in props:
                extra[key] = props[key]
        ctx.client("ssm").put_parameter(
            Name=name,
            Value=text(required(props, "Value", self.type_name)),
            Type=props.get("Type", "String"),
            Overwrite=overwrite,
            **extra,
        )

    def update(self, ctx: Context, current: Created, old: Properties, new: Properties) -> Created:
        self._put(ctx, current.physical_id, new, overwrite=True, extra={})
        return Created(
            current.physical_id, {"Type": new.get("Type", "String"), "Value": text(new["Value"])}
        )

    def delete(self, ctx: Context, current: Created, props: Properties) -> None:
        ctx.client("ssm").delete_parameter(Name=current.physical_id)

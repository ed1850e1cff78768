"""AWS::KMS::Key and AWS::KMS::Alias.

CloudFormation resource reference: a Key's Ref is its key ID, Fn::GetAtt Arn and KeyId; KeyPolicy,
Description and Enabled update in place; deleting a key schedules its deletion after
PendingWindowInDays (7-30, default 30). An Alias's Ref is its name; AliasName requires
replacement."""

from __future__ import annotations

from typing import Any

from basegear.cloud.cloudformation.resources.base import (
    Context,
    Created,
    Handler,
    Properties,
    as_json,
    required,
    tag_list,
    text,
)
from basegear.cloud.cloudformation.resources.registry import handles


@handles
class Key(Handler):
    type_name = "AWS::KMS::Key"
    attributes = frozenset({"Arn", "KeyId"})
    replace_on = frozenset({"KeySpec", "KeyUsage", "MultiRegion", "Origin"})

    def create(self, ctx: Context, props: Properties) -> Created:
        extra: dict[str, Any] = {
            key: props[key] for key in ("Description", "KeyUsage", "KeySpec") if key in props
        }
        if "KeyPolicy" in props:
            extra["Policy"] = as_json(props["KeyPolicy"])
        if props.get("Tags"):
            extra["Tags"] = [
                {"TagKey": tag["Key"], "TagValue": tag["Value"]} for tag in tag_list(props["Tags"])
            ]
        kms = ctx.client("kms")
        key = kms.create_key(**extra)["KeyMetadata"]
        if text(props.get("Enabled", True)) == "false":
            kms.disable_key(KeyId=key["KeyId"])
        return Created(key["KeyId"], {"Arn": key["Arn"], "KeyId": key["KeyId"]})

    def update(self, ctx: Context, current: Created, old: Properties, new: Properties) -> Created:
        kms = ctx.client("kms")
        key = current.physical_id
        if old.get("KeyPolicy") != new.get("KeyPolicy") and "KeyPolicy" in new:
            kms.put_key_policy(KeyId=key, PolicyName="default", Policy=as_json(new["KeyPolicy"]))
        if old.get("Description") != new.get("Description"):
            kms.update_key_description(KeyId=key, Description=new.get("Description", ""))
        if text(old.get("Enabled", True)) != text(new.get("Enabled", True)):
            if text(new.get("Enabled", True)) == "false":
                kms.disable_key(KeyId=key)
            else:
                kms.enable_key(KeyId=key)
        return current

    def delete(self, ctx: Context, current: Created, props: Properties) -> None:
        ctx.client("kms").schedule_key_deletion(
            KeyId=current.physical_id, PendingWindowInDays=int(props.get("PendingWindowInDays", 30))
        )


@handles
class KeyAlias(Handler):
    type_name = "AWS::KMS::Alias"
    replace_on = frozenset({"AliasName"})
    name_property = "AliasName"

    def create(self, ctx: Context, props: Properties) -> Created:
        name = required(props, "AliasName", self.type_name)
        ctx.client("kms").create_alias(
            AliasName=name, TargetKeyId=required(props, "TargetKeyId", self.type_name)
        )
        return Created(name)

    def update(self, ctx: Context, current: Created, old: Properties, new: Properties) -> Created:
        ctx.client("kms").update_alias(
            AliasName=current.physical_id, TargetKeyId=new["TargetKeyId"]
        )
        return current

    def delete(self, ctx: Context, current: Created, props: Properties) -> None:
        ctx.client("kms").delete_alias(AliasName=current.physical_id)

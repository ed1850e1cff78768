"""AWS::IAM::Role, AWS::IAM::Policy and AWS::IAM::ManagedPolicy.

CloudFormation resource reference: a Role's Ref is its name, Fn::GetAtt gives Arn and RoleId;
RoleName and Path require replacement; a generated role name is at most 64 characters. An
AWS::IAM::Policy is an inline policy put on each of its Roles, Users and Groups; its Ref is a
generated ID. A ManagedPolicy's Ref is its ARN.

moto 5.2.5 holds no AWS managed policies unless its IAM backend is told to load them; attaching
``arn:aws:iam::aws:policy/…`` that moto does not hold is logged and skipped (a deviation: AWS
attaches it)."""

from __future__ import annotations

import logging
from typing import Any

from basegear.cloud.cloudformation.resources.base import (
    Context,
    Created,
    Handler,
    Properties,
    as_json,
    not_found,
    removed_tag_keys,
    required,
    tag_list,
)
from basegear.cloud.cloudformation.resources.registry import handles

LOG = logging.getLogger(__name__)


def _attach(iam: Any, role: str, arn: str) -> None:
    try:
        iam.attach_role_policy(RoleName=role, PolicyArn=arn)
    except Exception as exc:
        if not (not_found(exc) and ":iam::aws:policy/" in arn):
            raise
        LOG.warning("AWS managed policy %s is not held locally; not attached to %s", arn, role)


@handles
class Role(Handler):
    type_name = "AWS::IAM::Role"
    attributes = frozenset({"Arn", "RoleId"})
    replace_on = frozenset({"RoleName", "Path"})
    name_property = "RoleName"

    def create(self, ctx: Context, props: Properties) -> Created:
        iam = ctx.client("iam")
        name = props.get("RoleName") or ctx.physical_name(64)
        extra: dict[str, Any] = {}
        for key in ("Path", "Description", "PermissionsBoundary"):
            if key in props:
                extra[key] = props[key]
        if "MaxSessionDuration" in props:
            extra["MaxSessionDuration"] = int(props["MaxSessionDuration"])
        if props.get("Tags"):
            extra["Tags"] = tag_list(props["Tags"])
        role = iam.create_role(
            RoleName=name,
            AssumeRolePolicyDocument=as_json(
                required(props, "AssumeRolePolicyDocument", self.type_name)
            ),
            **extra,
        )["Role"]
        for policy in props.get("Policies", []):
            iam.put_role_policy(
                RoleName=name,
                PolicyName=policy["PolicyName"],
                PolicyDocument=as_json(policy["PolicyDocument"]),
            )
        for arn in props.get("ManagedPolicyArns", []):
            _attach(iam, name, arn)
        return Created(name, {"Arn": role["Arn"], "RoleId": role["RoleId"]})

    def update(self, ctx: Context, current: Created, old: Properties, new: Properties) -> Created:
        iam = ctx.client("iam")
        name = current.physical_id
        if old.get("AssumeRolePolicyDocument") != new.get("AssumeRolePolicyDocument"):
            iam.update_assume_role_policy(
                RoleName=name, PolicyDocument=as_json(new["AssumeRolePolicyDocument"])
            )
        if old.get("Description") != new.get("Description") or old.get(
            "MaxSessionDuration"
        ) != new.get("MaxSessionDuration"):
            extra: dict[str, Any] = {"Description": new.get("Description", "")}
            if "MaxSessionDuration" in new:
                extra["MaxSessionDuration"] = int(new["MaxSessionDuration"])
            iam.update_role(RoleName=name, **extra)
        if old.get("PermissionsBoundary") != new.get("PermissionsBoundary"):
            if "PermissionsBoundary" in new:
                iam.put_role_permissions_boundary(
                    RoleName=name, PermissionsBoundary=new["PermissionsBoundary"]
                )
            else:
                iam.delete_role_permissions_boundary(RoleName=name)
        old_policies = {item["PolicyName"]: item for item in old.get("Policies", [])}
        new_policies = {item["PolicyName"]: item for item in new.get("Policies", [])}
        for policy_name in old_policies.keys() - new_policies.keys():
            iam.delete_role_policy(RoleName=name, PolicyName=policy_name)
        for policy_name, policy in new_policies.items():
            if old_policies.get(policy_name) != policy:
                iam.put_role_policy(
                    RoleName=name,
                    PolicyName=policy_name,
                    PolicyDocument=as_json(policy["PolicyDocument"]),
                )
        old_managed = set(old.get("ManagedPolicyArns", []))
        new_managed = set(new.get("ManagedPolicyArns", []))
        for arn in old_managed - new_managed:
            iam.detach_role_policy(RoleName=name, PolicyArn=arn)
        for arn in new_managed - old_managed:
            _attach(iam, name, arn)
        if old.get("Tags") != new.get("Tags"):
            if removed := removed_tag_keys(old, new):
                iam.untag_role(RoleName=name, TagKeys=removed)
            if new.get("Tags"):
                iam.tag_role(RoleName=name, Tags=tag_list(new["Tags"]))
        return current

    def delete(self, ctx: Context, current: Created, props: Properties) -> None:
        iam = ctx.client("iam")
        name = current.physical_id
        for attached in iam.list_attached_role_policies(RoleName=name)["AttachedPolicies"]:
            iam.detach_role_policy(RoleName=name, PolicyArn=attached["PolicyArn"])
        for policy_name in iam.list_role_policies(RoleName=name)["PolicyNames"]:
            iam.delete_role_policy(RoleName=name, PolicyName=policy_name)
        iam.delete_role(RoleName=name)


def _targets(props: Properties) -> list[tuple[str, str]]:
    return [(kind, name) for kind in ("Roles", "Users", "Groups") for name in props.get(kind, [])]


def _put_inline(iam: Any, kind: str, target: str, name: str, document: str) -> None:
    if kind == "Roles":
        iam.put_role_policy(RoleName=target, PolicyName=name, PolicyDocument=document)
    elif kind == "Users":
        iam.put_user_policy(UserName=target, PolicyName=name, PolicyDocument=document)
    else:
        iam.put_group_policy(GroupName=target, PolicyName=name, PolicyDocument=document)


def _delete_inline(iam: Any, kind: str, target: str, name: str) -> None:
    try:
        if kind == "Roles":
            iam.delete_role_policy(RoleName=target, PolicyName=name)
        elif kind == "Users":
            iam.delete_user_policy(UserName=target, PolicyName=name)
        else:
            iam.delete_group_policy(GroupName=target, PolicyName=name)
    except Exception as exc:
        if not not_found(exc):
            raise


@handles
class Policy(Handler):
    type_name = "AWS::IAM::Policy"
    attributes = frozenset({"Id"})

    def create(self, ctx: Context, props: Properties) -> Created:
        iam = ctx.client("iam")
        name = required(props, "PolicyName", self.type_name)
        document = as_json(required(props, "PolicyDocument", self.type_name))
        for kind, target in _targets(props):
            _put_inline(iam, kind, target, name, document)
        physical_id = ctx.physical_name(64)
        return Created(physical_id, {"Id": physical_id})

    def update(self, ctx: Context, current: Created, old: Properties, new: Properties) -> Created:
        iam = ctx.client("iam")
        new_targets = set(_targets(new))
        for kind, target in _targets(old):
            if (kind, target) not in new_targets or old["PolicyName"] != new["PolicyName"]:
                _delete_inline(iam, kind, target, old["PolicyName"])
        document = as_json(new["PolicyDocument"])
        for kind, target in new_targets:
            _put_inline(iam, kind, target, new["PolicyName"], document)
        return current

    def delete(self, ctx: Context, current: Created, props: Properties) -> None:
        iam = ctx.client("iam")
        for kind, target in _targets(props):
            _delete_inline(iam, kind, target, props["PolicyName"])


@handles
class ManagedPolicy(Handler):
    type_name = "AWS::IAM::ManagedPolicy"
    attributes = frozenset({"PolicyArn", "PolicyId", "DefaultVersionId"})
    replace_on = frozenset({"ManagedPolicyName", "Path", "Description"})
    name_property = "ManagedPolicyName"

    def create(self, ctx: Context, props: Properties) -> Created:
        iam = ctx.client("iam")
        extra = {key: props[key] for key in ("Path", "Description") if key in props}
        policy = iam.create_policy(
            PolicyName=props.get("ManagedPolicyName") or ctx.physical_name(128),
            PolicyDocument=as_json(required(props, "PolicyDocument", self.type_name)),
            **extra,
        )["Policy"]
        arn = policy["Arn"]
        self._attach(iam, arn, props, add=True)
        return Created(
            arn,
            {"PolicyArn": arn, "PolicyId": policy["PolicyId"], "DefaultVersionId": "v1"},
        )

    @staticmethod
    def _attach(iam: Any, arn: str, props: Properties, *, add: bool) -> None:
        for role in props.get("Roles", []):
            (iam.attach_role_policy if add else iam.detach_role_policy)(
                RoleName=role, PolicyArn=arn
            )
        for user in props.get("Users", []):
            (iam.attach_user_policy if add else iam.detach_user_policy)(
                UserName=user, PolicyArn=arn
            )
        for group in props.get("Groups", []):
            (iam.attach_group_policy if add else iam.detach_group_policy)(
                GroupName=group, PolicyArn=arn
            )

    def update(self, ctx: Context, current: Created, old: Properties, new: Properties) -> Created:
        iam = ctx.client("iam")
        arn = current.physical_id
        attributes = dict(current.attributes)
        if old.get("PolicyDocument") != new.get("PolicyDocument"):
            versions = iam.list_policy_versions(PolicyArn=arn)["Versions"]
            if len(versions) >= 5:  # IAM keeps at most five versions of a managed policy
                oldest = min(
                    (item for item in versions if not item["IsDefaultVersion"]),
                    key=lambda item: item["CreateDate"],
                )
                iam.delete_policy_version(PolicyArn=arn, VersionId=oldest["VersionId"])
            version = iam.create_policy_version(
                PolicyArn=arn, PolicyDocument=as_json(new["PolicyDocument"]), SetAsDefault=True
            )["PolicyVersion"]
            attributes["DefaultVersionId"] = version["VersionId"]
        self._attach(iam, arn, _minus(old, new), add=False)
        self._attach(iam, arn, _minus(new, old), add=True)
        return Created(arn, attributes)

    def delete(self, ctx: Context, current: Created, props: Properties) -> None:
        iam = ctx.client("iam")
        arn = current.physical_id
        self._attach(iam, arn, props, add=False)
        for version in iam.list_policy_versions(PolicyArn=arn)["Versions"]:
            if not version["IsDefaultVersion"]:
                iam.delete_policy_version(PolicyArn=arn, VersionId=version["VersionId"])
        iam.delete_policy(PolicyArn=arn)


def _minus(left: Properties, right: Properties) -> Properties:
    return {
        kind: [name for name in left.get(kind, []) if name not in right.get(kind, [])]
        for kind in ("Roles", "Users", "Groups")
    }

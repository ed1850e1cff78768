"""The user's ``resources`` merged over the generated template, then stateful resources
protected from deletion and replacement."""

from __future__ import annotations

import copy

from basegear.compile.context import Context, Json
from basegear.compile.naming import DEPLOYMENT_BUCKET

# Resources whose deletion or replacement loses data. The deployment bucket is left out: it holds
# only artifacts that the next deployment uploads again.
STATEFUL_TYPES = (
    "AWS::DynamoDB::Table",
    "AWS::DynamoDB::GlobalTable",
    "AWS::S3::Bucket",
    "AWS::SQS::Queue",
    "AWS::KMS::Key",
    "AWS::Cognito::UserPool",
)
# Attributes ``resources.extensions`` may set or extend, as the Serverless Framework allows.
REPLACED_BY_EXTENSIONS = (
    "Condition",
    "CreationPolicy",
    "DeletionPolicy",
    "UpdatePolicy",
    "UpdateReplacePolicy",
)


def merge_user_resources(context: Context) -> None:
    """Deep-merge ``resources`` into the template, as the Serverless Framework does with lodash
    ``merge``: mappings key by key, lists index by index, the user's value winning."""
    user = copy.deepcopy(context.loaded.data.get("resources") or {})
    extensions = user.pop("extensions", None) or {}
    template = context.template
    resources = user.pop("Resources", None) or {}
    for logical_id, resource in resources.items():
        # Without a Type, a resource can only override one the compiler generated.
        if logical_id not in template.resources and "Type" not in (resource or {}):
            raise context.fail(
                f"{logical_id} needs a Type: it is not one of the generated resources it "
                "could override",
                ("resources", "Resources", logical_id),
                key=True,
            )
    template.resources = _merge(template.resources, resources)
    template.outputs = _merge(template.outputs, user.pop("Outputs", None) or {})
    for name, value in user.items():
        template.sections[name] = _merge(template.sections.get(name), value)
    for logical_id, attributes in extensions.items():
        _extend(context, logical_id, attributes)


def _merge(base: Json, override: Json) -> Json:
    if isinstance(base, dict) and isinstance(override, dict):
        merged = dict(base)
        for key, value in override.items():
            merged[key] = _merge(base.get(key), value)
        return merged
    if isinstance(base, list) and isinstance(override, list):
        return [
            _merge(base[index] if index < len(base) else None, value)
            for index, value in enumerate(override)
        ] + base[len(override) :]
    return base if override is None else override


def _extend(context: Context, logical_id: str, attributes: dict[str, Json]) -> None:
    path = ("resources", "extensions", logical_id)
    resource = context.template.resources.get(logical_id)
    if resource is None:
        raise context.fail(
            f"cannot extend {logical_id}: the compiled template has no such resource",
            path,
            key=True,
        )
    for name, value in attributes.items():
        if name in REPLACED_BY_EXTENSIONS:
            resource[name] = value
        elif name in ("Properties", "Metadata"):
            resource.setdefault(name, {}).update(value)
        elif name == "DependsOn":
            existing = resource.get("DependsOn", [])
            existing = [existing] if isinstance(existing, str) else existing
            resource["DependsOn"] = [*existing, *([value] if isinstance(value, str) else value)]
        else:
            raise context.fail(
                f"extensions may set Properties, Metadata, DependsOn, "
                f"{', '.join(REPLACED_BY_EXTENSIONS)}; got {name}",
                (*path, name),
            )


def protect_stateful(context: Context) -> None:
    """DeletionPolicy and UpdateReplacePolicy ``Retain`` on every stateful resource whose policies
    nobody set (CloudFormation User Guide, "DeletionPolicy attribute"): deleting the stack or a
    change that replaces the resource then keeps the data."""
    for logical_id, resource in context.template.resources.items():
        if logical_id == DEPLOYMENT_BUCKET or not _is_stateful(resource):
            continue
        if "DeletionPolicy" in resource or "UpdateReplacePolicy" in resource:
            continue
        resource["DeletionPolicy"] = "Retain"
        resource["UpdateReplacePolicy"] = "Retain"


def _is_stateful(resource: dict[str, Json]) -> bool:
    kind = resource.get("Type")
    if kind == "AWS::Logs::LogGroup":
        return "RetentionInDays" in (resource.get("Properties") or {})
    return kind in STATEFUL_TYPES

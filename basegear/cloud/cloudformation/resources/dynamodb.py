"""AWS::DynamoDB::Table.

CloudFormation resource reference (shared/reference/aws-semantics.md §8.5): Ref is the table
name; Fn::GetAtt gives Arn and StreamArn. TableName, KeySchema and ImportSourceSpecification
require replacement; editing an existing AttributeDefinition does too (Conditionally — adding
one for a new index does not); LocalSecondaryIndexes cannot change after creation, so they
require replacement as well. BillingMode, ProvisionedThroughput, StreamSpecification,
GlobalSecondaryIndexes, TimeToLiveSpecification, PointInTimeRecoverySpecification,
DeletionProtectionEnabled, TableClass, SSESpecification and Tags update in place (one index
change per UpdateTable call, as the API allows)."""

from __future__ import annotations

from typing import Any

from basegear.cloud.cloudformation.resources.base import (
    Context,
    Created,
    Handler,
    Properties,
    removed_tag_keys,
    required,
    tag_list,
    text,
)
from basegear.cloud.cloudformation.resources.registry import handles


def _throughput(value: dict[str, Any]) -> dict[str, int]:
    return {key: int(item) for key, item in value.items()}


def _index(index: dict[str, Any], billing: str) -> dict[str, Any]:
    out = {key: value for key, value in index.items() if key != "ContributorInsightsSpecification"}
    if "ProvisionedThroughput" in out:
        out["ProvisionedThroughput"] = _throughput(out["ProvisionedThroughput"])
    elif billing == "PROVISIONED":
        raise ValueError(f"index {index.get('IndexName')} needs ProvisionedThroughput")
    return out


def _sse(value: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"Enabled": text(value.get("SSEEnabled", False)) == "true"}
    if "SSEType" in value:
        out["SSEType"] = value["SSEType"]
    if "KMSMasterKeyId" in value:
        out["KMSMasterKeyId"] = value["KMSMasterKeyId"]
    return out


def _stream(value: dict[str, Any] | None) -> dict[str, Any]:
    if not value:
        return {"StreamEnabled": False}
    return {"StreamEnabled": True, "StreamViewType": value["StreamViewType"]}


@handles
class Table(Handler):
    type_name = "AWS::DynamoDB::Table"
    attributes = frozenset({"Arn", "StreamArn"})
    replace_on = frozenset(
        {"TableName", "KeySchema", "ImportSourceSpecification", "LocalSecondaryIndexes"}
    )
    conditional = frozenset({"AttributeDefinitions"})
    name_property = "TableName"

    def conditional_replacement(self, prop: str, old: Any, new: Any) -> bool:
        """Only an edited definition replaces the table; added or removed ones do not."""
        before = {item["AttributeName"]: item["AttributeType"] for item in old or []}
        after = {item["AttributeName"]: item["AttributeType"] for item in new or []}
        return any(name in after and after[name] != kind for name, kind in before.items())

    def create(self, ctx: Context, props: Properties) -> Created:
        name = props.get("TableName") or ctx.physical_name(255)
        billing = props.get("BillingMode", "PROVISIONED")
        extra: dict[str, Any] = {"BillingMode": billing}
        if "ProvisionedThroughput" in props:
            extra["ProvisionedThroughput"] = _throughput(props["ProvisionedThroughput"])
        for key in ("GlobalSecondaryIndexes", "LocalSecondaryIndexes"):
            if key in props:
                extra[key] = [_index(index, billing) for index in props[key]]
        if "StreamSpecification" in props:
            extra["StreamSpecification"] = _stream(props["StreamSpecification"])
        if "SSESpecification" in props:
            extra["SSESpecification"] = _sse(props["SSESpecification"])
        if "TableClass" in props:
            extra["TableClass"] = props["TableClass"]
        if "DeletionProtectionEnabled" in props:
            extra["DeletionProtectionEnabled"] = text(props["DeletionProtectionEnabled"]) == "true"
        if props.get("Tags"):
            extra["Tags"] = tag_list(props["Tags"])
        ddb = ctx.client("dynamodb")
        table = ddb.create_table(
            TableName=name,
            AttributeDefinitions=required(props, "AttributeDefinitions", self.type_name),
            KeySchema=required(props, "KeySchema", self.type_name),
            **extra,
        )["TableDescription"]
        if "TimeToLiveSpecification" in props:
            self._ttl(ddb, name, props["TimeToLiveSpecification"])
        if "PointInTimeRecoverySpecification" in props:
            self._pitr(ddb, name, props["PointInTimeRecoverySpecification"])
        return self._created(table)

    @staticmethod
    def _created(table: dict[str, Any]) -> Created:
        attributes = {"Arn": table["TableArn"]}
        if table.get("LatestStreamArn"):
            attributes["StreamArn"] = table["LatestStreamArn"]
        return Created(table["TableName"], attributes)

    @staticmethod
    def _ttl(ddb: Any, name: str, spec: dict[str, Any] | None) -> None:
        if spec is None:
            return
        ddb.update_time_to_live(
            TableName=name,
            TimeToLiveSpecification={
                "AttributeName": spec["AttributeName"],
                "Enabled": text(spec.get("Enabled", False)) == "true",
            },
        )

    @staticmethod
    def _pitr(ddb: Any, name: str, spec: dict[str, Any] | None) -> None:
        enabled = text((spec or {}).get("PointInTimeRecoveryEnabled", False)) == "true"
        ddb.update_continuous_backups(
            TableName=name,
            PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": enabled},
        )

    def update(self, ctx: Context, current: Created, old: Properties, new: Properties) -> Created:
        ddb = ctx.client("dynamodb")
        name = current.physical_id
        billing = new.get("BillingMode", "PROVISIONED")
        changes: dict[str, Any] = {}
        if old.get("BillingMode", "PROVISIONED") != billing:
            changes["BillingMode"] = billing
        if old.get("ProvisionedThroughput") != new.get("ProvisionedThroughput") and new.get(
            "ProvisionedThroughput"
        ):
            changes["ProvisionedThroughput"] = _throughput(new["ProvisionedThroughput"])
        if old.get("StreamSpecification") != new.get("StreamSpecification"):
            changes["StreamSpecification"] = _stream(new.get("StreamSpecification"))
        if old.get("SSESpecification") != new.get("SSESpecification") and new.get(
            "SSESpecification"
        ):
            changes["SSESpecification"] = _sse(new["SSESpecification"])
        if old.get("TableClass") != new.get("TableClass") and "TableClass" in new:
            changes["TableClass"] = new["TableClass"]
        if old.get("DeletionProtectionEnabled") != new.get("DeletionProtectionEnabled"):
            changes["DeletionProtectionEnabled"] = (
                text(new.get("DeletionProtectionEnabled", False)) == "true"
            )
        if changes:
            ddb.update_table(TableName=name, **changes)
        self._indexes(ddb, name, old, new, billing)
        if old.get("TimeToLiveSpecification") != new.get("TimeToLiveSpecification"):
            spec = new.get("TimeToLiveSpecification")
            if spec is None and old.get("TimeToLiveSpecification"):
                spec = {**old["TimeToLiveSpecification"], "Enabled": False}
            self._ttl(ddb, name, spec)
        if old.get("PointInTimeRecoverySpecification") != new.get(
            "PointInTimeRecoverySpecification"
        ):
            self._pitr(ddb, name, new.get("PointInTimeRecoverySpecification"))
        if old.get("Tags") != new.get("Tags"):
            arn = current.attributes["Arn"]
            if removed := removed_tag_keys(old, new):
                ddb.untag_resource(ResourceArn=arn, TagKeys=removed)
            if new.get("Tags"):
                ddb.tag_resource(ResourceArn=arn, Tags=tag_list(new["Tags"]))
        return self._created(ddb.describe_table(TableName=name)["Table"])

    @staticmethod
    def _indexes(ddb: Any, name: str, old: Properties, new: Properties, billing: str) -> None:
        before = {item["IndexName"]: item for item in old.get("GlobalSecondaryIndexes", [])}
        after = {item["IndexName"]: item for item in new.get("GlobalSecondaryIndexes", [])}
        definitions = new.get("AttributeDefinitions", [])
        for index_name in before.keys() - after.keys():
            ddb.update_table(
                TableName=name, GlobalSecondaryIndexUpdates=[{"Delete": {"IndexName": index_name}}]
            )
        for index_name, index in after.items():
            if index_name not in before:
                ddb.update_table(
                    TableName=name,
                    AttributeDefinitions=definitions,
                    GlobalSecondaryIndexUpdates=[{"Create": _index(index, billing)}],
                )
            elif before[index_name] != index and "ProvisionedThroughput" in index:
                ddb.update_table(
                    TableName=name,
                    GlobalSecondaryIndexUpdates=[
                        {
                            "Update": {
                                "IndexName": index_name,
                                "ProvisionedThroughput": _throughput(
                                    index["ProvisionedThroughput"]
                                ),
                            }
                        }
                    ],
                )

    def delete(self, ctx: Context, current: Created, props: Properties) -> None:
        ctx.client("dynamodb").delete_table(TableName=current.physical_id)

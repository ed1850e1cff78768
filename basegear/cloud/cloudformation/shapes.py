"""Stack records shaped as the CloudFormation API returns them (Stack, StackEvent,
StackResource, StackResourceDetail, StackResourceSummary, ChangeSetSummary, StackSummary, as in
botocore's ``cloudformation/2010-05-15/service-2.json``). NoEcho parameters show as ``****``
("Parameters", CloudFormation User Guide)."""

from __future__ import annotations

import json
from typing import Any

from basegear.cloud.cloudformation.stacks import ChangeSet, ResourceRecord, Stack, StackEvent
from basegear.cloud.cloudformation.template import ParameterValue


def parameters(values: dict[str, ParameterValue]) -> list[dict[str, Any]]:
    shown = []
    for value in values.values():
        item: dict[str, Any] = {
            "ParameterKey": value.key,
            "ParameterValue": "****" if value.no_echo else value.value,
        }
        if value.resolved != value.value and not value.no_echo and isinstance(value.resolved, str):
            item["ResolvedValue"] = value.resolved
        shown.append(item)
    return shown


def output_value(value: Any) -> str:
    if isinstance(value, list):
        return ",".join(str(item) for item in value)
    if isinstance(value, dict):
        return json.dumps(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def stack(record: Stack) -> dict[str, Any]:
    shaped: dict[str, Any] = {
        "StackId": record.stack_id,
        "StackName": record.name,
        "Description": record.description,
        "Parameters": parameters(record.parameters),
        "CreationTime": record.created,
        "DeletionTime": record.deleted,
        "LastUpdatedTime": record.updated,
        "RollbackConfiguration": {},
        "StackStatus": record.status,
        "StackStatusReason": record.reason,
        "DisableRollback": record.disable_rollback,
        "NotificationARNs": record.notification_arns,
        "TimeoutInMinutes": record.timeout_minutes,
        "Capabilities": record.capabilities,
        "Outputs": [
            {
                "OutputKey": output.key,
                "OutputValue": output_value(output.value),
                "Description": output.description,
                "ExportName": output.export_name,
            }
            for output in record.outputs
        ],
        "RoleARN": record.role_arn,
        "Tags": record.tags,
        "EnableTerminationProtection": record.termination_protection,
        "DriftInformation": {"StackDriftStatus": "NOT_CHECKED"},
    }
    return shaped


def event(record: Stack, item: StackEvent) -> dict[str, Any]:
    return {
        "StackId": record.stack_id,
        "EventId": item.event_id,
        "StackName": record.name,
        "LogicalResourceId": item.logical_id,
        "PhysicalResourceId": item.physical_id,
        "ResourceType": item.resource_type,
        "Timestamp": item.timestamp,
        "ResourceStatus": item.status,
        "ResourceStatusReason": item.reason,
        "ResourceProperties": item.properties,
    }


def _resource_fields(item: ResourceRecord, timestamp_key: str) -> dict[str, Any]:
    """What StackResource and StackResourceSummary both show of a resource; they name its
    timestamp differently (Timestamp, LastUpdatedTimestamp)."""
    return {
        "LogicalResourceId": item.logical_id,
        "PhysicalResourceId": item.physical_id,
        "ResourceType": item.type,
        timestamp_key: item.timestamp,
        "ResourceStatus": item.status,
        "ResourceStatusReason": item.reason,
        "DriftInformation": {"StackResourceDriftStatus": "NOT_CHECKED"},
    }


def resource(record: Stack, item: ResourceRecord) -> dict[str, Any]:
    return {
        "StackName": record.name,
        "StackId": record.stack_id,
        **_resource_fields(item, "Timestamp"),
    }


def resource_detail(record: Stack, item: ResourceRecord) -> dict[str, Any]:
    shaped = resource(record, item)
    shaped["LastUpdatedTimestamp"] = shaped.pop("Timestamp")
    metadata = item.definition.get("Metadata")
    if metadata is not None:
        shaped["Metadata"] = json.dumps(metadata)
    return shaped


def resource_summary(item: ResourceRecord) -> dict[str, Any]:
    return _resource_fields(item, "LastUpdatedTimestamp")


def change_set(record: Stack, item: ChangeSet) -> dict[str, Any]:
    return {
        "ChangeSetName": item.name,
        "ChangeSetId": item.change_set_id,
        "StackId": record.stack_id,
        "StackName": record.name,
        "Description": item.description,
        "Parameters": parameters(item.parameters),
        "CreationTime": item.created,
        "ExecutionStatus": item.execution_status,
        "Status": item.status,
        "StatusReason": item.reason,
        "NotificationARNs": item.notification_arns,
        "RollbackConfiguration": {},
        "Capabilities": item.capabilities,
        "Tags": item.tags,
        "Changes": item.changes,
        "IncludeNestedStacks": False,
    }


def change_set_summary(record: Stack, item: ChangeSet) -> dict[str, Any]:
    return {
        "StackId": record.stack_id,
        "StackName": record.name,
        "ChangeSetId": item.change_set_id,
        "ChangeSetName": item.name,
        "ExecutionStatus": item.execution_status,
        "Status": item.status,
        "StatusReason": item.reason,
        "CreationTime": item.created,
        "Description": item.description,
        "IncludeNestedStacks": False,
    }


def stack_summary(record: Stack) -> dict[str, Any]:
    return {
        "StackId": record.stack_id,
        "StackName": record.name,
        "TemplateDescription": record.description,
        "CreationTime": record.created,
        "LastUpdatedTime": record.updated,
        "DeletionTime": record.deleted,
        "StackStatus": record.status,
        "StackStatusReason": record.reason,
        "DriftInformation": {"StackDriftStatus": "NOT_CHECKED"},
    }

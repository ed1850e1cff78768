"""Helpers for the CloudFormation tests: a boto3 view of one stack's life."""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass
from typing import Any

from basegear.cloud.cloudformation import CloudFormationProvider, EventSourceMappingStore
from basegear.testing import CloudClients

REGION = "eu-west-1"
_names = itertools.count(1)


@dataclass
class Gateway:
    clients: CloudClients
    provider: CloudFormationProvider
    mappings: EventSourceMappingStore


@dataclass
class Cloud:
    gateway: Gateway
    cfn: Any

    def client(self, service: str) -> Any:
        return self.gateway.clients.client(service, region=REGION)

    @staticmethod
    def name(prefix: str = "stack") -> str:
        """A name no other test uses: moto's state lives as long as the process."""
        return f"{prefix}-{next(_names)}"

    def deploy(self, name: str, template: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        """CreateStack, or UpdateStack when the stack exists; the stack's description after."""
        body = json.dumps(template)
        call = self.cfn.update_stack if self.exists(name) else self.cfn.create_stack
        call(StackName=name, TemplateBody=body, Capabilities=["CAPABILITY_NAMED_IAM"], **kwargs)
        return self.describe(name)

    def exists(self, name: str) -> bool:
        return any(stack["StackName"] == name for stack in self.cfn.describe_stacks()["Stacks"])

    def describe(self, name: str) -> dict[str, Any]:
        stack: dict[str, Any] = self.cfn.describe_stacks(StackName=name)["Stacks"][0]
        return stack

    def outputs(self, name: str) -> dict[str, str]:
        return {item["OutputKey"]: item["OutputValue"] for item in self.describe(name)["Outputs"]}

    def events(self, name: str) -> list[tuple[str, str, str]]:
        """(logical ID, status, reason) of each event, oldest first."""
        events = self.cfn.describe_stack_events(StackName=name)["StackEvents"]
        return [
            (
                item["LogicalResourceId"],
                item["ResourceStatus"],
                item.get("ResourceStatusReason", ""),
            )
            for item in reversed(events)
        ]

    def physical(self, name: str, logical_id: str) -> str:
        detail = self.cfn.describe_stack_resource(StackName=name, LogicalResourceId=logical_id)
        physical: str = detail["StackResourceDetail"]["PhysicalResourceId"]
        return physical

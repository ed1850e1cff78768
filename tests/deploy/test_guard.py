"""The deploy guard: a plan that would replace or delete a stateful resource is refused before
anything changes, with each resource named and why; ``--allow-destroy`` / ``--force`` let it
through. Against the local cloud with tests/fixtures/projects/deploy-table, whose table key is
a parameter, and on plans given as DescribeChangeSet data."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from deploy_helpers import PROJECTS, REGION, deploy

from basegear.deploy import PlanRefusedError
from basegear.deploy.guard import check, static_stack
from basegear.deploy.plan import Change, changes_from, summary
from basegear.testing import CloudClients

PROJECT = PROJECTS / "deploy-table"


def _key_of(cloud: CloudClients, table: str) -> str:
    described = cloud.client("dynamodb", REGION).describe_table(TableName=table)["Table"]
    return str(described["KeySchema"][0]["AttributeName"])


def test_replacing_a_table_is_refused_until_allowed(
    local_cloud: CloudClients, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first = deploy(local_cloud, PROJECT, tmp_path / "first")
    table = first.outputs["ItemsTableName"]
    assert _key_of(local_cloud, table) == "id"
    cfn = local_cloud.client("cloudformation", REGION)
    before = cfn.describe_stacks(StackName="deploy-table-dev")["Stacks"][0]

    with pytest.raises(PlanRefusedError) as refused:
        deploy(local_cloud, PROJECT, tmp_path / "second", params={"key": "pk"}, quiet=False)

    assert [change.logical_id for change in refused.value.refused] == ["ItemsTable"]
    assert (
        "ItemsTable (AWS::DynamoDB::Table) would be replaced: changing AttributeDefinitions, "
        "KeySchema requires a new resource" in refused.value.message
    )
    assert "--allow-destroy ItemsTable" in (refused.value.hint or "")
    shown = capsys.readouterr().out
    assert "plan for deploy-table-dev:" in shown
    assert re.search(r"ItemsTable +AWS::DynamoDB::Table +Modify +True ", shown)
    assert cfn.describe_stacks(StackName="deploy-table-dev")["Stacks"][0] == before
    summaries = cfn.list_change_sets(StackName="deploy-table-dev")["Summaries"]
    assert [item for item in summaries if item["ExecutionStatus"] == "AVAILABLE"] == []
    assert _key_of(local_cloud, table) == "id"

    allowed = deploy(
        local_cloud,
        PROJECT,
        tmp_path / "third",
        params={"key": "pk"},
        allow=frozenset({"ItemsTable"}),
    )

    assert allowed.outcome == "updated"
    replacement = allowed.outputs["ItemsTableName"]
    assert replacement != table and _key_of(local_cloud, replacement) == "pk"


def _change(logical_id: str, kind: str, action: str, **extra: Any) -> dict[str, Any]:
    return {
        "Type": "Resource",
        "ResourceChange": {
            "LogicalResourceId": logical_id,
            "ResourceType": kind,
            "Action": action,
            **extra,
        },
    }


PLAN = changes_from(
    [
        _change("Queue", "AWS::SQS::Queue", "Remove", PolicyAction="Delete"),
        _change("Kept", "AWS::DynamoDB::Table", "Remove", PolicyAction="Retain"),
        _change(
            "Logs",
            "AWS::Logs::LogGroup",
            "Modify",
            Replacement="True",
            Details=[{"Target": {"Name": "LogGroupName", "RequiresRecreation": "Always"}}],
        ),
        _change("Function", "AWS::Lambda::Function", "Modify", Replacement="False"),
        _change("Topic", "AWS::SNS::Topic", "Add"),
        _change("Role", "AWS::IAM::Role", "Modify", Replacement="True"),
    ]
)


def test_a_plan_reads_describe_change_set() -> None:
    kinds = [(change.logical_id, change.kind) for change in PLAN]

    assert kinds == [
        ("Topic", "add"),
        ("Function", "modify"),
        ("Logs", "replace"),
        ("Role", "replace"),
        ("Kept", "remove"),
        ("Queue", "remove"),
    ]
    assert summary(PLAN) == "1 to add, 1 to modify, 2 to replace, 2 to remove"
    assert next(c for c in PLAN if c.logical_id == "Logs").recreating == ("LogGroupName",)


def test_the_guard_names_each_stateful_resource_the_plan_destroys() -> None:
    with pytest.raises(PlanRefusedError) as refused:
        check("stack", PLAN)

    # The retained table, the role and the function lose no data.
    assert [change.logical_id for change in refused.value.refused] == ["Logs", "Queue"]
    assert refused.value.message.splitlines() == [
        "refusing to deploy stack: the plan would destroy the data of 2 stateful resources",
        "  Logs (AWS::Logs::LogGroup) would be replaced: changing LogGroupName requires a new "
        "resource",
        "  Queue (AWS::SQS::Queue) would be deleted: removed from the template with "
        "DeletionPolicy Delete",
    ]
    assert "--allow-destroy Logs --allow-destroy Queue" in (refused.value.hint or "")


def test_allowed_or_forced_plans_pass() -> None:
    check("stack", PLAN, allowed=frozenset({"Logs", "Queue"}))
    check("stack", PLAN, force=True)


@pytest.mark.parametrize(
    "resource_type",
    [
        "AWS::Kinesis::Stream",
        "AWS::Cognito::UserPool",
        "AWS::KMS::Key",
        "AWS::SecretsManager::Secret",
        "AWS::EFS::FileSystem",
        "AWS::RDS::DBInstance",
        "AWS::S3::Bucket",
    ],
)
def test_every_kind_of_data_store_is_guarded(resource_type: str) -> None:
    with pytest.raises(PlanRefusedError):
        check("stack", (Change("Store", resource_type, "Remove", policy_action="Delete"),))


def test_stateless_resources_and_the_deployment_bucket_may_go() -> None:
    check(
        "stack",
        (
            Change("Topic", "AWS::SNS::Topic", "Remove", policy_action="Delete"),
            Change("ServerlessDeploymentBucket", "AWS::S3::Bucket", "Modify", replacement="True"),
        ),
    )


def test_conditional_replacement_is_refused_too() -> None:
    plan = (Change("Table", "AWS::DynamoDB::Table", "Modify", replacement="Conditional"),)
    with pytest.raises(PlanRefusedError) as refused:
        check("stack", plan)
    assert "Table (AWS::DynamoDB::Table) would be possibly replaced" in refused.value.message


def test_a_stack_of_stateful_resources_only_is_static() -> None:
    bucket = {"ServerlessDeploymentBucket": {"Type": "AWS::S3::Bucket"}}
    table = {"Table": {"Type": "AWS::DynamoDB::Table"}}
    function = {"Fn": {"Type": "AWS::Lambda::Function"}}

    assert static_stack({"Resources": {**bucket, **table}})
    assert not static_stack({"Resources": {**bucket, **table, **function}})
    assert not static_stack({"Resources": bucket})

"""The deploy guard: a plan that would replace or delete a stateful resource is refused before
anything changes, with each resource named; ``--allow-replace`` / ``--force`` let it through.
Against the local cloud with tests/fixtures/projects/deploy-table, whose table key is a
parameter, and on plans given as DescribeChangeSet data."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from deploy_helpers import PROJECTS, REGION, deploy

from basegear.deploy import PlanRefusedError
from basegear.deploy.guard import check
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
        "ItemsTable (AWS::DynamoDB::Table) would be replaced: AttributeDefinitions, KeySchema "
        "cannot change in place" in refused.value.message
    )
    assert "--allow-replace ItemsTable" in (refused.value.hint or "")
    shown = capsys.readouterr().out
    assert "plan for deploy-table-dev:" in shown and "replace  ItemsTable" in shown
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
CURRENT = {
    "Resources": {"Logs": {"Type": "AWS::Logs::LogGroup", "Properties": {"RetentionInDays": 7}}}
}


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
        check("stack", PLAN, current=CURRENT)

    # The retained table, the role and the function lose no data.
    assert [change.logical_id for change in refused.value.refused] == ["Logs", "Queue"]
    assert "Queue (AWS::SQS::Queue) would be deleted" in refused.value.message


def test_allowed_or_forced_plans_pass() -> None:
    check("stack", PLAN, current=CURRENT, allowed=frozenset({"Logs", "Queue"}))
    check("stack", PLAN, current=CURRENT, force=True)


def test_a_log_group_without_retention_keeps_nothing_to_protect() -> None:
    plan = tuple(change for change in PLAN if change.logical_id == "Logs")
    check("stack", plan, current={"Resources": {"Logs": {"Type": "AWS::Logs::LogGroup"}}})
    with pytest.raises(PlanRefusedError):
        check("stack", plan, current=CURRENT)


def test_conditional_replacement_is_refused_too() -> None:
    plan = (Change("Table", "AWS::DynamoDB::Table", "Modify", replacement="Conditional"),)
    with pytest.raises(PlanRefusedError) as refused:
        check("stack", plan, current={})
    assert "Table (AWS::DynamoDB::Table) would be possibly replaced" in refused.value.message

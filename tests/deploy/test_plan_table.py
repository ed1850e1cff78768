"""``gear plan`` and the guard as the command line runs them, against the local cloud: the plan
is a table of logical ID, type, action and replacement; the change set is deleted and nothing is
executed; a plan or deploy that would destroy a table is refused (exit 1, each resource named
and why) until ``--allow-destroy`` names it."""

from __future__ import annotations

import re
import uuid
from pathlib import Path

import pytest
from deploy_helpers import REGION

from basegear.cli import main
from basegear.testing import CloudClients

SERVICE = """\
service: gear-plan
frameworkVersion: '3'
provider:
  name: aws
  runtime: python3.11
  region: eu-west-1
  environment:
    NOTE: {note}
functions:
  echo:
    handler: handler.echo
resources:
  Resources:
{resources}
"""
TABLE = """\
    ItemsTable:
      Type: AWS::DynamoDB::Table
      DeletionPolicy: Delete
      Properties:
        BillingMode: PAY_PER_REQUEST
        AttributeDefinitions:
          - AttributeName: {key}
            AttributeType: S
        KeySchema:
          - AttributeName: {key}
            KeyType: HASH
"""
QUEUE = """\
    Jobs:
      Type: AWS::SQS::Queue
"""


def _write(folder: Path, *, note: str, resources: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "handler.py").write_text("def echo(event, context):\n    return event\n")
    (folder / "serverless.yml").write_text(SERVICE.format(note=note, resources=resources))
    return folder


def _gear(cloud: CloudClients, command: str, folder: Path, stage: str, *extra: str) -> int:
    out = folder.parent / f"out-{uuid.uuid4().hex[:6]}"
    arguments = [command, str(folder), "--stage", stage, "--endpoint", cloud.endpoint_url]
    return main([*arguments, "--out", str(out), *extra])


def _stage() -> str:
    return f"t{uuid.uuid4().hex[:8]}"


def _table_key(cloud: CloudClients, stack: str) -> str:
    cfn = cloud.client("cloudformation", REGION)
    table = cfn.describe_stack_resource(StackName=stack, LogicalResourceId="ItemsTable")
    name = table["StackResourceDetail"]["PhysicalResourceId"]
    described = cloud.client("dynamodb", REGION).describe_table(TableName=name)["Table"]
    return str(described["KeySchema"][0]["AttributeName"])


def test_a_plan_is_a_table_and_executes_nothing(
    local_cloud: CloudClients, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    stage = _stage()
    stack = f"gear-plan-{stage}"
    folder = _write(tmp_path / "svc", note="first", resources=TABLE.format(key="id"))
    assert _gear(local_cloud, "deploy", folder, stage) == 0
    cfn = local_cloud.client("cloudformation", REGION)
    before = cfn.describe_stacks(StackName=stack)["Stacks"][0]
    change_sets = cfn.list_change_sets(StackName=stack)["Summaries"]
    capsys.readouterr()

    # A new queue, a new setting, and a new table key.
    _write(folder, note="second", resources=TABLE.format(key="pk") + QUEUE)
    code = _gear(local_cloud, "plan", folder, stage)

    out, err = capsys.readouterr()
    print(out)
    lines = out.splitlines()
    header = next(line for line in lines if line.lstrip().startswith("RESOURCE"))
    assert header.split() == ["RESOURCE", "TYPE", "ACTION", "REPLACEMENT", "DETAILS"]
    rows = {line.split()[0]: line.split() for line in lines if line.startswith("  ")}
    assert rows["Jobs"][1:4] == ["AWS::SQS::Queue", "Add", "-"]
    assert rows["EchoLambdaFunction"][1:5] == [
        "AWS::Lambda::Function",
        "Modify",
        "False",
        "Environment",
    ]
    assert rows["ItemsTable"][1:4] == ["AWS::DynamoDB::Table", "Modify", "True"]
    removed = [row for row in rows.values() if row[2] == "Remove"]
    assert [row[1] for row in removed] == ["AWS::Lambda::Version"]  # the old one, retained
    assert out.startswith(f"plan for {stack}: 2 to add, 1 to modify, 1 to replace, 1 to remove")
    # The guard would refuse this deploy: the plan exits 1, and says why.
    assert code == 1
    assert "ItemsTable (AWS::DynamoDB::Table) would be replaced: changing " in err
    assert "hint: nothing was changed. If the data may go, deploy with --allow-destroy " in err
    assert "Traceback" not in err
    # Nothing executed, no change set left behind.
    assert cfn.describe_stacks(StackName=stack)["Stacks"][0] == before
    assert cfn.list_change_sets(StackName=stack)["Summaries"] == change_sets
    assert _table_key(local_cloud, stack) == "id"

    assert _gear(local_cloud, "plan", folder, stage, "--allow-destroy", "ItemsTable") == 0
    assert f"planned {stack} at {local_cloud.endpoint_url}: 2 to add, 1 to modify" in (
        capsys.readouterr().out
    )
    assert cfn.describe_stacks(StackName=stack)["Stacks"][0] == before


def test_the_plan_of_a_new_stack_adds_everything_and_creates_nothing(
    local_cloud: CloudClients, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    stage = _stage()
    folder = _write(tmp_path / "svc", note="first", resources=QUEUE)

    assert _gear(local_cloud, "plan", folder, stage) == 0

    out, err = capsys.readouterr()
    rows = [line for line in out.splitlines() if line.startswith("  ")][1:]
    version = re.compile(r"  EchoLambdaVersion\w+ +AWS::Lambda::Version +Add +-")
    assert sum(1 for row in rows if version.fullmatch(row)) == 1  # whole, never wrapped
    assert sorted((row.split()[0], row.split()[2]) for row in rows if "Version" not in row) == [
        ("EchoLambdaFunction", "Add"),
        ("EchoLogGroup", "Add"),
        ("IamRoleLambdaExecution", "Add"),
        ("Jobs", "Add"),
        ("ServerlessDeploymentBucket", "Add"),
        ("ServerlessDeploymentBucketPolicy", "Add"),
    ]
    assert f"gear-plan-{stage} does not exist at {local_cloud.endpoint_url}" in err
    stacks = local_cloud.client("cloudformation", REGION).list_stacks()["StackSummaries"]
    assert f"gear-plan-{stage}" not in {item["StackName"] for item in stacks}


def test_removing_a_table_is_refused_until_allowed(
    local_cloud: CloudClients, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    stage = _stage()
    stack = f"gear-plan-{stage}"
    folder = _write(tmp_path / "svc", note="first", resources=TABLE.format(key="id") + QUEUE)
    assert _gear(local_cloud, "deploy", folder, stage) == 0
    cfn = local_cloud.client("cloudformation", REGION)
    table = cfn.describe_stack_resource(StackName=stack, LogicalResourceId="ItemsTable")
    table_name = table["StackResourceDetail"]["PhysicalResourceId"]
    capsys.readouterr()

    _write(folder, note="first", resources=QUEUE)
    assert _gear(local_cloud, "deploy", folder, stage) == 1

    err = capsys.readouterr().err
    assert (
        f"refusing to deploy {stack}: the plan would destroy the data of 1 stateful resource\n"
        "  ItemsTable (AWS::DynamoDB::Table) would be deleted: removed from the template with "
        "DeletionPolicy Delete"
    ) in err
    assert "--allow-destroy ItemsTable" in err and "Traceback" not in err
    dynamodb = local_cloud.client("dynamodb", REGION)
    assert dynamodb.describe_table(TableName=table_name)["Table"]["TableStatus"] == "ACTIVE"

    assert _gear(local_cloud, "deploy", folder, stage, "--allow-destroy", "ItemsTable") == 0

    assert f"deployed {stack} updated" in capsys.readouterr().out
    assert table_name not in dynamodb.list_tables()["TableNames"]
    logical = {
        item["LogicalResourceId"]
        for item in cfn.list_stack_resources(StackName=stack)["StackResourceSummaries"]
    }
    assert "ItemsTable" not in logical and "Jobs" in logical

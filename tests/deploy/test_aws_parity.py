"""The deploy path against real AWS, as the local-cloud tests run it: plan, deploy, the guard
refusing a table replacement then letting it through, termination protection, an alias moved
across more than one page of versions, and prune. Everything it creates is deleted at the end.

Opt-in and never reached in CI: the tests run only with ``pytest -m aws`` and AWS credentials
(botocore's resolver, without instance-metadata, container or credential-process lookups, so
that deciding to skip sends no request). The credentials are those of the environment the
test run started in (``AWS_PROFILE`` and the like): the ``local_cloud`` fixture replaces them
with dummies for the session, so this module snapshots them when it is imported, and puts them
back while it runs. The region is ``AWS_REGION`` (or ``AWS_DEFAULT_REGION``), else eu-west-1.
Costs: a few cents; it takes about three minutes.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError
from deploy_helpers import PROJECTS

from basegear.config.service import load_service
from basegear.config.variables import Options
from basegear.deploy import (
    ConsoleReport,
    Deployer,
    DeployOptions,
    DeployResult,
    PlanRefusedError,
    Target,
    aws_target,
)
from basegear.deploy.versions import list_versions, prune_stack

ENVIRONMENT = {name: value for name, value in os.environ.items() if name.startswith("AWS_")}
REGION = ENVIRONMENT.get("AWS_REGION") or ENVIRONMENT.get("AWS_DEFAULT_REGION") or "eu-west-1"
DUMMY = "testing"  # basegear.testing's dummy key: not credentials
VERSIONS = 55  # more than one page of ListVersionsByFunction (50)


def _credentials_found() -> bool:
    from botocore.credentials import create_credential_resolver
    from botocore.session import Session

    resolver = create_credential_resolver(Session())
    for network_lookup in ("iam-role", "container-role", "custom-process"):
        resolver.remove(network_lookup)
    try:
        credentials = resolver.load_credentials()
    except Exception:  # a broken profile is no credentials to run with
        return False
    return credentials is not None and credentials.access_key != DUMMY


pytestmark = [
    pytest.mark.aws,
    pytest.mark.skipif(not _credentials_found(), reason="no AWS credentials"),
]


@pytest.fixture(scope="module", autouse=True)
def real_aws_environment(request: pytest.FixtureRequest) -> Iterator[None]:
    if "aws" not in str(request.config.getoption("markexpr") or ""):
        pytest.skip("the AWS parity suite runs only with pytest -m aws")
    with pytest.MonkeyPatch.context() as patch:
        for name in list(os.environ):
            if name.startswith("AWS_"):
                patch.delenv(name)
        for name, value in ENVIRONMENT.items():
            patch.setenv(name, value)
        yield


@pytest.fixture(scope="module")
def target() -> Target:
    return aws_target(REGION)


@pytest.fixture
def stage() -> str:
    return f"parity{uuid.uuid4().hex[:6]}"


def _loaded(folder: Path, stage: str, params: dict[str, str] | None = None) -> Any:
    return load_service(folder, Options(stage=stage, region=REGION, params=params or {}))


def _deploy(target: Target, folder: Path, stage: str, out: Path, **options: Any) -> DeployResult:
    params = options.pop("params", None)
    deployer = Deployer(target, report=ConsoleReport())
    return deployer.deploy(_loaded(folder, stage, params), DeployOptions(out_dir=out, **options))


def _table(target: Target, stack: str) -> str:
    found = target.client("cloudformation").describe_stack_resource(
        StackName=stack, LogicalResourceId="ItemsTable"
    )
    return str(found["StackResourceDetail"]["PhysicalResourceId"])


def _remove(target: Target, stack: str, tables: set[str]) -> None:
    """The stack, its deployment bucket's objects first, and the tables it retains."""
    cfn, s3 = target.client("cloudformation"), target.client("s3")
    try:
        resources = cfn.describe_stack_resources(StackName=stack)["StackResources"]
    except ClientError:  # never created
        resources = []
    for resource in resources:
        if resource["LogicalResourceId"] == "ServerlessDeploymentBucket":
            bucket = resource["PhysicalResourceId"]
            for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
                for item in page.get("Contents", []):
                    s3.delete_object(Bucket=bucket, Key=item["Key"])
    try:
        if resources:
            cfn.update_termination_protection(StackName=stack, EnableTerminationProtection=False)
            cfn.delete_stack(StackName=stack)
            cfn.get_waiter("stack_delete_complete").wait(StackName=stack)
    finally:
        dynamodb = target.client("dynamodb")
        for table in tables:
            with contextlib.suppress(dynamodb.exceptions.ResourceNotFoundException):
                dynamodb.delete_table(TableName=table)


def test_plan_guard_versions_and_prune_on_aws(target: Target, stage: str, tmp_path: Path) -> None:
    folder = tmp_path / "svc"
    shutil.copytree(PROJECTS / "deploy-table", folder)
    stack = f"deploy-table-{stage}"
    function = f"deploy-table-{stage}-echo"
    tables: set[str] = set()
    try:
        planned = Deployer(target, report=ConsoleReport()).plan(_loaded(folder, stage))
        assert not planned.exists and {c.action for c in planned.changes} == {"Add"}

        first = _deploy(target, folder, stage, tmp_path / "1", aliases=("live",))
        tables.add(_table(target, stack))
        assert first.outcome == "created" and not first.protected
        assert first.released[0].moves[0].after == "1"

        with pytest.raises(PlanRefusedError) as refused:
            _deploy(target, folder, stage, tmp_path / "2", params={"key": "pk"})
        assert [change.logical_id for change in refused.value.refused] == ["ItemsTable"]
        summaries = target.client("cloudformation").list_change_sets(StackName=stack)
        assert [s for s in summaries["Summaries"] if s["ExecutionStatus"] == "AVAILABLE"] == []

        allowed = _deploy(
            target,
            folder,
            stage,
            tmp_path / "3",
            params={"key": "pk"},
            allow_replace=frozenset({"ItemsTable"}),
        )
        tables.add(_table(target, stack))
        assert allowed.outcome == "updated" and len(tables) == 2

        client = target.client("lambda")
        waiter = client.get_waiter("function_updated_v2")
        for index in range(VERSIONS):
            client.update_function_configuration(
                FunctionName=function, Environment={"Variables": {"NOTE": str(index)}}
            )
            waiter.wait(FunctionName=function)
            client.publish_version(FunctionName=function)
        newest = str(int(list_versions(client, function)[-1]["Version"]))
        assert int(newest) > 50

        again = _deploy(
            target, folder, stage, tmp_path / "4", params={"key": "pk"}, aliases=("live",)
        )
        assert again.released[0].version == newest
        assert client.get_alias(FunctionName=function, Name="live")["FunctionVersion"] == newest

        pruned = prune_stack(target, stack, keep=2)
        left = [item["Version"] for item in list_versions(client, function)]
        assert newest in left and len(left) <= 4  # the newest 2, and any the stack holds
        assert pruned.deleted
    finally:
        _remove(target, stack, tables)


STATIC = """\
service: parity-static
frameworkVersion: '3'
provider:
  name: aws
resources:
  Resources:
    Items:
      Type: AWS::DynamoDB::Table
      DeletionPolicy: Delete
      UpdateReplacePolicy: Delete
      Properties:
        BillingMode: PAY_PER_REQUEST
        AttributeDefinitions:
          - AttributeName: id
            AttributeType: S
        KeySchema:
          - AttributeName: id
            KeyType: HASH
"""


def test_a_static_stack_is_protected_on_aws(target: Target, stage: str, tmp_path: Path) -> None:
    folder = tmp_path / "static"
    folder.mkdir()
    (folder / "serverless.yml").write_text(STATIC)
    stack = f"parity-static-{stage}"
    try:
        result = _deploy(target, folder, stage, tmp_path / "out")
        assert result.protected
        (described,) = target.client("cloudformation").describe_stacks(StackName=stack)["Stacks"]
        assert described["EnableTerminationProtection"] is True
    finally:
        _remove(target, stack, set())

"""A new stack that holds stateful resources only (the example's static stack: a table and a
bucket) gets termination protection: DeleteStack then fails and the stack stays as it is
(CloudFormation User Guide, "Protect a CloudFormation stack from being deleted"). A stack with
functions does not."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from botocore.exceptions import ClientError
from deploy_helpers import REGION, Algorithms

from basegear.config.service import load_service
from basegear.config.variables import Options
from basegear.deploy import ConsoleReport, Deployer, DeployOptions, DeployResult, local_target
from basegear.testing import CloudClients

STATIC = """\
service: gear-static
frameworkVersion: '3'
provider:
  name: aws
  region: eu-west-1
resources:
  Resources:
    Uploads:
      Type: AWS::DynamoDB::Table
      Properties:
        BillingMode: PAY_PER_REQUEST
        AttributeDefinitions:
          - AttributeName: id
            AttributeType: S
        KeySchema:
          - AttributeName: id
            KeyType: HASH
    Packages:
      Type: AWS::S3::Bucket
"""
WITH_FUNCTION = """\
service: gear-static
frameworkVersion: '3'
provider:
  name: aws
  runtime: python3.11
  region: eu-west-1
functions:
  echo:
    handler: handler.echo
resources:
  Resources:
    Jobs:
      Type: AWS::SQS::Queue
"""


def _deploy(cloud: CloudClients, folder: Path, stage: str) -> DeployResult:
    loaded = load_service(folder, Options(stage=stage))
    target = local_target(REGION, cloud.endpoint_url)
    deployer = Deployer(target, report=ConsoleReport(quiet=True))
    return deployer.deploy(loaded, DeployOptions(out_dir=folder / ".out"))


def _project(folder: Path, text: str) -> Path:
    folder.mkdir()
    (folder / "serverless.yml").write_text(text)
    (folder / "handler.py").write_text("def echo(event, context):\n    return event\n")
    return folder


def test_a_stack_of_stateful_resources_only_is_protected(
    local_cloud: CloudClients, tmp_path: Path
) -> None:
    stage = f"t{uuid.uuid4().hex[:8]}"
    result = _deploy(local_cloud, _project(tmp_path / "static", STATIC), stage)

    assert result.outcome == "created" and result.protected
    cfn = local_cloud.client("cloudformation", REGION)
    (stack,) = cfn.describe_stacks(StackName=result.stack_name)["Stacks"]
    assert stack["EnableTerminationProtection"] is True
    with pytest.raises(ClientError) as refused:
        cfn.delete_stack(StackName=result.stack_name)
    assert "cannot be deleted while TerminationProtection is enabled" in str(refused.value)
    (still,) = cfn.describe_stacks(StackName=result.stack_name)["Stacks"]
    assert still["StackStatus"] == stack["StackStatus"]
    # A later deploy leaves it on and changes nothing.
    again = _deploy(local_cloud, tmp_path / "static", stage)
    assert (again.outcome, again.protected) == ("unchanged", False)
    (after,) = cfn.describe_stacks(StackName=result.stack_name)["Stacks"]
    assert after["EnableTerminationProtection"] is True


def test_a_stack_with_functions_is_not(local_cloud: CloudClients, tmp_path: Path) -> None:
    result = _deploy(
        local_cloud, _project(tmp_path / "svc", WITH_FUNCTION), f"t{uuid.uuid4().hex[:8]}"
    )

    assert not result.protected
    cfn = local_cloud.client("cloudformation", REGION)
    (stack,) = cfn.describe_stacks(StackName=result.stack_name)["Stacks"]
    assert stack["EnableTerminationProtection"] is False


def test_the_examples_static_stack_is_protected(algorithms: Algorithms) -> None:
    cfn = algorithms.client("cloudformation")

    assert algorithms.static.protected and not algorithms.service.protected
    (static,) = cfn.describe_stacks(StackName="algorithms-static-dev")["Stacks"]
    (service,) = cfn.describe_stacks(StackName="algorithms-dev")["Stacks"]
    assert static["EnableTerminationProtection"] is True
    assert service["EnableTerminationProtection"] is False

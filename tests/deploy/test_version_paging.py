"""After a deploy, each versioned function is published and the aliases asked for land on its
newest version — found by following ``NextMarker`` through every page of
ListVersionsByFunction, which holds at most 50 versions (Lambda API reference). With 120
versions, a single call stops at version 49 and would move the alias back."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from deploy_helpers import REGION

from basegear.config.service import load_service
from basegear.config.variables import Options
from basegear.deploy import ConsoleReport, Deployer, DeployOptions, DeployResult, local_target
from basegear.deploy.versions import list_versions, release, versioned_functions
from basegear.testing import CloudClients

SERVICE = """\
service: gear-versions
frameworkVersion: '3'
provider:
  name: aws
  runtime: python3.11
  region: eu-west-1
functions:
  worker:
    handler: handler.work
  loose:
    handler: handler.work
    versionFunction: false
"""


def _deploy(
    cloud: CloudClients, folder: Path, stage: str, aliases: tuple[str, ...]
) -> DeployResult:
    loaded = load_service(folder, Options(stage=stage))
    deployer = Deployer(local_target(REGION, cloud.endpoint_url), report=ConsoleReport(quiet=True))
    return deployer.deploy(loaded, DeployOptions(out_dir=folder / ".out", aliases=aliases))


def _publish(client: Any, function: str, count: int) -> None:
    """``count`` new versions, each with its own configuration (an unchanged function
    publishes nothing new)."""
    for index in range(count):
        client.update_function_configuration(
            FunctionName=function, Environment={"Variables": {"RELEASE": str(index)}}
        )
        client.publish_version(FunctionName=function)


def test_the_alias_lands_on_the_newest_of_120_versions(
    local_cloud: CloudClients, tmp_path: Path
) -> None:
    folder = tmp_path / "svc"
    folder.mkdir()
    (folder / "serverless.yml").write_text(SERVICE)
    (folder / "handler.py").write_text("def work(event, context):\n    return event\n")
    stage = f"t{uuid.uuid4().hex[:8]}"
    function = f"gear-versions-{stage}-worker"
    client = local_cloud.client("lambda", REGION)

    first = _deploy(local_cloud, folder, stage, ("live",))

    # Only the versioned function is published; the alias is created on version 1.
    (released,) = first.released
    assert (released.function, released.version) == (function, "1")
    assert [(move.alias, move.before, move.after) for move in released.moves] == [
        ("live", None, "1")
    ]

    _publish(client, function, 120)
    page = client.list_versions_by_function(FunctionName=function)
    assert len(page["Versions"]) == 50 and page["Versions"][-1]["Version"] == "49"
    assert page["NextMarker"]  # the trap: one call sees $LATEST and versions 1 to 49
    assert [item["Version"] for item in list_versions(client, function)] == [
        str(number) for number in range(1, 122)
    ]

    again = _deploy(local_cloud, folder, stage, ("live",))

    (released,) = again.released
    assert (released.version, released.versions) == ("121", 121)
    assert [(move.alias, move.before, move.after) for move in released.moves] == [
        ("live", "1", "121")
    ]
    alias = client.get_alias(FunctionName=function, Name="live")
    assert alias["FunctionVersion"] == "121"
    # Publishing an unchanged function added no version.
    assert len(list_versions(client, function)) == 121


def test_a_weighted_alias_moves_whole_and_a_stack_alias_is_left_to_the_stack(
    local_cloud: CloudClients, tmp_path: Path
) -> None:
    folder = tmp_path / "svc"
    folder.mkdir()
    (folder / "serverless.yml").write_text(SERVICE)
    (folder / "handler.py").write_text("def work(event, context):\n    return event\n")
    stage = f"t{uuid.uuid4().hex[:8]}"
    function = f"gear-versions-{stage}-worker"
    client = local_cloud.client("lambda", REGION)
    _deploy(local_cloud, folder, stage, ())
    _publish(client, function, 2)
    client.create_alias(
        FunctionName=function,
        Name="canary",
        FunctionVersion="2",
        RoutingConfig={"AdditionalVersionWeights": {"3": 0.1}},
    )
    target = local_target(REGION, local_cloud.endpoint_url)

    released = release(target, function, ("canary", "provisioned"), managed=("provisioned",))

    assert [(move.alias, move.before, move.after) for move in released.moves] == [
        ("canary", "2", "3")
    ]
    assert released.managed == ("provisioned",)
    alias = client.get_alias(FunctionName=function, Name="canary")
    assert alias["FunctionVersion"] == "3"
    assert not (alias.get("RoutingConfig") or {}).get("AdditionalVersionWeights")


def test_versioned_functions_are_read_from_the_template() -> None:
    template = {
        "Resources": {
            "AFn": {"Type": "AWS::Lambda::Function"},
            "BFn": {"Type": "AWS::Lambda::Function"},
            "AVersion1": {
                "Type": "AWS::Lambda::Version",
                "Properties": {"FunctionName": {"Ref": "AFn"}},
            },
            "AAlias": {
                "Type": "AWS::Lambda::Alias",
                "Properties": {"FunctionName": {"Ref": "AFn"}, "Name": "provisioned"},
            },
            "CVersion1": {
                "Type": "AWS::Lambda::Version",
                "Properties": {"FunctionName": {"Ref": "CFn"}},
            },
        }
    }

    # B has no version; C is not in the stack (a false Condition).
    assert versioned_functions(template, {"AFn": "svc-a", "BFn": "svc-b"}) == {
        "svc-a": frozenset({"provisioned"})
    }

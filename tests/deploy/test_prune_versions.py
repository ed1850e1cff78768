"""``gear prune --keep N``: old function and layer versions deleted, the newest N kept, and
never a version an alias routes to (its FunctionVersion or a weight of its RoutingConfig), one
the stack holds, or a layer version a kept function version uses."""

from __future__ import annotations

import io
import uuid
import zipfile
from pathlib import Path
from typing import Any

import pytest
from deploy_helpers import REGION

from basegear.cli import main
from basegear.deploy.versions import list_layer_versions, list_versions
from basegear.testing import CloudClients

SERVICE = """\
service: gear-prune
frameworkVersion: '3'
provider:
  name: aws
  runtime: python3.11
  region: eu-west-1
layers:
  shared:
    name: gear-prune-${sls:stage}-shared
    path: layers/shared
functions:
  echo:
    handler: handler.echo
    layers:
      - !Ref SharedLambdaLayer
"""


def _zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("python/shared.py", "VALUE = 1\n")
    return buffer.getvalue()


def _numbers(items: list[dict[str, Any]]) -> list[int]:
    return [int(item["Version"]) for item in items]


@pytest.fixture
def deployed(local_cloud: CloudClients, tmp_path: Path) -> tuple[Path, str]:
    folder = tmp_path / "svc"
    (folder / "layers" / "shared" / "python").mkdir(parents=True)
    (folder / "layers" / "shared" / "python" / "shared.py").write_text("VALUE = 0\n")
    (folder / "serverless.yml").write_text(SERVICE)
    (folder / "handler.py").write_text("def echo(event, context):\n    return event\n")
    stage = f"t{uuid.uuid4().hex[:8]}"
    arguments = ["deploy", str(folder), "--stage", stage, "--endpoint", local_cloud.endpoint_url]
    assert main([*arguments, "--out", str(tmp_path / "out")]) == 0
    return folder, stage


def test_prune_keeps_the_newest_and_what_is_in_use(
    local_cloud: CloudClients, deployed: tuple[Path, str], capsys: pytest.CaptureFixture[str]
) -> None:
    folder, stage = deployed
    client = local_cloud.client("lambda", REGION)
    function = f"gear-prune-{stage}-echo"
    (stack_layer,) = client.get_function_configuration(FunctionName=function)["Layers"]
    layer = f"gear-prune-{stage}-shared"
    assert stack_layer["Arn"].endswith(f":layer:{layer}:1")  # the stack holds version 1 of both
    for _ in range(4):  # layer versions 2 to 5
        client.publish_layer_version(LayerName=layer, Content={"ZipFile": _zip()})
    for number in range(2, 8):  # function versions 2 to 7; version 3 uses layer version 2
        layers = [stack_layer["Arn"][:-1] + "2" if number == 3 else stack_layer["Arn"]]
        client.update_function_configuration(
            FunctionName=function, Layers=layers, Environment={"Variables": {"N": str(number)}}
        )
        client.publish_version(FunctionName=function)
    client.create_alias(
        FunctionName=function,
        Name="stable",
        FunctionVersion="2",
        RoutingConfig={"AdditionalVersionWeights": {"3": 0.1}},
    )
    capsys.readouterr()

    command = ["prune", str(folder), "--stage", stage, "--endpoint", local_cloud.endpoint_url]
    assert main([*command, "--keep", "2"]) == 0

    assert _numbers(list_versions(client, function)) == [1, 2, 3, 6, 7]
    assert _numbers(list_layer_versions(client, layer)) == [1, 2, 4, 5]
    out = capsys.readouterr().out
    deleted = [line.split() for line in out.splitlines() if line.startswith("  deleted")]
    assert deleted == [
        ["deleted", "function", function, "4"],
        ["deleted", "function", function, "5"],
        ["deleted", "layer", layer, "3"],
    ]
    kept = [line.split(maxsplit=4) for line in out.splitlines() if line.startswith("  kept")]
    assert kept == [
        ["kept", "function", function, "1", "held by the stack"],
        ["kept", "function", function, "2", "alias stable"],
        ["kept", "function", function, "3", "alias stable"],
        ["kept", "layer", layer, "1", "held by the stack"],
        ["kept", "layer", layer, "2", f"used by version 3 of {function}"],
    ]
    assert "pruned deleted 3 versions at " in out

    # One function by its key: nothing else is touched; the weights move with the alias.
    client.update_alias(
        FunctionName=function,
        Name="stable",
        FunctionVersion="6",
        RoutingConfig={"AdditionalVersionWeights": {"7": 0.5}},
    )
    assert main([*command, "--keep", "1", "--function", "echo"]) == 0

    assert _numbers(list_versions(client, function)) == [1, 6, 7]
    assert _numbers(list_layer_versions(client, layer)) == [1, 2, 4, 5]


def test_prune_needs_the_stack_or_a_function(
    local_cloud: CloudClients, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "svc"
    folder.mkdir()
    (folder / "serverless.yml").write_text(SERVICE.replace("gear-prune", "gear-never"))
    command = ["prune", str(folder), "--endpoint", local_cloud.endpoint_url]

    assert main([*command, "--keep", "3"]) == 1
    err = capsys.readouterr().err
    assert "stack gear-never-dev does not exist at " in err
    assert "hint: deploy it first, or name a deployed function with --function" in err
    assert main([*command, "--keep", "0"]) == 2
    assert "Invalid value for '--keep'" in capsys.readouterr().err

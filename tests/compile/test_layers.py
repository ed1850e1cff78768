"""Layers: AWS::Lambda::LayerVersion with its settings, permissions for other accounts, retain,
and the outputs naming it."""

from __future__ import annotations

import pytest
from conftest import Compile, Template

RETAINED = {"DeletionPolicy": "Retain", "UpdateReplacePolicy": "Retain"}


@pytest.fixture
def layered(compile_project: Compile) -> Template:
    return compile_project("fn-layers")


def test_layer_version_with_every_setting(layered: Template) -> None:
    layer = layered["Resources"]["CommonLambdaLayer"]
    assert layer["Type"] == "AWS::Lambda::LayerVersion"
    assert "DeletionPolicy" not in layer
    properties = layer["Properties"]
    assert properties["Content"]["S3Bucket"] == {"Ref": "ServerlessDeploymentBucket"}
    assert properties["Content"]["S3Key"].startswith("basegear/layered/dev/")
    assert properties["Content"]["S3Key"].endswith("/layer-common.zip")
    # Without a name, the layer is named after its key, as in the Serverless Framework.
    assert properties["LayerName"] == "common"
    assert properties["Description"] == "Shared helpers"
    assert properties["CompatibleRuntimes"] == ["python3.11", "python3.12"]
    assert properties["CompatibleArchitectures"] == ["x86_64", "arm64"]
    assert properties["LicenseInfo"] == "MIT"


def test_allowed_accounts_get_a_permission_each(layered: Template) -> None:
    resources = layered["Resources"]
    assert resources["Common123456789012LambdaLayerPermission"] == {
        "Type": "AWS::Lambda::LayerVersionPermission",
        "Properties": {
            "Action": "lambda:GetLayerVersion",
            "LayerVersionArn": {"Ref": "CommonLambdaLayer"},
            "Principal": "123456789012",
        },
    }
    wild = resources["CommonWildLambdaLayerPermission"]["Properties"]
    assert wild["Principal"] == "*"


def test_retained_layer_keeps_its_logical_id_and_every_version(layered: Template) -> None:
    resources = layered["Resources"]
    layer = resources["PinnedDashdepsLambdaLayer"]
    assert {name: layer[name] for name in RETAINED} == RETAINED
    assert layer["Properties"]["LayerName"] == "layered-dev-pinned"
    permission = resources["PinnedDashdeps210987654321LambdaLayerPermission"]
    assert {name: permission[name] for name in RETAINED} == RETAINED
    # The plain logical ID keeps the functions' !Ref working.
    writer = resources["WriterLambdaFunction"]["Properties"]
    assert writer["Layers"] == [
        {"Ref": "CommonLambdaLayer"},
        {"Ref": "PinnedDashdepsLambdaLayer"},
    ]


def test_provider_layers_apply_unless_the_function_lists_its_own(layered: Template) -> None:
    reader = layered["Resources"]["ReaderLambdaFunction"]["Properties"]
    assert reader["Layers"] == [{"Ref": "CommonLambdaLayer"}]


def test_layer_outputs(layered: Template) -> None:
    outputs = layered["Outputs"]
    assert outputs["CommonLambdaLayerQualifiedArn"] == {
        "Value": {"Ref": "CommonLambdaLayer"},
        "Description": "Current Lambda layer version",
        "Export": {"Name": "sls-layered-dev-CommonLambdaLayerQualifiedArn"},
    }
    s3_key = layered["Resources"]["CommonLambdaLayer"]["Properties"]["Content"]["S3Key"]
    assert outputs["CommonLambdaLayerS3Key"]["Value"] == s3_key
    assert len(outputs["CommonLambdaLayerHash"]["Value"]) == 64


def test_example_layers(example: Template, example_stage: str) -> None:
    resources = example["Resources"]
    for logical_id, name in (
        ("CustomLoggingLambdaLayer", f"algorithms-{example_stage}-custom-logging"),
        ("SsmCacheLambdaLayer", f"algorithms-{example_stage}-ssm-cache"),
    ):
        properties = resources[logical_id]["Properties"]
        assert properties["LayerName"] == name
        assert properties["CompatibleRuntimes"] == ["python3.11"]
        assert f"{logical_id}QualifiedArn" in example["Outputs"]

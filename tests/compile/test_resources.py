"""The user's resources merged last, and stateful resources protected by default."""

from __future__ import annotations

import pytest
from conftest import Compile, OnlyProblem, Template


@pytest.fixture
def merged(compile_project: Compile) -> Template:
    return compile_project("res-merge", stage="prod")


def test_user_properties_merge_into_generated_resources(merged: Template) -> None:
    bucket = merged["Resources"]["ServerlessDeploymentBucket"]
    assert bucket["Properties"]["VersioningConfiguration"] == {"Status": "Enabled"}
    assert "BucketEncryption" in bucket["Properties"]  # the generated property is kept
    assert "DeletionPolicy" not in bucket  # only artifacts: not protected


def test_stateful_resources_are_retained(merged: Template) -> None:
    resources = merged["Resources"]
    for logical_id in ("UploadsTable", "AuditLogs"):
        assert resources[logical_id]["DeletionPolicy"] == "Retain", logical_id
        assert resources[logical_id]["UpdateReplacePolicy"] == "Retain", logical_id


def test_a_policy_the_user_set_wins(merged: Template) -> None:
    scratch = merged["Resources"]["ScratchBucket"]
    assert scratch["DeletionPolicy"] == "Delete"
    assert "UpdateReplacePolicy" not in scratch


def test_stateless_resources_are_left_alone(merged: Template) -> None:
    for logical_id in ("DebugLogs", "Alerts"):
        assert "DeletionPolicy" not in merged["Resources"][logical_id]


def test_extensions_add_depends_on_and_metadata(merged: Template) -> None:
    policy = merged["Resources"]["ServerlessDeploymentBucketPolicy"]
    assert policy["DependsOn"] == ["UploadsTable"]
    assert policy["Metadata"] == {"Purpose": "artifacts"}


def test_outputs_and_conditions_merge(merged: Template) -> None:
    assert merged["Outputs"]["AlertsArn"] == {"Value": {"Ref": "Alerts"}}
    assert "ServerlessDeploymentBucketName" in merged["Outputs"]
    assert merged["Conditions"] == {"IsProd": {"Fn::Equals": ["prod", "prod"]}}


def test_pseudo_parameters_in_user_resources_become_sub(merged: Template) -> None:
    topic = merged["Resources"]["Alerts"]["Properties"]["TopicName"]
    assert topic == {"Fn::Sub": "merge-${AWS::Region}-alerts"}


def test_extending_a_missing_resource_is_located(only_problem: OnlyProblem) -> None:
    assert str(only_problem("res-extension-missing")).endswith(
        "res-extension-missing/serverless.yml:8:5: resources.extensions.NoSuchResource: "
        "cannot extend NoSuchResource: the compiled template has no such resource"
    )


def test_a_resource_without_type_must_override_a_generated_one(
    only_problem: OnlyProblem,
) -> None:
    assert str(only_problem("res-without-type")).endswith(
        "res-without-type/serverless.yml:8:5: resources.Resources.UploadsTabel: UploadsTabel "
        "needs a Type: it is not one of the generated resources it could override"
    )

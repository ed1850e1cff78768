"""Change sets list what executing them would do, as DescribeChangeSet shows it on AWS."""

from __future__ import annotations

import json
from typing import Any

from cfn_helpers import Cloud


def _table(name: str, key: str = "id", **extra: Any) -> dict[str, Any]:
    return {
        "Type": "AWS::DynamoDB::Table",
        "DeletionPolicy": "Retain",
        "UpdateReplacePolicy": "Retain",
        "Properties": {
            "TableName": name,
            "BillingMode": "PAY_PER_REQUEST",
            "AttributeDefinitions": [{"AttributeName": key, "AttributeType": "S"}],
            "KeySchema": [{"AttributeName": key, "KeyType": "HASH"}],
            **extra,
        },
    }


def _changes(
    cloud: Cloud, name: str, template: dict[str, Any], *, wait: bool = True, **kwargs: Any
) -> dict[str, Any]:
    created = cloud.cfn.create_change_set(
        StackName=name,
        ChangeSetName="preview",
        TemplateBody=json.dumps(template),
        Capabilities=["CAPABILITY_IAM"],
        **kwargs,
    )
    if wait:
        cloud.cfn.get_waiter("change_set_create_complete").wait(ChangeSetName=created["Id"])
    described: dict[str, Any] = cloud.cfn.describe_change_set(ChangeSetName=created["Id"])
    return described


def _by_id(described: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        change["ResourceChange"]["LogicalResourceId"]: change["ResourceChange"]
        for change in described["Changes"]
    }


def test_a_create_change_set_adds_everything(cloud: Cloud) -> None:
    name = cloud.name()
    template = {"Resources": {"Queue": {"Type": "AWS::SQS::Queue"}}}

    described = _changes(cloud, name, template, ChangeSetType="CREATE")

    assert cloud.describe(name)["StackStatus"] == "REVIEW_IN_PROGRESS"
    assert described["Status"] == "CREATE_COMPLETE"
    assert described["ExecutionStatus"] == "AVAILABLE"
    assert _by_id(described) == {
        "Queue": {
            "Action": "Add",
            "LogicalResourceId": "Queue",
            "ResourceType": "AWS::SQS::Queue",
            "Scope": [],
            "Details": [],
        }
    }
    cloud.cfn.execute_change_set(ChangeSetName="preview", StackName=name)
    assert cloud.describe(name)["StackStatus"] == "CREATE_COMPLETE"


def test_modify_and_remove_carry_replacement_and_policy(cloud: Cloud) -> None:
    name = cloud.name()
    before = {
        "Parameters": {"Visibility": {"Type": "Number", "Default": "30"}},
        "Resources": {
            "Table": _table(f"{name}-t"),
            "Queue": {
                "Type": "AWS::SQS::Queue",
                "Properties": {"VisibilityTimeout": {"Ref": "Visibility"}},
            },
            "Topic": {
                "Type": "AWS::SNS::Topic",
                "Properties": {"DisplayName": {"Fn::GetAtt": ["Queue", "QueueName"]}},
            },
            "Gone": {"Type": "AWS::SNS::Topic"},
            "Kept": {"Type": "AWS::SNS::Topic", "DeletionPolicy": "Retain"},
        },
    }
    cloud.deploy(name, before)
    after = json.loads(json.dumps(before))
    after["Resources"]["Table"] = _table(f"{name}-t2", key="pk")
    after["Resources"]["Added"] = {"Type": "AWS::SQS::Queue"}
    del after["Resources"]["Gone"], after["Resources"]["Kept"]

    described = _changes(
        cloud, name, after, Parameters=[{"ParameterKey": "Visibility", "ParameterValue": "60"}]
    )

    changes = _by_id(described)
    assert set(changes) == {"Table", "Queue", "Topic", "Added", "Gone", "Kept"}
    table = changes["Table"]
    assert (table["Action"], table["Replacement"], table["PolicyAction"]) == (
        "Modify",
        "True",
        "ReplaceAndRetain",
    )
    recreation = {
        detail["Target"]["Name"]: detail["Target"]["RequiresRecreation"]
        for detail in table["Details"]
    }
    assert recreation == {
        "AttributeDefinitions": "Conditionally",
        "KeySchema": "Always",
        "TableName": "Always",
    }
    queue = changes["Queue"]
    assert (queue["Action"], queue["Replacement"]) == ("Modify", "False")
    assert queue["Details"] == [
        {
            "Target": {
                "Attribute": "Properties",
                "Name": "VisibilityTimeout",
                "RequiresRecreation": "Never",
                "Path": "/Properties/VisibilityTimeout",
            },
            "Evaluation": "Static",
            "ChangeSource": "ParameterReference",
            "CausingEntity": "Visibility",
        }
    ]
    topic = changes["Topic"]
    assert (topic["Action"], topic["Replacement"]) == ("Modify", "False")
    assert [
        (detail["Evaluation"], detail["ChangeSource"], detail["CausingEntity"])
        for detail in topic["Details"]
    ] == [("Dynamic", "ResourceAttribute", "Queue.QueueName")]
    assert changes["Added"]["Action"] == "Add"
    assert (changes["Gone"]["Action"], changes["Gone"]["PolicyAction"]) == ("Remove", "Delete")
    assert (changes["Kept"]["Action"], changes["Kept"]["PolicyAction"]) == ("Remove", "Retain")


def test_a_replaced_resource_changes_what_refers_to_it(cloud: Cloud) -> None:
    name = cloud.name()
    template = {
        "Resources": {
            "Queue": {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": f"{name}-a"}},
            "Policy": {
                "Type": "AWS::SQS::QueuePolicy",
                "Properties": {
                    "Queues": [{"Ref": "Queue"}],
                    "PolicyDocument": {"Version": "2012-10-17", "Statement": []},
                },
            },
        }
    }
    cloud.deploy(name, template)
    template["Resources"]["Queue"]["Properties"]["QueueName"] = f"{name}-b"

    changes = _by_id(_changes(cloud, name, template))

    assert changes["Queue"]["Replacement"] == "True"
    assert changes["Policy"]["Details"] == [
        {
            "Target": {
                "Attribute": "Properties",
                "Name": "Queues",
                "RequiresRecreation": "Never",
                "Path": "/Properties/Queues",
            },
            "Evaluation": "Static",
            "ChangeSource": "ResourceReference",
            "CausingEntity": "Queue",
        }
    ]


def test_no_changes_fail_the_change_set_and_execution_drops_the_others(cloud: Cloud) -> None:
    name = cloud.name()
    template = {"Resources": {"Queue": {"Type": "AWS::SQS::Queue"}}}
    cloud.deploy(name, template)

    same = _changes(cloud, name, template, wait=False)

    assert (same["Status"], same["ExecutionStatus"]) == ("FAILED", "UNAVAILABLE")
    assert same["StatusReason"] == (
        "The submitted information didn't contain changes. Submit different information to "
        "create a change set."
    )
    template["Resources"]["Topic"] = {"Type": "AWS::SNS::Topic"}
    for change_set in ("one", "two"):
        cloud.cfn.create_change_set(
            StackName=name, ChangeSetName=change_set, TemplateBody=json.dumps(template)
        )
    listed = cloud.cfn.list_change_sets(StackName=name)["Summaries"]
    assert [item["ChangeSetName"] for item in listed] == ["preview", "one", "two"]

    cloud.cfn.execute_change_set(StackName=name, ChangeSetName="one")

    assert cloud.describe(name)["StackStatus"] == "UPDATE_COMPLETE"
    listed = cloud.cfn.list_change_sets(StackName=name)["Summaries"]
    assert [(item["ChangeSetName"], item["ExecutionStatus"]) for item in listed] == [
        ("one", "EXECUTE_COMPLETE")
    ]

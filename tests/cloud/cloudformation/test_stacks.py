"""Stack operations through the CloudFormation API: order, rollback, policies, exports,
termination protection and the errors AWS gives."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError
from cfn_helpers import Cloud

POLICY = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "sqs:*", "Resource": "*"}],
}


def queue(name: str, **props: Any) -> dict[str, Any]:
    return {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": name, **props}}


def test_create_resolves_references_in_dependency_order(cloud: Cloud) -> None:
    name = cloud.name()
    template = {
        "Parameters": {"Suffix": {"Type": "String", "Default": "x"}},
        "Resources": {
            "Topic": {
                "Type": "AWS::SNS::Topic",
                "Properties": {
                    "Subscription": [
                        {"Protocol": "sqs", "Endpoint": {"Fn::GetAtt": ["Queue", "Arn"]}}
                    ]
                },
            },
            "Queue": queue({"Fn::Sub": "${AWS::StackName}-q-${Suffix}"}),
            "Policy": {
                "Type": "AWS::SQS::QueuePolicy",
                "Properties": {"Queues": [{"Ref": "Queue"}], "PolicyDocument": POLICY},
            },
        },
        "Outputs": {"Url": {"Value": {"Ref": "Queue"}}, "Topic": {"Value": {"Ref": "Topic"}}},
    }

    stack = cloud.deploy(name, template)

    assert stack["StackStatus"] == "CREATE_COMPLETE"
    created = [logical for logical, status, _ in cloud.events(name) if status == "CREATE_COMPLETE"]
    assert created.index("Queue") < created.index("Topic")
    assert created.index("Queue") < created.index("Policy")
    sqs = cloud.client("sqs")
    url = cloud.outputs(name)["Url"]
    assert url.endswith(f"/{name}-q-x")
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["Policy"])["Attributes"]
    assert json.loads(attributes["Policy"]) == POLICY
    topic = cloud.outputs(name)["Topic"]
    subscriptions = cloud.client("sns").list_subscriptions_by_topic(TopicArn=topic)
    assert subscriptions["Subscriptions"][0]["Endpoint"].endswith(f":{name}-q-x")


def test_a_bad_getatt_rolls_the_creation_back(cloud: Cloud) -> None:
    name = cloud.name()
    template = {
        "Resources": {
            "Queue": queue(f"{name}-q"),
            "Topic": {
                "Type": "AWS::SNS::Topic",
                "Properties": {"DisplayName": {"Fn::GetAtt": ["Queue", "Nope"]}},
            },
        }
    }

    stack = cloud.deploy(name, template)

    assert stack["StackStatus"] == "ROLLBACK_COMPLETE"
    events = cloud.events(name)
    assert (
        "Topic",
        "CREATE_FAILED",
        "Template error: resource Queue does not support attribute type Nope in Fn::GetAtt",
    ) in events
    assert (
        name,
        "ROLLBACK_IN_PROGRESS",
        "The following resource(s) failed to create: [Topic]. Rollback requested by user.",
    ) in events
    assert ("Queue", "DELETE_COMPLETE", "") in events
    with pytest.raises(ClientError, match=r"NonExistentQueue|does not exist"):
        cloud.client("sqs").get_queue_url(QueueName=f"{name}-q")


def test_an_unsupported_type_fails_the_stack_naming_it(cloud: Cloud) -> None:
    name = cloud.name()
    template = {
        "Resources": {
            "Queue": queue(f"{name}-q"),
            "Cluster": {"Type": "AWS::ECS::Cluster", "DependsOn": "Queue"},
        }
    }

    stack = cloud.deploy(name, template)

    assert stack["StackStatus"] == "ROLLBACK_COMPLETE"
    failed = [event for event in cloud.events(name) if event[1] == "CREATE_FAILED"]
    assert failed == [
        (
            "Cluster",
            "CREATE_FAILED",
            "Resource type AWS::ECS::Cluster is not supported by BaseGear's local "
            "CloudFormation (no handler creates it)",
        )
    ]


def test_a_failed_update_restores_the_previous_state(cloud: Cloud) -> None:
    name = cloud.name()
    before = {
        "Resources": {"Queue": queue(f"{name}-q", VisibilityTimeout=30)},
        "Outputs": {"Visibility": {"Value": "30"}},
    }
    cloud.deploy(name, before)
    url = cloud.physical(name, "Queue")
    after = {
        "Resources": {
            "Queue": queue(f"{name}-q", VisibilityTimeout=99),
            "Added": queue(f"{name}-added"),
            "Broken": {
                "Type": "AWS::SNS::Topic",
                "DependsOn": ["Queue", "Added"],
                "Properties": {"DisplayName": {"Fn::Select": [5, ["a"]]}},
            },
        },
        "Outputs": {"Visibility": {"Value": "99"}},
    }

    stack = cloud.deploy(name, after)

    assert stack["StackStatus"] == "UPDATE_ROLLBACK_COMPLETE"
    assert cloud.outputs(name) == {"Visibility": "30"}
    events = cloud.events(name)
    assert (
        "Broken",
        "CREATE_FAILED",
        "Template error: Fn::Select cannot select nonexistent value at index 5",
    ) in events
    assert (
        name,
        "UPDATE_ROLLBACK_IN_PROGRESS",
        "The following resource(s) failed to update: [Broken].",
    ) in events
    sqs = cloud.client("sqs")
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["VisibilityTimeout"])
    assert attributes["Attributes"]["VisibilityTimeout"] == "30"
    with pytest.raises(ClientError):
        sqs.get_queue_url(QueueName=f"{name}-added")
    resources = cloud.cfn.list_stack_resources(StackName=name)["StackResourceSummaries"]
    assert [item["LogicalResourceId"] for item in resources] == ["Queue"]
    assert cloud.cfn.get_template(StackName=name)["TemplateBody"] == before


def test_replacement_creates_first_and_deletes_the_old_resource(cloud: Cloud) -> None:
    name = cloud.name()
    cloud.deploy(name, {"Resources": {"Queue": queue(f"{name}-a")}})
    old = cloud.physical(name, "Queue")

    stack = cloud.deploy(name, {"Resources": {"Queue": queue(f"{name}-b")}})

    assert stack["StackStatus"] == "UPDATE_COMPLETE"
    assert cloud.physical(name, "Queue").endswith(f"{name}-b")
    urls = cloud.client("sqs").list_queues(QueueNamePrefix=f"{name}-").get("QueueUrls", [])
    assert urls == [cloud.physical(name, "Queue")]
    assert old not in urls


def test_a_custom_named_resource_cannot_be_replaced(cloud: Cloud) -> None:
    name = cloud.name()
    table = {
        "Type": "AWS::DynamoDB::Table",
        "Properties": {
            "TableName": f"{name}-t",
            "BillingMode": "PAY_PER_REQUEST",
            "AttributeDefinitions": [{"AttributeName": "id", "AttributeType": "S"}],
            "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}],
        },
    }
    cloud.deploy(name, {"Resources": {"Table": table}})
    changed = json.loads(json.dumps(table))
    changed["Properties"]["AttributeDefinitions"] = [{"AttributeName": "pk", "AttributeType": "S"}]
    changed["Properties"]["KeySchema"] = [{"AttributeName": "pk", "KeyType": "HASH"}]

    stack = cloud.deploy(name, {"Resources": {"Table": changed}})

    assert stack["StackStatus"] == "UPDATE_ROLLBACK_COMPLETE"
    assert (
        "Table",
        "UPDATE_FAILED",
        "CloudFormation cannot update a stack when a custom-named resource requires replacing. "
        f"Rename {name}-t and update the stack again.",
    ) in cloud.events(name)


def test_retained_resources_outlive_the_stack(cloud: Cloud) -> None:
    name = cloud.name()
    template = {
        "Resources": {
            "Kept": {**queue(f"{name}-kept"), "DeletionPolicy": "Retain"},
            "Gone": queue(f"{name}-gone"),
        }
    }
    stack = cloud.deploy(name, template)

    cloud.cfn.delete_stack(StackName=name)

    deleted = cloud.cfn.describe_stacks(StackName=stack["StackId"])["Stacks"][0]
    assert deleted["StackStatus"] == "DELETE_COMPLETE"
    assert ("Kept", "DELETE_SKIPPED", "") in cloud.events(stack["StackId"])
    sqs = cloud.client("sqs")
    assert sqs.get_queue_url(QueueName=f"{name}-kept")["QueueUrl"]
    with pytest.raises(ClientError):
        sqs.get_queue_url(QueueName=f"{name}-gone")
    with pytest.raises(ClientError, match=f"Stack with id {name} does not exist"):
        cloud.cfn.describe_stacks(StackName=name)


def test_removing_a_resource_honours_its_deletion_policy(cloud: Cloud) -> None:
    name = cloud.name()
    kept = {**queue(f"{name}-kept"), "DeletionPolicy": "Retain"}
    cloud.deploy(name, {"Resources": {"Kept": kept, "Other": queue(f"{name}-other")}})

    stack = cloud.deploy(name, {"Resources": {"Other": queue(f"{name}-other")}})

    assert stack["StackStatus"] == "UPDATE_COMPLETE"
    assert cloud.client("sqs").get_queue_url(QueueName=f"{name}-kept")["QueueUrl"]


def test_exports_are_imported_and_protected(cloud: Cloud) -> None:
    producer, consumer = cloud.name("producer"), cloud.name("consumer")
    export = f"{producer}-QueueArn"
    cloud.deploy(
        producer,
        {
            "Resources": {"Queue": queue(f"{producer}-q")},
            "Outputs": {
                "Arn": {"Value": {"Fn::GetAtt": ["Queue", "Arn"]}, "Export": {"Name": export}}
            },
        },
    )
    imported = cloud.deploy(
        consumer,
        {
            "Resources": {
                "Topic": {
                    "Type": "AWS::SNS::Topic",
                    "Properties": {
                        "Subscription": [
                            {"Protocol": "sqs", "Endpoint": {"Fn::ImportValue": export}}
                        ]
                    },
                }
            },
            "Outputs": {"Imported": {"Value": {"Fn::ImportValue": export}}},
        },
    )

    assert imported["StackStatus"] == "CREATE_COMPLETE"
    assert cloud.outputs(consumer)["Imported"].endswith(f":{producer}-q")
    exports = {item["Name"]: item["Value"] for item in cloud.cfn.list_exports()["Exports"]}
    assert exports[export] == cloud.outputs(consumer)["Imported"]
    assert cloud.cfn.list_imports(ExportName=export)["Imports"] == [consumer]
    cloud.cfn.delete_stack(StackName=producer)
    refused = cloud.describe(producer)
    assert refused["StackStatus"] == "DELETE_FAILED"
    assert (
        refused["StackStatusReason"]
        == f"Export {export} cannot be deleted as it is in use by {consumer}"
    )
    with pytest.raises(ClientError, match=f"No export named {producer}-Nothing found"):
        cloud.deploy(
            cloud.name(),
            {"Resources": {"Q": queue({"Fn::ImportValue": f"{producer}-Nothing"})}},
        )
    duplicate = cloud.deploy(
        cloud.name(),
        {
            "Resources": {"Q": queue(f"{producer}-dup")},
            "Outputs": {"A": {"Value": "x", "Export": {"Name": export}}},
        },
    )
    assert duplicate["StackStatus"] == "ROLLBACK_COMPLETE"
    assert (
        duplicate["StackName"],
        "ROLLBACK_IN_PROGRESS",
        f"Export with name {export} is already exported by stack {producer}",
    ) in cloud.events(duplicate["StackId"])


def test_termination_protection_refuses_deletion(cloud: Cloud) -> None:
    name = cloud.name()
    cloud.deploy(
        name, {"Resources": {"Queue": queue(f"{name}-q")}}, EnableTerminationProtection=True
    )

    with pytest.raises(ClientError) as refused:
        cloud.cfn.delete_stack(StackName=name)

    assert refused.value.response["Error"] == {
        "Type": "Sender",
        "Code": "ValidationError",
        "Message": f"Stack [{name}] cannot be deleted while TerminationProtection is enabled",
    }
    assert cloud.describe(name)["StackStatus"] == "CREATE_COMPLETE"
    cloud.cfn.update_termination_protection(StackName=name, EnableTerminationProtection=False)
    cloud.cfn.delete_stack(StackName=name)
    assert not cloud.exists(name)


def test_errors_are_shaped_as_aws_sends_them(cloud: Cloud) -> None:
    name = cloud.name()
    template = {"Resources": {"Queue": queue(f"{name}-q")}}
    cloud.deploy(name, template)

    with pytest.raises(ClientError, match=r"No updates are to be performed\."):
        cloud.deploy(name, template)
    with pytest.raises(ClientError, match="Stack with id nothing-here does not exist"):
        cloud.cfn.describe_stack_events(StackName="nothing-here")
    with pytest.raises(cloud.cfn.exceptions.AlreadyExistsException):
        cloud.cfn.create_stack(StackName=name, TemplateBody=json.dumps(template))
    role = {"Type": "AWS::IAM::Role", "Properties": {"AssumeRolePolicyDocument": POLICY}}
    with pytest.raises(
        cloud.cfn.exceptions.InsufficientCapabilitiesException, match=r"\[CAPABILITY_IAM\]"
    ):
        cloud.cfn.create_stack(
            StackName=cloud.name(), TemplateBody=json.dumps({"Resources": {"R": role}})
        )
    cycle = {
        "Resources": {
            "A": queue({"Fn::GetAtt": ["B", "QueueName"]}),
            "B": queue({"Fn::GetAtt": ["A", "QueueName"]}),
        }
    }
    with pytest.raises(ClientError, match=r"Circular dependency between resources: \[A, B\]"):
        cloud.cfn.create_stack(StackName=cloud.name(), TemplateBody=json.dumps(cycle))
    with pytest.raises(ClientError, match=r"Unresolved resource dependencies \[Missing\]"):
        cloud.cfn.validate_template(
            TemplateBody=json.dumps({"Resources": {"A": queue({"Ref": "Missing"})}})
        )
    cloud.cfn.delete_stack(StackName="nothing-here")  # deleting what does not exist succeeds


def test_conditions_choose_resources_and_values(cloud: Cloud) -> None:
    name = cloud.name()
    template = {
        "Parameters": {"Stage": {"Type": "String", "AllowedValues": ["dev", "prod"]}},
        "Mappings": {"Sizes": {"dev": {"Visibility": 10}, "prod": {"Visibility": 60}}},
        "Conditions": {
            "IsProd": {"Fn::Equals": [{"Ref": "Stage"}, "prod"]},
            "IsDev": {"Fn::Not": [{"Condition": "IsProd"}]},
        },
        "Resources": {
            "Queue": queue(
                {"Fn::Join": ["-", [name, {"Ref": "Stage"}]]},
                VisibilityTimeout={"Fn::FindInMap": ["Sizes", {"Ref": "Stage"}, "Visibility"]},
                DelaySeconds={"Fn::If": ["IsProd", 5, {"Ref": "AWS::NoValue"}]},
            ),
            "DevOnly": {"Type": "AWS::SNS::Topic", "Condition": "IsDev"},
        },
    }

    cloud.deploy(name, template, Parameters=[{"ParameterKey": "Stage", "ParameterValue": "prod"}])

    resources = cloud.cfn.list_stack_resources(StackName=name)["StackResourceSummaries"]
    assert [item["LogicalResourceId"] for item in resources] == ["Queue"]
    attributes = cloud.client("sqs").get_queue_attributes(
        QueueUrl=cloud.physical(name, "Queue"), AttributeNames=["All"]
    )["Attributes"]
    assert (attributes["VisibilityTimeout"], attributes["DelaySeconds"]) == ("60", "5")
    with pytest.raises(ClientError, match="AllowedValues"):
        cloud.deploy(
            cloud.name(), template, Parameters=[{"ParameterKey": "Stage", "ParameterValue": "qa"}]
        )

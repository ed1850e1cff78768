"""S3 and SNS events: buckets created with their notifications, existing buckets through the
Custom::S3 resource (its inline handler is run in test_notifications_handler.py), topics,
subscriptions and permissions."""

from __future__ import annotations

import pytest
from conftest import (
    Compile,
    OnlyProblem,
    Template,
    function_arn,
    resources_of_type,
    role_statements,
)

from basegear.compile import to_json

PARTITION = {"Ref": "AWS::Partition"}


# S3, buckets this stack creates.


@pytest.fixture
def new_buckets(compile_project: Compile) -> Template:
    return compile_project("ev-s3-new-buckets")


def test_one_bucket_holds_every_notification_for_it(new_buckets: Template) -> None:
    bucket = new_buckets["Resources"]["S3BucketPhotosdevuploads"]
    assert bucket["DependsOn"] == [
        "ResizeLambdaPermissionPhotosdevuploadsS3",
        "AuditLambdaPermissionPhotosdevuploadsS3",
    ]
    assert bucket["Properties"] == {
        "BucketName": "photos-dev-uploads",
        "NotificationConfiguration": {
            "LambdaConfigurations": [
                {
                    "Event": "s3:ObjectCreated:*",
                    "Function": function_arn("Resize"),
                    "Filter": {
                        "S3Key": {
                            "Rules": [
                                {"Name": "prefix", "Value": "incoming/"},
                                {"Name": "suffix", "Value": ".jpg"},
                            ]
                        }
                    },
                },
                {
                    "Event": "s3:ObjectCreated:*",
                    "Function": function_arn("Resize"),
                    "Filter": {
                        "S3Key": {
                            "Rules": [
                                {"Name": "prefix", "Value": "incoming/"},
                                {"Name": "suffix", "Value": ".png"},
                            ]
                        }
                    },
                },
                {"Event": "s3:ObjectRemoved:*", "Function": function_arn("Audit")},
            ]
        },
    }
    assert bucket["DeletionPolicy"] == "Retain"  # a bucket is stateful


def test_one_permission_per_function_and_bucket(new_buckets: Template) -> None:
    permissions = resources_of_type(new_buckets, "AWS::Lambda::Permission")
    assert sorted(permissions) == [
        "AuditLambdaPermissionArchiveS3",
        "AuditLambdaPermissionPhotosdevreportsS3",
        "AuditLambdaPermissionPhotosdevuploadsS3",
        "ResizeLambdaPermissionPhotosdevuploadsS3",
    ]
    assert permissions["ResizeLambdaPermissionPhotosdevuploadsS3"]["Properties"] == {
        "FunctionName": function_arn("Resize"),
        "Action": "lambda:InvokeFunction",
        "Principal": "s3.amazonaws.com",
        "SourceArn": {"Fn::Join": ["", ["arn:", PARTITION, ":s3:::photos-dev-uploads"]]},
        "SourceAccount": {"Ref": "AWS::AccountId"},
    }


def test_short_form_and_provider_bucket_settings(new_buckets: Template) -> None:
    resources = new_buckets["Resources"]
    assert resources["S3BucketPhotosdevreports"]["Properties"]["NotificationConfiguration"] == {
        "LambdaConfigurations": [{"Event": "s3:ObjectCreated:*", "Function": function_arn("Audit")}]
    }
    archive = resources["S3BucketArchive"]
    assert archive["DependsOn"] == ["AuditLambdaPermissionArchiveS3"]
    assert archive["Properties"] == {
        "BucketName": "photos-dev-archive",
        "NotificationConfiguration": {
            "LambdaConfigurations": [
                {"Event": "s3:ObjectCreated:Put", "Function": function_arn("Audit")}
            ]
        },
        "VersioningConfiguration": {"Status": "Enabled"},
    }


def test_a_bucket_waits_for_the_alias_it_invokes(compile_project: Compile) -> None:
    resources = compile_project("ev-alias-targets")["Resources"]
    bucket = resources["S3BucketWarmdevuploads"]
    assert bucket["DependsOn"] == [
        "SnappyLambdaPermissionWarmdevuploadsS3",
        "SnappySnapStartLambdaAlias",
    ]
    snapstart = {"Fn::Join": [":", [function_arn("Snappy"), "snapstart"]]}
    configuration = bucket["Properties"]["NotificationConfiguration"]["LambdaConfigurations"][0]
    assert configuration["Function"] == snapstart
    assert resources["SnappyLambdaPermissionWarmdevuploadsS3"]["DependsOn"] == (
        "SnappySnapStartLambdaAlias"
    )


# S3, buckets that exist outside the stack.


@pytest.fixture
def existing(compile_project: Compile) -> Template:
    return compile_project("ev-s3-existing-bucket")


def test_existing_bucket_custom_resource(existing: Template) -> None:
    resource = existing["Resources"]["ParseCustomS31"]
    assert resource["Type"] == "Custom::S3"
    assert resource["DependsOn"] == [
        "ParseLambdaFunction",
        "CustomDashresourceDashexistingDashs3LambdaFunction",
        "ParseLambdaPermissionExistingS3",
    ]
    properties = dict(resource["Properties"])
    digest = properties.pop("ForceDeploy")
    assert len(digest) == 64  # the code digest: deterministic, new with new code
    assert properties == {
        "ServiceToken": {
            "Fn::GetAtt": ["CustomDashresourceDashexistingDashs3LambdaFunction", "Arn"]
        },
        "FunctionName": "ingest-dev-parse",
        "BucketName": "shared-landing-zone",
        "BucketConfigs": [
            {"Event": "s3:ObjectCreated:*", "Rules": [{"Prefix": "csv/"}, {"Suffix": ".csv"}]},
            {"Event": "s3:ObjectRemoved:*", "Rules": []},
        ],
    }


def test_custom_resources_on_one_bucket_run_in_turn(existing: Template) -> None:
    resources = existing["Resources"]
    assert resources["IndexCustomS31"]["DependsOn"][-1] == "ParseCustomS31"
    assert "ForceDeploy" not in resources["IndexCustomS31"]["Properties"]
    assert resources["ArchiveCustomS31"]["DependsOn"] == [
        "ArchiveLambdaFunction",
        "CustomDashresourceDashexistingDashs3LambdaFunction",
        "ArchiveLambdaPermissionExistingS3",
    ]


def test_existing_bucket_permission(existing: Template) -> None:
    permission = existing["Resources"]["ArchiveLambdaPermissionExistingS3"]["Properties"]
    assert permission == {
        "FunctionName": function_arn("Archive"),
        "Action": "lambda:InvokeFunction",
        "Principal": "s3.amazonaws.com",
        "SourceArn": {
            "Fn::Join": [
                "",
                ["arn:", PARTITION, ":s3:::", {"Fn::ImportValue": "storage-ArchiveBucketName"}],
            ]
        },
        "SourceAccount": {"Ref": "AWS::AccountId"},
    }


def test_existing_bucket_handler_and_its_role(existing: Template) -> None:
    resources = existing["Resources"]
    handler = resources["CustomDashresourceDashexistingDashs3LambdaFunction"]
    assert handler["DependsOn"] == ["IamRoleCustomResourcesLambdaExecution"]
    properties = dict(handler["Properties"])
    assert properties.pop("Code").keys() == {"ZipFile"}
    assert properties == {
        "FunctionName": "ingest-dev-custom-resource-existing-s3",
        "Handler": "index.handler",
        "MemorySize": 128,
        "Runtime": "python3.12",
        "Timeout": 60,
        "Role": {"Fn::GetAtt": ["IamRoleCustomResourcesLambdaExecution", "Arn"]},
    }
    statements = role_statements(existing, "IamRoleCustomResourcesLambdaExecution")
    notifications = ["s3:PutBucketNotification", "s3:GetBucketNotification"]
    assert [s["Resource"] for s in statements if s["Action"] == notifications] == [
        {"Fn::Join": [":", ["arn", PARTITION, "s3", "", "", "shared-landing-zone"]]},
        {
            "Fn::Join": [
                ":",
                ["arn", PARTITION, "s3", "", "", {"Fn::ImportValue": "storage-ArchiveBucketName"}],
            ]
        },
    ]


def test_existing_bucket_handler_with_a_deployment_role(compile_project: Compile) -> None:
    resources = compile_project("ev-s3-existing-bucket-deployment-role")["Resources"]
    handler = resources["CustomDashresourceDashexistingDashs3LambdaFunction"]
    assert handler["Properties"]["Role"] == "arn:aws:iam::123456789012:role/deployer"
    assert "DependsOn" not in handler
    assert "IamRoleCustomResourcesLambdaExecution" not in resources


def test_same_input_same_template(compile_project: Compile) -> None:
    first = to_json(compile_project("ev-s3-existing-bucket"))
    assert to_json(compile_project("ev-s3-existing-bucket")) == first


def test_the_example_objects_processor(example: Template, example_stage: str) -> None:
    resources = example["Resources"]
    bucket = {"Fn::ImportValue": f"algorithms-static-{example_stage}-PackagesBucketName"}
    resource = resources["ObjectsDashprocessorCustomS31"]
    assert resource["Properties"] == {
        "ServiceToken": {
            "Fn::GetAtt": ["CustomDashresourceDashexistingDashs3LambdaFunction", "Arn"]
        },
        "FunctionName": f"algorithms-{example_stage}-objects-processor",
        "BucketName": bucket,
        "BucketConfigs": [
            {"Event": "s3:ObjectCreated:*", "Rules": [{"Prefix": "packages/"}, {"Suffix": ".zip"}]}
        ],
    }
    permission = resources["ObjectsDashprocessorLambdaPermissionExistingS3"]["Properties"]
    assert permission["SourceArn"] == {"Fn::Join": ["", ["arn:", PARTITION, ":s3:::", bucket]]}
    handler = resources["CustomDashresourceDashexistingDashs3LambdaFunction"]["Properties"]
    assert handler["FunctionName"] == f"algorithms-{example_stage}-custom-resource-existing-s3"
    assert len(resources_of_type(example, "AWS::S3::Bucket")) <= 1


# SNS.


@pytest.fixture
def topics(compile_project: Compile) -> Template:
    return compile_project("ev-sns-topics")


def topic_arn(name: str) -> Template:
    return {
        "Fn::Join": [
            "",
            [
                "arn:",
                PARTITION,
                ":sns:",
                {"Ref": "AWS::Region"},
                ":",
                {"Ref": "AWS::AccountId"},
                ":",
                name,
            ],
        ]
    }


def test_a_topic_created_by_name_is_shared(topics: Template) -> None:
    resources = topics["Resources"]
    assert resources["SNSTopicAlertsdevincidents"] == {
        "Type": "AWS::SNS::Topic",
        "Properties": {"TopicName": "alerts-dev-incidents", "DisplayName": "Incidents"},
    }
    assert resources["NotifySnsSubscriptionAlertsdevincidents"]["Properties"] == {
        "TopicArn": {"Ref": "SNSTopicAlertsdevincidents"},
        "Protocol": "lambda",
        "Endpoint": function_arn("Notify"),
    }
    assert resources["PageSnsSubscriptionAlertsdevincidents"]["Properties"] == {
        "TopicArn": {"Ref": "SNSTopicAlertsdevincidents"},
        "Protocol": "lambda",
        "Endpoint": function_arn("Page"),
        "FilterPolicy": {"team": ["oncall"]},
    }
    assert resources["PageLambdaPermissionAlertsdevincidentsSNS"]["Properties"] == {
        "FunctionName": function_arn("Page"),
        "Action": "lambda:InvokeFunction",
        "Principal": "sns.amazonaws.com",
        "SourceArn": topic_arn("alerts-dev-incidents"),
    }
    assert resources["SNSTopicAlertsdevdigest"]["Properties"] == {"TopicName": "alerts-dev-digest"}
    assert resources["SNSTopicAlertsdevaudit"]["Properties"] == {
        "TopicName": "alerts-dev-audit",
        "KmsMasterKeyId": "alias/aws/sns",
    }


def test_a_topic_in_another_region(topics: Template) -> None:
    subscription = topics["Resources"]["NotifySnsSubscriptionBillingalarms"]["Properties"]
    assert subscription == {
        "TopicArn": "arn:aws:sns:us-east-1:123456789012:billing-alarms",
        "Protocol": "lambda",
        "Endpoint": function_arn("Notify"),
        "FilterPolicy": {"severity": ["critical", "high"]},
        "FilterPolicyScope": "MessageBody",
        "Region": "us-east-1",
    }
    same_region = topics["Resources"]["PageSnsSubscriptionDeployments"]["Properties"]
    assert "Region" not in same_region
    permission = topics["Resources"]["NotifyLambdaPermissionBillingalarmsSNS"]["Properties"]
    assert permission["SourceArn"] == "arn:aws:sns:us-east-1:123456789012:billing-alarms"


def test_a_topic_given_by_a_function_is_named_by_topic_name(topics: Template) -> None:
    resources = topics["Resources"]
    assert resources["PageSnsSubscriptionPages"]["Properties"]["TopicArn"] == {"Ref": "PagesTopic"}
    assert resources["PageLambdaPermissionPagesSNS"]["Properties"]["SourceArn"] == {
        "Ref": "PagesTopic"
    }


def test_redrive_policies_and_their_queue_policies(compile_project: Compile) -> None:
    resources = compile_project("ev-sns-redrive-policies")["Resources"]
    orders = resources["ConsumeSnsSubscriptionRedrivedevorders"]["Properties"]
    assert orders["RedrivePolicy"] == {
        "deadLetterTargetArn": "arn:aws:sqs:eu-west-1:123456789012:orders-dlq"
    }
    assert resources["RedrivedevordersToConsumeDLQPolicy"]["Properties"] == {
        "PolicyDocument": {
            "Version": "2012-10-17",
            "Id": "RedrivedevordersToConsumeDLQPolicy",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": "sns.amazonaws.com"},
                    "Action": "sqs:SendMessage",
                    "Resource": "arn:aws:sqs:eu-west-1:123456789012:orders-dlq",
                    "Condition": {"ArnEquals": {"aws:SourceArn": topic_arn("redrive-dev-orders")}},
                }
            ],
        },
        "Queues": [
            {
                "Fn::Join": [
                    "",
                    [
                        "https://sqs.eu-west-1.",
                        {"Ref": "AWS::URLSuffix"},
                        "/123456789012/orders-dlq",
                    ],
                ]
            }
        ],
    }
    payments = resources["PaymentsToConsumeDLQPolicy"]["Properties"]
    assert payments["Queues"] == [{"Ref": "PaymentsDeadLetters"}]
    assert resources["ConsumeSnsSubscriptionPayments"]["Properties"]["RedrivePolicy"] == {
        "deadLetterTargetArn": {"Fn::GetAtt": ["PaymentsDeadLetters", "Arn"]}
    }
    refunds = resources["RedrivedevrefundsToConsumeDLQPolicy"]["Properties"]
    assert refunds["Queues"] == [{"Fn::ImportValue": "shared-RefundsDlqUrl"}]
    assert resources["ConsumeSnsSubscriptionRedrivedevrefunds"]["Properties"]["RedrivePolicy"] == {
        "deadLetterTargetArn": {"Fn::ImportValue": "shared-RefundsDlqArn"}
    }


def test_sns_alias_targets(compile_project: Compile) -> None:
    resources = compile_project("ev-alias-targets")["Resources"]
    subscription = resources["HotSnsSubscriptionWarmdevevents"]
    assert subscription["DependsOn"] == "HotProvConcLambdaAlias"
    assert subscription["Properties"]["Endpoint"] == {
        "Fn::Join": [":", [function_arn("Hot"), "provisioned"]]
    }


# Mistakes, each at its line.


@pytest.mark.parametrize(
    ("project", "where", "message"),
    [
        (
            "ev-s3-intrinsic-bucket-not-existing",
            "10:19: functions.parse.events[0].s3.bucket",
            "a bucket given by a CloudFormation function is not created by this stack: set "
            "existing: true",
        ),
        (
            "ev-s3-overlapping-notifications",
            "17:11: functions.second.events[0].s3",
            "this event overlaps another notification of the same bucket (same event type, "
            "overlapping prefix and suffix); S3 accepts only non-overlapping ones",
        ),
        (
            "ev-s3-bad-bucket-name",
            "9:13: functions.parse.events[0].s3.bucket",
            "'Uploads_Bucket' is not a valid bucket name: 3 to 63 lowercase letters, digits, "
            "dots and hyphens, beginning and ending with a letter or digit",
        ),
        (
            "ev-s3-two-existing-buckets",
            "13:19: functions.parse.events[1].s3.bucket",
            "a function takes events from one existing bucket; events[0] already names another",
        ),
        (
            "ev-sns-arn-function-without-topic-name",
            "10:11: functions.consume.events[0].sns",
            "topicName is needed to name the subscription when arn is a CloudFormation function",
        ),
        (
            "ev-sns-same-topic-twice",
            "14:11: functions.consume.events[1].sns",
            "the function already subscribes to topic twice-orders; one sns event per topic",
        ),
    ],
)
def test_mistakes_are_located(
    only_problem: OnlyProblem, project: str, where: str, message: str
) -> None:
    assert str(only_problem(project)).endswith(f"{project}/serverless.yml:{where}: {message}")

"""S3 and SNS events: buckets created with their notifications, existing buckets through the
Custom::S3 resource (whose inline handler runs here against an in-memory S3), topics,
subscriptions and permissions."""

from __future__ import annotations

import copy
import hashlib
import json
import sys
import threading
import types
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import pytest

from basegear.compile import to_json
from basegear.errors import ConfigError

Template = dict[str, Any]
Compile = Callable[..., Template]
EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "algorithms"

PARTITION = {"Ref": "AWS::Partition"}


def arn_of(key: str) -> Template:
    return {"Fn::GetAtt": [f"{key}LambdaFunction", "Arn"]}


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
                    "Function": arn_of("Resize"),
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
                    "Function": arn_of("Resize"),
                    "Filter": {
                        "S3Key": {
                            "Rules": [
                                {"Name": "prefix", "Value": "incoming/"},
                                {"Name": "suffix", "Value": ".png"},
                            ]
                        }
                    },
                },
                {"Event": "s3:ObjectRemoved:*", "Function": arn_of("Audit")},
            ]
        },
    }
    assert bucket["DeletionPolicy"] == "Retain"  # a bucket is stateful


def test_one_permission_per_function_and_bucket(new_buckets: Template) -> None:
    permissions = {
        logical_id: resource["Properties"]
        for logical_id, resource in new_buckets["Resources"].items()
        if resource["Type"] == "AWS::Lambda::Permission"
    }
    assert sorted(permissions) == [
        "AuditLambdaPermissionArchiveS3",
        "AuditLambdaPermissionPhotosdevreportsS3",
        "AuditLambdaPermissionPhotosdevuploadsS3",
        "ResizeLambdaPermissionPhotosdevuploadsS3",
    ]
    assert permissions["ResizeLambdaPermissionPhotosdevuploadsS3"] == {
        "FunctionName": arn_of("Resize"),
        "Action": "lambda:InvokeFunction",
        "Principal": "s3.amazonaws.com",
        "SourceArn": {"Fn::Join": ["", ["arn:", PARTITION, ":s3:::photos-dev-uploads"]]},
        "SourceAccount": {"Ref": "AWS::AccountId"},
    }


def test_short_form_and_provider_bucket_settings(new_buckets: Template) -> None:
    resources = new_buckets["Resources"]
    assert resources["S3BucketPhotosdevreports"]["Properties"]["NotificationConfiguration"] == {
        "LambdaConfigurations": [{"Event": "s3:ObjectCreated:*", "Function": arn_of("Audit")}]
    }
    archive = resources["S3BucketArchive"]
    assert archive["DependsOn"] == ["AuditLambdaPermissionArchiveS3"]
    assert archive["Properties"] == {
        "BucketName": "photos-dev-archive",
        "NotificationConfiguration": {
            "LambdaConfigurations": [{"Event": "s3:ObjectCreated:Put", "Function": arn_of("Audit")}]
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
    snapstart = {"Fn::Join": [":", [arn_of("Snappy"), "snapstart"]]}
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
        "FunctionName": arn_of("Archive"),
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
    role = resources["IamRoleCustomResourcesLambdaExecution"]["Properties"]
    statements = role["Policies"][0]["PolicyDocument"]["Statement"]
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


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_the_example_objects_processor(compile_project: Compile, stage: str) -> None:
    resources = compile_project(EXAMPLE, stage=stage)["Resources"]
    bucket = {"Fn::ImportValue": f"algorithms-static-{stage}-PackagesBucketName"}
    resource = resources["ObjectsDashprocessorCustomS31"]
    assert resource["Properties"] == {
        "ServiceToken": {
            "Fn::GetAtt": ["CustomDashresourceDashexistingDashs3LambdaFunction", "Arn"]
        },
        "FunctionName": f"algorithms-{stage}-objects-processor",
        "BucketName": bucket,
        "BucketConfigs": [
            {"Event": "s3:ObjectCreated:*", "Rules": [{"Prefix": "packages/"}, {"Suffix": ".zip"}]}
        ],
    }
    permission = resources["ObjectsDashprocessorLambdaPermissionExistingS3"]["Properties"]
    assert permission["SourceArn"] == {"Fn::Join": ["", ["arn:", PARTITION, ":s3:::", bucket]]}
    handler = resources["CustomDashresourceDashexistingDashs3LambdaFunction"]["Properties"]
    assert handler["FunctionName"] == f"algorithms-{stage}-custom-resource-existing-s3"
    assert not [r for r in resources.values() if r["Type"] == "AWS::S3::Bucket"][1:]


# The existing-bucket handler, run as Lambda would run it.

HANDLER_ARN = (
    "arn:aws:lambda:eu-west-1:123456789012:function:ingest-dev-custom-resource-existing-s3"
)
PARSE_ARN = "arn:aws:lambda:eu-west-1:123456789012:function:ingest-dev-parse"


class ClientError(Exception):
    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.response = {"Error": {"Code": code}}


class MemoryS3:
    """The two S3 calls the handler makes, over buckets held in a dict."""

    exceptions = types.SimpleNamespace(ClientError=ClientError)

    def __init__(self, buckets: dict[str, Template]) -> None:
        self.buckets = buckets

    def get_bucket_notification_configuration(self, **request: Any) -> Template:
        if request["Bucket"] not in self.buckets:
            raise ClientError("NoSuchBucket")
        return {
            "ResponseMetadata": {"HTTPStatusCode": 200},
            **copy.deepcopy(self.buckets[request["Bucket"]]),
        }

    def put_bucket_notification_configuration(self, **request: Any) -> None:
        self.buckets[request["Bucket"]] = request["NotificationConfiguration"]


class Responses(BaseHTTPRequestHandler):
    """CloudFormation's side of ResponseURL: records what the handler reports."""

    received: list[Template] = []

    def do_PUT(self) -> None:
        length = int(self.headers["Content-Length"])
        self.received.append(json.loads(self.rfile.read(length)))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def response_url() -> Iterator[str]:
    Responses.received = []
    server = HTTPServer(("127.0.0.1", 0), Responses)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/response"
    server.shutdown()
    server.server_close()


@pytest.fixture
def run_handler(
    existing: Template, response_url: str, monkeypatch: pytest.MonkeyPatch
) -> Callable[..., Template]:
    """Runs the inline source from the template, with ``boto3.client`` giving a MemoryS3."""
    handler = existing["Resources"]["CustomDashresourceDashexistingDashs3LambdaFunction"]
    source = handler["Properties"]["Code"]["ZipFile"]

    def run(
        s3: MemoryS3, request_type: str, properties: Template, old: Template | None = None
    ) -> Template:
        boto3 = types.ModuleType("boto3")
        boto3.client = lambda service: s3  # type: ignore[attr-defined]
        monkeypatch.setitem(sys.modules, "boto3", boto3)
        namespace: Template = {}
        exec(compile(source, "index.py", "exec"), namespace)
        event = {
            "RequestType": request_type,
            "ResponseURL": response_url,
            "StackId": "arn:aws:cloudformation:eu-west-1:123456789012:stack/ingest-dev/1",
            "RequestId": "request-1",
            "LogicalResourceId": "ParseCustomS31",
            "ResourceProperties": properties,
        }
        if old is not None:
            event["OldResourceProperties"] = old
        context = types.SimpleNamespace(
            invoked_function_arn=HANDLER_ARN, log_stream_name="2024/01/01/[$LATEST]abc"
        )
        namespace["handler"](event, context)
        (response,) = Responses.received[-1:]
        return response

    return run


def entry_id(name: str, config: Template) -> str:
    digest = hashlib.md5(json.dumps(config, sort_keys=True).encode(), usedforsecurity=False)
    return f"{name}-{digest.hexdigest()}"


OTHER_FUNCTION = {
    "Id": "ingest-dev-parse-extra-" + "0" * 32,  # another function whose name starts alike
    "LambdaFunctionArn": "arn:aws:lambda:eu-west-1:123456789012:function:ingest-dev-parse-extra",
    "Events": ["s3:ObjectCreated:*"],
}
QUEUE = {"QueueArn": "arn:aws:sqs:eu-west-1:123456789012:audit", "Events": ["s3:ObjectRemoved:*"]}


def test_handler_adds_this_functions_notifications(
    existing: Template, run_handler: Callable[..., Template]
) -> None:
    properties = existing["Resources"]["ParseCustomS31"]["Properties"]
    s3 = MemoryS3(
        {
            "shared-landing-zone": {
                "LambdaFunctionConfigurations": [OTHER_FUNCTION],
                "QueueConfigurations": [QUEUE],
            }
        }
    )
    response = run_handler(s3, "Create", properties)
    assert response == {
        "Status": "SUCCESS",
        "Reason": "",
        "PhysicalResourceId": "CustomResourceExistingS3",
        "StackId": "arn:aws:cloudformation:eu-west-1:123456789012:stack/ingest-dev/1",
        "RequestId": "request-1",
        "LogicalResourceId": "ParseCustomS31",
    }
    csv, removed = properties["BucketConfigs"]
    assert s3.buckets["shared-landing-zone"] == {
        "LambdaFunctionConfigurations": [
            OTHER_FUNCTION,
            {
                "Id": entry_id("ingest-dev-parse", csv),
                "LambdaFunctionArn": PARSE_ARN,
                "Events": ["s3:ObjectCreated:*"],
                "Filter": {
                    "Key": {
                        "FilterRules": [
                            {"Name": "prefix", "Value": "csv/"},
                            {"Name": "suffix", "Value": ".csv"},
                        ]
                    }
                },
            },
            {
                "Id": entry_id("ingest-dev-parse", removed),
                "LambdaFunctionArn": PARSE_ARN,
                "Events": ["s3:ObjectRemoved:*"],
            },
        ],
        "QueueConfigurations": [QUEUE],
    }


def test_handler_update_replaces_only_its_own(run_handler: Callable[..., Template]) -> None:
    old = {
        "FunctionName": "ingest-dev-parse",
        "BucketName": "landing",
        "BucketConfigs": [{"Event": "s3:ObjectCreated:*", "Rules": []}],
    }
    new = {
        **old,
        "BucketConfigs": [{"Event": "s3:ObjectCreated:Put", "Rules": [{"Suffix": ".gz"}]}],
    }
    s3 = MemoryS3({"landing": {}})
    run_handler(s3, "Create", old)
    s3.buckets["landing"]["LambdaFunctionConfigurations"].append(OTHER_FUNCTION)
    assert run_handler(s3, "Update", new, old)["Status"] == "SUCCESS"
    entries = s3.buckets["landing"]["LambdaFunctionConfigurations"]
    assert [entry["Id"] for entry in entries] == [
        OTHER_FUNCTION["Id"],
        entry_id("ingest-dev-parse", new["BucketConfigs"][0]),
    ]


def test_handler_moving_buckets_cleans_the_old_one(run_handler: Callable[..., Template]) -> None:
    old = {
        "FunctionName": "ingest-dev-parse",
        "BucketName": "first",
        "BucketConfigs": [{"Event": "s3:ObjectCreated:*", "Rules": []}],
    }
    new = {**old, "BucketName": "second"}
    s3 = MemoryS3({"first": {}, "second": {}})
    run_handler(s3, "Create", old)
    run_handler(s3, "Update", new, old)
    assert s3.buckets["first"]["LambdaFunctionConfigurations"] == []
    assert len(s3.buckets["second"]["LambdaFunctionConfigurations"]) == 1


def test_handler_delete_removes_its_own(run_handler: Callable[..., Template]) -> None:
    properties = {
        "FunctionName": "ingest-dev-parse",
        "BucketName": "landing",
        "BucketConfigs": [{"Event": "s3:ObjectCreated:*", "Rules": []}],
    }
    s3 = MemoryS3({"landing": {"LambdaFunctionConfigurations": [OTHER_FUNCTION]}})
    run_handler(s3, "Create", properties)
    assert run_handler(s3, "Delete", properties)["Status"] == "SUCCESS"
    assert s3.buckets["landing"]["LambdaFunctionConfigurations"] == [OTHER_FUNCTION]
    gone = MemoryS3({})  # a bucket deleted before the stack is nothing left to clean
    assert run_handler(gone, "Delete", properties)["Status"] == "SUCCESS"


def test_handler_reports_failures(run_handler: Callable[..., Template]) -> None:
    properties = {"FunctionName": "ingest-dev-parse", "BucketName": "missing", "BucketConfigs": []}
    response = run_handler(MemoryS3({}), "Create", properties)
    assert response["Status"] == "FAILED"
    assert response["Reason"] == "NoSuchBucket (log stream 2024/01/01/[$LATEST]abc)"


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
        "Endpoint": arn_of("Notify"),
    }
    assert resources["PageSnsSubscriptionAlertsdevincidents"]["Properties"] == {
        "TopicArn": {"Ref": "SNSTopicAlertsdevincidents"},
        "Protocol": "lambda",
        "Endpoint": arn_of("Page"),
        "FilterPolicy": {"team": ["oncall"]},
    }
    assert resources["PageLambdaPermissionAlertsdevincidentsSNS"]["Properties"] == {
        "FunctionName": arn_of("Page"),
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
        "Endpoint": arn_of("Notify"),
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
        "Fn::Join": [":", [arn_of("Hot"), "provisioned"]]
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
    compile_project: Compile, project: str, where: str, message: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        compile_project(project)
    (problem,) = caught.value.problems
    assert str(problem).endswith(f"{project}/serverless.yml:{where}: {message}")

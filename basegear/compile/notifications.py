"""S3 and SNS events.

**s3** on a bucket this stack creates: an ``AWS::S3::Bucket`` ``S3Bucket<Name>`` whose
NotificationConfiguration lists one LambdaConfiguration per event (of every function that names
the bucket), and one ``AWS::Lambda::Permission`` per function and bucket. The bucket depends on
the permissions: S3 checks that it may invoke each function when the notification configuration
is written, and refuses it otherwise (S3 API reference, PutBucketNotificationConfiguration).

**s3 with ``existing: true``**: CloudFormation has no resource that adds a notification to a
bucket it does not manage — AWS::S3::Bucket would try to create the bucket, and the bucket's
NotificationConfiguration can only be written whole by its owner. As the Serverless Framework
does, BaseGear compiles a custom resource ``<Fn>CustomS31`` (``Custom::S3``) served by a small
Lambda function, ``CustomDashresourceDashexistingDashs3LambdaFunction``, with the framework's
logical IDs, function name and resource properties, so a stack deployed by the framework moves
over in place. Unlike the framework, whose handler is a Node.js zip uploaded beside the service,
BaseGear's handler is Python held inline in the template (``Code.ZipFile``, CloudFormation User
Guide, AWS::Lambda::Function Code): no extra artifact, and the local cloud runs it like any
function. It reads the bucket's notification configuration, replaces the entries it wrote for
this function (and only those: their Id is ``<function name>-<md5>``) and writes it back. The
S3 permission to invoke the function is an ordinary ``AWS::Lambda::Permission``
(``<Fn>LambdaPermissionExistingS3``) that the custom resource depends on, rather than a call
the handler makes. Custom resources for one bucket are chained with DependsOn, because each one
reads and rewrites the whole configuration.

**sns**: a topic given by ``arn``, or created from ``topicName`` (``SNSTopic<Name>``), one
``AWS::SNS::Subscription`` ``<Fn>SnsSubscription<Topic>`` per event and
``<Fn>LambdaPermission<Topic>SNS``. The framework folds a subscription without filter or
redrive policy into the created topic's Subscription property; BaseGear always compiles the
subscription resource, so that every event is one subscription with its own settings. A stack
moving over updates the topic (dropping the folded subscription) before it creates the
subscription resource, which refers to the topic by Ref.
"""

from __future__ import annotations

import hashlib
import re

from basegear.compile.context import Context, Json
from basegear.compile.event_support import event_path, invoke_permission
from basegear.compile.functions import alias_id, function_arn
from basegear.compile.naming import alphanumeric, function_id, normalized
from basegear.compile.role import lambda_assume_role_policy
from basegear.errors import ConfigPath
from basegear.model.events import S3Event, SnsEvent

PARTITION = {"Ref": "AWS::Partition"}
EXISTING_S3_HANDLER = "CustomDashresourceDashexistingDashs3LambdaFunction"
CUSTOM_RESOURCES_ROLE = "IamRoleCustomResourcesLambdaExecution"
# Lambda quotas: a function name has at most 64 characters.
FUNCTION_NAME_LIMIT = 64
# S3 User Guide, "General purpose bucket naming rules": 3 to 63 lowercase letters, digits, dots
# and hyphens, beginning and ending with a letter or digit, no two adjacent dots, not an IP
# address.
BUCKET_NAME = re.compile(r"(?!\d+\.\d+\.\d+\.\d+$)(?!.*\.\.)[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")

# The existing-bucket handler. CloudFormation sends Create, Update and Delete with the resource's
# properties (and the previous ones on Update) and waits for the outcome at ResponseURL
# (CloudFormation User Guide, "Custom resources", request and response objects). The physical ID
# never changes, so an Update never makes CloudFormation delete the "old" resource afterwards.
EXISTING_S3_SOURCE = '''\
"""Keeps one function's notifications on an existing S3 bucket (BaseGear custom resource)."""
import hashlib
import json
import re
import urllib.request

import boto3

PHYSICAL_ID = "CustomResourceExistingS3"


def handler(event, context):
    status, reason = "SUCCESS", ""
    try:
        apply(event, context.invoked_function_arn, boto3.client("s3"))
    except Exception as error:  # reported, or CloudFormation would wait for an hour
        status, reason = "FAILED", f"{error} (log stream {context.log_stream_name})"
    body = {
        "Status": status,
        "Reason": reason,
        "PhysicalResourceId": PHYSICAL_ID,
        "StackId": event["StackId"],
        "RequestId": event["RequestId"],
        "LogicalResourceId": event["LogicalResourceId"],
    }
    request = urllib.request.Request(
        event["ResponseURL"], data=json.dumps(body).encode(), method="PUT",
        headers={"Content-Type": ""},
    )
    urllib.request.urlopen(request, timeout=30).close()


def apply(event, own_arn, s3):
    new = event["ResourceProperties"]
    old = event.get("OldResourceProperties")
    if old and (old["BucketName"], old["FunctionName"]) != (new["BucketName"], new["FunctionName"]):
        configure(s3, own_arn, old, [])
    if event["RequestType"] == "Delete":
        configure(s3, own_arn, new, [], missing_ok=True)
    else:
        configure(s3, own_arn, new, new["BucketConfigs"])


def configure(s3, own_arn, properties, bucket_configs, missing_ok=False):
    bucket, name = properties["BucketName"], properties["FunctionName"]
    try:
        current = s3.get_bucket_notification_configuration(Bucket=bucket)
    except s3.exceptions.ClientError as error:
        if missing_ok and error.response["Error"]["Code"] == "NoSuchBucket":
            return
        raise
    current.pop("ResponseMetadata", None)
    ours = re.compile(re.escape(name) + "-[0-9a-f]{32}")
    kept = [
        entry for entry in current.get("LambdaFunctionConfigurations", [])
        if not ours.fullmatch(entry.get("Id", ""))
    ]
    function_arn = ":".join(own_arn.split(":")[:6] + [name])
    for config in bucket_configs:
        digest = hashlib.md5(json.dumps(config, sort_keys=True).encode()).hexdigest()
        entry = {"Id": f"{name}-{digest}", "LambdaFunctionArn": function_arn,
                 "Events": [config["Event"]]}
        rules = [{"Name": key.lower(), "Value": value}
                 for rule in config.get("Rules") or [] for key, value in rule.items()]
        if rules:
            entry["Filter"] = {"Key": {"FilterRules": rules}}
        kept.append(entry)
    current["LambdaFunctionConfigurations"] = kept
    s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration=current)
'''


def compile_s3(context: Context, key: str, index: int, event: S3Event) -> None:
    path = event_path(key, index, "s3")
    if event.existing:
        _existing_bucket(context, key, index, event, path)
    else:
        _new_bucket(context, key, event, path)


# A bucket this stack creates.


def _new_bucket(context: Context, key: str, event: S3Event, path: ConfigPath) -> None:
    if not isinstance(event.bucket, str):
        raise context.fail(
            "a bucket given by a CloudFormation function is not created by this stack: "
            "set existing: true",
            (*path, "bucket"),
        )
    reference = event.bucket
    settings = dict((context.service.provider.s3 or {}).get(reference) or {})
    bucket_name = str(settings.pop("name", reference))
    _check_bucket_name(context, bucket_name, (*path, "bucket"))
    bucket_id = f"S3Bucket{alphanumeric(reference)}"
    permission_id = f"{normalized(key)}LambdaPermission{alphanumeric(reference)}S3"
    if permission_id not in context.template.resources:
        _s3_permission(context, key, permission_id, bucket_name)
    configuration: dict[str, Json] = {
        "Event": event.event,
        "Function": function_arn(context, key),
    }
    rules = _filter_rules(event)
    if rules:
        configuration["Filter"] = {"S3Key": {"Rules": rules}}

    bucket = context.template.resources.get(bucket_id)
    if bucket is None:
        # provider.s3.<name>: the bucket's own properties, camelCase as in serverless.yml.
        properties = {name[:1].upper() + name[1:]: value for name, value in settings.items()}
        notifications = dict(properties.pop("NotificationConfiguration", None) or {})
        notifications["LambdaConfigurations"] = [
            *(notifications.get("LambdaConfigurations") or []),
            configuration,
        ]
        context.template.add(
            bucket_id,
            "AWS::S3::Bucket",
            {"BucketName": bucket_name, "NotificationConfiguration": notifications, **properties},
            DependsOn=[],
        )
        bucket = context.template.resources[bucket_id]
    elif bucket["Properties"].get("BucketName") != bucket_name:
        raise context.fail(
            f"bucket {bucket_name} compiles to the logical ID {bucket_id}, which the bucket "
            f"{bucket['Properties'].get('BucketName')} already has",
            (*path, "bucket"),
        )
    else:
        configurations = bucket["Properties"]["NotificationConfiguration"]["LambdaConfigurations"]
        _check_overlap(context, configurations, event, path)
        configurations.append(configuration)
    for dependency in (permission_id, alias_id(context, key)):
        if dependency is not None and dependency not in bucket["DependsOn"]:
            bucket["DependsOn"].append(dependency)


def _filter_rules(event: S3Event) -> list[dict[str, Json]]:
    """``rules`` → S3Key filter rules (``prefix`` and ``suffix``, S3 User Guide, "Configuring
    event notifications using object key name filtering"), one per rule, in the order written;
    a value may be a CloudFormation function."""
    rules: list[dict[str, Json]] = []
    for rule in event.rules or []:
        for name in ("prefix", "suffix"):
            value = getattr(rule, name)
            if value is not None:
                rules.append({"Name": name, "Value": value})
    return rules


def _check_overlap(
    context: Context, configurations: list[dict[str, Json]], event: S3Event, path: ConfigPath
) -> None:
    """S3 refuses two configurations whose event types and key filters overlap ("Configuration
    is ambiguously defined", S3 User Guide, "Configuring event notifications using object key
    name filtering"); the stack would fail at the bucket, so it is a located error here."""
    mine = {rule["Name"]: rule["Value"] for rule in _filter_rules(event)}
    for other in configurations:
        rules = other.get("Filter", {}).get("S3Key", {}).get("Rules", [])
        theirs = {rule["Name"]: rule["Value"] for rule in rules}
        if (
            _events_overlap(str(other["Event"]), event.event)
            and _affixes_overlap(mine.get("prefix"), theirs.get("prefix"), str.startswith)
            and _affixes_overlap(mine.get("suffix"), theirs.get("suffix"), str.endswith)
        ):
            raise context.fail(
                "this event overlaps another notification of the same bucket (same event type, "
                "overlapping prefix and suffix); S3 accepts only non-overlapping ones",
                path,
            )


def _events_overlap(first: str, second: str) -> bool:
    if first == second:
        return True
    for wildcard, other in ((first, second), (second, first)):
        if wildcard.endswith("*") and other.startswith(wildcard[:-1]):
            return True
    return False


def _affixes_overlap(first: Json, second: Json, matches: Json) -> bool:
    if first is None or second is None or first == second:
        return True  # a missing filter matches every key
    if not isinstance(first, str) or not isinstance(second, str):
        # A CloudFormation function (!Ref Prefix) is known only when deployed; S3 judges then.
        return False
    return bool(matches(first, second) or matches(second, first))


def _check_bucket_name(context: Context, name: str, path: ConfigPath) -> None:
    if "{" in name:
        return  # holds a pseudo parameter such as #{AWS::AccountId}, known only when deployed
    if not BUCKET_NAME.fullmatch(name):
        raise context.fail(
            f"'{name}' is not a valid bucket name: 3 to 63 lowercase letters, digits, dots and "
            "hyphens, beginning and ending with a letter or digit",
            path,
        )


# A bucket that exists outside this stack.


def _existing_bucket(
    context: Context, key: str, index: int, event: S3Event, path: ConfigPath
) -> None:
    for position, other in enumerate(context.service.functions[key].events[:index]):
        if other.s3 is not None and other.s3.existing and other.s3.bucket != event.bucket:
            # One Custom::S3 resource per function, as in the framework, so one existing bucket.
            raise context.fail(
                "a function takes events from one existing bucket; "
                f"events[{position}] already names another",
                (*path, "bucket"),
            )
    resource_id = f"{normalized(key)}CustomS31"
    config = {"Event": event.event, "Rules": _custom_rules(event)}
    resource = context.template.resources.get(resource_id)
    if resource is not None:
        resource["Properties"]["BucketConfigs"].append(config)
        return

    handler_id = _existing_bucket_handler(context)
    permission_id = f"{normalized(key)}LambdaPermissionExistingS3"
    _s3_permission(context, key, permission_id, event.bucket)
    dependencies = [function_id(key), handler_id, permission_id]
    earlier = _custom_resources_on(context, event.bucket)
    if earlier:
        dependencies.append(earlier[-1])
    properties: dict[str, Json] = {
        "ServiceToken": {"Fn::GetAtt": [handler_id, "Arn"]},
        "FunctionName": context.service.function_name(key),
        "BucketName": event.bucket,
        "BucketConfigs": [config],
    }
    if event.force_deploy:
        # The framework writes the time of packaging, so every deployment re-applies the
        # notifications. BaseGear's template is deterministic: the function's code digest makes
        # every deployment of new code re-apply them.
        artifact = context.artifacts.functions.get(key)
        if artifact is None:
            raise context.fail("forceDeploy needs the function's package", (*path, "forceDeploy"))
        properties["ForceDeploy"] = artifact.sha256
    context.template.add(resource_id, "Custom::S3", properties, DependsOn=dependencies)
    role = context.template.resources.get(CUSTOM_RESOURCES_ROLE)
    if role is not None:  # none when provider.iam.deploymentRole runs the handler
        statements = role["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
        statement = {
            "Effect": "Allow",
            "Action": ["s3:PutBucketNotification", "s3:GetBucketNotification"],
            "Resource": {"Fn::Join": [":", ["arn", PARTITION, "s3", "", "", event.bucket]]},
        }
        if statement not in statements:
            statements.append(statement)


def _s3_permission(context: Context, key: str, logical_id: str, bucket: Json) -> None:
    """Lets S3 invoke the function for events of ``bucket`` in this account only."""
    arn_end = [f":s3:::{bucket}"] if isinstance(bucket, str) else [":s3:::", bucket]
    source_arn = {"Fn::Join": ["", ["arn:", PARTITION, *arn_end]]}
    context.template.add(
        logical_id,
        "AWS::Lambda::Permission",
        {
            **invoke_permission(function_arn(context, key), "s3.amazonaws.com", source_arn),
            "SourceAccount": {"Ref": "AWS::AccountId"},
        },
        DependsOn=alias_id(context, key),
    )


def _custom_rules(event: S3Event) -> list[dict[str, Json]]:
    """The framework's BucketConfigs rules: ``[{"Prefix": …}, {"Suffix": …}]``."""
    return [{rule["Name"].capitalize(): rule["Value"]} for rule in _filter_rules(event)]


def _custom_resources_on(context: Context, bucket: Json) -> list[str]:
    return [
        logical_id
        for logical_id, resource in context.template.resources.items()
        if resource["Type"] == "Custom::S3" and resource["Properties"]["BucketName"] == bucket
    ]


def _existing_bucket_handler(context: Context) -> str:
    """The handler function (and its role) that every Custom::S3 resource calls; compiled once."""
    if EXISTING_S3_HANDLER in context.template.resources:
        return EXISTING_S3_HANDLER
    name = _handler_name(f"{context.service.service}-{context.stage}-custom-resource-existing-s3")
    deployment_role = context.service.provider.iam.deployment_role
    if deployment_role is None:
        role: Json = {"Fn::GetAtt": [CUSTOM_RESOURCES_ROLE, "Arn"]}
        _custom_resources_role(context, name)
    else:
        role = deployment_role
    context.template.add(
        EXISTING_S3_HANDLER,
        "AWS::Lambda::Function",
        {
            "Code": {"ZipFile": EXISTING_S3_SOURCE},
            "FunctionName": name,
            "Handler": "index.handler",
            "MemorySize": 128,
            "Runtime": "python3.12",
            "Timeout": 60,
            "Role": role,
        },
        DependsOn=[CUSTOM_RESOURCES_ROLE] if deployment_role is None else None,
    )
    return EXISTING_S3_HANDLER


def _handler_name(name: str) -> str:
    """The framework shortens a name over the limit to 32 characters and its MD5 digest."""
    if len(name) <= FUNCTION_NAME_LIMIT:
        return name
    return name[:32] + hashlib.md5(name.encode(), usedforsecurity=False).hexdigest()


def _custom_resources_role(context: Context, handler_name: str) -> None:
    log_group = (
        "arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}"
        f":log-group:/aws/lambda/{handler_name}:*"
    )
    context.template.add(
        CUSTOM_RESOURCES_ROLE,
        "AWS::IAM::Role",
        {
            "AssumeRolePolicyDocument": lambda_assume_role_policy(),
            "Policies": [
                {
                    "PolicyName": {
                        "Fn::Join": [
                            "-",
                            [context.stage, context.service.service, "custom-resources-lambda"],
                        ]
                    },
                    "PolicyDocument": {
                        "Version": "2012-10-17",
                        "Statement": [
                            {
                                "Effect": "Allow",
                                "Action": [
                                    "logs:CreateLogGroup",
                                    "logs:CreateLogStream",
                                    "logs:PutLogEvents",
                                ],
                                "Resource": [{"Fn::Sub": log_group}],
                            }
                        ],
                    },
                }
            ],
        },
    )


# SNS.


def compile_sns(context: Context, key: str, index: int, event: SnsEvent) -> None:
    path = event_path(key, index, "sns")
    if event.filter_policy_scope is not None and event.filter_policy is None:
        raise context.fail(
            "filterPolicyScope needs a filterPolicy to apply to", (*path, "filterPolicyScope")
        )
    topic_name, topic_arn, region = _topic(context, event, path)
    # A topic this stack creates is subscribed to through its Ref (its ARN), so that the
    # subscription waits for the topic.
    subscribed = topic_arn if event.arn else {"Ref": f"SNSTopic{alphanumeric(topic_name)}"}
    subscription_id = f"{normalized(key)}SnsSubscription{alphanumeric(topic_name)}"
    if subscription_id in context.template.resources:
        # SNS keeps one subscription per topic, protocol and endpoint: a second Subscribe with
        # other attributes is refused (SNS API reference, Subscribe).
        raise context.fail(
            f"the function already subscribes to topic {topic_name}; one sns event per topic",
            path,
        )
    properties: dict[str, Json] = {
        "TopicArn": subscribed,
        "Protocol": "lambda",
        "Endpoint": function_arn(context, key),
    }
    optional = (
        ("FilterPolicy", event.filter_policy),
        ("FilterPolicyScope", event.filter_policy_scope),
        ("Region", region),
    )
    for name, value in optional:
        if value is not None:
            properties[name] = value
    if event.redrive_policy is not None:
        properties["RedrivePolicy"] = _redrive_policy(
            context, key, topic_name, topic_arn, event.redrive_policy, (*path, "redrivePolicy")
        )
    alias = alias_id(context, key)
    context.template.add(subscription_id, "AWS::SNS::Subscription", properties, DependsOn=alias)
    context.template.add(
        f"{normalized(key)}LambdaPermission{alphanumeric(topic_name)}SNS",
        "AWS::Lambda::Permission",
        invoke_permission(function_arn(context, key), "sns.amazonaws.com", topic_arn),
        DependsOn=alias,
    )


def _topic(context: Context, event: SnsEvent, path: ConfigPath) -> tuple[str, Json, str | None]:
    """(topic name, topic ARN, region of a topic in another region)."""
    if isinstance(event.arn, str):
        # arn:partition:sns:region:account:name
        parts = event.arn.split(":")
        if len(parts) != 6 or parts[2] != "sns":
            raise context.fail(f"expected an SNS topic ARN, got '{event.arn}'", (*path, "arn"))
        # A topic in another region needs its region on the subscription (CloudFormation User
        # Guide, AWS::SNS::Subscription, Region); the framework writes it only then.
        region = parts[3] if parts[3] not in ("", context.region) else None
        return event.topic_name or parts[5], event.arn, region
    if event.arn is not None:
        if event.topic_name is None:
            raise context.fail(
                "topicName is needed to name the subscription when arn is a CloudFormation "
                "function",
                path,
            )
        return event.topic_name, event.arn, None
    if event.topic_name is None:
        raise context.fail("an sns event needs arn or topicName", path)
    return event.topic_name, _created_topic(context, event, path), None


def _created_topic(context: Context, event: SnsEvent, path: ConfigPath) -> Json:
    """The topic ``topicName`` creates, shared by every event that names it."""
    name = str(event.topic_name)
    topic_id = f"SNSTopic{alphanumeric(name)}"
    properties: dict[str, Json] = {"TopicName": name}
    if event.display_name is not None:
        properties["DisplayName"] = event.display_name
    if event.kms_master_key_id is not None:
        properties["KmsMasterKeyId"] = event.kms_master_key_id
    existing = context.template.resources.get(topic_id)
    if existing is None:
        context.template.add(topic_id, "AWS::SNS::Topic", properties)
    elif existing["Type"] != "AWS::SNS::Topic" or any(
        existing["Properties"].get(setting, value) != value for setting, value in properties.items()
    ):
        raise context.fail(f"topic {name} is created by an earlier event with other settings", path)
    elif len(properties) > len(existing["Properties"]):
        existing["Properties"].update(properties)
    # Ref of a topic is its ARN; the framework writes the ARN out, and so does BaseGear, so that
    # a stack moving over keeps the permission's SourceArn as it is.
    region, account = {"Ref": "AWS::Region"}, {"Ref": "AWS::AccountId"}
    return {"Fn::Join": ["", ["arn:", PARTITION, ":sns:", region, ":", account, ":", name]]}


REDRIVE_TARGETS = ("deadLetterTargetArn", "deadLetterTargetRef", "deadLetterTargetImport")


def _redrive_policy(
    context: Context,
    key: str,
    topic_name: str,
    topic_arn: Json,
    policy: dict[str, Json],
    path: ConfigPath,
) -> dict[str, Json]:
    """The subscription's dead-letter queue, and a queue policy that lets this topic send to it
    (SNS Developer Guide, "Amazon SNS dead-letter queues": the queue must allow SNS to send)."""
    if len(policy) != 1 or next(iter(policy)) not in REDRIVE_TARGETS:
        raise context.fail(f"redrivePolicy takes one of {', '.join(REDRIVE_TARGETS)}", path)
    ((kind, target),) = policy.items()
    queue_arn, queue_url = _dead_letter_queue(context, kind, target, (*path, kind))
    policy_id = f"{alphanumeric(topic_name)}To{normalized(key)}DLQPolicy"
    context.template.add(
        policy_id,
        "AWS::SQS::QueuePolicy",
        {
            "PolicyDocument": {
                "Version": "2012-10-17",
                "Id": policy_id,
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"Service": "sns.amazonaws.com"},
                        "Action": "sqs:SendMessage",
                        "Resource": queue_arn,
                        "Condition": {"ArnEquals": {"aws:SourceArn": topic_arn}},
                    }
                ],
            },
            "Queues": [queue_url],
        },
    )
    return {"deadLetterTargetArn": queue_arn}


def _dead_letter_queue(
    context: Context, kind: str, target: Json, path: ConfigPath
) -> tuple[Json, Json]:
    """(queue ARN, queue URL) from the three ways the framework accepts."""
    if kind == "deadLetterTargetArn" and isinstance(target, str):
        parts = target.split(":")
        if len(parts) != 6 or parts[2] != "sqs":
            raise context.fail(f"expected an SQS queue ARN, got '{target}'", path)
        _, _, _, region, account, queue = parts
        url = {
            "Fn::Join": [
                "",
                [f"https://sqs.{region}.", {"Ref": "AWS::URLSuffix"}, f"/{account}/{queue}"],
            ]
        }
        return target, url
    if kind == "deadLetterTargetRef" and isinstance(target, str):
        return {"Fn::GetAtt": [target, "Arn"]}, {"Ref": target}
    exports = target if isinstance(target, dict) else {}
    if kind == "deadLetterTargetImport" and set(exports) == {"arn", "url"}:
        return {"Fn::ImportValue": exports["arn"]}, {"Fn::ImportValue": exports["url"]}
    expected = {
        "deadLetterTargetArn": "a queue ARN",
        "deadLetterTargetRef": "the logical ID of a queue in this stack",
        "deadLetterTargetImport": "arn and url, the names of two exports",
    }[kind]
    raise context.fail(f"expected {expected}", path)

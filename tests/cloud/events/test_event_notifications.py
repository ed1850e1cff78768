"""S3 event notifications and SNS deliveries (basegear/cloud/events/notifications.py, with
motoshim/s3_notifications.py and motoshim/sns_envelope.py) through boto3 against the local
cloud, on the manual clock, with real handlers. Each test names the AWS documentation section
it follows.

A handler appends each event it gets, as a JSON line, to the file its ``RUNS`` variable names."""

from __future__ import annotations

import base64
import json
import time
from pathlib import Path
from typing import Any

from event_helpers import create_function, unique

from basegear.cloud.clock import VirtualClock
from basegear.cloud.events.cron import iso_time
from basegear.testing import CloudClients

HANDLER = """
import json
import os


def handler(event, context):
    with open(os.environ["RUNS"], "a") as runs:
        runs.write(json.dumps(event) + "\\n")
"""
ACCOUNT = "123456789012"
REGION = "us-east-1"


def recorder(cloud: CloudClients, tmp_path: Path) -> tuple[str, Path]:
    """A function that records its events; its ARN and its record file."""
    runs = tmp_path / f"{unique('runs')}.jsonl"
    arn = create_function(
        cloud.client("lambda"), HANDLER, Environment={"Variables": {"RUNS": str(runs)}}
    )
    return arn, runs


def events_of(runs: Path, count: int, *, timeout: float = 20.0) -> list[dict[str, Any]]:
    """The first ``count`` events the function recorded (waits for them, in real time)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if runs.exists():
            lines = runs.read_text().splitlines()
            if len(lines) >= count:
                return [json.loads(line) for line in lines]
        time.sleep(0.02)
    found = runs.read_text().splitlines() if runs.exists() else []
    raise AssertionError(f"expected {count} events, got {len(found)}: {found}")


def queue(cloud: CloudClients, **attributes: str) -> tuple[str, str]:
    sqs = cloud.client("sqs")
    url: str = sqs.create_queue(QueueName=unique("q"), Attributes=attributes)["QueueUrl"]
    arn: str = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    return url, arn


def messages(cloud: CloudClients, url: str, count: int | None = None) -> list[dict[str, Any]]:
    """Every message in the queue (deleted as read): ``count`` of them, or what is there."""
    sqs = cloud.client("sqs")
    found: list[dict[str, Any]] = []
    deadline = time.monotonic() + 10
    while True:
        batch = sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=10, MessageAttributeNames=["All"]
        ).get("Messages", [])
        for message in batch:
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        found += batch
        if count is None and not batch:
            return found
        if count is not None and (len(found) >= count or time.monotonic() > deadline):
            return found
        if not batch:
            time.sleep(0.02)


def bucket(cloud: CloudClients, **configuration: Any) -> str:
    s3 = cloud.client("s3")
    name = unique("bucket")
    s3.create_bucket(Bucket=name)
    if configuration:
        s3.put_bucket_notification_configuration(
            Bucket=name, NotificationConfiguration=configuration
        )
    return name


def key_filter(prefix: str | None = None, suffix: str | None = None) -> dict[str, Any]:
    rules = [{"Name": "prefix", "Value": prefix}] if prefix else []
    rules += [{"Name": "suffix", "Value": suffix}] if suffix else []
    return {"Key": {"FilterRules": rules}}


# -- S3 ---------------------------------------------------------------------------------------


def test_s3_put_and_delete_invoke_the_function_with_s3s_record(
    local_cloud: CloudClients, manual_clock: VirtualClock, tmp_path: Path
) -> None:
    # Lambda developer guide, "Using AWS Lambda with Amazon S3" (S3 invokes the function
    # asynchronously with an event of records), and S3 user guide, "Event message structure".
    function, runs = recorder(local_cloud, tmp_path)
    name = bucket(
        local_cloud,
        LambdaFunctionConfigurations=[
            {
                "Id": "uploads",
                "LambdaFunctionArn": function,
                "Events": ["s3:ObjectCreated:*", "s3:ObjectRemoved:*"],
                "Filter": key_filter("uploads/", ".txt"),
            }
        ],
    )
    s3 = local_cloud.client("s3")
    put = s3.put_object(Bucket=name, Key="uploads/a b.txt", Body=b"hello")
    created_at = manual_clock.now()
    manual_clock.advance(7)
    s3.delete_object(Bucket=name, Key="uploads/a b.txt")

    # Asynchronous invocations may finish in either order; the sequencer orders the changes.
    created, removed = sorted(
        (event["Records"] for event in events_of(runs, 2)),
        key=lambda records: str(records[0]["s3"]["object"]["sequencer"]),
    )
    assert len(created) == len(removed) == 1
    record = created[0]
    assert record["eventVersion"] == "2.1"
    assert record["eventSource"] == "aws:s3"
    assert record["awsRegion"] == REGION
    assert record["eventName"] == "ObjectCreated:Put"
    assert record["eventTime"] == iso_time(created_at, milliseconds=True)
    assert record["userIdentity"]["principalId"]
    assert record["requestParameters"] == {"sourceIPAddress": "127.0.0.1"}
    assert set(record["responseElements"]) == {"x-amz-request-id", "x-amz-id-2"}
    s3_part = record["s3"]
    assert s3_part["s3SchemaVersion"] == "1.0"
    assert s3_part["configurationId"] == "uploads"
    assert s3_part["bucket"]["name"] == name
    assert s3_part["bucket"]["arn"] == f"arn:aws:s3:::{name}"
    assert s3_part["bucket"]["ownerIdentity"]["principalId"]
    obj = s3_part["object"]
    assert obj["key"] == "uploads/a+b.txt"  # URL-encoded, a space as "+"
    assert obj["size"] == 5
    assert obj["eTag"] == put["ETag"].strip('"')
    assert "versionId" not in obj  # the bucket has no versioning
    gone = removed[0]
    assert gone["eventName"] == "ObjectRemoved:Delete"
    assert gone["eventTime"] == iso_time(created_at + 7, milliseconds=True)
    assert set(gone["s3"]["object"]) == {"key", "sequencer"}  # no size or eTag
    assert gone["s3"]["object"]["sequencer"] > obj["sequencer"]


def test_s3_filters_choose_the_events_and_keys(local_cloud: CloudClients) -> None:
    # S3 user guide, "Event notification types and destinations" (ObjectCreated:* and the
    # specific Put, Copy, CompleteMultipartUpload types) and "Configuring event notifications
    # using object key name filtering" (prefix and suffix).
    url, arn = queue(local_cloud)
    name = bucket(
        local_cloud,
        QueueConfigurations=[
            {
                "Id": "jpegs",
                "QueueArn": arn,
                "Events": ["s3:ObjectCreated:Put"],
                "Filter": key_filter("images/", ".jpg"),
            },
            {"Id": "copies", "QueueArn": arn, "Events": ["s3:ObjectCreated:Copy"]},
            {
                "Id": "multipart",
                "QueueArn": arn,
                "Events": ["s3:ObjectCreated:CompleteMultipartUpload"],
                "Filter": key_filter(prefix="big/"),
            },
        ],
    )
    assert json.loads(messages(local_cloud, url, 1)[0]["Body"])["Event"] == "s3:TestEvent"
    s3 = local_cloud.client("s3")
    for key in ("images/cat.jpg", "images/cat.png", "docs/cat.jpg", "big/not-multipart.bin"):
        s3.put_object(Bucket=name, Key=key, Body=b"x")
    s3.copy_object(
        Bucket=name, Key="copied.png", CopySource={"Bucket": name, "Key": "docs/cat.jpg"}
    )
    upload = s3.create_multipart_upload(Bucket=name, Key="big/file.bin")
    part = s3.upload_part(
        Bucket=name, Key="big/file.bin", UploadId=upload["UploadId"], PartNumber=1, Body=b"y"
    )
    s3.complete_multipart_upload(
        Bucket=name,
        Key="big/file.bin",
        UploadId=upload["UploadId"],
        MultipartUpload={"Parts": [{"ETag": part["ETag"], "PartNumber": 1}]},
    )
    s3.delete_object(Bucket=name, Key="images/cat.jpg")  # no ObjectRemoved configuration

    records = [json.loads(m["Body"])["Records"][0] for m in messages(local_cloud, url, 3)]
    seen = [(r["s3"]["configurationId"], r["eventName"], r["s3"]["object"]["key"]) for r in records]
    assert sorted(seen) == [
        ("copies", "ObjectCreated:Copy", "copied.png"),
        ("jpegs", "ObjectCreated:Put", "images/cat.jpg"),
        ("multipart", "ObjectCreated:CompleteMultipartUpload", "big/file.bin"),
    ]
    assert messages(local_cloud, url) == []


def test_s3_to_sqs_sends_the_test_event_and_then_records(
    local_cloud: CloudClients, manual_clock: VirtualClock
) -> None:
    # S3 user guide, "Event message structure": "When you configure an event notification,
    # Amazon S3 sends a test message" (s3:TestEvent) to the queue, then a record per event.
    url, arn = queue(local_cloud)
    configured_at = manual_clock.now()
    name = bucket(
        local_cloud, QueueConfigurations=[{"QueueArn": arn, "Events": ["s3:ObjectCreated:*"]}]
    )
    test_event = json.loads(messages(local_cloud, url, 1)[0]["Body"])
    assert test_event["Service"] == "Amazon S3"
    assert test_event["Event"] == "s3:TestEvent"
    assert test_event["Bucket"] == name
    assert test_event["Time"] == iso_time(configured_at, milliseconds=True)
    assert test_event["RequestId"] and test_event["HostId"]

    local_cloud.client("s3").put_object(Bucket=name, Key="report.csv", Body=b"a,b\n")
    body = json.loads(messages(local_cloud, url, 1)[0]["Body"])
    (record,) = body["Records"]
    assert record["eventName"] == "ObjectCreated:Put"
    assert record["s3"]["object"]["key"] == "report.csv"
    assert record["s3"]["object"]["size"] == 4
    assert len(record["s3"]["configurationId"]) > 0


def test_s3_versioned_deletes_report_the_marker_and_the_version(local_cloud: CloudClients) -> None:
    # S3 user guide, "Event notification types and destinations": s3:ObjectRemoved:Delete when
    # an object or a version is deleted for good, s3:ObjectRemoved:DeleteMarkerCreated when a
    # delete marker is added to a versioned object; records carry the versionId.
    url, arn = queue(local_cloud)
    name = bucket(local_cloud)
    s3 = local_cloud.client("s3")
    s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    s3.put_bucket_notification_configuration(
        Bucket=name,
        NotificationConfiguration={
            "QueueConfigurations": [
                {"QueueArn": arn, "Events": ["s3:ObjectCreated:*", "s3:ObjectRemoved:*"]}
            ]
        },
    )
    messages(local_cloud, url, 1)  # the test event
    first = s3.put_object(Bucket=name, Key="doc", Body=b"1")["VersionId"]
    s3.put_object(Bucket=name, Key="doc", Body=b"2")
    marker = s3.delete_object(Bucket=name, Key="doc")["VersionId"]
    s3.delete_object(Bucket=name, Key="doc", VersionId=first)

    records = [json.loads(m["Body"])["Records"][0] for m in messages(local_cloud, url, 4)]
    records.sort(key=lambda record: str(record["s3"]["object"]["sequencer"]))
    names = [(r["eventName"], r["s3"]["object"].get("versionId")) for r in records]
    assert names[0] == ("ObjectCreated:Put", first)
    assert names[1][0] == "ObjectCreated:Put"
    assert names[2] == ("ObjectRemoved:DeleteMarkerCreated", marker)
    assert names[3] == ("ObjectRemoved:Delete", first)
    assert messages(local_cloud, url) == []


def test_s3_to_sns_publishes_the_record_with_s3s_subject(local_cloud: CloudClients) -> None:
    # S3 user guide, "Event notification types and destinations" (an SNS topic destination)
    # and "Walkthrough: Configuring a bucket for notifications (SNS topic or SQS queue)".
    sns = local_cloud.client("sns")
    topic = sns.create_topic(Name=unique("topic"))["TopicArn"]
    url, arn = queue(local_cloud)
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn)
    name = bucket(
        local_cloud, TopicConfigurations=[{"TopicArn": topic, "Events": ["s3:ObjectCreated:*"]}]
    )
    local_cloud.client("s3").put_object(Bucket=name, Key="k", Body=b"")
    test_message, record_message = sorted(
        (json.loads(m["Body"]) for m in messages(local_cloud, url, 2)),
        key=lambda body: "Records" in body["Message"],
    )
    assert test_message["Subject"] == record_message["Subject"] == "Amazon S3 Notification"
    assert json.loads(test_message["Message"])["Event"] == "s3:TestEvent"
    record = json.loads(record_message["Message"])["Records"][0]
    assert (record["eventName"], record["s3"]["bucket"]["name"]) == ("ObjectCreated:Put", name)


# -- SNS --------------------------------------------------------------------------------------


def test_sns_invokes_a_subscribed_function_with_the_sns_event(
    local_cloud: CloudClients, manual_clock: VirtualClock, tmp_path: Path
) -> None:
    # Lambda developer guide, "Using Lambda with Amazon SNS": SNS invokes the function
    # asynchronously with {"Records": [{"EventSource": "aws:sns", …, "Sns": {…}}]}.
    function, runs = recorder(local_cloud, tmp_path)
    sns = local_cloud.client("sns")
    topic = sns.create_topic(Name=unique("topic"))["TopicArn"]
    subscription = sns.subscribe(TopicArn=topic, Protocol="lambda", Endpoint=function)[
        "SubscriptionArn"
    ]
    published_at = manual_clock.now()
    first = sns.publish(
        TopicArn=topic,
        Message="hello",
        Subject="greeting",
        MessageAttributes={
            "color": {"DataType": "String", "StringValue": "red"},
            "size": {"DataType": "Number", "StringValue": "3"},
        },
    )["MessageId"]
    second = sns.publish(TopicArn=topic, Message="no subject")["MessageId"]

    events = sorted(events_of(runs, 2), key=lambda e: e["Records"][0]["Sns"]["Message"])
    (record,) = events[0]["Records"]
    assert record["EventSource"] == "aws:sns"
    assert record["EventVersion"] == "1.0"
    assert record["EventSubscriptionArn"] == subscription
    message = record["Sns"]
    assert message["Type"] == "Notification"
    assert message["MessageId"] == first
    assert message["TopicArn"] == topic
    assert message["Subject"] == "greeting"
    assert message["Message"] == "hello"
    assert message["Timestamp"] == iso_time(published_at, milliseconds=True)
    assert message["SignatureVersion"] == "1"
    assert len(base64.b64decode(message["Signature"])) == 256
    assert message["SigningCertUrl"].startswith(f"https://sns.{REGION}.amazonaws.com/")
    assert message["UnsubscribeUrl"].endswith(f"SubscriptionArn={subscription}")
    assert message["MessageAttributes"] == {
        "color": {"Type": "String", "Value": "red"},
        "size": {"Type": "Number", "Value": "3"},
    }
    plain = events[1]["Records"][0]["Sns"]
    assert (plain["MessageId"], plain["Subject"], plain["MessageAttributes"]) == (second, None, {})


def test_sns_to_sqs_puts_the_json_envelope_in_the_message_body(
    local_cloud: CloudClients, manual_clock: VirtualClock
) -> None:
    # SNS developer guide, "Fanout to Amazon SQS queues" and "Amazon SNS message and JSON
    # formats" (HTTP/HTTPS notification JSON format): the queue gets the notification as JSON.
    sns = local_cloud.client("sns")
    topic = sns.create_topic(Name=unique("topic"))["TopicArn"]
    url, arn = queue(local_cloud)
    subscription = sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn)["SubscriptionArn"]
    manual_clock.advance(3600)
    published_at = manual_clock.now()
    message_id = sns.publish(
        TopicArn=topic,
        Message='{"order": 7}',
        Subject="orders",
        MessageAttributes={"kind": {"DataType": "String", "StringValue": "new"}},
    )["MessageId"]

    (delivered,) = messages(local_cloud, url, 1)
    envelope = json.loads(delivered["Body"])
    assert envelope["Type"] == "Notification"
    assert envelope["MessageId"] == message_id
    assert envelope["TopicArn"] == topic  # not moto's arn:aws:sns:EXAMPLE
    assert envelope["Subject"] == "orders"
    assert envelope["Message"] == '{"order": 7}'
    assert envelope["Timestamp"] == iso_time(published_at, milliseconds=True)  # not 1970
    assert envelope["SignatureVersion"] == "1"
    assert envelope["Signature"]
    assert envelope["SigningCertURL"].endswith(".pem")
    assert envelope["UnsubscribeURL"] == (
        f"https://sns.{REGION}.amazonaws.com/?Action=Unsubscribe&SubscriptionArn={subscription}"
    )
    assert envelope["MessageAttributes"] == {"kind": {"Type": "String", "Value": "new"}}
    assert "MessageAttributes" not in delivered  # in the envelope, not on the SQS message


def test_sns_raw_message_delivery_sends_the_bare_message(local_cloud: CloudClients) -> None:
    # SNS developer guide, "Amazon SNS raw message delivery": the message as published, its
    # attributes as SQS message attributes, no envelope.
    sns = local_cloud.client("sns")
    topic = sns.create_topic(Name=unique("topic"))["TopicArn"]
    url, arn = queue(local_cloud)
    sns.subscribe(
        TopicArn=topic,
        Protocol="sqs",
        Endpoint=arn,
        Attributes={"RawMessageDelivery": "true"},
    )
    sns.publish(
        TopicArn=topic,
        Message="just this",
        MessageAttributes={"kind": {"DataType": "String", "StringValue": "raw"}},
    )
    (delivered,) = messages(local_cloud, url, 1)
    assert delivered["Body"] == "just this"
    assert delivered["MessageAttributes"]["kind"] == {"DataType": "String", "StringValue": "raw"}


def test_sns_filter_policies_choose_what_each_subscription_gets(local_cloud: CloudClients) -> None:
    # SNS developer guide, "Amazon SNS message filtering": a filter policy on the message
    # attributes (the default scope) or, with FilterPolicyScope MessageBody, on the message.
    sns = local_cloud.client("sns")
    topic = sns.create_topic(Name=unique("topic"))["TopicArn"]
    everything, everything_arn = queue(local_cloud)
    red, red_arn = queue(local_cloud)
    large, large_arn = queue(local_cloud)
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=everything_arn)
    sns.subscribe(
        TopicArn=topic,
        Protocol="sqs",
        Endpoint=red_arn,
        Attributes={"FilterPolicy": json.dumps({"color": ["red"]})},
    )
    sns.subscribe(
        TopicArn=topic,
        Protocol="sqs",
        Endpoint=large_arn,
        Attributes={
            "FilterPolicy": json.dumps({"size": [{"numeric": [">", 10]}]}),
            "FilterPolicyScope": "MessageBody",
        },
    )

    def publish(body: dict[str, Any], color: str | None = None) -> None:
        attributes = {"color": {"DataType": "String", "StringValue": color}} if color else {}
        sns.publish(TopicArn=topic, Message=json.dumps(body), MessageAttributes=attributes)

    publish({"size": 1}, "red")
    publish({"size": 20}, "blue")
    publish({"size": 30})

    def bodies(url: str, count: int | None) -> list[Any]:
        found = messages(local_cloud, url, count)
        return sorted(json.loads(json.loads(m["Body"])["Message"])["size"] for m in found)

    assert bodies(everything, 3) == [1, 20, 30]
    assert bodies(red, 1) == [1]
    assert bodies(large, 2) == [20, 30]
    assert bodies(red, None) == [] and bodies(large, None) == []


def test_a_replayed_publish_delivers_to_queues_but_runs_no_function(
    local_cloud: CloudClients, tmp_path: Path
) -> None:
    # Durable state (docs/state.md): a replayed write does what it did to the cloud's state —
    # the queue gets its message — but runs no handler again (state/moto_lambda.py).
    from moto.sns.models import sns_backends

    from basegear.cloud.state.replay import replaying

    function, runs = recorder(local_cloud, tmp_path)
    sns = local_cloud.client("sns")
    topic = sns.create_topic(Name=unique("topic"))["TopicArn"]
    url, arn = queue(local_cloud)
    sns.subscribe(TopicArn=topic, Protocol="lambda", Endpoint=function)
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn)
    with replaying() as replay_clock:
        replay_clock.now = local_cloud.services.clock.now()  # type: ignore[union-attr]
        sns_backends[ACCOUNT][REGION].publish(message="replayed", arn=topic)
    assert json.loads(messages(local_cloud, url, 1)[0]["Body"])["Message"] == "replayed"
    sns.publish(TopicArn=topic, Message="live")
    assert [e["Records"][0]["Sns"]["Message"] for e in events_of(runs, 1)] == ["live"]
    time.sleep(0.3)
    assert len(runs.read_text().splitlines()) == 1


def test_moto_still_has_what_the_patches_replace_and_read() -> None:
    # basegear/cloud/motoshim: a moto upgrade that moves a patched internal fails here, by name.
    from basegear.cloud.motoshim import s3_notifications, sns_envelope

    s3_notifications.check_moto()
    sns_envelope.check_moto()

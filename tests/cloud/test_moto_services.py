"""The services moto answers through the gateway, driven with boto3 as a user's code drives
them (basegear/cloud/moto_backend.py)."""

from __future__ import annotations

import io
import json
import os
import time
import urllib.request
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from boto3.s3.transfer import TransferConfig

from basegear.testing import CloudClients, client_config


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def make_table(dynamodb: Any, name: str, *, stream: bool = False) -> None:
    options: dict[str, Any] = {}
    if stream:
        options["StreamSpecification"] = {
            "StreamEnabled": True,
            "StreamViewType": "NEW_AND_OLD_IMAGES",
        }
    dynamodb.create_table(
        TableName=name,
        KeySchema=[
            {"AttributeName": "pk", "KeyType": "HASH"},
            {"AttributeName": "sk", "KeyType": "RANGE"},
        ],
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "N"},
        ],
        BillingMode="PAY_PER_REQUEST",
        **options,
    )


def test_dynamodb_items_and_queries(local_cloud: CloudClients) -> None:
    dynamodb = local_cloud.client("dynamodb", "eu-west-1")
    table = unique("items")
    make_table(dynamodb, table)
    for sk in range(3):
        dynamodb.put_item(
            TableName=table, Item={"pk": {"S": "a"}, "sk": {"N": str(sk)}, "v": {"S": f"v{sk}"}}
        )
    item = dynamodb.get_item(TableName=table, Key={"pk": {"S": "a"}, "sk": {"N": "1"}})["Item"]
    assert item["v"] == {"S": "v1"}
    found = dynamodb.query(
        TableName=table,
        KeyConditionExpression="pk = :pk AND sk >= :low",
        ExpressionAttributeValues={":pk": {"S": "a"}, ":low": {"N": "1"}},
    )
    assert [i["sk"]["N"] for i in found["Items"]] == ["1", "2"]
    arn = dynamodb.describe_table(TableName=table)["Table"]["TableArn"]
    assert arn == f"arn:aws:dynamodb:eu-west-1:123456789012:table/{table}"


def test_dynamodb_streams(local_cloud: CloudClients) -> None:
    dynamodb = local_cloud.client("dynamodb", "eu-west-1")
    streams = local_cloud.client("dynamodbstreams", "eu-west-1")
    table = unique("streamed")
    make_table(dynamodb, table, stream=True)
    dynamodb.put_item(TableName=table, Item={"pk": {"S": "a"}, "sk": {"N": "1"}})
    dynamodb.delete_item(TableName=table, Key={"pk": {"S": "a"}, "sk": {"N": "1"}})
    stream_arn = dynamodb.describe_table(TableName=table)["Table"]["LatestStreamArn"]
    description = streams.describe_stream(StreamArn=stream_arn)["StreamDescription"]
    assert description["StreamStatus"] == "ENABLED"
    iterator = streams.get_shard_iterator(
        StreamArn=stream_arn,
        ShardId=description["Shards"][0]["ShardId"],
        ShardIteratorType="TRIM_HORIZON",
    )["ShardIterator"]
    records = streams.get_records(ShardIterator=iterator)["Records"]
    assert [r["eventName"] for r in records] == ["INSERT", "REMOVE"]
    assert records[0]["dynamodb"]["NewImage"] == {"pk": {"S": "a"}, "sk": {"N": "1"}}


def test_s3_path_style(local_cloud: CloudClients) -> None:
    s3 = local_cloud.client("s3", "eu-west-1")
    bucket = unique("path-style")
    s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    s3.put_object(Bucket=bucket, Key="dir/with space+plus.txt", Body=b"hello", Metadata={"a": "1"})
    got = s3.get_object(Bucket=bucket, Key="dir/with space+plus.txt")
    assert got["Body"].read() == b"hello"
    assert got["Metadata"] == {"a": "1"}
    head = s3.head_object(Bucket=bucket, Key="dir/with space+plus.txt")
    assert head["ContentLength"] == 5
    listed = s3.list_objects_v2(Bucket=bucket, Prefix="dir/")
    assert [o["Key"] for o in listed["Contents"]] == ["dir/with space+plus.txt"]


def test_s3_multipart_upload_and_unicode_keys(local_cloud: CloudClients) -> None:
    s3 = local_cloud.client("s3")
    bucket = unique("multipart")
    s3.create_bucket(Bucket=bucket)
    data = bytes(range(256)) * (5 * 4096 + 7)  # two parts of a 5 MiB part size
    five_mib = 5 * 1024 * 1024
    s3.upload_fileobj(
        io.BytesIO(data),
        bucket,
        "big",
        Config=TransferConfig(multipart_threshold=five_mib, multipart_chunksize=five_mib),
    )
    assert s3.get_object(Bucket=bucket, Key="big")["Body"].read() == data
    ranged = s3.get_object(Bucket=bucket, Key="big", Range="bytes=256-259")["Body"].read()
    assert ranged == bytes([0, 1, 2, 3])
    key = "ü/ñ %2F x"
    s3.put_object(Bucket=bucket, Key=key, Body=b"1")
    assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == b"1"
    assert sorted(o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]) == ["big", key]


def test_s3_virtual_hosted_style(local_cloud: CloudClients) -> None:
    # The client addresses http://<bucket>.localhost:<port>/<key>; the proxy setting sends the
    # request to the gateway's own address, so no name needs resolving.
    session = boto3.session.Session(aws_access_key_id="k", aws_secret_access_key="s")
    s3 = session.client(
        "s3",
        region_name="us-east-1",
        endpoint_url=f"http://localhost:{local_cloud.cloud.port}",
        config=client_config(
            s3={"addressing_style": "virtual"}, proxies={"http": local_cloud.endpoint_url}
        ),
    )
    urls: list[str] = []
    s3.meta.events.register("before-send", lambda request, **_: urls.append(request.url))
    bucket = unique("virtual")
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="a/b.txt", Body=b"virtual")
    assert s3.get_object(Bucket=bucket, Key="a/b.txt")["Body"].read() == b"virtual"
    assert s3.list_objects_v2(Bucket=bucket)["KeyCount"] == 1
    assert urls[0].startswith(f"http://{bucket}.localhost:")
    path_style = local_cloud.client("s3")
    assert path_style.get_object(Bucket=bucket, Key="a/b.txt")["Body"].read() == b"virtual"


def test_s3_presigned_url(local_cloud: CloudClients) -> None:
    s3 = local_cloud.client("s3")
    bucket = unique("presigned")
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="k", Body=b"shared")
    url = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "k"})
    assert url.startswith(local_cloud.endpoint_url)
    with urllib.request.urlopen(url, timeout=5) as response:
        assert response.read() == b"shared"


def test_sqs_send_receive_delete(local_cloud: CloudClients) -> None:
    sqs = local_cloud.client("sqs", "eu-west-1")
    url = sqs.create_queue(QueueName=unique("queue"))["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="one")
    [message] = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1)["Messages"]
    assert message["Body"] == "one"
    sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    assert sqs.receive_message(QueueUrl=url, WaitTimeSeconds=0).get("Messages") is None


def test_sns_publish_reaches_an_sqs_subscription(local_cloud: CloudClients) -> None:
    sns = local_cloud.client("sns", "eu-west-1")
    sqs = local_cloud.client("sqs", "eu-west-1")
    topic = sns.create_topic(Name=unique("topic"))["TopicArn"]
    url = sqs.create_queue(QueueName=unique("subscriber"))["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn["Attributes"]["QueueArn"])
    sns.publish(TopicArn=topic, Message="hello", Subject="greeting")
    [message] = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1)["Messages"]
    envelope = json.loads(message["Body"])
    assert (envelope["Type"], envelope["Message"], envelope["TopicArn"]) == (
        "Notification",
        "hello",
        topic,
    )


def test_ssm_parameters(local_cloud: CloudClients) -> None:
    ssm = local_cloud.client("ssm", "eu-west-1")
    name = f"/{unique('app')}/db-host"
    ssm.put_parameter(Name=name, Value="db.local", Type="String")
    assert ssm.get_parameter(Name=name)["Parameter"]["Value"] == "db.local"


def test_iam_role_and_caller_identity(local_cloud: CloudClients) -> None:
    iam = local_cloud.client("iam")
    name = unique("role")
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "lambda.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    role = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(policy))["Role"]
    assert role["Arn"] == f"arn:aws:iam::123456789012:role/{name}"
    assert local_cloud.client("sts").get_caller_identity()["Account"] == "123456789012"


def test_cloudwatch_metrics(local_cloud: CloudClients) -> None:
    cloudwatch = local_cloud.client("cloudwatch", "eu-west-1")
    namespace = unique("Custom")
    now = datetime.now(UTC)
    cloudwatch.put_metric_data(
        Namespace=namespace,
        MetricData=[
            {"MetricName": "Duration", "Value": value, "Unit": "Milliseconds", "Timestamp": now}
            for value in (10.0, 30.0)
        ],
    )
    statistics = cloudwatch.get_metric_statistics(
        Namespace=namespace,
        MetricName="Duration",
        StartTime=now - timedelta(minutes=5),
        EndTime=now + timedelta(minutes=5),
        Period=60,
        Statistics=["Average", "Maximum", "SampleCount"],
    )
    [point] = statistics["Datapoints"]
    assert (point["Average"], point["Maximum"], point["SampleCount"]) == (20.0, 30.0, 2.0)


def test_logs_events(local_cloud: CloudClients) -> None:
    logs = local_cloud.client("logs", "eu-west-1")
    group = f"/aws/lambda/{unique('fn')}"
    logs.create_log_group(logGroupName=group)
    logs.create_log_stream(logGroupName=group, logStreamName="s")
    now = int(time.time() * 1000)
    logs.put_log_events(
        logGroupName=group,
        logStreamName="s",
        logEvents=[{"timestamp": now, "message": "one"}, {"timestamp": now + 1, "message": "two"}],
    )
    events = logs.get_log_events(logGroupName=group, logStreamName="s", startFromHead=True)
    assert [e["message"] for e in events["events"]] == ["one", "two"]


def test_step_functions_runs_a_pass_machine(local_cloud: CloudClients) -> None:
    sfn = local_cloud.client("stepfunctions", "eu-west-1")
    definition = {
        "StartAt": "Greet",
        "States": {
            "Greet": {"Type": "Pass", "Result": "hello", "ResultPath": "$.greeting", "End": True}
        },
    }
    machine = sfn.create_state_machine(
        name=unique("pass"),
        definition=json.dumps(definition),
        roleArn="arn:aws:iam::123456789012:role/sfn",
    )["stateMachineArn"]
    execution = sfn.start_execution(stateMachineArn=machine, input='{"who": "world"}')
    described = wait_for_execution(sfn, execution["executionArn"])
    assert described["status"] == "SUCCEEDED"
    assert json.loads(described["output"]) == {"who": "world", "greeting": "hello"}


def wait_for_execution(sfn: Any, arn: str) -> Any:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        described = sfn.describe_execution(executionArn=arn)
        if described["status"] != "RUNNING":
            return described
        time.sleep(0.01)
    pytest.fail(f"execution {arn} still running")


def test_eventbridge_rule(local_cloud: CloudClients) -> None:
    events = local_cloud.client("events", "eu-west-1")
    name = unique("rule")
    arn = events.put_rule(Name=name, ScheduleExpression="rate(5 minutes)")["RuleArn"]
    assert arn == f"arn:aws:events:eu-west-1:123456789012:rule/{name}"
    assert events.describe_rule(Name=name)["ScheduleExpression"] == "rate(5 minutes)"


def test_code_under_test_reaches_the_local_cloud_without_configuration(
    local_cloud: CloudClients,
) -> None:
    # The fixture points boto3's environment at the local cloud, with dummy credentials.
    assert os.environ["AWS_ENDPOINT_URL"] == local_cloud.endpoint_url
    assert os.environ["AWS_ACCESS_KEY_ID"] == "testing"
    assert "AWS_PROFILE" not in os.environ
    queue = unique("plain-boto3")
    url = boto3.client("sqs").create_queue(QueueName=queue)["QueueUrl"]
    assert url == f"https://sqs.us-east-1.amazonaws.com/123456789012/{queue}"
    assert url in local_cloud.client("sqs").list_queues(QueueNamePrefix=queue)["QueueUrls"]

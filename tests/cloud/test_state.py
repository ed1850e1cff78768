"""Durable state, end to end (docs/state.md): a local cloud in a process of its own
(tests/cloud/state/serve_cloud.py) is written to through boto3, killed with SIGKILL, started again
on the same state directory — and every write it acknowledged is back. Also: a clean stop, a torn
journal tail, ``--fresh``, and a state directory from another version.

Every cloud listens on 127.0.0.1 only and dies with its test (SIGKILL, or its standard input
closing when the test process goes away)."""

from __future__ import annotations

import io
import json
import os
import select
import signal
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config

from basegear.cloud.state.codec import FRAME, scan

SERVE = Path(__file__).parent / "state" / "serve_cloud.py"
ROOT = Path(__file__).resolve().parents[2]
REGION = "eu-west-1"
ACCOUNT = "123456789012"
_START_TIMEOUT = 90.0  # seconds; a start imports moto's services and replays the journal


class CloudProcess:
    def __init__(self, state_dir: Path, log: Path, *, fresh: bool = False) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        self.log = log
        with log.open("ab") as stderr:
            self.process = subprocess.Popen(
                [sys.executable, str(SERVE), str(state_dir), *(["--fresh"] if fresh else [])],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=stderr,
                cwd=ROOT,
                env=env,
            )
        self.ready = self._ready_line()
        self.endpoint: str = self.ready["endpoint"]
        self._session = boto3.session.Session(
            aws_access_key_id="testing", aws_secret_access_key="testing", region_name=REGION
        )

    def _ready_line(self) -> dict[str, Any]:
        assert self.process.stdout is not None
        readable, _, _ = select.select([self.process.stdout], [], [], _START_TIMEOUT)
        line = self.process.stdout.readline() if readable else b""
        if not line:
            self.kill()
            raise AssertionError(f"the cloud did not start:\n{self.log.read_text()[-3000:]}")
        ready: dict[str, Any] = json.loads(line)
        return ready

    def client(self, service: str) -> Any:
        config = Config(
            retries={"total_max_attempts": 1},
            account_id_endpoint_mode="disabled",
            s3={"addressing_style": "path"},
            read_timeout=30,
        )
        return self._session.client(service, endpoint_url=self.endpoint, config=config)

    def kill(self) -> None:
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait(30)

    def stop(self) -> None:
        """A clean stop: the cloud takes a last snapshot."""
        assert self.process.stdin is not None
        self.process.stdin.close()
        assert self.process.wait(60) == 0, self.log.read_text()[-3000:]


@contextmanager
def cloud_on(state_dir: Path, tmp_path: Path, *, fresh: bool = False) -> Iterator[CloudProcess]:
    cloud = CloudProcess(state_dir, tmp_path / "cloud.log", fresh=fresh)
    try:
        yield cloud
    finally:
        cloud.kill()


def _zipped(source: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("handler.py", source)
    return buffer.getvalue()


def _code(version: str) -> bytes:
    return _zipped(f"def handle(event, context):\n    return {{'code': '{version}'}}\n")


TEMPLATE = {
    "Resources": {
        "Jobs": {"Type": "AWS::SQS::Queue", "Properties": {"VisibilityTimeout": 45}},
        "Setting": {
            "Type": "AWS::SSM::Parameter",
            "Properties": {"Type": "String", "Value": {"Fn::GetAtt": ["Jobs", "Arn"]}},
        },
        "Table": {
            "Type": "AWS::DynamoDB::Table",
            "Properties": {
                "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}],
                "AttributeDefinitions": [{"AttributeName": "id", "AttributeType": "S"}],
                "BillingMode": "PAY_PER_REQUEST",
            },
        },
    },
    "Outputs": {"JobsUrl": {"Value": {"Ref": "Jobs"}}},
}


def write_everything(cloud: CloudProcess) -> dict[str, Any]:
    """One or more acknowledged writes to each service; what to look for afterwards."""
    ddb = cloud.client("dynamodb")
    ddb.create_table(
        TableName="orders",
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
    )
    for number in range(20):
        ddb.put_item(TableName="orders", Item={"id": {"S": f"o{number}"}, "n": {"N": str(number)}})
    for _ in range(5):  # not idempotent: replayed exactly once each
        ddb.update_item(
            TableName="orders",
            Key={"id": {"S": "o1"}},
            UpdateExpression="ADD hits :one",
            ExpressionAttributeValues={":one": {"N": "1"}},
        )
    ddb.delete_item(TableName="orders", Key={"id": {"S": "o19"}})

    s3 = cloud.client("s3")
    s3.create_bucket(Bucket="uploads", CreateBucketConfiguration={"LocationConstraint": REGION})
    s3.put_object(Bucket="uploads", Key="a.txt", Body=b"alpha", Metadata={"owner": "ann"})
    s3.put_object(Bucket="uploads", Key="b.txt", Body=b"beta")
    s3.delete_object(Bucket="uploads", Key="b.txt")
    upload = s3.create_multipart_upload(Bucket="uploads", Key="big.bin")["UploadId"]
    part = s3.upload_part(
        Bucket="uploads", Key="big.bin", UploadId=upload, PartNumber=1, Body=b"z" * 1000
    )
    s3.complete_multipart_upload(
        Bucket="uploads",
        Key="big.bin",
        UploadId=upload,
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]},
    )

    sqs = cloud.client("sqs")
    queue = sqs.create_queue(QueueName="work")["QueueUrl"]
    sent = [sqs.send_message(QueueUrl=queue, MessageBody=f"m{n}")["MessageId"] for n in range(3)]
    [in_flight] = sqs.receive_message(QueueUrl=queue, VisibilityTimeout=120)["Messages"]

    ssm = cloud.client("ssm")
    ssm.put_parameter(Name="/app/mode", Value="blue", Type="String")
    ssm.put_parameter(Name="/app/mode", Value="green", Type="String", Overwrite=True)
    ssm.put_parameter(Name="/app/secret", Value="s3cr3t", Type="SecureString")

    iam = cloud.client("iam")
    role = iam.create_role(RoleName="runner", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    lam = cloud.client("lambda")
    lam.create_function(
        FunctionName="greeter",
        Runtime="python3.11",
        Role=role,
        Handler="handler.handle",
        Code={"ZipFile": _code("v1")},
    )
    assert lam.publish_version(FunctionName="greeter")["Version"] == "1"
    lam.update_function_code(FunctionName="greeter", ZipFile=_code("v2"))
    assert lam.publish_version(FunctionName="greeter")["Version"] == "2"
    lam.create_alias(FunctionName="greeter", Name="live", FunctionVersion="1")

    cfn = cloud.client("cloudformation")
    cfn.create_stack(StackName="jobs", TemplateBody=json.dumps(TEMPLATE))
    resources = cfn.describe_stack_resources(StackName="jobs")["StackResources"]

    sns = cloud.client("sns")
    topic = sns.create_topic(Name="alerts")["TopicArn"]
    queue_arn = f"arn:aws:sqs:{REGION}:{ACCOUNT}:work"
    subscription = sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)[
        "SubscriptionArn"
    ]
    logs = cloud.client("logs")
    logs.create_log_group(logGroupName="/app")
    logs.create_log_stream(logGroupName="/app", logStreamName="main")
    logs.put_log_events(
        logGroupName="/app",
        logStreamName="main",
        logEvents=[{"timestamp": int(time.time() * 1000), "message": "started"}],
    )
    cw = cloud.client("cloudwatch")
    cw.put_metric_data(Namespace="App", MetricData=[{"MetricName": "Jobs", "Value": 3.0}])
    cw.put_metric_alarm(
        AlarmName="too-many-jobs",
        Namespace="App",
        MetricName="Jobs",
        Statistic="Sum",
        Period=60,
        EvaluationPeriods=1,
        Threshold=10,
        ComparisonOperator="GreaterThanThreshold",
    )
    sfn = cloud.client("stepfunctions")
    machine = sfn.create_state_machine(
        name="flow",
        definition=json.dumps({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}),
        roleArn=role,
    )["stateMachineArn"]
    return {
        "queue": queue,
        "sent": sent,
        "in_flight": in_flight,
        "stack_resources": {r["LogicalResourceId"]: r["PhysicalResourceId"] for r in resources},
        "topic": topic,
        "subscription": subscription,
        "machine": machine,
    }


def check_everything(cloud: CloudProcess, written: dict[str, Any], *, in_flight: bool) -> None:
    ddb = cloud.client("dynamodb")
    items = ddb.scan(TableName="orders")["Items"]
    assert sorted(item["id"]["S"] for item in items) == sorted(f"o{n}" for n in range(19))
    hit = ddb.get_item(TableName="orders", Key={"id": {"S": "o1"}})["Item"]
    assert hit["hits"] == {"N": "5"}

    s3 = cloud.client("s3")
    listed = s3.list_objects_v2(Bucket="uploads")["Contents"]
    assert sorted(entry["Key"] for entry in listed) == ["a.txt", "big.bin"]
    alpha = s3.get_object(Bucket="uploads", Key="a.txt")
    assert (alpha["Body"].read(), alpha["Metadata"]) == (b"alpha", {"owner": "ann"})
    assert s3.get_object(Bucket="uploads", Key="big.bin")["Body"].read() == b"z" * 1000

    sqs = cloud.client("sqs")
    queue = written["queue"]
    attributes = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["All"])["Attributes"]
    if in_flight:  # still invisible: its visibility timeout has not run out
        assert attributes["ApproximateNumberOfMessagesNotVisible"] == "1"
        assert attributes["ApproximateNumberOfMessages"] == "2"

    ssm = cloud.client("ssm")
    mode = ssm.get_parameter(Name="/app/mode")["Parameter"]
    assert (mode["Value"], mode["Version"]) == ("green", 2)
    secret = ssm.get_parameter(Name="/app/secret", WithDecryption=True)["Parameter"]
    assert secret["Value"] == "s3cr3t"

    lam = cloud.client("lambda")
    versions = lam.list_versions_by_function(FunctionName="greeter")["Versions"]
    assert [v["Version"] for v in versions] == ["$LATEST", "1", "2"]
    assert lam.get_alias(FunctionName="greeter", Name="live")["FunctionVersion"] == "1"
    for qualifier, code in (("live", "v1"), ("2", "v2"), ("$LATEST", "v2")):
        answer = lam.invoke(FunctionName="greeter", Qualifier=qualifier, Payload=b"{}")
        assert json.loads(answer["Payload"].read()) == {"code": code}

    cfn = cloud.client("cloudformation")
    [stack] = cfn.describe_stacks(StackName="jobs")["Stacks"]
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    resources = cfn.describe_stack_resources(StackName="jobs")["StackResources"]
    physical = {r["LogicalResourceId"]: r["PhysicalResourceId"] for r in resources}
    assert physical == written["stack_resources"]
    assert stack["Outputs"][0]["OutputValue"] == physical["Jobs"]
    assert sqs.get_queue_attributes(
        QueueUrl=physical["Jobs"], AttributeNames=["VisibilityTimeout"]
    )["Attributes"] == {"VisibilityTimeout": "45"}
    queue_name = physical["Jobs"].rsplit("/", 1)[1]
    setting = ssm.get_parameter(Name=physical["Setting"])["Parameter"]["Value"]
    assert setting == f"arn:aws:sqs:{REGION}:{ACCOUNT}:{queue_name}"
    assert ddb.describe_table(TableName=physical["Table"])["Table"]["TableStatus"] == "ACTIVE"

    assert cloud.client("iam").get_role(RoleName="runner")["Role"]["RoleName"] == "runner"
    sns = cloud.client("sns")
    subscriptions = sns.list_subscriptions_by_topic(TopicArn=written["topic"])["Subscriptions"]
    assert [s["SubscriptionArn"] for s in subscriptions] == [written["subscription"]]
    events = cloud.client("logs").get_log_events(logGroupName="/app", logStreamName="main")
    assert [event["message"] for event in events["events"]] == ["started"]
    cw = cloud.client("cloudwatch")
    assert [m["MetricName"] for m in cw.list_metrics(Namespace="App")["Metrics"]] == ["Jobs"]
    assert [a["AlarmName"] for a in cw.describe_alarms()["MetricAlarms"]] == ["too-many-jobs"]
    machines = cloud.client("stepfunctions").list_state_machines()["stateMachines"]
    assert [m["stateMachineArn"] for m in machines] == [written["machine"]]


def test_every_acknowledged_write_survives_kill_9_and_a_clean_stop(tmp_path: Path) -> None:
    state_dir = tmp_path / "state"
    with cloud_on(state_dir, tmp_path, fresh=True) as cloud:
        written = write_everything(cloud)
        cloud.kill()

    with cloud_on(state_dir, tmp_path) as cloud:
        assert cloud.ready["restored"]["replayed"] > 50
        assert cloud.ready["restored"]["failed"] == []
        check_everything(cloud, written, in_flight=True)
        sqs = cloud.client("sqs")
        queue, held = written["queue"], written["in_flight"]
        visible = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10, WaitTimeSeconds=0)
        bodies = sorted(message["Body"] for message in visible["Messages"])
        assert held["Body"] not in bodies and len(bodies) == 2  # the received one stays hidden
        assert {m["MessageId"] for m in visible["Messages"]} | {held["MessageId"]} == set(
            written["sent"]
        )
        # the receipt handle the consumer got before the crash still deletes the message
        sqs.delete_message(QueueUrl=queue, ReceiptHandle=held["ReceiptHandle"])
        cloud.client("ssm").put_parameter(Name="/after/restart", Value="yes", Type="String")
        cloud.stop()

    with cloud_on(state_dir, tmp_path) as cloud:  # from the last snapshot alone
        assert cloud.ready["restored"]["replayed"] == 0
        check_everything(cloud, written, in_flight=False)
        attributes = cloud.client("sqs").get_queue_attributes(
            QueueUrl=written["queue"], AttributeNames=["All"]
        )["Attributes"]
        assert (
            int(attributes["ApproximateNumberOfMessages"])
            + int(attributes["ApproximateNumberOfMessagesNotVisible"])
            == 2
        )  # the deleted one is gone
        assert (
            cloud.client("ssm").get_parameter(Name="/after/restart")["Parameter"]["Value"] == "yes"
        )
        cloud.stop()

    with cloud_on(state_dir, tmp_path, fresh=True) as cloud:  # --fresh starts empty
        assert cloud.client("dynamodb").list_tables()["TableNames"] == []
        assert cloud.client("cloudformation").describe_stacks()["Stacks"] == []
        assert cloud.client("lambda").list_functions()["Functions"] == []
        cloud.stop()


def test_a_torn_journal_tail_is_ignored(tmp_path: Path) -> None:
    state_dir = tmp_path / "state"
    with cloud_on(state_dir, tmp_path, fresh=True) as cloud:
        ssm = cloud.client("ssm")
        for number in range(5):
            ssm.put_parameter(Name=f"/p/{number}", Value=str(number), Type="String")
        cloud.kill()
    [journal] = state_dir.glob("journal-*.log")
    data = bytearray(journal.read_bytes())
    end = scan(bytes(data)).valid_length
    torn = FRAME.pack(500, 12345, 99) + b"half a record"  # a write cut short by the crash
    data[end : end + len(torn)] = torn
    journal.write_bytes(bytes(data))

    with cloud_on(state_dir, tmp_path) as cloud:
        assert cloud.ready["restored"]["replayed"] == 5
        found = cloud.client("ssm").get_parameters_by_path(Path="/p")["Parameters"]
        assert sorted(p["Value"] for p in found) == ["0", "1", "2", "3", "4"]
        cloud.stop()
    assert "not a whole record" in (tmp_path / "cloud.log").read_text()
    assert not journal.exists()  # superseded by the snapshot taken after the restore


def test_a_state_directory_from_another_version_is_refused_with_a_hint(tmp_path: Path) -> None:
    state_dir = tmp_path / "state"
    state_dir.mkdir()
    (state_dir / "FORMAT").write_text(json.dumps({"format": 0, "moto": "4.2.0", "python": "3.9"}))
    with pytest.raises(AssertionError, match="did not start") as raised:
        CloudProcess(state_dir, tmp_path / "cloud.log")
    assert "--fresh" in str(raised.value)
    assert "moto 4.2.0" in str(raised.value)

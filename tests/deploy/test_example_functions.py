"""Each function of the deployed algorithms example, invoked through boto3 as a user's code
would, with the state it reads seeded first: each really uses DynamoDB, S3, SSM and Lambda of
the local cloud through its own boto3 calls, and logs START/END/REPORT lines to CloudWatch
Logs."""

from __future__ import annotations

import io
import json
import time
import zipfile
from typing import Any

from deploy_helpers import REGION, Algorithms

PREFIX = "algorithms-dev-"


def invoke(algorithms: Algorithms, key: str, event: dict[str, Any]) -> dict[str, Any]:
    answer = algorithms.client("lambda").invoke(
        FunctionName=PREFIX + key, Payload=json.dumps(event).encode()
    )
    payload: dict[str, Any] = json.loads(answer["Payload"].read())
    assert "FunctionError" not in answer, payload
    return payload


def seed_package(algorithms: Algorithms, algorithm: str, version: str, **item: Any) -> str:
    # Not a .zip: a .zip under packages/ would also start objects-processor (the bucket's
    # notification), which would record the upload again behind the test's back.
    key = f"packages/{algorithm}/{version}/package.bin"
    algorithms.client("s3").put_object(Bucket=algorithms.bucket, Key=key, Body=b"zip")
    algorithms.client("dynamodb").put_item(
        TableName=algorithms.table,
        Item={
            "algorithmId": {"S": algorithm},
            "uploadVersion": {"S": version},
            **{name: {"S": value} for name, value in item.items()},
        },
    )
    return key


def s3_event(bucket: str, key: str, size: int) -> dict[str, Any]:
    return {
        "Records": [
            {
                "eventSource": "aws:s3",
                "eventName": "ObjectCreated:Put",
                "eventTime": "2024-05-01T12:00:00.000Z",
                "awsRegion": REGION,
                "s3": {"bucket": {"name": bucket}, "object": {"key": key, "size": size}},
            }
        ]
    }


def item(algorithms: Algorithms, algorithm: str, version: str) -> dict[str, Any] | None:
    found: dict[str, Any] | None = (
        algorithms.client("dynamodb")
        .get_item(
            TableName=algorithms.table,
            Key={"algorithmId": {"S": algorithm}, "uploadVersion": {"S": version}},
            ConsistentRead=True,
        )
        .get("Item")
    )
    return found


def test_package_status_reads_the_bucket_and_the_table(algorithms: Algorithms) -> None:
    seed_package(algorithms, "status-a1", "1", status="PUBLISHED")

    present = invoke(
        algorithms, "package-status", {"algorithmId": "status-a1", "uploadVersion": "1"}
    )
    absent = invoke(
        algorithms, "package-status", {"algorithmId": "status-a9", "uploadVersion": "1"}
    )

    assert present == {"status": "DELETING", "objectsRemain": True, "recordRemains": True}
    assert absent == {"status": "DELETED", "objectsRemain": False, "recordRemains": False}


def test_package_delete_deletes_the_objects_and_the_record(algorithms: Algorithms) -> None:
    key = seed_package(algorithms, "delete-a1", "2", status="PUBLISHED")
    s3 = algorithms.client("s3")
    s3.put_object(Bucket=algorithms.bucket, Key=key.replace("package.", "extra."), Body=b"1")

    deleted = invoke(
        algorithms, "package-delete", {"algorithmId": "delete-a1", "uploadVersion": "2"}
    )

    assert deleted == {"algorithmId": "delete-a1", "uploadVersion": "2", "deletedObjects": 2}
    assert item(algorithms, "delete-a1", "2") is None
    listed = s3.list_objects_v2(Bucket=algorithms.bucket, Prefix="packages/delete-a1/")
    assert listed["KeyCount"] == 0


def test_objects_processor_records_uploads_against_the_ssm_limit(algorithms: Algorithms) -> None:
    # The size limit, 1000 bytes, was put in SSM before the first invocation (conftest).
    small = "packages/objects-a1/1/small.zip"
    large = "packages/objects-a1/2/large.zip"

    first = invoke(algorithms, "objects-processor", s3_event(algorithms.bucket, small, 10))
    second = invoke(algorithms, "objects-processor", s3_event(algorithms.bucket, large, 5000))

    assert first == second == {"recorded": 1}
    recorded = item(algorithms, "objects-a1", "1")
    rejected = item(algorithms, "objects-a1", "2")
    assert recorded is not None and recorded["status"] == {"S": "UPLOADED"}
    assert recorded["objectKey"] == {"S": small}
    assert rejected is not None and rejected["status"] == {"S": "REJECTED"}


def _algorithm_zip(marker: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("algorithm.py", f"def handler(event, context):\n    return '{marker}'\n")
    return buffer.getvalue()


def test_stream_processor_publishes_a_version_and_moves_the_alias(algorithms: Algorithms) -> None:
    lambdas = algorithms.client("lambda")
    role = algorithms.client("iam").create_role(
        RoleName="algorithm-stream-test", AssumeRolePolicyDocument="{}"
    )["Role"]["Arn"]
    lambdas.create_function(
        FunctionName="algorithm-dev-stream-a1",
        Runtime="python3.11",
        Role=role,
        Handler="algorithm.handler",
        Code={"ZipFile": _algorithm_zip("first")},
    )
    key = "packages/stream-a1/7/package.bin"
    algorithms.client("s3").put_object(
        Bucket=algorithms.bucket, Key=key, Body=_algorithm_zip("uploaded")
    )
    uploaded_at = "2024-05-01T12:00:00.000Z"
    image = {
        "algorithmId": {"S": "stream-a1"},
        "uploadVersion": {"S": "7"},
        "status": {"S": "UPLOADED"},
        "bucket": {"S": algorithms.bucket},
        "objectKey": {"S": key},
        "uploadedAt": {"S": uploaded_at},
    }
    algorithms.client("dynamodb").put_item(TableName=algorithms.table, Item=image)
    record = {
        "eventID": "1",
        "eventName": "INSERT",
        "eventSource": "aws:dynamodb",
        "awsRegion": REGION,
        "dynamodb": {
            "Keys": {"algorithmId": image["algorithmId"], "uploadVersion": image["uploadVersion"]},
            "NewImage": image,
            "SequenceNumber": "100",
            "StreamViewType": "NEW_AND_OLD_IMAGES",
        },
    }

    answer = invoke(algorithms, "stream-processor", {"Records": [record]})

    assert answer == {"batchItemFailures": []}
    alias = lambdas.get_alias(FunctionName="algorithm-dev-stream-a1", Name="prod")
    assert alias["FunctionVersion"] == "1"
    ran = lambdas.invoke(FunctionName="algorithm-dev-stream-a1", Qualifier="prod")
    assert json.loads(ran["Payload"].read()) == "uploaded"
    published = item(algorithms, "stream-a1", "7")
    assert published is not None and published["status"] == {"S": "PUBLISHED"}
    assert published["publishedVersion"] == {"S": "1"}


def test_an_upload_starts_objects_processor_through_the_bucket_notification(
    algorithms: Algorithms,
) -> None:
    key = "packages/notified-a1/3/package.zip"

    algorithms.client("s3").put_object(Bucket=algorithms.bucket, Key=key, Body=b"x" * 10)

    deadline = time.monotonic() + 10
    while (recorded := item(algorithms, "notified-a1", "3")) is None:
        assert time.monotonic() < deadline, "objects-processor did not record the upload"
        time.sleep(0.05)
    assert recorded["status"] == {"S": "UPLOADED"} and recorded["objectKey"] == {"S": key}


def test_an_invocation_is_logged_with_start_end_and_report(algorithms: Algorithms) -> None:
    invoke(algorithms, "package-status", {"algorithmId": "logs-a1", "uploadVersion": "1"})
    logs = algorithms.client("logs")

    deadline = time.monotonic() + 5
    messages: list[str] = []
    while time.monotonic() < deadline:
        events = logs.filter_log_events(logGroupName=f"/aws/lambda/{PREFIX}package-status")
        messages = [event["message"] for event in events["events"]]
        if any(message.startswith("REPORT") for message in messages):
            break
        time.sleep(0.05)

    assert any(message.startswith("START RequestId:") for message in messages)
    assert any(message.startswith("END RequestId:") for message in messages)
    report = next(message for message in messages if message.startswith("REPORT"))
    assert "Billed Duration:" in report and "Max Memory Used:" in report
    assert any('"logger": "src.package_status"' in message for message in messages)

"""The inline handler of the Custom::S3 resource for existing buckets, taken from the compiled
template and run as Lambda would run it, against an in-memory S3 and a local ResponseURL."""

from __future__ import annotations

import copy
import hashlib
import json
import sys
import threading
import types
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import pytest
from conftest import Compile, Template


@pytest.fixture
def existing(compile_project: Compile) -> Template:
    return compile_project("ev-s3-existing-bucket")


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

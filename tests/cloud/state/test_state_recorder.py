"""Which requests durable state records (basegear/cloud/state/recorder.py), the gate that keeps
snapshots consistent with the journal, and a recorded request's round trip through a real
router: journaled only when answered 2xx, drawn ids reproducible from its seed."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest

from basegear.cloud.gateway import Router
from basegear.cloud.protocol import AwsRequest, AwsResponse
from basegear.cloud.state import moto_core
from basegear.cloud.state.codec import RequestRecord, scan
from basegear.cloud.state.journal import Journal
from basegear.cloud.state.recorder import Gate, Recorder, records


def request(
    service: str,
    action: str | None,
    *,
    method: str = "POST",
    path: str = "/",
    body: bytes = b"",
    headers: dict[str, str] | None = None,
) -> AwsRequest:
    return AwsRequest(
        method=method,
        path=path,
        query={},
        headers=headers or {},
        body=body,
        service=service,
        region="eu-west-1",
        account="123456789012",
        action=action,
    )


@pytest.mark.parametrize(
    ("service", "action", "method", "path", "recorded"),
    [
        ("dynamodb", "PutItem", "POST", "/", True),
        ("dynamodb", "GetItem", "POST", "/", False),
        ("dynamodb", "Query", "POST", "/", False),
        ("dynamodb", "BatchGetItem", "POST", "/", False),
        ("dynamodb", "TransactWriteItems", "POST", "/", True),
        ("sqs", "ReceiveMessage", "POST", "/", True),  # moves messages in flight
        ("sqs", "ListQueues", "POST", "/", False),
        ("ssm", "PutParameter", "POST", "/", True),
        ("logs", "FilterLogEvents", "POST", "/", False),
        ("s3", None, "PUT", "/bucket/key", True),
        ("s3", None, "DELETE", "/bucket/key", True),
        ("s3", None, "GET", "/bucket/key", False),
        ("s3", None, "HEAD", "/bucket/key", False),
        ("lambda", None, "POST", "/2015-03-31/functions", True),
        ("lambda", None, "POST", "/2015-03-31/functions/f/versions", True),
        ("lambda", None, "POST", "/2015-03-31/functions/f/invocations", False),
        ("lambda", None, "POST", "/2014-11-13/functions/f/invoke-async/", False),
        ("execute-api", None, "POST", "/prod/items", False),
    ],
)
def test_what_is_recorded(
    service: str, action: str | None, method: str, path: str, recorded: bool
) -> None:
    assert records(request(service, action, method=method, path=path)) is recorded


def test_the_gate_lets_readers_in_while_a_snapshot_waits() -> None:
    gate = Gate()
    gate.enter()
    assert not gate.acquire_exclusive(0.05)  # a write in flight
    gate.enter()  # a second one still gets in (readers are preferred)
    gate.leave()
    gate.leave()
    assert gate.acquire_exclusive(0.05)
    entered = threading.Event()
    thread = threading.Thread(target=lambda: (gate.enter(), entered.set()))
    thread.start()
    time.sleep(0.05)
    assert not entered.is_set()  # writes wait while the snapshot is taken
    gate.release_exclusive()
    thread.join(5)
    assert entered.is_set()


def create_table(name: str) -> AwsRequest:
    body = {
        "TableName": name,
        "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
        "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}],
        "BillingMode": "PAY_PER_REQUEST",
    }
    return request(
        "dynamodb",
        "CreateTable",
        body=json.dumps(body).encode(),
        headers={
            "x-amz-target": "DynamoDB_20120810.CreateTable",
            "content-type": "application/x-amz-json-1.0",
            "authorization": "AWS4-HMAC-SHA256 Credential=AKID/20240101/eu-west-1/dynamodb/"
            "aws4_request, SignedHeaders=host, Signature=" + "ab" * 32,
            "user-agent": "Boto3",
        },
    )


def test_a_recorded_write_is_journaled_with_its_seed_and_without_secrets(tmp_path: Path) -> None:
    moto_core.install_random()
    router = Router()
    journal = Journal(lambda generation: tmp_path / f"journal-{generation}", 1)
    router.recorder = Recorder(journal, Gate(), {})
    name = f"recorded-{time.monotonic_ns()}"
    created = router.dispatch(create_table(name))
    again = router.dispatch(create_table(name))  # ResourceInUseException: not recorded
    journal.close()
    router.recorder = None
    assert (created.status, again.status) == (200, 400)
    [(_, record)] = scan((tmp_path / "journal-1").read_bytes()).records
    assert isinstance(record, RequestRecord)
    assert (record.action, record.body) == ("CreateTable", create_table(name).body)
    headers = dict(record.headers)
    assert "user-agent" not in headers
    assert headers["authorization"].endswith("Signature=0")


def test_ids_drawn_for_a_recorded_request_come_from_its_seed() -> None:
    from moto.moto_api._internal import mock_random

    moto_core.install_random()
    token = moto_core.ACTIVE.set(moto_core.new_random(42))
    try:
        drawn = (mock_random.uuid4(), mock_random.get_random_hex(12), mock_random.choice("abc"))
    finally:
        moto_core.ACTIVE.reset(token)
    again = moto_core.new_random(42)
    assert drawn == (again.uuid4(), again.get_random_hex(12), again.choice("abc"))
    outside = mock_random.uuid4()  # outside a recording: moto's own (seedable) generator
    mock_random.seed(5)
    first = mock_random.uuid4()
    mock_random.seed(5)
    assert mock_random.uuid4() == first != outside


def test_a_failed_answer_releases_the_gate(tmp_path: Path) -> None:
    journal = Journal(lambda generation: tmp_path / f"journal-{generation}", 1)
    gate = Gate()
    recorder = Recorder(journal, gate, {})
    recording = recorder.begin(request("sqs", "SendMessage"))
    assert recording is not None
    recording.finish(AwsResponse(500))
    recording.wait_durable()  # nothing to wait for
    assert gate.acquire_exclusive(0.05)
    gate.release_exclusive()
    journal.close()
    assert scan((tmp_path / "journal-1").read_bytes()).records == ()

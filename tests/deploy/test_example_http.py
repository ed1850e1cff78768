"""The example's package-delete flow over HTTP (DESIGN.md): ``DELETE /v1/algorithm`` through
API Gateway — a private method behind an API key, whose request template starts the
PackageDelete state machine — then the execution's Task → Wait → Choice loop on the cloud's
clock. API Gateway developer guide, "Require an API key on a method" and "Set up an API
integration request … AWS service"; Step Functions developer guide, "Wait state"."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from typing import Any
from urllib.parse import urlsplit

from deploy_helpers import Algorithms

from basegear.cloud.clock import VirtualClock

API_KEY = "algorithms-dev-4f7c1e9a2b6d8035"  # provider.apiGateway.apiKeys, stage dev


def _delete(algorithms: Algorithms, query: str, key: str | None) -> tuple[int, Any]:
    api = urlsplit(algorithms.service.outputs["ServiceEndpoint"]).hostname.split(".")[0]  # type: ignore[union-attr]
    url = f"{algorithms.cloud.endpoint_url}/restapis/{api}/dev/_user_request_/v1/algorithm?{query}"
    headers = {"x-api-key": key} if key else {}
    request = urllib.request.Request(url, method="DELETE", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def _execution(algorithms: Algorithms, arn: str, status: str) -> dict[str, Any]:
    deadline = time.monotonic() + 20
    while True:
        described: dict[str, Any] = algorithms.client("stepfunctions").describe_execution(
            executionArn=arn
        )
        if described["status"] == status:
            return described
        assert time.monotonic() < deadline, described
        time.sleep(0.05)


def _states_entered(algorithms: Algorithms, arn: str) -> list[str]:
    events = algorithms.client("stepfunctions").get_execution_history(executionArn=arn)["events"]
    return [
        event["stateEnteredEventDetails"]["name"]
        for event in events
        if "stateEnteredEventDetails" in event
    ]


def test_delete_without_the_api_key_is_forbidden(algorithms: Algorithms) -> None:
    assert _delete(algorithms, "algorithmId=a1&uploadVersion=1", None) == (
        403,
        {"message": "Forbidden"},
    )


def test_delete_starts_the_execution_which_loops_until_the_package_is_gone(
    algorithms: Algorithms, manual_clock: VirtualClock
) -> None:
    s3, ddb = algorithms.client("s3"), algorithms.client("dynamodb")
    s3.put_object(Bucket=algorithms.bucket, Key="packages/http-a1/1/package.bin", Body=b"zip")
    ddb.put_item(
        TableName=algorithms.table,
        Item={"algorithmId": {"S": "http-a1"}, "uploadVersion": {"S": "1"}},
    )

    status, body = _delete(algorithms, "algorithmId=http-a1&uploadVersion=1", API_KEY)

    assert status == 200, body
    assert set(body) == {"executionArn", "startDate"}  # the response template's JSON
    arn = body["executionArn"]
    _execution(algorithms, arn, "RUNNING")
    deadline = time.monotonic() + 20
    while "WaitForDeletion" not in _states_entered(algorithms, arn):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    time.sleep(0.2)
    assert _execution(algorithms, arn, "RUNNING")  # waiting: the clock has not moved
    manual_clock.advance(5)
    described = _execution(algorithms, arn, "SUCCEEDED")
    assert json.loads(described["output"])["packageStatus"]["status"] == "DELETED"
    assert _states_entered(algorithms, arn) == [
        "DeletePackage",
        "WaitForDeletion",
        "CheckPackageStatus",
        "IsPackageGone",
        "PackageDeleted",
    ]
    assert "Item" not in ddb.get_item(
        TableName=algorithms.table,
        Key={"algorithmId": {"S": "http-a1"}, "uploadVersion": {"S": "1"}},
    )


def test_a_failing_task_is_caught_and_the_execution_ends_as_defined(
    algorithms: Algorithms, manual_clock: VirtualClock
) -> None:
    status, body = _delete(algorithms, "algorithmId=not%20valid!&uploadVersion=1", API_KEY)

    assert status == 200, body
    described = _execution(algorithms, body["executionArn"], "FAILED")
    assert described["error"] == "InvalidPackageId"  # caught, then the InvalidRequest Fail state
    assert _states_entered(algorithms, body["executionArn"]) == ["DeletePackage", "InvalidRequest"]

"""The Lambda control plane and runtime as a user's boto3 code meets them in the local cloud the
example was deployed into: 60+ versions paged at 50, an alias moved with routing weights,
reserved concurrency throttling, a handler timing out."""

from __future__ import annotations

import io
import json
import time
import zipfile
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError
from deploy_helpers import Algorithms

HANDLER = """
import time

def handler(event, context):
    if "started" in event:
        open(event["started"], "w").close()
    time.sleep(event.get("sleep", 0))
    return {"version": context.function_version}
"""


def _zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("handler.py", HANDLER)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def lambdas(algorithms: Algorithms) -> Any:
    return algorithms.client("lambda")


def _create(algorithms: Algorithms, name: str, **settings: Any) -> None:
    iam = algorithms.client("iam")
    try:
        role = iam.get_role(RoleName="e2e-functions")["Role"]["Arn"]
    except iam.exceptions.NoSuchEntityException:
        role = iam.create_role(RoleName="e2e-functions", AssumeRolePolicyDocument="{}")["Role"][
            "Arn"
        ]
    algorithms.client("lambda").create_function(
        FunctionName=name,
        Runtime="python3.11",
        Role=role,
        Handler="handler.handler",
        Code={"ZipFile": _zip()},
        **settings,
    )


def _invoke(lambdas: Any, name: str, event: dict[str, Any], **options: Any) -> dict[str, Any]:
    answer: dict[str, Any] = lambdas.invoke(
        FunctionName=name, Payload=json.dumps(event).encode(), **options
    )
    answer["Body"] = json.loads(answer["Payload"].read())
    return answer


def test_sixty_five_versions_page_at_fifty(algorithms: Algorithms, lambdas: Any) -> None:
    _create(algorithms, "e2e-versions")
    for number in range(1, 66):
        lambdas.update_function_configuration(
            FunctionName="e2e-versions", Environment={"Variables": {"N": str(number)}}
        )
        assert lambdas.publish_version(FunctionName="e2e-versions")["Version"] == str(number)

    pages = list(
        lambdas.get_paginator("list_versions_by_function").paginate(FunctionName="e2e-versions")
    )

    assert [len(page["Versions"]) for page in pages] == [50, 16]
    versions = [item["Version"] for page in pages for item in page["Versions"]]
    assert versions == ["$LATEST", *(str(number) for number in range(1, 66))]
    first = lambdas.list_versions_by_function(FunctionName="e2e-versions")
    assert first["NextMarker"] and "NextMarker" not in pages[-1]


def test_an_alias_with_weights_runs_both_versions(algorithms: Algorithms, lambdas: Any) -> None:
    _create(algorithms, "e2e-alias")
    for number in (1, 2):
        lambdas.update_function_configuration(
            FunctionName="e2e-alias", Environment={"Variables": {"N": str(number)}}
        )
        lambdas.publish_version(FunctionName="e2e-alias")
    lambdas.create_alias(FunctionName="e2e-alias", Name="live", FunctionVersion="1")

    lambdas.update_alias(
        FunctionName="e2e-alias",
        Name="live",
        FunctionVersion="1",
        RoutingConfig={"AdditionalVersionWeights": {"2": 0.5}},
    )
    ran = Counter(
        _invoke(lambdas, "e2e-alias", {}, Qualifier="live")["ExecutedVersion"] for _ in range(60)
    )

    assert set(ran) == {"1", "2"}
    assert min(ran.values()) >= 10  # 60 draws at 50 %: fewer than 10 has odds below 1e-8
    lambdas.update_alias(FunctionName="e2e-alias", Name="live", FunctionVersion="2")
    moved = _invoke(lambdas, "e2e-alias", {}, Qualifier="live")
    assert moved["ExecutedVersion"] == "2" and moved["Body"] == {"version": "2"}


def test_reserved_concurrency_throttles_with_429(
    algorithms: Algorithms, lambdas: Any, tmp_path: Path
) -> None:
    _create(algorithms, "e2e-reserved")
    lambdas.put_function_concurrency(FunctionName="e2e-reserved", ReservedConcurrentExecutions=1)
    started = tmp_path / "started"

    with ThreadPoolExecutor(2) as pool:
        event = {"sleep": 0.5, "started": str(started)}
        busy = pool.submit(_invoke, lambdas, "e2e-reserved", event)
        deadline = time.monotonic() + 10
        while not started.exists():
            assert time.monotonic() < deadline, "the first invocation did not start"
            time.sleep(0.005)
        with pytest.raises(ClientError) as throttled:
            _invoke(lambdas, "e2e-reserved", {})
        assert busy.result()["Body"] == {"version": "$LATEST"}

    response = throttled.value.response
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 429
    assert response["Error"]["Code"] == "TooManyRequestsException"
    assert response["Reason"] == "ReservedFunctionConcurrentInvocationLimitExceeded"


def test_a_handler_that_runs_too_long_times_out(algorithms: Algorithms, lambdas: Any) -> None:
    _create(algorithms, "e2e-timeout", Timeout=1)

    answer = _invoke(lambdas, "e2e-timeout", {"sleep": 5})

    assert answer["StatusCode"] == 200 and answer["FunctionError"] == "Unhandled"
    assert answer["Body"]["errorType"] == "Sandbox.Timedout"
    assert answer["Body"]["errorMessage"].endswith("Task timed out after 1.00 seconds")
    after = _invoke(lambdas, "e2e-timeout", {})  # a new worker replaced the killed one
    assert after["Body"] == {"version": "$LATEST"}

"""Stopping the local cloud's Lambda service under load, as a user's boto3 code sees it: an
invocation in flight answers 500 ServiceException, and so does one made afterwards; no thread
of the cloud is left with an exception (lambdas/conftest.py fails the test if one is)."""

from __future__ import annotations

import io
import threading
import time
import zipfile
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError
from lambda_helpers import wait_gone

from basegear.cloud import motoshim
from basegear.cloud.providers.lambda_api import LambdaService
from basegear.cloud.server import LocalCloud

SLOW = "import time\ndef handler(event, context):\n    time.sleep(event['sleep'])\n    return 1\n"


def _zip(source: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("handler.py", source)
    return buffer.getvalue()


def test_closing_the_service_answers_invocations_in_flight(tmp_path: Path) -> None:
    motoshim.install()
    cloud = LocalCloud(port=0).start()
    service = LambdaService(cloud.endpoint_url, cache_dir=tmp_path)
    service.start()
    for provider in service.providers:
        cloud.add_provider(provider)
    session = boto3.session.Session(
        aws_access_key_id="test", aws_secret_access_key="test", region_name="eu-west-1"
    )
    config = Config(retries={"max_attempts": 0}, read_timeout=30)
    client: Any = session.client("lambda", endpoint_url=cloud.endpoint_url, config=config)
    iam: Any = session.client("iam", endpoint_url=cloud.endpoint_url)
    zygote = None
    try:
        role = iam.create_role(RoleName="shutdown", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
        client.create_function(
            FunctionName="shutdown-slow",
            Runtime="python3.11",
            Role=role,
            Handler="handler.handler",
            Code={"ZipFile": _zip(SLOW)},
        )
        assert client.invoke(FunctionName="shutdown-slow", Payload=b'{"sleep": 0}')["StatusCode"]
        zygote = service.runtime.zygote_pid
        errors: list[ClientError] = []

        def call() -> None:
            try:
                client.invoke(FunctionName="shutdown-slow", Payload=b'{"sleep": 20}')
            except ClientError as exc:
                errors.append(exc)

        caller = threading.Thread(target=call)
        caller.start()
        time.sleep(0.3)  # the handler is asleep now
        started = time.monotonic()
        service.close()
        caller.join(timeout=10)
        assert not caller.is_alive() and time.monotonic() - started < 5
        [error] = errors
        assert error.response["Error"]["Code"] == "ServiceException"
        assert error.response["ResponseMetadata"]["HTTPStatusCode"] == 500
        assert error.response["Error"]["Message"] == "The local cloud is shutting down."

        try:
            client.invoke(FunctionName="shutdown-slow", Payload=b'{"sleep": 0}')
        except ClientError as exc:
            assert exc.response["Error"]["Code"] == "ServiceException"
        else:
            raise AssertionError("an invocation after close() ran")
    finally:
        for provider in service.providers:
            cloud.remove_provider(provider)
        service.close()
        cloud.stop()
        cloud.reset()
    assert zygote is not None and wait_gone(zygote)

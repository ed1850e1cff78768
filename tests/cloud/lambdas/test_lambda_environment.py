"""What a handler sees: AWS's runtime variables, its own, the context object — and never the
real credentials of the process that runs the local cloud."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from pathlib import Path

import pytest
from lambda_helpers import Tracked, wait_gone

from basegear.cloud.lambdas.runtime import LambdaRuntime
from basegear.cloud.lambdas.spec import FunctionSpec

SNOOP = """
import os, time

def handler(event, context):
    with open("/proc/self/environ", "rb") as f:
        initial = f.read().decode("utf-8", "replace")
    home = os.path.expanduser("~")
    import boto3
    creds = boto3.session.Session().get_credentials()
    return {
        "env": dict(os.environ),
        "proc": initial,
        "cwd": os.getcwd(),
        "localtime": time.strftime("%z"),
        "boto3": [creds.access_key, creds.secret_key, creds.token, creds.method],
    }

def context(event, context):
    first = context.get_remaining_time_in_millis()
    time.sleep(0.05)
    cc = context.client_context
    return {
        "aws_request_id": context.aws_request_id,
        "function_name": context.function_name,
        "function_version": context.function_version,
        "invoked_function_arn": context.invoked_function_arn,
        "memory_limit_in_mb": context.memory_limit_in_mb,
        "log_group_name": context.log_group_name,
        "log_stream_name": context.log_stream_name,
        "identity": [context.identity.cognito_identity_id,
                     context.identity.cognito_identity_pool_id],
        "client": None if cc is None else [cc.client.app_title, cc.custom, cc.env],
        "remaining": [first, context.get_remaining_time_in_millis()],
    }
"""

SECRETS = {
    "AWS_ACCESS_KEY_ID": "AKIAREALREALREAL0001",
    "AWS_SECRET_ACCESS_KEY": "real-secret-do-not-leak-0001",
    "AWS_SESSION_TOKEN": "real-session-token-0001",
    "AWS_SECURITY_TOKEN": "real-security-token-0001",
    "AWS_PROFILE": "real-production-profile",
    "AWS_DEFAULT_PROFILE": "real-default-profile",
    "AWS_CONFIG_FILE": "/real/aws/config-0001",
    "AWS_SHARED_CREDENTIALS_FILE": "/real/aws/credentials-0001",
    "AWS_WEB_IDENTITY_TOKEN_FILE": "/real/web-identity-token-0001",
    "AWS_ROLE_ARN": "arn:aws:iam::999999999999:role/real-role-0001",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI": "/v2/credentials/real-0001",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI": "http://169.254.170.2/real-0001",
    "AWS_CONTAINER_AUTHORIZATION_TOKEN": "real-container-token-0001",
    "UNRELATED_SECRET": "real-unrelated-0001",
}


@pytest.fixture
def snoop(write_code: Callable[..., Path]) -> Path:
    return write_code(SNOOP)


def test_real_credentials_never_reach_a_handler(
    snoop: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    spec = FunctionSpec(
        name="snoop",
        handler="handler.handler",
        code_dir=snoop,
        # The function's own settings cannot bring a profile or keys back either.
        environment={"AWS_PROFILE": "real-production-profile", "STAGE": "dev"},
        account="111122223333",
    )
    with LambdaRuntime(endpoint_url="http://127.0.0.1:4566") as runtime:
        result = runtime.invoke(spec, b"{}")
        pids = runtime.worker_pids(spec)
    assert all(wait_gone(pid) for pid in pids)

    text = result.payload.decode()
    for value in SECRETS.values():
        assert value not in text
    body = json.loads(text)
    env = body["env"]
    assert env["AWS_ACCESS_KEY_ID"] == "111122223333"
    assert env["AWS_SECRET_ACCESS_KEY"] and env["AWS_SESSION_TOKEN"]
    assert env["AWS_CONFIG_FILE"] == env["AWS_SHARED_CREDENTIALS_FILE"] == "/dev/null"
    assert "AWS_PROFILE" not in env and "UNRELATED_SECRET" not in env
    assert env["STAGE"] == "dev"
    # boto3 inside the handler resolves the dummy keys from the environment.
    assert body["boto3"][0] == "111122223333" and body["boto3"][3] == "env"


def test_aws_runtime_variables(tracked: Tracked, snoop: Path, unique_name: str) -> None:
    spec = FunctionSpec(
        name=unique_name,
        handler="handler.handler",
        code_dir=snoop,
        memory_size=256,
        environment={"TABLE": "uploads", "AWS_REGION": "ignored"},
        region="eu-west-1",
    )
    body = tracked.invoke(spec, {}).json()
    assert isinstance(body, dict)
    env = body["env"]

    assert env["AWS_LAMBDA_FUNCTION_NAME"] == unique_name
    assert env["AWS_LAMBDA_FUNCTION_VERSION"] == "$LATEST"
    assert env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == "256"
    assert env["AWS_LAMBDA_LOG_GROUP_NAME"] == f"/aws/lambda/{unique_name}"
    assert env["AWS_LAMBDA_LOG_STREAM_NAME"].count("/") == 3
    assert "[$LATEST]" in env["AWS_LAMBDA_LOG_STREAM_NAME"]
    assert env["AWS_REGION"] == env["AWS_DEFAULT_REGION"] == "eu-west-1"  # reserved names win
    assert env["_HANDLER"] == "handler.handler"
    assert env["LAMBDA_TASK_ROOT"] == str(snoop) == body["cwd"]
    assert env["LAMBDA_RUNTIME_DIR"]
    assert env["AWS_EXECUTION_ENV"] == "AWS_Lambda_python3.11"
    assert env["AWS_LAMBDA_INITIALIZATION_TYPE"] == "on-demand"
    assert env["TZ"] == ":UTC" and body["localtime"] == "+0000"
    assert env["AWS_ENDPOINT_URL"] == "http://127.0.0.1:1"
    assert env["TABLE"] == "uploads"


def test_context_object(tracked: Tracked, snoop: Path, unique_name: str) -> None:
    spec = FunctionSpec(
        name=unique_name, handler="handler.context", code_dir=snoop, version="3", timeout=2.0
    )
    client_context = json.dumps(
        {"client": {"app_title": "uploader"}, "custom": {"k": "v"}, "env": {"locale": "en"}}
    )
    result = tracked.invoke(spec, {}, qualifier="prod", client_context=client_context)
    body = result.json()
    assert isinstance(body, dict)

    assert body["aws_request_id"] == result.request_id
    assert body["function_name"] == unique_name
    assert body["function_version"] == "3"
    assert body["invoked_function_arn"] == (
        f"arn:aws:lambda:us-east-1:123456789012:function:{unique_name}:prod"
    )
    assert body["memory_limit_in_mb"] == "128"
    assert body["log_group_name"] == f"/aws/lambda/{unique_name}"
    assert "[3]" in body["log_stream_name"]
    assert body["identity"] == [None, None]
    assert body["client"] == ["uploader", {"k": "v"}, {"locale": "en"}]
    first, later = body["remaining"]
    assert 1500 < first <= 2000 and later <= first - 40
    unqualified = tracked.invoke(spec, {}).json()
    assert isinstance(unqualified, dict) and unqualified["client"] is None
    assert unqualified["invoked_function_arn"].endswith(f":function:{unique_name}")


def test_log_result_is_the_base64_tail_of_the_log(
    tracked: Tracked, snoop: Path, unique_name: str
) -> None:
    spec = FunctionSpec(name=unique_name, handler="handler.context", code_dir=snoop)
    result = tracked.invoke(spec, {})
    tail = base64.b64decode(result.log_result()).decode()
    assert tail == result.log[-4096:] and tail.startswith("INIT_START")
    assert "REPORT RequestId" in tail

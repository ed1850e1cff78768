"""Helpers for the event source tests: functions created from source text, unique names."""

from __future__ import annotations

import io
import json
import os
import select
import signal
import subprocess
import sys
import textwrap
import uuid
import zipfile
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

ROOT = Path(__file__).resolve().parents[3]
SERVE = ROOT / "tests" / "cloud" / "state" / "serve_cloud.py"

ROLE_NAME = "events-test"


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def zipped(files: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, text in files.items():
            archive.writestr(name, textwrap.dedent(text))
    return buffer.getvalue()


def create_function(
    lambda_client: Any, source: str, *, name: str | None = None, **settings: Any
) -> str:
    """A Python function whose ``handler.handler`` is ``source``; returns its ARN. Its role
    is made in the same cloud (moto checks that it exists)."""
    created = lambda_client.create_function(
        FunctionName=name or unique("fn"),
        Runtime="python3.12",
        Role=role(lambda_client),
        Handler="handler.handler",
        Code={"ZipFile": zipped({"handler.py": source})},
        **settings,
    )
    arn: str = created["FunctionArn"]
    return arn


def role(lambda_client: Any) -> str:
    """The tests' execution role, created once per cloud."""
    import boto3

    iam = boto3.client(
        "iam",
        region_name="us-east-1",
        endpoint_url=lambda_client.meta.endpoint_url,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    try:
        arn: str = iam.get_role(RoleName=ROLE_NAME)["Role"]["Arn"]
    except iam.exceptions.NoSuchEntityException:
        arn = iam.create_role(RoleName=ROLE_NAME, AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    return arn


class Cloud:
    """``serve_cloud.py`` on ``state_dir``: started at once, stopped cleanly or killed."""

    def __init__(self, state_dir: Path, log: Path) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        with log.open("ab") as stderr:
            self.process = subprocess.Popen(
                [sys.executable, str(SERVE), str(state_dir)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=stderr,
                cwd=ROOT,
                env=env,
            )
        assert self.process.stdout is not None
        readable, _, _ = select.select([self.process.stdout], [], [], 60)
        line = self.process.stdout.readline() if readable else b""
        assert line, log.read_text()[-3000:]
        self.endpoint = json.loads(line)["endpoint"]
        self.log = log

    def client(self, service: str) -> Any:
        return boto3.client(
            service,
            region_name="us-east-1",
            endpoint_url=self.endpoint,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            config=Config(retries={"total_max_attempts": 1}, account_id_endpoint_mode="disabled"),
        )

    def stop(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        assert self.process.wait(60) == 0, self.log.read_text()[-3000:]

    def kill(self) -> None:
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait(30)

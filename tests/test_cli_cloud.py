"""``gear up`` as a user runs it — a real process on an ephemeral 127.0.0.1 port, serving a copy
of the algorithms example — and the commands that talk to it: status, invoke, logs, deploy and
down. ``gear up`` runs under ``timeout``, so it stops by itself even if the tests die."""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from basegear.cli import main
from basegear.cloud.record import CloudRecord, process_alive, read_record, record_path

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "algorithms"
TABLE_PROJECT = ROOT / "tests" / "fixtures" / "projects" / "deploy-table"
GEAR = (sys.executable, "-m", "basegear")
LIFETIME = 120  # seconds; ``timeout`` stops gear up after that whatever happens


@dataclass
class Running:
    folder: Path
    process: subprocess.Popen[bytes]
    record: CloudRecord
    ready_seconds: float

    @property
    def screen(self) -> str:
        return (self.folder / "up.out").read_text()


def _copy_example(folder: Path) -> None:
    shutil.copytree(
        EXAMPLE,
        folder / "algorithms",
        ignore=shutil.ignore_patterns("node_modules", ".gear", "__pycache__"),
    )


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    folder = tmp_path_factory.mktemp("gear-up")
    _copy_example(folder)
    command = ["timeout", str(LIFETIME), *GEAR, "up", "algorithms/static", "algorithms"]
    command += ["--port", "0", "--state-dir", str(folder / "state")]
    started = time.monotonic()
    with open(folder / "up.out", "wb") as out, open(folder / "up.err", "wb") as err:
        process = subprocess.Popen(command, cwd=folder, stdout=out, stderr=err)
    try:
        while (record := read_record(folder)) is None:
            if process.poll() is not None:
                pytest.fail(f"gear up stopped: {(folder / 'up.err').read_text()}")
            assert time.monotonic() - started < 60, "gear up was not ready in 60 s"
            time.sleep(0.02)
        yield Running(folder, process, record, time.monotonic() - started)
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()


@pytest.fixture
def in_folder(running: Running, monkeypatch: pytest.MonkeyPatch) -> Running:
    monkeypatch.chdir(running.folder)
    return running


def test_gear_up_deploys_and_shows_one_screen(running: Running) -> None:
    screen = running.screen
    port = int(running.record.endpoint_url.rsplit(":", 1)[1])

    assert screen.startswith(f"local cloud  http://127.0.0.1:{port}\n")
    assert re.search(r"algorithms-static-dev\s+algorithms/static\s+created in", screen)
    assert re.search(r"algorithms-dev\s+algorithms\s+created in", screen)
    assert re.search(
        rf"REST API\s+http://\w+\.execute-api\.eu-west-1\.localhost:{port}/dev\n", screen
    )
    assert re.search(r"package-status\s+algorithms-dev-package-status\s+src/package_status", screen)
    assert re.search(r"UploadsTableName\s+algorithms-uploads-dev", screen)
    assert "ready in" in screen
    assert running.record.services == ("algorithms/static", "algorithms")
    print(f"gear up of the example: ready after {running.ready_seconds:.2f} s (process start)")


def _client(running: Running, service: str) -> Any:
    import boto3
    from botocore.config import Config

    return boto3.client(
        service,
        region_name="eu-west-1",
        endpoint_url=running.record.endpoint_url,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(retries={"total_max_attempts": 1}, account_id_endpoint_mode="disabled"),
    )


def test_an_uploaded_package_is_published_through_s3_and_the_stream(running: Running) -> None:
    """The example's upload flow under gear up: the packages bucket's notification invokes
    objects-processor asynchronously, which records the upload; the uploads table's stream,
    filtered to UPLOADED, feeds stream-processor (batch window 3 s), which loads the package
    into the algorithm's function, publishes a version, points the alias at it and marks the
    upload PUBLISHED."""
    outputs = {
        item["OutputKey"]: item["OutputValue"]
        for item in _client(running, "cloudformation").describe_stacks(
            StackName="algorithms-static-dev"
        )["Stacks"][0]["Outputs"]
    }
    role = _client(running, "iam").create_role(
        RoleName="algorithm-e2e", AssumeRolePolicyDocument="{}"
    )["Role"]["Arn"]
    lambdas = _client(running, "lambda")
    lambdas.create_function(
        FunctionName="algorithm-dev-e2e",
        Runtime="python3.12",
        Role=role,
        Handler="handler.handler",
        Code={"ZipFile": _zip("def handler(event, context):\n    return 'v0'\n")},
    )
    package = _zip("def handler(event, context):\n    return 'v1'\n")
    _client(running, "s3").put_object(
        Bucket=outputs["PackagesBucketName"], Key="packages/e2e/1/algorithm.zip", Body=package
    )

    table = outputs["UploadsTableName"]
    key = {"algorithmId": {"S": "e2e"}, "uploadVersion": {"S": "1"}}
    deadline = time.monotonic() + 30
    status = None
    while status != "PUBLISHED":
        assert time.monotonic() < deadline, f"the upload is {status}"
        time.sleep(0.2)
        item = _client(running, "dynamodb").get_item(TableName=table, Key=key).get("Item")
        status = item["status"]["S"] if item else None
    alias = lambdas.get_alias(FunctionName="algorithm-dev-e2e", Name="prod")
    assert alias["FunctionVersion"] == "1"
    answer = lambdas.invoke(FunctionName="algorithm-dev-e2e", Qualifier="prod")
    assert json.loads(answer["Payload"].read()) == "v1"


def _zip(handler: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("handler.py", handler)
    return buffer.getvalue()


def test_status_names_the_cloud_and_its_stacks(
    in_folder: Running, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["status"]) == 0

    shown = capsys.readouterr().out
    assert f"running {in_folder.record.endpoint_url} (pid {in_folder.record.pid})" in shown
    assert re.search(r"eu-west-1\s+algorithms-dev\s+UPDATE_COMPLETE", shown)
    assert re.search(r"eu-west-1\s+algorithms-static-dev\s+UPDATE_COMPLETE", shown)


def test_deploy_again_changes_nothing(
    in_folder: Running, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["deploy", "algorithms"]) == 0

    out, err = capsys.readouterr()
    assert "no changes to algorithms-dev" in err
    assert f"deployed algorithms-dev unchanged at {in_folder.record.endpoint_url}" in out


def test_invoke_prints_the_payload(in_folder: Running, capsys: pytest.CaptureFixture[str]) -> None:
    event = {"algorithmId": "cli-a1", "uploadVersion": "1"}

    assert main(["invoke", "algorithms", "-f", "package-status", "--data", json.dumps(event)]) == 0

    assert json.loads(capsys.readouterr().out) == {
        "status": "DELETED",
        "objectsRemain": False,
        "recordRemains": False,
    }


def test_a_function_error_prints_the_aws_error_and_fails(
    in_folder: Running, capsys: pytest.CaptureFixture[str]
) -> None:
    event_file = in_folder.folder / "bad-event.json"
    event_file.write_text(json.dumps({"algorithmId": "not an id", "uploadVersion": "1"}))

    assert main(["invoke", "algorithms", "-f", "package-status", "--path", str(event_file)]) == 1

    out, err = capsys.readouterr()
    error = json.loads(out)
    assert error["errorType"] == "InvalidPackageId"
    assert set(error) >= {"errorMessage", "errorType", "stackTrace"}
    assert "algorithms-dev-package-status failed (Unhandled): InvalidPackageId" in err
    assert "hint: its logs say more: gear logs -f package-status" in err
    assert "Traceback" not in err


def test_an_event_invocation_is_queued(
    in_folder: Running, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["invoke", "algorithms", "-f", "package-status", "--type", "Event"]) == 0

    assert "invoked algorithms-dev-package-status (Event, 202)" in capsys.readouterr().out


def test_logs_show_each_invocation(in_folder: Running, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["logs", "algorithms", "-f", "package-status"]) == 0

    lines = capsys.readouterr().out.splitlines()
    stamp = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}  ")
    messages = [stamp.sub("", line, count=1) for line in lines if stamp.match(line)]
    assert any(message.startswith("START RequestId:") for message in messages)
    assert any(message.startswith("END RequestId:") for message in messages)
    assert any(message.startswith("REPORT RequestId:") for message in messages)
    # The traceback of the failed invocation: one event, its lines under the first.
    assert all(stamp.match(line) or line.startswith(" " * 25) for line in lines)


def test_code_edits_reach_the_next_invocation(
    in_folder: Running, capsys: pytest.CaptureFixture[str]
) -> None:
    handler = in_folder.folder / "algorithms" / "src" / "package_status.py"
    handler.write_text(handler.read_text().replace('"DELETED" if gone', '"GONE" if gone'))

    event = json.dumps({"algorithmId": "cli-a2", "uploadVersion": "1"})
    assert main(["invoke", "algorithms", "-f", "package-status", "--data", event]) == 0

    assert json.loads(capsys.readouterr().out)["status"] == "GONE"


def test_gear_down_stops_it_cleanly(in_folder: Running, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["down"]) == 0

    assert f"stopped the local cloud (pid {in_folder.record.pid})" in capsys.readouterr().out
    assert in_folder.process.wait(10) == 0
    assert not record_path(in_folder.folder).exists()
    assert main(["status"]) == 1
    err = capsys.readouterr().err
    assert "no local cloud answers at http://127.0.0.1:4566" in err
    assert main(["down"]) == 0
    assert "no local cloud is running from this folder" in capsys.readouterr().out


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_deploy_without_a_cloud_says_how_to_start_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    endpoint = f"http://127.0.0.1:{_free_port()}"

    code = main(["deploy", str(TABLE_PROJECT), "--endpoint", endpoint, "--out", str(tmp_path)])

    err = capsys.readouterr().err
    assert code == 1
    assert f"no answer from {endpoint}" in err
    assert "hint: start the local cloud with gear up" in err
    assert "Traceback" not in err


def test_a_remote_endpoint_from_the_environment_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("GEAR_ENDPOINT_URL", "http://192.0.2.10:4566")

    assert main(["deploy", str(TABLE_PROJECT), "--out", str(tmp_path)]) == 1

    err = capsys.readouterr().err
    assert "GEAR_ENDPOINT_URL is http://192.0.2.10:4566, which is not on this machine" in err
    assert "hint: a local deploy goes to a loopback address" in err


def test_gear_up_on_a_port_in_use_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    shutil.copytree(TABLE_PROJECT, tmp_path / "svc")
    monkeypatch.chdir(tmp_path)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]

        code = main(["up", "svc", "--port", str(port)])

    err = capsys.readouterr().err
    assert code == 1
    assert f"cannot listen on 127.0.0.1:{port}" in err
    assert "choose another with --port" in err
    assert not record_path(tmp_path).exists()


def test_a_detached_gear_up_serves_until_gear_down(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    shutil.copytree(TABLE_PROJECT, tmp_path / "svc")
    monkeypatch.chdir(tmp_path)
    try:
        code = main(["up", "svc", "--port", "0", "--detach", "--state-dir", str(tmp_path / "st")])

        out = capsys.readouterr().out
        record = read_record(tmp_path)
        assert code == 0 and record is not None
        assert out.startswith(f"local cloud  {record.endpoint_url}\n")  # its screen, from its log
        assert f"running {record.endpoint_url} (pid {record.pid})" in out
        assert (tmp_path / ".gear" / "cloud.log").is_file()
        assert main(["down"]) == 0
        assert not process_alive(record.pid)
    finally:
        left = read_record(tmp_path)
        if left is not None:
            os.kill(left.pid, signal.SIGKILL)

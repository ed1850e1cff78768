# ruff: noqa: E402  (the standard library's http is imported after the path is fixed)
"""HTTP through API Gateway to a Python function (Lambda proxy integration), side by side with
serverless-offline serving the same serverless.yml and handler, in the same run.

1. A scratch service (``.gear/bench-http``): one function, ``GET /echo`` as an ``http`` event.
2. serverless 3.40.0 and serverless-offline 13.10.1 are installed there with npm (once; said so
   and skipped when npm is missing), then ``sls offline start`` serves it on a free port.
3. ``gear up`` serves the same folder on another free port; requests go to its API's invoke
   host (``{api}.execute-api.us-east-1.localhost``) as the Host header, on 127.0.0.1.
4. Each is measured warm: p50/p99 of 2,000 sequential requests from one client, then requests
   per second of 4 client processes for 5 s. The clients are ``http.client`` keep-alive
   connections, the same for both.

Also, with ``--choice-loop``: state transitions per second of a 1,000-iteration Pass → Choice
loop in a state machine on the manual clock (StartExecution until SUCCEEDED, through boto3).

    .venv/bin/python bench/http.py [--seconds 5] [--clients 4] [--no-peer]
"""

from __future__ import annotations

import sys

# This script is named as the standard library's http package: take its own folder off the
# import path before importing that.
sys.path[:] = [entry for entry in sys.path if entry not in ("", sys.path[0])]

import argparse
import http.client
import json
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCRATCH = ROOT / ".gear" / "bench-http"
GEAR = ROOT / ".venv" / "bin" / "gear"
PEERS = ("serverless@3.40.0", "serverless-offline@13.10.1")
SERVICE = """\
service: bench-http
frameworkVersion: '3'
plugins:
  - serverless-offline
provider:
  name: aws
  runtime: python3.12
  region: us-east-1
  stage: dev
functions:
  echo:
    handler: handler.handler
    events:
      - http:
          path: echo
          method: GET
"""
HANDLER = """\
import json

def handler(event, context):
    return {"statusCode": 200, "body": json.dumps({"ok": True, "path": event["path"]})}
"""

# One client process: connect, warm up, say "ready", wait for "go", send for the given seconds.
CLIENT = """
import http.client, sys, time
host, port, path, seconds = sys.argv[1], int(sys.argv[2]), sys.argv[3], float(sys.argv[4])
header = sys.argv[5] if len(sys.argv) > 5 else None
connection = http.client.HTTPConnection("127.0.0.1", port)
headers = {"Host": header} if header else {}
def call():
    connection.request("GET", path, headers=headers)
    response = connection.getresponse()
    body = response.read()
    if response.status != 200:
        raise SystemExit(f"{response.status} {body[:200]!r}")
for _ in range(200):
    call()
print("ready", flush=True)
sys.stdin.readline()
count, end = 0, time.perf_counter() + seconds
while time.perf_counter() < end:
    call()
    count += 1
print(count, flush=True)
"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def scratch_service() -> Path:
    SCRATCH.mkdir(parents=True, exist_ok=True)
    (SCRATCH / "serverless.yml").write_text(SERVICE)
    (SCRATCH / "handler.py").write_text(HANDLER)
    return SCRATCH


def install_peers(folder: Path) -> bool:
    if shutil.which("npm") is None:
        print("npm is not installed here: serverless-offline is not measured")
        return False
    if not (folder / "node_modules" / ".bin" / "sls").exists():
        print(f"installing {' '.join(PEERS)} with npm into {folder}")
        subprocess.run(
            ["npm", "install", "--no-save", "--no-audit", "--no-fund", *PEERS],
            cwd=folder,
            check=True,
            stdout=subprocess.DEVNULL,
        )
    return True


def wait_until(ready: object, process: subprocess.Popen[bytes], what: str) -> None:
    deadline = time.monotonic() + 120
    while not ready():  # type: ignore[operator]
        if process.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"{what} did not get ready")
        time.sleep(0.05)


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGINT)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def answers(port: int, path: str, host: str | None) -> bool:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
    try:
        connection.request("GET", path, headers={"Host": host} if host else {})
        return connection.getresponse().status == 200
    except OSError:
        return False
    finally:
        connection.close()


@contextmanager
def serverless_offline(folder: Path) -> Iterator[tuple[int, str, str | None]]:
    port = free_port()
    env = {
        **os.environ,
        "SLS_TELEMETRY_DISABLED": "1",
        "SLS_NOTIFICATIONS_MODE": "off",
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
    }
    command = [str(folder / "node_modules" / ".bin" / "sls"), "offline", "start"]
    command += ["--host", "127.0.0.1", "--httpPort", str(port), "--lambdaPort", str(free_port())]
    with open(folder / "offline.log", "wb") as log:
        process = subprocess.Popen(
            command, cwd=folder, env=env, stdout=log, stderr=log, start_new_session=True
        )
    try:
        wait_until(lambda: answers(port, "/dev/echo", None), process, "serverless-offline")
        yield port, "/dev/echo", None
    finally:
        stop(process)


@contextmanager
def gear_up(folder: Path) -> Iterator[tuple[int, str, str | None]]:
    port = free_port()
    command = [str(GEAR), "up", str(folder), "--port", str(port), "--fresh"]
    command += ["--state-dir", str(folder / ".gear" / "state")]
    record = folder / ".gear" / "cloud.json"
    record.unlink(missing_ok=True)
    with open(folder / "gear-up.log", "wb") as log:
        process = subprocess.Popen(
            command, cwd=folder, stdout=log, stderr=log, start_new_session=True
        )
    try:
        wait_until(record.exists, process, "gear up")
        screen = (folder / "gear-up.log").read_text()
        found = re.search(r"http://(\S+\.execute-api\.[a-z0-9-]+\.localhost):\d+/dev", screen)
        if found is None:
            raise SystemExit(f"gear up printed no API URL:\n{screen}")
        host = f"{found[1]}:{port}"
        wait_until(lambda: answers(port, "/dev/echo", host), process, "the API")
        yield port, "/dev/echo", host
    finally:
        stop(process)


def latencies(port: int, path: str, host: str | None, calls: int) -> list[float]:
    connection = http.client.HTTPConnection("127.0.0.1", port)
    headers = {"Host": host} if host else {}
    seconds = []
    for index in range(calls + 200):
        started = time.perf_counter()
        connection.request("GET", path, headers=headers)
        response = connection.getresponse()
        response.read()
        if index >= 200:  # the first 200 warm the function and the connection
            seconds.append(time.perf_counter() - started)
    connection.close()
    return seconds


def throughput(port: int, path: str, host: str | None, clients: int, seconds: float) -> float:
    arguments = ["127.0.0.1", str(port), path, str(seconds), *([host] if host else [])]
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", CLIENT, *arguments],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(clients)
    ]
    try:
        for proc in procs:
            assert proc.stdout is not None
            if proc.stdout.readline().strip() != "ready":
                raise SystemExit("a client process failed")
        for proc in procs:
            assert proc.stdin is not None
            proc.stdin.write("go\n")
            proc.stdin.flush()
        total = 0
        for proc in procs:
            out, _ = proc.communicate(timeout=seconds + 60)
            total += int(out.strip().splitlines()[-1])
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    return total / seconds


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def measure(
    name: str, served: tuple[int, str, str | None], options: argparse.Namespace
) -> tuple[str, float, float, float]:
    port, path, host = served
    seconds = latencies(port, path, host, options.calls)
    rate = throughput(port, path, host, options.clients, options.seconds)
    return name, rate, statistics.median(seconds) * 1000, percentile(seconds, 0.99) * 1000


def choice_loop() -> float:
    """State transitions per second of a 1,000-iteration Pass → Choice loop."""
    from basegear.testing import running_local_cloud

    definition = {
        "StartAt": "Count",
        "States": {
            "Count": {
                "Type": "Pass",
                "Parameters": {"n.$": "States.MathAdd($.n, 1)"},
                "Next": "Done?",
            },
            "Done?": {
                "Type": "Choice",
                "Choices": [{"Variable": "$.n", "NumericGreaterThanEquals": 1000, "Next": "End"}],
                "Default": "Count",
            },
            "End": {"Type": "Succeed"},
        },
    }
    with running_local_cloud() as cloud:
        assert cloud.services is not None
        cloud.services.clock.set_mode("manual")
        iam = cloud.client("iam")
        role = iam.create_role(RoleName="bench-sfn", AssumeRolePolicyDocument="{}")["Role"]
        sfn = cloud.client("stepfunctions")
        machine = sfn.create_state_machine(
            name="bench-loop", definition=json.dumps(definition), roleArn=role["Arn"]
        )["stateMachineArn"]
        started = time.perf_counter()
        arn = sfn.start_execution(stateMachineArn=machine, input='{"n": 0}')["executionArn"]
        while sfn.describe_execution(executionArn=arn)["status"] == "RUNNING":
            time.sleep(0.01)
        elapsed = time.perf_counter() - started
        return 2000 / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--no-peer", action="store_true")
    options = parser.parse_args()
    folder = scratch_service()
    rows = []
    if not options.no_peer and install_peers(folder):
        with serverless_offline(folder) as served:
            rows.append(measure("serverless-offline 13.10.1 (serverless 3.40.0)", served, options))
    with gear_up(folder) as served:
        rows.append(measure("BaseGear gear up", served, options))
    transitions = choice_loop()
    load = os.getloadavg()[0]
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, load average {load:.1f}")
    print(f"| Server | Requests/s ({options.clients} clients) | p50 | p99 |")
    print("|---|---|---|---|")
    for name, rate, p50, p99 in rows:
        print(f"| {name} | {rate:,.0f} | {p50:.2f} ms | {p99:.2f} ms |")
    if len(rows) == 2:
        (_, peer_rate, peer_p50, _), (_, ours_rate, ours_p50, _) = rows
        print(
            f"BaseGear / serverless-offline: {ours_rate / peer_rate:.2f}x the requests/s, "
            f"{peer_p50 / ours_p50:.2f}x faster at p50"
        )
    print(f"Step Functions, 1,000-iteration Choice loop: {transitions:,.0f} state transitions/s")


if __name__ == "__main__":
    main()

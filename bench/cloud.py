"""The local cloud as a user meets it: ``gear up`` the example, then invoke warm functions
through boto3.

Measured from outside the cloud's process, as a user's code sees it:

1. ready: from starting ``gear up examples/algorithms/static examples/algorithms`` until its
   endpoint answers HTTP, and until both stacks are deployed (``gear up`` writes its record,
   ``.gear/cloud.json``, once it shows its screen);
2. warm invoke latency: p50 and p99 of ``invoke`` through one boto3 client (this process),
   reading the payload as callers do, of a trivial Python function created with boto3
   ``create_function`` (a zip) in the running cloud;
3. throughput: invokes per second of 4 client processes, each one boto3 client invoking that
   function in a loop and reading the payload; with the CPU time the cloud's processes
   (gateway, zygote, workers) spend per invoke, the figure least disturbed by other load;
4. memory: the cloud process's peak resident set (VmHWM), and its zygote's and workers'.

``--bare`` measures a cloud without ``gear up``: a ``LocalCloud`` on an ephemeral port with
``LambdaService``'s providers only, in a process of its own, ready when its endpoint answers.

``gear up`` runs in a temporary folder, on a free 127.0.0.1 port, with a fresh state folder of
its own; it is stopped with SIGINT, as Ctrl-C stops it, and this script checks that no process
of it is left. Nothing leaves the machine.

    .venv/bin/python bench/cloud.py [--calls 3000] [--seconds 5] [--clients 4] [--bare]
    .venv/bin/python bench/cloud.py --start-only 5    # only time gear up, 5 runs
"""

from __future__ import annotations

import argparse
import http.client
import io
import json
import os
import platform
import select
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from _run import EXAMPLE, GEAR

SERVICES = (EXAMPLE / "static", EXAMPLE)
FUNCTION = "bench-echo"
HANDLER = "def handler(event, context):\n    return {'ok': True, 'n': event.get('n')}\n"
PAYLOAD = b'{"n": 1}'
REGION = "us-east-1"
START_TIMEOUT = 120.0

# One client process: warm up, say "ready", wait for "go", invoke for the given seconds, print
# how many invocations it made.
CLIENT = """
import sys, time, boto3
from botocore.config import Config
url, function, seconds = sys.argv[1], sys.argv[2], float(sys.argv[3])
session = boto3.session.Session(
    aws_access_key_id="bench", aws_secret_access_key="bench", region_name="us-east-1"
)
client = session.client("lambda", endpoint_url=url, config=Config(retries={"max_attempts": 0}))
for _ in range(50):
    client.invoke(FunctionName=function, Payload=b'{"n": 1}')["Payload"].read()
print("ready", flush=True)
sys.stdin.readline()
count, end = 0, time.perf_counter() + seconds
while time.perf_counter() < end:
    client.invoke(FunctionName=function, Payload=b'{"n": 1}')["Payload"].read()
    count += 1
print(count, flush=True)
"""


@dataclass
class Started:
    """A running cloud: its process, endpoint, and seconds from start to each stage."""

    process: subprocess.Popen[bytes]
    url: str
    stages: list[tuple[str, float]] = field(default_factory=list)


# -- starting the cloud --------------------------------------------------------------------------


@contextmanager
def gear_up(workdir: Path) -> Iterator[Started]:
    """``gear up`` the example from ``workdir``; stopped with SIGINT on leaving."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    command = [str(GEAR), "up", *map(str, SERVICES), "--port", str(port)]
    command += ["--state-dir", str(workdir / "state"), "--fresh"]
    record = workdir / ".gear" / "cloud.json"
    with open(workdir / "gear-up.log", "wb") as log:
        started = time.perf_counter()
        process = subprocess.Popen(command, cwd=workdir, stdout=log, stderr=log)
        cloud = Started(process, url)
        try:
            wait_for(lambda: answers(url), process, workdir)
            cloud.stages.append(("endpoint answers", time.perf_counter() - started))
            wait_for(record.exists, process, workdir)
            cloud.stages.append(("both stacks deployed", time.perf_counter() - started))
            if json.loads(record.read_text())["endpoint_url"] != url:
                raise SystemExit(f"gear up serves elsewhere: {record.read_text()}")
            yield cloud
        finally:
            stop(process, signal.SIGINT)


@contextmanager
def bare_cloud() -> Iterator[Started]:
    """A LocalCloud with LambdaService only (``--serve``), in a process of its own."""
    started = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, __file__, "--serve"], stdin=subprocess.PIPE, stdout=subprocess.PIPE
    )
    try:
        assert process.stdout is not None
        url = process.stdout.readline().decode().strip()
        if not url:
            raise SystemExit("the cloud did not start")
        cloud = Started(process, url)
        wait_for(lambda: answers(url), process, None)
        cloud.stages.append(("endpoint answers", time.perf_counter() - started))
        yield cloud
    finally:
        if process.stdin is not None:
            process.stdin.close()  # the cloud stops itself
        stop(process, None)


def serve(lifetime: float) -> None:
    """The ``--bare`` cloud's process: serve until standard input closes (or ``lifetime``
    passes, should this script die)."""
    from basegear.cloud import motoshim
    from basegear.cloud.providers.lambda_api import LambdaService
    from basegear.cloud.server import LocalCloud

    motoshim.install()
    with tempfile.TemporaryDirectory(prefix="gear-bench-") as cache:
        cloud = LocalCloud(port=0)
        service = LambdaService(cloud.endpoint_url, cache_dir=Path(cache))
        for provider in service.providers:
            cloud.add_provider(provider)
        service.start()
        with cloud:
            print(cloud.endpoint_url, flush=True)
            select.select([sys.stdin], [], [], lifetime)
            service.close()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def wait_for(ready: Any, process: subprocess.Popen[bytes], workdir: Path | None) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while not ready():
        if process.poll() is not None or time.monotonic() > deadline:
            log = (workdir / "gear-up.log").read_text()[-3000:] if workdir else ""
            raise SystemExit(f"the cloud did not get ready:\n{log}")
        time.sleep(0.005)


def stop(process: subprocess.Popen[bytes], how: signal.Signals | None) -> None:
    """Stop the cloud (``how``: a signal to send; None: it stops by itself), then make sure no
    process of it is left."""
    members = family(process.pid)
    if how is not None and process.poll() is None:
        process.send_signal(how)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    deadline = time.monotonic() + 5
    for pid in members[1:]:
        while time.monotonic() < deadline and alive(pid):
            time.sleep(0.01)
        if alive(pid):
            os.kill(pid, signal.SIGKILL)


# -- measuring -------------------------------------------------------------------------------


def session() -> Any:
    import boto3

    return boto3.session.Session(
        aws_access_key_id="bench", aws_secret_access_key="bench", region_name=REGION
    )


def lambda_client(url: str) -> Any:
    from botocore.config import Config

    config = Config(retries={"max_attempts": 0}, read_timeout=30)
    return session().client("lambda", endpoint_url=url, config=config)


def answers(url: str) -> bool:
    """Whether the endpoint answers HTTP (any status: an unsigned GET gets an AWS error)."""
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=1)
    try:
        connection.request("GET", "/")
        connection.getresponse().read()
        return True
    except OSError:
        return False
    finally:
        connection.close()


def deploy(url: str) -> None:
    iam = session().client("iam", endpoint_url=url)
    role = iam.create_role(RoleName="bench-echo", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("handler.py", HANDLER)
    lambda_client(url).create_function(
        FunctionName=FUNCTION,
        Runtime="python3.11",
        Role=role,
        Handler="handler.handler",
        Code={"ZipFile": archive.getvalue()},
    )


def invoke(client: Any) -> None:
    response = client.invoke(FunctionName=FUNCTION, Payload=PAYLOAD)
    response["Payload"].read()
    if "FunctionError" in response:
        raise SystemExit(f"the bench function failed: {response}")


def latencies(url: str, calls: int) -> list[float]:
    client = lambda_client(url)
    for _ in range(200):  # warm the connection and botocore's caches
        invoke(client)
    seconds = []
    for _ in range(calls):
        start = time.perf_counter()
        invoke(client)
        seconds.append(time.perf_counter() - start)
    return seconds


def throughput(url: str, clients: int, seconds: float, cloud_pid: int) -> tuple[float, float]:
    """Invokes per second of ``clients`` client processes, and the cloud's CPU µs per invoke."""
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", CLIENT, url, FUNCTION, str(seconds)],
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
                raise SystemExit("a client process failed to start")
        cpu_before = cloud_cpu(cloud_pid)
        for proc in procs:
            assert proc.stdin is not None
            proc.stdin.write("go\n")
            proc.stdin.flush()
        total = 0
        for proc in procs:
            out, _ = proc.communicate(timeout=seconds + 60)
            total += int(out.strip().splitlines()[-1])
        cpu = cloud_cpu(cloud_pid) - cpu_before
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    return total / seconds, cpu / total * 1e6


def family(pid: int) -> list[int]:
    """``pid`` and its descendants (the zygote and the workers it forked)."""
    found, frontier = [pid], [pid]
    while frontier:
        parent = frontier.pop()
        try:
            with open(f"/proc/{parent}/task/{parent}/children", encoding="ascii") as children:
                kids = [int(child) for child in children.read().split()]
        except OSError:
            kids = []
        found += kids
        frontier += kids
    return found


def alive(pid: int) -> bool:
    """Running (a zombie, or a pid gone, is not)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def cloud_cpu(pid: int) -> float:
    """CPU seconds used so far by the cloud's process and its descendants."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for member in family(pid):
        try:
            with open(f"/proc/{member}/stat", encoding="ascii") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / ticks


def status_kb(pid: int, name: str) -> int:
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as status:
            for line in status:
                if line.startswith(name + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))]


def measure(cloud: Started, options: argparse.Namespace) -> list[tuple[str, str, str]]:
    started = time.perf_counter()
    deploy(cloud.url)
    invoke(lambda_client(cloud.url))
    cold = time.perf_counter() - started
    samples = latencies(cloud.url, options.calls)
    rate, cpu_us = throughput(cloud.url, options.clients, options.seconds, cloud.process.pid)
    peak_mb = status_kb(cloud.process.pid, "VmHWM") / 1024
    helpers = family(cloud.process.pid)[1:]
    helpers_mb = sum(status_kb(pid, "VmRSS") for pid in helpers) / 1024

    what = "bare LocalCloud + LambdaService" if options.bare else "gear up (static + algorithms)"
    rows = [(f"{what}: {stage}", f"{seconds:.2f} s", "") for stage, seconds in cloud.stages]
    rows[-1] = (*rows[-1][:2], "under 2 s")
    rows += [
        ("create_function (zip) and its first, cold, invoke", f"{cold:.2f} s", ""),
        (
            "warm invoke p50, one boto3 client",
            f"{statistics.median(samples) * 1e3:.2f} ms",
            "under 2 ms",
        ),
        ("warm invoke p99, one boto3 client", f"{percentile(samples, 0.99) * 1e3:.2f} ms", ""),
        (f"invokes/s, {options.clients} client processes", f"{rate:,.0f}", "at least 1,000"),
        ("cloud CPU per invoke (gateway, zygote, workers)", f"{cpu_us:.0f} µs", ""),
        ("peak memory of the cloud process", f"{peak_mb:.0f} MB", ""),
        (f"memory of its zygote and {len(helpers) - 1} workers", f"{helpers_mb:.0f} MB", ""),
    ]
    return rows


def start_only(runs: int) -> None:
    """Time ``gear up`` to each stage ``runs`` times, each in a fresh folder; print each run."""
    for _ in range(runs):
        with (
            tempfile.TemporaryDirectory(prefix="gear-bench-cloud-") as workdir,
            gear_up(Path(workdir)) as cloud,
        ):
            stages = cloud.stages
        print("  ".join(f"{name} {seconds:.2f} s" for name, seconds in stages), flush=True)
    print(f"load {os.getloadavg()[0]:.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=3000, help="sequential warm invokes")
    parser.add_argument("--seconds", type=float, default=5.0, help="the throughput run")
    parser.add_argument("--clients", type=int, default=4, help="client processes")
    parser.add_argument("--bare", action="store_true", help="LocalCloud + LambdaService only")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument(
        "--start-only", type=int, metavar="RUNS", default=0, help="only time gear up, RUNS times"
    )
    options = parser.parse_args()
    if options.serve:
        serve(lifetime=600.0)
        return
    if options.start_only:
        start_only(options.start_only)
        return

    with tempfile.TemporaryDirectory(prefix="gear-bench-cloud-") as workdir:
        starting = bare_cloud() if options.bare else gear_up(Path(workdir))
        with starting as cloud:
            rows = measure(cloud, options)
    load = os.getloadavg()[0]
    print(f"{platform.python_implementation()} {platform.python_version()}, load {load:.1f}\n")
    print("| measure | result | target |\n|---|---|---|")
    for row in rows:
        print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()

"""Warm Lambda invocations: the runtime's own cost, and the whole path a user's code takes.

1. ``LambdaRuntime.invoke`` called directly (a warm worker, a tiny JSON event): round-trip
   p50/p99 from one thread, and invocations per second from 4 threads;
2. boto3 → the local cloud's gateway → the Invoke fast path → a warm worker and back: p50/p99
   from one client, and invocations per second from 4 client processes.

Everything listens on 127.0.0.1 and stops by itself.

    .venv/bin/python bench/lambda_runtime.py [--calls N]
"""

from __future__ import annotations

import argparse
import io
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

HANDLER = "def handler(event, context):\n    return {'ok': True, 'n': event.get('n')}\n"


def percentiles(samples: list[float]) -> str:
    ordered = sorted(samples)
    p50 = statistics.median(ordered)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return f"p50 {p50 * 1e6:.0f} µs, p99 {p99 * 1e6:.0f} µs"


def timed(call: Callable[[], object], count: int) -> list[float]:
    samples = []
    for _ in range(count):
        start = time.perf_counter()
        call()
        samples.append(time.perf_counter() - start)
    return samples


def throughput(
    make_call: Callable[[], Callable[[], object]], threads: int, seconds: float
) -> float:
    done = [0] * threads
    stop = threading.Event()

    def work(index: int) -> None:
        call = make_call()
        while not stop.is_set():
            call()
            done[index] += 1

    workers = [threading.Thread(target=work, args=(i,)) for i in range(threads)]
    for worker in workers:
        worker.start()
    time.sleep(seconds)
    stop.set()
    for worker in workers:
        worker.join()
    return sum(done) / seconds


CLIENT = """
import sys, time, boto3
from botocore.config import Config
url, seconds = sys.argv[1], float(sys.argv[2])
lam = boto3.session.Session(
    aws_access_key_id="bench", aws_secret_access_key="bench", region_name="us-east-1"
).client("lambda", endpoint_url=url, config=Config(retries={"max_attempts": 0}))
for _ in range(50):
    lam.invoke(FunctionName="bench", Payload=b'{"n": 1}')
print("ready", flush=True)
sys.stdin.readline()
count, end = 0, time.perf_counter() + seconds
while time.perf_counter() < end:
    lam.invoke(FunctionName="bench", Payload=b'{"n": 1}')
    count += 1
print(count, flush=True)
"""


def client_processes(url: str, processes: int, seconds: float) -> float:
    """Invocations per second from ``processes`` boto3 clients, each in a process of its own
    (clients in the cloud's own process would compete with it for the GIL)."""
    clients = [
        subprocess.Popen(
            [sys.executable, "-c", CLIENT, url, str(seconds)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(processes)
    ]
    for client in clients:
        assert client.stdout is not None and client.stdout.readline().strip() == "ready"
    for client in clients:
        assert client.stdin is not None
        client.stdin.write("go\n")
        client.stdin.flush()
    total = 0
    for client in clients:
        out, _ = client.communicate(timeout=seconds + 30)
        total += int(out.strip().splitlines()[-1])
    return total / seconds


def bench_runtime(calls: int, folder: Path) -> None:
    from basegear.cloud.lambdas.runtime import LambdaRuntime
    from basegear.cloud.lambdas.spec import FunctionSpec
    from basegear.cloud.lambdas.telemetry import MemoryLogSink, MemoryMetricSink

    (folder / "handler.py").write_text(HANDLER)
    spec = FunctionSpec(name="bench", handler="handler.handler", code_dir=folder)
    with LambdaRuntime(log_sink=MemoryLogSink(), metric_sink=MemoryMetricSink()) as runtime:
        for _ in range(200):
            runtime.invoke(spec, b'{"n": 1}')
        samples = timed(lambda: runtime.invoke(spec, b'{"n": 1}'), calls)
        print(f"runtime.invoke, 1 thread:  {percentiles(samples)}")
        rate = throughput(lambda: lambda: runtime.invoke(spec, b'{"n": 1}'), 4, 3.0)
        print(f"runtime.invoke, 4 threads: {rate:,.0f} invokes/s")


def bench_gateway(calls: int, cache: Path) -> None:
    import boto3
    from botocore.config import Config

    from basegear.cloud import motoshim
    from basegear.cloud.lambdas.runtime import LambdaRuntime
    from basegear.cloud.motoshim.awslambda import MotoLambda
    from basegear.cloud.providers.lambda_api import LambdaApiProvider
    from basegear.cloud.server import LocalCloud

    motoshim.install()
    with LocalCloud(port=0) as cloud:
        runtime = LambdaRuntime(endpoint_url=cloud.endpoint_url)
        plug = MotoLambda(runtime, cache_dir=cache)
        plug.install()
        cloud.add_provider(LambdaApiProvider(plug))

        def client() -> Any:
            return boto3.session.Session(
                aws_access_key_id="bench", aws_secret_access_key="bench", region_name="us-east-1"
            ).client(
                "lambda",
                endpoint_url=cloud.endpoint_url,
                config=Config(retries={"max_attempts": 0}, max_pool_connections=4),
            )

        iam = boto3.session.Session(
            aws_access_key_id="bench", aws_secret_access_key="bench", region_name="us-east-1"
        ).client("iam", endpoint_url=cloud.endpoint_url)
        role = iam.create_role(RoleName="bench", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
        archive = io.BytesIO()
        with zipfile.ZipFile(archive, "w") as zipped:
            zipped.writestr("handler.py", HANDLER)
        lam = client()
        lam.create_function(
            FunctionName="bench",
            Runtime="python3.11",
            Role=role,
            Handler="handler.handler",
            Code={"ZipFile": archive.getvalue()},
        )
        try:
            for _ in range(200):
                lam.invoke(FunctionName="bench", Payload=b'{"n": 1}')
            samples = timed(lambda: lam.invoke(FunctionName="bench", Payload=b'{"n": 1}'), calls)
            print(f"boto3 → gateway → worker, 1 client:   {percentiles(samples)}")

            rate = client_processes(cloud.endpoint_url, 4, 3.0)
            print(f"boto3 → gateway → worker, 4 client processes: {rate:,.0f} invokes/s")
        finally:
            plug.uninstall()
            runtime.close()
            cloud.reset()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=3000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        (root / "code").mkdir()
        bench_runtime(args.calls, root / "code")
        bench_gateway(args.calls, root / "cache")


if __name__ == "__main__":
    main()

"""The gateway's latency and throughput, through boto3 as a user's code calls it.

Starts a LocalCloud on an ephemeral 127.0.0.1 port in a child process (so that the clients'
Python does not share the server's interpreter lock), then measures:

- DynamoDB PutItem and GetItem through boto3: p50 and p99 of one client calling in a loop, the
  server process's CPU time per call (all its threads; the figure least disturbed by other load
  on the machine), and requests per second of 4 client threads (one process) and of 4 client
  processes;
- Lambda Invoke answered at once by a provider, in the gateway's thread pool (``handle``) and
  on the event loop (``handle_async``): the path a warm Lambda invocation takes, less the worker
  round trip (~30-60 µs);
- server side, without HTTP: the gateway's own cost per request (parse, route, answer, for a
  provider that answers inline) and moto's cost for a PutItem called in-process.

Every request goes to 127.0.0.1; the script stops by itself.

    .venv/bin/python bench/gateway.py [--requests 3000] [--seconds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import platform
import statistics
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from multiprocessing.connection import Connection
from typing import Any

TABLE = "bench"
FUNCTION = "bench-fn"
ASYNC_FUNCTION = "bench-async-fn"
_SERVER_LIFETIME = 600  # seconds: the child stops by itself even if this script is killed


class InstantInvoke:
    """Answers every Lambda call at once, from the gateway's thread pool (blocking = True, as
    the Lambda runtime's provider is)."""

    service = "lambda"
    blocking = True

    def handle(self, request: Any) -> Any:
        from basegear.cloud.protocol import AwsResponse

        return AwsResponse(
            200,
            b'{"ok": true}',
            {"content-type": "application/json", "x-amz-executed-version": "1"},
        )


class AwaitedInvoke:
    """Answers calls of ``ASYNC_FUNCTION`` at once from ``handle_async``, on the event loop:
    the path of a provider that waits on its worker's pipe through the loop."""

    service = "lambda"

    def handle(self, request: Any) -> Any:
        raise AssertionError("only called in-process")

    async def handle_async(self, request: Any) -> Any:
        if ASYNC_FUNCTION not in request.path:
            return None
        return InstantInvoke().handle(request)


def serve(connection: Connection) -> None:
    from basegear.cloud.server import LocalCloud

    with LocalCloud(port=0, providers=[AwaitedInvoke(), InstantInvoke()]) as cloud:
        connection.send(cloud.endpoint_url)
        deadline = time.monotonic() + _SERVER_LIFETIME
        while connection.poll(max(0.0, deadline - time.monotonic())):
            if connection.recv() != "cpu":
                return
            connection.send(time.process_time())  # the whole server process: every thread


def client(endpoint: str, service: str) -> Any:
    import boto3

    from basegear.testing import client_config

    session = boto3.session.Session(
        aws_access_key_id="bench", aws_secret_access_key="bench", region_name="us-east-1"
    )
    return session.client(service, endpoint_url=endpoint, config=client_config())


def calls(endpoint: str) -> dict[str, Callable[[Any, int], Any]]:
    return {
        "DynamoDB PutItem": lambda c, i: c.put_item(
            TableName=TABLE, Item={"pk": {"S": f"item-{i % 1000}"}, "value": {"N": str(i)}}
        ),
        "DynamoDB GetItem": lambda c, i: c.get_item(
            TableName=TABLE, Key={"pk": {"S": f"item-{i % 1000}"}}
        ),
        # Reading the payload, as callers do, returns the connection to boto3's pool.
        "Lambda Invoke (instant provider, thread pool)": lambda c, i: c.invoke(
            FunctionName=FUNCTION, Payload=b'{"n": 1}'
        )["Payload"].read(),
        "Lambda Invoke (instant provider, handle_async)": lambda c, i: c.invoke(
            FunctionName=ASYNC_FUNCTION, Payload=b'{"n": 1}'
        )["Payload"].read(),
    }


def service_of(label: str) -> str:
    return "lambda" if label.startswith("Lambda") else "dynamodb"


def latencies(
    endpoint: str, label: str, requests: int, server_cpu: Callable[[], float]
) -> tuple[list[float], float]:
    """Each call's seconds, and the server's CPU µs per call."""
    call = calls(endpoint)[label]
    boto = client(endpoint, service_of(label))
    for i in range(200):  # warm the connection and botocore's caches
        call(boto, i)
    seconds = []
    cpu_before = server_cpu()
    for i in range(requests):
        start = time.perf_counter()
        call(boto, i)
        seconds.append(time.perf_counter() - start)
    return seconds, (server_cpu() - cpu_before) / requests * 1e6


def _loop(endpoint: str, label: str, until: float) -> int:
    call = calls(endpoint)[label]
    boto = client(endpoint, service_of(label))
    call(boto, 0)
    count = 0
    while time.perf_counter() < until:
        call(boto, count)
        count += 1
    return count


def _process_loop(args: tuple[str, str, float]) -> int:
    return _loop(*args)


def throughput_threads(endpoint: str, label: str, seconds: float, clients: int = 4) -> float:
    until = time.perf_counter() + seconds + 0.5  # +0.5 s for making the clients
    counts: list[int] = []
    threads = [
        threading.Thread(target=lambda: counts.append(_loop(endpoint, label, until)))
        for _ in range(clients)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sum(counts) / seconds


def throughput_processes(endpoint: str, label: str, seconds: float, clients: int = 4) -> float:
    context = multiprocessing.get_context("spawn")
    with context.Pool(clients) as pool:
        until_offset = 2.0  # spawned interpreters need time to import boto3
        until = time.perf_counter() + until_offset + seconds
        counts = pool.map(_process_loop, [(endpoint, label, until)] * clients)
    return sum(counts) / seconds


def server_side(requests: int) -> tuple[float, float]:
    """µs per request: the gateway alone (an inline provider), and moto's PutItem alone."""
    from basegear.cloud.gateway import Gateway, Router
    from basegear.cloud.moto_backend import MotoBackend
    from basegear.cloud.protocol import AwsRequest, AwsResponse

    class Inline:
        service = "sqs"
        blocking = False

        def handle(self, request: AwsRequest) -> AwsResponse:
            return AwsResponse(200, b"{}", {"content-type": "application/x-amz-json-1.0"})

    credential = "AKID/20260101/us-east-1/{}/aws4_request"
    scope = {
        "type": "http",
        "method": "POST",
        "path": "/",
        "raw_path": b"/",
        "query_string": b"",
        "headers": [
            (b"host", b"127.0.0.1:4566"),
            (b"x-amz-target", b"AmazonSQS.ListQueues"),
            (b"content-type", b"application/x-amz-json-1.0"),
            (
                b"authorization",
                f"AWS4-HMAC-SHA256 Credential={credential.format('sqs')}, "
                "SignedHeaders=host, Signature=00".encode(),
            ),
            (b"x-amz-date", b"20260101T000000Z"),
            (b"user-agent", b"Boto3/1.44.8 md/Botocore#1.44.8"),
        ],
    }
    gateway = Gateway(Router([Inline()]), executor=ThreadPoolExecutor(1))

    async def one() -> None:
        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": b"{}", "more_body": False}

        async def send(message: Any) -> None:
            pass

        await gateway(scope, receive, send)

    async def many() -> float:
        for _ in range(200):
            await one()
        start = time.perf_counter()
        for _ in range(requests):
            await one()
        return (time.perf_counter() - start) / requests * 1e6

    gateway_us = asyncio.run(many())

    moto = MotoBackend()
    headers = {
        "content-type": "application/x-amz-json-1.0",
        "authorization": f"AWS4-HMAC-SHA256 Credential={credential.format('dynamodb')}",
    }

    def dynamodb(action: str, body: dict[str, Any]) -> AwsResponse:
        return moto.handle(
            AwsRequest(
                method="POST",
                path="/",
                query={},
                headers={**headers, "x-amz-target": f"DynamoDB_20120810.{action}"},
                body=json.dumps(body).encode(),
                service="dynamodb",
                region="eu-north-1",
                account="123456789012",
                action=action,
            )
        )

    dynamodb("CreateTable", _table_definition())
    put = {"TableName": TABLE, "Item": {"pk": {"S": "a"}, "value": {"N": "1"}}}
    for _ in range(200):
        dynamodb("PutItem", put)
    start = time.perf_counter()
    for _ in range(requests):
        dynamodb("PutItem", put)
    moto_us = (time.perf_counter() - start) / requests * 1e6
    return gateway_us, moto_us


def _table_definition() -> dict[str, Any]:
    return {
        "TableName": TABLE,
        "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
        "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}],
        "BillingMode": "PAY_PER_REQUEST",
    }


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=3000, help="sequential calls per row")
    parser.add_argument("--seconds", type=float, default=3.0, help="per throughput run")
    options = parser.parse_args()

    context = multiprocessing.get_context("spawn")
    parent, child = context.Pipe()
    server = context.Process(target=serve, args=(child,), daemon=True)
    server.start()
    try:
        endpoint = parent.recv()
        client(endpoint, "dynamodb").create_table(**_table_definition())
        print(f"{platform.python_implementation()} {platform.python_version()}, {endpoint}\n")

        def server_cpu() -> float:
            parent.send("cpu")
            cpu: float = parent.recv()
            return cpu

        print("| call | p50 | p99 | server CPU per call | req/s, 4 threads | req/s, 4 processes |")
        print("|---|---|---|---|---|---|")
        for label in calls(endpoint):
            seconds, cpu_us = latencies(endpoint, label, options.requests, server_cpu)
            threads = throughput_threads(endpoint, label, options.seconds)
            processes = throughput_processes(endpoint, label, options.seconds)
            print(
                f"| {label} | {statistics.median(seconds) * 1e3:.2f} ms "
                f"| {percentile(seconds, 0.99) * 1e3:.2f} ms | {cpu_us:.0f} µs "
                f"| {threads:,.0f} | {processes:,.0f} |"
            )
    finally:
        parent.send("stop")
        server.join(10)
        if server.is_alive():
            server.terminate()
    gateway_us, moto_us = server_side(options.requests)
    print(
        f"\nServer side, no HTTP: gateway {gateway_us:.1f} µs per request "
        f"(parse, route, answer); moto PutItem {moto_us:.0f} µs."
    )


if __name__ == "__main__":
    main()

"""Event sources end to end, as a user's code sees them: items written to a DynamoDB table
reach a function through its stream mapping; messages sent to an SQS queue reach a function
through its queue mapping.

The cloud runs in a process of its own, as ``gear up`` runs it (``StandardServices``, durable
state in a temporary folder, a free 127.0.0.1 port, the real clock). The handler appends one
line per batch to a file — when it ran, and what it got — which this script reads.

1. stream records/s: WRITERS processes write ITEMS items with BatchWriteItem (25 a call) to a
   table whose stream feeds a mapping with BatchSize 100 and no batching window; from the first
   write until the handler has seen every record;
   also the pollers alone: the same items already in the stream when a mapping is created
   with TRIM_HORIZON, until the handler has seen them all;
2. write-to-handler latency: single PutItems 20 ms apart, each carrying the time it was sent;
   the handler notes when it got it (batch window 0). AWS polls a shard four times a second;
3. SQS messages/s: WRITERS processes send MESSAGES messages with SendMessageBatch (10 a call)
   to a queue whose mapping has BatchSize 10; from the first send until every message was
   handled (and so deleted).

    .venv/bin/python bench/events.py [--items 20000] [--messages 10000] [--writers 4]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import select
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

REGION = "us-east-1"
HANDLER = """
import json, os, time

def handler(event, context):
    now = time.time()
    sent = [float(r["dynamodb"]["NewImage"]["t"]["N"]) for r in event["Records"]
            if r.get("eventSource") == "aws:dynamodb" and "t" in r["dynamodb"].get("NewImage", {})]
    with open(os.environ["OUT"], "a") as out:
        out.write(json.dumps([now, len(event["Records"]), sent]) + "\\n")
"""

# One writer process: wait for "go", then write its share and print how many it wrote.
WRITER = """
import sys, boto3
from botocore.config import Config
url, kind, target = sys.argv[1:4]
first, count = int(sys.argv[4]), int(sys.argv[5])
session = boto3.session.Session(
    aws_access_key_id="bench", aws_secret_access_key="bench", region_name="us-east-1"
)
config = Config(retries={"max_attempts": 0}, account_id_endpoint_mode="disabled")
print("ready", flush=True)
sys.stdin.readline()
if kind == "items":
    ddb = session.client("dynamodb", endpoint_url=url, config=config)
    for start in range(first, first + count, 25):
        ddb.batch_write_item(RequestItems={target: [
            {"PutRequest": {"Item": {"pk": {"S": f"item-{n}"}, "v": {"N": str(n)}}}}
            for n in range(start, min(start + 25, first + count))
        ]})
else:
    sqs = session.client("sqs", endpoint_url=url, config=config)
    for start in range(first, first + count, 10):
        numbers = range(start, min(start + 10, first + count))
        sqs.send_message_batch(QueueUrl=target, Entries=[
            {"Id": str(n), "MessageBody": str(n)} for n in numbers
        ])
print(count, flush=True)
"""


def serve(state_dir: str) -> None:
    """The cloud's process: serve until standard input closes."""
    from basegear.cloud.server import LocalCloud, StandardServices

    with tempfile.TemporaryDirectory(prefix="gear-bench-") as cache:
        cloud = LocalCloud(port=0, state_dir=Path(state_dir), fresh=True)
        services = StandardServices(cloud.endpoint_url, cache_dir=Path(cache))
        services.attach(cloud)
        services.start()
        with cloud:
            print(cloud.endpoint_url, flush=True)
            select.select([sys.stdin], [], [], 3600)
            services.close()


@contextmanager
def cloud() -> Iterator[str]:
    with tempfile.TemporaryDirectory(prefix="gear-bench-state-") as state:
        process = subprocess.Popen(
            [sys.executable, __file__, "--serve", state],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )
        try:
            assert process.stdout is not None
            url = process.stdout.readline().decode().strip()
            if not url:
                raise SystemExit("the cloud did not start")
            yield url
        finally:
            if process.stdin is not None:
                process.stdin.close()  # the cloud stops by itself
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def client(url: str, service: str) -> Any:
    import boto3
    from botocore.config import Config

    session = boto3.session.Session(
        aws_access_key_id="bench", aws_secret_access_key="bench", region_name=REGION
    )
    config = Config(retries={"max_attempts": 0}, account_id_endpoint_mode="disabled")
    return session.client(service, endpoint_url=url, config=config)


def function(url: str, name: str, out: Path) -> str:
    iam = client(url, "iam")
    try:
        role = iam.get_role(RoleName="bench-events")["Role"]["Arn"]
    except iam.exceptions.NoSuchEntityException:
        role = iam.create_role(RoleName="bench-events", AssumeRolePolicyDocument="{}")["Role"][
            "Arn"
        ]
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("handler.py", HANDLER)
    created = client(url, "lambda").create_function(
        FunctionName=name,
        Runtime="python3.12",
        Role=role,
        Handler="handler.handler",
        Code={"ZipFile": archive.getvalue()},
        Timeout=30,
        Environment={"Variables": {"OUT": str(out)}},
    )
    arn: str = created["FunctionArn"]
    return arn


def table(url: str, name: str) -> str:
    created = client(url, "dynamodb").create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"},
    )
    arn: str = created["TableDescription"]["LatestStreamArn"]
    return arn


def batches(out: Path) -> list[list[Any]]:
    return [json.loads(line) for line in out.read_text().splitlines()] if out.exists() else []


def wait_records(out: Path, count: int, timeout: float = 300) -> float:
    """When the handler had seen ``count`` records (its own clock)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        seen = batches(out)
        if sum(n for _, n, _ in seen) >= count:
            return max(at for at, _, _ in seen)
        time.sleep(0.05)
    raise SystemExit(f"the handler saw {sum(n for _, n, _ in batches(out))} of {count} records")


def write_in_parallel(url: str, kind: str, target: str, total: int, writers: int) -> float:
    """Start the writers, then let them go at once; returns the time they were let go."""
    share = total // writers
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, url, kind, target, str(i * share), str(share)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for i in range(writers)
    ]
    for process in processes:
        assert process.stdout is not None
        if process.stdout.readline().strip() != "ready":
            raise SystemExit("a writer did not start")
    started = time.time()
    for process in processes:
        assert process.stdin is not None
        process.stdin.write("go\n")
        process.stdin.flush()
    for process in processes:
        if process.wait(timeout=600) != 0:
            raise SystemExit("a writer failed")
    return started


def stream_throughput(url: str, work: Path, items: int, writers: int) -> tuple[float, float]:
    out = work / "stream.jsonl"
    arn = function(url, "bench-stream", out)
    stream = table(url, "bench-stream")
    client(url, "lambda").create_event_source_mapping(
        EventSourceArn=stream, FunctionName=arn, StartingPosition="LATEST", BatchSize=100
    )
    time.sleep(1)  # the mapping's pollers are reading the stream (LATEST)
    started = write_in_parallel(url, "items", "bench-stream", items, writers)
    written = time.time() - started
    done = wait_records(out, items)
    return items / (done - started), items / written


def stream_backlog(url: str, work: Path, items: int, writers: int) -> float:
    """Records/s of a mapping created on a stream that already holds ``items`` records."""
    out = work / "backlog.jsonl"
    arn = function(url, "bench-backlog", out)
    stream = table(url, "bench-backlog")
    write_in_parallel(url, "items", "bench-backlog", items, writers)
    started = time.time()
    client(url, "lambda").create_event_source_mapping(
        EventSourceArn=stream, FunctionName=arn, StartingPosition="TRIM_HORIZON", BatchSize=100
    )
    return items / (wait_records(out, items) - started)


def stream_latency(url: str, work: Path, count: int) -> list[float]:
    out = work / "latency.jsonl"
    arn = function(url, "bench-latency", out)
    stream = table(url, "bench-latency")
    client(url, "lambda").create_event_source_mapping(
        EventSourceArn=stream, FunctionName=arn, StartingPosition="LATEST", BatchSize=100
    )
    time.sleep(1)
    ddb = client(url, "dynamodb")
    for n in range(count):
        ddb.put_item(
            TableName="bench-latency",
            Item={"pk": {"S": f"item-{n}"}, "t": {"N": repr(time.time())}},
        )
        time.sleep(0.02)
    wait_records(out, count)
    return [at - sent for at, _, sents in batches(out) for sent in sents]


def queue_throughput(url: str, work: Path, messages: int, writers: int) -> float:
    out = work / "queue.jsonl"
    arn = function(url, "bench-queue", out)
    sqs = client(url, "sqs")
    queue_url = sqs.create_queue(QueueName="bench-queue")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    client(url, "lambda").create_event_source_mapping(
        EventSourceArn=queue_arn, FunctionName=arn, BatchSize=10
    )
    started = write_in_parallel(url, "messages", queue_url, messages, writers)
    done = wait_records(out, messages)
    return messages / (done - started)


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=20_000)
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--writers", type=int, default=4)
    parser.add_argument("--latency-items", type=int, default=300)
    parser.add_argument("--serve", help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.serve:
        serve(options.serve)
        return
    with tempfile.TemporaryDirectory(prefix="gear-bench-") as folder, cloud() as url:
        work = Path(folder)
        records_per_second, written_per_second = stream_throughput(
            url, work, options.items, options.writers
        )
        backlog_per_second = stream_backlog(url, work, options.items, options.writers)
        latency = stream_latency(url, work, options.latency_items)
        messages_per_second = queue_throughput(url, work, options.messages, options.writers)
    load = os.getloadavg()[0]
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, load average {load:.1f}")
    print("| Measure | Result | Target |")
    print("|---|---|---|")
    print(
        f"| Stream records processed per second ({options.items:,} items, "
        f"{options.writers} writers, BatchSize 100) | {records_per_second:,.0f} | ≥ 5,000 |"
    )
    print(f"| Items written per second by the writers alone | {written_per_second:,.0f} | |")
    print(
        f"| Stream records processed per second from a backlog ({options.items:,} records "
        f"already in the stream) | {backlog_per_second:,.0f} | |"
    )
    print(
        f"| Write-to-handler latency p50 ({len(latency)} single writes, window 0) "
        f"| {statistics.median(latency) * 1000:.1f} ms | < 100 ms |"
    )
    print(f"| Write-to-handler latency p99 | {percentile(latency, 0.99) * 1000:.1f} ms | |")
    print(
        f"| SQS messages processed per second ({options.messages:,} messages, "
        f"{options.writers} senders, BatchSize 10) | {messages_per_second:,.0f} | |"
    )


if __name__ == "__main__":
    main()

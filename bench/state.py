"""What durable state costs: DynamoDB PutItem through boto3 with and without a state directory,
and how long a start takes to restore a journal.

Starts a LocalCloud in a child process on an ephemeral 127.0.0.1 port (without state, then with a
state directory in a temporary folder; alternating, so that load from elsewhere on the machine
falls on both), and measures:

- PutItem p50 and p99 of one boto3 client calling in a loop — each acknowledged write waits for
  its journal record's fdatasync;
- PutItem per second from 4 client threads — concurrent writes share one fdatasync (group
  commit);
- the same with ``Settings(fsync=False)``: a write acknowledged once it is in the page cache;
- the start after ``kill -9`` of a cloud that was sent N PutItems since its last snapshot: the
  restore (snapshot load + replay of N records + new snapshot), as ``Restored.seconds`` reports it.

Every request goes to 127.0.0.1; the script stops by itself and removes its files.

    .venv/bin/python bench/state.py [--requests 3000] [--rounds 3] [--replay 5000]
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import signal
import statistics
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

TABLE = "bench"
_SERVER_LIFETIME = 600  # seconds: the child stops by itself even if this script is killed


def _serve(state_dir: str | None, fsync: bool, conn: Connection) -> None:
    from basegear.cloud.server import LocalCloud
    from basegear.cloud.state import Settings, open_state

    cloud = LocalCloud(port=0)
    if state_dir is not None:
        cloud.state = open_state(Path(state_dir), cloud.router, settings=Settings(fsync=fsync))
    cloud.start()
    restored = cloud.state.restored if cloud.state else None
    conn.send((cloud.endpoint_url, restored.seconds if restored else None))
    conn.poll(_SERVER_LIFETIME)
    cloud.stop()


class Server:
    def __init__(self, state_dir: str | None, *, fsync: bool = True) -> None:
        context = multiprocessing.get_context("spawn")
        self._conn, child = context.Pipe()
        self.process = context.Process(target=_serve, args=(state_dir, fsync, child), daemon=True)
        self.process.start()
        self.endpoint, self.restore_seconds = self._conn.recv()

    def stop(self) -> None:
        self._conn.send("stop")
        self.process.join(30)

    def kill(self) -> None:
        assert self.process.pid is not None
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.join(30)


def _client(endpoint: str) -> Any:
    import boto3
    from botocore.config import Config

    return boto3.client(
        "dynamodb",
        region_name="eu-west-1",
        endpoint_url=endpoint,
        aws_access_key_id="bench",
        aws_secret_access_key="bench",
        config=Config(retries={"total_max_attempts": 1}, max_pool_connections=8),
    )


def _create_table(client: Any) -> None:
    client.create_table(
        TableName=TABLE,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )


def _put(client: Any, i: int) -> None:
    client.put_item(TableName=TABLE, Item={"pk": {"S": f"k{i}"}, "v": {"N": str(i)}})


def latencies(endpoint: str, requests: int) -> list[float]:
    client = _client(endpoint)
    for i in range(200):  # warm the connection and moto's caches
        _put(client, i)
    samples = []
    for i in range(requests):
        started = time.perf_counter()
        _put(client, i)
        samples.append(time.perf_counter() - started)
    return samples


def throughput(endpoint: str, seconds: float, threads: int = 4) -> float:
    clients = [_client(endpoint) for _ in range(threads)]
    done = [0] * threads
    stop = threading.Event()

    def work(index: int) -> None:
        while not stop.is_set():
            _put(clients[index], done[index])
            done[index] += 1

    with ThreadPoolExecutor(threads) as pool:
        for index in range(threads):
            pool.submit(work, index)
        time.sleep(seconds)
        stop.set()
    return sum(done) / seconds


def _ms(samples: list[float], quantile: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(quantile * len(ordered)))] * 1000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--replay", type=int, default=5000)
    args = parser.parse_args()
    results: dict[str, list[tuple[float, float, float]]] = {
        "without state": [],
        "with state": [],
        "with state, no fsync (kill -9 only)": [],
    }
    with tempfile.TemporaryDirectory(prefix="gear-bench-state-") as folder:
        for round_ in range(args.rounds):
            for number, label in enumerate(results):
                state_dir = f"{folder}/state-{round_}-{number}" if number else None
                server = Server(state_dir, fsync=number == 1)
                try:
                    _create_table(_client(server.endpoint))
                    samples = latencies(server.endpoint, args.requests)
                    rate = throughput(server.endpoint, args.seconds)
                finally:
                    server.stop()
                results[label].append((_ms(samples, 0.5), _ms(samples, 0.99), rate))
        print("| DynamoDB PutItem | p50 | p99 | PutItem/s, 4 threads |")
        print("|---|---|---|---|")
        for label, rows in results.items():
            p50 = statistics.median(row[0] for row in rows)
            p99 = statistics.median(row[1] for row in rows)
            rate = statistics.median(row[2] for row in rows)
            print(f"| {label} | {p50:.3f} ms | {p99:.3f} ms | {rate:,.0f} |")
        p50_cost = statistics.median(r[0] for r in results["with state"]) - statistics.median(
            r[0] for r in results["without state"]
        )
        print(f"\nper acknowledged write, p50: {p50_cost:+.3f} ms")

        state_dir = f"{folder}/replay"
        server = Server(state_dir)
        client = _client(server.endpoint)
        _create_table(client)
        for i in range(args.replay):
            _put(client, i)
        server.kill()
        server = Server(state_dir)
        print(
            f"restore after kill -9 with {args.replay} PutItems in the journal: "
            f"{server.restore_seconds:.2f} s"
        )
        server.stop()
        server = Server(state_dir)
        print(f"restore from the snapshot alone: {server.restore_seconds:.2f} s")
        server.stop()


if __name__ == "__main__":
    main()

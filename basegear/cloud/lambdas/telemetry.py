"""What the runtime reports: execution logs (the handler's output framed by START, END and
REPORT lines) to a ``LogSink``, and the AWS/Lambda metrics to a ``MetricSink``.

The gateway connects these to CloudWatch Logs (group ``/aws/lambda/<name>``, one stream per
execution environment) and CloudWatch metrics (namespace ``AWS/Lambda``). Both sinks are called
on the invoking thread once per invocation; ``BackgroundSink`` moves a slow sink off it.
"""

from __future__ import annotations

import logging
import math
import queue
import threading
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

LOG = logging.getLogger(__name__)

NAMESPACE = "AWS/Lambda"


@dataclass(frozen=True)
class LogEvent:
    timestamp: int  # epoch milliseconds
    message: str


@dataclass(frozen=True)
class LogBatch:
    group: str  # /aws/lambda/<function name>
    stream: str  # YYYY/MM/DD/[<version>]<32 hex digits>
    events: tuple[LogEvent, ...]
    account: str = "123456789012"
    region: str = "us-east-1"


class LogSink(Protocol):
    def write(self, batch: LogBatch) -> None: ...


@dataclass(frozen=True)
class MetricDatum:
    name: str
    value: float
    unit: str  # "Count" or "Milliseconds"
    dimensions: tuple[tuple[str, str], ...]
    timestamp: float  # epoch seconds


class MetricSink(Protocol):
    def put(
        self, namespace: str, data: Sequence[MetricDatum], *, account: str, region: str
    ) -> None: ...


class MemoryLogSink:
    """Keeps every batch (tests, and a dashboard without CloudWatch)."""

    def __init__(self) -> None:
        self.batches: list[LogBatch] = []
        self._lock = threading.Lock()

    def write(self, batch: LogBatch) -> None:
        with self._lock:
            self.batches.append(batch)

    def messages(self, group: str | None = None) -> list[str]:
        with self._lock:
            return [
                event.message
                for batch in self.batches
                if group is None or batch.group == group
                for event in batch.events
            ]


class MemoryMetricSink:
    def __init__(self) -> None:
        self.data: list[MetricDatum] = []
        self._lock = threading.Lock()

    def put(
        self, namespace: str, data: Sequence[MetricDatum], *, account: str, region: str
    ) -> None:
        with self._lock:
            self.data.extend(data)

    def total(self, name: str, *dimensions: tuple[str, str]) -> float:
        with self._lock:
            return sum(d.value for d in self.data if d.name == name and d.dimensions == dimensions)


class BackgroundSink:
    """A log sink and a metric sink whose deliveries run on one daemon thread, so a slow sink
    (CloudWatch through moto) costs the invoking thread a queue put. ``close()`` delivers what
    is queued, then stops."""

    def __init__(self, *, logs: LogSink | None = None, metrics: MetricSink | None = None) -> None:
        self._logs = logs
        self._metrics = metrics
        self._queue: queue.SimpleQueue[
            LogBatch | tuple[str, Sequence[MetricDatum], str, str] | None
        ]
        self._queue = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="gear-sink", daemon=True)
        self._thread.start()

    def write(self, batch: LogBatch) -> None:
        if self._logs is not None:
            self._queue.put(batch)

    def put(
        self, namespace: str, data: Sequence[MetricDatum], *, account: str, region: str
    ) -> None:
        if self._metrics is not None:
            self._queue.put((namespace, tuple(data), account, region))

    def _run(self) -> None:
        while (item := self._queue.get()) is not None:
            try:
                if isinstance(item, LogBatch):
                    assert self._logs is not None
                    self._logs.write(item)
                else:
                    assert self._metrics is not None
                    namespace, data, account, region = item
                    self._metrics.put(namespace, data, account=account, region=region)
            except Exception:
                LOG.exception("a log or metric sink failed")

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join(timeout=10)


def log_stream_name(version: str, now: float) -> str:
    """``2024/05/01/[$LATEST]0f3c…``: one stream per execution environment (Lambda developer
    guide, "Working with Lambda function logs")."""
    day = time.strftime("%Y/%m/%d", time.gmtime(now))
    return f"{day}/[{version}]{uuid.uuid4().hex}"


def init_start_line(runtime: str) -> str:
    return f"INIT_START Runtime Version: {runtime.replace('python', 'python:')}.gear"


def start_line(request_id: str, version: str) -> str:
    return f"START RequestId: {request_id} Version: {version}"


def end_line(request_id: str) -> str:
    return f"END RequestId: {request_id}"


def report_line(
    request_id: str,
    *,
    duration_ms: float,
    memory_size: int,
    max_memory_mb: int,
    init_ms: float | None,
    status: str | None,
) -> str:
    """The REPORT line; billed duration is rounded up to the next millisecond (Lambda pricing
    since December 2020); Init Duration appears on a cold start only."""
    parts = [
        f"REPORT RequestId: {request_id}",
        f"Duration: {duration_ms:.2f} ms",
        f"Billed Duration: {max(1, math.ceil(duration_ms))} ms",
        f"Memory Size: {memory_size} MB",
        f"Max Memory Used: {max_memory_mb} MB",
    ]
    if init_ms is not None:
        parts.append(f"Init Duration: {init_ms:.2f} ms")
    if status is not None:
        parts.append(f"Status: {status}")
    return "\t".join(parts) + "\t"


def dimension_sets(
    name: str, qualifier: str | None, executed_version: str
) -> list[tuple[tuple[str, str], ...]]:
    """Lambda publishes each metric per function, per qualified resource (version or alias),
    and per executed version behind an alias (Lambda developer guide, "Types of metrics for
    Lambda functions", dimensions FunctionName, Resource and ExecutedVersion)."""
    sets: list[tuple[tuple[str, str], ...]] = [(("FunctionName", name),)]
    if qualifier:
        resource = (("FunctionName", name), ("Resource", f"{name}:{qualifier}"))
        sets.append(resource)
        if not qualifier.isdigit() and qualifier != "$LATEST":
            sets.append((*resource, ("ExecutedVersion", executed_version)))
    return sets


def invocation_metrics(
    name: str,
    qualifier: str | None,
    executed_version: str,
    *,
    duration_ms: float,
    error: bool,
    now: float,
) -> list[MetricDatum]:
    """Invocations and Errors are binary indicators (1 per invocation, Errors 0 on success);
    Duration is in milliseconds."""
    data = []
    for dims in dimension_sets(name, qualifier, executed_version):
        data.append(MetricDatum("Invocations", 1.0, "Count", dims, now))
        data.append(MetricDatum("Errors", 1.0 if error else 0.0, "Count", dims, now))
        data.append(MetricDatum("Duration", duration_ms, "Milliseconds", dims, now))
    return data


def throttle_metrics(name: str, qualifier: str | None, now: float) -> list[MetricDatum]:
    """A throttled request counts in Throttles, not in Invocations or Errors."""
    return [
        MetricDatum("Throttles", 1.0, "Count", dims, now)
        for dims in dimension_sets(name, qualifier, qualifier or "$LATEST")
    ]


def concurrency_metrics(name: str, running: int, total: int, now: float) -> list[MetricDatum]:
    """ConcurrentExecutions per function and for the account (no dimension)."""
    function = (("FunctionName", name),)
    return [
        MetricDatum("ConcurrentExecutions", float(running), "Count", function, now),
        MetricDatum("ConcurrentExecutions", float(total), "Count", (), now),
    ]

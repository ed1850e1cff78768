"""What the runtime reports: execution logs (the handler's output framed by START, END and
REPORT lines) to a ``LogSink``, and the AWS/Lambda metrics to a ``MetricSink``.

The local cloud connects these to CloudWatch Logs (group ``/aws/lambda/<name>``, one stream
per execution environment) and CloudWatch metrics (namespace ``AWS/Lambda``). Both sinks are
called on the invoking thread once per invocation; ``BackgroundSink`` turns that into an append
to a buffer, and delivers the buffer in batches from a thread of its own.
"""

from __future__ import annotations

import functools
import logging
import math
import threading
import time
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

LOG = logging.getLogger(__name__)

NAMESPACE = "AWS/Lambda"


# The records below are made per invocation: plain slotted classes, which are built in a
# fifth of the time a frozen dataclass takes.


@dataclass(slots=True)
class LogEvent:
    timestamp: int  # epoch milliseconds
    message: str


@dataclass(slots=True)
class LogBatch:
    group: str  # /aws/lambda/<function name>
    stream: str  # YYYY/MM/DD/[<version>]<32 hex digits>
    events: tuple[LogEvent, ...]
    account: str = "123456789012"
    region: str = "us-east-1"


class LogSink(Protocol):
    def write(self, batch: LogBatch) -> None: ...


@dataclass(slots=True)
class MetricDatum:
    """One value of a metric; or, when ``count`` > 1 or ``minimum`` is set, a statistic set
    standing for ``count`` values whose sum is ``value`` (CloudWatch PutMetricData,
    ``StatisticValues``)."""

    name: str
    value: float
    unit: str  # "Count" or "Milliseconds"
    dimensions: tuple[tuple[str, str], ...]
    timestamp: float  # epoch seconds
    count: int = 1
    minimum: float | None = None  # None: a single value, its own minimum and maximum
    maximum: float | None = None

    @property
    def is_statistic_set(self) -> bool:
        return self.count != 1 or self.minimum is not None


Dimensions = tuple[tuple[str, str], ...]
MetricName = tuple[str, str, Dimensions]  # (metric name, unit, dimensions)


class MetricSink(Protocol):
    def put(
        self, namespace: str, data: Sequence[MetricDatum], *, account: str, region: str
    ) -> None: ...

    def put_values(
        self,
        namespace: str,
        names: Sequence[MetricName],
        values: Sequence[float],
        timestamp: float,
        *,
        account: str,
        region: str,
    ) -> None:
        """One value of each metric, all at ``timestamp`` (what an invocation reports)."""
        data = [
            MetricDatum(name, value, unit, dimensions, timestamp)
            for (name, unit, dimensions), value in zip(names, values, strict=True)
        ]
        self.put(namespace, data, account=account, region=region)


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


class MemoryMetricSink(MetricSink):
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


# Statistic sets being gathered: by account, region, namespace and whole second, then by metric
# name, unit and dimensions; each value is [count, sum, minimum, maximum].
_Bucket = tuple[str, str, str, int]
_Stats = dict[_Bucket, dict[MetricName, list[float]]]


class BackgroundSink(MetricSink):
    """A log sink and a metric sink for the invoking threads: a call appends to a buffer, and
    one daemon thread delivers the buffers in batches to the real sinks (CloudWatch through
    moto, whose backends are not thread-safe: one thread writes).

    - Log batches go out ``log_delay`` seconds after the oldest of them was queued (50 ms),
      those of one log stream merged into one write.
    - Metric values are aggregated as they arrive: the values of one metric (name, unit,
      dimensions) within one second become one statistic set timestamped at the start of that
      second, delivered every ``metric_delay`` seconds (1 s). CloudWatch answers queries to the
      second, so they see the same statistics, and the metric store grows with time rather than
      with the number of invocations.
    - Memory is bounded: with ``max_pending_bytes`` of log text queued, an invoking thread waits
      for the writer; nothing is dropped.
    - ``flush()`` delivers everything queued before it and returns once it is written;
      ``close()`` delivers what is queued and ends the thread; calls after it deliver at once.

    On AWS too logs and metrics reach CloudWatch asynchronously: "It might take 5 to 10 minutes
    for logs to show up after a function invocation" (Lambda developer guide, "Sending Lambda
    function logs to CloudWatch Logs"); "Lambda sends metric data to CloudWatch in 1-minute
    intervals" (Lambda developer guide, "Using CloudWatch metrics with Lambda"). So an Invoke
    answer does not wait for its logs. A clean stop loses nothing; ``kill -9`` of the process
    loses at most the last ``log_delay`` of logs and ``metric_delay`` of metrics.
    """

    def __init__(
        self,
        *,
        logs: LogSink | None = None,
        metrics: MetricSink | None = None,
        log_delay: float = 0.05,
        metric_delay: float = 1.0,
        max_pending_bytes: int = 64 * 1024 * 1024,
    ) -> None:
        self._logs = logs
        self._metrics = metrics
        self._log_delay = log_delay
        self._metric_delay = metric_delay
        self._max_pending_bytes = max_pending_bytes
        self._lock = threading.Lock()
        self._work = threading.Condition(self._lock)  # the writer waits here
        self._progress = threading.Condition(self._lock)  # callers wait here for the writer
        self._log_queue: list[LogBatch] = []
        self._log_bytes = 0
        self._logs_since = 0.0  # when the oldest queued batch arrived (monotonic seconds)
        self._stats: _Stats = {}
        self._stats_since = 0.0
        self._accepted = 0  # calls queued so far
        self._delivered = 0  # how many of them have been delivered
        self._room_wanted = 0  # callers waiting for log buffer space
        self._flushing = 0  # flush() calls waiting
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="gear-sink", daemon=True)
        self._thread.start()

    # -- called by the invoking threads ------------------------------------------------------

    def write(self, batch: LogBatch) -> None:
        if self._logs is None:
            return
        size = sum(len(event.message) for event in batch.events) + _BATCH_OVERHEAD
        # The writer itself may get here: a log subscription filter can run a function from
        # inside a delivery. It must not wait for itself.
        writer = threading.get_ident() == self._thread.ident
        with self._lock:
            while (
                self._log_queue
                and self._log_bytes + size > self._max_pending_bytes
                and not self._closed
                and not writer
            ):
                self._room_wanted += 1
                self._work.notify()
                self._progress.wait()
                self._room_wanted -= 1
            if not self._closed:
                if not self._log_queue:
                    self._logs_since = time.monotonic()
                    self._work.notify()
                self._log_queue.append(batch)
                self._log_bytes += size
                self._accepted += 1
                return
        self._deliver_logs([batch])

    def put(
        self, namespace: str, data: Sequence[MetricDatum], *, account: str, region: str
    ) -> None:
        if self._metrics is None:
            return
        with self._lock:
            if not self._closed:
                for datum in data:
                    stats = self._bucket(account, region, namespace, datum.timestamp)
                    low = datum.value if datum.minimum is None else datum.minimum
                    high = datum.value if datum.maximum is None else datum.maximum
                    key = (datum.name, datum.unit, datum.dimensions)
                    entry = stats.get(key)
                    if entry is None:
                        stats[key] = [datum.count, datum.value, low, high]
                    else:
                        entry[0] += datum.count
                        entry[1] += datum.value
                        entry[2] = min(entry[2], low)
                        entry[3] = max(entry[3], high)
                self._accepted += 1
                return
        self._metrics.put(namespace, data, account=account, region=region)

    def put_values(
        self,
        namespace: str,
        names: Sequence[MetricName],
        values: Sequence[float],
        timestamp: float,
        *,
        account: str,
        region: str,
    ) -> None:
        """``put`` without a record per value: every invocation reports this way."""
        if self._metrics is None:
            return
        with self._lock:
            if not self._closed:
                stats = self._bucket(account, region, namespace, timestamp)
                for name, value in zip(names, values, strict=True):
                    entry = stats.get(name)
                    if entry is None:
                        stats[name] = [1, value, value, value]
                    else:
                        entry[0] += 1
                        entry[1] += value
                        if value < entry[2]:
                            entry[2] = value
                        elif value > entry[3]:
                            entry[3] = value
                self._accepted += 1
                return
        self._metrics.put_values(
            namespace, names, values, timestamp, account=account, region=region
        )

    def _bucket(
        self, account: str, region: str, namespace: str, timestamp: float
    ) -> dict[MetricName, list[float]]:
        """(Under the lock) the statistic sets of one second, the writer woken for the first."""
        if not self._stats:
            self._stats_since = time.monotonic()
            self._work.notify()
        key = (account, region, namespace, int(timestamp))
        stats = self._stats.get(key)
        if stats is None:
            stats = self._stats[key] = {}
        return stats

    def flush(self, timeout: float = 10.0) -> bool:
        """Deliver everything queued so far, now; True once it is written, False if
        ``timeout`` seconds passed first."""
        with self._lock:
            target = self._accepted
            self._flushing += 1
            self._work.notify()
            try:
                return self._progress.wait_for(lambda: self._delivered >= target, timeout)
            finally:
                self._flushing -= 1

    def close(self) -> None:
        """Deliver what is queued and end the thread."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._work.notify()
            self._progress.notify_all()
        self._thread.join(timeout=10)

    # -- the writer thread -------------------------------------------------------------------

    def _run(self) -> None:
        while True:
            with self._lock:
                due = self._wait_for_work()
                if due is None:
                    return
                logs, stats, accepted = due
            try:
                if logs:
                    self._deliver_logs(logs)
                if stats:
                    self._deliver_metrics(stats)
            except Exception:
                LOG.exception("a log or metric sink failed")
            with self._lock:
                if accepted is not None:
                    self._delivered = accepted
                self._progress.notify_all()

    def _wait_for_work(
        self,
    ) -> tuple[list[LogBatch], _Stats, int | None] | None:
        """Under the lock: what is due for delivery, waiting until something is, and how many
        calls are delivered with it when it empties both buffers. None once closed and empty."""
        while True:
            now = time.monotonic()
            hurry = self._closed or self._flushing > 0
            logs_at = self._logs_since + self._log_delay if self._log_queue else math.inf
            stats_at = self._stats_since + self._metric_delay if self._stats else math.inf
            take_logs = bool(self._log_queue) and (hurry or self._room_wanted > 0 or now >= logs_at)
            take_stats = bool(self._stats) and (hurry or now >= stats_at)
            if take_logs or take_stats:
                logs: list[LogBatch] = []
                stats: _Stats = {}
                if take_logs:
                    logs, self._log_queue, self._log_bytes = self._log_queue, [], 0
                    self._progress.notify_all()  # room for waiting writers
                if take_stats:
                    stats, self._stats = self._stats, {}
                complete = not self._log_queue and not self._stats
                return logs, stats, self._accepted if complete else None
            if self._closed:
                return None
            until = min(logs_at, stats_at)
            self._work.wait(None if until == math.inf else until - now)

    def _deliver_logs(self, batches: Iterable[LogBatch]) -> None:
        assert self._logs is not None
        streams: dict[tuple[str, str, str, str], list[LogEvent]] = {}
        for batch in batches:
            key = (batch.account, batch.region, batch.group, batch.stream)
            streams.setdefault(key, []).extend(batch.events)
        for (account, region, group, stream), events in streams.items():
            for start in range(0, len(events), _EVENTS_PER_WRITE):
                chunk = tuple(events[start : start + _EVENTS_PER_WRITE])
                self._logs.write(LogBatch(group, stream, chunk, account=account, region=region))
                time.sleep(0)  # let the invoking threads have the GIL between writes

    def _deliver_metrics(self, stats: _Stats) -> None:
        assert self._metrics is not None
        calls: dict[tuple[str, str, str], list[MetricDatum]] = {}
        for (account, region, namespace, second), sets in stats.items():
            data = calls.setdefault((account, region, namespace), [])
            for (name, unit, dimensions), (count, total, low, high) in sets.items():
                if count == 1:
                    data.append(MetricDatum(name, total, unit, dimensions, float(second)))
                else:
                    data.append(
                        MetricDatum(
                            name, total, unit, dimensions, float(second), int(count), low, high
                        )
                    )
        for (account, region, namespace), data in calls.items():
            self._metrics.put(namespace, data, account=account, region=region)


_BATCH_OVERHEAD = 200
"""Bytes counted for a log batch besides its messages' text (its objects)."""
_EVENTS_PER_WRITE = 10_000
"""PutLogEvents takes at most 10,000 events a call (CloudWatch Logs API reference)."""


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
    line = (
        f"REPORT RequestId: {request_id}\tDuration: {duration_ms:.2f} ms\t"
        f"Billed Duration: {max(1, math.ceil(duration_ms))} ms\tMemory Size: {memory_size} MB\t"
        f"Max Memory Used: {max_memory_mb} MB\t"
    )
    if init_ms is not None:
        line += f"Init Duration: {init_ms:.2f} ms\t"
    if status is not None:
        line += f"Status: {status}\t"
    return line


@functools.lru_cache(maxsize=4096)
def dimension_sets(
    name: str, qualifier: str | None, executed_version: str
) -> tuple[Dimensions, ...]:
    """Lambda publishes each metric per function, per qualified resource (version or alias),
    and per executed version behind an alias (Lambda developer guide, "Types of metrics for
    Lambda functions", dimensions FunctionName, Resource and ExecutedVersion)."""
    sets: list[tuple[tuple[str, str], ...]] = [(("FunctionName", name),)]
    if qualifier:
        resource = (("FunctionName", name), ("Resource", f"{name}:{qualifier}"))
        sets.append(resource)
        if not qualifier.isdigit() and qualifier != "$LATEST":
            sets.append((*resource, ("ExecutedVersion", executed_version)))
    return tuple(sets)


def invocation_metrics(
    name: str,
    qualifier: str | None,
    executed_version: str,
    *,
    duration_ms: float,
    error: bool,
    running: int,
    total: int,
) -> tuple[tuple[MetricName, ...], list[float]]:
    """The metrics of one invocation and their values (``MetricSink.put_values``). Invocations
    and Errors are binary indicators (1 per invocation, Errors 0 on success), Duration is in
    milliseconds, each per dimension set; then ConcurrentExecutions per function and for the
    account (no dimension)."""
    names = _invocation_metric_names(name, qualifier, executed_version)
    per_set = [1.0, 1.0 if error else 0.0, duration_ms]
    return names, per_set * ((len(names) - 2) // 3) + [float(running), float(total)]


@functools.lru_cache(maxsize=4096)
def _invocation_metric_names(
    name: str, qualifier: str | None, executed_version: str
) -> tuple[MetricName, ...]:
    names: list[MetricName] = []
    for dims in dimension_sets(name, qualifier, executed_version):
        names += [
            ("Invocations", "Count", dims),
            ("Errors", "Count", dims),
            ("Duration", "Milliseconds", dims),
        ]
    names.append(("ConcurrentExecutions", "Count", (("FunctionName", name),)))
    names.append(("ConcurrentExecutions", "Count", ()))
    return tuple(names)


def throttle_metrics(name: str, qualifier: str | None, now: float) -> list[MetricDatum]:
    """A throttled request counts in Throttles, not in Invocations or Errors."""
    return [
        MetricDatum("Throttles", 1.0, "Count", dims, now)
        for dims in dimension_sets(name, qualifier, qualifier or "$LATEST")
    ]

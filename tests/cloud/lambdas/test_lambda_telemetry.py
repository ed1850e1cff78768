"""``BackgroundSink``: logs and metrics delivered in batches off the invoking thread, metric
values aggregated into statistic sets that CloudWatch reads as the single values, memory
bounded by making writers wait, and nothing lost by flush or close."""

from __future__ import annotations

import pickle
import threading
import time
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from moto import mock_aws
from moto.logs.models import logs_backends

from basegear.cloud.lambdas.telemetry import (
    BackgroundSink,
    LogBatch,
    LogEvent,
    MemoryLogSink,
    MemoryMetricSink,
    MetricDatum,
    invocation_metrics,
)
from basegear.cloud.motoshim.cloudwatch_sinks import CloudWatchLogsSink, CloudWatchMetricSink

ACCOUNT, REGION = "123456789012", "eu-west-1"


def batch(stream: str, *messages: str, at: int = 1_000) -> LogBatch:
    """One invocation's log events, ``at`` epoch milliseconds and a millisecond apart."""
    events = tuple(LogEvent(at + i, message) for i, message in enumerate(messages))
    return LogBatch("/aws/lambda/f", stream, events, account=ACCOUNT, region=REGION)


class SlowLogs:
    """A log sink that takes ``delay`` seconds per write."""

    def __init__(self, delay: float) -> None:
        self.delay = delay
        self.batches: list[LogBatch] = []

    def write(self, batch: LogBatch) -> None:
        time.sleep(self.delay)
        self.batches.append(batch)


@pytest.fixture
def moto_cloudwatch() -> Iterator[None]:
    with mock_aws():
        yield


def test_metric_values_arrive_as_statistic_sets_cloudwatch_reads_alike(
    moto_cloudwatch: None,
) -> None:
    sink = BackgroundSink(metrics=CloudWatchMetricSink(), metric_delay=30)
    now = time.time()
    dims = (("FunctionName", "f"),)
    for value in range(1, 1001):  # one invocation's Duration each, all within one second
        datum = MetricDatum("Duration", float(value), "Milliseconds", dims, int(now) + 0.5)
        sink.put("AWS/Lambda", [datum], account=ACCOUNT, region=REGION)
    sink.put(
        "AWS/Lambda",
        [MetricDatum("Throttles", 1.0, "Count", dims, now)],
        account=ACCOUNT,
        region=REGION,
    )
    assert sink.flush()  # long before metric_delay
    sink.close()

    from moto.cloudwatch.models import cloudwatch_backends

    stored = cloudwatch_backends[ACCOUNT][REGION].metric_data
    assert len(stored) == 2, "a thousand values stored one by one"
    cloudwatch: Any = boto3.client("cloudwatch", region_name=REGION)
    points = cloudwatch.get_metric_statistics(
        Namespace="AWS/Lambda",
        MetricName="Duration",
        Dimensions=[{"Name": "FunctionName", "Value": "f"}],
        StartTime=datetime.now(UTC) - timedelta(minutes=5),
        EndTime=datetime.now(UTC) + timedelta(minutes=5),
        Period=60,
        Statistics=["SampleCount", "Sum", "Minimum", "Maximum", "Average"],
        Unit="Milliseconds",
    )["Datapoints"]
    [point] = points
    assert point["SampleCount"] == 1000 and point["Sum"] == 500_500
    assert point["Minimum"] == 1 and point["Maximum"] == 1000 and point["Average"] == 500.5


def test_values_of_different_seconds_or_dimensions_stay_apart() -> None:
    memory = MemoryMetricSink()
    sink = BackgroundSink(metrics=memory, metric_delay=30)
    a, b = (("FunctionName", "a"),), (("FunctionName", "b"),)
    data = [
        MetricDatum("Invocations", 1.0, "Count", a, 100.2),
        MetricDatum("Invocations", 1.0, "Count", a, 100.9),
        MetricDatum("Invocations", 1.0, "Count", a, 101.1),
        MetricDatum("Invocations", 1.0, "Count", b, 100.5),
    ]
    sink.put("AWS/Lambda", data, account=ACCOUNT, region=REGION)
    sink.close()  # delivers what is queued
    delivered = sorted(memory.data, key=lambda d: (d.dimensions, d.timestamp))
    assert [(d.dimensions, d.timestamp, d.count, d.value) for d in delivered] == [
        (a, 100.0, 2, 2.0),
        (a, 101.0, 1, 1.0),
        (b, 100.0, 1, 1.0),
    ]
    assert delivered[0].is_statistic_set and not delivered[1].is_statistic_set
    assert memory.total("Invocations", *a) == 3


def test_logs_of_one_stream_are_merged_in_order(moto_cloudwatch: None) -> None:
    sink = BackgroundSink(logs=CloudWatchLogsSink(), log_delay=30)
    now_ms = int(time.time() * 1000)  # CloudWatch Logs refuses events older than 14 days
    for n in range(50):
        sink.write(batch("one", f"START {n}", f"END {n}", at=now_ms + n * 10))
    sink.write(batch("two", "other"))
    assert sink.flush()
    logs: Any = boto3.client("logs", region_name=REGION)
    events = logs.get_log_events(logGroupName="/aws/lambda/f", logStreamName="one")["events"]
    assert [e["message"] for e in events] == [
        line for n in range(50) for line in (f"START {n}", f"END {n}")
    ]
    sink.write(batch("one", "after the flush", at=now_ms + 1000))
    sink.close()
    events = logs.get_log_events(logGroupName="/aws/lambda/f", logStreamName="one")["events"]
    assert events[-1]["message"] == "after the flush"


def test_values_put_without_records_join_the_same_statistic_sets() -> None:
    """``put_values`` (what each invocation reports) and ``put`` gather into one statistic set
    per metric and second, with the minimum and maximum of what was put."""
    memory = MemoryMetricSink()
    sink = BackgroundSink(metrics=memory, metric_delay=30)
    names, values = invocation_metrics(
        "f", None, "$LATEST", duration_ms=4.0, error=False, running=1, total=1
    )
    sink.put_values("AWS/Lambda", names, values, 100.1, account=ACCOUNT, region=REGION)
    names, values = invocation_metrics(
        "f", None, "$LATEST", duration_ms=9.0, error=True, running=2, total=3
    )
    sink.put_values("AWS/Lambda", names, values, 100.7, account=ACCOUNT, region=REGION)
    function = (("FunctionName", "f"),)
    extra = [MetricDatum("Duration", 1.0, "Milliseconds", function, 100.5)]
    sink.put("AWS/Lambda", extra, account=ACCOUNT, region=REGION)
    sink.close()
    found = {(d.name, d.dimensions): d for d in memory.data}
    duration = found[("Duration", function)]
    assert (duration.count, duration.value, duration.minimum, duration.maximum) == (3, 14.0, 1, 9)
    assert found[("Errors", function)].value == 1 and found[("Invocations", function)].count == 2
    assert found[("ConcurrentExecutions", ())].maximum == 3
    assert {d.timestamp for d in memory.data} == {100.0}


def test_stored_events_read_as_through_put_log_events(moto_cloudwatch: None) -> None:
    """The sink stores light events in moto's streams: the read APIs see what PutLogEvents
    would have stored, event IDs are unique across streams, and the events survive a pickled
    snapshot of the backend."""
    sink = CloudWatchLogsSink()
    now_ms = int(time.time() * 1000)
    sink.write(batch("one", "START", "END", at=now_ms))
    sink.write(batch("two", "other", at=now_ms + 5))
    logs: Any = boto3.client("logs", region_name=REGION)
    logs.put_log_events(
        logGroupName="/aws/lambda/f",
        logStreamName="two",
        logEvents=[{"timestamp": now_ms + 6, "message": "through the API"}],
    )
    found = logs.filter_log_events(logGroupName="/aws/lambda/f", interleaved=True)["events"]
    assert [(e["logStreamName"], e["message"]) for e in found] == [
        ("one", "START"),
        ("one", "END"),
        ("two", "other"),
        ("two", "through the API"),
    ]
    assert len({e["eventId"] for e in found}) == 4
    streams = logs.describe_log_streams(logGroupName="/aws/lambda/f")["logStreams"]
    one = next(s for s in streams if s["logStreamName"] == "one")
    assert (one["firstEventTimestamp"], one["lastEventTimestamp"]) == (now_ms, now_ms + 1)
    assert one["storedBytes"] == len("START") + len("END")
    stream = logs_backends[ACCOUNT][REGION].groups["/aws/lambda/f"].streams["one"]
    assert pickle.loads(pickle.dumps(stream.events)) == stream.events


def test_a_slow_sink_makes_writers_wait_and_loses_nothing() -> None:
    slow = SlowLogs(delay=0.02)
    line = "x" * 1000
    sink = BackgroundSink(logs=slow, log_delay=0.001, max_pending_bytes=20_000)
    peak = 0

    def writer(name: str) -> None:
        nonlocal peak
        for n in range(40):
            sink.write(batch(name, f"{n} {line}"))
            peak = max(peak, sink._log_bytes)

    writers = [threading.Thread(target=writer, args=(f"s{i}",)) for i in range(4)]
    started = time.monotonic()
    for thread in writers:
        thread.start()
    for thread in writers:
        thread.join(timeout=30)
    sink.close()
    assert peak <= 20_000 + 2_000, "the queue grew past its bound"
    assert time.monotonic() - started > 0.1, "the writers never waited for the sink"
    delivered = [event.message for b in slow.batches for event in b.events]
    assert len(delivered) == 160
    for i in range(4):
        mine = [b for b in slow.batches if b.stream == f"s{i}"]
        messages = [event.message.split()[0] for b in mine for event in b.events]
        assert messages == [str(n) for n in range(40)]


def test_flush_and_close_on_an_idle_sink_return_at_once() -> None:
    sink = BackgroundSink(logs=MemoryLogSink(), metrics=MemoryMetricSink())
    started = time.monotonic()
    assert sink.flush()
    sink.close()
    sink.close()
    assert time.monotonic() - started < 1


def test_writes_after_close_are_delivered_directly() -> None:
    logs, metrics = MemoryLogSink(), MemoryMetricSink()
    sink = BackgroundSink(logs=logs, metrics=metrics)
    sink.close()
    sink.write(batch("late", "still here"))
    data: Sequence[MetricDatum] = [MetricDatum("Errors", 1.0, "Count", (), 5.0)]
    sink.put("AWS/Lambda", data, account=ACCOUNT, region=REGION)
    assert logs.messages() == ["still here"] and metrics.total("Errors") == 1


def test_logs_are_kept_whatever_the_cloud_clock_says(moto_cloudwatch: None) -> None:
    """The local cloud's clock may run hours ahead of real time (``gear clock advance``) or
    start in the past: a function's log lines carry that clock's time, and are kept. (Through
    the CloudWatch Logs API, AWS refuses events more than 2 hours ahead or 14 days old.)"""
    sink = CloudWatchLogsSink()
    now_ms = int(time.time() * 1000)
    ahead, behind = now_ms + 3 * 3600 * 1000, now_ms - 20 * 24 * 3600 * 1000
    sink.write(batch("clock", "START after advancing 3 h", at=ahead))
    sink.write(batch("clock", "START 20 days back", at=behind))
    logs: Any = boto3.client("logs", region_name=REGION)
    events = logs.get_log_events(logGroupName="/aws/lambda/f", logStreamName="clock")["events"]
    assert sorted((e["timestamp"], e["message"]) for e in events) == [
        (behind, "START 20 days back"),
        (ahead, "START after advancing 3 h"),
    ]

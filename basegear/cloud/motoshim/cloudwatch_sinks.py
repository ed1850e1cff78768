"""The runtime's log and metric sinks, writing to moto's CloudWatch Logs and CloudWatch.

Every invocation writes four log lines or more (START, the handler's output, END, REPORT), so
the log sink is on the hot path of each request: it stores its events in moto's log streams
as light records that read the same as moto's own.
"""

from __future__ import annotations

import operator
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, NamedTuple

from moto.cloudwatch.models import cloudwatch_backends
from moto.core.utils import unix_time_millis, utcnow
from moto.logs.models import LogEvent, logs_backends

from basegear.cloud.lambdas.telemetry import LogBatch, MetricDatum, MetricSink

_BY_TIME = operator.attrgetter("timestamp")


class StoredLogEvent(NamedTuple):
    """One event in a moto log stream, answering as moto's ``LogEvent`` does (GetLogEvents,
    FilterLogEvents): a small tuple. moto's model is an object with a dict, made through a
    constructor that also keeps it in a list of every instance ever made, so that even a
    deleted log group's events stay in memory."""

    event_id: int
    ingestion_time: int
    timestamp: int
    message: str

    def to_filter_dict(self) -> dict[str, Any]:
        return {
            "eventId": str(self.event_id),
            "ingestionTime": self.ingestion_time,
            "message": self.message,
            "timestamp": self.timestamp,
        }

    def to_response_dict(self) -> dict[str, Any]:
        return {
            "ingestionTime": self.ingestion_time,
            "message": self.message,
            "timestamp": self.timestamp,
        }


class CloudWatchLogsSink:
    """A ``LogSink`` writing to moto's CloudWatch Logs: group ``/aws/lambda/<name>``, one
    stream per execution environment, created on first use (Lambda developer guide, "Sending
    Lambda function logs to CloudWatch Logs"). moto's log backends are not thread-safe: wrap
    this in ``telemetry.BackgroundSink`` so one thread writes.

    The events go straight to the log stream, not through PutLogEvents, which refuses events
    more than 2 hours ahead of real time or 14 days behind it (CloudWatch Logs API reference):
    they carry the local cloud's clock, which ``gear clock advance`` moves ahead of real time.
    A group with subscription filters gets them through moto's stream, which forwards them."""

    def write(self, batch: LogBatch) -> None:
        backend = logs_backends[batch.account][batch.region]
        backend.ensure_log_group(batch.group)
        backend.ensure_log_stream(batch.group, batch.stream)
        group = backend.groups[batch.group]
        stream: Any = group.streams[batch.stream]  # its events may be StoredLogEvent too
        # Events are stored in chronological order, as PutLogEvents takes them; a clock set
        # back between two invocations must not reorder a stream.
        ordered = sorted(batch.events, key=_BY_TIME)
        if group.subscription_filters:
            events = [{"timestamp": e.timestamp, "message": e.message} for e in ordered]
            stream.put_log_events(events)
            return
        stream.last_ingestion_time = utcnow()
        ingested = int(unix_time_millis(stream.last_ingestion_time))
        first_id = LogEvent._event_id
        LogEvent._event_id += len(ordered)  # event IDs are unique across moto's streams
        stream.events += [
            StoredLogEvent(first_id + index, ingested, event.timestamp, event.message)
            for index, event in enumerate(ordered)
        ]
        stream.stored_bytes += sum(len(event.message) for event in ordered)
        stream.upload_sequence_token += 1


class CloudWatchMetricSink(MetricSink):
    """A ``MetricSink`` writing to moto's CloudWatch metrics (namespace ``AWS/Lambda``)."""

    def put(
        self, namespace: str, data: Sequence[MetricDatum], *, account: str, region: str
    ) -> None:
        metric_data = []
        for datum in data:
            member: dict[str, Any] = {
                "MetricName": datum.name,
                "Unit": datum.unit,
                "Dimensions": [{"Name": name, "Value": value} for name, value in datum.dimensions],
                # moto keeps naive UTC datetimes.
                "Timestamp": datetime.fromtimestamp(datum.timestamp, UTC).replace(tzinfo=None),
            }
            if datum.is_statistic_set:
                member["StatisticValues"] = {
                    "SampleCount": float(datum.count),
                    "Sum": datum.value,
                    "Minimum": datum.value if datum.minimum is None else datum.minimum,
                    "Maximum": datum.value if datum.maximum is None else datum.maximum,
                }
            else:
                member["Value"] = datum.value
            metric_data.append(member)
        cloudwatch_backends[account][region].put_metric_data(namespace, metric_data)

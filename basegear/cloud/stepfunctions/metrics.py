"""The AWS/States metrics of executions, with the dimension ``StateMachineArn`` (Step Functions
developer guide, "Monitoring Step Functions metrics using Amazon CloudWatch", execution
metrics):

- ``ExecutionsStarted`` when an execution starts;
- when it ends, one of ``ExecutionsSucceeded``, ``ExecutionsFailed``, ``ExecutionsTimedOut``
  ("time out for any reason") or ``ExecutionsAborted`` ("aborted or terminated"), each a count
  of 1, and ``ExecutionTime`` ("the interval, in milliseconds, between the time the execution
  starts and the time it closes"), measured on the execution's own time (``timeline.py``), so a
  30-second Wait on the manual clock counts 30,000 ms.

Express executions report the same metrics on AWS. Each datum is stamped with the execution's
time; the metrics reach CloudWatch through the local cloud's metric sink (batched, as the
Lambda metrics are).
"""

from __future__ import annotations

from dataclasses import dataclass

from basegear.cloud.lambdas.telemetry import MetricDatum, MetricSink

NAMESPACE = "AWS/States"
DIMENSION = "StateMachineArn"

ENDED_METRIC = {
    "SUCCEEDED": "ExecutionsSucceeded",
    "FAILED": "ExecutionsFailed",
    "TIMED_OUT": "ExecutionsTimedOut",
    "ABORTED": "ExecutionsAborted",
}
"""Execution status (DescribeExecution ``status``) → the count metric its end adds to."""


@dataclass(frozen=True)
class ExecutionMetrics:
    """Writes the metrics of executions to ``sink``."""

    sink: MetricSink

    def started(self, machine_arn: str, now: float, *, account: str, region: str) -> None:
        self._put([_count("ExecutionsStarted", machine_arn, now)], account, region)

    def ended(
        self,
        machine_arn: str,
        status: str,
        *,
        started: float,
        now: float,
        account: str,
        region: str,
    ) -> None:
        """``status`` is the execution's final status; a status with no metric (RUNNING)
        writes nothing."""
        name = ENDED_METRIC.get(status)
        if name is None:
            return
        elapsed_ms = max(0.0, now - started) * 1000.0
        data = [
            _count(name, machine_arn, now),
            MetricDatum("ExecutionTime", elapsed_ms, "Milliseconds", _dims(machine_arn), now),
        ]
        self._put(data, account, region)

    def _put(self, data: list[MetricDatum], account: str, region: str) -> None:
        self.sink.put(NAMESPACE, data, account=account, region=region)


def _dims(machine_arn: str) -> tuple[tuple[str, str], ...]:
    return ((DIMENSION, machine_arn),)


def _count(name: str, machine_arn: str, now: float) -> MetricDatum:
    return MetricDatum(name, 1.0, "Count", _dims(machine_arn), now)

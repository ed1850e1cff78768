"""What every event source component is given (``EventContext``), and how it runs a function
(``FunctionInvoker``)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from basegear.cloud.clock import VirtualClock
from basegear.cloud.events.checkpoints import CheckpointStore
from basegear.cloud.lambdas.spec import InvokeResult
from basegear.cloud.lambdas.telemetry import MetricDatum, MetricSink


class FunctionInvoker(Protocol):
    """Runs a function synchronously, as Lambda's pollers do (``RequestResponse``).

    ``function_arn`` may be qualified with a version or alias (an alias's routing weights
    apply). Returns the result, with ``function_error`` set for a handler error, a timeout or
    a crash; raises ``InvokeError`` when Lambda refused to run it (``TooManyRequestsError``
    for a throttle, which pollers retry without counting an attempt) and ``LookupError`` when
    the function does not exist."""

    def invoke(self, function_arn: str, payload: bytes) -> InvokeResult: ...


class Clients(Protocol):
    """boto3 clients answered by the local cloud in-process (``InProcessClients``)."""

    def client(self, service_name: str, region_name: str, **kwargs: Any) -> Any: ...


@dataclass
class EventContext:
    clock: VirtualClock
    invoker: FunctionInvoker
    clients: Clients
    metrics: MetricSink | None = None
    checkpoints: CheckpointStore = field(default_factory=CheckpointStore)

    def put_metrics(
        self, namespace: str, data: Sequence[MetricDatum], *, account: str, region: str
    ) -> None:
        if self.metrics is not None and data:
            self.metrics.put(namespace, data, account=account, region=region)

    def metric(self, name: str, value: float, unit: str, dimensions: dict[str, str]) -> MetricDatum:
        """One datum stamped with the virtual clock's time."""
        return MetricDatum(
            name=name,
            value=value,
            unit=unit,
            dimensions=tuple(dimensions.items()),
            timestamp=self.clock.now(),
        )

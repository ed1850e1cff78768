"""``EventSources``: one poller per enabled event source mapping, kept in step with the
``EventSourceMappingStore`` (filled by stacks and by the Lambda API): a created mapping starts
its poller, an updated one replaces it (checkpoints are kept: they live in the context's
``CheckpointStore``), a disabled or deleted one stops it (Lambda developer guide, "Lambda event
source mappings": disabling a mapping pauses polling; re-enabling resumes from where it was)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from basegear.cloud.cloudformation.resources.mappings import EventSourceMappingStore, source_kind
from basegear.cloud.events.context import EventContext

LOG = logging.getLogger(__name__)


class Poller(Protocol):
    """Serves one mapping. ``start`` returns at once (the poller runs on its own threads);
    ``stop`` returns once no batch of it is in flight any more (a batch being processed is
    finished first, up to the function's timeout); ``status`` is what ``gear events`` shows."""

    def start(self) -> None: ...

    def stop(self) -> None: ...

    def status(self) -> PollerStatus: ...


class PollerStatus(Protocol):
    """``lag``: seconds behind the newest record (streams: the IteratorAge) or messages waiting
    (queues); ``last_result``: "OK", "PROBLEM: …" or "No records processed", as Lambda's
    ``LastProcessingResult``; ``in_flight``: batches being processed; ``processed``: records
    handed to the function successfully."""

    @property
    def lag(self) -> float: ...

    @property
    def last_result(self) -> str: ...

    @property
    def in_flight(self) -> int: ...

    @property
    def processed(self) -> int: ...


PollerFactory = Callable[[dict[str, Any], EventContext], Poller]


class EventSources:
    def __init__(
        self,
        store: EventSourceMappingStore,
        context: EventContext,
        factories: Mapping[str, PollerFactory],
    ) -> None:
        self.store = store
        self.context = context
        self._factories = dict(factories)
        self._lock = threading.Lock()
        self._pollers: dict[str, Poller] = {}
        self._started = False

    def start(self) -> None:
        with self._lock:
            if self._started:
                return
            self._started = True
        self.store.subscribe(self._changed)
        for config in self.store.list():
            self._changed(config["UUID"], config)

    def close(self) -> None:
        with self._lock:
            self._started = False
            pollers, self._pollers = list(self._pollers.values()), {}
        for poller in pollers:
            poller.stop()

    def poller(self, mapping_id: str) -> Poller | None:
        with self._lock:
            return self._pollers.get(mapping_id)

    def status(self) -> list[dict[str, Any]]:
        """Every mapping with its poller's status, for ``gear events``."""
        rows = []
        for config in self.store.list():
            poller = self.poller(config["UUID"])
            row: dict[str, Any] = {
                "UUID": config["UUID"],
                "EventSourceArn": config["EventSourceArn"],
                "FunctionArn": config["FunctionArn"],
                "State": config.get("State", "Enabled"),
            }
            if poller is not None:
                status = poller.status()
                row.update(
                    Lag=status.lag,
                    LastProcessingResult=status.last_result,
                    BatchesInFlight=status.in_flight,
                    Processed=status.processed,
                )
            rows.append(row)
        return rows

    def _changed(self, mapping_id: str, config: dict[str, Any] | None) -> None:
        with self._lock:
            if not self._started:
                return
            old = self._pollers.pop(mapping_id, None)
        if old is not None:
            old.stop()
        if config is None:
            self.context.checkpoints.forget(mapping_id)
            return
        if config.get("State", "Enabled") not in ("Enabled", "Enabling", "Updating", "Creating"):
            return
        factory = self._factories.get(source_kind(config["EventSourceArn"]))
        if factory is None:
            LOG.warning(
                "event source mapping %s: %s sources are not polled by the local cloud",
                mapping_id,
                source_kind(config["EventSourceArn"]),
            )
            return
        poller = factory(dict(config), self.context)
        with self._lock:
            if not self._started:
                return
            self._pollers[mapping_id] = poller
        poller.start()

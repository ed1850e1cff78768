"""``CheckpointStore``: how far each stream poller has got, per mapping and shard — the
sequence number of the last record it is done with (processed, or sent to the on-failure
destination). Lambda keeps this for a mapping across restarts and updates (Lambda developer
guide, "How Lambda processes records from DynamoDB Streams").

It is a durable-state component (``state/recorder.py``'s ``Persistent``): saved in every
snapshot, and written to the journal each time a checkpoint moves (``persist``, set by the
cloud when durable state is open), so a ``kill -9`` loses no checkpoint that was reported.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from basegear.cloud.protocol import AwsRequest


class CheckpointStore:
    state_key = "event-checkpoints"

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._done: dict[str, dict[str, int]] = {}
        self.persist: Callable[[CheckpointStore], None] | None = None

    def get(self, mapping_id: str, shard_id: str) -> int | None:
        with self._lock:
            return self._done.get(mapping_id, {}).get(shard_id)

    def set(self, mapping_id: str, shard_id: str, sequence_number: int) -> None:
        """Record that every record of the shard up to ``sequence_number`` is done with;
        returns once that is durable (when state is durable)."""
        with self._lock:
            shards = self._done.setdefault(mapping_id, {})
            if shards.get(shard_id, -1) >= sequence_number:
                return
            shards[shard_id] = sequence_number
        persist = self.persist
        if persist is not None:
            persist(self)

    def forget(self, mapping_id: str) -> None:
        """The mapping was deleted."""
        with self._lock:
            found = self._done.pop(mapping_id, None)
        persist = self.persist
        if found is not None and persist is not None:
            persist(self)

    # -- durable state ----------------------------------------------------------------------

    def owns_write(self, request: AwsRequest) -> bool:
        return False

    def save_state(self) -> Any:
        with self._lock:
            return {mapping: dict(shards) for mapping, shards in self._done.items()}

    def load_state(self, state: Any) -> None:
        with self._lock:
            self._done = {mapping: dict(shards) for mapping, shards in state.items()}

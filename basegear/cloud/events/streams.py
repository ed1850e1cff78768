"""DynamoDB Streams as Lambda's pollers read them (``StreamCapture``): every item write to a
table with a stream enabled is captured from moto into BaseGear's own stream of that table's
stream ARN, split into shards by partition key.

The AWS behaviour matched (DynamoDB developer guide, "Change data capture for DynamoDB Streams"
and "DynamoDB Streams and AWS Lambda triggers"; Lambda developer guide, "Using AWS Lambda with
Amazon DynamoDB"):

- a stream is made of shards; each record goes to one shard chosen by its partition key, so an
  item's changes stay in one shard, in the order they were made, while different keys spread
  over the shards (what ``ParallelizationFactor`` and per-key ordering act upon). moto keeps a
  single shard; BaseGear's streams have ``shards`` of them (4 unless told);
- a record appears once per write that changes an item: a put or update that leaves the item
  as it was writes no record, an ``UpdateItem`` that creates an item writes one ``INSERT``, and
  the writes of a cancelled ``TransactWriteItems`` write none;
- each record has a sequence number, increasing along the stream (every number has 21 digits,
  as AWS's do), and ``ApproximateCreationDateTime`` in epoch seconds, from the local cloud's
  virtual clock;
- records are kept 24 hours (on the virtual clock), then trimmed;
- the record's shape is the one Lambda delivers (``StreamRecord.lambda_record``);
- disabling the stream or deleting the table ends the stream: its records stay readable until
  they expire, and a stream enabled again has a new label and so a new ARN.

The hook (``install``) wraps moto's ``StreamShard.add``, where every write to a table with a
stream ends, and keeps moto's own single-shard stream working for the DynamoDB Streams API. moto
answers writes on the gateway's event loop, so the hook only appends and wakes the pollers
(``Shard.watch``); a record's Lambda shape is built by the poller that first reads it.

``StreamCapture`` is a durable-state component (``state/recorder.py``'s ``Persistent``): saved
in every snapshot; a write after the last snapshot is replayed through moto on restart and
captured again, with the same sequence number, since numbers follow the order of writes.
"""

from __future__ import annotations

import bisect
import functools
import hashlib
import threading
import zlib
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from basegear.cloud.clock import VirtualClock, Waker
from basegear.cloud.events.records import Image, StreamRecord

PATCHED = (
    ("moto.dynamodb.models.table.StreamShard", "add"),
    ("moto.dynamodb.models.DynamoDBBackend", "update_item"),
    ("moto.dynamodb.models.DynamoDBBackend", "transact_write_items"),
)
READ = (
    ("moto.dynamodb.models", "dynamodb_backends"),
    # Table: table_arn, latest_stream_label, stream_specification, hash_key_attr,
    # range_key_attr, account_id, region_name; Item: to_json()
    ("moto.dynamodb.models.table", "Table"),
)

RETENTION_SECONDS = 24 * 3600.0
"""DynamoDB Streams keeps a record 24 hours (DynamoDB developer guide, "Data retention limit
for DynamoDB Streams")."""
DEFAULT_SHARDS = 4
SEQUENCE_BASE = 10**20
"""The first sequence number of a stream: 21 digits, like AWS's."""
_TRIM_EVERY = 60.0  # virtual seconds between two trims of one stream


class Shard:
    """One shard's records in sequence order. Read under the capture's lock (``CapturedStream``
    methods); ``watch`` registers a waker that is woken whenever a record is added."""

    def __init__(self, shard_id: str) -> None:
        self.shard_id = shard_id
        self.records: list[StreamRecord] = []
        self.sequence_numbers: list[int] = []
        self.watchers: tuple[Waker, ...] = ()

    def watch(self, waker: Waker) -> None:
        self.watchers = (*self.watchers, waker)

    def unwatch(self, waker: Waker) -> None:
        self.watchers = tuple(w for w in self.watchers if w is not waker)


class CapturedStream:
    """A table's stream, by its ARN (``arn:aws:dynamodb:REGION:ACCOUNT:table/NAME/stream/LABEL``),
    with its shards."""

    def __init__(self, arn: str, shard_count: int, lock: threading.Lock) -> None:
        self.arn = arn
        parts = arn.split(":", 5)
        self.region = parts[3] if len(parts) == 6 else ""
        self.account = parts[4] if len(parts) == 6 else ""
        resource = parts[5] if len(parts) == 6 else ""
        self.table_name = resource.split("/")[1] if resource.count("/") >= 3 else ""
        digest = hashlib.md5(arn.encode(), usedforsecurity=False).hexdigest()[:8]
        self.shards = tuple(
            Shard(f"shardId-{index + 1:020d}-{digest}") for index in range(shard_count)
        )
        self.next_sequence_number = SEQUENCE_BASE
        self.next_trim = 0.0
        self._lock = lock

    def shard(self, shard_id: str) -> Shard | None:
        return next((shard for shard in self.shards if shard.shard_id == shard_id), None)

    def read(self, shard: Shard, after: int, limit: int) -> list[StreamRecord]:
        """Up to ``limit`` records of ``shard`` whose sequence number is above ``after``."""
        with self._lock:
            start = bisect.bisect_right(shard.sequence_numbers, after)
            return shard.records[start : start + limit]

    def last_sequence_number(self, shard: Shard) -> int:
        """The position just after the shard's newest record (``LATEST``)."""
        with self._lock:
            if shard.sequence_numbers:
                return shard.sequence_numbers[-1]
            return self.next_sequence_number - 1

    def position_at(self, shard: Shard, timestamp: float) -> int:
        """The position just before the first record created at or after ``timestamp``
        (``AT_TIMESTAMP``)."""
        with self._lock:
            start = bisect.bisect_left(shard.records, timestamp, key=_created)
            if start < len(shard.records):
                return shard.sequence_numbers[start] - 1
            return self.next_sequence_number - 1

    def between(self, shard: Shard, first: int, last: int) -> list[StreamRecord]:
        """The records of ``shard`` numbered ``first`` to ``last``, both included."""
        with self._lock:
            start = bisect.bisect_left(shard.sequence_numbers, first)
            end = bisect.bisect_right(shard.sequence_numbers, last)
            return shard.records[start:end]

    def first_after(self, shard: Shard, after: int) -> StreamRecord | None:
        with self._lock:
            start = bisect.bisect_right(shard.sequence_numbers, after)
            return shard.records[start] if start < len(shard.records) else None

    def __len__(self) -> int:
        with self._lock:
            return sum(len(shard.records) for shard in self.shards)


def _created(record: StreamRecord) -> float:
    return record.created


class StreamCapture:
    """BaseGear's DynamoDB streams, filled from moto's item writes between ``install`` and
    ``uninstall``. ``stream(arn)`` is what a poller reads; ``is_open(arn)`` whether the table
    still writes to it."""

    state_key = "dynamodb-streams"

    def __init__(
        self,
        clock: VirtualClock,
        *,
        shards: int = DEFAULT_SHARDS,
        retention_seconds: float = RETENTION_SECONDS,
    ) -> None:
        if shards < 1:
            raise ValueError("a stream needs at least one shard")
        self.clock = clock
        self.shard_count = shards
        self.retention_seconds = retention_seconds
        self._lock = threading.Lock()
        self._streams: dict[str, CapturedStream] = {}

    # -- the hook -----------------------------------------------------------------------------

    def install(self) -> None:
        """Capture every item write from now on (idempotent)."""
        _install(self)

    def uninstall(self) -> None:
        _uninstall(self)

    def capture(
        self,
        stream_arn: str,
        key_names: Sequence[str],
        old_image: Image | None,
        new_image: Image | None,
        view_type: str,
    ) -> StreamRecord:
        """Append one change (a write that changed the item) to the stream ``stream_arn``;
        ``key_names`` are the table's partition key and, if any, sort key."""
        image = new_image if new_image is not None else old_image
        assert image is not None
        keys = {name: image[name] for name in key_names if name in image}
        if old_image is None:
            event_name = "INSERT"
        elif new_image is None:
            event_name = "REMOVE"
        else:
            event_name = "MODIFY"
        partition_hash = _partition_hash(image.get(key_names[0]))
        now = self.clock.now()
        with self._lock:
            stream = self._stream(stream_arn)
            if now >= stream.next_trim:
                self._trim(stream, now)
            record = StreamRecord(
                stream.next_sequence_number,
                now,
                partition_hash,
                event_name,
                keys,
                old_image,
                new_image,
                view_type,
            )
            stream.next_sequence_number += 1
            shard = stream.shards[partition_hash % len(stream.shards)]
            shard.records.append(record)
            shard.sequence_numbers.append(record.sequence_number)
            watchers = shard.watchers
        for waker in watchers:
            waker.wake()
        return record

    # -- what pollers read ----------------------------------------------------------------------

    def stream(self, stream_arn: str) -> CapturedStream:
        """The stream ``stream_arn`` (made empty if no write has reached it yet), trimmed of
        records older than the retention period."""
        now = self.clock.now()
        with self._lock:
            stream = self._stream(stream_arn)
            if now >= stream.next_trim:
                self._trim(stream, now)
            return stream

    def records_between(
        self, stream_arn: str, shard_id: str, first: int, last: int
    ) -> list[dict[str, Any]]:
        """The records of one shard numbered ``first`` to ``last`` (both included) as Lambda
        delivers them: what an on-failure record's ``DDBStreamBatchInfo`` names, read again as
        AWS's guide suggests (``gear redrive``). Records of the shard between the two that were
        another lane's or filtered out are included, as a GetRecords from the start sequence
        number would return them. ``LookupError`` for an unknown stream or shard; records past
        the retention period are gone."""
        with self._lock:
            stream = self._streams.get(stream_arn)
        shard = stream.shard(shard_id) if stream is not None else None
        if stream is None or shard is None:
            raise LookupError(f"no shard {shard_id} in stream {stream_arn}")
        return [record.lambda_record(stream) for record in stream.between(shard, first, last)]

    def is_open(self, stream_arn: str) -> bool:
        """Whether the table still writes to this stream: it exists, its stream is enabled and
        still has this label."""
        stream = self.stream(stream_arn)
        table = _moto_table(stream.account, stream.region, stream.table_name)
        if table is None:
            return False
        return _stream_arn(table) == stream_arn and _stream_enabled(table)

    def _stream(self, stream_arn: str) -> CapturedStream:
        stream = self._streams.get(stream_arn)
        if stream is None:
            stream = self._streams[stream_arn] = CapturedStream(
                stream_arn, self.shard_count, self._lock
            )
        return stream

    def _trim(self, stream: CapturedStream, now: float) -> None:
        """Drop records past the retention period (under the lock)."""
        stream.next_trim = now + _TRIM_EVERY
        cutoff = now - self.retention_seconds
        for shard in stream.shards:
            gone = bisect.bisect_left(shard.records, cutoff, key=_created)
            if gone:
                del shard.records[:gone]
                del shard.sequence_numbers[:gone]

    # -- durable state ------------------------------------------------------------------------

    def owns_write(self, request: object) -> bool:
        return False

    def save_state(self) -> Any:
        with self._lock:
            return {
                arn: {
                    "next": stream.next_sequence_number,
                    "shards": [
                        [record.saved() for record in shard.records] for shard in stream.shards
                    ],
                }
                for arn, stream in self._streams.items()
            }

    def load_state(self, state: Any) -> None:
        """Replace every stream's records by the saved ones; a stream object a poller holds
        stays the one it reads."""
        with self._lock:
            streams: dict[str, CapturedStream] = {}
            for arn, saved in state.items():
                stream = self._streams.get(arn)
                if stream is None or len(stream.shards) != len(saved["shards"]):
                    stream = CapturedStream(arn, len(saved["shards"]), self._lock)
                stream.next_sequence_number = saved["next"]
                stream.next_trim = 0.0
                for shard, records in zip(stream.shards, saved["shards"], strict=True):
                    shard.records = [StreamRecord(*fields) for fields in records]
                    shard.sequence_numbers = [r.sequence_number for r in shard.records]
                streams[arn] = stream
            self._streams = streams
            watchers = [w for stream in streams.values() for s in stream.shards for w in s.watchers]
        for waker in watchers:
            waker.wake()


def _partition_hash(value: Any) -> int:
    """A stable hash of a partition key value (the same in every process)."""
    if isinstance(value, dict) and len(value) == 1:
        kind, data = next(iter(value.items()))
        return zlib.crc32(f"{kind}:{data}".encode())
    return zlib.crc32(repr(value).encode())


# -- moto ---------------------------------------------------------------------------------------

_captures: list[StreamCapture] = []
_saved: dict[tuple[type, str], Any] = {}
_install_lock = threading.Lock()
_scope = threading.local()

Change = tuple[Any, Image | None, Image | None]  # moto's Table, the item before, the item after


def check_moto() -> None:
    """Raise if moto no longer has what this module wraps or reads, or calls it differently."""
    import inspect

    from moto.dynamodb import models
    from moto.dynamodb.models import table

    shard_class: Any = getattr(table, "StreamShard", None)
    shard_add = _saved.get((shard_class, "add")) or getattr(shard_class, "add", None)
    if not callable(shard_add):
        raise RuntimeError(f"moto moved dynamodb StreamShard.add: update {__name__}")
    if list(inspect.signature(shard_add).parameters) != ["self", "old", "new"]:
        raise RuntimeError(f"moto changed StreamShard.add's signature: update {__name__}")
    for name in ("update_item", "transact_write_items"):
        if not callable(getattr(models.DynamoDBBackend, name, None)):
            raise RuntimeError(f"moto moved DynamoDBBackend.{name}: update {__name__}")
    if not isinstance(getattr(models, "dynamodb_backends", None), dict):
        raise RuntimeError(f"moto moved dynamodb.models.dynamodb_backends: update {__name__}")
    if not callable(getattr(table.Table, "set_stream_specification", None)):
        raise RuntimeError(f"moto changed dynamodb Table streams: update {__name__}")


def _install(capture: StreamCapture) -> None:
    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.models.table import StreamShard

    with _install_lock:
        if capture not in _captures:
            _captures.append(capture)
        if _saved:
            return
        check_moto()
        add = StreamShard.__dict__["add"]
        update_item = DynamoDBBackend.__dict__["update_item"]
        transact = DynamoDBBackend.__dict__["transact_write_items"]
        _saved[(StreamShard, "add")] = add
        _saved[(DynamoDBBackend, "update_item")] = update_item
        _saved[(DynamoDBBackend, "transact_write_items")] = transact
        setattr(StreamShard, "add", _shard_add(add))  # noqa: B010
        setattr(DynamoDBBackend, "update_item", _one_write(update_item))  # noqa: B010
        setattr(DynamoDBBackend, "transact_write_items", _one_write(transact))  # noqa: B010


def _uninstall(capture: StreamCapture) -> None:
    with _install_lock:
        if capture in _captures:
            _captures.remove(capture)
        if _captures:
            return
        for (cls, name), original in _saved.items():
            setattr(cls, name, original)
        _saved.clear()


def _shard_add(moto_add: Callable[..., None]) -> Callable[..., None]:
    @functools.wraps(moto_add)  # inspect.getsource still shows moto's (tests read it)
    def add(shard: Any, old: Any, new: Any) -> None:
        table = shard.table
        if not _stream_enabled(table):
            # moto keeps its shard after a stream is disabled and would fail every later write
            # on the missing StreamViewType: a disabled stream records nothing.
            return
        change: Change = (
            table,
            old.to_json()["Attributes"] if old is not None else None,
            new.to_json()["Attributes"] if new is not None else None,
        )
        pending: list[Change] | None = getattr(_scope, "pending", None)
        if pending is not None:
            pending.append(change)
        else:
            _publish(change)
        moto_add(shard, old, new)

    return add


def _one_write(moto_method: Callable[..., Any]) -> Callable[..., Any]:
    """A write whose changes are published together when it succeeds, one record per item:
    ``UpdateItem`` (moto adds a key-only item, then the updated one) and
    ``TransactWriteItems`` (all or nothing)."""

    @functools.wraps(moto_method)
    def write(backend: Any, *args: Any, **kwargs: Any) -> Any:
        if getattr(_scope, "pending", None) is not None:  # inside a transaction
            return moto_method(backend, *args, **kwargs)
        with _collected() as pending:
            result = moto_method(backend, *args, **kwargs)
        for change in _coalesced(pending):
            _publish(change)
        return result

    return write


@contextmanager
def _collected() -> Iterator[list[Change]]:
    pending: list[Change] = []
    _scope.pending = pending
    try:
        yield pending
    finally:
        _scope.pending = None


def _coalesced(changes: list[Change]) -> list[Change]:
    """One change per item: the image before the first change and after the last."""
    merged: dict[tuple[int, str], Change] = {}
    for table, old, new in changes:
        image = new if new is not None else old
        key = (id(table), repr([image.get(name) for name in _key_names(table)] if image else ""))
        first = merged.get(key)
        merged[key] = (table, old if first is None else first[1], new)
    return list(merged.values())


def _publish(change: Change) -> None:
    table, old, new = change
    if old == new:  # DynamoDB writes no stream record for a write that changes nothing
        return
    spec = table.stream_specification or {}
    arn = _stream_arn(table)
    for capture in list(_captures):
        capture.capture(arn, _key_names(table), old, new, spec.get("StreamViewType", "KEYS_ONLY"))


def _key_names(table: Any) -> tuple[str, ...]:
    if table.range_key_attr is None:
        return (table.hash_key_attr,)
    return (table.hash_key_attr, table.range_key_attr)


def _stream_arn(table: Any) -> str:
    return f"{table.table_arn}/stream/{table.latest_stream_label}"


def _stream_enabled(table: Any) -> bool:
    spec = table.stream_specification or {}
    return bool(spec.get("StreamEnabled")) and "StreamViewType" in spec


def _moto_table(account: str, region: str, name: str) -> Any:
    from moto.dynamodb.models import dynamodb_backends

    regions = dynamodb_backends.get(account)
    if regions is None or region not in regions:
        return None
    return regions[region].tables.get(name)

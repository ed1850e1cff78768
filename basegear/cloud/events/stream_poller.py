"""``StreamPoller``: one DynamoDB stream event source mapping served as Lambda serves it
(Lambda developer guide, "Using AWS Lambda with Amazon DynamoDB" and "Lambda event source
mappings"; shared/reference/aws-semantics.md section 1).

Each shard of the stream (``streams.py``) is read by ``ParallelizationFactor`` lanes, one
thread each. A record belongs to the lane its partition key hashes to, so one key's records are
always processed in order by one lane while up to ten batches of a shard are in flight ("in-order
processing is still guaranteed for each partition key"). A lane:

1. starts at the mapping's checkpoint for the shard, or else at ``StartingPosition``:
   ``TRIM_HORIZON`` (every record kept), ``LATEST`` (records written after the mapping
   started) or ``AT_TIMESTAMP``;
2. gathers a batch of its records that pass ``FilterCriteria`` (the others are skipped and
   checkpointed); the batch is sent when it holds ``BatchSize`` records, when its payload would
   pass 6 MB, or when ``MaximumBatchingWindowInSeconds`` has passed since the previous
   invocation completed (the window begins then, on the virtual clock);
3. invokes the function synchronously with ``{"Records": [...]}``. A throttle, or any refusal
   before the function ran, is retried with back-off without counting. A function error is
   retried — the shard's lane waits, in order — with back-off on the virtual clock, until
   ``MaximumRetryAttempts`` retries (-1: until the records expire) or until the records are
   older than ``MaximumRecordAgeInSeconds`` (-1: the stream's 24 hours);
   ``BisectBatchOnFunctionError`` splits a failed batch in two first, which does not count as a
   retry; with ``ReportBatchItemFailures`` the records before the lowest reported sequence
   number are done and the rest is retried from it;
4. records that exhaust their retries or their age are discarded: sent, described, to the
   ``DestinationConfig.OnFailure`` queue or topic (``records.on_failure_record``);
5. checkpoints the shard (``EventContext.checkpoints``) once a batch is done, processed or
   discarded: the checkpoint is the lowest position every lane of the shard has finished, so a
   restart or an updated mapping resumes there.

The IteratorAge metric (AWS/Lambda, milliseconds: the age of the last record of each batch
when it is sent) goes to the context's metrics. A lane waits for new records on a clock
``Waker`` that the stream wakes when a record arrives, never on a timer.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from basegear.cloud.clock import Waker
from basegear.cloud.events.context import EventContext
from basegear.cloud.events.destinations import DeliveryError, as_json, deliver
from basegear.cloud.events.filters import RecordFilter
from basegear.cloud.events.invoker import split_function_arn
from basegear.cloud.events.records import (
    ENVELOPE_SIZE,
    PAYLOAD_LIMIT,
    Outcome,
    StreamRecord,
    invocation_payload,
    on_failure_record,
    outcome_of,
)
from basegear.cloud.events.streams import CapturedStream, Shard, StreamCapture
from basegear.cloud.lambdas.spec import InvokeError, InvokeResult, TooManyRequestsError

LOG = logging.getLogger(__name__)

READ_CHUNK = 1000  # records read from a shard at a time
FIRST_RETRY_DELAY = 1.0  # virtual seconds; doubled after each retry
MAX_RETRY_DELAY = 30.0
CHECKPOINT_INTERVAL = 1.0  # real seconds between checkpoints written for skipped records only
NO_RECORDS = "No records processed"


@dataclass(frozen=True)
class StreamSettings:
    """A mapping's stream settings, with the API's defaults (Lambda API reference,
    CreateEventSourceMapping)."""

    batch_size: int = 100
    window: float = 0.0
    starting_position: str = "LATEST"
    starting_timestamp: float | None = None
    parallelization: int = 1
    max_retries: int = -1
    max_age: float = -1
    bisect: bool = False
    report_failures: bool = False
    on_failure: str | None = None

    @classmethod
    def of(cls, config: Mapping[str, Any]) -> StreamSettings:
        destination = ((config.get("DestinationConfig") or {}).get("OnFailure") or {}).get(
            "Destination"
        )
        return cls(
            batch_size=int(config.get("BatchSize") or 100),
            window=float(config.get("MaximumBatchingWindowInSeconds") or 0),
            starting_position=str(config.get("StartingPosition") or "LATEST"),
            starting_timestamp=_epoch(config.get("StartingPositionTimestamp")),
            parallelization=min(10, max(1, int(config.get("ParallelizationFactor") or 1))),
            max_retries=int(config.get("MaximumRetryAttempts", -1)),
            max_age=float(config.get("MaximumRecordAgeInSeconds", -1)),
            bisect=bool(config.get("BisectBatchOnFunctionError", False)),
            report_failures="ReportBatchItemFailures"
            in (config.get("FunctionResponseTypes") or []),
            on_failure=destination or None,
        )


def _epoch(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.timestamp()
    if isinstance(value, int | float):
        return float(value)
    return datetime.fromisoformat(str(value).replace("Z", "+00:00")).timestamp()


@dataclass(frozen=True)
class StreamPollerStatus:
    lag: float
    last_result: str
    in_flight: int
    processed: int


class _Lane:
    """One thread's share of a shard. ``cursor``: every record of this lane up to that sequence
    number is done (processed, discarded or not its own); it only increases."""

    def __init__(self, shard: _ShardProgress, index: int, waker: Waker, start: float) -> None:
        self.shard = shard
        self.index = index
        self.waker = waker
        self.cursor = shard.start
        self.scanned = shard.start  # read up to here (the batch being gathered included)
        self.window_start = start
        self.thread: threading.Thread | None = None


class _ShardProgress:
    def __init__(self, shard: Shard, start: int) -> None:
        self.shard = shard
        self.start = start
        self.lanes: list[_Lane] = []
        self.saved = start
        self.saved_at = 0.0
        self.lock = threading.Lock()

    def done_up_to(self) -> int:
        return min(lane.cursor for lane in self.lanes)


@dataclass
class _Part:
    """Records of a batch still to be delivered: their retries and invocations so far."""

    records: list[StreamRecord]
    retries: int = 0
    invocations: int = 0
    last_result: InvokeResult | None = None


class _StoppedError(Exception):
    """The poller is stopping: leave the batch where it is (not checkpointed)."""


class StreamPoller:
    """Serves one DynamoDB stream mapping (the ``Poller`` protocol of ``mappings.py``)."""

    def __init__(
        self, config: dict[str, Any], context: EventContext, streams: StreamCapture
    ) -> None:
        self.config = config
        self.context = context
        self.streams = streams
        self.mapping_id: str = config["UUID"]
        self.function_arn: str = config["FunctionArn"]
        self.stream_arn: str = config["EventSourceArn"]
        self.settings = StreamSettings.of(config)
        self.filter = RecordFilter(config.get("FilterCriteria"))
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._shards: list[_ShardProgress] = []
        self._stream: CapturedStream | None = None
        self._last_result = NO_RECORDS
        self._in_flight = 0
        self._processed = 0
        account, region, name, qualifier = split_function_arn(self.function_arn)
        self._metric_where = {"account": account, "region": region}
        self._metric_dimensions = [{"FunctionName": name}]
        if qualifier:
            self._metric_dimensions.append(
                {"FunctionName": name, "Resource": f"{name}:{qualifier}"}
            )

    # -- the Poller protocol ------------------------------------------------------------------

    def start(self) -> None:
        stream = self._stream = self.streams.stream(self.stream_arn)
        now = self.context.clock.now()
        for shard in stream.shards:
            progress = _ShardProgress(shard, self._start_position(stream, shard))
            for index in range(self.settings.parallelization):
                lane = _Lane(progress, index, self.context.clock.waker(), now)
                shard.watch(lane.waker)
                progress.lanes.append(lane)
            self._shards.append(progress)
        for number, progress in enumerate(self._shards):
            for lane in progress.lanes:
                lane.thread = threading.Thread(
                    target=self._run,
                    args=(lane,),
                    name=f"stream-poller-{self.mapping_id[:8]}-{number}-{lane.index}",
                    daemon=True,
                )
                lane.thread.start()

    def stop(self) -> None:
        """Stop every lane: a batch being invoked is finished, one waiting for a retry is left
        for the next poller of the mapping (it resumes from the checkpoint)."""
        self._stop.set()
        for progress in self._shards:
            for lane in progress.lanes:
                lane.waker.wake()
        for progress in self._shards:
            for lane in progress.lanes:
                if lane.thread is not None and lane.thread is not threading.current_thread():
                    lane.thread.join()
                progress.shard.unwatch(lane.waker)
            self._checkpoint(progress, force=True)

    def status(self) -> StreamPollerStatus:
        now = self.context.clock.now()
        lag = 0.0
        stream = self._stream
        if stream is not None:
            for progress in self._shards:
                waiting = stream.first_after(progress.shard, progress.done_up_to())
                if waiting is not None:
                    lag = max(lag, now - waiting.created)
        with self._lock:
            return StreamPollerStatus(lag, self._last_result, self._in_flight, self._processed)

    # -- where a shard starts -----------------------------------------------------------------

    def _start_position(self, stream: CapturedStream, shard: Shard) -> int:
        saved = self.context.checkpoints.get(self.mapping_id, shard.shard_id)
        if saved is not None:
            return saved
        settings = self.settings
        if settings.starting_position == "TRIM_HORIZON":
            return -1
        if settings.starting_position == "AT_TIMESTAMP" and settings.starting_timestamp is not None:
            return stream.position_at(shard, settings.starting_timestamp)
        # LATEST: remembered at once, so that a restart before the first batch still starts
        # after the records that were there when the mapping started.
        position = stream.last_sequence_number(shard)
        self.context.checkpoints.set(self.mapping_id, shard.shard_id, position)
        return position

    # -- a lane -------------------------------------------------------------------------------

    def _run(self, lane: _Lane) -> None:
        while not self._stop.is_set():
            try:
                batch = self._gather(lane)
                if batch is None:
                    return
                self._deliver(lane, batch)
            except _StoppedError:
                return
            except Exception:
                LOG.exception("stream poller of mapping %s failed; retrying", self.mapping_id)
                self._set_result("PROBLEM: internal error, see the cloud's log")
                time.sleep(FIRST_RETRY_DELAY)

    def _owns(self, lane: _Lane, record: StreamRecord) -> bool:
        shards = len(self._shards)
        return (record.partition_hash // shards) % self.settings.parallelization == lane.index

    def _gather(self, lane: _Lane) -> list[StreamRecord] | None:
        """The lane's next batch (see the module docstring, step 2); None once stopping or once
        the stream has ended and every record is read."""
        stream = self._stream
        assert stream is not None
        settings = self.settings
        clock = self.context.clock
        batch: list[StreamRecord] = []
        size = ENVELOPE_SIZE
        lane.scanned = lane.cursor
        while not self._stop.is_set():
            records = stream.read(lane.shard.shard, lane.scanned, READ_CHUNK)
            full = False
            for record in records:
                if self._owns(lane, record) and self.filter.matches(record.lambda_record(stream)):
                    added = len(record.payload(stream)) + (1 if batch else 0)
                    if batch and size + added > PAYLOAD_LIMIT:
                        full = True
                        break
                    if not batch:  # what was skipped before it is done
                        lane.cursor = max(lane.cursor, record.sequence_number - 1)
                    batch.append(record)
                    size += added
                lane.scanned = record.sequence_number
                if len(batch) >= settings.batch_size:
                    full = True
                    break
            if not batch:
                # Others' records and filtered-out ones are done; checkpointed at most once a
                # second (the idle wait below returns at least that often).
                lane.cursor = max(lane.cursor, lane.scanned)
                self._checkpoint(lane.shard, force=False)
            if full:
                return batch
            if len(records) == READ_CHUNK:
                continue
            window_end = lane.window_start + settings.window
            if batch and clock.now() >= window_end:
                return batch
            if not batch and not records and not self.streams.is_open(self.stream_arn):
                return None  # the stream ended (table deleted, stream disabled), all read
            lane.waker.wait_until(window_end if batch else None)
        return None

    def _deliver(self, lane: _Lane, batch: list[StreamRecord]) -> None:
        """Invoke until every record of ``batch`` is done (steps 3 and 4)."""
        settings = self.settings
        parts = deque([_Part(batch)])
        delay = FIRST_RETRY_DELAY
        while parts:
            part = parts[0]
            expired = self._expired(part.records)
            if expired:
                self._discard(lane, part, expired, "RecordAgeExceeded")
                part.records = part.records[expired:]
                if not part.records:
                    parts.popleft()
                self._advance(lane, parts)
                continue
            outcome = self._invoke(lane, part)
            if outcome is None:  # the records expired while the function was throttled
                continue
            lane.window_start = self.context.clock.now()
            if outcome.kind == "success":
                self._count(len(part.records))
                parts.popleft()
                self._advance(lane, parts)
                delay = FIRST_RETRY_DELAY
                continue
            if outcome.kind == "partial":
                assert outcome.failed_from is not None
                succeeded = sum(1 for r in part.records if r.sequence_number < outcome.failed_from)
                if succeeded:
                    self._count(succeeded)
                    part.records = part.records[succeeded:]
                    self._advance(lane, parts)
            elif settings.bisect and len(part.records) > 1:
                # "Splitting a batch does not count towards the retry quota."
                middle = len(part.records) // 2
                parts.popleft()
                for half in (part.records[middle:], part.records[:middle]):
                    parts.appendleft(_Part(half, part.retries, part.invocations, part.last_result))
                continue
            part.retries += 1
            if settings.max_retries != -1 and part.retries > settings.max_retries:
                self._discard(lane, part, len(part.records), "RetryAttemptsExhausted")
                parts.popleft()
                self._advance(lane, parts)
                delay = FIRST_RETRY_DELAY
                continue
            self._wait(lane, delay)
            delay = min(delay * 2, MAX_RETRY_DELAY)

    def _invoke(self, lane: _Lane, part: _Part) -> Outcome | None:
        """One invocation of the function with ``part``'s records; throttles and refusals are
        retried without counting ("This doesn't apply to service errors or throttles where the
        batch didn't reach the function"). None when the records expired meanwhile."""
        stream = self._stream
        assert stream is not None
        records = part.records
        payload = invocation_payload([record.payload(stream) for record in records])
        delay = FIRST_RETRY_DELAY
        while True:
            if self._stop.is_set():
                raise _StoppedError
            if self._expired(records):
                return None
            self._iterator_age(records[-1])
            with self._lock:
                self._in_flight += 1
            try:
                result = self.context.invoker.invoke(self.function_arn, payload)
            except TooManyRequestsError:
                self._set_result("PROBLEM: Function call throttled")
            except InvokeError as error:
                self._set_result(f"PROBLEM: {error.message}")
            except LookupError:
                self._set_result("PROBLEM: Function not found")
            else:
                part.invocations += 1
                part.last_result = result
                outcome = outcome_of(
                    result,
                    [record.sequence_number for record in records],
                    report_failures=self.settings.report_failures,
                )
                failed = outcome.kind != "success"
                self._set_result("PROBLEM: Function call failed" if failed else "OK")
                return outcome
            finally:
                with self._lock:
                    self._in_flight -= 1
            self._wait(lane, delay)
            delay = min(delay * 2, MAX_RETRY_DELAY)

    # -- records done ----------------------------------------------------------------------------

    def _expired(self, records: list[StreamRecord]) -> int:
        """How many records at the front of ``records`` are past ``MaximumRecordAgeInSeconds``
        (or, with -1, the stream's retention)."""
        max_age = self.settings.max_age
        if max_age == -1:
            max_age = self.streams.retention_seconds
        oldest = self.context.clock.now() - max_age
        count = 0
        for record in records:
            if record.created >= oldest:
                break
            count += 1
        return count

    def _discard(
        self,
        lane: _Lane,
        part: _Part,
        count: int,
        condition: Literal["RetryAttemptsExhausted", "RecordAgeExceeded"],
    ) -> None:
        """Give up on the first ``count`` records of ``part``: describe them to the on-failure
        destination, if any, and move on ("If the error handling measures fail, Lambda discards
        the records and continues processing batches from the stream")."""
        records = part.records[:count]
        destination = self.settings.on_failure
        if destination is not None:
            body = on_failure_record(
                function_arn=self.function_arn,
                condition=condition,
                invoke_count=part.invocations,
                last_result=part.last_result,
                now=self.context.clock.now(),
                shard_id=lane.shard.shard.shard_id,
                stream_arn=self.stream_arn,
                records=records,
            )
            try:
                deliver(self.context.clients, destination, as_json(body))
            except DeliveryError as error:
                LOG.warning("mapping %s: on-failure destination: %s", self.mapping_id, error)
                self._set_result(f"PROBLEM: {error}")

    def _advance(self, lane: _Lane, parts: deque[_Part]) -> None:
        """The front of the lane's batch is done: its cursor moves to just before the first
        record still pending, or to what it has read when none is; then the shard is
        checkpointed."""
        if parts:
            lane.cursor = max(lane.cursor, parts[0].records[0].sequence_number - 1)
        else:
            lane.cursor = max(lane.cursor, lane.scanned)
        self._checkpoint(lane.shard, force=True)

    def _count(self, processed: int) -> None:
        with self._lock:
            self._processed += processed

    def _checkpoint(self, progress: _ShardProgress, *, force: bool) -> None:
        position = progress.done_up_to()
        with progress.lock:
            if position <= progress.saved:
                return
            if not force and time.monotonic() - progress.saved_at < CHECKPOINT_INTERVAL:
                return
            progress.saved = position
            progress.saved_at = time.monotonic()
        self.context.checkpoints.set(self.mapping_id, progress.shard.shard_id, position)

    # -- waiting, status, metrics ----------------------------------------------------------------

    def _wait(self, lane: _Lane, seconds: float) -> None:
        """Wait ``seconds`` of the virtual clock; ``_StoppedError`` if stopped meanwhile."""
        clock = self.context.clock
        deadline = clock.now() + seconds
        while clock.now() < deadline:
            if self._stop.is_set():
                raise _StoppedError
            lane.waker.wait_until(deadline)
        if self._stop.is_set():
            raise _StoppedError

    def _set_result(self, text: str) -> None:
        with self._lock:
            self._last_result = text

    def _iterator_age(self, last: StreamRecord) -> None:
        """IteratorAge (Lambda developer guide, "Working with Lambda function metrics"): "the
        age of the last record in the batch" when the batch is sent, in milliseconds."""
        context = self.context
        if context.metrics is None:
            return
        age = max(0.0, context.clock.now() - last.created) * 1000.0
        data = [
            context.metric("IteratorAge", age, "Milliseconds", dimensions)
            for dimensions in self._metric_dimensions
        ]
        context.put_metrics("AWS/Lambda", data, **self._metric_where)

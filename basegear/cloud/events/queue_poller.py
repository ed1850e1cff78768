"""``QueuePoller``: an SQS event source mapping served as Lambda serves it (Lambda developer
guide, "Using Lambda with Amazon SQS"; shared/reference/aws-semantics.md 1.9, 1.10 and 4).

One coordinator thread receives from the queue and hands each batch to a worker thread, which
invokes the function synchronously and deletes what was processed:

- **Batching** — a batch closes when it holds ``BatchSize`` messages, when the payload would
  pass 6 MB, or, with ``MaximumBatchingWindowInSeconds``, when the window ends (counted on the
  cloud's clock from the first message of the batch; standard queues only — FIFO queues take
  what one receive gives). Without a window the batch is what one receive gives (up to 10).
- **Visibility** — messages are received with the queue's own visibility timeout: while the
  function runs they are hidden, and a message that is not deleted shows again when it ends
  ("Lambda deletes items from the queue after they're processed successfully").
- **Results** — success deletes the batch (``DeleteMessageBatch``). A function error (an
  exception, a timeout, a crash) deletes nothing: "all messages in that batch become visible in
  the queue again" after the visibility timeout. With ``ReportBatchItemFailures`` the function
  answers ``{"batchItemFailures": [{"itemIdentifier": messageId}, …]}``: only those stay; an
  empty or null list, an empty or null response is complete success; a response that is not a
  JSON object, an entry without a string ``itemIdentifier``, an empty one or one naming a
  message not in the batch fails the whole batch ("Reporting batch item failures").
- **Dead letters** — the queue's own redrive policy moves a message received ``maxReceiveCount``
  times to its dead-letter queue on the next receive (moto does so, on the cloud's clock: see
  ``motoshim/sqs.py``); a function's own dead-letter queue is for asynchronous invocation only.
- **FIFO** — SQS does not hand out a message of a group that has one in flight, so batches of a
  group go one at a time and in order, and a failed batch holds its group back until its
  visibility timeout ends ("Lambda sends only one batch at a time for a group").
- **Concurrency** — at most ``ScalingConfig.MaximumConcurrency`` batches (2-1000) are invoked
  at once; without it, up to ``DEFAULT_CONCURRENCY`` (Lambda starts at five concurrent batches
  and scales up from there; the local cloud stays at five, or at ``MAX_LOCAL_CONCURRENCY``).
- **Filters** — ``FilterCriteria`` (``filters.py``) is applied to each record as delivered; "If
  an Amazon SQS message doesn't satisfy your filter criteria, Lambda automatically removes the
  message from the queue" — it is deleted, and does not count towards the batch.
- **Throttles** — when Lambda refuses the invocation (``TooManyRequestsException``) the batch is
  not deleted, so its messages show again after the visibility timeout, and the poller pauses
  (1 s, doubling to 30 s, on the cloud's clock) before it takes the next batch.

An idle poller sleeps on the clock's ``Waker`` and is woken when a message is sent to the queue,
when a hidden message is due to show again, when the clock is advanced or when it is stopped: it
does not poll an empty queue. Every ReceiveMessage, DeleteMessageBatch and
ChangeMessageVisibilityBatch goes through the in-process clients and is journaled as a client's.
"""

from __future__ import annotations

import base64
import json
import logging
import threading
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from basegear.cloud.events.context import EventContext
from basegear.cloud.events.filters import RecordFilter
from basegear.cloud.lambdas.spec import InvokeError, InvokeResult, TooManyRequestsError
from basegear.cloud.motoshim import sqs as sqs_shim

LOG = logging.getLogger(__name__)

DEFAULT_BATCH_SIZE = 10
DEFAULT_CONCURRENCY = 5
MAX_LOCAL_CONCURRENCY = 50
MAX_PAYLOAD_BYTES = 6 * 1024 * 1024
RECEIVE_LIMIT = 10  # ReceiveMessage's MaxNumberOfMessages
IDLE_RECHECK = 20.0  # clock seconds an idle poller sleeps with nothing due, before looking again
THROTTLE_PAUSE = (1.0, 30.0)  # clock seconds: the first pause after a throttle, the longest
ERROR_PAUSE = 5.0  # clock seconds after the queue or the function could not be reached

# The order Lambda lists a record's system attributes in ("Using Lambda with Amazon SQS").
_ATTRIBUTE_ORDER = (
    "ApproximateReceiveCount",
    "SentTimestamp",
    "SequenceNumber",
    "MessageGroupId",
    "SenderId",
    "MessageDeduplicationId",
    "ApproximateFirstReceiveTimestamp",
    "AWSTraceHeader",
)


@dataclass(frozen=True)
class QueuePollerStatus:
    lag: float  # messages waiting (ApproximateNumberOfMessages)
    last_result: str
    in_flight: int
    processed: int


@dataclass(frozen=True)
class Batch:
    records: tuple[dict[str, Any], ...]

    @property
    def message_ids(self) -> set[str]:
        return {record["messageId"] for record in self.records}

    def payload(self) -> bytes:
        return json.dumps({"Records": list(self.records)}, separators=(",", ":")).encode()


class PartialResponseError(ValueError):
    """The function's answer to a batch is not a valid partial batch response."""


def sqs_record(message: Mapping[str, Any], queue_arn: str, region: str) -> dict[str, Any]:
    """A received message (ReceiveMessage's shape) as Lambda delivers it to the function: system
    attributes as strings, message attributes in lower camel case with base64 binary values,
    ``md5OfMessageAttributes`` null when there are none."""
    attributes = message.get("Attributes") or {}
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message.get("Body", ""),
        "attributes": {
            name: str(attributes[name]) for name in _ATTRIBUTE_ORDER if name in attributes
        },
        "messageAttributes": {
            name: _lambda_attribute(value)
            for name, value in (message.get("MessageAttributes") or {}).items()
        },
        "md5OfMessageAttributes": message.get("MD5OfMessageAttributes"),
        "md5OfBody": message.get("MD5OfBody"),
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": region,
    }


def _lambda_attribute(value: Mapping[str, Any]) -> dict[str, Any]:
    shaped: dict[str, Any] = {}
    if "StringValue" in value:
        shaped["stringValue"] = value["StringValue"]
    if "BinaryValue" in value:
        shaped["binaryValue"] = _base64(value["BinaryValue"])
    shaped["stringListValues"] = list(value.get("StringListValues") or [])
    shaped["binaryListValues"] = [_base64(item) for item in value.get("BinaryListValues") or []]
    shaped["dataType"] = value.get("DataType")
    return shaped


def _base64(value: bytes | str) -> str:
    data = value.encode() if isinstance(value, str) else bytes(value)
    return base64.b64encode(data).decode("ascii")


def failed_message_ids(payload: bytes, batch_ids: set[str]) -> set[str]:
    """The messages a ``ReportBatchItemFailures`` response leaves in the queue; raises
    ``PartialResponseError`` for a response that fails the whole batch (Lambda developer
    guide, "Using Lambda with Amazon SQS", reporting batch item failures)."""
    if not payload.strip():
        return set()
    try:
        response = json.loads(payload)
    except ValueError as exc:
        raise PartialResponseError("the response is not JSON") from exc
    if response is None:
        return set()
    if not isinstance(response, dict):
        raise PartialResponseError("the response is not a JSON object")
    failures = response.get("batchItemFailures")
    if failures is None:
        return set()
    if not isinstance(failures, list):
        raise PartialResponseError("batchItemFailures is not a list")
    failed: set[str] = set()
    for failure in failures:
        identifier = failure.get("itemIdentifier") if isinstance(failure, dict) else None
        if not isinstance(identifier, str) or not identifier:
            raise PartialResponseError(f"an entry has no itemIdentifier: {failure!r}")
        if identifier not in batch_ids:
            raise PartialResponseError(f"{identifier!r} is not a message of the batch")
        failed.add(identifier)
    return failed


class QueuePoller:
    """The ``Poller`` of one SQS event source mapping (``mappings.py``)."""

    def __init__(self, config: dict[str, Any], context: EventContext) -> None:
        self.config = config
        self.context = context
        self.mapping_id: str = config["UUID"]
        self.queue_arn: str = config["EventSourceArn"]
        self.function_arn: str = config["FunctionArn"]
        parts = self.queue_arn.split(":")
        if len(parts) != 6 or parts[2] != "sqs":
            raise ValueError(f"not an SQS queue ARN: {self.queue_arn}")
        self.region, self.account, self.queue_name = parts[3], parts[4], parts[5]
        self.fifo = self.queue_name.endswith(".fifo")
        self.batch_size = max(1, int(config.get("BatchSize") or DEFAULT_BATCH_SIZE))
        if self.fifo:
            self.batch_size = min(self.batch_size, RECEIVE_LIMIT)
        window = float(config.get("MaximumBatchingWindowInSeconds") or 0)
        self.window = 0.0 if self.fifo else window  # "applies only to standard queues"
        self.report_failures = "ReportBatchItemFailures" in (
            config.get("FunctionResponseTypes") or []
        )
        self.filter = RecordFilter(config.get("FilterCriteria"))
        maximum = (config.get("ScalingConfig") or {}).get("MaximumConcurrency")
        self.concurrency = (
            min(int(maximum), MAX_LOCAL_CONCURRENCY) if maximum else DEFAULT_CONCURRENCY
        )
        self._sqs = context.clients.client("sqs", self.region)
        self._url: str | None = None
        self._waker = context.clock.waker()
        self._arrived = threading.Event()
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._in_flight = 0
        self._finished = 0  # batches done: one may have unblocked a FIFO message group
        self._processed = 0
        self._last_result = "No records processed"
        self._paused_until = 0.0
        self._throttle_pause = THROTTLE_PAUSE[0]
        self._thread: threading.Thread | None = None
        self._workers: ThreadPoolExecutor | None = None

    # -- Poller ----------------------------------------------------------------------------

    def start(self) -> None:
        if self._thread is not None:
            return
        self._workers = ThreadPoolExecutor(
            self.concurrency, thread_name_prefix=f"sqs-batch-{self.queue_name[:20]}"
        )
        self._thread = threading.Thread(
            target=self._run, name=f"sqs-poller-{self.queue_name[:20]}", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        """Stop taking batches at once; return when the batches in flight are finished."""
        self._stopping.set()
        self._waker.wake()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join()
        if self._workers is not None:
            self._workers.shutdown(wait=True)

    def status(self) -> QueuePollerStatus:
        lag = float(self._waiting_messages())
        with self._lock:
            return QueuePollerStatus(
                lag=lag,
                last_result=self._last_result,
                in_flight=self._in_flight,
                processed=self._processed,
            )

    # -- the coordinator -------------------------------------------------------------------

    def _run(self) -> None:
        stop_watching = sqs_shim.watch(self.queue_arn, self._message_arrived)
        try:
            while not self._stopping.is_set():
                try:
                    self._poll_once()
                except Exception as exc:  # the queue is gone, or the cloud is stopping
                    self._result(f"PROBLEM: {exc}")
                    LOG.warning("SQS mapping %s: %s", self.mapping_id, exc)
                    self._pause(ERROR_PAUSE)
        finally:
            stop_watching()

    def _poll_once(self) -> None:
        self._wait_while_paused()
        self._wait_for_a_free_slot()
        if self._stopping.is_set():
            return
        batch = self._gather()
        if self._stopping.is_set():
            self._release(batch)
            return
        if not batch:
            self._idle()
            return
        with self._lock:
            self._in_flight += 1
        assert self._workers is not None
        self._workers.submit(self._process, Batch(tuple(batch)))

    def _message_arrived(self) -> None:
        self._arrived.set()
        self._waker.wake()

    def _wait_while_paused(self) -> None:
        clock = self.context.clock
        while not self._stopping.is_set() and clock.now() < self._paused_until:
            self._waker.wait_until(self._paused_until)

    def _wait_for_a_free_slot(self) -> None:
        while not self._stopping.is_set():
            with self._lock:
                if self._in_flight < self.concurrency:
                    return
            self._waker.wait_until(None)  # a worker wakes it when its batch is done

    def _idle(self) -> None:
        """Sleep until a message is sent to the queue, a hidden one is due to show again, a
        batch is done (its group's next messages may be handed out now), the clock is advanced
        (manual clock), or the poller is stopped."""
        clock = self.context.clock
        start = clock.now()
        with self._lock:
            finished = self._finished
        due = sqs_shim.next_visible_at(self.queue_arn)
        deadline = start + IDLE_RECHECK if due is None else min(due, start + IDLE_RECHECK)
        if sqs_shim.installed_clock() is None:  # nobody tells of arrivals: look every second
            deadline = min(deadline, start + 1.0)
        while not self._stopping.is_set() and not self._arrived.is_set():
            now = clock.now()
            if now >= deadline or (clock.manual and now > start) or self._finished != finished:
                return
            self._waker.wait_until(deadline)

    def _gather(self) -> list[dict[str, Any]]:
        """Receive one batch: up to ``BatchSize`` matching messages, within the window."""
        clock = self.context.clock
        batch: list[dict[str, Any]] = []
        size = 0
        window_end: float | None = None
        while not self._stopping.is_set():
            self._arrived.clear()  # before the receive: an arrival during it is not missed
            wanted = min(RECEIVE_LIMIT, self.batch_size - len(batch))
            records = self._receive(wanted)
            overflow: list[dict[str, Any]] = []
            for record in self._matching(records):
                record_size = len(json.dumps(record, separators=(",", ":"))) + 1
                if size + record_size > MAX_PAYLOAD_BYTES - 16:
                    overflow.append(record)
                else:
                    batch.append(record)
                    size += record_size
            if overflow:
                self._release(overflow)
                return batch
            if len(batch) >= self.batch_size or (batch and self.window <= 0):
                return batch
            if not batch:
                if records:
                    continue  # every message was filtered out: look for more at once
                return batch
            if window_end is None:
                window_end = clock.now() + self.window
            if records:
                continue  # messages are coming: keep receiving while the window is open
            while not (self._stopping.is_set() or self._arrived.is_set()):
                if clock.now() >= window_end:
                    return batch
                self._waker.wait_until(window_end)
            if clock.now() >= window_end:
                return batch
        return batch

    # -- a worker --------------------------------------------------------------------------

    def _process(self, batch: Batch) -> None:
        try:
            self._invoke(batch)
        except Exception:
            LOG.exception("SQS mapping %s: a batch failed unexpectedly", self.mapping_id)
            self._result("PROBLEM: Internal error")
        finally:
            with self._lock:
                self._in_flight -= 1
                self._finished += 1
            self._waker.wake()

    def _invoke(self, batch: Batch) -> None:
        try:
            result = self.context.invoker.invoke(self.function_arn, batch.payload())
        except TooManyRequestsError:
            # Not deleted: the messages show again after the visibility timeout.
            self._result("PROBLEM: Function call throttled")
            self._throttled()
            return
        except (InvokeError, LookupError) as exc:
            self._result(f"PROBLEM: {exc}")
            self._pause(ERROR_PAUSE)
            return
        with self._lock:
            self._throttle_pause = THROTTLE_PAUSE[0]
        if result.function_error:
            self._result("PROBLEM: Function call failed")
            return
        try:
            failed = self._failed_ids(result, batch)
        except PartialResponseError as exc:
            self._result(f"PROBLEM: Invalid partial batch response: {exc}")
            return
        done = [record for record in batch.records if record["messageId"] not in failed]
        self._delete(done)
        with self._lock:
            self._processed += len(done)
        self._result("OK" if not failed else f"PROBLEM: {len(failed)} messages reported failed")

    def _failed_ids(self, result: InvokeResult, batch: Batch) -> set[str]:
        if not self.report_failures:
            return set()
        return failed_message_ids(result.payload, batch.message_ids)

    def _throttled(self) -> None:
        with self._lock:
            pause = self._throttle_pause
            self._throttle_pause = min(pause * 2, THROTTLE_PAUSE[1])
        self._pause(pause)

    def _pause(self, seconds: float) -> None:
        with self._lock:
            self._paused_until = max(self._paused_until, self.context.clock.now() + seconds)

    def _result(self, text: str) -> None:
        with self._lock:
            self._last_result = text

    # -- SQS -------------------------------------------------------------------------------

    def _queue_url(self) -> str:
        if self._url is None:
            self._url = self._sqs.get_queue_url(
                QueueName=self.queue_name, QueueOwnerAWSAccountId=self.account
            )["QueueUrl"]
        return self._url

    def _receive(self, count: int) -> list[dict[str, Any]]:
        answer = self._sqs.receive_message(
            QueueUrl=self._queue_url(),
            MaxNumberOfMessages=count,
            WaitTimeSeconds=0,
            MessageSystemAttributeNames=["All"],
            MessageAttributeNames=["All"],
        )
        return [
            sqs_record(message, self.queue_arn, self.region)
            for message in answer.get("Messages", [])
        ]

    def _matching(self, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The records the filters let through; the others are deleted."""
        if self.filter.accepts_everything:
            return records
        kept, dropped = self.filter.split(records)
        self._delete(dropped)
        return [dict(record) for record in kept]

    def _delete(self, records: Sequence[Mapping[str, Any]]) -> None:
        for chunk in _chunks(records, RECEIVE_LIMIT):
            answer = self._sqs.delete_message_batch(
                QueueUrl=self._queue_url(),
                Entries=[
                    {"Id": str(index), "ReceiptHandle": record["receiptHandle"]}
                    for index, record in enumerate(chunk)
                ],
            )
            for failure in answer.get("Failed", []):
                LOG.warning(
                    "SQS mapping %s: a message could not be deleted: %s",
                    self.mapping_id,
                    failure.get("Message"),
                )

    def _release(self, records: Sequence[Mapping[str, Any]]) -> None:
        """Make received messages visible again at once (a batch not handed out)."""
        for chunk in _chunks(records, RECEIVE_LIMIT):
            self._sqs.change_message_visibility_batch(
                QueueUrl=self._queue_url(),
                Entries=[
                    {
                        "Id": str(index),
                        "ReceiptHandle": record["receiptHandle"],
                        "VisibilityTimeout": 0,
                    }
                    for index, record in enumerate(chunk)
                ],
            )

    def _waiting_messages(self) -> int:
        try:
            attributes = self._sqs.get_queue_attributes(
                QueueUrl=self._queue_url(), AttributeNames=["ApproximateNumberOfMessages"]
            )["Attributes"]
            return int(attributes.get("ApproximateNumberOfMessages", 0))
        except Exception:  # the queue is gone
            return 0


def _chunks(items: Sequence[Mapping[str, Any]], size: int) -> Iterable[Sequence[Mapping[str, Any]]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]

"""``AsyncInvocations``: Lambda's asynchronous invocation queue (Lambda developer guide,
"Asynchronous invocation", "How Lambda handles errors and retries with asynchronous invocation"
and "Capturing records of Lambda asynchronous invocations").

The Invoke API answers 202 once an event is queued here (``submit``); then, on a small thread
pool, each event is run with ``LambdaRuntime.execute``:

    success           the OnSuccess destination gets the invocation record; done
    function error    retried up to MaximumRetryAttempts (0-2, default 2), one minute before
                      the first retry and two minutes before the second; when no retry is
                      left the event fails with RetriesExhausted, and when the next retry
                      would come after MaximumEventAgeInSeconds (60-21600, default six
                      hours) with EventAgeExceeded
    throttle (429)    not an attempt: back to the queue, retried after 1 s, 2 s, 4 s … up to
    system error      5 minutes between tries, until the event is older than
                      MaximumEventAgeInSeconds (EventAgeExceeded)
    reserved          with the function's reserved concurrency at 0, Lambda sends new events
    concurrency 0     to the dead-letter queue or on-failure destination without retries
                      (Lambda developer guide, "Configuring reserved concurrency")

A failed event goes to the function version's dead-letter queue (``DeadLetterConfig``, an SQS
queue or SNS topic) as it was sent, with the message attributes RequestID, ErrorCode (the HTTP
status: 200 for a function error) and ErrorMessage (its first kilobyte), and to the OnFailure
destination of the event invoke configuration as an invocation record. Time is the local
cloud's virtual clock (``context.clock``): a test advances it and a two-minute retry happens at
once. Metrics (namespace AWS/Lambda): AsyncEventsReceived, AsyncEventAge, AsyncEventsDropped,
DeadLetterErrors, DestinationDeliveryFailures.

The queue is a durable-state component (``state/recorder.py``'s ``Persistent``): the events not
finished, with their attempt counts and next-try times, are saved in every snapshot, and
written to the journal (``persist``) when an event is accepted — before the 202 is answered —
when a function error counts an attempt, and when an event is done with. After a restart the
events still queued run again (``start``); as on AWS, an event may so run more than once.
"""

from __future__ import annotations

import heapq
import itertools
import json
import logging
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from typing import Any

from basegear.cloud.events.context import Clients, EventContext
from basegear.cloud.events.destinations import DeliveryError, arn_parts, as_json, deliver, queue_url
from basegear.cloud.lambdas.runtime import LambdaRuntime
from basegear.cloud.lambdas.spec import (
    LATEST,
    FunctionSpec,
    InvokeError,
    InvokeResult,
    ShuttingDownError,
    TooManyRequestsError,
)
from basegear.cloud.lambdas.telemetry import NAMESPACE, MetricDatum, dimension_sets
from basegear.cloud.motoshim.awslambda import backend_for
from basegear.cloud.motoshim.lambda_async_config import (
    DEFAULT_MAXIMUM_EVENT_AGE,
    AsyncSettings,
    async_settings,
)
from basegear.cloud.protocol import AwsRequest

LOG = logging.getLogger(__name__)

RETRY_DELAYS = (60.0, 120.0)
"""Seconds before the first and the second retry of a function error."""
THROTTLE_FIRST_DELAY = 1.0
THROTTLE_MAX_DELAY = 300.0
"""Throttles and system errors: retried after 1 s, doubling to at most 5 minutes."""
ERROR_MESSAGE_LIMIT = 1024
"""The dead-letter queue's ErrorMessage attribute holds the error message's first 1 KB."""
THREADS = 4

Persist = Callable[["AsyncInvocations"], None]


@dataclass
class QueuedEvent:
    """One accepted event and how far it has got. Everything but the last three fields is
    saved with durable state."""

    request_id: str
    account: str
    region: str
    function_name: str
    version: str  # the version run (the alias's, for an alias)
    qualifier: str | None  # as the caller named it; None: unqualified
    payload: bytes
    received: float  # virtual clock
    next_try: float
    invocations: int = 0  # runs that reached the function
    throttles: int = 0  # throttles and system errors since the last run
    response: bytes | None = None  # the last run's payload
    function_error: str | None = None  # the last run's
    error_status: int = 0  # the last refusal's HTTP status (429, 500), 0 if none
    error_message: str = ""
    spec: FunctionSpec | None = field(default=None, repr=False)  # None once restored
    running: bool = False
    turn: int = 0  # the schedule entry that is current

    @property
    def function_arn(self) -> str:
        return f"arn:aws:lambda:{self.region}:{self.account}:function:{self.function_name}"

    def saved(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in _SAVED_FIELDS}


_SAVED_FIELDS = tuple(
    f.name for f in fields(QueuedEvent) if f.name not in ("spec", "running", "turn")
)


class AsyncInvocations:
    """The runtime's ``AsyncInvoker``. ``context`` may still be incomplete when this is made
    (inside ``LambdaRuntime.__init__``): its clock, clients and metrics are read when used."""

    state_key = "async-invocations"

    def __init__(self, runtime: LambdaRuntime, context: EventContext) -> None:
        self._runtime = runtime
        self._context = context
        self.persist: Persist | None = None
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._events: dict[str, QueuedEvent] = {}
        self._finishing = 0  # events done with, being saved as such
        self._schedule: list[tuple[float, int, str, int]] = []  # (next try, seq, id, turn)
        self._sequence = itertools.count()
        self._stopping = threading.Event()
        self._executor: ThreadPoolExecutor | None = None
        self._scheduler: threading.Thread | None = None
        self._waker: Any = None  # a Waker of the context's clock

    # -- the AsyncInvoker protocol -------------------------------------------------------------

    def submit(
        self, spec: FunctionSpec, payload: bytes, *, qualifier: str | None, request_id: str
    ) -> None:
        """Queue an event; returns once it is durable (when state is). Raises RuntimeError once
        closed (the runtime then answers 500 ServiceException)."""
        if self._stopping.is_set():
            raise RuntimeError("asynchronous invocations are closed")
        now = self._context.clock.now()
        event = QueuedEvent(
            request_id=request_id,
            account=spec.account,
            region=spec.region,
            function_name=spec.name,
            version=spec.version,
            qualifier=qualifier,
            payload=payload,
            received=now,
            next_try=now,
            spec=spec,
        )
        with self._lock:
            self._events[request_id] = event
            self._push(event)
        try:
            self._persist()
        except BaseException:
            with self._lock:
                self._events.pop(request_id, None)
            raise
        self._emit(event, "AsyncEventsReceived", 1.0, "Count")
        self.start()
        self._wake()

    def close(self) -> None:
        """Stop promptly: no new attempt starts; the attempts running end as the runtime stops
        their workers. Events not finished stay queued (and in the saved state)."""
        self._stopping.set()
        self._wake()
        scheduler = self._scheduler
        if scheduler is not None and scheduler is not threading.current_thread():
            scheduler.join(timeout=5)
        executor = self._executor
        if executor is not None:
            executor.shutdown(wait=True, cancel_futures=True)
        with self._changed:
            for event in self._events.values():
                event.running = False
            self._changed.notify_all()

    # -- running -------------------------------------------------------------------------------

    def start(self) -> None:
        """Start running queued events: once state is restored and the cloud serves. Called by
        the first ``submit`` too; idempotent."""
        with self._lock:
            if self._scheduler is not None or self._stopping.is_set():
                return
            self._executor = ThreadPoolExecutor(THREADS, thread_name_prefix="gear-async")
            self._scheduler = threading.Thread(
                target=self._run_schedule, name="gear-async-schedule", daemon=True
            )
        self._scheduler.start()

    def pending(self, function_name: str | None = None) -> int:
        """Events accepted and not yet done with (of one function, or of all)."""
        with self._lock:
            if function_name is None:
                return len(self._events)
            return sum(1 for e in self._events.values() if e.function_name == function_name)

    def wait_idle(self, timeout: float = 30.0) -> bool:
        """Wait (real seconds) until no event is running and none is due on the clock, and what
        the last attempts changed is saved; True then, False on timeout (tests: after advancing
        the clock, the retries it made due have run and their results are delivered)."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                now = self._context.clock.now()
                busy = any(e.running or e.next_try <= now for e in self._events.values())
                if not busy and not self._finishing:
                    return True
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._changed.wait(min(remaining, 0.05))

    def _push(self, event: QueuedEvent) -> None:
        """Schedule ``event`` at its ``next_try`` (with the lock held)."""
        event.turn += 1
        heapq.heappush(
            self._schedule, (event.next_try, next(self._sequence), event.request_id, event.turn)
        )
        self._changed.notify_all()

    def _wake(self) -> None:
        waker = self._waker
        if waker is not None:
            waker.wake()

    def _run_schedule(self) -> None:
        clock = self._context.clock
        self._waker = clock.waker()
        while not self._stopping.is_set():
            if self._context.clock is not clock:  # the context was given another clock
                clock = self._context.clock
                self._waker = clock.waker()
            now = clock.now()
            due: list[QueuedEvent] = []
            with self._lock:
                while self._schedule and self._schedule[0][0] <= now:
                    _, _, request_id, turn = heapq.heappop(self._schedule)
                    event = self._events.get(request_id)
                    if event is not None and event.turn == turn and not event.running:
                        event.running = True
                        due.append(event)
                deadline = self._schedule[0][0] if self._schedule else None
            executor = self._executor
            for event in due:
                try:
                    assert executor is not None
                    executor.submit(self._attempt_safely, event)
                except RuntimeError:  # shut down by close()
                    return
            if not due:
                self._waker.wait_until(deadline)

    def _attempt_safely(self, event: QueuedEvent) -> None:
        try:
            self._attempt(event)
        except Exception:
            LOG.exception(
                "asynchronous invocation %s of %s failed", event.request_id, event.function_name
            )
            self._retry_later(event, 500, "internal error")

    def _attempt(self, event: QueuedEvent) -> None:
        """One try of ``event``, when it is due."""
        try:
            settings = self._settings(event)
        except LookupError:
            LOG.warning(
                "dropping asynchronous invocation %s: function %s no longer exists",
                event.request_id,
                event.function_name,
            )
            self._finish(event)
            return
        now = self._context.clock.now()
        if now - event.received >= settings.maximum_event_age:
            self._fail(event, settings, "EventAgeExceeded")
            return
        self._emit(event, "AsyncEventAge", (now - event.received) * 1000.0, "Milliseconds")
        try:
            result = self._execute(event)
        except ShuttingDownError:
            if not self._stopping.is_set():
                self._retry_later(event, 500, "The local cloud is shutting down.")
                return
            with self._changed:  # stays queued, for the next start
                event.running = False
                self._changed.notify_all()
            return
        except TooManyRequestsError as exc:
            if settings.reserved_concurrency == 0:
                event.error_status, event.error_message = exc.status, exc.message
                self._fail(event, settings, "ZeroReservedConcurrency")
            else:
                self._retry_later(event, exc.status, exc.message)
            return
        except InvokeError as exc:
            self._retry_later(event, exc.status, exc.message)
            return
        except LookupError:
            LOG.warning(
                "dropping asynchronous invocation %s: %s is gone",
                event.request_id,
                event.function_name,
            )
            self._finish(event)
            return
        self._settle(event, settings, result)

    def _execute(self, event: QueuedEvent) -> InvokeResult:
        if event.spec is not None:
            return self._runtime.execute(
                event.spec, event.payload, qualifier=event.qualifier, request_id=event.request_id
            )
        # Restored from saved state: the function is looked up again by its ARN.
        arn = event.function_arn + (f":{event.qualifier}" if event.qualifier else "")
        return self._context.invoker.invoke(arn, event.payload)

    def _settings(self, event: QueuedEvent) -> AsyncSettings:
        backend = backend_for(event.account, event.region)
        return async_settings(backend, event.function_name, event.qualifier, event.version)

    def _settle(self, event: QueuedEvent, settings: AsyncSettings, result: InvokeResult) -> None:
        """A run's result: success, a retry one or two minutes on, or failure."""
        with self._lock:
            event.invocations += 1
            event.throttles = 0
            event.version = result.executed_version
            event.response = result.payload
            event.function_error = result.function_error
            event.error_status, event.error_message = 0, ""
        if result.function_error is None:
            self._deliver_record(event, settings.on_success, "Success")
            self._finish(event)
            return
        retries = event.invocations - 1
        if retries >= settings.maximum_retry_attempts:
            self._fail(event, settings, "RetriesExhausted")
            return
        delay = RETRY_DELAYS[min(retries, len(RETRY_DELAYS) - 1)]
        now = self._context.clock.now()
        # The retry would come too late: Lambda discards the event now.
        if now - event.received + delay >= settings.maximum_event_age:
            self._fail(event, settings, "EventAgeExceeded")
            return
        with self._lock:
            event.next_try = now + delay
        self._persist_quietly()  # the attempt is counted before the event is seen waiting
        with self._changed:
            event.running = False
            self._push(event)
        self._wake()

    def _retry_later(self, event: QueuedEvent, status: int, message: str) -> None:
        """A throttle or system error: back to the queue, not counted as an attempt; it expires
        at the maximum event age (checked when it is next due)."""
        try:
            maximum_age = float(self._settings(event).maximum_event_age)
        except LookupError:
            maximum_age = 0.0  # the function is gone: dropped when next due
        except Exception:
            LOG.exception("reading the settings of %s failed", event.function_name)
            maximum_age = float(DEFAULT_MAXIMUM_EVENT_AGE)
        now = self._context.clock.now()
        with self._changed:
            event.throttles += 1
            event.error_status, event.error_message = status, message
            delay = min(THROTTLE_FIRST_DELAY * 2 ** (event.throttles - 1), THROTTLE_MAX_DELAY)
            event.next_try = min(now + delay, event.received + maximum_age)
            event.running = False
            self._push(event)
        self._wake()

    def _fail(self, event: QueuedEvent, settings: AsyncSettings, condition: str) -> None:
        """The event is discarded: to the dead-letter queue and the OnFailure destination."""
        self._emit(event, "AsyncEventsDropped", 1.0, "Count")
        if settings.dead_letter_target is not None:
            self._send_to_dead_letter_queue(event, settings.dead_letter_target)
        self._deliver_record(event, settings.on_failure, condition)
        self._finish(event)

    def _finish(self, event: QueuedEvent) -> None:
        with self._lock:
            self._events.pop(event.request_id, None)
            self._finishing += 1
        try:
            self._persist_quietly()
        finally:
            with self._changed:
                event.running = False
                self._finishing -= 1
                self._changed.notify_all()

    # -- where results go ----------------------------------------------------------------------

    def _deliver_record(self, event: QueuedEvent, destination: str | None, condition: str) -> None:
        if destination is None:
            return
        outcome = "Success" if condition == "Success" else "Failure"
        try:
            deliver(
                self._context.clients,
                destination,
                as_json(invocation_record(event, condition, self._context.clock.now())),
                detail_type=f"Lambda Function Invocation Result - {outcome}",
            )
        except DeliveryError as exc:
            LOG.warning("the %s destination of %s failed: %s", outcome, event.function_name, exc)
            self._emit(event, "DestinationDeliveryFailures", 1.0, "Count")

    def _send_to_dead_letter_queue(self, event: QueuedEvent, target: str) -> None:
        """The event as it was sent, with RequestID, ErrorCode and ErrorMessage (Lambda
        developer guide, "Adding a dead-letter queue"); if that fails, the event is lost and
        DeadLetterErrors counts it."""
        status = 200 if event.function_error else (event.error_status or 500)
        attributes = {
            "RequestID": ("String", event.request_id),
            "ErrorCode": ("Number", str(status)),
            "ErrorMessage": ("String", error_message(event)),
        }
        try:
            send_with_attributes(
                self._context.clients, target, event.payload.decode() or "{}", attributes
            )
        except DeliveryError as exc:
            LOG.warning("the dead-letter queue of %s failed: %s", event.function_name, exc)
            self._emit(event, "DeadLetterErrors", 1.0, "Count")

    def _emit(self, event: QueuedEvent, name: str, value: float, unit: str) -> None:
        context = self._context
        try:
            data = [
                MetricDatum(name, value, unit, dims, context.clock.now())
                for dims in dimension_sets(event.function_name, event.qualifier, event.version)
            ]
            context.put_metrics(NAMESPACE, data, account=event.account, region=event.region)
        except Exception:
            LOG.exception("the metric sink failed")

    # -- durable state -------------------------------------------------------------------------

    def _persist(self) -> None:
        persist = self.persist
        if persist is not None:
            persist(self)

    def _persist_quietly(self) -> None:
        try:
            self._persist()
        except Exception:
            LOG.exception("saving the asynchronous invocation queue failed")

    def owns_write(self, request: AwsRequest) -> bool:
        return False

    def save_state(self) -> Any:
        with self._lock:
            return [event.saved() for event in self._events.values()]

    def load_state(self, state: Any) -> None:
        events = {}
        for saved in state:
            event = QueuedEvent(**{k: v for k, v in saved.items() if k in _SAVED_FIELDS})
            events[event.request_id] = event
        with self._changed:
            self._events = events
            self._schedule = []
            for event in events.values():
                self._push(event)
        self._wake()


# -- what is sent -------------------------------------------------------------------------------


def invocation_record(event: QueuedEvent, condition: str, now: float) -> dict[str, Any]:
    """The invocation record sent to a destination (Lambda developer guide, "Capturing records
    of Lambda asynchronous invocations"): the request, and the last run's response when the
    function ran at all."""
    record: dict[str, Any] = {
        "version": "1.0",
        "timestamp": _iso(now),
        "requestContext": {
            "requestId": event.request_id,
            "functionArn": f"{event.function_arn}:{event.qualifier or LATEST}",
            "condition": condition,
            "approximateInvokeCount": event.invocations,
        },
        "requestPayload": _decoded(event.payload),
    }
    if event.invocations:
        response: dict[str, Any] = {"statusCode": 200, "executedVersion": event.version}
        if event.function_error:
            response["functionError"] = event.function_error
        record["responseContext"] = response
        record["responsePayload"] = _decoded(event.response or b"")
    return record


def error_message(event: QueuedEvent) -> str:
    """The failure's message, at most 1 KB: the handler's ``errorMessage`` for a function
    error, the refusal's message for a throttle or system error."""
    message = event.error_message
    if event.function_error:
        decoded = _decoded(event.response or b"")
        found = decoded.get("errorMessage") if isinstance(decoded, dict) else None
        message = (
            str(found) if found is not None else (event.response or b"").decode("utf-8", "replace")
        )
    cut = message.encode("utf-8")[:ERROR_MESSAGE_LIMIT]
    return cut.decode("utf-8", "ignore")


def send_with_attributes(
    clients: Clients, arn: str, body: str, attributes: Mapping[str, tuple[str, str]]
) -> None:
    """Send ``body`` to an SQS queue or SNS topic with typed message attributes (``(DataType,
    value)``; empty values are left out, as SQS refuses them). Raises ``DeliveryError``."""
    service, region, _, _ = arn_parts(arn)
    typed = {
        name: {"DataType": data_type, "StringValue": value}
        for name, (data_type, value) in attributes.items()
        if value
    }
    try:
        if service == "sqs":
            clients.client("sqs", region).send_message(
                QueueUrl=queue_url(clients, arn), MessageBody=body, MessageAttributes=typed
            )
        elif service == "sns":
            clients.client("sns", region).publish(
                TopicArn=arn, Message=body, MessageAttributes=typed
            )
        else:
            raise DeliveryError(f"{arn} is neither an SQS queue nor an SNS topic")
    except DeliveryError:
        raise
    except Exception as exc:
        raise DeliveryError(f"sending to {arn} failed: {exc}") from exc


def _decoded(payload: bytes) -> Any:
    if not payload:
        return None
    try:
        return json.loads(payload)
    except ValueError:
        return payload.decode("utf-8", "replace")


def _iso(seconds: float) -> str:
    """``2019-11-14T18:16:05.568Z``."""
    moment = datetime.fromtimestamp(seconds, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"

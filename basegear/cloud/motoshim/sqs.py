"""moto's SQS (``moto/sqs/models.py``) on the local cloud's virtual clock (``cloud/clock.py``).

What SQS means depends on the time: a received message is hidden until its visibility timeout
ends, a delayed one until its delay ends, one older than the queue's retention period is gone,
and ``SentTimestamp``/``ApproximateFirstReceiveTimestamp`` are stamped on it. moto reads the
time through its module's ``unix_time``/``unix_time_millis``; :func:`install` points both at a
:class:`VirtualClock`, so all of that follows the clock for every client — on the manual clock
a 30-second visibility timeout ends when a test advances the clock by 30 s, not before.

Durable state's replay (``state/moto_sqs.py``'s ``frozen_clock``) swaps the same two module
attributes for the time of each record and puts back whatever was there — these functions — when
it is done. Install before the cloud starts serving (that is when state is replayed).

Eight things moto does with real time, or not at all, are changed alongside:

- **Long polls** (``WaitTimeSeconds``): moto loops until ``unix_time()`` passes the end of the
  wait, which on a clock that stands still never comes. The wait is kept in real seconds
  instead (``WaitTimeSeconds`` of real time, as a client's socket timeout expects): the poll
  answers as soon as a message is sent to the queue, and re-checks the queue every
  ``LONG_POLL_RECHECK`` real seconds for messages whose delay or visibility timeout ended
  (on any clock) — including after the manual clock is advanced.
- **Retention**: "Amazon SQS automatically deletes messages that have been in a queue for more
  than the maximum message retention period" (SQS developer guide, "Amazon SQS message
  lifecycle"); moto instead leaves an expired message in place, hides it and stops the receive
  there, so that one expired message at the head of a queue blocks it. Expired messages are
  deleted before each receive.
- **The end of a visibility timeout**: moto shows a message again only once the time is past
  its ``visible_at``; on a clock that stands still, a message made visible with
  ``ChangeMessageVisibility`` 0 would then stay hidden, and one received with a 30-second
  timeout would still be hidden 30 s later. A message is visible from ``visible_at`` on
  (``Message.visible``).
- **FIFO sequence numbers**: moto gives a FIFO message a ``SequenceNumber`` only when it was
  sent with a ``MessageDeduplicationId``, and a random one; every message of a FIFO queue gets
  one, increasing within the queue (SQS API reference, SendMessage), and Lambda passes it on in
  the record's attributes. Added messages are numbered in ``Queue.add_message``.
- **Receiving from a long queue**: for each message it returns, moto checks the retention
  period by building every queue attribute — three counts of the whole queue — which makes a
  receive from a queue of a few thousand messages take a tenth of a second; the check reads
  the one attribute instead (``SQSBackend.is_message_valid_based_on_retention_period``).
- **Concurrent writes**: moto deletes a message by building the queue's list anew without it,
  unlocked, so two deletes at once (two batches finishing) can put back what the other took
  out, and a message sent meanwhile can be lost; and it goes through the whole queue once for
  each entry of a DeleteMessageBatch, which is done in one pass instead. Deleting
  (``Queue.delete_message``, ``SQSBackend.delete_message_batch``), receiving
  and expiring hold the queue's lock — the one moto's ``add_message`` holds — after one lock
  common to all queues (a receive may move a message to another queue, its dead-letter queue).
- **The time, once per pass**: a receive, and moto's ``Queue.attributes`` (built for every
  SendMessage), look at each message of the queue and read the time for each; they read it
  once instead.
- **Who is waiting**: :func:`watch` lets an event source poller sleep on the clock and be woken
  when a message is sent to its queue (``Queue.add_message``), and :func:`next_visible_at` tells
  it when the next hidden message shows again, instead of polling an idle queue.

moto's own redrive (``receive_message``: a visible message already received ``maxReceiveCount``
times moves to the dead-letter queue instead of being returned — "When the ReceiveCount for a
message exceeds the maxReceiveCount", SQS API reference, RedrivePolicy) is right and kept.

Private moto attributes replaced are listed in ``PATCHED``; ``check_moto()`` fails loudly when a
moto upgrade moves one of them.
"""

from __future__ import annotations

import inspect
import threading
import time
from collections.abc import Callable
from typing import Any

from basegear.cloud.clock import VirtualClock

PATCHED = (
    ("moto.sqs.models", "unix_time"),
    ("moto.sqs.models", "unix_time_millis"),
    ("moto.sqs.models.SQSBackend", "receive_message"),
    ("moto.sqs.models.Queue", "add_message"),
    ("moto.sqs.models.Queue", "delete_message"),
    ("moto.sqs.models.SQSBackend", "delete_message_batch"),
    ("moto.sqs.models.Message", "visible"),
    ("moto.sqs.models.SQSBackend", "is_message_valid_based_on_retention_period"),
    ("moto.sqs.models.Queue", "attributes"),
    ("moto.sqs.models.SQSBackend", "send_message"),
)
# What is read of moto's objects besides (checked by check_moto and tests/cloud/test_motoshim_sqs).
READ = (
    ("moto.sqs.models", "sqs_backends"),
    ("moto.sqs.models.Queue", "_messages"),
    ("moto.sqs.models.Queue", "_messages_lock"),
    ("moto.sqs.models.Message", "visible_at"),
    ("moto.sqs.models.Message", "delayed_until"),
)
LONG_POLL_RECHECK = 0.2
"""Real seconds between two looks at a queue during a long poll that nothing woke."""

_RECEIVE_PARAMETERS = [
    "self",
    "queue_name",
    "count",
    "wait_seconds_timeout",
    "visibility_timeout",
    "message_attribute_names",
]
_ADDED = "_basegear_added"  # a Queue's count of messages added, read by long polls
_SEQUENCE = "_basegear_sequence"  # a FIFO Queue's last SequenceNumber, less the first
FIRST_SEQUENCE_NUMBER = 10**19  # SequenceNumbers have 20 digits

_RETENTION_CHECK = "is_message_valid_based_on_retention_period"

Callback = Callable[[], None]


class _Shim:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.clock: VirtualClock | None = None  # the last installed clock still installed
        self.clocks: list[VirtualClock] = []  # every install not yet undone, in order
        self.saved: dict[str, Any] = {}  # moto's originals, while installed
        self.watchers: dict[str, list[Callback]] = {}
        self.models: Any = None  # moto.sqs.models, once installed
        # Held (then the queue's lock) by whatever changes which messages a queue holds, but
        # for moto's add_message, which takes the queue's lock alone.
        self.mutations = threading.RLock()


_shim = _Shim()
_pass = threading.local()  # ``millis``: the time of the receive pass this thread is in


def check_moto() -> None:
    """Raise if moto no longer has what this module replaces, or calls it differently."""
    import moto.sqs.models as models

    for name in ("unix_time", "unix_time_millis"):
        if not callable(getattr(models, name, None)):
            raise RuntimeError(
                f"moto.sqs.models no longer reads the time with {name}: update {__name__}"
            )
    receive = _shim.saved.get("receive_message") or getattr(
        models.SQSBackend, "receive_message", None
    )
    if receive is None or list(inspect.signature(receive).parameters) != _RECEIVE_PARAMETERS:
        raise RuntimeError(f"moto changed SQSBackend.receive_message: update {__name__}")
    add = _shim.saved.get("add_message") or getattr(models.Queue, "add_message", None)
    if add is None or list(inspect.signature(add).parameters) != ["self", "message"]:
        raise RuntimeError(f"moto changed Queue.add_message: update {__name__}")
    delete = _shim.saved.get("delete_message") or getattr(models.Queue, "delete_message", None)
    if delete is None or list(inspect.signature(delete).parameters) != ["self", "receipt_handle"]:
        raise RuntimeError(f"moto changed Queue.delete_message: update {__name__}")
    batch = _shim.saved.get("delete_message_batch") or getattr(
        models.SQSBackend, "delete_message_batch", None
    )
    if batch is None or list(inspect.signature(batch).parameters) != [
        "self",
        "queue_name",
        "receipts",
    ]:
        raise RuntimeError(f"moto changed SQSBackend.delete_message_batch: update {__name__}")
    if not isinstance(
        _shim.saved.get("visible") or models.Message.__dict__.get("visible"), property
    ):
        raise RuntimeError(f"moto's Message.visible is no longer a property: update {__name__}")
    if not isinstance(
        _shim.saved.get("attributes") or models.Queue.__dict__.get("attributes"), property
    ):
        raise RuntimeError(f"moto's Queue.attributes is no longer a property: update {__name__}")
    retention = _shim.saved.get("retention") or getattr(models.SQSBackend, _RETENTION_CHECK, None)
    if retention is None or list(inspect.signature(retention).parameters) != [
        "self",
        "queue_name",
        "message",
    ]:
        raise RuntimeError(f"moto changed SQSBackend.{_RETENTION_CHECK}: update {__name__}")


def install(clock: VirtualClock) -> None:
    """Make moto's SQS read ``clock``. Installs nest (each local cloud in a process installs
    its own clock): the latest one still installed is read."""
    import moto.sqs.models as models

    with _shim.lock:
        _shim.clocks.append(clock)
        _shim.clock = clock
        if _shim.saved:
            return
        check_moto()
        _shim.models = models
        _shim.saved = {
            "unix_time": getattr(models, "unix_time"),  # noqa: B009 (not re-exported)
            "unix_time_millis": getattr(models, "unix_time_millis"),  # noqa: B009
            "receive_message": models.SQSBackend.__dict__["receive_message"],
            "add_message": models.Queue.__dict__["add_message"],
            "delete_message": models.Queue.__dict__["delete_message"],
            "delete_message_batch": models.SQSBackend.__dict__["delete_message_batch"],
            "visible": models.Message.__dict__["visible"],
            "retention": models.SQSBackend.__dict__["is_message_valid_based_on_retention_period"],
            "attributes": models.Queue.__dict__["attributes"],
            "send_message": models.SQSBackend.__dict__["send_message"],
        }
        setattr(models, "unix_time", _unix_time)  # noqa: B010 (not re-exported)
        setattr(models, "unix_time_millis", _unix_time_millis)  # noqa: B010
        setattr(models.SQSBackend, "receive_message", _receive_message)  # noqa: B010
        setattr(models.Queue, "add_message", _add_message)  # noqa: B010
        setattr(models.Queue, "delete_message", _delete_message)  # noqa: B010
        setattr(models.SQSBackend, "delete_message_batch", _delete_message_batch)  # noqa: B010
        setattr(models.Message, "visible", property(_visible))  # noqa: B010
        setattr(models.SQSBackend, _RETENTION_CHECK, _within_retention)
        setattr(models.Queue, "attributes", property(_attributes))  # noqa: B010
        setattr(models.SQSBackend, "send_message", _send_message)  # noqa: B010


def uninstall(clock: VirtualClock) -> None:
    """Undo ``install(clock)``; once no install is left, put moto's own functions back (real
    time again)."""
    import moto.sqs.models as models

    with _shim.lock:
        if clock in _shim.clocks:
            _shim.clocks.remove(clock)
        _shim.clock = _shim.clocks[-1] if _shim.clocks else None
        if _shim.clocks or not _shim.saved:
            return
        saved, _shim.saved = _shim.saved, {}
        setattr(models, "unix_time", saved["unix_time"])  # noqa: B010
        setattr(models, "unix_time_millis", saved["unix_time_millis"])  # noqa: B010
        setattr(models.SQSBackend, "receive_message", saved["receive_message"])  # noqa: B010
        setattr(models.Queue, "add_message", saved["add_message"])  # noqa: B010
        setattr(models.Queue, "delete_message", saved["delete_message"])  # noqa: B010
        setattr(models.SQSBackend, "delete_message_batch", saved["delete_message_batch"])  # noqa: B010
        setattr(models.Message, "visible", saved["visible"])  # noqa: B010
        setattr(models.SQSBackend, _RETENTION_CHECK, saved["retention"])
        setattr(models.Queue, "attributes", saved["attributes"])  # noqa: B010
        setattr(models.SQSBackend, "send_message", saved["send_message"])  # noqa: B010


def installed_clock() -> VirtualClock | None:
    return _shim.clock


def watch(queue_arn: str, callback: Callback) -> Callback:
    """Call ``callback`` (quick, from the sending thread) each time a message is added to the
    queue ``queue_arn`` — sent, or moved there as a dead letter — while installed; returns the
    function that stops it."""
    with _shim.lock:
        _shim.watchers.setdefault(queue_arn, []).append(callback)

    def stop() -> None:
        with _shim.lock:
            callbacks = _shim.watchers.get(queue_arn, [])
            if callback in callbacks:
                callbacks.remove(callback)
            if not callbacks:
                _shim.watchers.pop(queue_arn, None)

    return stop


def next_visible_at(queue_arn: str) -> float | None:
    """When (clock seconds) the next message of ``queue_arn`` that is hidden now — received,
    or delayed — shows again; None if none is hidden or there is no such queue."""
    queue = _queue(queue_arn)
    if queue is None:
        return None
    now_ms = _moto_millis()
    hidden = [
        max(message.visible_at, message.delayed_until)
        for message in list(queue._messages)
        if message.visible_at > now_ms or message.delayed_until > now_ms
    ]
    return min(hidden) / 1000.0 if hidden else None


def _queue(queue_arn: str) -> Any:
    from moto.sqs.models import sqs_backends

    parts = queue_arn.split(":")
    if len(parts) != 6:
        return None
    _, _, _, region, account, name = parts
    try:
        return sqs_backends[account][region].queues.get(name)
    except KeyError:
        return None


def _now() -> float:
    clock = _shim.clock
    return clock.now() if clock is not None else time.time()


def _unix_time(dt: Any = None) -> float:
    if dt is not None:  # a given datetime's epoch seconds: moto's own arithmetic
        from moto.core.utils import unix_time

        return float(unix_time(dt))
    return _now()


def _unix_time_millis(dt: Any = None) -> float:
    if dt is None:
        fixed: float | None = getattr(_pass, "millis", None)
        if fixed is not None:
            return fixed
        clock = _shim.clock
        return (clock.now() if clock is not None else time.time()) * 1000.0
    return _unix_time(dt) * 1000.0


def _moto_millis() -> float:
    """The time as moto's SQS reads it now: this module's clock, or durable state's replay
    clock while a journal is replayed."""
    models = _shim.models
    if models is None:
        import moto.sqs.models as models
    return float(models.unix_time_millis())


def _visible(message: Any) -> bool:
    fixed: float | None = getattr(_pass, "millis", None)
    return bool((_moto_millis() if fixed is None else fixed) >= message.visible_at)


def _at_one_time(read: Callable[[], Any]) -> Any:
    """``read()`` with the time fixed for its duration (a pass over the queue reads it for
    each message), unless it already is."""
    if getattr(_pass, "millis", None) is not None:
        return read()
    _pass.millis = _moto_millis()
    try:
        return read()
    finally:
        _pass.millis = None


def _attributes(queue: Any) -> Any:
    """moto's ``Queue.attributes`` (three counts of the whole queue) with the time read once;
    within a SendMessage, which reads ``ContentBasedDeduplication`` alone from them, just
    that (counting a deep queue for every message sent made sending quadratic)."""
    if getattr(_pass, "sending", False):
        if not queue.fifo_queue:
            return {}
        enabled = queue.content_based_deduplication in (True, "true")  # moto keeps a bool
        return {"ContentBasedDeduplication": "true" if enabled else "false"}
    return _at_one_time(lambda: _shim.saved["attributes"].fget(queue))


def _send_message(backend: Any, *args: Any, **kwargs: Any) -> Any:
    _pass.sending = True
    try:
        return _shim.saved["send_message"](backend, *args, **kwargs)
    finally:
        _pass.sending = False


def _add_message(queue: Any, message: Any) -> None:
    if queue.fifo_queue:
        # Each message of a FIFO queue gets a SequenceNumber, increasing within the queue (SQS
        # API reference, SendMessage); moto draws 20 random digits, and only for a message sent
        # with a MessageDeduplicationId.
        sequence = getattr(queue, _SEQUENCE, 0) + 1
        setattr(queue, _SEQUENCE, sequence)
        message.sequence_number = f"{FIRST_SEQUENCE_NUMBER + sequence:020d}"
    _shim.saved["add_message"](queue, message)
    lock = queue._messages_lock
    with lock:
        setattr(queue, _ADDED, getattr(queue, _ADDED, 0) + 1)
        lock.notify_all()
    with _shim.lock:
        callbacks = list(_shim.watchers.get(queue.queue_arn, ()))
    for callback in callbacks:
        callback()


def _receive_message(
    backend: Any,
    queue_name: str,
    count: int,
    wait_seconds_timeout: int,
    visibility_timeout: int,
    message_attribute_names: list[str] | None = None,
) -> list[Any]:
    """moto's receive, one pass at a time (``wait_seconds_timeout`` 0), repeated until a
    message comes or ``wait_seconds_timeout`` real seconds have passed."""
    import moto.sqs.models as models

    original = _shim.saved.get("receive_message") or models.SQSBackend.receive_message
    queue = backend.get_queue(queue_name)
    deadline = time.monotonic() + int(wait_seconds_timeout or 0)
    lock = queue._messages_lock
    while True:
        with _shim.mutations, lock:
            added = getattr(queue, _ADDED, 0)
            result: list[Any] = _at_one_time(
                lambda: _expire_then(
                    queue,
                    lambda: original(
                        backend, queue_name, count, 0, visibility_timeout, message_attribute_names
                    ),
                )
            )
        remaining = deadline - time.monotonic()
        if result or remaining <= 0:
            return result
        with lock:
            if getattr(queue, _ADDED, 0) == added:  # else a message came during the pass
                lock.wait(min(remaining, LONG_POLL_RECHECK))


def _within_retention(backend: Any, queue_name: str, message: Any) -> bool:
    """moto's check of a message against the queue's retention period, without building every
    queue attribute (three counts of the whole queue) for each message received."""
    queue = backend.get_queue(queue_name)
    retention_ms = int(queue.message_retention_period) * 1000
    return _sent(message) + retention_ms > _moto_millis()


def _expire_then(queue: Any, receive: Callable[[], list[Any]]) -> list[Any]:
    _delete_expired(queue)
    return receive()


def _delete_message(queue: Any, receipt_handle: str) -> None:
    with _shim.mutations, queue._messages_lock:
        _shim.saved["delete_message"](queue, receipt_handle)


def _delete_message_batch(
    backend: Any, queue_name: str, receipts: list[dict[str, Any]]
) -> tuple[list[str], list[dict[str, Any]]]:
    """moto's DeleteMessageBatch in one pass over the queue instead of one per entry, with
    moto's answers: a handle already deleted succeeds again, an unknown one fails with
    ReceiptHandleIsInvalid."""
    queue = backend.get_queue(queue_name)
    wanted = {entry["ReceiptHandle"] for entry in receipts}
    with _shim.mutations, queue._messages_lock:
        deleted_before = wanted & queue.deleted_messages
        fresh = wanted - deleted_before
        found: set[str] = set()
        if fresh:
            kept = []
            for message in queue._messages:
                handles = message.all_receipt_handles
                hits = fresh.intersection(handles)
                if not hits:
                    kept.append(message)
                    continue
                found |= hits
                queue.pending_messages.discard(message)
                queue.deleted_messages.update(handles)
            if found:
                queue._messages = kept
    success: list[str] = []
    errors: list[dict[str, Any]] = []
    for entry in receipts:
        handle = entry["ReceiptHandle"]
        if handle in found or handle in deleted_before:
            success.append(entry["Id"])
        else:
            errors.append(
                {
                    "Id": entry["Id"],
                    "SenderFault": True,
                    "Code": "ReceiptHandleIsInvalid",
                    "Message": f'The input receipt handle "{handle}" is not a valid receipt '
                    "handle.",
                }
            )
    return success, errors


def _delete_expired(queue: Any) -> None:
    """Drop the messages older than the queue's ``MessageRetentionPeriod``, in flight or not
    (called holding the queue's lock)."""
    retention_ms = int(queue.message_retention_period) * 1000
    oldest_kept = _moto_millis() - retention_ms
    messages = queue._messages
    if not any(_sent(message) <= oldest_kept for message in messages):
        return
    expired = [message for message in messages if _sent(message) <= oldest_kept]
    for message in expired:
        queue.pending_messages.discard(message)
    queue._messages = [message for message in messages if _sent(message) > oldest_kept]


def _sent(message: Any) -> float:
    sent = message.sent_timestamp
    return float("inf") if sent is None else float(sent)

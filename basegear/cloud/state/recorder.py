"""Which requests are recorded, and how one becomes a journal record before its answer is sent.

The gateway offers every routed request to :class:`Recorder` (gateway.py's ``Recorder`` seam).
A request that can change state is recorded: while it is answered, moto draws its ids from a
generator seeded for it (moto_core.py); once answered with a 2xx, the request (or, for a
component that is saved whole, that component's state) is appended to the journal, and the
gateway sends the answer only when the journal says it is durable. So an acknowledged write is on
disk before the client hears of it; a write that failed is never recorded.

What is recorded (:func:`records`): every action except those that only read (Get…, List…,
Describe…, Query, Scan, …, and GET/HEAD for the REST services), and except Lambda invocations
and API Gateway invoke URLs, which run handler code: what a handler does reaches the local cloud
as requests of its own, recorded in turn. A request answered inside another recorded request
(same thread, e.g. a Step Functions task run in-process) is part of that one's effect and is not
recorded again.

The :class:`Gate` keeps snapshots consistent with the journal: every recorded request holds it
shared from before it is answered until its record is queued; a snapshot holds it exclusively.
Readers are preferred (a writer waiting never blocks a new reader), because a recorded request may
wait on requests made by a handler it invoked: making those wait for the snapshot would deadlock.
"""

from __future__ import annotations

import random
import re
import threading
import time
from collections.abc import Callable, Mapping
from contextvars import Token
from typing import Any, Protocol, runtime_checkable

from basegear.cloud.protocol import AwsRequest, AwsResponse
from basegear.cloud.state import moto_core, pickling
from basegear.cloud.state.codec import ImageRecord, Record, RequestRecord, encode
from basegear.cloud.state.journal import Commit, Journal

READ_ONLY_PREFIXES = (
    "Get",
    "List",
    "Describe",
    "Query",
    "Scan",
    "BatchGet",
    "TransactGet",
    "Head",
    "Lookup",
    "Search",
    "Filter",
    "Validate",
    "Estimate",
    "Simulate",
    "Test",
    "Check",
    "Preview",
)
NOT_RECORDED_SERVICES = frozenset({"execute-api", "gear"})
_READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_INVOCATION = re.compile(r"^/20\d\d-\d\d-\d\d/functions/[^/]+/(invocations|invoke-async)")
# Headers a replay does not need; the session token is a secret and never written.
_UNSAVED_HEADERS = frozenset(
    {
        "user-agent",
        "amz-sdk-invocation-id",
        "amz-sdk-request",
        "accept-encoding",
        "connection",
        "expect",
        "x-amz-security-token",
    }
)
_SIGNATURE = re.compile(r"Signature=[0-9a-fA-F]+")


@runtime_checkable
class Persistent(Protocol):
    """A BaseGear component with state of its own (e.g. the CloudFormation provider's stacks),
    saved whole: in every snapshot, and in the journal after each acknowledged write it
    ``owns_write`` (that write is then not replayed as a request: its effect is the image).

    ``state_key`` names it in the state directory; ``save_state`` is called while recorded
    writes are paused and returns something pickling.py can pickle; ``load_state`` replaces the
    component's state with what ``save_state`` returned (in another process)."""

    state_key: str

    def owns_write(self, request: AwsRequest) -> bool: ...

    def save_state(self) -> Any: ...

    def load_state(self, state: Any) -> None: ...


@runtime_checkable
class SavesItself(Protocol):
    """A ``Persistent`` component whose state changes without a request: the cloud sets
    ``persist`` to ``DurableState.save_component`` while state is durable, and the component
    calls it after each change it must not lose."""

    persist: Callable[[Any], None] | None


def records(request: AwsRequest) -> bool:
    """Whether ``request`` may change state and so is recorded."""
    if request.service in NOT_RECORDED_SERVICES:
        return False
    action = request.action
    if action is not None:
        return not action.startswith(READ_ONLY_PREFIXES)
    if request.method in _READ_METHODS:
        return False
    return not (request.service == "lambda" and _INVOCATION.match(request.path))


class Gate:
    """A shared/exclusive lock that prefers readers (see the module docstring)."""

    def __init__(self) -> None:
        self._cond = threading.Condition(threading.Lock())
        self._readers = 0
        self._writer = False

    def enter(self) -> None:
        with self._cond:
            while self._writer:
                self._cond.wait()
            self._readers += 1

    def leave(self) -> None:
        with self._cond:
            self._readers -= 1
            if self._readers == 0:
                self._cond.notify_all()

    def acquire_exclusive(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._writer or self._readers:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._cond.wait(remaining)
            self._writer = True
            return True

    def release_exclusive(self) -> None:
        with self._cond:
            self._writer = False
            self._cond.notify_all()


class Recorder:
    """The gateway's ``Recorder``: records into ``journal``; ``components`` are saved whole
    (as images) after writes to their services."""

    def __init__(
        self,
        journal: Journal,
        gate: Gate,
        components: Mapping[str, Persistent],
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.journal = journal
        self.gate = gate
        self.clock = clock
        self.served = 0  # requests seen, recorded or not: tells the snapshotter state may move
        self._components = tuple(components.values())

    def begin(self, request: AwsRequest) -> Recording | None:
        self.served += 1
        if moto_core.ACTIVE.get() is not None or not records(request):
            return None
        self.gate.enter()
        return Recording(self, request)

    def record_for(self, request: AwsRequest, seed: int, at: float) -> Record:
        """The journal record of ``request``, received at ``at`` (epoch seconds)."""
        for component in self._components:
            if component.owns_write(request):
                return ImageRecord(at, component.state_key, save_image(component))
        return RequestRecord(
            time=at,
            seed=seed,
            method=request.method,
            path=request.path,
            service=request.service,
            region=request.region,
            account=request.account,
            action=request.action,
            query=tuple(
                (name, value) for name, values in request.query.items() for value in values
            ),
            headers=tuple(
                (name, _SIGNATURE.sub("Signature=0", value) if name == "authorization" else value)
                for name, value in request.headers.items()
                if name not in _UNSAVED_HEADERS
            ),
            body=request.body,
        )


def save_image(component: Persistent) -> bytes:
    """The component's state, pickled; retried when another thread changed it meanwhile (the
    one way pickling a live structure fails)."""
    for attempt in range(5):
        try:
            return pickling.dumps(component.save_state())
        except RuntimeError:
            if attempt == 4:
                raise
    raise AssertionError("unreachable")


class Recording:
    """One recorded request, from ``begin`` to durable."""

    __slots__ = (
        "_commit",
        "_error",
        "_finished",
        "_recorder",
        "_request",
        "_seed",
        "_time",
        "_time_token",
        "_token",
    )

    def __init__(self, recorder: Recorder, request: AwsRequest) -> None:
        self._recorder = recorder
        self._request = request
        self._seed = random.getrandbits(64)
        self._commit: Commit | None = None
        self._error: BaseException | None = None
        self._finished = False
        self._token: Token[Any] = moto_core.ACTIVE.set(moto_core.new_random(self._seed))
        self._time = recorder.clock()
        self._time_token = moto_core.REQUEST_TIME.set(self._time)

    def finish(self, response: AwsResponse | None) -> None:
        if self._finished:
            return
        self._finished = True
        recorder = self._recorder
        try:
            moto_core.ACTIVE.reset(self._token)
            moto_core.REQUEST_TIME.reset(self._time_token)
            if response is not None and 200 <= response.status < 300:
                record = recorder.record_for(self._request, self._seed, self._time)
                self._commit = recorder.journal.append(encode(record))
        except Exception as error:
            self._error = error
        finally:
            recorder.gate.leave()

    async def durable(self) -> None:
        if self._error is not None:
            raise self._error
        if self._commit is not None:
            await self._recorder.journal.sync_async(self._commit)

    def wait_durable(self) -> None:
        if self._error is not None:
            raise self._error
        if self._commit is not None:
            self._recorder.journal.sync(self._commit)

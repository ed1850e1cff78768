"""Each execution's time on the local cloud's clock (``cloud/clock.py``): Wait states, retry
intervals, the state machine's ``TimeoutSeconds``, history timestamps and ``ExecutionTime``.

An execution keeps its own time, ``clock.now() - lag``. ``lag`` is how far the execution is
behind the clock: when the manual clock is advanced by 90 s past a 30-second wait, the wait
ends at the time it was due, not at the time the clock shows, and the execution is 60 s
behind; the next 30-second wait is counted from where the first one ended, so it too has
passed and ends at once, and so on until the execution has caught up with the clock. So on the
manual clock an advance of N seconds runs a Task → Wait → Choice loop through every wait that
falls within those N seconds, and only those, as N seconds of AWS time would (AWS counts a Wait
from the moment the state is entered — Step Functions developer guide, "Wait state"). Time
spent running a task is real time; it is not counted in the execution's time on the manual
clock, which stands still meanwhile.

Several threads of one execution (Parallel branches, Map iterations) share its timeline and
its lag: the lag is the last set, which is exact when branches do not wait at the same time.

:func:`settled` tells a test when every execution that is running has nothing to do until the
clock moves: each is waiting on the clock for a time still to come.
"""

from __future__ import annotations

import threading
import time
import weakref
from collections.abc import Callable
from datetime import UTC, datetime

from basegear.cloud.clock import VirtualClock, Waker

SETTLE_POLL = 0.001
"""Real seconds between two looks of :func:`settled`."""


class ExecutionTimeline:
    """One execution's time. ``timeout_seconds`` is the state machine's ``TimeoutSeconds``:
    "If the execution runs longer than the specified time, the execution fails with a
    States.Timeout error" (Amazon States Language, top-level fields)."""

    def __init__(self, clock: VirtualClock, timeout_seconds: float | None = None) -> None:
        self.clock = clock
        self.lag = 0.0
        self.started = clock.now()
        self.timeout_at = None if timeout_seconds is None else self.started + timeout_seconds
        self._lock = threading.Lock()
        self._sleepers: dict[Waker, float] = {}  # waker → the clock time it waits for
        self.watcher: Waker | None = None  # woken whenever the lag changes

    def now(self) -> float:
        """The execution's time (epoch seconds): the clock's, less how far the execution is
        behind it."""
        return self.clock.now() - self.lag

    def now_datetime(self) -> datetime:
        return datetime.fromtimestamp(self.now(), UTC)

    def timed_out(self) -> bool:
        return self.timeout_at is not None and self.now() >= self.timeout_at

    def timeout_deadline(self) -> float | None:
        """When, on the clock, the execution times out if its lag stays as it is."""
        return None if self.timeout_at is None else self.timeout_at + self.lag

    def sleep(self, seconds: float, running: Callable[[], bool]) -> None:
        """Wait ``seconds`` of the execution's time, or until ``running()`` turns false (the
        execution was stopped, failed or timed out). A wait that would end after the
        execution's timeout ends with it."""
        target = self.now() + max(0.0, seconds)
        capped = self.timeout_at is not None and target >= self.timeout_at
        if capped and self.timeout_at is not None:
            target = self.timeout_at
        waker = self.clock.waker()
        try:
            # The wait ends when the clock reaches its end in the execution's time: an
            # execution behind the clock catches up, wait after wait.
            with self._lock:
                self._sleepers[waker] = target
            while running() and self.clock.now() < target:
                waker.wait_until(target)
            if not running():
                return
            with self._lock:
                self.lag = max(0.0, self.clock.now() - target)
                self._sleepers.pop(waker, None)
            self._wake_watcher()
            # A wait cut short by the timeout: the watcher ends the execution now; nothing
            # after this state may run.
            while capped and running():
                with self._lock:
                    self._sleepers[waker] = float("inf")
                waker.wait_until(None)
        finally:
            with self._lock:
                self._sleepers.pop(waker, None)

    def wake_all(self) -> None:
        """Wake every wait of this execution (it was stopped or timed out)."""
        with self._lock:
            wakers = list(self._sleepers)
        for waker in wakers:
            waker.wake()
        self._wake_watcher()

    def is_settled(self) -> bool:
        """Whether some thread of the execution waits for a time still to come."""
        now = self.clock.now()
        with self._lock:
            return any(deadline > now for deadline in self._sleepers.values())

    def _wake_watcher(self) -> None:
        if self.watcher is not None:
            self.watcher.wake()


class Timelines:
    """The timeline of each execution, found by an object the execution's threads share (moto's
    ``EventManager``: one per execution, shared by its Parallel and Map frames)."""

    def __init__(self) -> None:
        self._by_owner: weakref.WeakKeyDictionary[object, ExecutionTimeline] = (
            weakref.WeakKeyDictionary()
        )
        self._running: set[ExecutionTimeline] = set()
        self._starting = 0  # executions accepted whose interpreter has not begun yet
        self._lock = threading.Lock()

    def begin(
        self, owner: object, clock: VirtualClock, timeout_seconds: float | None
    ) -> ExecutionTimeline:
        timeline = ExecutionTimeline(clock, timeout_seconds)
        with self._lock:
            self._by_owner[owner] = timeline
            self._running.add(timeline)
        return timeline

    def end(self, timeline: ExecutionTimeline) -> None:
        with self._lock:
            self._running.discard(timeline)

    def of(self, owner: object) -> ExecutionTimeline | None:
        with self._lock:
            return self._by_owner.get(owner)

    def starting(self, delta: int) -> None:
        """Count an execution accepted (+1) or begun (-1): one that was accepted and has not
        begun is not settled."""
        with self._lock:
            self._starting = max(0, self._starting + delta)

    def settled(self, timeout: float) -> bool:
        """True once every running execution waits on the clock for a time still to come;
        False if ``timeout`` real seconds pass first."""
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                busy = self._starting > 0 or not all(t.is_settled() for t in self._running)
            if not busy:
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(SETTLE_POLL)


TIMELINES = Timelines()


def settled(timeout: float = 5.0) -> bool:
    """Block until every Step Functions execution that is running waits on the clock (a Wait
    state or a retry interval that has not ended): after ``manual_clock.advance(n)``, the
    executions have then done everything those n seconds allow. False after ``timeout`` real
    seconds. A Parallel or Map state one of whose branches waits while another runs counts as
    settled."""
    return TIMELINES.settled(timeout)

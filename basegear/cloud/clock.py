"""The local cloud's clock: what every time-based behaviour reads — batch windows, visibility
timeouts, message delays, retry back-off, schedules, record age.

Three modes (``gear up --clock``):

- ``real`` (the default): wall-clock time;
- ``manual``: time stands still until :meth:`VirtualClock.advance` (``gear clock advance 5m``,
  or ``POST /_gear/clock`` on the cloud), so a test makes a two-minute retry happen at once;
- ``fast=N``: time runs N times faster than the wall clock, from the moment the cloud starts.

Time is epoch seconds (as ``time.time()``), so timestamps the cloud writes stay plausible dates.
Components that wait on the clock do so through a :class:`Waker`: it returns when the virtual
deadline has passed, when the clock is advanced, or when someone calls ``wake()`` (new work),
whichever comes first; callers re-check their own condition in a loop. Handler timeouts are
not on this clock: a handler is a real process and runs in real time.
"""

from __future__ import annotations

import re
import threading
import time
import weakref
from dataclasses import dataclass

from basegear.errors import GearError

MAX_IDLE_WAIT = 1.0
"""A waiter on the manual clock with no deadline before it still wakes this often (real
seconds), so that a stop flag set without ``wake()`` is seen."""

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


class ClockError(GearError):
    """A clock mode or duration that cannot be read, or an advance of a clock that is not
    manual."""


def parse_duration(text: str) -> float:
    """``30s``, ``5m``, ``1.5h``, ``2d``, ``250ms`` or plain seconds → seconds."""
    match = _DURATION.match(text)
    if match is None:
        raise ClockError(
            f"cannot read the duration {text!r}: expected a number with an optional unit "
            "ms, s, m, h or d, e.g. 30s or 5m"
        )
    return float(match[1]) * _UNIT_SECONDS[match[2] or "s"]


@dataclass(frozen=True)
class ClockMode:
    kind: str  # "real", "manual" or "fast"
    speed: float = 1.0

    def __str__(self) -> str:
        return f"fast={self.speed:g}" if self.kind == "fast" else self.kind


def parse_mode(text: str) -> ClockMode:
    """``real``, ``manual`` or ``fast=N`` (N > 0)."""
    if text in ("real", "manual"):
        return ClockMode(text)
    if text.startswith("fast="):
        try:
            speed = float(text[5:])
        except ValueError:
            speed = 0.0
        if speed > 0:
            return ClockMode("fast", speed)
    raise ClockError(f"unknown clock {text!r}: expected real, manual or fast=N with N > 0")


class VirtualClock:
    """Thread-safe. ``now()`` is cheap: the hot paths read it for every record."""

    def __init__(self, mode: ClockMode | str = "real", *, start: float | None = None) -> None:
        self.mode = parse_mode(mode) if isinstance(mode, str) else mode
        self._lock = threading.Lock()
        self._real_origin = time.time()
        self._origin = self._real_origin if start is None else start
        self._offset = 0.0  # seconds added by advance()
        self._wakers: weakref.WeakSet[Waker] = weakref.WeakSet()

    @property
    def manual(self) -> bool:
        return self.mode.kind == "manual"

    def now(self) -> float:
        kind = self.mode.kind
        if kind == "manual":
            return self._origin + self._offset
        elapsed = time.time() - self._real_origin
        if kind == "fast":
            elapsed *= self.mode.speed
        return self._origin + elapsed + self._offset

    def advance(self, seconds: float) -> float:
        """Move time forward by ``seconds`` (any mode; a test may jump a real clock too) and
        wake every waiter; returns the new time."""
        if seconds < 0:
            raise ClockError("the clock only moves forward")
        with self._lock:
            self._offset += seconds
            wakers = list(self._wakers)
        for waker in wakers:
            waker.wake()
        return self.now()

    def set_mode(self, mode: ClockMode | str) -> None:
        """Switch mode from the current time on (tests switch a running cloud to ``manual``
        and back); time never jumps."""
        new = parse_mode(mode) if isinstance(mode, str) else mode
        with self._lock:
            current = self.now()
            self.mode = new
            self._real_origin = time.time()
            self._origin = current
            self._offset = 0.0
            wakers = list(self._wakers)
        for waker in wakers:
            waker.wake()

    def real_seconds(self, seconds: float) -> float | None:
        """How long, in real time, ``seconds`` of this clock take; None on the manual clock
        (until someone advances it)."""
        kind = self.mode.kind
        if kind == "manual":
            return None
        return seconds / self.mode.speed if kind == "fast" else seconds

    def waker(self) -> Waker:
        waker = Waker(self)
        with self._lock:
            self._wakers.add(waker)
        return waker

    def sleep(self, seconds: float) -> None:
        """Block until ``seconds`` of this clock have passed."""
        waker = self.waker()
        deadline = self.now() + seconds
        while self.now() < deadline:
            waker.wait_until(deadline)


class Waker:
    """One waiting thread's (or poller's) handle on the clock."""

    def __init__(self, clock: VirtualClock) -> None:
        self._clock = clock
        self._event = threading.Event()

    def wake(self) -> None:
        self._event.set()

    def wait_until(self, deadline: float | None) -> None:
        """Return when the clock reaches ``deadline`` (None: no deadline), the clock is
        advanced, or ``wake()`` is called — whichever is first; possibly early, never late."""
        if deadline is None:
            timeout: float | None = MAX_IDLE_WAIT
        else:
            remaining = deadline - self._clock.now()
            if remaining <= 0:
                return
            real = self._clock.real_seconds(remaining)
            timeout = MAX_IDLE_WAIT if real is None else min(real, MAX_IDLE_WAIT)
        self._event.wait(timeout)
        self._event.clear()

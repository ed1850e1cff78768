"""The event loop's watch on one worker's socket, kept from one invocation on the loop to the
next.

Registering the socket with the loop for each invocation and removing it again costs two system
calls every time: about 20 µs of the gateway's CPU per request under load (bench/http.py, an
API calling a Python function), a tenth of what such a request costs. So the loop keeps
watching a worker's socket once it has used the worker, and the callback hands the message to
the invocation waiting for it.

A worker is used by one caller at a time, the loop or a thread (``WorkerPool.acquire``). When
the socket becomes readable while no invocation on the loop waits — a thread is using the
worker, or an idle worker has ended — the watch stops, without reading, and starts again the
next time the loop uses the worker. The socket is closed only once the loop has stopped
watching it, on the loop's own thread (``close``), so that its file descriptor is never reused
while the loop still watches it.

The function's timeout is kept the same way: one timer per watch, not one per invocation (a
timer costs about 2 µs to set and cancel). When it fires early for the invocation now waiting,
it is set again for that invocation's deadline.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from basegear.cloud.lambdas.channel import Channel


class LoopWatch:
    def __init__(self, loop: asyncio.AbstractEventLoop, conn: Channel) -> None:
        self.loop = loop
        self._conn = conn
        self._fd = conn.fileno()
        self._watching = False
        self._waiting: asyncio.Future[tuple[Any, ...] | None] | None = None
        self._deadline = 0.0  # the waiting invocation's, on the loop's clock
        self._timer: asyncio.TimerHandle | None = None

    async def next_message(self, timeout: float) -> tuple[Any, ...] | None:
        """The worker's next message; ``()`` if it ended, None if ``timeout`` seconds passed
        first. Call on ``self.loop``, right after sending the message it answers."""
        if not self._watching:
            self.loop.add_reader(self._fd, self._readable)
            self._watching = True
        waiting: asyncio.Future[tuple[Any, ...] | None] = self.loop.create_future()
        self._waiting = waiting
        self._deadline = deadline = self.loop.time() + max(0.0, timeout)
        timer = self._timer
        if timer is None or timer.when() > deadline:
            if timer is not None:
                timer.cancel()
            self._timer = self.loop.call_at(deadline, self._check_deadline)
        try:
            return await waiting
        finally:
            self._waiting = None

    def close(self, close_socket: Callable[[], None]) -> None:
        """Stop watching and call ``close_socket``, on the loop's thread; at once if the loop
        has closed."""
        if not self._watching:
            close_socket()
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is self.loop:
            self._stop()
            close_socket()
            return
        try:
            self.loop.call_soon_threadsafe(self._stop_and_close, close_socket)
        except RuntimeError:  # the loop has closed, and its watches with it
            close_socket()

    def _readable(self) -> None:
        waiting = self._waiting
        if waiting is None:  # not the loop's turn: watch again when the loop uses the worker
            self._stop()
            return
        self._waiting = None
        try:
            message: tuple[Any, ...] = self._conn.recv()
        except (EOFError, OSError):
            message = ()
        if not waiting.done():
            waiting.set_result(message)

    def _check_deadline(self) -> None:
        self._timer = None
        waiting = self._waiting
        if waiting is None or waiting.done():
            return
        if self.loop.time() >= self._deadline:
            waiting.set_result(None)  # timed out
        else:
            self._timer = self.loop.call_at(self._deadline, self._check_deadline)

    def _stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._watching:
            self.loop.remove_reader(self._fd)
            self._watching = False

    def _stop_and_close(self, close_socket: Callable[[], None]) -> None:
        self._stop()
        close_socket()

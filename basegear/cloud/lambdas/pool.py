"""Warm execution environments of one function version: worker processes reused from one
invocation to the next, as Lambda reuses an environment (Lambda developer guide, "Lambda
execution environment lifecycle"), one per concurrent invocation, so the pool grows to the
concurrency in use; idle ones are reaped, and all are recycled when the code on disk changes.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import math
import os
import select
import signal
import socket
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from basegear.cloud.lambdas.channel import Channel
from basegear.cloud.lambdas.loop_watch import LoopWatch
from basegear.cloud.lambdas.spec import FunctionSpec
from basegear.cloud.lambdas.worker import InitMessage
from basegear.cloud.lambdas.zygote import Zygote

LOG = logging.getLogger(__name__)

LOG_LIMIT = 1024 * 1024
"""At most this much of one invocation's output is kept (the end of it); BaseGear's own limit,
so a handler printing megabytes slows nothing down."""


def _log_file() -> int:
    """An anonymous file the worker's stdout and stderr are appended to."""
    if hasattr(os, "memfd_create"):
        fd = os.memfd_create("gear-worker-log", os.MFD_CLOEXEC)
    else:  # macOS
        with tempfile.TemporaryFile() as handle:
            fd = os.dup(handle.fileno())
    fcntl.fcntl(fd, fcntl.F_SETFL, fcntl.fcntl(fd, fcntl.F_GETFL) | os.O_APPEND)
    return fd


def python_paths(spec: FunctionSpec) -> tuple[str, ...]:
    """The function's code first, then each layer's ``python/lib/pythonX.Y/site-packages`` and
    ``python`` folders, as /opt would hold them (Lambda developer guide, "Layer paths for each
    Lambda runtime"). Layers are unpacked into /opt in order, a later one overwriting an
    earlier one's files, so a later layer comes first here."""
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    layers = [Path(layer) for layer in reversed(spec.layers)]
    site = [str(layer / "python" / "lib" / version / "site-packages") for layer in layers]
    plain = [str(layer / "python") for layer in layers]
    return (str(spec.code_dir), *site, *plain)


@dataclass(eq=False)
class Worker:
    """The runtime's handle on one worker process."""

    pid: int
    conn: Channel
    log_fd: int
    log_stream: str
    generation: int
    ready: bool = False
    last_used: float = field(default_factory=time.monotonic)
    max_rss_kb: int = 0
    closed: bool = False
    watch: LoopWatch | None = None  # the event loop watching its socket, once one has used it
    _poller: select.poll = field(default_factory=select.poll)

    def __post_init__(self) -> None:
        # One poll object per worker, registered once, for the threads that wait on it.
        self._poller.register(self.conn.fileno(), select.POLLIN)

    def alive_and_idle(self) -> bool:
        """An idle worker has nothing to say: a readable socket means it has exited."""
        return not self.closed and not self._poller.poll(0)

    def receive(self, timeout: float) -> tuple[Any, ...] | None:
        """The next message; None when ``timeout`` passes first. EOFError if it died."""
        if not self._poller.poll(max(0, math.ceil(timeout * 1000))):
            return None
        message: tuple[Any, ...] = self.conn.recv()
        return message

    def take_output(self) -> str:
        """What the process printed since the last call, at most ``LOG_LIMIT`` of it."""
        size = os.fstat(self.log_fd).st_size
        if not size:
            return ""
        start = max(0, size - LOG_LIMIT)
        data = os.pread(self.log_fd, size - start, start)
        os.ftruncate(self.log_fd, 0)
        text = data.decode("utf-8", "replace")
        if start:
            text = f"[BaseGear] {start} bytes of output before this were dropped\n{text}"
        return text

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, signal.SIGKILL)

    def close(self, zygote: Zygote, *, kill: bool = True) -> None:
        if self.closed:
            return
        self.closed = True
        if kill:
            self.kill()
        if self.watch is None:
            self.conn.close()
        else:
            self.watch.close(self.conn.close)
        os.close(self.log_fd)
        zygote.forget(self.pid)


class WorkerPool:
    """The execution environments of one function version (one ``FunctionSpec``)."""

    def __init__(
        self,
        spec: FunctionSpec,
        *,
        zygote: Zygote,
        environment: Callable[[FunctionSpec, str], dict[str, str]],
        stream_name: Callable[[str], str],
    ) -> None:
        self.spec = spec
        self._zygote = zygote
        self._environment = environment
        self._stream_name = stream_name
        self._lock = threading.Lock()
        self._idle: list[Worker] = []
        self._busy: set[Worker] = set()
        self._generation = 0
        self.closed = False

    @property
    def size(self) -> int:
        with self._lock:
            return len(self._idle) + len(self._busy)

    def pids(self) -> list[int]:
        with self._lock:
            return [w.pid for w in (*self._idle, *self._busy)]

    def acquire(self) -> Worker:
        """The most recently used idle worker, or a new one (its init still to come)."""
        worker = self.acquire_idle()
        if worker is not None:
            return worker
        with self._lock:
            generation = self._generation
        worker = self._spawn(generation)
        with self._lock:
            self._busy.add(worker)
        return worker

    def acquire_idle(self) -> Worker | None:
        """The most recently used idle worker (warm: its init is done), or None; never waits."""
        with self._lock:
            while self._idle:
                worker = self._idle.pop()
                if worker.alive_and_idle():
                    self._busy.add(worker)
                    return worker
                worker.close(self._zygote)
        return None

    def release(self, worker: Worker, *, reusable: bool) -> None:
        with self._lock:
            self._busy.discard(worker)
            if reusable and not self.closed and worker.generation == self._generation:
                worker.last_used = time.monotonic()
                self._idle.append(worker)
                return
        worker.close(self._zygote)

    def recycle(self) -> None:
        """Retire every worker: idle ones now, busy ones when they finish."""
        with self._lock:
            self._generation += 1
            idle, self._idle = self._idle, []
        for worker in idle:
            worker.close(self._zygote)

    def reap(self, idle_for: float) -> int:
        """Close workers idle for longer than ``idle_for`` seconds; how many were closed."""
        cutoff = time.monotonic() - idle_for
        with self._lock:
            old = [w for w in self._idle if w.last_used < cutoff]
            self._idle = [w for w in self._idle if w.last_used >= cutoff]
        for worker in old:
            worker.close(self._zygote)
        return len(old)

    def close(self, *, kill_busy: bool = True) -> None:
        """Close the pool: idle workers now; busy ones when their invocation releases them,
        after killing their process now if ``kill_busy``. A busy worker's socket and log file
        stay open until then: the invoking thread is still reading them, and a descriptor
        closed under it could be reused by an unrelated file in the meantime."""
        with self._lock:
            self.closed = True
            idle, self._idle = self._idle, []
            busy = list(self._busy)
        for worker in idle:
            worker.close(self._zygote)
        if kill_busy:
            for worker in busy:
                worker.kill()

    def _spawn(self, generation: int) -> Worker:
        ours, theirs = socket.socketpair()
        log_fd = _log_file()
        try:
            pid = self._zygote.fork(theirs.fileno(), log_fd)
        except BaseException:
            ours.close()
            os.close(log_fd)
            raise
        finally:
            theirs.close()
        stream = self._stream_name(self.spec.version)
        worker = Worker(pid, Channel(ours.detach()), log_fd, stream, generation)
        spec = self.spec
        init = InitMessage(
            environment=self._environment(spec, stream),
            task_root=str(spec.code_dir),
            paths=python_paths(spec),
            handler=spec.handler,
            watch_roots=tuple(str(p) for p in (spec.code_dir, *spec.layers)) if spec.watch else (),
        )
        worker.conn.send(("init", init))
        return worker

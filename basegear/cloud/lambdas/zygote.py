"""The pre-warmed parent: one Python process, started with a scrubbed environment, that has
imported boto3 once and forks a worker on request (~2 ms, against 100-150 ms for a fresh
interpreter; DESIGN.md's measured limits).

It is a process of its own rather than the gateway forking itself, because the gateway runs
threads (forking a threaded process is unsafe) and holds the parent's environment: a worker
forked from the zygote sees, even in ``/proc/self/environ``, only what the zygote was started
with, never the real credentials of the shell that started BaseGear.

Control socket protocol (SOCK_SEQPACKET, one message per packet):

    runtime → zygote   b"F" + tag (8 bytes), with two fds: the worker's socket and log file
    zygote → runtime   b"S" + tag + pid            the worker started
    zygote → runtime   b"X" + pid + wait status    a worker ended
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import importlib
import logging
import os
import selectors
import signal
import socket
import struct
import subprocess
import sys
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path

LOG = logging.getLogger(__name__)

_FORK = struct.Struct("=cQ")
_STARTED = struct.Struct("=cQq")
_EXITED = struct.Struct("=cqq")
_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """Linux: get SIGKILL when the parent process ends, so nothing outlives the cloud."""
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


def _run_as_batch() -> None:
    """Linux: the zygote and the workers it forks get the SCHED_BATCH policy (sched(7)): the
    same share of the CPU, but a worker woken by an invocation does not preempt the thread that
    is running on its CPU, the gateway's event loop most often; it waits for another CPU or
    the next scheduler tick. The gateway then finishes what it is doing (answering the
    previous request, say) instead of being switched out in the middle of it: bench/http.py
    measured 6-11% more requests per second."""
    policy = getattr(os, "SCHED_BATCH", None)
    if policy is not None:
        with contextlib.suppress(OSError):
            os.sched_setscheduler(0, policy, os.sched_param(0))


def main() -> None:
    """The zygote's own main loop (``python -c`` runs it; see ``Zygote.start``)."""
    ctrl_fd = int(sys.argv[1])
    _run_as_batch()
    # Ctrl-C reaches the whole process group; the runtime stops the zygote and its workers
    # itself, in order, so an interrupt here would only print a traceback over its shutdown.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # No parent-death signal here: Linux sends it when the *thread* that started us ends. The
    # control socket's end of file tells us instead that the runtime's process has gone.
    for name in sys.argv[2:]:
        try:
            importlib.import_module(name)
        except Exception as exc:  # a missing optional preload costs speed, not correctness
            print(f"zygote: cannot preload {name}: {exc}", file=sys.stderr)
    from basegear.cloud.lambdas import worker

    ctrl = socket.socket(fileno=ctrl_fd)
    wake_r, wake_w = socket.socketpair()
    wake_w.setblocking(False)
    signal.set_wakeup_fd(wake_w.fileno())
    signal.signal(signal.SIGCHLD, lambda *_: None)
    selector = selectors.DefaultSelector()
    selector.register(ctrl, selectors.EVENT_READ)
    selector.register(wake_r, selectors.EVENT_READ)
    children: set[int] = set()
    while True:
        for key, _ in selector.select():
            if key.fileobj is wake_r:
                wake_r.recv(4096)
                _reap(ctrl, children)
                continue
            try:
                data, fds, _flags, _addr = socket.recv_fds(ctrl, _FORK.size, 2)
            except OSError:
                data, fds = b"", []
            if not data:  # the runtime closed the socket: end every worker, then ourselves
                for pid in children:
                    _kill(pid)
                for pid in children:
                    with contextlib.suppress(ChildProcessError):
                        os.waitpid(pid, 0)
                os._exit(0)
            _, tag = _FORK.unpack(data)
            pid = os.fork()
            if pid == 0:
                selector.close()
                ctrl.close()
                wake_r.close()
                wake_w.close()
                signal.set_wakeup_fd(-1)
                signal.signal(signal.SIGCHLD, signal.SIG_DFL)
                _die_with_parent()
                worker.serve(fds[0], fds[1])
            for fd in fds:
                os.close(fd)
            children.add(pid)
            _send(ctrl, _STARTED.pack(b"S", tag, pid))


def _kill(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)


def _reap(ctrl: socket.socket, children: set[int]) -> None:
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        children.discard(pid)
        _send(ctrl, _EXITED.pack(b"X", pid, status))


def _send(ctrl: socket.socket, message: bytes) -> None:
    """Tell the runtime; if it has gone, the control socket's end of file follows."""
    with contextlib.suppress(OSError):
        ctrl.send(message)


class Zygote:
    """The runtime's handle on the zygote process: ``fork()`` returns a new worker's pid,
    ``wait_exit()`` its wait status once it has ended."""

    def __init__(self, *, environment: Mapping[str, str], preload: Sequence[str]) -> None:
        self._environment = dict(environment)
        self._preload = tuple(preload)
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._started: dict[int, int] = {}
        self._exited: dict[int, int] = {}
        self._forgotten: set[int] = set()
        self._next_tag = 0
        self._process: subprocess.Popen[bytes] | None = None
        self._ctrl: socket.socket | None = None
        self._reader: threading.Thread | None = None
        self._closed = False

    def start(self) -> None:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        code = "from basegear.cloud.lambdas.zygote import main; main()"
        args = [sys.executable, "-c", code, str(theirs.fileno()), *self._preload]
        env = dict(self._environment)
        # Only what imports basegear: the caller's other path entries (its script's folder,
        # a test root) could shadow the standard library in the zygote and every worker.
        env["PYTHONPATH"] = str(Path(__file__).resolve().parents[3])
        self._process = subprocess.Popen(
            args, env=env, pass_fds=[theirs.fileno()], stdin=subprocess.DEVNULL
        )
        theirs.close()
        self._ctrl = ours
        self._reader = threading.Thread(target=self._read, name="gear-zygote", daemon=True)
        self._reader.start()

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    def fork(self, sock_fd: int, log_fd: int, timeout: float = 30.0) -> int:
        """Start a worker on these fds (the caller keeps its own copies)."""
        with self._lock:
            if self._ctrl is None or self._closed:
                raise RuntimeError("the zygote is not running")
            self._next_tag += 1
            tag = self._next_tag
            socket.send_fds(self._ctrl, [_FORK.pack(b"F", tag)], [sock_fd, log_fd])
            if not self._changed.wait_for(lambda: tag in self._started or self._closed, timeout):
                raise RuntimeError("the zygote did not start a worker in time")
            if self._closed:
                raise RuntimeError("the zygote ended")
            return self._started.pop(tag)

    def wait_exit(self, pid: int, timeout: float) -> int | None:
        """The wait status of an ended worker, or None if it has not ended within ``timeout``."""
        with self._lock:
            self._changed.wait_for(lambda: pid in self._exited or self._closed, timeout)
            return self._exited.pop(pid, None)

    def forget(self, pid: int) -> None:
        """Nobody will ask for this worker's exit status."""
        with self._lock:
            if self._exited.pop(pid, None) is None:
                self._forgotten.add(pid)

    def _read(self) -> None:
        ctrl = self._ctrl
        assert ctrl is not None
        while True:
            try:
                data = ctrl.recv(64)
            except OSError as exc:
                if exc.errno == errno.EINTR:
                    continue
                data = b""
            with self._lock:
                if not data:
                    self._closed = True
                    self._changed.notify_all()
                    return
                if data[:1] == b"S":
                    _, tag, pid = _STARTED.unpack(data)
                    self._started[tag] = pid
                else:
                    _, pid, status = _EXITED.unpack(data)
                    if pid in self._forgotten:
                        self._forgotten.discard(pid)
                    else:
                        self._exited[pid] = status
                self._changed.notify_all()

    def close(self) -> None:
        """End the zygote; it kills every worker it started before it exits."""
        with self._lock:
            ctrl, self._ctrl = self._ctrl, None
        if ctrl is not None:
            ctrl.shutdown(socket.SHUT_RDWR)
            ctrl.close()
        if self._process is not None:
            try:
                self._process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        if self._reader is not None:
            self._reader.join(timeout=5)

"""One execution in a worker, whichever thread waits for it: the invoke message sent, and what
the worker's answer, a timeout or the worker's end make of the run. The runtime waits for the
answer either on a thread (``Worker.receive``) or on the event loop (``reply``); both record
it here, so the two paths answer alike.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import time
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any

from basegear.cloud.lambdas import telemetry
from basegear.cloud.lambdas.loop_watch import LoopWatch
from basegear.cloud.lambdas.pool import Worker
from basegear.cloud.lambdas.spec import FunctionSpec
from basegear.cloud.lambdas.worker import Invocation

Message = tuple[object, ...] | None
"""A worker's answer: its message; ``()`` when it ended (end of file); None on a timeout."""

STALE: Message = ("stale",)
"""The worker's answer when the code on disk changed since it loaded it (``code_stamps``)."""

# How Lambda names a runtime's end by signal (Go's names, as its logs print them).
_SIGNALS = {
    signal.SIGSEGV: "segmentation fault",
    signal.SIGKILL: "killed",
    signal.SIGABRT: "aborted",
    signal.SIGTERM: "terminated",
    signal.SIGBUS: "bus error",
    signal.SIGFPE: "floating point exception",
    signal.SIGILL: "illegal instruction",
}


@dataclass(slots=True)
class Run:
    """What one execution produced, for the result and the report."""

    request_id: str
    lines: list[str] = field(default_factory=list)
    init_ms: float | None = None
    started: float = 0.0  # perf_counter() when the invoke message was sent
    duration_ms: float = 0.0
    status: str | None = None  # REPORT's Status: timeout / error
    payload: bytes = b""
    function_error: str | None = None
    reusable: bool = True
    max_memory_mb: int = 0


def invocation(
    spec: FunctionSpec,
    payload: bytes,
    qualifier: str | None,
    client_context: str | None,
    run: Run,
) -> Invocation:
    """The invoke message; starts the run's clock and its START line."""
    run.lines.append(telemetry.start_line(run.request_id, spec.version))
    run.started = time.perf_counter()
    arn = f"{spec.arn}:{qualifier}" if qualifier else spec.arn
    deadline_ms = int((time.time() + spec.timeout) * 1000)
    return Invocation(run.request_id, payload, deadline_ms, arn, client_context)


def remaining(spec: FunctionSpec, run: Run) -> float:
    """Seconds left of the function's timeout."""
    return run.started + spec.timeout - time.perf_counter()


def settle(worker: Worker, spec: FunctionSpec, run: Run, answer: Message, now: float) -> bool:
    """Record the worker's result, or the timeout; False if the worker ended instead (then the
    caller records that with ``exited``, once it has the exit status)."""
    run.duration_ms = (time.perf_counter() - run.started) * 1000
    if answer is None:
        timed_out(worker, spec, run, now)
        return True
    if not answer:
        return False
    _, ok, body, max_rss, output_bytes = answer
    assert isinstance(body, bytes) and isinstance(max_rss, int)
    if output_bytes:
        run.lines.extend(lines(worker.take_output()))
    run.payload = body
    worker.max_rss_kb = max_rss
    if not ok:
        run.function_error = "Unhandled"
    return True


def finish(worker: Worker, run: Run) -> None:
    run.max_memory_mb = run.max_memory_mb or worker.max_rss_kb // 1024
    run.lines.append(telemetry.end_line(run.request_id))


def reply(worker: Worker, timeout: float) -> Coroutine[Any, Any, Message]:
    """The worker's next message, to await on the running event loop, which watches the
    worker's socket (``loop_watch``): no thread waits for it."""
    loop = asyncio.get_running_loop()
    watch = worker.watch
    if watch is None or watch.loop is not loop:
        watch = worker.watch = LoopWatch(loop, worker.conn)
    return watch.next_message(timeout)


def timed_out(worker: Worker, spec: FunctionSpec, run: Run, now: float) -> None:
    """Lambda stops the environment and answers Sandbox.Timedout, FunctionError Unhandled
    (real AWS: "RequestId: <id> Error: Task timed out after 1.00 seconds")."""
    run.max_memory_mb = peak_memory_kb(worker.pid) // 1024
    worker.kill()
    run.lines.extend(lines(worker.take_output()))
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + f".{int(now * 1000) % 1000:03d}Z"
    seconds = f"{spec.timeout:.2f}"
    run.lines.append(f"{stamp} {run.request_id} Task timed out after {seconds} seconds")
    message = f"RequestId: {run.request_id} Error: Task timed out after {seconds} seconds"
    run.payload = error_body(message, "Sandbox.Timedout")
    run.function_error = "Unhandled"
    run.status = "timeout"
    run.reusable = False


def exited(worker: Worker, run: Run, status: int | None) -> None:
    """The runtime process ended mid-invocation (os._exit, a signal, sys.exit) with wait
    ``status`` (None: not known): Runtime.ExitError, "Runtime exited with error: signal:
    segmentation fault"."""
    run.lines.extend(lines(worker.take_output()))
    if status is None or (os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0):
        reason = "Runtime exited without providing a reason"
    elif os.WIFSIGNALED(status):
        number = os.WTERMSIG(status)
        name = _SIGNALS.get(signal.Signals(number)) or (signal.strsignal(number) or "").lower()
        reason = f"Runtime exited with error: signal: {name}"
    else:
        reason = f"Runtime exited with error: exit status {os.WEXITSTATUS(status)}"
    message = f"RequestId: {run.request_id} Error: {reason}"
    run.lines.extend([message, "Runtime.ExitError"])
    run.payload = error_body(message, "Runtime.ExitError")
    run.function_error = "Unhandled"
    run.status = "error"
    run.reusable = False


def lines(output: str) -> list[str]:
    """Output split at newlines only: a carriage return stays inside its log event, as in the
    Python runtime's multi-line error events."""
    return output.removesuffix("\n").split("\n") if output else []


def peak_memory_kb(pid: int) -> int:
    """The process's peak resident memory (Linux), for the REPORT line of a killed worker."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


def error_body(message: str, error_type: str) -> bytes:
    return json.dumps({"errorMessage": message, "errorType": error_type}).encode()

"""Shared helpers of the Lambda tests: a tracked runtime and process checks."""

from __future__ import annotations

import json
import time
from typing import Any

from basegear.cloud.lambdas.runtime import LambdaRuntime
from basegear.cloud.lambdas.spec import FunctionSpec, InvokeResult
from basegear.cloud.lambdas.telemetry import MemoryLogSink, MemoryMetricSink


def process_gone(pid: int) -> bool:
    """Dead or a zombie."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as status:
            return any(line.split()[1] == "Z" for line in status if line.startswith("State:"))
    except (FileNotFoundError, ProcessLookupError):  # gone while being read
        return True


def wait_gone(pid: int, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process_gone(pid):
            return True
        time.sleep(0.01)
    return False


class Tracked:
    """A runtime plus every worker pid it has shown, checked dead after ``close``."""

    def __init__(self, runtime: LambdaRuntime, logs: MemoryLogSink, metrics: MemoryMetricSink):
        self.runtime = runtime
        self.logs = logs
        self.metrics = metrics
        self.pids: set[int] = set()

    def invoke(self, spec: FunctionSpec, event: object = None, **kwargs: Any) -> InvokeResult:
        payload = b"" if event is None else json.dumps(event).encode()
        try:
            return self.runtime.invoke(spec, payload, **kwargs)
        finally:
            self.pids.update(self.runtime.worker_pids(spec))

    def close_and_check(self) -> None:
        zygote = self.runtime.zygote_pid
        self.runtime.close()
        leaked = [pid for pid in {*self.pids, *([zygote] if zygote else [])} if not wait_gone(pid)]
        assert not leaked, f"processes outlived the runtime: {leaked}"

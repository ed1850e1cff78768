"""Reserved concurrency and the account limit: 429 TooManyRequestsException with AWS's
reasons; throttles counted in the Throttles metric, not in Invocations."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from lambda_helpers import Tracked, wait_gone

from basegear.cloud.lambdas.runtime import LambdaRuntime
from basegear.cloud.lambdas.spec import FunctionSpec, TooManyRequestsError
from basegear.cloud.lambdas.telemetry import MemoryMetricSink

SLEEPY = """
import time
def handler(event, context):
    time.sleep(event.get("sleep", 0))
    return "done"
"""


@pytest.fixture
def sleepy(write_code: Callable[..., Path]) -> Path:
    return write_code(SLEEPY)


def _busy(runtime: LambdaRuntime, spec: FunctionSpec, seconds: float) -> Iterator[None]:
    thread = threading.Thread(
        target=runtime.invoke, args=(spec, f'{{"sleep": {seconds}}}'.encode())
    )
    thread.start()
    deadline = time.monotonic() + 5
    while not runtime.worker_pids(spec) and time.monotonic() < deadline:
        time.sleep(0.005)
    time.sleep(0.05)
    yield
    thread.join()


def test_reserved_concurrency_throttles_beyond_its_limit(
    tracked: Tracked, sleepy: Path, unique_name: str
) -> None:
    spec = FunctionSpec(
        name=unique_name, handler="handler.handler", code_dir=sleepy, reserved_concurrency=1
    )
    for _ in _busy(tracked.runtime, spec, 0.5):
        with pytest.raises(TooManyRequestsError) as caught:
            tracked.runtime.invoke(spec, b"{}")
    tracked.pids.update(tracked.runtime.worker_pids(spec))

    error = caught.value
    assert error.status == 429 and error.code == "TooManyRequestsException"
    assert error.aws_body() == {
        "Reason": "ReservedFunctionConcurrentInvocationLimitExceeded",
        "Type": "User",
        "message": "Rate Exceeded.",
    }
    assert tracked.invoke(spec, {}).json() == "done"  # free again once the first finished
    name = ("FunctionName", unique_name)
    assert tracked.metrics.total("Throttles", name) == 1
    assert tracked.metrics.total("Invocations", name) == 2


def test_reserved_zero_blocks_every_call(tracked: Tracked, sleepy: Path, unique_name: str) -> None:
    spec = FunctionSpec(
        name=unique_name, handler="handler.handler", code_dir=sleepy, reserved_concurrency=0
    )
    for _ in range(3):
        with pytest.raises(TooManyRequestsError) as caught:
            tracked.runtime.invoke(spec, b"{}")
        assert caught.value.reason == "ReservedFunctionConcurrentInvocationLimitExceeded"
    assert tracked.runtime.worker_pids(spec) == []
    assert tracked.metrics.total("Throttles", ("FunctionName", unique_name)) == 3
    assert tracked.metrics.total("Invocations", ("FunctionName", unique_name)) == 0


def test_account_limit_and_reservations_share_the_account(sleepy: Path) -> None:
    metrics = MemoryMetricSink()
    reserved = FunctionSpec(
        name="reserved", handler="handler.handler", code_dir=sleepy, reserved_concurrency=1
    )
    plain = FunctionSpec(name="plain", handler="handler.handler", code_dir=sleepy)
    other = FunctionSpec(name="other", handler="handler.handler", code_dir=sleepy)
    with LambdaRuntime(account_limit=3, metric_sink=metrics) as runtime:
        assert runtime.invoke(reserved, b"{}").json() == "done"
        # Unreserved: 3 - 1 reserved = 2 for every other function together.
        for _ in _busy(runtime, plain, 0.6):
            for _ in _busy(runtime, other, 0.6):
                with pytest.raises(TooManyRequestsError) as caught:
                    runtime.invoke(plain, b"{}")
                assert caught.value.reason == "ConcurrentInvocationLimitExceeded"
                assert runtime.invoke(reserved, b"{}").json() == "done"  # its own reservation
        assert runtime.invoke(plain, b"{}").json() == "done"
        pids = [*runtime.worker_pids(reserved), *runtime.worker_pids(plain)]
        pids += runtime.worker_pids(other)
    assert all(wait_gone(pid) for pid in pids)
    assert metrics.total("Throttles", ("FunctionName", "plain")) == 1

"""The runtime driven directly: real worker processes, AWS result and error shapes."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from lambda_helpers import Tracked, wait_gone

from basegear.cloud.lambdas.spec import (
    FunctionSpec,
    InvalidRequestContentError,
    InvalidRuntimeError,
    InvokeError,
    RequestTooLargeError,
    ShuttingDownError,
)

HANDLERS = """
import ctypes, decimal, os, sys, time

print("init output")

def ok(event, context):
    print("got", event)
    return {"pid": os.getpid(), "event": event}

def boom(event, context):
    raise ValueError("bad input")

def hang(event, context):
    print("about to hang")
    time.sleep(30)

def exit3(event, context):
    print("leaving")
    os._exit(3)

def sysexit(event, context):
    sys.exit(4)

def segfault(event, context):
    ctypes.string_at(0)

def chatty(event, context):
    line = "x" * 1023
    for _ in range(5 * 1024):
        print(line)
    return {"pid": os.getpid()}

def huge(event, context):
    return "y" * (7 * 1024 * 1024)

def unserialisable(event, context):
    return {"tags": {"a", "b"}}

def money(event, context):
    return {"price": decimal.Decimal("1.5")}

def policy(event, context):
    return {"policy": os.sched_getscheduler(0), "nice": os.getpriority(os.PRIO_PROCESS, 0)}
"""


@pytest.fixture
def code(write_code: Callable[..., Path]) -> Path:
    return write_code(HANDLERS)


def spec_for(code: Path, name: str, handler: str, **settings: object) -> FunctionSpec:
    return FunctionSpec(name=name, handler=f"handler.{handler}", code_dir=code, **settings)  # type: ignore[arg-type]


def test_result_logs_and_warm_reuse(tracked: Tracked, code: Path, unique_name: str) -> None:
    spec = spec_for(code, unique_name, "ok")
    first = tracked.invoke(spec, {"n": 1})
    second = tracked.invoke(spec, {"n": 2})

    assert first.status == 200 and first.function_error is None
    assert first.json() == {"pid": first.json()["pid"], "event": {"n": 1}}  # type: ignore[index]
    assert second.json()["pid"] == first.json()["pid"]  # type: ignore[index]
    assert first.executed_version == "$LATEST"
    cold = first.log.splitlines()
    assert cold[0].startswith("INIT_START Runtime Version: python:3.11")
    assert cold[1] == "init output"
    assert cold[2] == f"START RequestId: {first.request_id} Version: $LATEST"
    assert cold[3] == "got {'n': 1}"
    assert cold[4] == f"END RequestId: {first.request_id}"
    assert cold[5].startswith(f"REPORT RequestId: {first.request_id}\tDuration: ")
    for part in ("Billed Duration: ", "Memory Size: 128 MB", "Max Memory Used: ", "Init Duration"):
        assert part in cold[5]
    warm = second.log.splitlines()
    assert warm[0].startswith("START") and "Init Duration" not in warm[-1]


@pytest.mark.skipif(not hasattr(os, "SCHED_BATCH"), reason="a Linux scheduling policy")
def test_workers_run_as_batch_work_at_the_usual_priority(
    tracked: Tracked, code: Path, unique_name: str
) -> None:
    """Workers do not preempt the gateway when an invocation wakes them (SCHED_BATCH), and get
    the same share of the CPU as any process (nice 0)."""
    result = tracked.invoke(spec_for(code, unique_name, "policy"), {})
    assert result.json() == {"policy": os.SCHED_BATCH, "nice": 0}


def test_handler_exception_is_an_unhandled_function_error(
    tracked: Tracked, code: Path, unique_name: str
) -> None:
    spec = spec_for(code, unique_name, "boom")
    result = tracked.invoke(spec, {})
    again = tracked.invoke(spec, {})

    assert result.status == 200 and result.function_error == "Unhandled"
    body = result.json()
    assert body == {
        "errorMessage": "bad input",
        "errorType": "ValueError",
        "requestId": result.request_id,
        "stackTrace": [
            f'  File "{code}/handler.py", line 11, in boom\n    raise ValueError("bad input")\n'
        ],
    }
    assert "[ERROR] ValueError: bad input\rTraceback (most recent call last):" in result.log
    assert tracked.runtime.worker_pids(spec) and again.function_error == "Unhandled"
    assert len(tracked.runtime.worker_pids(spec)) == 1  # the environment survives the error


def test_timeout_kills_the_worker_and_answers_sandbox_timedout(
    tracked: Tracked, code: Path, unique_name: str
) -> None:
    spec = spec_for(code, unique_name, "hang", timeout=0.3)
    tracked.invoke(spec_for(code, unique_name, "hang", timeout=5.0), None, invocation_type="DryRun")
    started = time.monotonic()
    result = tracked.invoke(spec, {})
    elapsed = time.monotonic() - started

    assert 0.3 <= elapsed < 2.0
    assert result.status == 200 and result.function_error == "Unhandled"
    assert result.json() == {
        "errorMessage": f"RequestId: {result.request_id} Error: Task timed out after 0.30 seconds",
        "errorType": "Sandbox.Timedout",
    }
    assert "about to hang" in result.log
    assert f"{result.request_id} Task timed out after 0.30 seconds" in result.log
    assert "Status: timeout" in result.log
    assert tracked.runtime.worker_pids(spec) == []


@pytest.mark.parametrize(
    ("handler", "reason"),
    [
        ("exit3", "Runtime exited with error: exit status 3"),
        ("sysexit", "Runtime exited with error: exit status 4"),
        ("segfault", "Runtime exited with error: signal: segmentation fault"),
    ],
)
def test_a_dying_runtime_answers_runtime_exit_error(
    tracked: Tracked, code: Path, unique_name: str, handler: str, reason: str
) -> None:
    spec = spec_for(code, unique_name, handler)
    result = tracked.invoke(spec, {})

    assert result.function_error == "Unhandled"
    assert result.json() == {
        "errorMessage": f"RequestId: {result.request_id} Error: {reason}",
        "errorType": "Runtime.ExitError",
    }
    assert "Runtime.ExitError" in result.log
    if handler == "exit3":
        assert "leaving" in result.log  # output before the crash is kept
    healthy = tracked.invoke(spec_for(code, unique_name, "ok"), {"after": handler})
    assert healthy.json()["event"] == {"after": handler}  # type: ignore[index]


def test_megabytes_of_output_are_cut_and_the_runtime_keeps_serving(
    tracked: Tracked, code: Path, unique_name: str
) -> None:
    spec = spec_for(code, unique_name, "chatty")
    result = tracked.invoke(spec, {})
    again = tracked.invoke(spec, {})

    assert result.function_error is None
    assert "bytes of output before this were dropped" in result.log
    assert len(result.log) < 1.1 * 1024 * 1024
    assert again.json() == result.json()  # same warm worker


def test_results_aws_cannot_return(tracked: Tracked, code: Path, unique_name: str) -> None:
    huge = tracked.invoke(spec_for(code, unique_name, "huge"), {})
    odd = tracked.invoke(spec_for(code, unique_name + "-set", "unserialisable"), {})
    money = tracked.invoke(spec_for(code, unique_name + "-dec", "money"), {})

    assert huge.function_error == "Unhandled"
    assert huge.json() == {
        "errorMessage": "Response payload size exceeded maximum allowed payload size "
        "(6291556 bytes).",
        "errorType": "Function.ResponseSizeTooLarge",
    }
    assert odd.function_error == "Unhandled"
    assert odd.json() == {
        "errorMessage": "Unable to marshal response: Object of type set is not JSON serializable",
        "errorType": "Runtime.MarshalError",
        "requestId": odd.request_id,
        "stackTrace": [],
    }
    assert money.json() == {"price": 1.5}


@pytest.mark.parametrize(
    ("handler", "source", "error_type", "message"),
    [
        ("missing.handler", "", "Runtime.ImportModuleError", "Unable to import module 'missing'"),
        ("handler.nope", "x = 1\n", "Runtime.HandlerNotFound", "Handler 'nope' missing on module"),
        ("handler.f", "def f(:\n", "Runtime.UserCodeSyntaxError", "Syntax error in module"),
        ("nodot", "", "Runtime.MalformedHandlerName", "Bad handler 'nodot'"),
    ],
)
def test_init_errors(
    tracked: Tracked,
    write_code: Callable[..., Path],
    unique_name: str,
    handler: str,
    source: str,
    error_type: str,
    message: str,
) -> None:
    folder = write_code(source)
    spec = FunctionSpec(name=unique_name, handler=handler, code_dir=folder)
    result = tracked.invoke(spec, {})

    assert result.function_error == "Unhandled"
    body = result.json()
    assert isinstance(body, dict)
    assert body["errorType"] == error_type and body["errorMessage"].startswith(message)
    assert body["requestId"] == result.request_id
    assert f"[ERROR] {error_type}" in result.log
    assert tracked.runtime.worker_pids(spec) == []


def test_requests_refused_before_any_code_runs(tracked: Tracked, code: Path) -> None:
    spec = spec_for(code, "refused", "ok")
    with pytest.raises(InvalidRequestContentError):
        tracked.runtime.invoke(spec, b"{not json")
    with pytest.raises(RequestTooLargeError):
        tracked.runtime.invoke(spec, b'"' + b"z" * (6 * 1024 * 1024) + b'"')
    with pytest.raises(RequestTooLargeError):
        tracked.runtime.invoke(spec, b'"' + b"z" * 300_000 + b'"', invocation_type="Event")
    with pytest.raises(InvalidRuntimeError):
        tracked.runtime.invoke(spec_for(code, "node", "ok", runtime="nodejs20.x"), b"{}")
    assert tracked.runtime.worker_pids(spec) == []


def test_event_runs_in_the_background_and_dry_run_runs_nothing(
    tracked: Tracked, write_code: Callable[..., Path], unique_name: str, tmp_path: Path
) -> None:
    marker = tmp_path / "ran"
    folder = write_code(
        f"""
        import pathlib
        def handler(event, context):
            pathlib.Path({str(marker)!r}).write_text(event["word"])
        """
    )
    spec = FunctionSpec(name=unique_name, handler="handler.handler", code_dir=folder)
    dry = tracked.invoke(spec, {"word": "dry"}, invocation_type="DryRun")
    assert dry.status == 204 and dry.payload == b"" and not marker.exists()

    queued = tracked.invoke(spec, {"word": "event"}, invocation_type="Event")
    assert queued.status == 202 and queued.payload == b""
    deadline = time.monotonic() + 10
    # The file exists, empty, for a moment before the handler's write lands in it.
    while (not marker.exists() or not marker.read_text()) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert marker.read_text() == "event"
    tracked.pids.update(tracked.runtime.worker_pids(spec))


def test_pool_grows_to_the_concurrency_in_use(
    tracked: Tracked, write_code: Callable[..., Path], unique_name: str
) -> None:
    folder = write_code(
        """
        import os, time
        def handler(event, context):
            time.sleep(event["sleep"])
            return os.getpid()
        """
    )
    spec = FunctionSpec(name=unique_name, handler="handler.handler", code_dir=folder)
    pids: list[object] = []
    threads = [
        threading.Thread(target=lambda: pids.append(tracked.invoke(spec, {"sleep": 0.4}).json()))
        for _ in range(3)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(set(pids)) == 3
    assert sorted(tracked.runtime.worker_pids(spec)) == sorted(pids)  # type: ignore[type-var]
    after = {tracked.invoke(spec, {"sleep": 0}).json() for _ in range(5)}
    assert after <= set(pids) and len(after) == 1  # the most recently used one is reused


def test_edited_code_is_picked_up_by_the_next_invocation(
    tracked: Tracked, write_code: Callable[..., Path], unique_name: str
) -> None:
    folder = write_code("import helper\ndef handler(e, c):\n    return helper.VALUE\n")
    write_code("VALUE = 'one'\n", name="helper.py")
    spec = FunctionSpec(name=unique_name, handler="handler.handler", code_dir=folder)
    assert tracked.invoke(spec, {}).json() == "one"
    first_pid = tracked.runtime.worker_pids(spec)

    (folder / "helper.py").write_text("VALUE = 'two, longer'\n")
    assert tracked.invoke(spec, {}).json() == "two, longer"
    assert tracked.runtime.worker_pids(spec) != first_pid
    assert all(wait_gone(pid) for pid in first_pid)


def test_layers_are_on_the_path_as_opt_python(
    tracked: Tracked, write_code: Callable[..., Path], unique_name: str
) -> None:
    folder = write_code(
        "import shared, vendored\ndef handler(e, c):\n    return [shared.WHO, vendored.WHO]\n"
    )
    first = write_code("WHO = 'first'\n", name="python/shared.py", folder="layer1")
    write_code(
        "WHO = 'site'\n", name="python/lib/python3.11/site-packages/vendored.py", folder="layer1"
    )
    second = write_code("WHO = 'second'\n", name="python/shared.py", folder="layer2")
    spec = FunctionSpec(
        name=unique_name, handler="handler.handler", code_dir=folder, layers=(first, second)
    )
    # Layers unpack into /opt in order, so the later layer's file wins.
    assert tracked.invoke(spec, {}).json() == ["second", "site"]


def test_idle_workers_are_reaped(write_code: Callable[..., Path]) -> None:
    from basegear.cloud.lambdas.runtime import LambdaRuntime

    folder = write_code("import os\ndef handler(e, c):\n    return os.getpid()\n")
    spec = FunctionSpec(name="reaped", handler="handler.handler", code_dir=folder)
    with LambdaRuntime(idle_timeout=0.2) as runtime:
        pid = runtime.invoke(spec, b"{}").json()
        assert isinstance(pid, int) and runtime.worker_pids(spec) == [pid]
        assert wait_gone(pid, timeout=5)
        assert runtime.worker_pids(spec) == []
        zygote = runtime.zygote_pid
    assert zygote is not None and wait_gone(zygote)


def test_logs_and_metrics_reach_the_sinks(tracked: Tracked, code: Path, unique_name: str) -> None:
    ok = tracked.invoke(spec_for(code, unique_name, "ok"), {"n": 1}, qualifier="$LATEST")
    tracked.invoke(spec_for(code, unique_name, "boom"), {})

    batches = [b for b in tracked.logs.batches if b.group == f"/aws/lambda/{unique_name}"]
    assert len(batches) == 2
    stream = batches[0].stream
    day = time.strftime("%Y/%m/%d", time.gmtime())
    assert stream.startswith(f"{day}/[$LATEST]") and len(stream) == len(day) + 10 + 32
    assert [e.message for e in batches[0].events][-1].startswith(
        f"REPORT RequestId: {ok.request_id}"
    )
    name = ("FunctionName", unique_name)
    assert tracked.metrics.total("Invocations", name) == 2
    assert tracked.metrics.total("Errors", name) == 1
    resource = ("Resource", f"{unique_name}:$LATEST")
    assert tracked.metrics.total("Invocations", name, resource) == 1
    durations = [
        d for d in tracked.metrics.data if d.name == "Duration" and d.dimensions == (name,)
    ]
    assert len(durations) == 2 and all(d.unit == "Milliseconds" for d in durations)
    assert tracked.metrics.total("ConcurrentExecutions", name) == 2  # one running, twice


def test_closing_leaves_no_process(write_code: Callable[..., Path]) -> None:
    from basegear.cloud.lambdas.runtime import LambdaRuntime

    folder = write_code(
        "import os, time\ndef handler(e, c):\n    time.sleep(e)\n    return os.getpid()\n"
    )
    runtime = LambdaRuntime()
    spec = FunctionSpec(name="leaks", handler="handler.handler", code_dir=folder, timeout=10)
    outcome: list[object] = []

    def invoke_busy() -> None:
        try:
            outcome.append(runtime.invoke(spec, b"5"))
        except InvokeError as exc:
            outcome.append(exc)

    busy = threading.Thread(target=invoke_busy)
    busy.start()
    idle = runtime.invoke(spec, b"0").json()
    deadline = time.monotonic() + 5
    while len(runtime.worker_pids(spec)) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    pids = runtime.worker_pids(spec)
    zygote = runtime.zygote_pid
    assert idle in pids and len(pids) == 2 and zygote is not None
    runtime.close()
    busy.join(timeout=5)
    assert not busy.is_alive()
    assert all(wait_gone(pid) for pid in [*pids, zygote])
    [error] = outcome
    assert isinstance(error, ShuttingDownError)


def test_closing_answers_invocations_in_flight_and_later_ones_as_aws_does(
    write_code: Callable[..., Path],
) -> None:
    """Closing the runtime under a running invocation: its caller gets 500 ServiceException,
    no thread sees a closed descriptor (lambdas/conftest.py fails a test on any exception
    left unhandled in a thread), and a call made after close gets the same error."""
    from basegear.cloud.lambdas.runtime import LambdaRuntime

    folder = write_code("import time\ndef handler(e, c):\n    time.sleep(e)\n    return e\n")
    runtime = LambdaRuntime()
    spec = FunctionSpec(name="in-flight", handler="handler.handler", code_dir=folder, timeout=10)
    assert runtime.invoke(spec, b"0").json() == 0  # warm: the next ones find a worker ready
    outcomes: list[object] = []

    def invoke(seconds: bytes) -> None:
        try:
            outcomes.append(runtime.invoke(spec, seconds))
        except InvokeError as exc:
            outcomes.append(exc)

    callers = [threading.Thread(target=invoke, args=(b"5",)) for _ in range(3)]
    for caller in callers:
        caller.start()
    deadline = time.monotonic() + 5
    while len(runtime.worker_pids(spec)) < 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.05)  # each handler is inside time.sleep now
    started = time.monotonic()
    runtime.close()
    for caller in callers:
        caller.join(timeout=5)
    assert time.monotonic() - started < 3, "close() waited for the handlers to finish"
    assert len(outcomes) == 3
    for outcome in outcomes:
        assert isinstance(outcome, ShuttingDownError)
        assert (outcome.status, outcome.code) == (500, "ServiceException")
        assert outcome.aws_body() == {
            "Type": "Service",
            "message": "The local cloud is shutting down.",
        }
    with pytest.raises(ShuttingDownError):
        runtime.invoke(spec, b"0")
    with pytest.raises(ShuttingDownError):
        runtime.invoke(spec, b"0", invocation_type="Event")

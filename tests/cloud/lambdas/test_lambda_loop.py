"""Warm invocations on an asyncio event loop (``LambdaRuntime.invoke_warm``, the gateway's hot
path): the same answers as from a thread, handlers that sleep do not hold the loop, a timeout,
a dying worker or a cancelled call leave the pool sound, and through the gateway no thread
waits for a warm invocation."""

from __future__ import annotations

import asyncio
import io
import json
import threading
import time
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from lambda_helpers import Tracked, wait_gone

from basegear.cloud import motoshim
from basegear.cloud.lambdas.runtime import LambdaRuntime
from basegear.cloud.lambdas.spec import FunctionSpec, InvalidRequestContentError
from basegear.cloud.motoshim.awslambda import MotoLambda, backend_for
from basegear.cloud.providers.lambda_api import LambdaApiProvider
from basegear.cloud.server import LocalCloud

HANDLERS = """
import os, time

def ok(event, context):
    print("got", event)
    return {"pid": os.getpid(), "event": event, "id": context.aws_request_id}

def nap(event, context):
    time.sleep(event["sleep"])
    return os.getpid()
"""


@pytest.fixture
def code(write_code: Callable[..., Path]) -> Path:
    return write_code(HANDLERS)


def spec_for(code: Path, name: str, handler: str, **settings: object) -> FunctionSpec:
    return FunctionSpec(name=name, handler=f"handler.{handler}", code_dir=code, **settings)  # type: ignore[arg-type]


def warm(tracked: Tracked, spec: FunctionSpec, event: object, count: int = 1) -> None:
    """``count`` warm workers for ``spec``, started from threads (as the gateway's cold path)."""

    async def start() -> None:
        # Concurrent calls: each needs a worker of its own.
        await asyncio.gather(
            *(asyncio.to_thread(tracked.invoke, spec, event) for _ in range(count))
        )

    asyncio.run(start())
    assert len(tracked.runtime.worker_pids(spec)) == count


def test_a_cold_function_is_left_to_a_thread(
    tracked: Tracked, code: Path, unique_name: str
) -> None:
    spec = spec_for(code, unique_name, "ok")
    assert asyncio.run(tracked.runtime.invoke_warm(spec, b"{}")) is None
    assert tracked.runtime.worker_pids(spec) == []
    with pytest.raises(InvalidRequestContentError):  # refused before anything else, as invoke
        asyncio.run(tracked.runtime.invoke_warm(spec, b"{oops"))


def test_a_warm_invocation_answers_as_from_a_thread(
    tracked: Tracked, code: Path, unique_name: str
) -> None:
    spec = spec_for(code, unique_name, "ok")
    first = tracked.invoke(spec, {"n": 1})
    result = asyncio.run(
        tracked.runtime.invoke_warm(spec, b'{"n": 2}', qualifier="$LATEST", request_id="rid-2")
    )
    assert result is not None and result.status == 200 and result.function_error is None
    body = result.json()
    assert isinstance(body, dict) and isinstance(first.json(), dict)
    assert body == {"pid": first.json()["pid"], "event": {"n": 2}, "id": "rid-2"}  # type: ignore[index]
    assert result.request_id == "rid-2" and result.executed_version == "$LATEST"
    lines = result.log.splitlines()
    assert lines[0] == "START RequestId: rid-2 Version: $LATEST"
    assert "got {'n': 2}" in lines and lines[-2] == "END RequestId: rid-2"
    assert lines[-1].startswith("REPORT RequestId: rid-2\tDuration: ")
    assert "Init Duration" not in lines[-1]
    name = ("FunctionName", unique_name)
    assert tracked.metrics.total("Invocations", name) == 2
    assert tracked.metrics.total("Invocations", name, ("Resource", f"{unique_name}:$LATEST")) == 1


def test_sleeping_handlers_do_not_hold_the_loop(
    tracked: Tracked, code: Path, unique_name: str
) -> None:
    spec = spec_for(code, unique_name, "nap")
    warm(tracked, spec, {"sleep": 0}, count=3)
    payload = json.dumps({"sleep": 0.4}).encode()

    async def three() -> list[object]:
        calls = [tracked.runtime.invoke_warm(spec, payload) for _ in range(3)]
        return list(await asyncio.gather(*calls))

    started = time.monotonic()
    results = asyncio.run(three())
    elapsed = time.monotonic() - started
    assert elapsed < 1.0, f"three 0.4 s handlers took {elapsed:.2f} s: they ran one by one"
    pids = {result.json() for result in results}  # type: ignore[attr-defined]
    assert pids == set(tracked.runtime.worker_pids(spec))


def test_a_timeout_on_the_loop_kills_the_worker(
    tracked: Tracked, code: Path, unique_name: str
) -> None:
    slow = spec_for(code, unique_name + "-slow", "nap", timeout=0.3)
    warm(tracked, slow, {"sleep": 0})
    [pid] = tracked.runtime.worker_pids(slow)
    timed_out = asyncio.run(tracked.runtime.invoke_warm(slow, b'{"sleep": 5}'))
    assert timed_out is not None and timed_out.function_error == "Unhandled"
    assert timed_out.json() == {
        "errorMessage": f"RequestId: {timed_out.request_id} Error: Task timed out after "
        "0.30 seconds",
        "errorType": "Sandbox.Timedout",
    }
    assert wait_gone(pid) and tracked.runtime.worker_pids(slow) == []


def test_each_invocation_times_out_at_its_own_deadline(
    tracked: Tracked, code: Path, unique_name: str
) -> None:
    """One timer serves a worker's invocations on the loop: set by a quick invocation, it fires
    before the deadline of the next one, which must still get its whole timeout."""
    spec = spec_for(code, unique_name, "nap", timeout=0.5)
    warm(tracked, spec, {"sleep": 0})

    async def quick_then_slow() -> tuple[float, Any]:
        quick = await tracked.runtime.invoke_warm(spec, b'{"sleep": 0}')
        assert quick is not None and quick.function_error is None
        await asyncio.sleep(0.3)  # the quick one's deadline passes while the slow one runs
        started = time.monotonic()
        slow = await tracked.runtime.invoke_warm(spec, b'{"sleep": 5}')
        return time.monotonic() - started, slow

    elapsed, slow = asyncio.run(quick_then_slow())
    assert slow is not None and slow.function_error == "Unhandled"
    assert slow.json()["errorType"] == "Sandbox.Timedout"
    assert 0.45 <= elapsed < 1.5, f"timed out after {elapsed:.2f} s, not its 0.5 s"


def test_a_worker_that_dies_on_the_loop_answers_runtime_exit_error(
    tracked: Tracked, write_code: Callable[..., Path], unique_name: str
) -> None:
    folder = write_code(
        """
        import os
        def handler(event, context):
            if event.get("die"):
                os._exit(3)
            return "alive"
        """,
        folder="dies",
    )
    spec = FunctionSpec(name=unique_name, handler="handler.handler", code_dir=folder)
    warm(tracked, spec, {})
    [pid] = tracked.runtime.worker_pids(spec)
    result = asyncio.run(tracked.runtime.invoke_warm(spec, b'{"die": true}'))
    assert result is not None and result.function_error == "Unhandled"
    assert result.json() == {
        "errorMessage": f"RequestId: {result.request_id} Error: Runtime exited with error: "
        "exit status 3",
        "errorType": "Runtime.ExitError",
    }
    assert wait_gone(pid) and tracked.runtime.worker_pids(spec) == []
    assert tracked.invoke(spec, {}).json() == "alive"  # a new environment serves the next call


def test_a_cancelled_call_does_not_leave_its_worker_in_the_pool(
    tracked: Tracked, code: Path, unique_name: str
) -> None:
    spec = spec_for(code, unique_name, "nap")
    warm(tracked, spec, {"sleep": 0})
    [pid] = tracked.runtime.worker_pids(spec)

    async def cancel_midway() -> None:
        task = asyncio.ensure_future(tracked.runtime.invoke_warm(spec, b'{"sleep": 5}'))
        await asyncio.sleep(0.2)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(cancel_midway())
    assert wait_gone(pid) and tracked.runtime.worker_pids(spec) == []
    assert isinstance(tracked.invoke(spec, {"sleep": 0}).json(), int)


def test_warm_invocations_through_the_gateway_take_no_thread(tmp_path: Path) -> None:
    """With one thread in the provider's pool, three warm invocations of a handler that sleeps
    0.4 s still overlap: they wait on the event loop, not in the pool."""
    motoshim.install()
    runtime = LambdaRuntime()
    plug = MotoLambda(runtime, cache_dir=tmp_path)
    provider = LambdaApiProvider(plug, threads=1)
    cloud = LocalCloud(port=0, providers=[provider]).start()
    plug.install()
    try:
        session = boto3.session.Session(
            aws_access_key_id="test", aws_secret_access_key="test", region_name="eu-west-1"
        )
        config = Config(retries={"max_attempts": 0}, max_pool_connections=3)
        client: Any = session.client("lambda", endpoint_url=cloud.endpoint_url, config=config)
        iam: Any = session.client("iam", endpoint_url=cloud.endpoint_url)
        role = iam.create_role(RoleName="loop", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
        archive = io.BytesIO()
        with zipfile.ZipFile(archive, "w") as zipped:
            zipped.writestr("handler.py", HANDLERS)
        client.create_function(
            FunctionName="loop-nap",
            Runtime="python3.11",
            Role=role,
            Handler="handler.nap",
            Code={"ZipFile": archive.getvalue()},
        )
        target = plug.resolve(backend_for("123456789012", "eu-west-1"), "loop-nap", None)
        spec = plug.spec(target.function, target.latest)
        warmers = [
            threading.Thread(target=runtime.invoke, args=(spec, b'{"sleep": 0.2}'))
            for _ in range(3)
        ]
        for warmer in warmers:
            warmer.start()
        for warmer in warmers:
            warmer.join()
        assert len(runtime.worker_pids(spec)) == 3

        pids: list[int] = []

        def call() -> None:
            answer = client.invoke(FunctionName="loop-nap", Payload=b'{"sleep": 0.4}')
            pids.append(json.loads(answer["Payload"].read()))

        callers = [threading.Thread(target=call) for _ in range(3)]
        started = time.monotonic()
        for caller in callers:
            caller.start()
        for caller in callers:
            caller.join(timeout=10)
        elapsed = time.monotonic() - started
        assert len(pids) == 3 and set(pids) == set(runtime.worker_pids(spec))
        assert elapsed < 1.0, f"three 0.4 s invocations took {elapsed:.2f} s: one thread each"
    finally:
        plug.uninstall()
        cloud.stop()
        provider.close()
        zygote = runtime.zygote_pid
        runtime.close()
        cloud.reset()
        assert zygote is None or wait_gone(zygote)

"""The Lambda runtime: runs a function version's Python handler in a warm worker process with
AWS semantics, and answers as the Invoke API does.

One invocation, in order (Lambda developer guide, "Understanding the Lambda execution
environment lifecycle" and "Lambda function scaling"):

    check the request    runtime, payload size and JSON (errors before any code runs)
    by invocation type   DryRun → 204; Event → queued, 202; RequestResponse → below
    admit                reserved concurrency, else the account's unreserved pool → 429
    pick an environment  a warm worker of this version, or a new one (init phase)
    invoke               the handler, within the function's timeout; a crash or timeout
                         ends the worker and answers with the AWS error shape
    report               START/END/REPORT log lines, AWS/Lambda metrics

A synchronous invocation that finds a warm worker idle can also run on an asyncio event loop
(``invoke_warm``): the loop watches the worker's socket, so no thread waits for the handler.
This is the gateway's hot path; a cold start, which forks and waits for the init phase, runs
on a thread (``invoke``).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Protocol

from basegear.cloud import ids
from basegear.cloud.lambdas import execution, telemetry
from basegear.cloud.lambdas.environment import function_environment, zygote_environment
from basegear.cloud.lambdas.execution import Run
from basegear.cloud.lambdas.pool import Worker, WorkerPool
from basegear.cloud.lambdas.spec import (
    ASYNC_PAYLOAD_LIMIT,
    SYNC_PAYLOAD_LIMIT,
    FunctionSpec,
    InvalidRequestContentError,
    InvalidRuntimeError,
    InvocationType,
    InvokeError,
    InvokeResult,
    RequestTooLargeError,
    ShuttingDownError,
    TooManyRequestsError,
)
from basegear.cloud.lambdas.zygote import Zygote

LOG = logging.getLogger(__name__)

INIT_TIMEOUT = 10.0
"""The init phase may take 10 s before Lambda gives up on it and retries it within the
invocation's own timeout (Lambda developer guide, "Init phase")."""

CLOSE_TIMEOUT = 5.0
"""How long ``close()`` waits for invocations in flight to end once their workers are killed."""

ACCOUNT_CONCURRENCY = 1000
"""The default account quota of concurrent executions (Lambda developer guide, "Lambda
quotas")."""


class AsyncInvoker(Protocol):
    """Where ``Event`` invocations go. The default runs each event once; the component that
    owns async retries, maximum event age, destinations and dead-letter queues (Lambda
    developer guide, "Asynchronous invocation") supplies its own, calling
    ``LambdaRuntime.execute`` for each attempt."""

    def submit(
        self, spec: FunctionSpec, payload: bytes, *, qualifier: str | None, request_id: str
    ) -> None: ...

    def close(self) -> None: ...


ResultHook = Callable[[FunctionSpec, bytes, "InvokeResult | InvokeError"], None]


class BackgroundInvoker:
    """Runs each event once on a small thread pool, then hands the outcome to ``on_result``."""

    def __init__(
        self, runtime: LambdaRuntime, *, threads: int = 4, on_result: ResultHook | None = None
    ) -> None:
        self._runtime = runtime
        self._on_result = on_result
        self._executor = ThreadPoolExecutor(threads, thread_name_prefix="gear-event")

    def submit(
        self, spec: FunctionSpec, payload: bytes, *, qualifier: str | None, request_id: str
    ) -> None:
        self._executor.submit(self._run, spec, payload, qualifier, request_id)

    def _run(self, spec: FunctionSpec, payload: bytes, qualifier: str | None, rid: str) -> None:
        outcome: InvokeResult | InvokeError
        try:
            outcome = self._runtime.execute(spec, payload, qualifier=qualifier, request_id=rid)
        except InvokeError as exc:
            outcome = exc
        except Exception:
            LOG.exception("asynchronous invocation of %s failed", spec.name)
            return
        if self._on_result is not None:
            self._on_result(spec, payload, outcome)

    def close(self) -> None:
        self._executor.shutdown(wait=True, cancel_futures=True)


class LambdaRuntime:
    """Runs Python handlers in warm worker processes; thread-safe, one per local cloud."""

    def __init__(
        self,
        *,
        endpoint_url: str = "http://127.0.0.1:4566",
        account_limit: int = ACCOUNT_CONCURRENCY,
        log_sink: telemetry.LogSink | None = None,
        metric_sink: telemetry.MetricSink | None = None,
        async_invoker: Callable[[LambdaRuntime], AsyncInvoker] | None = None,
        idle_timeout: float = 300.0,
        clock: Callable[[], float] = time.time,
        preload: Sequence[str] = ("boto3",),
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self.endpoint_url = endpoint_url
        self.account_limit = account_limit
        self._log_sink = log_sink
        self._metric_sink = metric_sink
        self._idle_timeout = idle_timeout
        self._clock = clock
        self._preload = tuple(preload)
        self._environ = dict(os.environ if environ is None else environ)
        self._lock = threading.Lock()
        self._drained = threading.Condition(self._lock)  # notified when nothing is running
        self._pools: dict[tuple[str, str, str, str], WorkerPool] = {}
        self._running: dict[str, int] = {}
        self._reserved: dict[str, int] = {}
        self._unreserved_running = 0
        self._zygote: Zygote | None = None
        self._stop = threading.Event()
        self._reaper: threading.Thread | None = None
        self._async = (async_invoker or BackgroundInvoker)(self)
        self._runtime_dir = os.path.dirname(os.path.abspath(__file__))

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> None:
        """Start the pre-warmed parent now rather than on the first invocation."""
        with self._lock:
            if self._stop.is_set():
                raise ShuttingDownError()
            if self._zygote is not None:
                return
            zygote = Zygote(environment=zygote_environment(self._environ), preload=self._preload)
            zygote.start()
            self._zygote = zygote
            self._reaper = threading.Thread(target=self._reap, name="gear-reaper", daemon=True)
            self._reaper.start()

    def close(self) -> None:
        """Stop everything: every worker, queued events, the zygote. An invocation in flight
        has its worker killed and answers ``ShuttingDownError`` (500 ServiceException) to its
        caller; one that arrives later is refused with the same error."""
        self._stop.set()
        with self._lock:
            pools, self._pools = list(self._pools.values()), {}
            zygote = self._zygote  # kept: invocations still running read exit statuses from it
        for pool in pools:
            pool.close()
        self._async.close()
        with self._drained:
            if not self._drained.wait_for(lambda: not self._running, CLOSE_TIMEOUT):
                LOG.warning("invocations still running after the Lambda runtime closed")
        if zygote is not None:
            zygote.close()
        if self._reaper is not None:
            self._reaper.join(timeout=5)

    def __enter__(self) -> LambdaRuntime:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    @property
    def async_invoker(self) -> AsyncInvoker:
        """Where ``Event`` invocations go."""
        return self._async

    def worker_pids(self, spec: FunctionSpec) -> list[int]:
        """The live workers of a function version (tests, dashboard)."""
        with self._lock:
            pool = self._pools.get(_key(spec))
        return pool.pids() if pool is not None else []

    @property
    def zygote_pid(self) -> int | None:
        return self._zygote.pid if self._zygote is not None else None

    # -- the Invoke API ----------------------------------------------------------------------

    def invoke(
        self,
        spec: FunctionSpec,
        payload: bytes = b"",
        *,
        invocation_type: InvocationType = "RequestResponse",
        qualifier: str | None = None,
        client_context: str | None = None,
        request_id: str | None = None,
    ) -> InvokeResult:
        """Invoke as the Invoke API does. ``qualifier`` is the version or alias the caller
        named (None: unqualified); ``client_context`` the decoded ClientContext JSON. Raises
        ``InvokeError`` (429 throttles, 413, 400, 502) where AWS answers with an error."""
        self._check(spec, payload, invocation_type)
        request_id = request_id or ids.request_id()
        if invocation_type == "DryRun":
            return InvokeResult(204, b"", request_id, spec.version)
        if invocation_type == "Event":
            try:
                self._async.submit(spec, payload, qualifier=qualifier, request_id=request_id)
            except RuntimeError as exc:  # its thread pool has been shut down
                if self._stop.is_set():
                    raise ShuttingDownError() from exc
                raise
            return InvokeResult(202, b"", request_id, spec.version)
        return self.execute(
            spec, payload, qualifier=qualifier, client_context=client_context, request_id=request_id
        )

    async def invoke_warm(
        self,
        spec: FunctionSpec,
        payload: bytes = b"",
        *,
        qualifier: str | None = None,
        client_context: str | None = None,
        request_id: str | None = None,
        payload_is_json: bool = False,
    ) -> InvokeResult | None:
        """A RequestResponse ``invoke`` on the running event loop, if a warm worker of this
        version is idle; None otherwise, having done nothing (then call ``invoke`` from a
        thread). Raises ``InvokeError`` as ``invoke`` does. ``payload_is_json``: the caller
        encoded the payload itself, so it is not parsed again to be checked."""
        self._check(spec, payload, "RequestResponse", payload_is_json=payload_is_json)
        taken = self._take_warm(spec)
        if taken is None:
            return None
        pool, worker = taken
        try:
            running, total = self._admit(spec, qualifier)
        except BaseException:
            pool.release(worker, reusable=True)
            raise
        run = Run(request_id or ids.request_id())
        try:
            try:
                ran = await self._execute_on_loop(
                    worker, spec, payload, qualifier, client_context, run
                )
            except BaseException:  # cancelled, or a bug: the handler may still be running
                worker.kill()
                run.reusable = False
                raise
            finally:
                pool.release(worker, reusable=run.reusable)
        finally:
            self._leave(spec)
        if not ran:  # a thread starts a worker with the new code
            _recycle_stale(pool)
            return None
        return self._result(spec, qualifier, worker, run, running, total)

    def _check(
        self,
        spec: FunctionSpec,
        payload: bytes,
        invocation_type: InvocationType,
        *,
        payload_is_json: bool = False,
    ) -> None:
        """The errors the Invoke API answers before any code runs."""
        if self._stop.is_set():
            raise ShuttingDownError()
        if not spec.runtime.startswith("python"):
            raise InvalidRuntimeError(
                f"BaseGear runs Python functions only; {spec.name} uses {spec.runtime}."
            )
        limit = ASYNC_PAYLOAD_LIMIT if invocation_type == "Event" else SYNC_PAYLOAD_LIMIT
        if len(payload) > limit:
            raise RequestTooLargeError(
                f"Request must be smaller than {limit} bytes for the {invocation_type} "
                "invocation type"
            )
        if payload and not payload_is_json:
            try:
                json.loads(payload)
            except ValueError as exc:
                raise InvalidRequestContentError(
                    f"Could not parse request body into json: {exc}"
                ) from exc

    def execute(
        self,
        spec: FunctionSpec,
        payload: bytes,
        *,
        qualifier: str | None = None,
        client_context: str | None = None,
        request_id: str | None = None,
    ) -> InvokeResult:
        """Run the handler once, now, on this thread (both invocation types end here)."""
        request_id = request_id or ids.request_id()
        if self._stop.is_set():
            raise ShuttingDownError()
        running, total = self._admit(spec, qualifier)
        try:
            pool = self._pool_for(spec)
            while True:
                try:
                    worker = pool.acquire()
                except RuntimeError as exc:  # the zygote ended under us
                    if self._stop.is_set():
                        raise ShuttingDownError() from exc
                    raise
                run = Run(request_id)
                try:
                    ran = self._execute(worker, spec, payload, qualifier, client_context, run)
                finally:
                    pool.release(worker, reusable=run.reusable)
                if ran:
                    break
                _recycle_stale(pool)  # a new worker loads the new code
        finally:
            self._leave(spec)
        return self._result(spec, qualifier, worker, run, running, total)

    def _result(
        self,
        spec: FunctionSpec,
        qualifier: str | None,
        worker: Worker,
        run: Run,
        running: int,
        total: int,
    ) -> InvokeResult:
        if not run.reusable and self._stop.is_set():
            # Its worker was killed by close(), not by the handler: not the function's error.
            raise ShuttingDownError()
        self._report(spec, qualifier, worker.log_stream, run, running, total)
        log = "\n".join(run.lines) + "\n"
        return InvokeResult(200, run.payload, run.request_id, spec.version, run.function_error, log)

    # -- concurrency -------------------------------------------------------------------------

    def _admit(self, spec: FunctionSpec, qualifier: str | None) -> tuple[int, int]:
        """Reserved concurrency caps a function and is taken out of the account's pool; the
        other functions share what is left (Lambda developer guide, "Configuring reserved
        concurrency"). Reserved 0 throttles every invocation."""
        name = spec.name
        with self._lock:
            if spec.reserved_concurrency is None:
                self._reserved.pop(name, None)
            else:
                self._reserved[name] = spec.reserved_concurrency
            running = self._running.get(name, 0)
            reason = None
            if spec.reserved_concurrency is not None:
                if running >= spec.reserved_concurrency:
                    reason = "ReservedFunctionConcurrentInvocationLimitExceeded"
            elif self._unreserved_running >= self.account_limit - sum(self._reserved.values()):
                reason = "ConcurrentInvocationLimitExceeded"
            if reason is None:
                self._running[name] = running + 1
                if spec.reserved_concurrency is None:
                    self._unreserved_running += 1
                total = sum(self._running.values())
        if reason is not None:
            self._emit(spec, telemetry.throttle_metrics(name, qualifier, self._clock()))
            raise TooManyRequestsError(reason)
        return running + 1, total

    def _leave(self, spec: FunctionSpec) -> None:
        with self._lock:
            left = self._running[spec.name] - 1
            if left:
                self._running[spec.name] = left
            else:
                del self._running[spec.name]
                if not self._running:
                    self._drained.notify_all()
            if spec.name not in self._reserved:
                self._unreserved_running -= 1

    # -- execution ---------------------------------------------------------------------------

    def _pool_for(self, spec: FunctionSpec) -> WorkerPool:
        self.start()
        retired = None
        with self._lock:
            if self._stop.is_set():  # close() has taken the pools already
                raise ShuttingDownError()
            assert self._zygote is not None
            pool = self._pools.get(_key(spec))
            if pool is not None and pool.spec != spec:  # $LATEST's code or settings changed
                retired, pool = pool, None
            if pool is None:
                pool = WorkerPool(
                    spec,
                    zygote=self._zygote,
                    environment=self._environment,
                    stream_name=lambda version: telemetry.log_stream_name(version, self._clock()),
                )
                self._pools[_key(spec)] = pool
        if retired is not None:
            retired.close(kill_busy=False)
        return pool

    def _environment(self, spec: FunctionSpec, stream: str) -> dict[str, str]:
        return function_environment(
            spec,
            base=self._environ,
            log_stream=stream,
            endpoint_url=self.endpoint_url,
            runtime_dir=self._runtime_dir,
        )

    def _execute(
        self,
        worker: Worker,
        spec: FunctionSpec,
        payload: bytes,
        qualifier: str | None,
        client_context: str | None,
        run: Run,
    ) -> bool:
        """False, having run nothing, when the worker's code is stale."""
        if not worker.ready and not self._init(worker, spec, run):
            return True
        call = execution.invocation(spec, payload, qualifier, client_context, run)
        answer: execution.Message
        try:
            worker.conn.send(("invoke", tuple(call)))
            answer = worker.receive(execution.remaining(spec, run))
        except (EOFError, OSError):
            answer = ()
        if answer == execution.STALE:
            run.reusable = False
            return False
        if not execution.settle(worker, spec, run, answer, self._clock()):
            execution.exited(worker, run, self._exit_status(worker))
        execution.finish(worker, run)
        return True

    async def _execute_on_loop(
        self,
        worker: Worker,
        spec: FunctionSpec,
        payload: bytes,
        qualifier: str | None,
        client_context: str | None,
        run: Run,
    ) -> bool:
        """False, having run nothing, when the worker's code is stale."""
        call = execution.invocation(spec, payload, qualifier, client_context, run)
        answer: execution.Message
        try:
            worker.conn.send(("invoke", tuple(call)))
            answer = await execution.reply(worker, execution.remaining(spec, run))
        except (EOFError, OSError):
            answer = ()
        if answer == execution.STALE:
            run.reusable = False
            return False
        if not execution.settle(worker, spec, run, answer, self._clock()):
            # Its exit status comes from the zygote's thread within milliseconds: wait on a
            # thread, not on the loop.
            status = await asyncio.to_thread(self._exit_status, worker)
            execution.exited(worker, run, status)
        execution.finish(worker, run)
        return True

    def _take_warm(self, spec: FunctionSpec) -> tuple[WorkerPool, Worker] | None:
        """An idle warm worker of ``spec``, taken, without waiting for anything; None if a
        thread must act first (no pool yet, settings or code changed, every worker busy)."""
        with self._lock:
            pool = None if self._zygote is None else self._pools.get(_key(spec))
        if pool is None or (pool.spec is not spec and pool.spec != spec):
            return None
        worker = pool.acquire_idle()
        return None if worker is None else (pool, worker)

    def _exit_status(self, worker: Worker) -> int | None:
        assert self._zygote is not None
        return self._zygote.wait_exit(worker.pid, 2.0)

    def _init(self, worker: Worker, spec: FunctionSpec, run: Run) -> bool:
        """The init phase of a new environment: import the handler. False if it failed (the
        invocation then answers with the init error)."""
        run.lines.append(telemetry.init_start_line(spec.runtime))
        started = time.perf_counter()
        message: tuple[object, ...] | None
        try:
            message = worker.receive(INIT_TIMEOUT + spec.timeout)
        except (EOFError, OSError):
            message = ()
        if message is None:
            run.duration_ms = (time.perf_counter() - started) * 1000
            execution.timed_out(worker, spec, run, self._clock())
        elif not message:
            execution.exited(worker, run, self._exit_status(worker))
        else:
            _, init_ms, error = message
            assert isinstance(init_ms, float)
            run.init_ms = init_ms
            run.lines.extend(execution.lines(worker.take_output()))
            if error is None:
                worker.ready = True
                return True
            # An init error fails this invocation; the next one starts a new environment.
            assert isinstance(error, dict)
            error["requestId"] = run.request_id
            run.payload = json.dumps(error).encode()
            run.function_error = "Unhandled"
            run.status = "error"
            run.reusable = False
        run.lines.append(telemetry.start_line(run.request_id, spec.version))
        run.lines.append(telemetry.end_line(run.request_id))
        return False

    # -- reporting ---------------------------------------------------------------------------

    def _report(
        self,
        spec: FunctionSpec,
        qualifier: str | None,
        stream: str,
        run: Run,
        running: int,
        total: int,
    ) -> None:
        now = self._clock()
        report = telemetry.report_line(
            run.request_id,
            duration_ms=run.duration_ms,
            memory_size=spec.memory_size,
            max_memory_mb=run.max_memory_mb,
            init_ms=run.init_ms,
            status=run.status,
        )
        run.lines.append(report)
        if self._log_sink is not None:
            stamp = int(now * 1000)
            events = tuple([telemetry.LogEvent(stamp, line) for line in run.lines])
            try:
                batch = telemetry.LogBatch(
                    spec.log_group, stream, events, account=spec.account, region=spec.region
                )
                self._log_sink.write(batch)
            except Exception:
                LOG.exception("the log sink failed")
        if self._metric_sink is None:
            return
        names, values = telemetry.invocation_metrics(
            spec.name,
            qualifier,
            spec.version,
            duration_ms=run.duration_ms,
            error=run.function_error is not None,
            running=running,
            total=total,
        )
        try:
            self._metric_sink.put_values(
                telemetry.NAMESPACE, names, values, now, account=spec.account, region=spec.region
            )
        except Exception:
            LOG.exception("the metric sink failed")

    def _emit(self, spec: FunctionSpec, data: list[telemetry.MetricDatum]) -> None:
        if self._metric_sink is None:
            return
        try:
            sink = self._metric_sink
            sink.put(telemetry.NAMESPACE, data, account=spec.account, region=spec.region)
        except Exception:
            LOG.exception("the metric sink failed")

    def _reap(self) -> None:
        interval = min(30.0, max(0.05, self._idle_timeout / 2))
        while not self._stop.wait(interval):
            with self._lock:
                pools = list(self._pools.values())
            for pool in pools:
                pool.reap(self._idle_timeout)


def _recycle_stale(pool: WorkerPool) -> None:
    LOG.info("code of %s changed on disk: recycling its workers", pool.spec.name)
    pool.recycle()


def _key(spec: FunctionSpec) -> tuple[str, str, str, str]:
    return (spec.account, spec.region, spec.name, spec.version)

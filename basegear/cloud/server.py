"""``LocalCloud``: the gateway served by uvicorn on 127.0.0.1, in a background thread (``start``
/ ``stop``, for tests and ``gear up``'s own threads) or in the foreground (``serve``, until
Ctrl-C).

Serving choices, each measured (DESIGN.md, "Measured on this kind of machine"):

- httptools on uvloop, one worker, one process: moto's state lives in this process; uvloop
  takes ~10% off the CPU a request costs (bench/http.py);
- no proxy-header middleware: nothing stands in front of the local cloud;
- a response's head and body in one write (``http_protocol``), so a client reads it whole;
- the listening socket is made here with ``TCP_NODELAY`` (accepted sockets inherit it on Linux),
  so no reply waits on Nagle's algorithm (uvicorn issue #3149);
- keep-alive connections stay open 75 s, longer than a test's idle gaps, so boto3's pooled
  connections are not closed under it;
- moto's and werkzeug's loggers are silenced: they log every request, and moto logs whole
  tracebacks for Step Functions failures it has already handled.

A host other than loopback is served only when asked for, with a warning: the local cloud has
no authentication.

``StandardServices`` assembles BaseGear's own providers (Lambda, CloudFormation) for one cloud;
``gear up`` and the ``local_cloud`` test fixture serve with them.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import random
import socket
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from basegear.cloud.clock import VirtualClock
from basegear.cloud.gateway import Gateway, Router
from basegear.cloud.motoshim import inprocess
from basegear.cloud.protocol import Provider

if TYPE_CHECKING:
    from basegear.cloud.events.async_invoke import AsyncInvocations
    from basegear.cloud.lambdas.runtime import LambdaRuntime
    from basegear.cloud.lambdas.spec import InvokeResult
    from basegear.cloud.state import DurableState
    from basegear.cloud.state.recorder import Persistent

LOG = logging.getLogger(__name__)

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 4566
_QUIET_LOGGERS = ("moto", "werkzeug")
_START_TIMEOUT = 10.0


class StandardServices:
    """BaseGear's own services of one local cloud, for ``gear up`` and the test fixture:

    - Lambda: the runtime, moto's invoke paths plugged into it, the Lambda API provider, and
      asynchronous invocations with retries, dead-letter queues and destinations;
    - CloudFormation: the provider that deploys stacks through the cloud's own API;
    - event sources (``cloud/events``): one ``EventSourceMappingStore`` shared by the stack
      provider and the Lambda API, whose mappings the pollers serve; DynamoDB stream capture;
      S3 and SNS deliveries; schedules — all on one ``VirtualClock``;
    - API Gateway: every deployed stage served (``execute-api``, ``cloud/apigateway``);
    - Step Functions: moto's executions, with waits and retries on the same clock, and
      StartSyncExecution (``cloud/stepfunctions``);
    - the control API (``/_gear/…``: the clock, ``gear events``, ``gear redrive``).

    ``endpoint_url`` is the cloud's own (``cloud.endpoint_url``: known once the socket is bound),
    for components that call it back over HTTP. Register and start them before the cloud
    serves (durable state replays requests through them); the pollers start once state is
    restored; close them before the cloud stops, so that invocations in flight are answered::

        services = StandardServices(cloud.endpoint_url, cache_dir=tmp)
        services.attach(cloud)   # providers in routing order, components, the ready hook
        services.start()
        with cloud:
            ...
            services.close()
    """

    def __init__(
        self,
        endpoint_url: str,
        *,
        cache_dir: Path,
        code_folders: Mapping[str, Path] | None = None,
        layer_folders: Mapping[str, Path] | None = None,
        rng: random.Random | None = None,
        clock: VirtualClock | None = None,
    ) -> None:
        from basegear.cloud.apigateway import ExecuteApiProvider
        from basegear.cloud.cloudformation import CloudFormationProvider, EventSourceMappingStore
        from basegear.cloud.cloudformation.clients import against
        from basegear.cloud.control import ControlProvider
        from basegear.cloud.events.context import EventContext
        from basegear.cloud.events.invoker import LambdaInvoker
        from basegear.cloud.events.mappings import EventSources
        from basegear.cloud.events.notifications import Notifications
        from basegear.cloud.events.queue_poller import QueuePoller
        from basegear.cloud.events.schedules import Schedules
        from basegear.cloud.events.stream_poller import StreamPoller
        from basegear.cloud.events.streams import StreamCapture
        from basegear.cloud.motoshim.inprocess import InProcessClients
        from basegear.cloud.providers.event_source_mappings import EventSourceMappingsProvider
        from basegear.cloud.providers.lambda_api import LambdaService
        from basegear.cloud.stepfunctions import StepFunctionsProvider

        self.clock = clock or VirtualClock()
        self.context = EventContext(
            clock=self.clock, invoker=_NoInvoker(), clients=InProcessClients()
        )
        self.mappings = EventSourceMappingStore()
        self.lambdas = LambdaService(
            endpoint_url,
            cache_dir=cache_dir,
            code_folders=code_folders,
            layer_folders=layer_folders,
            rng=rng,
            async_invoker=self._async_invocations,
        )
        self.context.invoker = LambdaInvoker(self.lambdas.plug)
        self.context.metrics = self.lambdas.sink
        self.streams = StreamCapture(self.clock)
        self.events = EventSources(
            self.mappings,
            self.context,
            {
                "dynamodb": lambda config, context: StreamPoller(config, context, self.streams),
                "sqs": QueuePoller,
            },
        )
        self.schedules = Schedules(self.context)
        self.notifications = Notifications(self.context)
        self.cloudformation = CloudFormationProvider(
            clients=against(endpoint_url), mappings=self.mappings, rng=rng
        )
        self._mappings_api = EventSourceMappingsProvider(self.mappings)
        self.apigateway = ExecuteApiProvider(
            self.lambdas.plug, clients=self.context.clients.client, clock=self.clock.now
        )
        self.control = ControlProvider(self)
        self.step_functions = StepFunctionsProvider()
        self._closed = False
        self._events_started = False

    def _async_invocations(self, runtime: LambdaRuntime) -> AsyncInvocations:
        from basegear.cloud.events.async_invoke import AsyncInvocations

        self.async_invocations = AsyncInvocations(runtime, self.context)
        return self.async_invocations

    @property
    def providers(self) -> list[Provider]:
        """In routing order."""
        return [
            *self.lambdas.providers,
            *self.schedules.providers,
            self._mappings_api,
            *self.apigateway.providers,
            self.cloudformation,
            self.step_functions,
            self.control,
        ]

    @property
    def components(self) -> list[Persistent]:
        """State of their own kept by durable state, besides the providers'."""
        return [self.context.checkpoints, self.streams, self.async_invocations]

    def attach(self, cloud: LocalCloud) -> None:
        for provider in self.providers:
            cloud.add_provider(provider)
        for component in self.components:
            cloud.add_component(component)
        cloud.on_ready(self.start_events)
        cloud.clock = self.clock.now

    def start(self) -> None:
        """Patch moto and start the Lambda runtime: before the cloud serves or replays."""
        from basegear.cloud.motoshim import lambda_async_config, sqs, stepfunctions

        self.lambdas.start()
        lambda_async_config.install()
        sqs.install(self.clock)
        stepfunctions.install_clock(self.clock, self.lambdas.sink)
        self.notifications.start()
        self.streams.install()

    def start_events(self) -> None:
        """Start the pollers and schedules: once state is restored (``LocalCloud.on_ready``),
        so that nothing polls while the journal is replayed."""
        if self._events_started or self._closed:
            return
        self._events_started = True
        self.async_invocations.start()
        self.events.start()
        self.schedules.start()

    def close(self) -> None:
        """Stop the pollers, schedules and the Lambda runtime's workers; before the cloud
        stops, so that invocations in flight are answered. Idempotent."""
        from basegear.cloud.motoshim import lambda_async_config, sqs, stepfunctions

        if self._closed:
            return
        self._closed = True
        self.schedules.close()
        self.events.close()
        self.lambdas.close()
        self.apigateway.close()
        self.streams.uninstall()
        self.notifications.close()
        sqs.uninstall(self.clock)
        stepfunctions.uninstall_clock(self.clock)
        lambda_async_config.uninstall()


class _NoInvoker:
    """Stands in until the Lambda service exists (``StandardServices.__init__``)."""

    def invoke(self, function_arn: str, payload: bytes) -> InvokeResult:
        raise LookupError("the Lambda service is not started")


def silence_moto_logging() -> None:
    for name in _QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.CRITICAL)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class LocalCloud:
    """The local cloud's server. Providers are tried before moto, in the order given and then
    in the order added with :meth:`add_provider`.

    >>> with LocalCloud(port=0) as cloud:
    ...     cloud.endpoint_url  # 'http://127.0.0.1:<ephemeral port>'
    """

    def __init__(
        self,
        *,
        host: str = DEFAULT_HOST,
        port: int = DEFAULT_PORT,
        providers: Iterable[Provider] = (),
        max_threads: int = 64,
        state_dir: Path | None = None,
        fresh: bool = False,
    ) -> None:
        if not is_loopback(host):
            LOG.warning(
                "the local cloud will listen on %s: anyone who can reach it can use it, "
                "it checks no credentials",
                host,
            )
        self.host = host
        self.router = Router(providers)
        self._requested_port = port
        self._max_threads = max_threads
        self._socket: socket.socket | None = None
        self._server: Any = None
        self._thread: threading.Thread | None = None
        self._executor: ThreadPoolExecutor | None = None
        self._released = False
        # Durable state (docs/state.md): restored when serving starts, saved when it stops.
        self.state_dir = state_dir
        self.fresh = fresh
        self.state: DurableState | None = None
        self._components: list[Persistent] = []
        self.clock: Callable[[], float] = time.time  # durable state stamps records with it
        self._ready: list[Callable[[], None]] = []

    # -- providers --------------------------------------------------------------------------

    def add_provider(self, provider: Provider) -> None:
        """Route ``provider.service`` to ``provider`` (after those already registered); also
        while serving."""
        self.router.add(provider)

    def remove_provider(self, provider: Provider) -> None:
        self.router.remove(provider)

    def add_component(self, component: Persistent) -> None:
        """A component with state of its own for durable state to keep (besides providers).
        One with a ``persist`` attribute gets it set to write its image to the journal at once
        (``DurableState.save_component``), for state that changes without a request."""
        self._components.append(component)

    def on_ready(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` once state is restored, just before the cloud serves."""
        self._ready.append(callback)

    # -- where it listens -------------------------------------------------------------------

    @property
    def port(self) -> int:
        """The bound port (an ephemeral one for ``port=0``); binds the socket on first use, so
        providers can be given ``endpoint_url`` before the cloud starts serving."""
        port: int = self._bound().getsockname()[1]
        return port

    @property
    def endpoint_url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    # -- running ----------------------------------------------------------------------------

    def start(self) -> LocalCloud:
        """Serve in a background thread; returns once the socket accepts connections."""
        if self._thread is not None:
            raise RuntimeError("the local cloud is already running")
        server = self._prepare()
        thread = threading.Thread(
            target=self._run_in_thread, args=(server,), name="basegear-gateway", daemon=True
        )
        self._thread = thread
        thread.start()
        deadline = time.monotonic() + _START_TIMEOUT
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("the local cloud did not start")
            time.sleep(0.001)
        return self

    def serve(self) -> None:
        """Serve in this thread until Ctrl-C or SIGTERM (uvicorn's signal handling)."""
        server = self._prepare()
        try:
            server.run(sockets=[self._bound()])
        finally:
            self._release()

    @property
    def is_serving(self) -> bool:
        return self._server is not None and bool(self._server.started)

    def stop(self) -> None:
        """Stop serving. Started with :meth:`start`: closes the socket and ends the thread
        before returning; serving with :meth:`serve`: makes ``serve`` return. A stopped cloud
        does not start again."""
        server, thread = self._server, self._thread
        if server is not None:
            server.should_exit = True
        if thread is not None:
            thread.join(timeout=10)
            self._thread = None
            self._release()
        elif server is None:  # bound for its endpoint_url, never served
            self._release()

    def reset(self) -> None:
        """Empty moto's state (every backend, every account and region)."""
        from moto.moto_api._internal.models import moto_api_backend

        moto_api_backend.reset()

    def __enter__(self) -> LocalCloud:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    # -- internals --------------------------------------------------------------------------

    def _prepare(self) -> Any:
        import uvicorn

        from basegear.cloud.http_protocol import JoinedWritesProtocol

        silence_moto_logging()
        if self.state_dir is not None and self.state is None:
            from basegear.cloud.state import open_state
            from basegear.cloud.state.recorder import SavesItself

            self.state = open_state(
                self.state_dir,
                self.router,
                fresh=self.fresh,
                components=self._components,
                clock=self.clock,
            )
            for component in self._components:
                if isinstance(component, SavesItself):
                    component.persist = self.state.save_component
        self._bound()
        self._executor = ThreadPoolExecutor(self._max_threads, thread_name_prefix="basegear-gw")
        app = Gateway(self.router, executor=self._executor)
        config = uvicorn.Config(
            app,
            http=JoinedWritesProtocol,
            loop="uvloop",
            lifespan="off",
            workers=1,
            access_log=False,
            log_config=None,
            log_level="warning",
            server_header=False,
            proxy_headers=False,
            timeout_keep_alive=75,
            timeout_graceful_shutdown=5,
        )
        self._server = uvicorn.Server(config)
        inprocess.attach(self.router.dispatch_raw)
        for callback in self._ready:
            callback()
        return self._server

    def _bound(self) -> socket.socket:
        if self._socket is None:
            if self._released:
                raise RuntimeError("the local cloud has been stopped")
            self._socket = _listening_socket(self.host, self._requested_port)
        return self._socket

    def _run_in_thread(self, server: Any) -> None:
        import uvloop

        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            runner.run(server.serve(sockets=[self._bound()]))

    def _release(self) -> None:
        from basegear.cloud.state.recorder import SavesItself

        for component in self._components:
            if isinstance(component, SavesItself):
                component.persist = None
        if self.state is not None:
            self.state.close()
            self.state = None
        inprocess.detach(self.router.dispatch_raw)
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None
        if self._socket is not None:
            self._socket.close()
            self._socket = None
        self._released = True
        self._server = None


def _listening_socket(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.bind((host.strip("[]"), port))
        sock.listen(2048)
        sock.setblocking(False)
    except OSError:
        sock.close()
        raise
    return sock

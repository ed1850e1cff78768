"""``LocalCloud``: the gateway served by uvicorn on 127.0.0.1, in a background thread (``start``
/ ``stop``, for tests and ``gear up``'s own threads) or in the foreground (``serve``, until
Ctrl-C).

Serving choices, each measured (DESIGN.md, "Measured on this kind of machine"):

- httptools, one worker, one process: moto's state lives in this process;
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
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from basegear.cloud.gateway import Gateway, Router
from basegear.cloud.motoshim import inprocess
from basegear.cloud.protocol import Provider

if TYPE_CHECKING:
    from basegear.cloud.state import DurableState

LOG = logging.getLogger(__name__)

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 4566
_QUIET_LOGGERS = ("moto", "werkzeug")
_START_TIMEOUT = 10.0


class StandardServices:
    """BaseGear's own services of one local cloud, for ``gear up`` and the test fixture:

    - Lambda: the runtime, moto's invoke paths plugged into it, the Lambda API provider;
    - CloudFormation: the provider that deploys stacks through the cloud's own API;
    - one ``EventSourceMappingStore`` shared by both: the mappings a stack declares, which the
      Lambda API lists and the pollers serve.

    ``endpoint_url`` is the cloud's own (``cloud.endpoint_url``: known once the socket is bound),
    for components that call it back over HTTP. Register and start them before the cloud
    serves (durable state replays requests through them); close them before it stops, so
    that invocations in flight are answered::

        services = StandardServices(cloud.endpoint_url, cache_dir=tmp)
        services.attach(cloud)   # add_provider for each, in routing order
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
    ) -> None:
        from basegear.cloud.cloudformation import CloudFormationProvider, EventSourceMappingStore
        from basegear.cloud.cloudformation.clients import against
        from basegear.cloud.providers.event_source_mappings import EventSourceMappingsProvider
        from basegear.cloud.providers.lambda_api import LambdaService

        self.mappings = EventSourceMappingStore()
        self.lambdas = LambdaService(
            endpoint_url,
            cache_dir=cache_dir,
            code_folders=code_folders,
            layer_folders=layer_folders,
            rng=rng,
        )
        self.cloudformation = CloudFormationProvider(
            clients=against(endpoint_url), mappings=self.mappings, rng=rng
        )
        self._mappings_api = EventSourceMappingsProvider(self.mappings)
        self._closed = False

    @property
    def providers(self) -> list[Provider]:
        """In routing order."""
        return [*self.lambdas.providers, self._mappings_api, self.cloudformation]

    def attach(self, cloud: LocalCloud) -> None:
        for provider in self.providers:
            cloud.add_provider(provider)

    def start(self) -> None:
        self.lambdas.start()

    def close(self) -> None:
        """Stop the Lambda runtime's workers; before the cloud stops, so that invocations in
        flight are answered. Idempotent."""
        if not self._closed:
            self._closed = True
            self.lambdas.close()


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

    # -- providers --------------------------------------------------------------------------

    def add_provider(self, provider: Provider) -> None:
        """Route ``provider.service`` to ``provider`` (after those already registered); also
        while serving."""
        self.router.add(provider)

    def remove_provider(self, provider: Provider) -> None:
        self.router.remove(provider)

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

        silence_moto_logging()
        if self.state_dir is not None and self.state is None:
            from basegear.cloud.state import open_state

            self.state = open_state(self.state_dir, self.router, fresh=self.fresh)
        self._bound()
        self._executor = ThreadPoolExecutor(self._max_threads, thread_name_prefix="basegear-gw")
        app = Gateway(self.router, executor=self._executor)
        config = uvicorn.Config(
            app,
            http="httptools",
            loop="asyncio",
            lifespan="off",
            workers=1,
            access_log=False,
            log_config=None,
            log_level="warning",
            server_header=False,
            timeout_keep_alive=75,
            timeout_graceful_shutdown=5,
        )
        self._server = uvicorn.Server(config)
        inprocess.attach(self.router.dispatch_raw)
        return self._server

    def _bound(self) -> socket.socket:
        if self._socket is None:
            if self._released:
                raise RuntimeError("the local cloud has been stopped")
            self._socket = _listening_socket(self.host, self._requested_port)
        return self._socket

    def _run_in_thread(self, server: Any) -> None:
        asyncio.run(server.serve(sockets=[self._bound()]))

    def _release(self) -> None:
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

"""``gear up``: the local cloud, with the services deployed into it, serving until Ctrl-C.
``Up.run`` is one line per stage:

    check     no other ``gear up`` is recorded in this folder (``.gear/cloud.json``) and alive
    serve     ``LocalCloud`` on host:port with ``StandardServices``; durable state in state_dir
    deploy    each service folder in the order given, as ``gear deploy`` does
    watch     each function's code served from its service folder: edits reach the next call
    show      endpoints, functions and outputs on one screen
    record    ``.gear/cloud.json``, for gear status / down / deploy / invoke / logs
    wait      until Ctrl-C or SIGTERM (``gear down``); then stop cleanly

A service that imports another's exports comes after it on the command line, as a deploy with
the Serverless Framework would have it: ``gear up examples/algorithms/static
examples/algorithms``.

``--detach`` runs the same command as a child in its own session, its output in
``.gear/cloud.log``, and returns once the child has recorded itself ready.
"""

from __future__ import annotations

import errno
import gc
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from basegear import console
from basegear.cloud.clock import ClockMode, VirtualClock
from basegear.cloud.record import CloudRecord, read_record, record_path, remove_record, write_record
from basegear.cloud.server import DEFAULT_HOST, DEFAULT_PORT, LocalCloud, StandardServices
from basegear.cloud.state import default_state_dir
from basegear.compile.naming import layer_id
from basegear.config.service import LoadedService, load_service
from basegear.config.variables import Options
from basegear.deploy import ConsoleReport, Deployer, DeployOptions, DeployResult, local_target
from basegear.deploy.report import show_rows
from basegear.errors import GearError

LOG_FILE = Path(".gear") / "cloud.log"
_HIDDEN_OUTPUTS = ("LambdaLayerHash", "LambdaLayerS3Key")  # the Framework's own bookkeeping


@dataclass(frozen=True)
class UpOptions:
    folders: tuple[Path, ...]
    options: Options = field(default_factory=Options)
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    state_dir: Path | None = None  # None: <last folder>/.gear/state
    fresh: bool = False
    record_dir: Path = Path(".")
    clock: ClockMode = field(default_factory=lambda: ClockMode("real"))  # gear up --clock


@dataclass(frozen=True)
class Deployed:
    folder: Path
    loaded: LoadedService
    result: DeployResult


class Up:
    def __init__(self, options: UpOptions, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.options = options
        self._clock = clock
        self._state_dir = options.state_dir or default_state_dir(options.folders[-1])
        self._cloud: LocalCloud | None = None
        self._services: StandardServices | None = None
        self._cache = tempfile.TemporaryDirectory(prefix="basegear-lambda-")

    def run(self) -> None:
        started = self._clock()
        previous = _on_sigterm(_interrupt)  # SIGTERM (gear down) stops as Ctrl-C does
        try:
            with collecting_after():
                self._check()
                self._serve()
                deployed = [self._deploy(folder) for folder in self.options.folders]
                self._watch(deployed)
                self._show(deployed, self._clock() - started)
                self._record(deployed)
            self._wait()
        finally:
            self._shutdown()
            _on_sigterm(previous)

    # -- the stages ------------------------------------------------------------------------

    def _check(self) -> None:
        running = read_record(self.options.record_dir)
        if running is not None:
            raise GearError(
                f"a local cloud is already running here (pid {running.pid}, "
                f"{running.endpoint_url})",
                hint="stop it with gear down, or run gear up from another folder",
            )

    def _serve(self) -> None:
        options = self.options
        with console.err().status("starting the local cloud"):
            try:
                cloud = LocalCloud(
                    host=options.host,
                    port=options.port,
                    state_dir=self._state_dir,
                    fresh=options.fresh,
                )
                cloud.port  # noqa: B018 (binds now, so that a port in use is said here)
            except OSError as exc:
                raise GearError(
                    f"cannot listen on {options.host}:{options.port}: {exc.strerror}",
                    hint=_listen_hint(exc),
                ) from exc
            self._cloud = cloud
            services = StandardServices(
                connect_url(cloud),
                cache_dir=Path(self._cache.name),
                clock=VirtualClock(options.clock),
            )
            self._services = services
            services.attach(cloud)
            services.start()
            cloud.start()

    def _deploy(self, folder: Path) -> Deployed:
        assert self._cloud is not None
        loaded = load_service(folder, self.options.options)
        if loaded.warnings:
            console.show_problems(loaded.warnings)
        target = local_target(loaded.model.provider.region, connect_url(self._cloud))
        deployer = Deployer(target, report=ConsoleReport(quiet=True))
        return Deployed(folder, loaded, deployer.deploy(loaded, DeployOptions()))

    def _watch(self, deployed: Sequence[Deployed]) -> None:
        """Serve each function's code from its folder and each layer from its path, so an
        edit reaches the next invocation (the runtime reloads a changed module)."""
        assert self._services is not None
        plug = self._services.lambdas.plug
        for item in deployed:
            code, layers = live_folders(item.loaded, item.result)
            plug.code_folders.update(code)
            plug.layer_folders.update(layers)

    def _show(self, deployed: Sequence[Deployed], seconds: float) -> None:
        assert self._cloud is not None
        show_screen(connect_url(self._cloud), deployed, seconds)

    def _record(self, deployed: Sequence[Deployed]) -> None:
        assert self._cloud is not None
        regions = {item.loaded.model.provider.region: None for item in deployed}
        write_record(
            self.options.record_dir,
            CloudRecord(
                pid=os.getpid(),
                endpoint_url=connect_url(self._cloud),
                services=tuple(str(folder) for folder in self.options.folders),
                state_dir=str(self._state_dir),
                regions=tuple(regions),
            ),
        )

    def _wait(self) -> None:
        """Until Ctrl-C or SIGTERM (raised as KeyboardInterrupt); either is a clean stop."""
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            console.err().print("stopping the local cloud")

    def _shutdown(self) -> None:
        remove_record(self.options.record_dir, os.getpid())
        if self._services is not None:
            self._services.close()
        if self._cloud is not None:
            self._cloud.stop()
        self._cache.cleanup()


@contextmanager
def collecting_after() -> Iterator[None]:
    """Python's cycle collector off until the block ends. Starting allocates hundreds of
    thousands of long-lived objects (moto's and botocore's models, parsed JSON, modules), and
    each allocation threshold crossed walks them again: 0.35 s of a 2 s start, for almost
    no garbage. At the end they are frozen (``gc.freeze``: kept out of every later
    collection; the little garbage of the start is kept too) and collection resumes: without
    the freeze, the first collection after the start walks them all at once, just when
    ``gear down`` may send SIGTERM, and a KeyboardInterrupt raised inside a weakref callback
    run by that collection is swallowed, leaving the cloud running."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        if enabled:
            gc.enable()


def connect_url(cloud: LocalCloud) -> str:
    """Where clients on this machine reach ``cloud``: loopback when it listens on every
    address."""
    if cloud.host in ("0.0.0.0", "::", "[::]"):
        return f"http://{DEFAULT_HOST}:{cloud.port}"
    return cloud.endpoint_url


def live_folders(
    loaded: LoadedService, result: DeployResult
) -> tuple[dict[str, Path], dict[str, Path]]:
    """(function name → code folder, layer version ARN → layer folder) for what runs from the
    service's own files: not functions or layers given as a prebuilt ``artifact``, nor any
    function whose zip has Python requirements vendored in (the folder lacks them)."""
    service = loaded.model
    root = loaded.file.parent.resolve()  # workers run elsewhere: no relative paths
    package = result.built.package
    prebuilt = {
        name
        for entry in package.manifest["artifacts"]
        if entry["kind"] == "artifact"
        for name in [*entry.get("functions", []), entry.get("layer")]
        if name
    }
    vendored = bool(package.manifest.get("requirements")) and (
        package.artifacts.requirements_layer is None
    )
    code = {}
    if not vendored:
        for key, function in service.functions.items():
            if (
                function.image is None
                and key in package.artifacts.functions
                and key not in prebuilt
            ):
                code[service.function_name(key)] = root
    physical = {
        item["LogicalResourceId"]: item.get("PhysicalResourceId") for item in result.resources
    }
    layers = {}
    for key, layer in service.layers.items():
        arn = physical.get(layer_id(key))
        if layer.path and arn and key not in prebuilt:
            layers[str(arn)] = root / layer.path
    return code, layers


def show_screen(endpoint: str, deployed: Sequence[Deployed], seconds: float) -> None:
    """Endpoints, functions and outputs of every service, on stdout."""
    out = console.out()
    out.print(f"local cloud  {endpoint}", markup=False)
    sections: list[tuple[str, list[tuple[str, ...]]]] = [
        (
            "stacks",
            [(item.result.stack_name, str(item.folder), _took(item.result)) for item in deployed],
        ),
        (
            "endpoints",
            [
                (item.result.stack_name, "REST API", url)
                for item in deployed
                for url in api_urls(endpoint, item.result)
            ],
        ),
        (
            "functions",
            [
                (key, item.loaded.model.function_name(key), function.handler or "")
                for item in deployed
                for key, function in item.loaded.model.functions.items()
            ],
        ),
        (
            "outputs",
            [
                (item.result.stack_name, key, value)
                for item in deployed
                for key, value in item.result.outputs.items()
                if not key.endswith(_HIDDEN_OUTPUTS)
            ],
        ),
    ]
    for title, table in sections:
        if table:
            out.print(title, markup=False)
            show_rows(table)
    out.print(f"[green]ready[/green] in {seconds:.2f} s; Ctrl-C or gear down to stop")


def _took(result: DeployResult) -> str:
    return f"{result.outcome} in {result.seconds:.2f} s"


def api_urls(endpoint: str, result: DeployResult) -> list[str]:
    """Each REST API stage (the ServiceEndpoint output) and HTTP API (HttpApiUrl) of the stack
    at the local cloud, in the host form the gateway routes
    (``{api}.execute-api.{region}.localhost``; ``*.localhost`` names this machine)."""
    from urllib.parse import urlsplit

    port = urlsplit(endpoint).port
    urls = []
    for key, value in result.outputs.items():
        if key not in ("ServiceEndpoint", "HttpApiUrl") or ".execute-api." not in value:
            continue
        parts = urlsplit(value)
        host = (parts.hostname or "").removesuffix(".amazonaws.com")
        urls.append(f"http://{host}.localhost:{port}{parts.path}")
    return urls


def start_detached(
    arguments: Sequence[str], record_dir: Path, *, timeout: float = 120.0
) -> CloudRecord:
    """Run ``gear up <arguments>`` in its own session, its output in ``.gear/cloud.log``, and
    return its record once it is ready. Raises ``GearError`` with the end of its log if it
    stops first."""
    log_path = Path(record_dir) / LOG_FILE
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "wb") as log:
        child = subprocess.Popen(
            [sys.executable, "-m", "basegear", "up", *arguments],
            cwd=record_dir,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        record = read_record(record_dir)
        if record is not None and record.pid == child.pid:
            return replace(record, log_file=str(log_path))
        if child.poll() is not None:
            tail = log_path.read_text(errors="replace").strip().splitlines()[-15:]
            raise GearError(
                "gear up stopped before it was ready:\n" + "\n".join(f"  {line}" for line in tail),
                hint=f"the whole output is in {log_path}",
            )
        time.sleep(0.05)
    child.terminate()
    raise GearError(
        f"gear up was not ready after {timeout:.0f} s and was stopped",
        hint=f"its output is in {log_path}",
    )


def stop_running(record_dir: Path, *, timeout: float = 15.0) -> CloudRecord | None:
    """``gear down``: SIGTERM to the recorded ``gear up``, which stops cleanly; None when none
    runs. Raises ``GearError`` if it is still running after ``timeout``."""
    from basegear.cloud.record import process_alive

    record = read_record(record_dir)
    if record is None:
        record_path(record_dir).unlink(missing_ok=True)  # stale
        return None
    try:
        os.kill(record.pid, signal.SIGTERM)
    except ProcessLookupError:
        return record
    deadline = time.monotonic() + timeout
    while process_alive(record.pid):
        if time.monotonic() > deadline:
            raise GearError(
                f"the local cloud (pid {record.pid}) is still running {timeout:.0f} s after "
                "being asked to stop",
                hint=f"stop it by force: kill -9 {record.pid}",
            )
        time.sleep(0.05)
    return record


def _listen_hint(exc: OSError) -> str:
    if exc.errno == errno.EADDRINUSE:
        return (
            "another program uses the port: stop it (gear down, if it is a gear up) or choose "
            "another with --port (0: any free port)"
        )
    if exc.errno == errno.EACCES:
        return "ports below 1024 need privileges: choose another with --port"
    return "check --host (an address of this machine) and --port"


def _interrupt(_signum: int, _frame: object) -> None:
    raise KeyboardInterrupt


def _on_sigterm(handler: Any) -> Any:
    """Install ``handler`` for SIGTERM (main thread only); the previous handler."""
    if threading.current_thread() is not threading.main_thread():
        return None
    return signal.signal(signal.SIGTERM, handler if handler is not None else signal.SIG_DFL)

"""``DurableState``: the local cloud's state kept in a directory, restored when the cloud starts.

One line per stage of :func:`open_state`:

1. lock the directory and check its FORMAT (``--fresh`` empties it first)      files.py
2. load the newest snapshot: moto's backends and each component's state       moto_core.py
3. replay every journal since that snapshot, in order                         replay.py
4. mark Step Functions executions that were running as interrupted            moto_stepfunctions.py
5. write a fresh snapshot of the result and start its journal                 journal.py
6. attach the recorder to the router: from now on acknowledged writes are durable

While serving, a background thread takes a snapshot when the journal has grown (records or
bytes) or, if any request came in, every ``snapshot_interval`` seconds — so that state that changes
without a recorded request (Lambda logs and metrics, Step Functions progress) is saved too —
and ``close()`` takes a last one. Each snapshot starts a new journal generation and deletes the
files it supersedes.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from basegear.cloud.gateway import Router
from basegear.cloud.state import (
    moto_core,
    moto_lambda,  # noqa: F401  (registers its pickling factory)
    moto_s3,
    moto_ssm,  # noqa: F401  (registers its pickling factory)
    moto_stepfunctions,
    pickling,
)
from basegear.cloud.state.codec import ImageRecord, Record, encode, scan
from basegear.cloud.state.errors import StateError
from basegear.cloud.state.files import FORMAT_VERSION, FRESH_HINT, StateDir
from basegear.cloud.state.journal import Journal
from basegear.cloud.state.recorder import Gate, Persistent, Recorder, save_image
from basegear.cloud.state.replay import Replayed, replay, replaying

LOG = logging.getLogger(__name__)


def default_state_dir(service_dir: Path) -> Path:
    """Where ``gear up`` keeps a service's state unless told otherwise."""
    return Path(service_dir) / ".gear" / "state"


@dataclass(frozen=True)
class Settings:
    snapshot_interval: float = 30.0  # seconds, while requests come in
    max_journal_records: int = 20_000  # bounds replay time on start (~2-5k records/s)
    max_journal_bytes: int = 64 << 20
    close_timeout: float = 5.0  # how long close() waits for in-flight writes
    poll: float = 1.0
    fsync: bool = True  # False: a write is acknowledged once in the page cache (docs/state.md)


@dataclass(frozen=True)
class Restored:
    """What the start found: the snapshot used, how many journal records were replayed, which
    did not apply again, and how long it took."""

    snapshot: int | None
    replayed: int
    failed: tuple[str, ...]
    interrupted_executions: int
    seconds: float


class DurableState:
    def __init__(
        self,
        directory: StateDir,
        router: Router,
        components: dict[str, Persistent],
        settings: Settings,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.directory = directory
        self.clock = clock  # the cloud's (virtual) clock: journal records are stamped with it
        self.router = router
        self.components = components
        self.settings = settings
        self.gate = Gate()
        self.restored: Restored | None = None
        self.last_capture_seconds = 0.0
        self._journal: Journal | None = None
        self._recorder: Recorder | None = None
        self._generation = 0
        self._orphans: dict[str, bytes] = {}
        self._snapshot_lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._last_snapshot = time.monotonic()
        self._served_at_snapshot = 0
        self._closed = False

    # -- start ------------------------------------------------------------------------------

    def restore(self) -> Restored:
        """Stages 2-6 of the module docstring."""
        started = time.perf_counter()
        found = self.directory.generations()
        base = found.snapshots[-1] if found.snapshots else None
        replayed = Replayed()
        if base is not None:
            self._load_snapshot(base, replayed)
        journals = [g for g in found.journals if base is None or g >= base]
        with replaying() as clock:
            for generation in journals:
                replay(
                    self.router, self._read_journal(generation), self.components, replayed, clock
                )
        interrupted = moto_stepfunctions.interrupt_running()
        self._orphans = replayed.orphans
        self._generation = max([base or 0, *journals]) + 1
        self.directory.write_snapshot(self._generation, self._capture(replayed.last_seq))
        self._journal = Journal(
            self.directory.journal_path,
            self._generation,
            first_seq=replayed.last_seq + 1,
            fsync=self.settings.fsync,
        )
        self.directory.remove_before(self._generation)
        self._recorder = Recorder(self._journal, self.gate, self.components, clock=self.clock)
        self.router.recorder = self._recorder
        self._thread = threading.Thread(target=self._run, name="gear-state", daemon=True)
        self._thread.start()
        self.restored = Restored(
            snapshot=base,
            replayed=replayed.applied,
            failed=tuple(replayed.failed),
            interrupted_executions=interrupted,
            seconds=time.perf_counter() - started,
        )
        LOG.info(
            "state restored from %s: snapshot %s, %d journal records replayed (%d did not "
            "apply) in %.2f s",
            self.directory.root,
            base,
            replayed.applied,
            len(replayed.failed),
            self.restored.seconds,
        )
        return self.restored

    def _load_snapshot(self, generation: int, into: Replayed) -> None:
        path = self.directory.snapshot_path(generation)
        try:
            payload = pickling.loads(self.directory.read_snapshot(generation))
            if payload.get("format") != FORMAT_VERSION:
                raise StateError(f"unknown snapshot format {payload.get('format')!r}")
            moto_core.restore(payload["moto"])
        except StateError as error:
            raise StateError(f"cannot load {path}: {error.message}", hint=FRESH_HINT) from error
        except Exception as error:
            raise StateError(f"cannot load {path}: {error!r}", hint=FRESH_HINT) from error
        into.last_seq = int(payload["seq"])
        for key, data in dict(payload["components"]).items():
            component = self.components.get(key)
            if component is None:
                into.orphans[key] = data
                continue
            try:
                component.load_state(pickling.loads(data))
            except Exception as error:
                LOG.warning("the saved state of %s could not be loaded: %r", key, error)
                into.failed.append(f"snapshot of {key}")

    def _read_journal(self, generation: int) -> tuple[tuple[int, Record], ...]:
        path = self.directory.journal_path(generation)
        found = scan(path.read_bytes())
        if found.damaged:
            # A torn tail is the write in progress when the process died: never acknowledged.
            LOG.warning(
                "%s: what follows byte %d is not a whole record (a torn write); ignored",
                path,
                found.valid_length,
            )
        return found.records

    # -- snapshots --------------------------------------------------------------------------

    def snapshot(self, timeout: float = 5.0) -> bool:
        """Save everything now; False if writes in flight did not pause within ``timeout``."""
        journal = self._journal
        recorder = self._recorder
        if journal is None or recorder is None:
            return False
        with self._snapshot_lock:
            served = recorder.served
            if not self.gate.acquire_exclusive(timeout):
                return False
            started = time.perf_counter()
            try:
                seq = journal.last_seq
                self._generation += 1
                generation = self._generation
                journal.rotate(generation)
                payload = self._capture(seq)
            finally:
                self.gate.release_exclusive()
                self.last_capture_seconds = time.perf_counter() - started
            self.directory.write_snapshot(generation, payload)
            self.directory.remove_before(generation)
            self._served_at_snapshot = served
            self._last_snapshot = time.monotonic()
            return True

    def save_component(self, component: Persistent) -> None:
        """Write ``component``'s image to the journal now and return once it is durable: for
        state that changes without a request (a poller's checkpoint, a queued event)."""
        journal = self._journal
        if journal is None or self._closed:
            return
        self.gate.enter()
        try:
            image = ImageRecord(self.clock(), component.state_key, save_image(component))
            commit = journal.append(encode(image))
        finally:
            self.gate.leave()
        journal.sync(commit)

    def _capture(self, seq: int) -> bytes:
        """Everything, pickled; retried when a thread outside the gate (a log writer, an
        execution) changed a structure while it was being pickled."""
        for attempt in range(5):
            try:
                components = {
                    **self._orphans,
                    **{key: save_image(c) for key, c in self.components.items()},
                }
                return pickling.dumps(
                    {
                        "format": FORMAT_VERSION,
                        "seq": seq,
                        "time": time.time(),
                        "moto": moto_core.capture(),
                        "components": components,
                    }
                )
            except RuntimeError:
                if attempt == 4:
                    raise
        raise AssertionError("unreachable")

    def _due(self) -> bool:
        journal, recorder = self._journal, self._recorder
        if journal is None or recorder is None:
            return False
        settings = self.settings
        if journal.records >= settings.max_journal_records:
            return True
        if journal.bytes >= settings.max_journal_bytes:
            return True
        if recorder.served == self._served_at_snapshot:
            return False
        # A large state pauses writes while it is pickled: then snapshot less often.
        interval = max(settings.snapshot_interval, 50 * self.last_capture_seconds)
        return time.monotonic() - self._last_snapshot >= interval

    def _run(self) -> None:
        while not self._stop.wait(self.settings.poll):
            try:
                if self._due():
                    self.snapshot(timeout=1.0)
            except Exception:
                LOG.exception("a snapshot of the local cloud's state failed")

    # -- stop -------------------------------------------------------------------------------

    def close(self) -> None:
        """Stop recording, take a last snapshot and release the directory."""
        if self._closed:
            return
        self._closed = True
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        if self.router.recorder is self._recorder:
            self.router.recorder = None
        try:
            if self._journal is not None and (
                self._journal.records or self._served_at_snapshot != self._served()
            ):
                self.snapshot(timeout=self.settings.close_timeout)
        except Exception:
            LOG.exception("the last snapshot of the local cloud's state failed")
        finally:
            if self._journal is not None:
                self._journal.close()
            self.directory.close()

    def _served(self) -> int:
        return self._recorder.served if self._recorder is not None else 0


def open_state(
    state_dir: Path,
    router: Router,
    *,
    fresh: bool = False,
    components: Iterable[Persistent] = (),
    settings: Settings | None = None,
    clock: Callable[[], float] = time.time,
) -> DurableState:
    """Open ``state_dir`` for the cloud behind ``router``, restore what it holds and start
    recording. Providers must be registered on the router before (their requests are replayed
    through it; those that are ``Persistent`` are found there). Raises ``StateError``."""
    moto_core.check_moto()
    moto_core.install_random()
    moto_s3.install()
    directory = StateDir(Path(state_dir))
    directory.open(fresh=fresh)
    found: dict[str, Persistent] = {}
    for candidate in [*router.all_providers(), *components]:
        if isinstance(candidate, Persistent):
            found[candidate.state_key] = candidate
    state = DurableState(directory, router, found, settings or Settings(), clock)
    try:
        state.restore()
    except BaseException:
        directory.close()
        raise
    return state

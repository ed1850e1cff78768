"""The write-ahead journal: records appended in order, made durable in groups.

``append`` frames a record and queues it. Making it durable is done by a *leader*: the first
waiter that finds no flush in progress takes every record queued so far, writes them with one
``pwrite`` and makes them durable with one ``fdatasync`` ("group commit"), then tells each
record's :class:`Commit`; waiters that find a flush in progress wait for it, and a thread leader
keeps flushing until nothing is queued.

The event loop (the gateway) leads its flushes itself, inline, after letting the other tasks of
its turn append (``await asyncio.sleep(0)``) so that they share the flush. Measured with 4
concurrent clients, that beats a flusher thread by 2x: a thread woken for each flush waits for the
interpreter lock while the loop answers requests (up to the 5 ms switch interval, twice per flush:
after the write and after the fdatasync), whereas the loop's own ``fdatasync`` releases the lock
and costs it ~0.1-0.2 ms.

Journal files are preallocated with zeros, in chunks: a record then overwrites blocks that are
already allocated and written, so ``fdatasync`` flushes data only and never waits for the file
system's own journal — measured on ext4 here, with some I/O from other processes, 0.10 ms p50
and 0.12 ms p90 against 0.14 ms and 4 ms for appends that grow the file (under heavy I/O every
flush took 3-4 ms either way). The zeros after the last record read as the end of the journal
(codec.py).

Guarantees:

- records reach the file in ``append`` order, each with the next sequence number;
- a commit is done only after its record *and every record before it* are on disk
  (``fdatasync`` returned); a failed write or flush fails every commit of the group, and the
  journal refuses all later appends (the file's tail is then unknown);
- with ``fsync=False`` a commit is done once the records are written to the file (the kernel's
  page cache): enough to survive ``kill -9`` of the process, not a crash of the machine; the
  file is fsynced at each rotation and at ``close``;
- ``rotate`` flushes everything queued, then starts the next generation's file; the new file's
  directory entry is fsynced before any record goes in it.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
from collections.abc import Callable
from pathlib import Path

from basegear.cloud.state.codec import file_header, frame

LOG = logging.getLogger(__name__)

CHUNK = 4 << 20  # bytes of zeros a journal file grows by


class JournalError(OSError):
    """The journal could not make a record durable."""


class Commit:
    """The durability of one appended record."""

    __slots__ = ("_callbacks", "_error", "done")

    def __init__(self) -> None:
        self.done = False
        self._error: BaseException | None = None
        self._callbacks: list[Callable[[], None]] = []

    def raise_error(self) -> None:
        if self._error is not None:
            raise JournalError(f"the journal write failed: {self._error}") from self._error


class _Segment:
    """One journal file: where the next record goes, and how far zeros are allocated."""

    def __init__(self, path: Path, generation: int, chunk: int) -> None:
        header = file_header(generation)
        self.chunk = chunk
        self.fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            self.allocated = 0
            self._grow(len(header))
            _pwrite_all(self.fd, header, 0)
            os.fsync(self.fd)
            fsync_directory(path.parent)
        except OSError:
            os.close(self.fd)
            raise
        self.offset = len(header)

    def write(self, data: bytes, *, sync: bool = True) -> None:
        end = self.offset + len(data)
        _pwrite_all(self.fd, data, self.offset)
        if end <= self.allocated:
            if sync:
                os.fdatasync(self.fd)  # data only: the blocks were allocated and written before
        else:  # the file grows: zeros for the records to come, then data and size durable
            self._zeros(end, end + self.chunk)
            os.fsync(self.fd)
            self.allocated = end + self.chunk
        self.offset = end

    def _grow(self, needed: int) -> None:
        """Zeros up to past ``needed``, durable with the new file size."""
        target = max(needed, self.allocated + self.chunk)
        self._zeros(self.allocated, target)
        os.fsync(self.fd)
        self.allocated = target

    def _zeros(self, start: int, end: int) -> None:
        zeros = bytes(min(self.chunk, 1 << 20))
        while start < end:
            start += os.pwrite(self.fd, zeros[: end - start], start)

    def close(self) -> None:
        os.fsync(self.fd)
        os.close(self.fd)


class Journal:
    """Appends to the file ``path_for(generation)`` names; see the module docstring."""

    def __init__(
        self,
        path_for: Callable[[int], Path],
        generation: int,
        *,
        first_seq: int = 1,
        chunk: int = CHUNK,
        fsync: bool = True,
    ) -> None:
        self._path_for = path_for
        self._chunk = chunk
        self._fsync = fsync
        self._cond = threading.Condition(threading.Lock())
        self._pending: list[tuple[bytes, Commit]] = []
        self._flushing = False
        self._failed: BaseException | None = None
        self._closed = False
        self._seq = first_seq
        self.generation = generation
        self.records = 0  # in the current generation's file
        self.bytes = 0
        self._segment = _Segment(path_for(generation), generation, chunk)

    @property
    def last_seq(self) -> int:
        """The sequence number of the last record appended."""
        with self._cond:
            return self._seq - 1

    def append(self, payload: bytes) -> Commit:
        commit = Commit()
        with self._cond:
            if self._closed or self._failed is not None:
                raise JournalError(f"the journal is closed ({self._failed or 'stopped'})")
            data = frame(self._seq, payload)
            self._seq += 1
            self.records += 1
            self.bytes += len(data)
            self._pending.append((data, commit))
        return commit

    # -- durability -------------------------------------------------------------------------

    def sync(self, commit: Commit) -> None:
        """Block until ``commit`` is durable, leading flushes as needed (any thread)."""
        while not commit.done:
            with self._cond:
                if commit.done:
                    break
                if self._flushing:
                    self._cond.wait()
                    continue
                self._flushing = True
            self._lead(keep_going=True)
        commit.raise_error()

    async def sync_async(self, commit: Commit) -> None:
        """``sync`` for the event loop: leads at most one flush per turn, inline, else awaits
        the thread that is flushing."""
        if not commit.done:
            await asyncio.sleep(0)  # let this turn's other tasks append: one flush for all
        loop = asyncio.get_running_loop()
        while not commit.done:
            waiter: asyncio.Future[None] | None = None
            with self._cond:
                if commit.done:
                    break
                if self._flushing:
                    waiter = loop.create_future()
                    commit._callbacks.append(_waker(loop, waiter))
                else:
                    self._flushing = True
            if waiter is None:
                self._lead(keep_going=False)  # blocks the loop for one write + fdatasync
            else:
                await waiter
        commit.raise_error()

    def _lead(self, *, keep_going: bool) -> None:
        """Flush what is queued (again while more is queued, if ``keep_going``); the caller
        has set ``_flushing``."""
        while True:
            with self._cond:
                batch, self._pending = self._pending, []
                if not batch:
                    self._flushing = False
                    self._cond.notify_all()
                    return
            self._flush(batch)
            if not keep_going:
                with self._cond:
                    self._flushing = False
                    self._cond.notify_all()
                return

    def _flush(self, batch: list[tuple[bytes, Commit]]) -> None:
        error = self._failed
        if error is None:
            try:
                self._segment.write(b"".join(data for data, _ in batch), sync=self._fsync)
            except OSError as exc:
                LOG.error("the state journal could not be written: %s", exc)
                error = exc
        callbacks: list[Callable[[], None]] = []
        with self._cond:
            if error is not None:
                self._failed = error
            for _, commit in batch:
                commit._error = error
                commit.done = True
                callbacks.extend(commit._callbacks)
        for callback in callbacks:
            callback()

    # -- generations ------------------------------------------------------------------------

    def rotate(self, generation: int) -> None:
        """Flush everything queued, then write to ``generation``'s file from now on."""
        with self._cond:
            while self._flushing:
                self._cond.wait()
            self._flushing = True
        try:
            with self._cond:
                batch, self._pending = self._pending, []
            if batch:
                self._flush(batch)
            if self._failed is not None:
                raise JournalError(f"the journal failed: {self._failed}")
            segment = _Segment(self._path_for(generation), generation, self._chunk)
            self._segment.close()
            self._segment = segment
            with self._cond:
                self.generation = generation
                self.records = 0
                self.bytes = 0
        finally:
            with self._cond:
                self._flushing = False
                self._cond.notify_all()

    def close(self) -> None:
        """Flush what is queued, then close the file; later appends fail."""
        with self._cond:
            if self._closed:
                return
            while self._flushing:
                self._cond.wait()
            self._closed = True
            batch, self._pending = self._pending, []
        if batch:
            self._flush(batch)
        self._segment.close()


def _waker(loop: asyncio.AbstractEventLoop, future: asyncio.Future[None]) -> Callable[[], None]:
    def wake() -> None:
        loop.call_soon_threadsafe(_set_result, future)

    return wake


def _set_result(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


def _pwrite_all(fd: int, data: bytes, offset: int) -> None:
    view = memoryview(data)
    while view:
        written = os.pwrite(fd, view, offset)
        view = view[written:]
        offset += written


def fsync_directory(directory: Path) -> None:
    """Make the directory's entries (a created or renamed file) durable (POSIX: fsync on the
    directory is what persists a rename)."""
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)

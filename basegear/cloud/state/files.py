"""The state directory: what is in it, and how each file is written so a crash cannot spoil it.

    FORMAT                  which BaseGear state format, moto and Python wrote the directory
    lock                    held (flock) by the one local cloud using the directory
    snapshot-<gen>.pickle   the whole state when generation <gen> began
    journal-<gen>.log       the acknowledged writes since then (codec.py)

State = the newest snapshot that reads back whole + every journal of its generation or later,
in order. Guarantees:

- a snapshot appears under its name only complete: it is written to a temporary file, fsynced,
  renamed, and the directory fsynced (POSIX rename is atomic); a snapshot that still fails its
  checksum is reported, never silently skipped;
- an older generation's files are deleted only after a newer snapshot is durable, so at every
  instant some snapshot plus the journals after it hold every acknowledged write;
- ``FORMAT`` is checked before anything is read: a directory written by another state format or
  another moto version is refused with a hint, because its pickles describe other classes.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import struct
import sys
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from basegear.cloud.state.errors import StateError
from basegear.cloud.state.journal import fsync_directory

FORMAT_VERSION = 1
"""Bump when what a snapshot or journal holds changes shape (a record field, a pickled class
of BaseGear's own)."""

SNAPSHOT_MAGIC = b"BGSNAP01"
_SNAPSHOT_HEADER = struct.Struct("<8sQI")
_NAMED = re.compile(r"^(snapshot|journal)-(\d{8})\.(pickle|log)$")
FRESH_HINT = (
    "Start with --fresh to discard the saved state (it is deleted), or run the BaseGear "
    "version that wrote it."
)


def format_stamp() -> dict[str, Any]:
    import moto

    return {
        "format": FORMAT_VERSION,
        "moto": moto.__version__,
        "python": f"{sys.version_info.major}.{sys.version_info.minor}",
    }


@dataclass(frozen=True)
class Generations:
    snapshots: tuple[int, ...]
    journals: tuple[int, ...]


class StateDir:
    """One state directory, locked for this process while open."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self._lock_fd: int | None = None

    # -- opening ----------------------------------------------------------------------------

    def open(self, *, fresh: bool) -> None:
        """Lock the directory, check (or write) FORMAT; ``fresh`` empties it first."""
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise StateError(
                f"cannot create the state directory {self.root}: {error}",
                hint="Pass --state-dir with a folder you can write to.",
            ) from error
        self._lock()
        try:
            if fresh:
                self._empty()
            self._check_format()
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        if self._lock_fd is not None:
            os.close(self._lock_fd)  # releases the flock
            self._lock_fd = None

    def _lock(self) -> None:
        fd = os.open(self.root / "lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 64).decode("ascii", "replace").strip() or "another process"
            os.close(fd)
            raise StateError(
                f"the state directory {self.root} is in use by another local cloud (pid {holder})",
                hint="Stop that cloud (gear down), or pass another --state-dir.",
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        self._lock_fd = fd

    def _empty(self) -> None:
        for path in self.root.iterdir():
            if _NAMED.match(path.name) or path.name == "FORMAT" or path.name.startswith(".tmp-"):
                path.unlink()
        fsync_directory(self.root)

    def _check_format(self) -> None:
        stamp_path = self.root / "FORMAT"
        wanted = format_stamp()
        if not stamp_path.exists():
            if self.generations().snapshots or self.generations().journals:
                raise StateError(
                    f"the state directory {self.root} has saved state but no FORMAT file",
                    hint=FRESH_HINT,
                )
            write_atomically(stamp_path, json.dumps(wanted, sort_keys=True).encode() + b"\n")
            return
        try:
            found = json.loads(stamp_path.read_text())
        except (OSError, ValueError) as error:
            raise StateError(
                f"the state directory {self.root} has an unreadable FORMAT file ({error})",
                hint=FRESH_HINT,
            ) from error
        if found != wanted:
            raise StateError(
                f"the state in {self.root} was saved by another version (state format "
                f"{found.get('format')}, moto {found.get('moto')}, Python {found.get('python')});"
                f" this BaseGear uses state format {wanted['format']}, moto {wanted['moto']}, "
                f"Python {wanted['python']}",
                hint=FRESH_HINT,
            )

    # -- what is there ----------------------------------------------------------------------

    def generations(self) -> Generations:
        snapshots: list[int] = []
        journals: list[int] = []
        for path in self.root.iterdir():
            match = _NAMED.match(path.name)
            if match:
                (snapshots if match[1] == "snapshot" else journals).append(int(match[2]))
        return Generations(tuple(sorted(snapshots)), tuple(sorted(journals)))

    def snapshot_path(self, generation: int) -> Path:
        return self.root / f"snapshot-{generation:08d}.pickle"

    def journal_path(self, generation: int) -> Path:
        return self.root / f"journal-{generation:08d}.log"

    # -- snapshots --------------------------------------------------------------------------

    def write_snapshot(self, generation: int, payload: bytes) -> None:
        header = _SNAPSHOT_HEADER.pack(SNAPSHOT_MAGIC, len(payload), zlib.crc32(payload))
        write_atomically(self.snapshot_path(generation), header, payload)

    def read_snapshot(self, generation: int) -> bytes:
        path = self.snapshot_path(generation)
        data = path.read_bytes()
        if len(data) >= _SNAPSHOT_HEADER.size:
            magic, length, crc = _SNAPSHOT_HEADER.unpack_from(data)
            payload = data[_SNAPSHOT_HEADER.size :]
            if magic == SNAPSHOT_MAGIC and length == len(payload) and zlib.crc32(payload) == crc:
                return payload
        raise StateError(f"the snapshot {path} is damaged (its checksum does not match)")

    def remove_before(self, generation: int) -> None:
        """Delete every snapshot and journal older than ``generation`` (and stray temp files)."""
        removed = False
        for path in self.root.iterdir():
            match = _NAMED.match(path.name)
            if (match and int(match[2]) < generation) or path.name.startswith(".tmp-"):
                path.unlink(missing_ok=True)
                removed = True
        if removed:
            fsync_directory(self.root)


def write_atomically(path: Path, *chunks: bytes) -> None:
    """``path`` holds exactly ``chunks`` afterwards, or (after a crash) what it held before."""
    temporary = path.with_name(f".tmp-{path.name}")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        for chunk in chunks:
            view = memoryview(chunk)
            while view:
                view = view[os.write(fd, view) :]
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(temporary, path)
    fsync_directory(path.parent)

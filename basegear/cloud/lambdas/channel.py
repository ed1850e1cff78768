"""The socket between the runtime and one worker: pickled messages, each sent as one frame — a
4-byte length, then the pickle — in a single write, and read back in as few reads as it takes
(one, for the usual invocation).

This is ``multiprocessing.connection``'s job done with less: an invocation's round trip is on
the path of every request, and that module's framing costs two reads and a Python-level
pickler per message (bench/http.py measured it).
"""

from __future__ import annotations

import os
import pickle
import struct
from typing import Any

_LENGTH = struct.Struct("!I")
_READ_SIZE = 256 * 1024


class Channel:
    """One end of a worker's socket (blocking); ``recv`` raises EOFError when the other end
    has closed it. Not shared between threads: one invocation at a time uses a worker."""

    def __init__(self, fd: int) -> None:
        self._fd = fd
        self._buffer = b""

    def fileno(self) -> int:
        return self._fd

    def send(self, message: object) -> None:
        data = pickle.dumps(message, pickle.HIGHEST_PROTOCOL)
        frame = _LENGTH.pack(len(data)) + data
        written = os.write(self._fd, frame)
        if written < len(frame):  # a large payload: the socket's buffer takes it in parts
            rest = memoryview(frame)[written:]
            while rest:
                rest = rest[os.write(self._fd, rest) :]

    def recv(self) -> Any:
        buffer = self._buffer or self._read()
        while len(buffer) < _LENGTH.size:
            buffer += self._read()
        end = _LENGTH.size + _LENGTH.unpack_from(buffer)[0]
        if len(buffer) < end:
            chunks, have = [buffer], len(buffer)
            while have < end:
                chunks.append(self._read())
                have += len(chunks[-1])
            buffer = b"".join(chunks)
        self._buffer = buffer[end:]
        return pickle.loads(memoryview(buffer)[_LENGTH.size : end])

    def close(self) -> None:
        if self._fd >= 0:
            fd, self._fd = self._fd, -1
            os.close(fd)

    def _read(self) -> bytes:
        data = os.read(self._fd, _READ_SIZE)
        if not data:
            raise EOFError("the worker's socket is closed")
        return data

"""The journal's record format: what one acknowledged write looks like on disk.

A journal file is a header followed by frames, one per record::

    file   := b"BGJRNL01" generation:u64 frame* zeros          (preallocated, journal.py)
    frame  := length:u32 crc:u32 seq:u64 payload[length]        (little-endian)
    crc    := crc32(seq bytes + payload)

and a payload is one record (:func:`encode`):

    payload := kind:u8 time:f64 body
    request := seed:u64 method path service region account has_action:u8 [action]
               count:u32 (name value)*  (query)   count:u32 (name value)*  (headers)  body:bytes
    image   := key data:bytes
    text    := length:u32 utf-8 (lone surrogates kept)      bytes := length:u64 raw

Guarantees the reader (:func:`scan`) gives:

- every record it returns is one that was written whole: a frame whose length runs past the
  end of the file, or whose checksum does not match, ends the scan there;
- it never raises on any input: a torn or corrupted tail (a crash in the middle of a write)
  just ends the list, and ``valid_length`` says where the good part stops.

A write is acknowledged only after its frame was written and fsynced, and frames are written
in order; so a frame that fails the check can only be one no client was told about, or one
after it (see journal.py).
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass

FILE_MAGIC = b"BGJRNL01"
FILE_HEADER = struct.Struct("<8sQ")
FRAME = struct.Struct("<IIQ")
MAX_PAYLOAD = 1 << 31  # a frame claiming more is damage, not a record

_REQUEST = 1
_IMAGE = 2
_U8 = struct.Struct("<B")
_U32 = struct.Struct("<I")
_U64 = struct.Struct("<Q")
_F64 = struct.Struct("<d")
_SEQ = struct.Struct("<Q")

Pairs = tuple[tuple[str, str], ...]


class CodecError(ValueError):
    """A payload that is not a record of this format."""


@dataclass(frozen=True)
class RequestRecord:
    """A request whose answer was acknowledged: replayed on start to redo its effect.
    ``seed`` is the seed of moto's random source while it was answered, so that replaying it
    draws the same ids; ``time`` is the wall-clock time it was answered at."""

    time: float
    seed: int
    method: str
    path: str
    service: str
    region: str
    account: str
    action: str | None
    query: Pairs
    headers: Pairs
    body: bytes


@dataclass(frozen=True)
class ImageRecord:
    """The whole state of one BaseGear component (e.g. the CloudFormation provider's stacks)
    after an acknowledged write to it, pickled; replaying it puts that state back."""

    time: float
    key: str
    data: bytes


Record = RequestRecord | ImageRecord


def _text(value: str) -> bytes:
    raw = value.encode("utf-8", "surrogatepass")
    return _U32.pack(len(raw)) + raw


def _pairs(pairs: Pairs) -> list[bytes]:
    parts = [_U32.pack(len(pairs))]
    for name, value in pairs:
        parts.append(_text(name))
        parts.append(_text(value))
    return parts


def encode(record: Record) -> bytes:
    if isinstance(record, ImageRecord):
        return b"".join(
            (
                _U8.pack(_IMAGE),
                _F64.pack(record.time),
                _text(record.key),
                _U64.pack(len(record.data)),
                record.data,
            )
        )
    parts = [
        _U8.pack(_REQUEST),
        _F64.pack(record.time),
        _U64.pack(record.seed),
        _text(record.method),
        _text(record.path),
        _text(record.service),
        _text(record.region),
        _text(record.account),
    ]
    if record.action is None:
        parts.append(_U8.pack(0))
    else:
        parts.append(_U8.pack(1))
        parts.append(_text(record.action))
    parts.extend(_pairs(record.query))
    parts.extend(_pairs(record.headers))
    parts.append(_U64.pack(len(record.body)))
    parts.append(record.body)
    return b"".join(parts)


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data = memoryview(data)
        self.offset = 0

    def take(self, size: int) -> bytes:
        end = self.offset + size
        if size < 0 or end > len(self.data):
            raise CodecError("record ends early")
        chunk = bytes(self.data[self.offset : end])
        self.offset = end
        return chunk

    def unpack(self, shape: struct.Struct) -> int | float:
        value: int | float = shape.unpack(self.take(shape.size))[0]
        return value

    def integer(self, shape: struct.Struct) -> int:
        return int(self.unpack(shape))

    def text(self) -> str:
        try:
            return self.take(self.integer(_U32)).decode("utf-8", "surrogatepass")
        except UnicodeDecodeError as error:
            raise CodecError(f"text is not UTF-8: {error}") from None

    def pairs(self) -> Pairs:
        count = self.integer(_U32)
        if count > len(self.data):  # each pair takes at least 8 bytes
            raise CodecError("pair count runs past the record")
        return tuple((self.text(), self.text()) for _ in range(count))

    def blob(self) -> bytes:
        return self.take(self.integer(_U64))

    def end(self) -> None:
        if self.offset != len(self.data):
            raise CodecError("bytes after the record")


def decode(payload: bytes) -> Record:
    """The record ``encode`` made ``payload`` from; CodecError for anything else."""
    reader = _Reader(payload)
    kind = reader.integer(_U8)
    time = float(reader.unpack(_F64))
    record: Record
    if kind == _IMAGE:
        record = ImageRecord(time=time, key=reader.text(), data=reader.blob())
    elif kind == _REQUEST:
        seed = reader.integer(_U64)
        method, path, service, region, account = (reader.text() for _ in range(5))
        action = reader.text() if reader.integer(_U8) else None
        record = RequestRecord(
            time=time,
            seed=seed,
            method=method,
            path=path,
            service=service,
            region=region,
            account=account,
            action=action,
            query=reader.pairs(),
            headers=reader.pairs(),
            body=reader.blob(),
        )
    else:
        raise CodecError(f"unknown record kind {kind}")
    reader.end()
    return record


def file_header(generation: int) -> bytes:
    return FILE_HEADER.pack(FILE_MAGIC, generation)


def frame(seq: int, payload: bytes) -> bytes:
    """One record as written: its length, checksum and sequence number, then the payload."""
    seq_bytes = _SEQ.pack(seq)
    crc = zlib.crc32(payload, zlib.crc32(seq_bytes))
    return FRAME.pack(len(payload), crc, seq) + payload


@dataclass(frozen=True)
class Scan:
    """What a journal file holds: its generation (None if even the header is torn), the
    records that were written whole, and the length of that good part."""

    generation: int | None
    records: tuple[tuple[int, Record], ...]
    valid_length: int
    damaged: bool  # bytes other than zeros after the good part (a torn or corrupted tail)


def scan(data: bytes) -> Scan:
    """Read a journal file's contents; stops at the first frame that is not whole and right."""
    if len(data) < FILE_HEADER.size:
        return Scan(None, (), 0, bool(data))
    magic, generation = FILE_HEADER.unpack_from(data)
    if magic != FILE_MAGIC:
        return Scan(None, (), 0, True)
    records = list(_frames(data, FILE_HEADER.size))
    end = records[-1][2] if records else FILE_HEADER.size
    return Scan(
        generation,
        tuple((seq, record) for seq, record, _ in records),
        end,
        data.count(b"\0", end) != len(data) - end,  # journal files are preallocated with zeros
    )


def _frames(data: bytes, offset: int) -> Iterator[tuple[int, Record, int]]:
    view = memoryview(data)
    while offset + FRAME.size <= len(data):
        length, crc, seq = FRAME.unpack_from(data, offset)
        start = offset + FRAME.size
        if length > MAX_PAYLOAD or start + length > len(data):
            return
        payload = view[start : start + length]
        if zlib.crc32(payload, zlib.crc32(_SEQ.pack(seq))) != crc:
            return
        try:
            record = decode(bytes(payload))
        except CodecError:
            return
        yield seq, record, start + length
        offset = start + length

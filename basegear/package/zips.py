"""Deterministic zip archives: the same files give the same bytes, so Lambda reports the same
``CodeSha256`` and CloudFormation sees no change.

Entries are written in code-point order of their names, with no folder entries (as the
Serverless Framework writes them), the DOS time 1980-01-01 00:00, Unix permissions 0644 or 0755
(0755 when the owner may execute the file, as the framework decides it), no extra fields and raw
deflate at a fixed level; an empty file is stored. The writer is ours rather than ``zipfile``'s
so that an entry can also be copied, still compressed, from another archive — the cached
requirements are compressed once and then only copied.

The format is the one in PKWARE's APPNOTE.TXT (local file header, central directory, end of
central directory, and the ZIP64 end records when there are more than 65,535 entries).
"""

from __future__ import annotations

import os
import struct
import zipfile
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from basegear.errors import GearError

LEVEL = 6  # zlib's default, as the framework's archiver uses
CHUNK = 1 << 20
FILE_MODE = 0o100644
EXECUTABLE_MODE = 0o100755

_DOS_TIME = 0  # 00:00:00
_DOS_DATE = (0 << 9) | (1 << 5) | 1  # 1980-01-01
_STORED, _DEFLATED = 0, 8
_VERSION = 20  # 2.0: deflate
_VERSION_ZIP64 = 45
_MADE_BY = (3 << 8) | _VERSION  # Unix, so readers honour the permission bits
_UTF8_NAME = 0x800
_MAX_32 = 0xFFFFFFFF
_MAX_16 = 0xFFFF

_LOCAL = struct.Struct("<IHHHHHIIIHH")
_CENTRAL = struct.Struct("<IHHHHHHIIIHHHHHII")
_END = struct.Struct("<IHHHHIIH")
_END64 = struct.Struct("<IQHHIIQQQQ")
_LOCATOR64 = struct.Struct("<IIQI")


@dataclass(frozen=True)
class FileSource:
    """A file on disk, compressed when written."""

    path: Path
    size: int
    executable: bool


@dataclass(frozen=True)
class ZippedSource:
    """An entry of an archive BaseGear wrote, copied as it is (still compressed)."""

    archive: Path
    header_offset: int  # of its local file header
    compressed_size: int
    size: int
    crc: int
    method: int
    mode: int


Source = FileSource | ZippedSource


@dataclass(frozen=True)
class ZipStats:
    files: int
    unzipped_size: int


@dataclass(frozen=True)
class _Written:
    name: bytes
    flags: int
    method: int
    crc: int
    compressed_size: int
    size: int
    mode: int
    offset: int


def write_zip(path: Path, entries: Mapping[str, Source]) -> ZipStats:
    """Write ``entries`` (name in the archive → source) to ``path``, replacing it atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    written: list[_Written] = []
    archives: dict[Path, BinaryIO] = {}
    try:
        with partial.open("wb") as out:
            for name in sorted(entries):
                source = entries[name]
                if isinstance(source, FileSource):
                    written.append(_write_file(out, name, source))
                else:
                    if source.archive not in archives:
                        archives[source.archive] = source.archive.open("rb")
                    written.append(_copy_entry(out, name, source, archives[source.archive]))
            _write_central_directory(out, written)
    except OSError as exc:
        partial.unlink(missing_ok=True)
        raise GearError(
            f"cannot write {path}: {exc.strerror or exc}",
            hint="check that the output folder is writable and the disk has room",
        ) from exc
    finally:
        for handle in archives.values():
            handle.close()
    partial.replace(path)
    return ZipStats(len(written), sum(entry.size for entry in written))


def zipped_entries(archive: Path) -> dict[str, ZippedSource]:
    """Every entry of an archive BaseGear wrote (a cached requirements set), ready to be copied.

    The central directory is read in one piece and parsed here rather than by ``zipfile``, which
    takes several times longer on the thousands of entries a requirements set can have."""
    try:
        with archive.open("rb") as handle:
            count, size, offset = _directory_place(handle)
            handle.seek(offset)
            directory = handle.read(size)
    except OSError as exc:
        raise _unreadable(archive, exc.strerror or str(exc)) from exc
    entries: dict[str, ZippedSource] = {}
    position = 0
    for _ in range(count):
        if len(directory) < position + _CENTRAL.size:
            raise _unreadable(archive, "its central directory is cut short")
        (signature, _, _, flags, method, _, _, crc, compressed, length, name_length,
         extra_length, comment_length, _, _, attributes, header_offset) = _CENTRAL.unpack_from(
            directory, position
        )  # fmt: skip
        if signature != 0x02014B50 or _MAX_32 in (compressed, length, header_offset):
            raise _unreadable(archive, "it is not an archive BaseGear wrote")
        start = position + _CENTRAL.size
        raw_name = directory[start : start + name_length]
        name = raw_name.decode("utf-8" if flags & _UTF8_NAME else "cp437")
        position = start + name_length + extra_length + comment_length
        if name.endswith("/"):
            continue
        mode = attributes >> 16
        entries[name] = ZippedSource(
            archive,
            header_offset,
            compressed,
            length,
            crc,
            method,
            mode if mode & 0o170000 == 0o100000 else FILE_MODE,
        )
    return entries


def zip_stats(archive: Path) -> ZipStats:
    """File count and unzipped size of any zip archive (a prebuilt ``artifact``)."""
    try:
        with zipfile.ZipFile(archive) as source:
            files = [info for info in source.infolist() if not info.is_dir()]
    except (OSError, zipfile.BadZipFile) as exc:
        raise _unreadable(archive, str(exc)) from exc
    return ZipStats(len(files), sum(info.file_size for info in files))


def _directory_place(handle: BinaryIO) -> tuple[int, int, int]:
    """Entry count, size and offset of the central directory, from the end records."""
    end = handle.seek(0, os.SEEK_END)
    tail_length = min(end, _END.size + _MAX_16)  # the end record, then a comment of any size
    handle.seek(end - tail_length)
    tail = handle.read(tail_length)
    position = tail.rfind(b"PK\x05\x06")
    if position < 0:
        raise OSError(0, "it has no end of central directory record")
    _, _, _, _, count, size, offset, _ = _END.unpack_from(tail, position)
    if count == _MAX_16 and position >= _LOCATOR64.size:
        signature, _, record, _ = _LOCATOR64.unpack_from(tail, position - _LOCATOR64.size)
        if signature == 0x07064B50:
            handle.seek(record)
            fields = _END64.unpack(handle.read(_END64.size))
            count, size, offset = fields[7], fields[8], fields[9]
    return count, size, offset


def _unreadable(archive: Path, reason: str) -> GearError:
    return GearError(
        f"cannot read the zip archive {archive}: {reason}",
        hint="give a valid .zip file; a damaged cache entry can be deleted and is rebuilt",
    )


def _write_file(out: BinaryIO, name: str, source: FileSource) -> _Written:
    encoded, flags = _encode(name)
    offset = out.tell()
    mode = EXECUTABLE_MODE if source.executable else FILE_MODE
    try:
        handle = source.path.open("rb")
    except OSError as exc:
        raise GearError(
            f"cannot read {source.path}: {exc.strerror or exc}",
            hint="check the file's permissions, or leave it out with a '!' pattern",
        ) from exc
    with handle:
        first = handle.read(CHUNK)
        if not first:
            out.write(_local_header(encoded, flags, _STORED))
            return _Written(encoded, flags, _STORED, 0, 0, 0, mode, offset)
        out.write(_local_header(encoded, flags, _DEFLATED))
        compressor = zlib.compressobj(LEVEL, zlib.DEFLATED, -15)
        crc = size = compressed = 0
        chunk = first
        while chunk:
            crc = zlib.crc32(chunk, crc)
            size += len(chunk)
            data = compressor.compress(chunk)
            compressed += len(data)
            out.write(data)
            chunk = handle.read(CHUNK)
        data = compressor.flush()
        compressed += len(data)
        out.write(data)
    if size > _MAX_32 or out.tell() > _MAX_32:
        raise GearError(
            f"{source.path} makes the package larger than 4 GiB",
            hint="Lambda allows 250 MB unzipped for a function and its layers",
        )
    end = out.tell()
    out.seek(offset + 14)
    out.write(struct.pack("<III", crc, compressed, size))
    out.seek(end)
    return _Written(encoded, flags, _DEFLATED, crc, compressed, size, mode, offset)


def _copy_entry(out: BinaryIO, name: str, source: ZippedSource, archive: BinaryIO) -> _Written:
    encoded, flags = _encode(name)
    offset = out.tell()
    if offset + source.compressed_size > _MAX_32:
        raise GearError(
            f"{name} makes the package larger than 4 GiB",
            hint="Lambda allows 250 MB unzipped for a function and its layers",
        )
    out.write(
        _local_header(
            encoded, flags, source.method, source.crc, source.compressed_size, source.size
        )
    )
    archive.seek(source.header_offset)
    header = archive.read(_LOCAL.size)
    if len(header) < _LOCAL.size or header[:4] != b"PK\x03\x04":
        raise _unreadable(source.archive, f"the entry {name} has no local header")
    name_length, extra_length = struct.unpack_from("<HH", header, 26)
    archive.seek(name_length + extra_length, os.SEEK_CUR)
    remaining = source.compressed_size
    while remaining:
        data = archive.read(min(CHUNK, remaining))
        if not data:
            raise GearError(
                f"{source.archive} ends before its entry {name}",
                hint="delete the archive so that BaseGear builds it again",
            )
        out.write(data)
        remaining -= len(data)
    return _Written(
        encoded,
        flags,
        source.method,
        source.crc,
        source.compressed_size,
        source.size,
        source.mode,
        offset,
    )


def _write_central_directory(out: BinaryIO, written: list[_Written]) -> None:
    start = out.tell()
    for entry in written:
        out.write(_central_header(entry))
    end = out.tell()
    if end > _MAX_32:
        raise GearError(
            "the package is larger than 4 GiB",
            hint="Lambda allows 250 MB unzipped for a function and its layers",
        )
    count = len(written)
    if count > _MAX_16:
        size = end - start
        out.write(
            _END64.pack(
                0x06064B50,
                _END64.size - 12,
                _MADE_BY,
                _VERSION_ZIP64,
                0,
                0,
                count,
                count,
                size,
                start,
            )
        )
        out.write(_LOCATOR64.pack(0x07064B50, 0, end, 1))
        count = _MAX_16
    out.write(_END.pack(0x06054B50, 0, 0, count, count, end - start, start, 0))


def _local_header(
    name: bytes, flags: int, method: int, crc: int = 0, compressed: int = 0, size: int = 0
) -> bytes:
    """A local file header; the writer patches CRC and sizes (at offset 14) once it knows them."""
    header = _LOCAL.pack(
        0x04034B50,
        _VERSION,
        flags,
        method,
        _DOS_TIME,
        _DOS_DATE,
        crc,
        compressed,
        size,
        len(name),
        0,
    )
    return header + name


def _central_header(entry: _Written) -> bytes:
    header = _CENTRAL.pack(
        0x02014B50,
        _MADE_BY,
        _VERSION,
        entry.flags,
        entry.method,
        _DOS_TIME,
        _DOS_DATE,
        entry.crc,
        entry.compressed_size,
        entry.size,
        len(entry.name),
        0,  # extra field length
        0,  # comment length
        0,  # disk number
        0,  # internal attributes
        entry.mode << 16,  # external attributes: Unix mode in the high half
        entry.offset,
    )
    return header + entry.name


def _encode(name: str) -> tuple[bytes, int]:
    """The name as bytes, with the UTF-8 flag when it is not plain ASCII."""
    if name.isascii():
        return name.encode("ascii"), 0
    return name.encode("utf-8"), _UTF8_NAME

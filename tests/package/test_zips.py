"""Tests for basegear.package.zips: archives that any zip reader accepts, and the same bytes for
the same files whatever their timestamps, permissions beyond the executable bit, or the order
they were given in."""

from __future__ import annotations

import hashlib
import os
import zipfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from basegear.errors import GearError
from basegear.package.zips import FileSource, write_zip, zip_stats, zipped_entries


def source(path: Path, data: bytes, mode: int = 0o644) -> FileSource:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    path.chmod(mode)
    return FileSource(path, len(data), bool(mode & 0o100))


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_entries_are_sorted_dated_1980_with_fixed_permissions(tmp_path: Path) -> None:
    entries = {
        "src/app.py": source(tmp_path / "app.py", b"print('hi')\n" * 50, 0o600),
        "bin/run": source(tmp_path / "run", b"#!/bin/sh\n", 0o775),
        "empty.py": source(tmp_path / "empty.py", b""),
        "données/é.txt": source(tmp_path / "e.txt", "é".encode()),
    }
    stats = write_zip(tmp_path / "out.zip", entries)
    assert (stats.files, stats.unzipped_size) == (4, 600 + 10 + 0 + 2)
    with zipfile.ZipFile(tmp_path / "out.zip") as archive:
        assert archive.testzip() is None
        infos = archive.infolist()
        assert [info.filename for info in infos] == sorted(entries)
        assert {info.date_time for info in infos} == {(1980, 1, 1, 0, 0, 0)}
        modes = {info.filename: info.external_attr >> 16 for info in infos}
        assert modes == {
            "bin/run": 0o100755,
            "données/é.txt": 0o100644,
            "empty.py": 0o100644,
            "src/app.py": 0o100644,
        }
        methods = {info.filename: info.compress_type for info in infos}
        assert methods["empty.py"] == zipfile.ZIP_STORED
        assert methods["src/app.py"] == zipfile.ZIP_DEFLATED
        assert archive.read("src/app.py") == b"print('hi')\n" * 50
        assert archive.read("données/é.txt") == "é".encode()
        assert all(not info.extra for info in infos)


def test_the_same_files_give_the_same_bytes(tmp_path: Path) -> None:
    first = {
        "b.py": source(tmp_path / "one" / "b.py", b"b" * 5000),
        "a/x.txt": source(tmp_path / "one" / "x.txt", b"x"),
    }
    write_zip(tmp_path / "first.zip", first)
    second_dir = tmp_path / "two"
    second = {
        "a/x.txt": source(second_dir / "x.txt", b"x", 0o600),
        "b.py": source(second_dir / "b.py", b"b" * 5000, 0o664),
    }
    os.utime(second_dir / "b.py", (1, 1))
    write_zip(tmp_path / "second.zip", second)
    assert digest(tmp_path / "first.zip") == digest(tmp_path / "second.zip")


def test_copied_entries_keep_their_compressed_bytes(tmp_path: Path) -> None:
    payload = os.urandom(3000) + b"z" * 100_000
    original = {
        "pkg/mod.py": source(tmp_path / "mod.py", payload),
        "pkg/e": source(tmp_path / "e", b""),
    }
    write_zip(tmp_path / "cache.zip", original)
    copied = {
        f"python/{name}": entry for name, entry in zipped_entries(tmp_path / "cache.zip").items()
    }
    copied["python/own.py"] = source(tmp_path / "own.py", b"own")
    write_zip(tmp_path / "layer.zip", copied)
    with zipfile.ZipFile(tmp_path / "layer.zip") as layer:
        assert layer.testzip() is None
        assert layer.namelist() == ["python/own.py", "python/pkg/e", "python/pkg/mod.py"]
        assert layer.read("python/pkg/mod.py") == payload
        with zipfile.ZipFile(tmp_path / "cache.zip") as cache:
            assert (
                layer.getinfo("python/pkg/mod.py").compress_size
                == cache.getinfo("pkg/mod.py").compress_size
            )
    assert zip_stats(tmp_path / "layer.zip").unzipped_size == len(payload) + 3


def test_more_than_65535_entries_use_zip64_end_records(tmp_path: Path) -> None:
    write_zip(tmp_path / "one.zip", {"e": source(tmp_path / "e", b"")})
    empty = zipped_entries(tmp_path / "one.zip")["e"]
    write_zip(tmp_path / "many.zip", {f"f/{index:05}": empty for index in range(65_600)})
    with zipfile.ZipFile(tmp_path / "many.zip") as archive:
        assert len(archive.infolist()) == 65_600
    assert len(zipped_entries(tmp_path / "many.zip")) == 65_600


def test_an_unreadable_file_is_a_gear_error_and_leaves_no_partial_zip(tmp_path: Path) -> None:
    missing = FileSource(tmp_path / "gone.py", 3, False)
    with pytest.raises(GearError, match=r"cannot read .*gone\.py"):
        write_zip(tmp_path / "out.zip", {"gone.py": missing})
    assert not (tmp_path / "out.zip").exists()


def test_a_file_that_is_not_a_zip_is_a_gear_error(tmp_path: Path) -> None:
    (tmp_path / "fake.zip").write_text("not a zip")
    with pytest.raises(GearError, match="cannot read the zip archive"):
        zipped_entries(tmp_path / "fake.zip")


CONTENTS = st.dictionaries(
    st.from_regex(r"[a-z]{1,6}(/[a-z_.]{1,6}){0,2}", fullmatch=True),
    st.binary(max_size=2000),
    min_size=1,
    max_size=8,
)


@settings(max_examples=30, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(CONTENTS)
def test_any_files_read_back_unchanged(tmp_path: Path, contents: dict[str, bytes]) -> None:
    names = [
        name for name in contents if not any(other.startswith(name + "/") for other in contents)
    ]
    folder = tmp_path / hashlib.sha256(repr(sorted(contents)).encode()).hexdigest()[:12]
    entries = {
        name: source(folder / f"{index}.bin", contents[name]) for index, name in enumerate(names)
    }
    write_zip(folder / "out.zip", entries)
    with zipfile.ZipFile(folder / "out.zip") as archive:
        assert archive.testzip() is None
        assert {name: archive.read(name) for name in archive.namelist()} == {
            name: contents[name] for name in names
        }

"""The state directory (basegear/cloud/state/files.py): one cloud at a time, a directory from
another version refused with a hint, ``--fresh`` empties it, snapshots written atomically and
checked when read."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from basegear.cloud.state.errors import StateError
from basegear.cloud.state.files import StateDir, format_stamp, write_atomically


def opened(root: Path, *, fresh: bool = False) -> StateDir:
    directory = StateDir(root)
    directory.open(fresh=fresh)
    return directory


def test_a_new_directory_gets_a_format_stamp(tmp_path: Path) -> None:
    directory = opened(tmp_path / "state")
    assert json.loads((tmp_path / "state" / "FORMAT").read_text()) == format_stamp()
    directory.close()


def test_a_directory_from_another_version_is_refused_with_a_hint(tmp_path: Path) -> None:
    opened(tmp_path).close()
    stamp = {**format_stamp(), "moto": "4.0.0"}
    (tmp_path / "FORMAT").write_text(json.dumps(stamp))
    with pytest.raises(StateError, match=r"moto 4\.0\.0") as raised:
        opened(tmp_path)
    assert raised.value.hint is not None and "--fresh" in raised.value.hint
    opened(tmp_path, fresh=True).close()  # --fresh starts over
    assert json.loads((tmp_path / "FORMAT").read_text()) == format_stamp()


def test_saved_state_without_a_format_stamp_is_refused(tmp_path: Path) -> None:
    (tmp_path / "snapshot-00000001.pickle").write_bytes(b"whatever")
    with pytest.raises(StateError, match="no FORMAT"):
        opened(tmp_path)


def test_fresh_removes_snapshots_and_journals_only(tmp_path: Path) -> None:
    directory = opened(tmp_path)
    directory.write_snapshot(3, b"state")
    (tmp_path / "journal-00000003.log").write_bytes(b"records")
    (tmp_path / "notes.txt").write_text("mine")
    directory.close()
    directory = opened(tmp_path, fresh=True)
    assert directory.generations().snapshots == ()
    assert directory.generations().journals == ()
    assert (tmp_path / "notes.txt").exists()
    directory.close()


def test_only_one_cloud_uses_a_directory(tmp_path: Path) -> None:
    first = opened(tmp_path)
    with pytest.raises(StateError, match="in use") as raised:
        opened(tmp_path)
    assert raised.value.hint is not None and "--state-dir" in raised.value.hint
    first.close()
    opened(tmp_path).close()  # released


def test_a_snapshot_reads_back_and_a_damaged_one_is_reported(tmp_path: Path) -> None:
    directory = opened(tmp_path)
    directory.write_snapshot(2, b"payload" * 100)
    assert directory.read_snapshot(2) == b"payload" * 100
    path = directory.snapshot_path(2)
    data = bytearray(path.read_bytes())
    data[-1] ^= 1
    path.write_bytes(bytes(data))
    with pytest.raises(StateError, match="damaged"):
        directory.read_snapshot(2)
    directory.close()


def test_remove_before_keeps_the_newest_generation(tmp_path: Path) -> None:
    directory = opened(tmp_path)
    for generation in (1, 2, 3):
        directory.write_snapshot(generation, b"s")
        (tmp_path / f"journal-{generation:08d}.log").write_bytes(b"j")
    (tmp_path / ".tmp-snapshot-00000004.pickle").write_bytes(b"torn")
    directory.remove_before(3)
    assert directory.generations().snapshots == (3,)
    assert directory.generations().journals == (3,)
    assert not (tmp_path / ".tmp-snapshot-00000004.pickle").exists()
    directory.close()


def test_write_atomically_replaces_the_whole_file(tmp_path: Path) -> None:
    target = tmp_path / "file"
    target.write_bytes(b"old")
    write_atomically(target, b"new ", b"content")
    assert target.read_bytes() == b"new content"
    assert sorted(path.name for path in tmp_path.iterdir()) == ["file"]

"""The journal (basegear/cloud/state/journal.py): records land in order with consecutive sequence
numbers, durable when their commit says so, shared flushes for concurrent writers (threads and
event-loop tasks), new files per generation, growth past the preallocated zeros."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from basegear.cloud.state.codec import ImageRecord, encode, scan
from basegear.cloud.state.journal import Journal, JournalError


def path_for(folder: Path) -> Callable[[int], Path]:
    return lambda generation: folder / f"journal-{generation}.log"


def payload(index: int) -> bytes:
    return encode(ImageRecord(float(index), f"key-{index}", b"x" * (index % 50)))


def keys(path: Path) -> list[str]:
    found = scan(path.read_bytes())
    assert not found.damaged
    return [record.key for _, record in found.records if isinstance(record, ImageRecord)]


def test_a_synced_record_is_in_the_file(tmp_path: Path) -> None:
    journal = Journal(path_for(tmp_path), 1)
    commit = journal.append(payload(1))
    journal.sync(commit)
    assert commit.done
    assert keys(tmp_path / "journal-1.log") == ["key-1"]
    journal.close()


def test_concurrent_threads_get_every_record_once_in_sequence_order(tmp_path: Path) -> None:
    journal = Journal(path_for(tmp_path), 1, first_seq=100, chunk=4096)  # grows many times
    order: list[int] = []
    lock = threading.Lock()

    def write(worker: int) -> None:
        for index in range(50):
            number = worker * 1000 + index
            with lock:  # append order is sequence order; remember it
                commit = journal.append(payload(number))
                order.append(number)
            journal.sync(commit)

    threads = [threading.Thread(target=write, args=(worker,)) for worker in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    journal.close()
    found = scan((tmp_path / "journal-1.log").read_bytes())
    assert [seq for seq, _ in found.records] == list(range(100, 300))
    assert keys(tmp_path / "journal-1.log") == [f"key-{n}" for n in order]


def test_event_loop_tasks_share_flushes_and_each_is_durable_when_awaited(tmp_path: Path) -> None:
    journal = Journal(path_for(tmp_path), 1)
    durable_counts: list[int] = []

    async def request(index: int) -> None:
        commit = journal.append(payload(index))
        await journal.sync_async(commit)
        assert commit.done
        durable_counts.append(len(keys(tmp_path / "journal-1.log")))

    async def main() -> None:
        await asyncio.gather(*(request(index) for index in range(20)))

    asyncio.run(main())
    journal.close()
    assert keys(tmp_path / "journal-1.log") == [f"key-{index}" for index in range(20)]
    assert all(count >= 1 for count in durable_counts)
    assert min(durable_counts) == 20  # all twenty were appended before the one shared flush


def test_a_thread_and_the_loop_wait_on_each_others_flushes(tmp_path: Path) -> None:
    journal = Journal(path_for(tmp_path), 1)
    stop = threading.Event()

    def background() -> None:
        index = 1000
        while not stop.is_set():
            journal.sync(journal.append(payload(index)))
            index += 1

    thread = threading.Thread(target=background)
    thread.start()

    async def main() -> None:
        for index in range(200):
            await journal.sync_async(journal.append(payload(index)))

    try:
        asyncio.run(main())
    finally:
        stop.set()
        thread.join()
    journal.close()
    written = keys(tmp_path / "journal-1.log")
    assert [key for key in written if int(key.split("-")[1]) < 1000] == [
        f"key-{index}" for index in range(200)
    ]


def test_rotate_starts_the_next_generations_file(tmp_path: Path) -> None:
    journal = Journal(path_for(tmp_path), 1)
    before = journal.append(payload(1))
    journal.rotate(2)
    assert before.done  # rotation flushed what was queued
    journal.sync(journal.append(payload(2)))
    assert (journal.generation, journal.records, journal.last_seq) == (2, 1, 2)
    journal.close()
    assert keys(tmp_path / "journal-1.log") == ["key-1"]
    assert keys(tmp_path / "journal-2.log") == ["key-2"]
    assert scan((tmp_path / "journal-2.log").read_bytes()).generation == 2


def test_a_closed_journal_refuses_appends(tmp_path: Path) -> None:
    journal = Journal(path_for(tmp_path), 1)
    queued = journal.append(payload(1))
    journal.close()
    assert queued.done  # close flushed it
    with pytest.raises(JournalError):
        journal.append(payload(2))


def test_a_record_larger_than_the_preallocated_space_grows_the_file(tmp_path: Path) -> None:
    journal = Journal(path_for(tmp_path), 1, chunk=1024)
    big = encode(ImageRecord(1.0, "big", b"b" * 10_000))
    journal.sync(journal.append(big))
    journal.sync(journal.append(payload(2)))
    journal.close()
    assert keys(tmp_path / "journal-1.log") == ["big", "key-2"]
    assert (tmp_path / "journal-1.log").stat().st_size >= 10_000 + 1024

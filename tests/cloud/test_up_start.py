"""``gear up``'s start: the cycle collector waits until the cloud is ready."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from basegear.cloud.up import collecting_after


@pytest.fixture(autouse=True)
def _unfrozen() -> Iterator[None]:
    yield
    gc.unfreeze()  # what collecting_after froze is this test process's, not a cloud's


def test_collection_is_off_while_starting_and_back_on_after() -> None:
    assert gc.isenabled()
    with collecting_after():
        assert not gc.isenabled()
        objects: list[list[int]] = [[] for _ in range(10)]
    assert gc.isenabled()
    assert gc.get_freeze_count() > len(objects)  # what the start made, out of later collections


def test_collection_comes_back_on_after_a_failed_start() -> None:
    with pytest.raises(RuntimeError), collecting_after():
        raise RuntimeError("deploy failed")
    assert gc.isenabled()


def test_collection_left_off_if_it_was_off() -> None:
    gc.disable()
    try:
        with collecting_after():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()

"""``Attached``: what a moto patch hands its work to — one per local cloud in the process (moto's
state is per process, so tests may start a second cloud beside the session's). The one attached
last and not yet detached is current."""

from __future__ import annotations

import threading
from typing import Generic, TypeVar

T = TypeVar("T")


class Attached(Generic[T]):
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._items: list[T] = []

    def attach(self, item: T) -> None:
        with self._lock:
            self._items.append(item)

    def detach(self, item: T) -> None:
        with self._lock:
            if item in self._items:
                self._items.remove(item)

    def current(self) -> T | None:
        with self._lock:
            return self._items[-1] if self._items else None

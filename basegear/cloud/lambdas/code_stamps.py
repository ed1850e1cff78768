"""What an execution environment loaded, as stat stamps, so that it can tell when the code on
disk has changed since: ``gear up`` serves a function's code from its folder, and an edit must
reach the next invocation.

The worker checks before each invocation, in its own process, so the check costs the runtime
nothing; a stale worker answers ``("stale",)`` instead of running the handler, and the runtime
retires the version's workers and runs the invocation on a new one.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable


class CodeStamps:
    """``roots``: the code and layer folders. A module loaded from under one of them that is
    edited, or a file added to or removed from a root folder itself, makes the stamps stale."""

    def __init__(self, roots: Iterable[str]) -> None:
        self._roots = tuple(os.path.join(root, "") for root in roots)
        self._files: dict[str, tuple[int, int]] = {}
        self._folders: dict[str, int] = {}
        self._modules_seen = 0

    def take(self) -> None:
        """Stamp the modules loaded so far (call after the handler is imported, and again when
        it imports more): a folder's own stamp is taken again too, since a first import may
        have written ``__pycache__`` into it."""
        if len(sys.modules) == self._modules_seen:
            return
        self._modules_seen = len(sys.modules)
        for module in list(sys.modules.values()):
            path = getattr(module, "__file__", None)
            if path and path.startswith(self._roots) and path not in self._files:
                self._files[path] = _stamp(path)
        self._folders = {root: _stamp(root)[0] for root in self._roots}

    def stale(self) -> bool:
        for root, seen in self._folders.items():
            if _stamp(root)[0] != seen:
                return True
        return any(_stamp(path) != seen for path, seen in self._files.items())


def _stamp(path: str) -> tuple[int, int]:
    """(mtime in ns, size); (0, -1) for a file that is gone."""
    try:
        st = os.stat(path)
    except OSError:
        return (0, -1)
    return (st.st_mtime_ns, st.st_size)

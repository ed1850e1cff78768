"""The files a package takes from a folder: every file the patterns select, found by walking the
folder as the framework's globby does (``follow: true``): a symlink inside the service folder is
followed and its file stored as a regular file. Nothing from outside the service folder may
enter a package, so a selected symlink that leads out of it is an error, never a silent copy."""

from __future__ import annotations

import os
from pathlib import Path

from basegear.errors import GearError
from basegear.package.patterns import Selection
from basegear.package.zips import FileSource


def select_files(folder: Path, boundary: Path, selection: Selection) -> dict[str, FileSource]:
    """The selected files under ``folder`` by their path relative to it (with '/').

    ``boundary`` is the service folder: no selected file may resolve outside it."""
    walk = _Walk(folder, boundary, selection)
    walk.run()
    return walk.files


class _Walk:
    def __init__(self, folder: Path, boundary: Path, selection: Selection) -> None:
        self.folder = folder
        self.boundary = os.path.realpath(boundary)
        self.selection = selection
        self.files: dict[str, FileSource] = {}
        real_folder = os.path.realpath(folder)
        # The folder's own place in the service folder, for messages: "layers/x/python/link".
        inside = os.path.relpath(real_folder, self.boundary)
        self.shown_prefix = "" if inside == "." else inside.replace(os.sep, "/") + "/"

    def run(self) -> None:
        real = os.path.realpath(self.folder)
        # (folder on disk, its path in the package with a trailing '/', real path, real paths
        # of the folders above it — a symlink back to one of those is a loop)
        stack: list[tuple[str, str, str, frozenset[str]]] = [
            (str(self.folder), "", real, frozenset({real}))
        ]
        while stack:
            directory, prefix, real, ancestors = stack.pop()
            try:
                entries = list(os.scandir(directory))
            except OSError as exc:
                raise GearError(
                    f"cannot list {directory}: {exc.strerror or exc}",
                    hint="check the folder's permissions, or leave it out with a '!' pattern",
                ) from exc
            for entry in entries:
                path = prefix + entry.name
                if entry.is_symlink():
                    stack.extend(self._link(entry, path, ancestors))
                elif entry.is_dir(follow_symlinks=False):
                    if not self.selection.drops_everything_under(path):
                        below = os.path.join(real, entry.name)
                        stack.append((entry.path, path + "/", below, ancestors | {below}))
                elif entry.is_file(follow_symlinks=False) and self.selection.selects(path):
                    self._add(path, entry.path, entry.stat(follow_symlinks=False))

    def _link(
        self, entry: os.DirEntry[str], path: str, ancestors: frozenset[str]
    ) -> list[tuple[str, str, str, frozenset[str]]]:
        target = os.path.realpath(entry.path)
        if os.path.isdir(target):
            if self.selection.drops_everything_under(path):
                return []
            self._check_inside(path, target, folder=True)
            if target in ancestors:
                raise GearError(
                    f"{self.shown_prefix}{path} is a symlink to a folder that contains it "
                    f"({target}): following it would never end",
                    hint=f"remove the link or leave it out with the pattern '!{path}/**'",
                )
            return [(entry.path, path + "/", target, ancestors | {target})]
        if not self.selection.selects(path):
            return []
        if not os.path.exists(target):
            raise GearError(
                f"{self.shown_prefix}{path} is a symlink to {target}, which does not exist",
                hint=f"fix or remove the link, or leave it out with the pattern '!{path}'",
            )
        self._check_inside(path, target, folder=False)
        self._add(path, entry.path, os.stat(target))
        return []

    def _check_inside(self, path: str, target: str, *, folder: bool) -> None:
        if target == self.boundary or target.startswith(self.boundary + os.sep):
            return
        pattern = f"!{path}/**" if folder else f"!{path}"
        raise GearError(
            f"{self.shown_prefix}{path} is a symlink to {target}, outside the service folder "
            f"{self.boundary}: BaseGear never packages files from outside the service folder",
            hint=f"copy what the package needs into the service folder, or leave the link out "
            f"with the pattern '{pattern}'",
        )

    def _add(self, path: str, location: str, stat: os.stat_result) -> None:
        self.files[path] = FileSource(Path(location), stat.st_size, bool(stat.st_mode & 0o100))

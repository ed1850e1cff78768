"""Node.js development dependencies, left out of every package as the framework's
``package.excludeDevDependencies`` (on by default) leaves them out: the packages installed in
``node_modules`` only for ``devDependencies`` — the Serverless Framework and its plugins, in a
Python service — with their ``.bin`` links (lib/plugins/package/lib/zip-service.js,
``excludeNodeDevDependencies``).

The framework asks ``npm ls`` for the dev and the production trees; BaseGear reads the same
trees from the installed ``package.json`` files, resolving each dependency as Node does: in the
nearest ``node_modules`` folder, from the requiring package up to the service folder. Only the
service folder's own package.json is read (the framework also reads nested ones).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

_RUNTIME_SECTIONS = ("dependencies", "optionalDependencies", "peerDependencies")


def dev_dependency_excludes(root: Path) -> list[str]:
    """The dev-only package folders under ``root/node_modules`` and their ``.bin`` links, as
    paths relative to ``root`` (the framework excludes ``<folder>/**`` and each link)."""
    manifest = _read(root / "package.json")
    if manifest is None or not (root / "node_modules").is_dir():
        return []
    production = _installed(root, _names(manifest, _RUNTIME_SECTIONS))
    development = _installed(root, _names(manifest, ("devDependencies",)))
    patterns: list[str] = []
    for folder in sorted(development - production):
        relative = folder.relative_to(root).as_posix()
        patterns.append(relative)
        parent = relative.rsplit("/", 1)[0]
        patterns += [f"{parent}/.bin/{name}" for name in _bins(folder, relative)]
    return patterns


def _installed(root: Path, names: Iterable[str]) -> set[Path]:
    """The package folders ``names`` need, with everything they need in turn."""
    found: set[Path] = set()
    pending = [(root, name) for name in names]
    while pending:
        base, name = pending.pop()
        folder = _resolve(root, base, name)
        if folder is None or folder in found:
            continue
        found.add(folder)
        manifest = _read(folder / "package.json") or {}
        pending += [(folder, dependency) for dependency in _names(manifest, _RUNTIME_SECTIONS)]
    return found


def _resolve(root: Path, base: Path, name: str) -> Path | None:
    """Node's lookup: ``base/node_modules/name``, then the same from each package folder
    above ``base``, up to ``root``."""
    folder = base
    while True:
        candidate = folder / "node_modules" / name
        if os.path.isdir(candidate):
            return candidate
        if folder == root:
            return None
        folder = folder.parent
        while folder != root and (folder.name == "node_modules" or folder.name.startswith("@")):
            folder = folder.parent


def _bins(folder: Path, relative: str) -> list[str]:
    """The executables a package links into ``.bin``: the keys of its ``bin``, or its own name
    when ``bin`` is one path."""
    manifest = _read(folder / "package.json") or {}
    declared = manifest.get("bin")
    if isinstance(declared, dict):
        return [str(name) for name in declared]
    if isinstance(declared, str):
        return [relative.rsplit("/", 1)[-1]]
    return []


def _names(manifest: dict[str, Any], sections: Iterable[str]) -> list[str]:
    names: list[str] = []
    for section in sections:
        entries = manifest.get(section)
        if isinstance(entries, dict):
            names += [str(name) for name in entries]
    return names


def _read(path: Path) -> dict[str, Any] | None:
    """A package.json, or None when it is missing or unreadable (the framework, too, goes on
    without excluding anything then)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None

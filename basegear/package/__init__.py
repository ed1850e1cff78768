"""Deterministic packages for a service — what ``sls package`` and serverless-python-requirements
write to ``.serverless/``, one line per stage:

plan the zips and their files (patterns, individually, artifacts, layers, requirements from the
cache or pip) → check Lambda's size limits → write the zips → write ``manifest.json``.

``out_dir`` receives ``<service>.zip`` (the functions packaged together), ``<key>.zip`` (each
function packaged individually), ``layers/<key>.zip`` (each layer, and ``pythonRequirements``
with ``layer: true``) and ``manifest.json``. A zip given by ``package.artifact`` stays where it is.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from basegear.config.service import LoadedService
from basegear.errors import ConfigError, Problem
from basegear.package.artifact import REQUIREMENTS_LAYER, Artifact, Artifacts, RequirementsLayer
from basegear.package.limits import check_sizes
from basegear.package.plan import Plan, Planner, Prebuilt, ZipPlan
from basegear.package.requirements import Installer, plugin_enabled
from basegear.package.zips import write_zip, zip_stats

MANIFEST = "manifest.json"

__all__ = ["MANIFEST", "Artifact", "Artifacts", "PackageResult", "package_service"]


@dataclass(frozen=True)
class PackageResult:
    artifacts: Artifacts
    # What manifest.json holds: every zip with its sha256, sizes and file count.
    manifest: dict[str, Any]
    warnings: tuple[Problem, ...]
    # Requirements files pip installed in this run (empty when the cache had every set).
    installed: tuple[Path, ...]


def package_service(loaded: LoadedService, out_dir: Path) -> PackageResult:
    installer = Installer(loaded) if plugin_enabled(loaded) else None
    plan = Planner(loaded, out_dir, installer).plan()
    _check_limits(loaded, plan)
    written = {id(zip_plan): _write(zip_plan) for zip_plan in plan.zips}
    prebuilt = {item: _prebuilt(item) for item in plan.prebuilt}
    artifacts = _artifacts(plan, written, prebuilt)
    manifest = _manifest(loaded, out_dir, plan, written, prebuilt)
    _write_manifest(out_dir, manifest)
    installed = tuple(sorted(s.file for s in plan.requirement_sets if s.installed))
    return PackageResult(artifacts, manifest, tuple(plan.warnings), installed)


def _check_limits(loaded: LoadedService, plan: Plan) -> None:
    functions: dict[str, int] = {}
    layers: dict[str, int] = {}
    for zip_plan in plan.zips:
        size = sum(source.size for source in zip_plan.entries.values())
        for key in zip_plan.functions:
            functions[key] = size
        if zip_plan.layer:
            layers[zip_plan.layer] = size
    for item in plan.prebuilt:
        size = zip_stats(item.path).unzipped_size
        for key in item.functions:
            functions[key] = size
        if item.layer:
            layers[item.layer] = size
    problems = check_sizes(loaded, functions, layers)
    if problems:
        raise ConfigError(
            problems,
            hint="leave files out with '!' patterns, set slim: true for the requirements, or "
            "move large dependencies to a container image",
        )


def _write(zip_plan: ZipPlan) -> Artifact:
    stats = write_zip(zip_plan.output, zip_plan.entries)
    return Artifact.of(zip_plan.output, stats.unzipped_size, stats.files)


def _prebuilt(item: Prebuilt) -> Artifact:
    stats = zip_stats(item.path)
    return Artifact.of(item.path, stats.unzipped_size, stats.files)


def _artifacts(
    plan: Plan, written: dict[int, Artifact], prebuilt: dict[Prebuilt, Artifact]
) -> Artifacts:
    functions: dict[str, Artifact] = {}
    layers: dict[str, Artifact] = {}
    requirements_layer = None
    placed = [(z.functions, z.layer, written[id(z)]) for z in plan.zips]
    placed += [(list(item.functions), item.layer, prebuilt[item]) for item in plan.prebuilt]
    for keys, layer, artifact in placed:
        for key in keys:
            functions[key] = artifact
        if layer == REQUIREMENTS_LAYER and plan.requirements_layer is not None:
            requirements_layer = RequirementsLayer(plan.requirements_layer, artifact)
        elif layer:
            layers[layer] = artifact
    return Artifacts(functions, layers, requirements_layer)


def _manifest(
    loaded: LoadedService,
    out_dir: Path,
    plan: Plan,
    written: dict[int, Artifact],
    prebuilt: dict[Prebuilt, Artifact],
) -> dict[str, Any]:
    """Plain data, the same for the same input: no times, no absolute paths inside out_dir."""
    service = loaded.model
    entries = [_entry(out_dir, written[id(z)], z.kind, z.functions, z.layer) for z in plan.zips]
    entries += [
        _entry(out_dir, prebuilt[item], "artifact", list(item.functions), item.layer)
        for item in plan.prebuilt
    ]
    root = loaded.file.parent
    return {
        "service": service.service,
        "stage": service.stage,
        "region": service.provider.region,
        "artifacts": sorted(entries, key=lambda entry: str(entry["path"])),
        "requirements": [
            {"file": os.path.relpath(s.file, root), "cache_key": s.key}
            for s in sorted(plan.requirement_sets, key=lambda s: s.file)
        ],
    }


def _entry(
    out_dir: Path, artifact: Artifact, kind: str, functions: list[str], layer: str | None
) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "path": Path(os.path.relpath(artifact.path, out_dir)).as_posix(),
        "kind": kind,
        "sha256": artifact.sha256,
        "size": artifact.size,
        "unzipped_size": artifact.unzipped_size,
        "files": artifact.files,
    }
    if functions:
        entry["functions"] = sorted(functions)
    if layer:
        entry["layer"] = layer
    return entry


def _write_manifest(out_dir: Path, manifest: dict[str, Any]) -> None:
    """Write manifest.json, and remove the zips of the previous one that this run no longer
    makes (a function that was deleted or is now packaged with the others)."""
    path = out_dir / MANIFEST
    current = {entry["path"] for entry in manifest["artifacts"]}
    for old in _previous_zips(path):
        if old not in current:
            (out_dir / old).unlink(missing_ok=True)
    out_dir.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(MANIFEST + ".partial")
    partial.write_text(json.dumps(manifest, indent=2) + "\n")
    partial.replace(path)


def _previous_zips(path: Path) -> list[str]:
    """Zips the previous manifest lists inside out_dir (never a prebuilt artifact)."""
    try:
        previous = json.loads(path.read_text())
        entries = previous["artifacts"]
        return [
            entry["path"]
            for entry in entries
            if entry.get("kind") != "artifact"
            and not entry["path"].startswith(("/", "../"))
            and entry["path"].endswith(".zip")
        ]
    except (OSError, ValueError, KeyError, TypeError):
        return []

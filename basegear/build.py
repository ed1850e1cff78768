"""A service built for deployment, one line per stage: package the zips → compile the template
against them → write the template beside the zips. ``gear package`` stops here; deployments
start from it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from basegear.compile import compile_service, to_json
from basegear.config.service import LoadedService
from basegear.package import PackageResult, package_service

TEMPLATE_FILE = "cloudformation-template.json"
DEFAULT_OUT = Path(".gear") / "package"


@dataclass(frozen=True)
class Build:
    package: PackageResult
    template: dict[str, Any]
    template_file: Path


def build(loaded: LoadedService, out_dir: Path | None = None) -> Build:
    out_dir = out_dir or loaded.file.parent / DEFAULT_OUT
    package = package_service(loaded, out_dir)
    template = compile_service(loaded, package.artifacts)
    template_file = out_dir / TEMPLATE_FILE
    template_file.write_text(to_json(template))
    return Build(package, template, template_file)

"""Compile fixture projects as ``gear package`` does, and lint the templates with cfn-lint."""

from __future__ import annotations

import json
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from cfnlint.api import ManualArgs, lint

from basegear.compile import compile_service
from basegear.config.service import LoadedService, load_service
from basegear.config.variables import Options
from basegear.model import Layer
from basegear.package.artifact import REQUIREMENTS_LAYER, Artifact, Artifacts, RequirementsLayer

ROOT = Path(__file__).resolve().parents[2]
PROJECTS = ROOT / "tests" / "fixtures" / "projects"
EXAMPLE = ROOT / "examples" / "algorithms"

Template = dict[str, Any]


def _zip(path: Path, name: str) -> Artifact:
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(zipfile.ZipInfo("handler.py", (1980, 1, 1, 0, 0, 0)), f"# {name}\n")
    return Artifact.of(path, unzipped_size=path.stat().st_size)


def artifacts_for(loaded: LoadedService, folder: Path) -> Artifacts:
    """One small real zip per function and layer."""
    folder.mkdir(parents=True, exist_ok=True)
    model = loaded.model
    requirements = model.custom.python_requirements
    requirements_layer = None
    if requirements is not None and requirements.layer:
        name = f"{model.service}-{model.stage}-python-requirements"
        artifact = _zip(folder / f"layer-{REQUIREMENTS_LAYER}.zip", REQUIREMENTS_LAYER)
        requirements_layer = RequirementsLayer(Layer(name=name), artifact)
    return Artifacts(
        functions={key: _zip(folder / f"{key}.zip", key) for key in model.functions},
        layers={key: _zip(folder / f"layer-{key}.zip", key) for key in model.layers},
        requirements_layer=requirements_layer,
    )


@pytest.fixture
def compile_project(tmp_path: Path) -> Callable[..., Template]:
    """``compile_project("name")`` compiles tests/fixtures/projects/name (or a given folder)."""

    def compile_(project: str | Path, stage: str = "dev", **options: Any) -> Template:
        folder = project if isinstance(project, Path) else PROJECTS / project
        loaded = load_service(folder, Options(stage=stage, **options), environ={})
        return compile_service(loaded, artifacts_for(loaded, tmp_path / "artifacts"))

    return compile_


LintErrors = Callable[..., list[str]]


def _lint_errors(template: Template, region: str = "us-east-1") -> list[str]:
    """cfn-lint's errors (not warnings or informational findings) for ``template``."""
    matches = lint(json.dumps(template), config=ManualArgs(regions=[region]))
    return [
        f"{match.rule.id} {match.message} ({'/'.join(map(str, match.path))})"
        for match in matches
        if match.rule.id.startswith("E")
    ]


@pytest.fixture
def lint_errors() -> LintErrors:
    """``lint_errors(template, region="us-east-1")``: cfn-lint's errors for a template."""
    return _lint_errors

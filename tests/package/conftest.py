"""Package fixture projects as ``gear package`` does: each test works on its own copy of
tests/fixtures/projects/pkg-<case> in tmp_path, so the cache and the output stay there too."""

from __future__ import annotations

import shutil
import zipfile
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

from basegear.config.service import load_service
from basegear.config.variables import Options
from basegear.package import PackageResult, package_service

ROOT = Path(__file__).resolve().parents[2]
PROJECTS = ROOT / "tests" / "fixtures" / "projects"


@pytest.fixture
def project(tmp_path: Path) -> Callable[[str], Path]:
    """``project("pkg-patterns")``: a fresh copy of that fixture project."""

    def copy(name: str) -> Path:
        target = tmp_path / name
        shutil.copytree(PROJECTS / name, target, symlinks=True)
        return target

    return copy


def package(folder: Path, out: Path | None = None, stage: str = "dev") -> PackageResult:
    loaded = load_service(folder, Options(stage=stage), environ={})
    return package_service(loaded, out or folder / ".gear" / "package")


def names(archive: Path) -> list[str]:
    with zipfile.ZipFile(archive) as opened:
        assert opened.testzip() is None
        return opened.namelist()


def make_zip(path: Path, files: dict[str, str]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w") as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    return path


def make_wheel(
    folder: Path, name: str, files: dict[str, str], requires: Sequence[str] = ()
) -> Path:
    """A pure-Python wheel pip can install offline (``--no-index --find-links folder``)."""
    info = f"{name}-1.0.dist-info"
    metadata = f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n"
    metadata += "".join(f"Requires-Dist: {requirement}\n" for requirement in requires)
    contents = {
        **files,
        f"{info}/METADATA": metadata,
        f"{info}/WHEEL": "Wheel-Version: 1.0\nGenerator: tests\nRoot-Is-Purelib: true\n"
        "Tag: py3-none-any\n",
    }
    record = "".join(f"{path},,\n" for path in [*contents, f"{info}/RECORD"])
    return make_zip(folder / f"{name}-1.0-py3-none-any.whl", {**contents, f"{info}/RECORD": record})


@pytest.fixture
def wheels() -> Callable[[Path], Path]:
    """``wheels(project)``: builds tinylib (needs otherlib), otherlib and thirdlib in
    ``project/wheels``, where the requirement fixtures' pipCmdExtraArgs point pip."""

    def build(folder: Path) -> Path:
        target = folder / "wheels"
        make_wheel(target, "tinylib", {"tinylib/__init__.py": "VALUE = 42\n"}, ["otherlib"])
        make_wheel(target, "otherlib", {"otherlib/__init__.py": "OTHER = 1\n"})
        make_wheel(target, "thirdlib", {"thirdlib.py": "THIRD = 3\n"})
        return target

    return build

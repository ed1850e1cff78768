"""serverless-python-requirements: requirements read as the plugin reads them, installed by the
real pip (offline, from wheels the tests build), cached so that an unchanged set is never
installed again, and placed in the function packages or in the requirements layer."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from basegear.errors import ConfigError, GearError
from basegear.model.plugins import PythonRequirements
from basegear.package.artifact import REQUIREMENTS_LAYER
from basegear.package.requirements import (
    read_requirements,
    slim_patterns,
    slimmed,
    without_no_deploy,
)
from basegear.package.zips import FileSource, ZippedSource

from .conftest import names, package

Project = Callable[[str], Path]
Wheels = Callable[[Path], Path]


def test_requirements_are_read_as_the_plugin_reads_them(tmp_path: Path) -> None:
    (tmp_path / "base.txt").write_text("zeta==1\n--extra-index-url https://example.invalid\n")
    (tmp_path / "requirements.txt").write_text(
        "# comment\n"
        "requests>=2 \\\n  ; python_version > '3'\n"
        "-i https://index.invalid/simple\n"
        "\n"
        "-e ./local-package\n"
        "boto3==1.0\n"
        "-r base.txt\n"
        "alpha\n"
    )
    lines = read_requirements(tmp_path / "requirements.txt", no_deploy=["boto3"])
    assert lines == [
        "-i https://index.invalid/simple",
        "./local-package",
        "--extra-index-url https://example.invalid",
        "alpha",
        "requests>=2    ; python_version > '3'",
        "zeta==1",
    ]


def test_a_requirements_file_including_itself_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "requirements.txt").write_text("-r requirements.txt\n")
    with pytest.raises(GearError, match="includes itself"):
        read_requirements(tmp_path / "requirements.txt", no_deploy=[])


def test_no_deploy_packages_and_the_top_pycache_stay_out() -> None:
    entry = ZippedSource(Path("cache.zip"), 0, 0, 0, 0, 0, 0o100644)
    names_in = [
        "boto3/__init__.py",
        "boto3-1.0.dist-info/RECORD",
        "six.py",
        "six.pyc",
        "sixty/x.py",
        "__pycache__/six.cpython-311.pyc",
        "kept/__pycache__/a.pyc",
    ]
    kept = without_no_deploy(dict.fromkeys(names_in, entry), ["boto3", "six"])
    assert list(kept) == ["sixty/x.py", "kept/__pycache__/a.pyc"]


def test_slim_drops_compiled_files_caches_and_metadata_and_the_given_patterns() -> None:
    installed = [
        "pkg/__init__.py",
        "pkg/__pycache__/mod.cpython-311.pyc",
        "pkg/mod.pyc",
        "pkg/mod.pyo",
        "pkg-1.0.dist-info/METADATA",
        "pkg/tests/test_mod.py",
        "pkg/data.json",
    ]
    files = {name: FileSource(Path(name), 1, False) for name in installed}
    options = PythonRequirements(slim=True, slim_patterns=["**/tests"])
    assert list(slimmed(files, slim_patterns(options))) == ["pkg/__init__.py", "pkg/data.json"]
    only_given = PythonRequirements(
        slim=True, slim_patterns=["**/*.json"], slim_patterns_append_defaults=False
    )
    assert "pkg/data.json" not in slimmed(files, slim_patterns(only_given))
    assert "pkg/mod.pyc" in slimmed(files, slim_patterns(only_given))


def test_static_cache_max_versions_keeps_the_most_recently_used(project: Project) -> None:
    folder = project("pkg-requirements")
    (folder / "requirements.txt").write_text("# nothing to install\n")
    cache = folder / ".gear" / "cache" / "requirements"
    for age, name in enumerate(["newest", "middle", "oldest"]):
        (cache / name).mkdir(parents=True)
        (cache / name / "requirements.zip").write_bytes(b"")
        os.utime(cache / name, (1_000_000 - age, 1_000_000 - age))
    service_file = folder / "serverless.yml"
    service_file.write_text(
        service_file.read_text().replace(
            "    slim: true\n", "    slim: true\n    staticCacheMaxVersions: 2\n"
        )
    )
    package(folder)
    assert sorted(path.name for path in cache.iterdir()) == ["middle", "newest"]


def test_requirements_are_installed_once_and_then_taken_from_the_cache(
    project: Project, wheels: Wheels
) -> None:
    folder = project("pkg-requirements")
    wheels(folder)

    first = package(folder)

    archive = first.artifacts.functions["app"].path
    # slim dropped the .dist-info folders; noDeploy kept otherlib out although tinylib needs it.
    assert names(archive) == ["src/app.py", "thirdlib.py", "tinylib/__init__.py"]
    assert first.installed == (folder / "requirements.txt",)
    (requirements,) = first.manifest["requirements"]
    assert requirements["file"] == "requirements.txt"
    cached = folder / ".gear" / "cache" / "requirements" / requirements["cache_key"]
    assert sorted(path.name for path in cached.iterdir()) == [
        "requirements.txt",
        "requirements.zip",
    ]

    shutil.rmtree(folder / "wheels")  # pip would fail now: the second run must not need it
    second = package(folder)

    assert second.installed == ()
    assert second.artifacts.functions["app"].sha256 == first.artifacts.functions["app"].sha256

    (folder / "extra-requirements.txt").write_text("thirdlib>=1\n")
    with pytest.raises(GearError) as raised:
        package(folder)  # a changed set is a new cache entry: pip runs, and finds no wheels
    assert raised.value.message.startswith("pip could not install requirements.txt (exit 1)")
    assert "No matching distribution found for" in raised.value.message
    assert raised.value.hint is not None and "--no-index" in raised.value.hint


def test_requirements_are_ignored_without_the_plugin(project: Project) -> None:
    folder = project("pkg-requirements")
    service_file = folder / "serverless.yml"
    text = service_file.read_text().replace("  - serverless-python-requirements\n", "")
    service_file.write_text(text.replace("plugins:\n", "plugins: []\n"))
    result = package(folder)  # no wheels: pip would fail if it ran
    assert names(result.artifacts.functions["app"].path) == ["src/app.py"]
    assert result.manifest["requirements"] == []


def test_layer_puts_the_requirements_in_their_own_layer(
    project: Project, wheels: Wheels, tmp_path: Path
) -> None:
    folder = project("pkg-requirements-layer")
    wheels(folder)
    service_file = folder / "serverless.yml"
    service_file.write_text(
        service_file.read_text().replace(
            "    useDownloadCache: false\n",
            f"    useDownloadCache: false\n    cacheLocation: {tmp_path / 'shared-cache'}\n",
        )
    )

    result = package(folder)

    assert names(result.artifacts.functions["app"].path) == ["src/app.py"]
    layer = result.artifacts.requirements_layer
    assert layer is not None
    assert layer.artifact.path == folder / ".gear" / "package" / "layers" / "pythonRequirements.zip"
    in_layer = names(layer.artifact.path)
    assert [name for name in in_layer if ".dist-info/" not in name] == [
        "python/otherlib/__init__.py",
        "python/tinylib/__init__.py",
    ]
    assert "python/tinylib-1.0.dist-info/METADATA" in in_layer  # no slim: metadata stays
    assert layer.layer.name == "pkg-requirements-layer-dev-python-requirements"
    assert layer.layer.description == "Third-party packages"
    assert layer.layer.compatible_runtimes == ["python3.11"]
    assert layer.layer.compatible_architectures == ["x86_64"]
    assert REQUIREMENTS_LAYER not in result.artifacts.layers
    assert [path.suffix for path in (tmp_path / "shared-cache").iterdir()] == [""]
    assert not (folder / ".gear" / "cache").exists()


def test_module_functions_get_their_module_and_its_requirements(
    project: Project, wheels: Wheels
) -> None:
    folder = project("pkg-modules")
    wheels(folder)

    result = package(folder)

    alpha = names(result.artifacts.functions["alpha"].path)
    assert [name for name in alpha if ".dist-info/" not in name] == [
        "handler.py",
        "otherlib/__init__.py",
        "requirements.txt",
        "tinylib/__init__.py",
    ]
    assert names(result.artifacts.functions["beta"].path) == ["handler.py"]
    assert result.installed == (folder / "alpha" / "requirements.txt",)
    assert result.warnings == ()


@pytest.mark.parametrize(
    ("setting", "path", "message"),
    [
        ("zip: true", ("custom", "pythonRequirements", "zip"), "zip: true"),
        ("usePipenv: true", ("custom", "pythonRequirements", "usePipenv"), "has a Pipfile"),
    ],
)
def test_what_basegear_does_not_do_is_refused_at_its_setting(
    project: Project, setting: str, path: tuple[str, ...], message: str
) -> None:
    folder = project("pkg-requirements")
    (folder / "Pipfile").write_text("[packages]\n")
    service_file = folder / "serverless.yml"
    service_file.write_text(
        service_file.read_text().replace("    slim: true\n", f"    slim: true\n    {setting}\n")
    )
    with pytest.raises(ConfigError) as raised:
        package(folder)
    (problem,) = raised.value.problems
    assert problem.path == path
    assert message in problem.message
    assert problem.location is not None and problem.location.line == 22
    assert raised.value.hint


def test_dockerize_pip_is_a_warning_not_a_silent_change(project: Project) -> None:
    folder = project("pkg-requirements")
    (folder / "requirements.txt").write_text("# nothing yet\n")
    service_file = folder / "serverless.yml"
    service_file.write_text(
        service_file.read_text().replace(
            "    slim: true\n", "    slim: true\n    dockerizePip: true\n"
        )
    )
    result = package(folder)
    (warning,) = result.warnings
    assert warning.path == ("custom", "pythonRequirements", "dockerizePip")
    assert warning.severity == "warning"
    assert "--platform manylinux2014_x86_64" in warning.message
    assert result.installed == ()

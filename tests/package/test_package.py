"""``package_service`` on fixture projects: which zips exist, what each holds, that the same
input gives the same bytes, and the errors for what must not be packaged."""

from __future__ import annotations

import json
import os
import shutil
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from basegear.errors import ConfigError, GearError
from basegear.package import MANIFEST
from basegear.package.limits import UNZIPPED_LIMIT_BYTES

from .conftest import ROOT, make_zip, names, package

Project = Callable[[str], Path]


def test_patterns_apply_in_order_over_the_default_excludes(project: Project) -> None:
    folder = project("pkg-patterns")
    for extra in (".git/HEAD", ".serverless/old.zip", ".DS_Store", "npm-debug.log", ".gitignore"):
        (folder / extra).parent.mkdir(parents=True, exist_ok=True)
        (folder / extra).write_text("x\n")
    (folder / "src" / "__pycache__").mkdir()
    (folder / "src" / "__pycache__" / "api.cpython-311.pyc").write_text("x")
    (folder / "layers" / "shared" / "python" / "stale.pyc").write_text("x")

    result = package(folder)

    service_zip = folder / ".gear" / "package" / "pkg-patterns.zip"
    assert names(service_zip) == ["README.md", "docs/keep.md", "src/api.py", "src/util/helpers.py"]
    layer_zip = result.artifacts.layers["shared"].path
    assert layer_zip == folder / ".gear" / "package" / "layers" / "shared.zip"
    assert names(layer_zip) == ["python/shared.py"]
    assert result.artifacts.functions["api"].path == service_zip
    assert result.warnings == ()


def test_env_files_are_packaged_without_use_dotenv(project: Project) -> None:
    folder = project("pkg-patterns")
    service_file = folder / "serverless.yml"
    service_file.write_text(service_file.read_text().replace("useDotenv: true", "useDotenv: false"))
    package(folder)
    assert {".env", ".env.dev"} <= set(names(folder / ".gear" / "package" / "pkg-patterns.zip"))


def test_individually_each_function_gets_its_own_zip(project: Project) -> None:
    folder = project("pkg-individually")
    prebuilt = make_zip(folder / "dist" / "prebuilt.zip", {"index.py": "def handler(e, c): pass"})

    result = package(folder)

    out = folder / ".gear" / "package"
    functions = result.artifacts.functions
    assert functions["first"].path == out / "first.zip"
    assert names(out / "first.zip") == ["first/handler.py", "shared/big.txt", "shared/lib.py"]
    assert names(out / "second.zip") == ["second/handler.py", "shared/lib.py"]
    assert functions["prebuilt"].path == prebuilt
    assert functions["prebuilt"].files == 1
    assert not (out / "pkg-individually.zip").exists()


def test_one_function_individually_and_the_others_together(project: Project) -> None:
    folder = project("pkg-mixed-individually")

    result = package(folder)

    out = folder / ".gear" / "package"
    assert names(out / "alone.zip") == ["src/lonely.py"]
    assert names(out / "pkg-mixed-individually.zip") == ["src/together.py"]
    functions = result.artifacts.functions
    assert functions["together"] is functions["lost"]
    warnings = {(problem.path, problem.message.split(";")[0]) for problem in result.warnings}
    assert warnings == {
        (
            ("functions", "together", "package", "patterns"),
            "function patterns apply only when the function is packaged individually "
            "(package.individually)",
        ),
        (
            ("functions", "lost", "handler"),
            "the handler's file (src/missing.*) is not in the package pkg-mixed-individually.zip",
        ),
    }
    assert all(problem.location is not None for problem in result.warnings)


def test_a_service_artifact_serves_the_functions_packaged_together(project: Project) -> None:
    folder = project("pkg-service-artifact")
    artifact = make_zip(folder / "dist" / "service.zip", {"src/app.py": "prebuilt"})

    result = package(folder)

    functions = result.artifacts.functions
    assert functions["one"].path == functions["two"].path == artifact
    assert names(functions["own"].path) == ["src/app.py"]
    manifest = result.manifest["artifacts"]
    assert {entry["kind"] for entry in manifest} == {"artifact", "function"}
    assert next(e for e in manifest if e["kind"] == "artifact")["path"] == "../../dist/service.zip"


def test_a_missing_artifact_is_reported_at_its_setting(project: Project) -> None:
    folder = project("pkg-service-artifact")
    with pytest.raises(ConfigError) as raised:
        package(folder)
    (problem,) = raised.value.problems
    assert problem.path == ("package", "artifact")
    assert problem.message == "the artifact dist/service.zip does not exist"
    assert problem.location is not None and problem.location.line == 11


def test_layers_are_zipped_from_their_folders(project: Project) -> None:
    folder = project("pkg-layers")
    prebuilt = make_zip(folder / "dist" / "layer.zip", {"python/p.py": "P = 1"})

    result = package(folder)

    layers = result.artifacts.layers
    assert names(layers["tools"].path) == ["python/tools/__init__.py"]
    assert names(layers["data"].path) == ["table.json"]
    assert layers["prebuilt"].path == prebuilt
    assert names(result.artifacts.functions["app"].path) == ["src/app.py"]


def test_the_same_input_gives_the_same_bytes(project: Project, tmp_path: Path) -> None:
    folder = project("pkg-layers")
    make_zip(folder / "dist" / "layer.zip", {"python/p.py": "P = 1"})
    first = package(folder, tmp_path / "first")
    for path in folder.rglob("*"):
        if path.is_file():
            os.utime(path, (1_000_000, 1_000_000))
            path.chmod(0o600)
    second = package(folder, tmp_path / "second")
    assert first.manifest["artifacts"] != []
    assert [entry | {"path": ""} for entry in first.manifest["artifacts"]] == [
        entry | {"path": ""} for entry in second.manifest["artifacts"]
    ]
    assert (
        first.artifacts.functions["app"].code_sha256
        == second.artifacts.functions["app"].code_sha256
    )


def test_the_manifest_lists_every_zip_and_replaces_the_previous_one(project: Project) -> None:
    folder = project("pkg-individually")
    make_zip(folder / "dist" / "prebuilt.zip", {"index.py": "x"})
    out = folder / ".gear" / "package"
    first = package(folder)
    assert json.loads((out / MANIFEST).read_text()) == first.manifest
    entry = next(e for e in first.manifest["artifacts"] if e["path"] == "second.zip")
    artifact = first.artifacts.functions["second"]
    assert entry == {
        "path": "second.zip",
        "kind": "function",
        "sha256": artifact.sha256,
        "size": artifact.size,
        "unzipped_size": artifact.unzipped_size,
        "files": 2,
        "functions": ["second"],
    }

    service_file = folder / "serverless.yml"
    text = service_file.read_text()
    service_file.write_text(text[: text.index("  second:")] + text[text.index("  prebuilt:") :])
    second = package(folder)

    assert not (out / "second.zip").exists()
    assert (out / "first.zip").exists()
    assert (folder / "dist" / "prebuilt.zip").exists()
    assert [e["path"] for e in second.manifest["artifacts"]] == [
        "../../dist/prebuilt.zip",
        "first.zip",
    ]


def test_no_file_to_package_is_an_error_at_the_patterns(project: Project) -> None:
    with pytest.raises(ConfigError) as raised:
        package(project("pkg-no-files"))
    (problem,) = raised.value.problems
    assert problem.path == ("package", "patterns")
    assert problem.message.startswith("no file matches the package patterns")


def test_patterns_that_reach_outside_are_refused_at_their_lines(project: Project) -> None:
    folder = project("pkg-unsafe-patterns")
    outside = folder.parent / "shared"
    outside.mkdir()
    (outside / "secret.py").write_text("SECRET = 1\n")
    with pytest.raises(ConfigError) as raised:
        package(folder)
    problems = [(p.path, p.location.line if p.location else 0) for p in raised.value.problems]
    assert problems == [
        (("package", "patterns", 1), 14),
        (("functions", "app", "package", "patterns", 0), 21),
    ]
    assert "contains '..'" in raised.value.problems[0].message
    assert "absolute path" in raised.value.problems[1].message
    assert not (folder / ".gear" / "package").exists()


def test_symlinks_inside_the_service_are_stored_as_files(project: Project) -> None:
    folder = project("pkg-symlinks")
    (folder / "src" / "values.py").symlink_to(Path("..") / "shared" / "values.py")
    (folder / "lib").symlink_to("shared", target_is_directory=True)
    (folder / "venv" / "bin").mkdir(parents=True)
    (folder / "venv" / "bin" / "python").symlink_to(shutil.which("sh") or "/bin/sh")

    result = package(folder)

    archive = result.artifacts.functions["app"].path
    assert names(archive) == ["lib/values.py", "shared/values.py", "src/app.py", "src/values.py"]
    with zipfile.ZipFile(archive) as opened:
        for name in ("lib/values.py", "src/values.py"):
            assert opened.read(name) == b'VALUE = "shared"\n'
            assert opened.getinfo(name).external_attr >> 16 == 0o100644  # a file, not a link


def test_a_symlink_leading_out_of_the_service_is_refused(project: Project) -> None:
    folder = project("pkg-symlinks")
    secret = folder.parent / "secret.txt"
    secret.write_text("password\n")
    (folder / "src" / "secret.txt").symlink_to(secret)
    with pytest.raises(GearError) as raised:
        package(folder)
    assert raised.value.message.startswith(
        f"src/secret.txt is a symlink to {secret}, outside the service folder"
    )
    assert raised.value.hint is not None and "'!src/secret.txt'" in raised.value.hint


def test_a_folder_symlink_leading_out_or_looping_is_refused(project: Project) -> None:
    folder = project("pkg-symlinks")
    (folder / "src" / "up").symlink_to(folder.parent, target_is_directory=True)
    with pytest.raises(GearError, match=r"src/up is a symlink to .*outside the service folder"):
        package(folder)
    (folder / "src" / "up").unlink()
    (folder / "src" / "again").symlink_to(folder / "src", target_is_directory=True)
    with pytest.raises(GearError, match="src/again is a symlink to a folder that contains it"):
        package(folder)


def test_a_layer_folder_outside_the_service_is_refused(project: Project) -> None:
    folder = project("pkg-layers")
    make_zip(folder / "dist" / "layer.zip", {"python/p.py": "P = 1"})
    service_file = folder / "serverless.yml"
    service_file.write_text(service_file.read_text().replace("layers/data/", "../data"))
    (folder.parent / "data").mkdir()
    (folder.parent / "data" / "x.json").write_text("{}")
    with pytest.raises(ConfigError) as raised:
        package(folder)
    assert raised.value.problems[0].path == ("layers", "data", "path")
    assert "outside the service folder" in raised.value.problems[0].message


def _sparse(path: Path, size: int) -> None:
    with path.open("wb") as handle:
        handle.truncate(size)


def test_a_function_over_250_mb_unzipped_is_refused(project: Project) -> None:
    folder = project("pkg-limits")
    _sparse(folder / "big" / "model.bin", UNZIPPED_LIMIT_BYTES)
    with pytest.raises(ConfigError) as raised:
        package(folder)
    (problem,) = raised.value.problems
    assert problem.path == ("functions", "big")
    assert problem.message.startswith("function big takes 262.1 MB unzipped (its package 262.1 MB)")
    assert not (folder / ".gear" / "package" / "big.zip").exists()


def test_a_function_and_its_layers_together_over_250_mb_are_refused(project: Project) -> None:
    folder = project("pkg-limits")
    half = UNZIPPED_LIMIT_BYTES // 2
    _sparse(folder / "small" / "data.bin", half)
    _sparse(folder / "layers" / "heavy" / "data.bin", half)
    with pytest.raises(ConfigError) as raised:
        package(folder)
    (problem,) = raised.value.problems
    assert problem.path == ("functions", "small")
    assert "(its package 131.1 MB, layer heavy 131.1 MB)" in problem.message


def test_a_layer_over_250_mb_is_refused(project: Project) -> None:
    folder = project("pkg-limits")
    _sparse(folder / "layers" / "heavy" / "data.bin", UNZIPPED_LIMIT_BYTES + 1)
    with pytest.raises(ConfigError) as raised:
        package(folder)
    paths = [problem.path for problem in raised.value.problems]
    assert paths == [("layers", "heavy"), ("functions", "small")]


def test_the_algorithms_example_packages_as_the_framework_does(tmp_path: Path) -> None:
    # The same files as `sls package --stage prod` (v3.40) writes, less the plugin's cache marker
    # and its filtered requirements.txt.
    result = package(ROOT / "examples" / "algorithms", tmp_path / "out", stage="prod")
    artifacts = result.artifacts
    shared = artifacts.functions["objects-processor"]
    assert {artifact.path for artifact in artifacts.functions.values()} == {shared.path}
    assert names(shared.path) == [
        "package-lock.json",
        "src/__init__.py",
        "src/objects_processor.py",
        "src/package_delete.py",
        "src/package_status.py",
        "src/packages.py",
        "src/stream_processor.py",
    ]
    assert names(artifacts.layers["customLogging"].path) == ["python/custom_logging/__init__.py"]
    assert names(artifacts.layers["ssmCache"].path) == ["python/ssm_cache/__init__.py"]
    assert artifacts.requirements_layer is None
    assert result.warnings == ()
    assert not (ROOT / "examples" / "algorithms" / ".gear" / "cache").exists()


def test_an_output_folder_inside_the_service_is_never_packaged(project: Project) -> None:
    folder = project("pkg-patterns")
    first = package(folder, folder / "artifacts")
    second = package(folder, folder / "artifacts")
    assert names(second.artifacts.functions["api"].path) == names(
        first.artifacts.functions["api"].path
    )
    assert first.artifacts.functions["api"].sha256 == second.artifacts.functions["api"].sha256
    with pytest.raises(GearError, match="would be packaged into itself"):
        package(folder, folder)


NODE_MODULES = {
    "left-pad": {"dependencies": {"shared": "1"}},
    "shared": {},
    "serverless": {"dependencies": {"shared": "1", "only-dev": "1"}, "bin": {"sls": "sls.js"}},
    "serverless/node_modules/nested": {},
    "only-dev": {},
    "@scope/tool": {"bin": "cli.js"},
}


def test_node_dev_dependencies_are_left_out(project: Project) -> None:
    folder = project("pkg-node-dev-dependencies")
    modules = folder / "node_modules"
    for name, manifest in NODE_MODULES.items():
        (modules / name).mkdir(parents=True)
        (modules / name / "package.json").write_text(json.dumps(manifest))
        (modules / name / "index.js").write_text("module.exports = 1;\n")
    (modules / ".bin").mkdir()
    for link in ("sls", "left-pad"):
        (modules / ".bin" / link).write_text("#!/usr/bin/env node\n")

    result = package(folder)

    assert [n for n in names(result.artifacts.functions["app"].path) if n != "package.json"] == [
        "handler.js",
        "node_modules/.bin/left-pad",
        "node_modules/left-pad/index.js",
        "node_modules/left-pad/package.json",
        "node_modules/shared/index.js",
        "node_modules/shared/package.json",
    ]

    service_file = folder / "serverless.yml"
    text = service_file.read_text().replace(
        "functions:", "package:\n  excludeDevDependencies: false\n\nfunctions:"
    )
    service_file.write_text(text)
    everything = names(package(folder).artifacts.functions["app"].path)
    assert "node_modules/serverless/node_modules/nested/index.js" in everything
    assert "node_modules/.bin/sls" in everything

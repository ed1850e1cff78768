"""``gear package`` as a user runs it: zips and template written, the same bytes every time,
and ``--diff`` against another template."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

GEAR = (sys.executable, "-m", "basegear")
EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "algorithms"


def gear(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*GEAR, *args], cwd=cwd, capture_output=True, text=True, timeout=60)


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the example, so that its default output folder is not written in the repo."""
    folder = tmp_path_factory.mktemp("service") / "algorithms"
    shutil.copytree(EXAMPLE, folder, ignore=shutil.ignore_patterns("node_modules", ".gear"))
    return folder


def read(folder: Path) -> dict[str, bytes]:
    return {
        path.relative_to(folder).as_posix(): path.read_bytes()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


def test_package_writes_zips_template_and_manifest(service: Path) -> None:
    result = gear("package", "--stage", "prod", cwd=service)
    assert result.returncode == 0, result.stderr
    out = service / ".gear" / "package"
    assert result.stdout.startswith("packaged ")
    assert set(read(out)) == {
        "algorithms.zip",
        "layers/customLogging.zip",
        "layers/ssmCache.zip",
        "manifest.json",
        "cloudformation-template.json",
    }
    template = json.loads((out / "cloudformation-template.json").read_text())
    manifest = json.loads((out / "manifest.json").read_text())
    function = template["Resources"]["ObjectsDashprocessorLambdaFunction"]["Properties"]
    (service_zip,) = [a for a in manifest["artifacts"] if a["path"] == "algorithms.zip"]
    assert service_zip["sha256"][:16] in function["Code"]["S3Key"]


def test_two_runs_write_the_same_bytes(service: Path, tmp_path: Path) -> None:
    runs = []
    for name in ("one", "two"):
        result = gear("package", "--stage", "dev", "--out", str(tmp_path / name), cwd=service)
        assert result.returncode == 0, result.stderr
        runs.append(read(tmp_path / name))
    assert runs[0] == runs[1]


def test_diff_lists_resources_by_logical_id(service: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert gear("package", "--stage", "dev", "--out", str(out), cwd=service).returncode == 0
    other: dict[str, Any] = json.loads((out / "cloudformation-template.json").read_text())
    resources = other["Resources"]
    del resources["StreamFailureQueue"]
    resources["Extra"] = {"Type": "AWS::SNS::Topic", "Properties": {}}
    resources["PackageDashstatusLambdaFunction"]["Properties"]["MemorySize"] = 512
    (tmp_path / "other.json").write_text(json.dumps(other))

    result = gear(
        "package",
        "--stage",
        "dev",
        "--out",
        str(out),
        "--diff",
        str(tmp_path / "other.json"),
        cwd=service,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "only theirs Extra (AWS::SNS::Topic)",
        "differs     PackageDashstatusLambdaFunction (AWS::Lambda::Function): "
        "Properties.MemorySize",
        "only ours   StreamFailureQueue (AWS::SQS::Queue)",
        "3 resources differ",
    ]


def test_diff_with_a_file_that_is_not_a_template(service: Path, tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("not json")
    result = gear(
        "package",
        "--out",
        str(tmp_path / "out"),
        "--diff",
        str(tmp_path / "notes.txt"),
        cwd=service,
    )
    assert result.returncode == 1
    assert "notes.txt is not a JSON template" in result.stderr
    assert "Traceback" not in result.stderr

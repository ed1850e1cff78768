"""Shared helpers of the deploy tests: ``deploy`` as ``gear deploy`` runs it, and the deployed
algorithms example."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from basegear.config.service import load_service
from basegear.config.variables import Options
from basegear.deploy import ConsoleReport, Deployer, DeployOptions, DeployResult, local_target
from basegear.testing import CloudClients

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "algorithms"
PROJECTS = ROOT / "tests" / "fixtures" / "projects"
REGION = "eu-west-1"
MAX_SIZE_PARAMETER = "/algorithms/dev/max-package-size-bytes"
MAX_SIZE = 1000


def deploy(
    cloud: CloudClients,
    folder: Path,
    out: Path,
    *,
    params: Mapping[str, str] | None = None,
    allow: frozenset[str] = frozenset(),
    force: bool = False,
    quiet: bool = True,
) -> DeployResult:
    """``gear deploy folder --stage dev`` against the test's local cloud."""
    loaded = load_service(folder, Options(stage="dev", params=dict(params or {})))
    target = local_target(loaded.model.provider.region, cloud.endpoint_url)
    deployer = Deployer(target, report=ConsoleReport(quiet=quiet))
    return deployer.deploy(loaded, DeployOptions(allow, force, out))


@dataclass(frozen=True)
class Algorithms:
    cloud: CloudClients
    static: DeployResult
    service: DeployResult
    out: Path

    def client(self, service: str) -> Any:
        return self.cloud.client(service, REGION)

    @property
    def table(self) -> str:
        return self.static.outputs["UploadsTableName"]

    @property
    def bucket(self) -> str:
        return self.static.outputs["PackagesBucketName"]

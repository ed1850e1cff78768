"""The algorithms example deployed once into the session's local cloud (``local_cloud``), as
``gear deploy`` deploys it: the static stack, then the service that imports its exports."""

from __future__ import annotations

import pytest
from deploy_helpers import EXAMPLE, MAX_SIZE, MAX_SIZE_PARAMETER, REGION, Algorithms, deploy

from basegear.testing import CloudClients, local_cloud, manual_clock

__all__ = ["local_cloud", "manual_clock"]


@pytest.fixture(scope="session")
def algorithms(local_cloud: CloudClients, tmp_path_factory: pytest.TempPathFactory) -> Algorithms:
    out = tmp_path_factory.mktemp("algorithms")
    static = deploy(local_cloud, EXAMPLE / "static", out / "static")
    service = deploy(local_cloud, EXAMPLE, out / "service")
    # objects-processor's size limit, there before anything invokes it (its layer caches it).
    local_cloud.client("ssm", REGION).put_parameter(
        Name=MAX_SIZE_PARAMETER, Value=str(MAX_SIZE), Type="String", Overwrite=True
    )
    return Algorithms(local_cloud, static, service, out)

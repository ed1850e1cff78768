"""The local CloudFormation behind a real local cloud: a gateway on an ephemeral 127.0.0.1 port,
moto behind it, BaseGear's Lambda runtime plugged in where moto invokes functions, and our
provider registered for "cloudformation". Tests talk to it with boto3, as a user's code does."""

from __future__ import annotations

import random
from collections.abc import Iterator

import pytest
from cfn_helpers import REGION, Cloud, Gateway

from basegear.cloud import motoshim
from basegear.cloud.server import LocalCloud, StandardServices
from basegear.testing import CloudClients, local_aws_environment


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    motoshim.install()
    cloud = LocalCloud(port=0)
    services = StandardServices(
        cloud.endpoint_url, cache_dir=tmp_path_factory.mktemp("lambda"), rng=random.Random(7)
    )
    services.attach(cloud)
    services.start()
    cloud.start()
    try:
        with local_aws_environment(cloud.endpoint_url):
            clients = CloudClients(cloud, services)
            yield Gateway(clients, services.cloudformation, services.mappings)
    finally:
        services.close()
        cloud.stop()
        cloud.reset()


@pytest.fixture
def cloud(gateway: Gateway) -> Cloud:
    return Cloud(gateway, gateway.clients.client("cloudformation", region=REGION))

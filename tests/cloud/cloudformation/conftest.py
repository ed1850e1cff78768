"""The local CloudFormation behind a real local cloud: a gateway on an ephemeral 127.0.0.1 port,
moto behind it, BaseGear's Lambda runtime plugged in where moto invokes functions, and our
provider registered for "cloudformation". Tests talk to it with boto3, as a user's code does."""

from __future__ import annotations

import random
from collections.abc import Iterator

import pytest
from cfn_helpers import REGION, Cloud, Gateway

from basegear.cloud import motoshim
from basegear.cloud.cloudformation import CloudFormationProvider, EventSourceMappingStore
from basegear.cloud.cloudformation.clients import against
from basegear.cloud.lambdas.runtime import LambdaRuntime
from basegear.cloud.motoshim.awslambda import MotoLambda
from basegear.cloud.providers.lambda_api import LambdaApiProvider
from basegear.cloud.server import LocalCloud, standard_providers
from basegear.testing import CloudClients, local_aws_environment


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    motoshim.install()
    cloud = LocalCloud(port=0)
    providers = standard_providers(cloud.endpoint_url)
    for standard in providers:
        cloud.add_provider(standard)
    cloud.start()
    plug: MotoLambda | None = None
    runtime: LambdaRuntime | None = None
    if not any(provider.service == "lambda" for provider in providers):
        runtime = LambdaRuntime(endpoint_url=cloud.endpoint_url)
        plug = MotoLambda(
            runtime, cache_dir=tmp_path_factory.mktemp("lambda"), rng=random.Random(3)
        )
        plug.install()
        cloud.add_provider(LambdaApiProvider(plug))
    mappings = EventSourceMappingStore()
    provider = CloudFormationProvider(
        clients=against(cloud.endpoint_url), mappings=mappings, rng=random.Random(7)
    )
    cloud.add_provider(provider)
    try:
        with local_aws_environment(cloud.endpoint_url):
            yield Gateway(CloudClients(cloud), provider, mappings)
    finally:
        if plug is not None:
            plug.uninstall()
        if runtime is not None:
            runtime.close()
        cloud.stop()
        cloud.reset()


@pytest.fixture
def cloud(gateway: Gateway) -> Cloud:
    return Cloud(gateway, gateway.clients.client("cloudformation", region=REGION))

"""A pytest plugin for testing serverless code against BaseGear's local cloud, as a user's own
tests (and BaseGear's) do.

Use it from a ``conftest.py``::

    from basegear.testing import local_cloud  # noqa: F401  (registers the fixture)

    def test_put(local_cloud):
        table = local_cloud.client("dynamodb", region="eu-west-1")
        ...

``local_cloud`` is session-scoped: one cloud on an ephemeral 127.0.0.1 port for the whole test
run (moto's state is per process anyway), so tests name their tables, queues and buckets
uniquely, or call ``local_cloud.reset()``. It serves with BaseGear's own services
(``server.StandardServices``): Lambda functions really run, and CloudFormation deploys stacks
(``gear deploy --endpoint <local_cloud.endpoint_url>`` or ``basegear.deploy.Deployer``).

Nothing reaches AWS: while the fixture is active, every ``AWS_*`` variable of the environment
is removed (credentials, profile, config files, endpoints) and replaced by dummy credentials,
``AWS_DEFAULT_REGION=us-east-1`` and ``AWS_ENDPOINT_URL`` pointing at the local cloud, so code
under test that makes its own ``boto3.client("s3")`` talks to the local cloud too (botocore
reads ``AWS_ENDPOINT_URL``: "Service-specific endpoints" in the AWS SDKs reference guide).
"""

from __future__ import annotations

import os
import tempfile
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from basegear.cloud.clock import VirtualClock
from basegear.cloud.protocol import Provider
from basegear.cloud.routing import DEFAULT_REGION
from basegear.cloud.server import LocalCloud, StandardServices

DUMMY_KEY = "testing"
_MISSING_FILE = os.path.join(os.sep, "nonexistent", "basegear", "aws-config")


def client_config(**overrides: Any) -> Any:
    """The botocore ``Config`` of a client of the local cloud:

    - no retries: a local error is a real one, and a 429 throttle must reach the test;
    - ``account_id_endpoint_mode="disabled"``: botocore 1.44 would otherwise send DynamoDB
      Streams calls to an account-scoped endpoint;
    - S3 path-style addressing: bucket names need no DNS;
    - no host prefix: Step Functions' StartSyncExecution would go to ``sync-127.0.0.1``.
    """
    from botocore.config import Config

    base = Config(
        retries={"mode": "standard", "total_max_attempts": 1},
        account_id_endpoint_mode="disabled",
        s3={"addressing_style": "path"},
        inject_host_prefix=False,
    )
    return base.merge(Config(**overrides)) if overrides else base


class CloudClients:
    """The running local cloud as a test sees it: its endpoint and boto3 clients for it."""

    def __init__(self, cloud: LocalCloud, services: StandardServices | None = None) -> None:
        import boto3

        self.cloud = cloud
        self.services = services  # BaseGear's own: ``services.mappings``, ``services.lambdas``,
        # ``services.clock``, ``services.events``, ``services.context``
        self.endpoint_url = cloud.endpoint_url
        self._session = boto3.session.Session(
            aws_access_key_id=DUMMY_KEY,
            aws_secret_access_key=DUMMY_KEY,
            region_name=DEFAULT_REGION,
        )
        self._clients: dict[tuple[str, str], Any] = {}
        self._lock = threading.Lock()

    def client(self, service: str, region: str = DEFAULT_REGION, **config: Any) -> Any:
        """A boto3 client of ``service`` in ``region``; ``config`` overrides
        :func:`client_config` (and then a new client is made each call)."""
        if config:
            return self._new_client(service, region, client_config(**config))
        key = (service, region)
        with self._lock:
            if key not in self._clients:
                self._clients[key] = self._new_client(service, region, client_config())
            return self._clients[key]

    def resource(self, service: str, region: str = DEFAULT_REGION) -> Any:
        """A boto3 resource (``dynamodb``, ``s3``, ``sqs``, …) of the local cloud."""
        return self._session.resource(
            service, region_name=region, endpoint_url=self.endpoint_url, config=client_config()
        )

    def reset(self) -> None:
        """Empty every service's state."""
        self.cloud.reset()

    def _new_client(self, service: str, region: str, config: Any) -> Any:
        return self._session.client(
            service, region_name=region, endpoint_url=self.endpoint_url, config=config
        )


@contextmanager
def local_aws_environment(endpoint_url: str) -> Iterator[None]:
    """``os.environ`` without any real AWS setting, pointing boto3 at ``endpoint_url``;
    restored on exit."""
    with pytest.MonkeyPatch.context() as patch:
        for name in list(os.environ):
            if name.startswith("AWS_"):
                patch.delenv(name)
        patch.setenv("AWS_ACCESS_KEY_ID", DUMMY_KEY)
        patch.setenv("AWS_SECRET_ACCESS_KEY", DUMMY_KEY)
        patch.setenv("AWS_DEFAULT_REGION", DEFAULT_REGION)
        patch.setenv("AWS_ENDPOINT_URL", endpoint_url)
        patch.setenv("AWS_CONFIG_FILE", _MISSING_FILE)
        patch.setenv("AWS_SHARED_CREDENTIALS_FILE", _MISSING_FILE)
        patch.setenv("AWS_EC2_METADATA_DISABLED", "true")
        yield


@contextmanager
def running_local_cloud(
    *, providers: Iterable[Provider] = (), port: int = 0, **options: Any
) -> Iterator[CloudClients]:
    """A local cloud on an ephemeral loopback port with ``providers`` and then BaseGear's own
    (``StandardServices``: Lambda, CloudFormation), in a scrubbed AWS environment, for as long
    as the ``with`` block runs."""
    cloud = LocalCloud(port=port, providers=providers, **options)
    with tempfile.TemporaryDirectory(prefix="basegear-cloud-") as cache:
        services = StandardServices(cloud.endpoint_url, cache_dir=Path(cache))
        services.attach(cloud)
        services.start()
        try:
            with cloud, local_aws_environment(cloud.endpoint_url):
                try:
                    yield CloudClients(cloud, services)
                finally:
                    services.close()  # before the cloud stops: invocations in flight answer
        finally:
            services.close()


@pytest.fixture(scope="session")
def local_cloud() -> Iterator[CloudClients]:
    """BaseGear's local cloud for the whole test session (see the module docstring)."""
    with running_local_cloud() as clients:
        yield clients


@pytest.fixture
def manual_clock(local_cloud: CloudClients) -> Iterator[VirtualClock]:
    """The local cloud's clock, stopped for one test: time moves only when the test calls
    ``manual_clock.advance(seconds)``, so a two-minute retry takes milliseconds. The clock
    runs in real time again afterwards (never backwards)."""
    services = local_cloud.services
    if services is None:
        raise RuntimeError("manual_clock needs the local cloud's standard services")
    clock = services.clock
    clock.set_mode("manual")
    try:
        yield clock
    finally:
        clock.set_mode("real")
